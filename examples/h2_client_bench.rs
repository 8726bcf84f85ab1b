//! Bench-only comparison client: the same load as `h2o bench` (C connections ×
//! M concurrent streams, N requests) driven by hyper's `h2` crate on tokio.
//! Used by `scripts/bench-client.sh`; not part of the library.
//!
//! `cargo run --release --example h2_client_bench -- URL [-n N] [-c C] [-m M] [-t T]`
//! prints `h2 client: N done, N succeeded in X s, R req/s`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpStream;

fn arg(args: &[String], flag: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("numeric flag value"))
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args
        .first()
        .filter(|a| a.starts_with("http://"))
        .expect("usage: h2_client_bench http://HOST:PORT/PATH [-n N] [-c C] [-m M] [-t T]")
        .clone();
    let n = arg(&args, "-n", 100_000);
    let c = arg(&args, "-c", 10) as usize;
    let m = arg(&args, "-m", 32) as usize;
    let t = arg(&args, "-t", 2) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(t.max(1))
        .enable_all()
        .build()
        .expect("tokio runtime");
    let uri: http::Uri = url.parse().expect("URL");
    let addr = format!(
        "{}:{}",
        uri.host().expect("host"),
        uri.port_u16().unwrap_or(80)
    );
    let remaining = Arc::new(AtomicU64::new(n));
    let ok = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    rt.block_on(async {
        let mut conns = Vec::new();
        for _ in 0..c {
            let (addr, uri) = (addr.clone(), uri.clone());
            let (remaining, ok, done) = (remaining.clone(), ok.clone(), done.clone());
            conns.push(tokio::spawn(async move {
                let tcp = TcpStream::connect(&addr).await.expect("connect");
                let _ = tcp.set_nodelay(true);
                let (client, conn) = h2::client::handshake(tcp).await.expect("handshake");
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                let mut streams = Vec::new();
                for _ in 0..m {
                    let mut client = client.clone();
                    let uri = uri.clone();
                    let (remaining, ok, done) = (remaining.clone(), ok.clone(), done.clone());
                    streams.push(tokio::spawn(async move {
                        while remaining
                            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| r.checked_sub(1))
                            .is_ok()
                        {
                            let req = http::Request::get(uri.clone()).body(()).unwrap();
                            let res = async {
                                client = client.clone().ready().await?;
                                let (resp, _) = client.send_request(req, true)?;
                                let resp = resp.await?;
                                let status = resp.status();
                                let mut body = resp.into_body();
                                while let Some(chunk) = body.data().await {
                                    let chunk = chunk?;
                                    let _ = body.flow_control().release_capacity(chunk.len());
                                }
                                Ok::<_, h2::Error>(status)
                            }
                            .await;
                            done.fetch_add(1, Ordering::Relaxed);
                            if matches!(res, Ok(s) if s.is_success()) {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }));
                }
                for s in streams {
                    let _ = s.await;
                }
            }));
        }
        for c in conns {
            let _ = c.await;
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let done = done.load(Ordering::Relaxed);
    println!(
        "h2 client: {done} done, {} succeeded in {secs:.2} s, {:.2} req/s",
        ok.load(Ordering::Relaxed),
        done as f64 / secs
    );
}
