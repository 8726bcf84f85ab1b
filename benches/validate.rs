//! Field value scans (`conn::validate`, RFC 9113 §8.2.1): scalar vs SSE2 vs
//! AVX2 vs the dispatching `value_is_valid` (on the decode path), and `http::HeaderValue`'s own
//! scan (`from_bytes` minus its copy is not separable, so `from_maybe_shared`
//! on a `Bytes` is measured), at typical value lengths.
//!
//! `cargo bench --bench validate`

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use h2o::conn::validate::{
    value_is_valid, value_is_valid_avx2, value_is_valid_scalar, value_is_valid_sse2,
};

fn scans(c: &mut Criterion) {
    let mut g = c.benchmark_group("value_scan");
    for len in [16usize, 48, 128, 512] {
        let v: Vec<u8> = (0..len)
            .map(|i| b"Mozilla/5.0 (X11; Linux)"[i % 24])
            .collect();
        let shared = Bytes::from(v.clone());
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("scalar", len), &v, |b, v| {
            b.iter(|| value_is_valid_scalar(black_box(v)))
        });
        if value_is_valid_sse2(&v).is_some() {
            g.bench_with_input(BenchmarkId::new("sse2", len), &v, |b, v| {
                b.iter(|| value_is_valid_sse2(black_box(v)))
            });
        }
        if value_is_valid_avx2(&v).is_some() {
            g.bench_with_input(BenchmarkId::new("avx2", len), &v, |b, v| {
                b.iter(|| value_is_valid_avx2(black_box(v)))
            });
        }
        g.bench_with_input(BenchmarkId::new("dispatch", len), &v, |b, v| {
            b.iter(|| value_is_valid(black_box(v)))
        });
        g.bench_with_input(
            BenchmarkId::new("http_from_shared", len),
            &shared,
            |b, s| b.iter(|| http::HeaderValue::from_maybe_shared(black_box(s.clone())).is_ok()),
        );
    }
    g.finish();
}

criterion_group!(benches, scans);
criterion_main!(benches);
