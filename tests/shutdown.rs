//! Graceful stop of `h2o serve` (SIGTERM) and of the library's
//! `serve_until` (its `StopHandle`), over 127.0.0.1:
//! - downloads in flight when the signal arrives complete byte-exact (curl
//!   over HTTP/2 and HTTP/1.1, nghttp with tiny windows that sees the
//!   two-phase GOAWAY NO_ERROR), new connections are refused, the process
//!   exits 0;
//! - a client that never reads is cut at `--shutdown-timeout`, the exit is
//!   still 0 and bounded in time;
//! - idle connections (HTTP/2 and HTTP/1.1) are closed at once (SIGINT);
//! - HTTP/1.1 finishes the response in progress and answers a pipelined
//!   request that arrives during the drain with `connection: close`.

mod support;
use support::*;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use h2o::frame::{Frame, FrameDecoder, Settings};
use h2o::ErrorCode;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn sigterm(server: &ServerGuard) {
    signal(server, "TERM");
}

fn signal(server: &ServerGuard, name: &str) {
    let st = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(server.child.id().to_string())
        .status()
        .expect("run kill");
    assert!(st.success(), "kill -{name} failed");
}

/// Waits up to `limit` for the server process to exit.
fn wait_exit(server: &mut ServerGuard, limit: Duration) -> Option<(ExitStatus, Duration)> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(st)) = server.child.try_wait() {
            return Some((st, start.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Waits up to `limit` until connecting to `addr` is refused.
fn wait_refused(addr: SocketAddr, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return start.elapsed(),
            r => {
                assert!(
                    start.elapsed() < limit,
                    "connections to {addr} still not refused {limit:?} after SIGTERM: {r:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn h2_hello(sock: &mut TcpStream) {
    let mut hello = PREFACE.to_vec();
    Frame::Settings {
        ack: false,
        settings: Settings::default(),
    }
    .encode(&mut hello);
    Frame::Settings {
        ack: true,
        settings: Settings::default(),
    }
    .encode(&mut hello);
    sock.write_all(&hello).unwrap();
}

#[test]
fn sigterm_lets_in_flight_downloads_finish_and_refuses_new_connections() {
    let root = TempDir::new("shutdown-inflight");
    let big = random_bytes(64 << 20, 64);
    std::fs::write(root.path().join("big.bin"), &big).unwrap();
    let mut server = spawn_h2o_serve_with(root.path(), &["--shutdown-timeout", "60"]);
    let curl = require_bin("curl", "curl");
    let nghttp = require_bin("nghttp", "nghttp2-client");
    let url = server.url("/big.bin");
    // Slow readers: curl at 16 MB/s (about 4 s for 64 MiB), nghttp with 1 KiB
    // windows (a WINDOW_UPDATE round trip per KiB).
    let h2_out = root.path().join("h2.out");
    let h1_out = root.path().join("h1.out");
    let spawn_curl = |extra: &str, out: &std::path::Path| {
        Command::new(&curl)
            .args(["-sS", "--fail", extra, "--limit-rate", "16M", "-o"])
            .arg(out)
            .arg(&url)
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn curl")
    };
    let c_h2 = spawn_curl("--http2-prior-knowledge", &h2_out);
    let c_h1 = spawn_curl("--http1.1", &h1_out);
    let mut ng = Command::new(nghttp)
        .args(["-nv", "-w", "10", "-W", "10"])
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nghttp");
    // nghttp's log, read as it comes; `started` once its first DATA arrived.
    let (started_tx, started) = std::sync::mpsc::channel();
    let ng_out = ng.stdout.take().unwrap();
    let ng_log = std::thread::spawn(move || {
        let mut log = String::new();
        let mut told = false;
        for line in std::io::BufRead::lines(std::io::BufReader::new(ng_out)) {
            let Ok(line) = line else { break };
            if !told && line.contains("recv DATA frame") {
                told = true;
                let _ = started_tx.send(());
            }
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    // Every download is under way (bounded wait) before the signal.
    started
        .recv_timeout(Duration::from_secs(20))
        .expect("nghttp received no DATA within 20 s");
    let t = Instant::now();
    while [&h2_out, &h1_out]
        .iter()
        .any(|p| std::fs::metadata(p).map_or(0, |m| m.len()) < 1 << 20)
    {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "curl downloads did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(server.alive());
    let t0 = Instant::now();
    sigterm(&server);
    let sizes: Vec<u64> = [&h2_out, &h1_out]
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .collect();
    assert!(
        sizes.iter().all(|&n| n < big.len() as u64),
        "a download had finished before the signal: {sizes:?}"
    );
    let refused_after = wait_refused(server.addr, Duration::from_secs(3));

    let (c_h2, c_h1, ng) = (
        c_h2.wait_with_output().unwrap(),
        c_h1.wait_with_output().unwrap(),
        ng.wait_with_output().unwrap(),
    );
    let clients_done = t0.elapsed();
    let (status, _) = wait_exit(&mut server, Duration::from_secs(30)).expect("server exits");
    let exited = t0.elapsed();
    eprintln!(
        "shutdown: curl had {sizes:?} bytes at SIGTERM; refused {refused_after:?} after it; \
         clients done {clients_done:?}, server exited {exited:?} after it with {status}"
    );
    assert!(
        c_h2.status.success(),
        "curl h2: {}",
        String::from_utf8_lossy(&c_h2.stderr)
    );
    assert!(
        c_h1.status.success(),
        "curl http/1.1: {}",
        String::from_utf8_lossy(&c_h1.stderr)
    );
    assert!(std::fs::read(&h2_out).unwrap() == big, "h2 body differs");
    assert!(
        std::fs::read(&h1_out).unwrap() == big,
        "http/1.1 body differs"
    );
    let log = ng_log.join().unwrap();
    assert!(
        ng.status.success(),
        "nghttp failed: {}",
        String::from_utf8_lossy(&ng.stderr)
    );
    // Phase one (2^31-1), then the final GOAWAY with the real last stream id.
    let goaways: Vec<&str> = log.lines().filter(|l| l.contains("GOAWAY")).collect();
    let details: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("last_stream_id="))
        .collect();
    eprintln!("nghttp saw: {goaways:?} {details:?}");
    assert!(
        details
            .iter()
            .any(|l| l.contains("last_stream_id=2147483647") && l.contains("NO_ERROR")),
        "no GOAWAY(2^31-1, NO_ERROR) in nghttp's log: {details:?}"
    );
    assert!(
        details
            .iter()
            .any(|l| !l.contains("last_stream_id=2147483647,") && l.contains("NO_ERROR")),
        "no final GOAWAY(last stream id, NO_ERROR) in nghttp's log: {details:?}"
    );
    assert!(
        log.contains("recv DATA frame") && log.contains("END_STREAM"),
        "nghttp did not receive the whole body"
    );
    assert!(status.success(), "h2o serve exited with {status}");
}

#[test]
fn a_client_that_never_reads_is_cut_at_the_shutdown_timeout() {
    let root = TempDir::new("shutdown-stuck");
    std::fs::write(root.path().join("big.bin"), random_bytes(32 << 20, 5)).unwrap();
    // The stall timeout is far away: only the shutdown timeout may cut it.
    let mut server = spawn_h2o_serve_with(
        root.path(),
        &["--shutdown-timeout", "2", "--stall-timeout", "600"],
    );
    let mut sock = TcpStream::connect(server.addr).unwrap();
    h2_hello(&mut sock);
    let mut req = Vec::new();
    write_get(&mut req, 1, "/big.bin");
    sock.write_all(&req).unwrap();
    // Never read: the socket buffers fill, the response stays in flight.
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    sigterm(&server);
    let (status, took) =
        wait_exit(&mut server, Duration::from_secs(10)).expect("server exits within 10 s");
    eprintln!("shutdown with a stuck client: exited {took:?} after SIGTERM with {status}");
    assert!(status.success(), "h2o serve exited with {status}");
    assert!(
        t0.elapsed() >= Duration::from_millis(1900),
        "exited before the shutdown timeout ({took:?}) although a response was in flight"
    );
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    drop(sock);
}

#[test]
fn idle_connections_close_at_once_on_sigint() {
    let root = TempDir::new("shutdown-idle");
    std::fs::write(root.path().join("a.txt"), b"hello\n").unwrap();
    let mut server = spawn_h2o_serve_with(root.path(), &["--shutdown-timeout", "30"]);
    // HTTP/2: one request served, then idle.
    let mut h2 = TcpStream::connect(server.addr).unwrap();
    h2_hello(&mut h2);
    let mut req = Vec::new();
    write_get(&mut req, 1, "/a.txt");
    h2.write_all(&req).unwrap();
    // HTTP/1.1: one keep-alive request served, then idle.
    let mut h1 = TcpStream::connect(server.addr).unwrap();
    h1.write_all(b"GET /a.txt HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut buf = vec![0u8; 4096];
    h1.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = h1.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    signal(&server, "INT"); // SIGINT (Ctrl-C) stops the same way
                            // The HTTP/1.1 connection is closed.
    assert_eq!(h1.read(&mut buf).unwrap_or(0), 0, "HTTP/1.1 not closed");
    // The HTTP/2 connection: GOAWAY(2^31-1) + PING, we ACK, the final GOAWAY
    // names stream 1, then EOF.
    h2.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut dec = FrameDecoder::new(1 << 20);
    let mut goaways = Vec::new();
    'read: loop {
        let n = match h2.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        dec.push(&buf[..n]);
        for f in dec.frames() {
            match f.expect("valid frame") {
                Frame::GoAway {
                    last_stream_id,
                    code,
                    ..
                } => {
                    goaways.push((last_stream_id, code));
                    if goaways.len() == 2 {
                        break 'read;
                    }
                }
                Frame::Ping { ack: false, data } => {
                    let mut v = Vec::new();
                    Frame::Ping { ack: true, data }.encode(&mut v);
                    let _ = h2.write_all(&v);
                }
                _ => {}
            }
        }
    }
    assert_eq!(
        goaways,
        [(0x7fff_ffff, ErrorCode::NO_ERROR), (1, ErrorCode::NO_ERROR)]
    );
    drop(h2);
    let (status, took) = wait_exit(&mut server, Duration::from_secs(10)).expect("server exits");
    eprintln!(
        "idle shutdown: exited {took:?} after SIGTERM ({:?} in all) with {status}",
        t0.elapsed()
    );
    assert!(status.success());
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "idle connections held the exit"
    );
}

#[test]
fn stop_handle_ends_serve_until() {
    use h2o::net::files::DocRoot;
    use h2o::net::server::{serve_until, ServerConfig, StopHandle};
    let root = TempDir::new("shutdown-lib");
    let body = random_bytes(200_000, 9);
    std::fs::write(root.path().join("f.bin"), &body).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = StopHandle::new();
    let config = ServerConfig {
        threads: 2,
        shutdown_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let doc = DocRoot::new(root.path()).unwrap();
    let s2 = stop.clone();
    let t = std::thread::spawn(move || serve_until(listener, doc, config, s2));
    let curl = require_bin("curl", "curl");
    let get = || {
        Command::new(&curl)
            .args(["-sS", "--fail", "--http2-prior-knowledge"])
            .arg(format!("http://{addr}/f.bin"))
            .output()
            .unwrap()
    };
    let out = get();
    assert!(out.status.success() && out.stdout == body);
    assert!(!stop.is_stopped());
    let t0 = Instant::now();
    stop.stop();
    let r = t.join().unwrap();
    let took = t0.elapsed();
    eprintln!("serve_until returned {r:?} {took:?} after stop()");
    assert!(r.is_ok());
    assert!(took < Duration::from_secs(3), "{took:?}");
    let e = TcpStream::connect(addr).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    // Stopping again is harmless.
    stop.stop();
}

#[test]
fn http1_finishes_the_response_in_progress_and_says_connection_close() {
    let root = TempDir::new("shutdown-h1");
    let big = random_bytes(32 << 20, 11);
    std::fs::write(root.path().join("big.bin"), &big).unwrap();
    std::fs::write(root.path().join("a.txt"), b"hello\n").unwrap();
    let mut server = spawn_h2o_serve_with(root.path(), &["--shutdown-timeout", "30"]);
    let mut sock = TcpStream::connect(server.addr).unwrap();
    // Two pipelined keep-alive requests: the second is decoded only once
    // most of the first response has left (output backlog), after SIGTERM.
    sock.write_all(
        b"GET /big.bin HTTP/1.1\r\nhost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nhost: x\r\n\r\n",
    )
    .unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let n = sock.read(&mut buf).unwrap();
    got.extend_from_slice(&buf[..n]);
    let t0 = Instant::now();
    sigterm(&server);
    // Read slowly at first (the server must wait), then to EOF.
    loop {
        if t0.elapsed() < Duration::from_millis(500) {
            std::thread::sleep(Duration::from_millis(50));
        }
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read after {} bytes: {e}", got.len()),
        }
    }
    let text_end = |from: usize| {
        got[from..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| from + p + 4)
            .expect("a response head")
    };
    let h1_end = text_end(0);
    let head1 = String::from_utf8_lossy(&got[..h1_end]).to_ascii_lowercase();
    assert!(head1.starts_with("http/1.1 200"), "{head1}");
    assert!(
        got[h1_end..h1_end + big.len()] == big[..],
        "first body differs"
    );
    let rest = &got[h1_end + big.len()..];
    let rest_text = String::from_utf8_lossy(rest).to_ascii_lowercase();
    assert!(rest_text.starts_with("http/1.1 200"), "{rest_text}");
    assert!(rest_text.contains("connection: close"), "{rest_text}");
    assert!(rest_text.ends_with("\r\n\r\nhello\n"), "{rest_text}");
    let (status, took) = wait_exit(&mut server, Duration::from_secs(10)).expect("server exits");
    eprintln!("HTTP/1.1 shutdown: exited {took:?} after the EOF with {status}");
    assert!(status.success());
}
