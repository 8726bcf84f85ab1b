//! Native HPACK decode throughput on a block file written by
//! `js/bench/hpack.mjs` (the same blocks the wasm build decodes), for the
//! wasm-vs-native row of BENCHMARKS.md (`scripts/bench-js.sh`).
//!
//! Usage: `cargo run --release --example hpack_decode_blocks -- FILE [MS]`.
//! File format: u32le story count; per story a u32le block count; per block a
//! u32le length and the bytes. Each story gets a fresh decoder (4096 bytes).

use std::time::{Duration, Instant};

use h2o::hpack::Decoder;

fn u32_at(b: &[u8], pos: &mut usize) -> Result<usize, String> {
    let s = b
        .get(*pos..*pos + 4)
        .ok_or_else(|| format!("truncated file at byte {pos}"))?;
    *pos += 4;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
}

fn load(b: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, String> {
    let mut pos = 0;
    let mut stories = Vec::new();
    for _ in 0..u32_at(b, &mut pos)? {
        let mut blocks = Vec::new();
        for _ in 0..u32_at(b, &mut pos)? {
            let n = u32_at(b, &mut pos)?;
            let block = b.get(pos..pos + n).ok_or("truncated block")?;
            blocks.push(block.to_vec());
            pos += n;
        }
        stories.push(blocks);
    }
    Ok(stories)
}

fn run(stories: &[Vec<Vec<u8>>], total: usize, budget: Duration) -> Result<f64, String> {
    let start = Instant::now();
    let mut bytes = 0usize;
    let mut fields = 0usize;
    while start.elapsed() < budget {
        for story in stories {
            let mut dec = Decoder::new(4096);
            for block in story {
                dec.decode(block, |_| fields += 1)
                    .map_err(|e| format!("decode: {e}"))?;
            }
        }
        bytes += total;
    }
    std::hint::black_box(fields);
    Ok(bytes as f64 / start.elapsed().as_secs_f64() / (1 << 20) as f64)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: hpack_decode_blocks FILE [MS]");
        std::process::exit(2);
    };
    let ms: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let result = std::fs::read(&path)
        .map_err(|e| format!("{path}: {e}"))
        .and_then(|b| load(&b))
        .and_then(|stories| {
            let total: usize = stories.iter().flatten().map(Vec::len).sum();
            run(&stories, total, Duration::from_millis(ms / 4))?; // warm-up
            run(&stories, total, Duration::from_millis(ms))
        });
    match result {
        Ok(rate) => println!("native decode: {rate:.1} MiB/s"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
