//! Same-input micro benchmarks of the sans-IO core, built both natively and
//! for wasm32-wasip2 (+simd128) and run inside wasmtime by
//! scripts/bench-wasm.sh: HPACK decode and WebSocket masking (1 KiB, 64 KiB;
//! the dispatching `apply_mask`, the u64 scalar path, the byte-at-a-time
//! reference and, in wasm with +simd128, the simd128 path).
//!
//! Each case runs for a fixed number of iterations, the best of 5 rounds is
//! printed as `name ns_per_iter MB/s`. Timing uses `Instant` (the monotonic
//! clock of the host, `wasi:clocks` inside wasmtime).

use std::hint::black_box;
use std::time::Instant;

use h2o::hpack::{Decoder, Encoder, HeaderField};
use h2o::ws::mask::{apply_mask, mask_reference, mask_scalar, mask_simd128};

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Best-of-5 nanoseconds per iteration of `f` run `iters` times.
fn time(iters: u32, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / iters as f64);
    }
    best
}

fn report(name: &str, ns: f64, bytes: usize) {
    let mbs = bytes as f64 / ns * 1e9 / 1e6;
    println!("{name:<28} {ns:>12.1} ns {mbs:>10.1} MB/s");
}

/// 200 browser-like request header lists (paths, cookies and referers vary),
/// encoded once with our encoder into one connection's worth of blocks.
fn hpack_blocks() -> (Vec<Vec<u8>>, usize) {
    let mut enc = Encoder::new(4096);
    let mut blocks = Vec::new();
    let mut raw = 0;
    for i in 0..200u32 {
        let path = format!("/assets/{}/app-{}.js?v={}", i % 7, i, i * 31 % 97);
        let cookie = format!(
            "session={:016x}; theme=dark; ab={}",
            u64::from(i) * 0x9e37_79b9,
            i % 3
        );
        let referer = format!("https://www.example.com/page/{}", i / 10);
        let fields: [(&str, &str); 11] = [
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "www.example.com"),
            (":path", &path),
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"),
            ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            ("accept-language", "en-US,en;q=0.9"),
            ("accept-encoding", "gzip, deflate, br"),
            ("referer", &referer),
            ("cookie", &cookie),
            ("x-request-id", &format!("{:08x}-{:04x}", i * 7919, i)),
        ];
        raw += fields.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>();
        let mut out = Vec::new();
        enc.encode(
            fields.iter().map(|(n, v)| HeaderField {
                name: n.as_bytes(),
                value: v.as_bytes(),
                never_index: false,
            }),
            &mut out,
        );
        blocks.push(out);
    }
    (blocks, raw)
}

fn main() {
    let target = if cfg!(target_arch = "wasm32") {
        if cfg!(target_feature = "simd128") {
            "wasm32 (+simd128)"
        } else {
            "wasm32"
        }
    } else {
        "native"
    };
    println!("# {target}");

    let (blocks, raw) = hpack_blocks();
    let mut fields = 0usize;
    let ns = time(200, || {
        let mut dec = Decoder::new(4096);
        for b in &blocks {
            dec.decode(black_box(b), |f| {
                fields += f.name.len() + f.value.len();
            })
            .unwrap();
        }
    });
    black_box(fields);
    // Throughput in decoded (raw header) bytes.
    report("hpack_decode_200_requests", ns, raw);

    for size in [1024usize, 64 * 1024] {
        let mut buf: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let iters = (64 << 20) / size as u32;
        let ns = time(iters, || apply_mask(black_box(&mut buf), MASK, 0));
        report(&format!("mask_apply_{size}"), ns, size);
        let ns = time(iters, || mask_scalar(black_box(&mut buf), MASK, 0));
        report(&format!("mask_scalar_{size}"), ns, size);
        let ns = time(iters / 8, || mask_reference(black_box(&mut buf), MASK, 0));
        report(&format!("mask_bytewise_{size}"), ns, size);
        if mask_simd128(&mut buf, MASK, 0) {
            let ns = time(iters, || {
                mask_simd128(black_box(&mut buf), MASK, 0);
            });
            report(&format!("mask_simd128_{size}"), ns, size);
        }
        black_box(&buf);
    }
}
