//! WebSocket masking throughput (RFC 6455 §5.3): our scalar/SSE2/AVX2
//! variants and the dispatching `apply_mask`, against fastwebsockets' public
//! `unmask`, tungstenite (its `apply_mask` is private; the public route is
//! `Frame::format`, which also copies the payload, so it is shown for reference
//! only) and a plain `memcpy` of the same bytes as the physical reference.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use h2o::ws::mask::{apply_mask, mask_avx2, mask_scalar, mask_sse2};

const SIZES: [usize; 6] = [16, 125, 1024, 16 * 1024, 64 * 1024, 1024 * 1024];
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn bench(c: &mut Criterion) {
    let has_avx2 = mask_avx2(&mut [], MASK, 0);
    for &size in &SIZES {
        let mut g = c.benchmark_group(format!("ws_mask/{size}"));
        g.throughput(Throughput::Bytes(size as u64));
        let mut buf: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let src = buf.clone();

        g.bench_function(BenchmarkId::new("scalar", size), |b| {
            b.iter(|| mask_scalar(black_box(&mut buf), MASK, 0))
        });
        g.bench_function(BenchmarkId::new("sse2", size), |b| {
            b.iter(|| mask_sse2(black_box(&mut buf), MASK, 0))
        });
        if has_avx2 {
            g.bench_function(BenchmarkId::new("avx2", size), |b| {
                b.iter(|| mask_avx2(black_box(&mut buf), MASK, 0))
            });
        }
        g.bench_function(BenchmarkId::new("apply_mask", size), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), MASK, 0))
        });
        g.bench_function(BenchmarkId::new("fastwebsockets", size), |b| {
            b.iter(|| fastwebsockets::unmask(black_box(&mut buf), MASK))
        });
        let payload = bytes::Bytes::from(src.clone());
        let mut out = Vec::with_capacity(size + 14);
        g.bench_function(
            BenchmarkId::new("tungstenite_format_incl_copy", size),
            |b| {
                use tungstenite::protocol::frame::{
                    coding::{Data, OpCode},
                    Frame,
                };
                b.iter(|| {
                    let mut f = Frame::message(payload.clone(), OpCode::Data(Data::Binary), true);
                    f.header_mut().mask = Some(MASK);
                    out.clear();
                    f.format(&mut out).unwrap();
                    black_box(&out);
                })
            },
        );
        let mut dst = vec![0u8; size];
        g.bench_function(BenchmarkId::new("memcpy", size), |b| {
            b.iter(|| dst.copy_from_slice(black_box(&src)))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
