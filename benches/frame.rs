//! Frame layer benchmarks: table-driven (LUT) vs generic header validation, and
//! batch decoding of a ~1 MB mixed frame stream through `FrameDecoder::frames()`
//! vs the same walk with the generic validator (bench-only `generic::frames`).

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use h2o::error::ErrorCode;
use h2o::frame::{
    encode, generic, lut, write_header_block, Frame, FrameDecoder, FrameHeader, PrioritySpec,
    Settings,
};

/// Small deterministic generator (xorshift) so both variants see the same input.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A realistic traffic mix of frames: mostly DATA and HEADERS, then
/// WINDOW_UPDATE, some CONTINUATION/SETTINGS/PING/RST_STREAM/PRIORITY and a
/// few extension frames.
fn mixed_stream(target: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(target + 32 * 1024);
    let block = vec![0x82u8; 4096];
    let data = vec![0xabu8; 16_384];
    while out.len() < target {
        let sid = (rng.below(100) * 2 + 1) as u32;
        match rng.below(100) {
            0..=44 => {
                let len = [16_384, 8192, 1024, 100, 10][rng.below(5) as usize];
                encode::write_data(&mut out, sid, &data[..len], rng.below(8) == 0);
            }
            45..=49 => Frame::Data {
                stream_id: sid,
                end_stream: false,
                data: Bytes::copy_from_slice(&data[..512]),
                flow_len: 0,
            }
            .encode_padded(rng.below(64) as u8, &mut out),
            50..=69 => {
                let len = 20 + rng.below(300) as usize;
                write_header_block(&mut out, sid, &block[..len], false, None, 16_384);
            }
            70..=71 => write_header_block(&mut out, sid, &block, true, None, 1024),
            72..=86 => encode::write_window_update(&mut out, sid * (rng.below(2) as u32), 65_535),
            87..=88 => {
                let s = Settings {
                    initial_window_size: Some(1 << 20),
                    max_frame_size: Some(16_384),
                    ..Settings::default()
                };
                encode::write_settings(&mut out, &s);
                encode::write_settings_ack(&mut out);
            }
            89..=91 => encode::write_ping(&mut out, rng.below(2) == 0, b"pingpong"),
            92..=94 => encode::write_rst_stream(&mut out, sid, ErrorCode::CANCEL),
            95..=96 => encode::write_priority(
                &mut out,
                sid,
                &PrioritySpec {
                    exclusive: false,
                    dependency: 0,
                    weight: 15,
                },
            ),
            97 => encode::write_priority_update(&mut out, sid, b"u=2, i"),
            _ => Frame::Unknown {
                ty: 0xfa,
                flags: 0,
                stream_id: sid,
                payload: Bytes::from_static(b"extension"),
            }
            .encode(&mut out),
        }
    }
    out
}

/// The 9-byte headers of the mixed stream.
fn headers_of(stream: &[u8]) -> Vec<[u8; 9]> {
    let mut v = Vec::new();
    let mut pos = 0;
    while pos + 9 <= stream.len() {
        let h: [u8; 9] = stream[pos..pos + 9].try_into().unwrap();
        pos += 9 + FrameHeader::parse(&h).len as usize;
        v.push(h);
    }
    v
}

fn bench_headers(c: &mut Criterion) {
    // ~4k headers from 8 MB of the same mix.
    let stream = mixed_stream(8 << 20);
    let headers = headers_of(&stream);
    let mut g = c.benchmark_group("header_validate");
    g.throughput(Throughput::Elements(headers.len() as u64));
    g.bench_function("lut", |b| {
        b.iter(|| {
            let max = black_box(16_384);
            let mut acc = 0u32;
            for h in black_box(&headers) {
                let h = FrameHeader::parse(h);
                acc = acc.wrapping_add(match lut::check(&h, max) {
                    Ok(f) => f as u32,
                    Err(e) => e.code().0,
                });
            }
            acc
        })
    });
    g.bench_function("generic", |b| {
        b.iter(|| {
            let max = black_box(16_384);
            let mut acc = 0u32;
            for h in black_box(&headers) {
                let h = FrameHeader::parse(h);
                acc = acc.wrapping_add(match generic::check(&h, max) {
                    Ok(f) => f as u32,
                    Err(e) => e.code().0,
                });
            }
            acc
        })
    });
    g.finish();
}

fn bench_batch(c: &mut Criterion) {
    let stream = mixed_stream(1 << 20);
    let mut check = FrameDecoder::default();
    check.push(&stream);
    assert!(
        check.frames().all(|r| r.is_ok()),
        "bench input must be valid"
    );
    assert_eq!(check.buffered(), 0);
    let mut g = c.benchmark_group("batch_decode");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("lut_frames", |b| {
        let mut d = FrameDecoder::default();
        b.iter(|| {
            d.push(black_box(&stream));
            let mut n = 0usize;
            for f in d.frames() {
                n += f.is_ok() as usize;
            }
            n
        })
    });
    g.bench_function("generic_frames", |b| {
        let mut d = FrameDecoder::default();
        b.iter(|| {
            d.push(black_box(&stream));
            let mut n = 0usize;
            for f in generic::frames(&mut d) {
                n += f.is_ok() as usize;
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench_headers, bench_batch);
criterion_main!(benches);
