//! Adaptive flow control over a long, fat path (RFC 9113 §6.9): `h2o serve`
//! behind the latency relay (`h2o::net::relay`, 25 ms each way, 200 Mbit/s,
//! unbounded buffer, so HTTP/2 windows and not TCP limit the transfer).
//!
//! - 64 MiB with our client (library, default config: adaptive windows
//!   starting from a 1 MiB stream window) reaches ≥ 90 % of what `curl --http2-prior-knowledge`
//!   (large static windows) gets in the same run;
//! - 4 MiB with a fixed 64 KiB window (adaptive off) stays near one window per
//!   round trip (≈1.3 MB/s; accepted 0.6–2.6 MB/s).
//!
//! Times are only compared with each other (same machine, same moment); a
//! ratio that misses is measured once more before failing (when the test is
//! still under 25 s; every transfer is bounded by 10 s). All figures are
//! printed. `H2O_LONGPATH_REPEAT=N` (used by `scripts/bench-longpath.sh`)
//! repeats the measurement N times and prints every round.

mod support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use h2o::conn::{Config, Connection, Event};
use h2o::net::relay::{Relay, RelayConfig};
use support::{require_bin, spawn_h2o_serve, TempDir};

const BIG: usize = 64 << 20;
const SMALL: usize = 4 << 20;
const MB: f64 = 1e6;

/// Result of one download.
#[derive(Clone, Copy, Debug)]
struct Sample {
    bytes: u64,
    secs: f64,
    /// Client's final stream / connection receive windows (ours only).
    windows: Option<(u32, u32)>,
}

impl Sample {
    fn mbps(&self) -> f64 {
        self.bytes as f64 / self.secs / MB
    }
}

/// Downloads `path` from `addr` with the library, giving `recv` the time
/// since the start (adaptive windows measure with it). Bounded by
/// `limit`. Time includes connecting (like curl's `time_total`).
fn fetch(addr: SocketAddr, path: &str, config: Config, limit: Duration) -> io::Result<Sample> {
    let start = Instant::now();
    let deadline = start + limit;
    let mut sock = TcpStream::connect_timeout(&addr, limit)?;
    sock.set_nodelay(true)?;
    let mut conn = Connection::client(config);
    let req = http::Request::get(format!("http://{addr}{path}"))
        .body(())
        .unwrap();
    let id = conn.send_request(req, true).expect("request");
    let mut rbuf = vec![0u8; 256 << 10];
    let mut out = Vec::with_capacity(64 << 10);
    let mut bytes = 0u64;
    loop {
        let mut done = false;
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::Response { response, .. } if response.status() != 200 => {
                    return Err(io::Error::other(format!("status {}", response.status())));
                }
                Event::Data {
                    stream_id,
                    data,
                    end_stream,
                } if stream_id == id => {
                    bytes += data.len() as u64;
                    done |= end_stream;
                }
                Event::Reset { .. } | Event::GoAway { .. } => {
                    return Err(io::Error::other(format!("{ev:?}")));
                }
                _ => {}
            }
        }
        out.clear();
        conn.write_to(start.elapsed(), &mut out, 256 << 10);
        if !out.is_empty() {
            sock.write_all(&out)?;
        }
        if done {
            let secs = start.elapsed().as_secs_f64();
            let windows = Some((conn.stream_recv_window(), conn.connection_recv_window()));
            return Ok(Sample {
                bytes,
                secs,
                windows,
            });
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "fetch timed out"));
        }
        sock.set_read_timeout(Some(left))?;
        let n = sock.read(&mut rbuf)?;
        if n == 0 {
            return Err(io::Error::other("connection closed early"));
        }
        conn.recv(start.elapsed(), &rbuf[..n])
            .map_err(|e| io::Error::other(e.to_string()))?;
    }
}

/// Per-transfer bound (64 MiB normally takes ~2.8 s, 4 MiB at 64 KiB ~4 s). A
/// transfer that hits it counts as `expected` bytes in `LIMIT` (an upper bound
/// of its speed), so a stalled run fails the ratio instead of hanging.
const LIMIT: Duration = Duration::from_secs(10);

fn timed_out(expected: usize) -> Sample {
    println!("(a transfer hit the {LIMIT:?} limit)");
    Sample {
        bytes: expected as u64,
        secs: LIMIT.as_secs_f64(),
        windows: None,
    }
}

fn curl(url: &str, expected: usize) -> Sample {
    let o = Command::new(require_bin("curl", "curl"))
        .args([
            "-sS",
            "--http2-prior-knowledge",
            "--max-time",
            &LIMIT.as_secs().to_string(),
            "-o",
            "/dev/null",
            "-w",
            "%{size_download} %{time_total}",
        ])
        .arg(url)
        .output()
        .expect("run curl");
    if o.status.code() == Some(28) {
        return timed_out(expected);
    }
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "curl {url}: {} {}",
        text,
        String::from_utf8_lossy(&o.stderr)
    );
    let mut it = text.split_whitespace();
    let bytes: u64 = it.next().and_then(|s| s.parse().ok()).expect("size");
    let secs: f64 = it
        .next()
        .and_then(|s| s.replace(',', ".").parse().ok())
        .expect("time");
    Sample {
        bytes,
        secs,
        windows: None,
    }
}

/// The default client configuration: adaptive, starting from a 1 MiB stream
/// window (less than the 2 × BDP that half-window credit batching needs).
fn adaptive() -> Config {
    let c = Config::default();
    assert!(c.adaptive_window);
    c
}

fn fixed() -> Config {
    Config {
        initial_window_size: 65_535,
        connection_window_size: 65_535,
        adaptive_window: false,
        ..Config::default()
    }
}

struct Round {
    curl: Sample,
    ours: Sample,
    fixed: Sample,
}

impl Round {
    fn ratio(&self) -> f64 {
        self.ours.mbps() / self.curl.mbps()
    }
    fn fixed_ok(&self) -> bool {
        (0.6..=2.6).contains(&self.fixed.mbps())
    }
    fn print(&self, n: usize) {
        println!(
            "round {n}: curl {:.2} MB/s ({:.2} s) | h2o adaptive {:.2} MB/s ({:.2} s, windows {:?}) \
             | ratio {:.3} | h2o fixed 64 KiB {:.2} MB/s ({:.2} s for 4 MiB)",
            self.curl.mbps(),
            self.curl.secs,
            self.ours.mbps(),
            self.ours.secs,
            self.ours.windows.unwrap_or_default(),
            self.ratio(),
            self.fixed.mbps(),
            self.fixed.secs,
        );
    }
}

fn ours(relay: SocketAddr, path: &str, config: Config, expected: usize) -> Sample {
    match fetch(relay, path, config, LIMIT) {
        Ok(s) => {
            assert_eq!(s.bytes, expected as u64);
            s
        }
        Err(e) if e.kind() == io::ErrorKind::TimedOut => timed_out(expected),
        Err(e) => panic!("fetch {path}: {e}"),
    }
}

fn round(relay: SocketAddr) -> Round {
    let curl = curl(&format!("http://{relay}/big.bin"), BIG);
    assert_eq!(curl.bytes, BIG as u64);
    let ours_ = ours(relay, "/big.bin", adaptive(), BIG);
    let fixed = ours(relay, "/small.bin", fixed(), SMALL);
    if fixed.windows.is_some() {
        assert_eq!(fixed.windows, Some((65_535, 65_535)));
    }
    Round {
        curl,
        ours: ours_,
        fixed,
    }
}

#[test]
fn adaptive_windows_keep_up_with_curl_over_a_long_path() {
    let test_start = Instant::now();
    let root = TempDir::new("longpath");
    std::fs::write(root.path().join("big.bin"), support::random_bytes(BIG, 7)).unwrap();
    std::fs::write(
        root.path().join("small.bin"),
        support::random_bytes(SMALL, 8),
    )
    .unwrap();
    let server = spawn_h2o_serve(root.path());
    let relay = Relay::start(server.addr, RelayConfig::new(25, 200.0)).expect("relay");
    let addr = relay.addr();
    println!(
        "relay {addr} -> h2o serve {} (25 ms each way, 200 Mbit/s)",
        server.addr
    );

    let repeat: usize = std::env::var("H2O_LONGPATH_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .clamp(1, 10);
    let mut rounds = Vec::new();
    for n in 1..=repeat {
        let r = round(addr);
        r.print(n);
        rounds.push(r);
    }
    let last = rounds.last().unwrap();
    // Retry once, only while the whole test stays well under a minute.
    if (last.ratio() < 0.9 || !last.fixed_ok()) && test_start.elapsed() < Duration::from_secs(25) {
        println!("a figure is off: measuring once more");
        let r = round(addr);
        r.print(rounds.len() + 1);
        rounds.push(r);
    }
    let last = rounds.last().unwrap();
    println!(
        "total test time {:.1} s",
        test_start.elapsed().as_secs_f64()
    );
    assert!(
        last.ratio() >= 0.9,
        "adaptive {:.2} MB/s is below 90 % of curl's {:.2} MB/s",
        last.ours.mbps(),
        last.curl.mbps()
    );
    assert!(
        last.fixed_ok(),
        "a fixed 64 KiB window should give ≈1.3 MB/s over a 50 ms RTT, got {:.2} MB/s",
        last.fixed.mbps()
    );
    // Windows grew past the path's BDP (200 Mbit/s × 50 ms = 1.25 MB).
    let (stream, conn) = last.ours.windows.expect("adaptive fetch finished");
    assert!(stream > 1 << 20 && conn >= stream, "{stream} {conn}");
}
