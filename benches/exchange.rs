//! GET request/response exchanges over an in-memory [`Pair`]: the per-request
//! CPU cost of the sans-IO core (HPACK, header maps, frames, streams) with
//! response headers like `h2o serve`'s for a small static file.
//!
//! `cargo bench --bench exchange` reports exchanges/s (criterion throughput).
//! For stable instruction counts, run the binary once under callgrind with
//! `EXCHANGE_N` set (it then runs that many exchanges and exits):
//! `EXCHANGE_N=20000 valgrind --tool=callgrind target/release/deps/exchange-*`.
//! `EXCHANGE_BATCH` (1 to 100, default 32) sets the requests in flight at
//! once in that mode (100 open streams: `EXCHANGE_BATCH=100`).

use bytes::Bytes;
use criterion::{criterion_group, Criterion, Throughput};
use h2o::conn::Event;
use h2o::pair::Pair;
use http::{header, HeaderMap, HeaderValue};

/// Exchanges per batch (as pipelined as the peer's stream limit allows, like h2load -m 32).
const BATCH: usize = 32;

struct Bench {
    pair: Pair,
    head: HeaderMap,
    body: Bytes,
    requests: Vec<http::Request<()>>,
    /// Requests in flight at once.
    batch: usize,
}

impl Bench {
    fn new() -> Self {
        let mut head = HeaderMap::with_capacity(8);
        head.insert(header::SERVER, HeaderValue::from_static("h2o"));
        head.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        head.insert(header::CONTENT_LENGTH, HeaderValue::from(12u64));
        head.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        head.insert(header::ETAG, HeaderValue::from_static("\"6745a3f2-c\""));
        head.insert(
            header::LAST_MODIFIED,
            HeaderValue::from_static("Tue, 26 Nov 2024 10:00:50 GMT"),
        );
        Bench {
            pair: Pair::connected(),
            head,
            body: Bytes::from_static(b"hello world\n"),
            requests: Vec::with_capacity(BATCH),
            batch: BATCH,
        }
    }

    /// Runs `n` exchanges in batches of [`BATCH`]; returns the responses seen.
    fn run(&mut self, n: usize) -> usize {
        let mut done = 0;
        let mut responses = 0;
        while done < n {
            let k = self.batch.min(n - done);
            for _ in 0..k {
                let req = http::Request::builder()
                    .method("GET")
                    .uri("http://127.0.0.1:8080/small")
                    .header(header::USER_AGENT, "h2load nghttp2/1.64.0")
                    .body(())
                    .unwrap();
                self.requests.push(req);
            }
            for req in self.requests.drain(..) {
                self.pair.client.send_request(req, true).unwrap();
            }
            self.pair.step();
            for ev in self.pair.server_events.drain(..) {
                if let Event::Request { stream_id, .. } = ev {
                    let mut resp = http::Response::new(());
                    *resp.headers_mut() = self.head.clone();
                    self.pair
                        .server
                        .send_response(stream_id, resp, false)
                        .unwrap();
                    self.pair
                        .server
                        .send_data(stream_id, self.body.clone(), true)
                        .unwrap();
                }
            }
            self.pair.drive();
            for ev in self.pair.client_events.drain(..) {
                if let Event::Response { response, .. } = ev {
                    assert_eq!(response.status(), 200);
                    responses += 1;
                }
            }
            self.pair.server_events.clear();
            done += k;
        }
        assert!(self.pair.client_errors.is_empty() && self.pair.server_errors.is_empty());
        responses
    }
}

fn exchanges(c: &mut Criterion) {
    let mut b = Bench::new();
    b.run(1000);
    let mut g = c.benchmark_group("exchange");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("get_12B_batch32", |bn| {
        bn.iter(|| assert_eq!(b.run(BATCH), BATCH))
    });
    g.finish();
}

criterion_group!(benches, exchanges);

fn main() {
    if let Ok(n) = std::env::var("EXCHANGE_N") {
        let n: usize = n.parse().expect("EXCHANGE_N: a count");
        let mut b = Bench::new();
        if let Ok(k) = std::env::var("EXCHANGE_BATCH") {
            b.batch = k.parse().expect("EXCHANGE_BATCH: a count");
            // The server's default MAX_CONCURRENT_STREAMS.
            assert!((1..=100).contains(&b.batch), "EXCHANGE_BATCH: 1 to 100");
        }
        assert_eq!(b.run(n), n);
        println!("{n} exchanges");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
