//! WebSocket echo benchmark helper (bench-only; used by `scripts/bench-ws.sh`).
//!
//! - `ws_bench peer ADDR`: a reference echo server built on `tokio-tungstenite`
//!   (single-threaded tokio runtime); prints `listening on ADDR`.
//! - `ws_bench rtt URL COUNT SIZE [--h2]`: one h2o [`WsClient`] doing COUNT
//!   sequential echo round trips of SIZE-byte binary messages; prints
//!   `round trips/s` and the client's own CPU time per round trip (Linux
//!   `/proc/self/schedstat`; 0 elsewhere). The same client measures every
//!   server, so the numbers compare the servers.

use std::time::Instant;

use h2o::net::ws_client::WsClient;
use h2o::ws::{CloseCode, Event, Message};

fn peer(addr: &str) {
    use futures_util::{SinkExt, StreamExt};
    // One thread, like `h2o serve` with its default single worker.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind(addr).await.expect("bind");
        println!("listening on {}", l.local_addr().unwrap());
        loop {
            let Ok((s, _)) = l.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = s.set_nodelay(true);
                let Ok(mut ws) = tokio_tungstenite::accept_async(s).await else {
                    return;
                };
                while let Some(Ok(m)) = ws.next().await {
                    if m.is_text() || m.is_binary() {
                        if ws.send(m).await.is_err() {
                            return;
                        }
                    } else if m.is_close() {
                        return;
                    }
                }
            });
        }
    });
}

/// Nanoseconds this thread has spent on a CPU (0 where unknown).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn rtt(url: &str, count: usize, size: usize, h2: bool) {
    let mut c = WsClient::connect(url, h2).expect("connect");
    let payload = vec![0x5au8; size];
    // Warm-up.
    for _ in 0..count.min(100) {
        c.send_binary(&payload).unwrap();
        let _ = c.recv().unwrap();
    }
    let t = Instant::now();
    let c0 = cpu_ns();
    for _ in 0..count {
        c.send_binary(&payload).unwrap();
        match c.recv().unwrap() {
            Event::Message(Message::Binary(b)) => assert_eq!(b.len(), size),
            e => panic!("unexpected {e:?}"),
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let client_us = (cpu_ns() - c0) as f64 / 1e3 / count as f64;
    let _ = c.close(CloseCode::NORMAL, "");
    println!(
        "{url} h2={h2} size={size}: {count} round trips in {secs:.3} s = {:.0} round trips/s; client CPU {client_us:.2} us per round trip",
        count as f64 / secs
    );
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    match a.get(1).map(String::as_str) {
        Some("peer") => peer(a.get(2).map_or("127.0.0.1:0", String::as_str)),
        Some("rtt") if a.len() >= 5 => rtt(
            &a[2],
            a[3].parse().expect("COUNT"),
            a[4].parse().expect("SIZE"),
            a.get(5).is_some_and(|s| s == "--h2"),
        ),
        _ => {
            eprintln!("usage: ws_bench peer [ADDR] | ws_bench rtt URL COUNT SIZE [--h2]");
            std::process::exit(2);
        }
    }
}
