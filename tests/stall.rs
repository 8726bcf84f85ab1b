//! Stall timeout of `h2o serve` (`--stall-timeout`), raw HTTP/2 bytes over
//! 127.0.0.1 in the style of tests/attacks.rs: a client that never reads and
//! a client that keeps every stream window at 0 (while sending PINGs, which
//! must not count as progress) are closed at the timeout; the server's RSS
//! stays under [`RSS_BOUND_KB`] (plus [`RSS_BOUND_COPY_KB`]'s 25 MiB with
//! copied bodies; the bounds SECURITY.md states) and a
//! well-behaved client (curl) on another connection is served throughout.

mod support;
use support::*;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use h2o::frame::{Frame, FrameDecoder, Settings};
use h2o::ErrorCode;

/// Server RSS bound during the stalls (KiB), as in tests/attacks.rs.
const RSS_BOUND_KB: u64 = 32 * 1024;
/// With copied bodies (`--no-zero-copy`, and TLS) the adapter holds one
/// 64 KiB piece per open stream (one 256 KiB chunk for multipart bodies):
/// the bound allows 100 streams × 256 KiB = 25 MiB more.
const RSS_BOUND_COPY_KB: u64 = RSS_BOUND_KB + 25 * 1024;
const STALL: Duration = Duration::from_secs(2);
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An RSS sampler (every 20 ms) and a curl loop (bounded: ≤ 1 000 requests).
struct Watch {
    stop: Arc<AtomicBool>,
    max_rss: Arc<AtomicU64>,
    sampler: std::thread::JoinHandle<()>,
    client: std::thread::JoinHandle<(u32, Vec<String>)>,
}

impl Watch {
    fn start(server: &ServerGuard, root: &std::path::Path) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let max_rss = Arc::new(AtomicU64::new(0));
        let pid = server.child.id();
        let (st, mx) = (stop.clone(), max_rss.clone());
        let sampler = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                mx.fetch_max(rss_kb(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let url = server.url("/hello.txt");
        let want = std::fs::read(root.join("hello.txt")).unwrap();
        let curl = require_bin("curl", "curl");
        let st = stop.clone();
        let client = std::thread::spawn(move || {
            let (mut ok, mut failures) = (0u32, Vec::new());
            for _ in 0..1000 {
                if st.load(Ordering::Relaxed) && ok > 0 {
                    break;
                }
                let out = Command::new(&curl)
                    .args(["-sS", "--http2-prior-knowledge", "--max-time", "5"])
                    .arg(&url)
                    .output()
                    .expect("run curl");
                if out.status.success() && out.stdout == want {
                    ok += 1;
                } else {
                    failures.push(String::from_utf8_lossy(&out.stderr).into_owned());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (ok, failures)
        });
        Watch {
            stop,
            max_rss,
            sampler,
            client,
        }
    }

    fn finish(self, name: &str, bound_kb: u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.sampler.join().unwrap();
        let (ok, failures) = self.client.join().unwrap();
        let max = self.max_rss.load(Ordering::Relaxed);
        eprintln!(
            "{name}: server max RSS {max} KiB; well-behaved client: {ok} served, {} failed",
            failures.len()
        );
        assert!(failures.is_empty(), "{name}: curl failed: {failures:?}");
        assert!(ok > 0);
        assert!(max < bound_kb, "{name}: RSS {max} KiB over {bound_kb}");
    }
}

fn setup(tag: &str, extra: &[&str]) -> (TempDir, ServerGuard) {
    let root = TempDir::new(tag);
    std::fs::write(root.path().join("hello.txt"), random_bytes(3000, 7)).unwrap();
    std::fs::write(root.path().join("big.bin"), random_bytes(64 << 20, 8)).unwrap();
    let mut args = vec!["--stall-timeout", "2", "--idle-timeout", "600"];
    args.extend_from_slice(extra);
    let server = spawn_h2o_serve_with(root.path(), &args);
    (root, server)
}

fn hello(sock: &mut TcpStream, settings: Settings, conn_credit: u32) {
    let mut v = PREFACE.to_vec();
    Frame::Settings {
        ack: false,
        settings,
    }
    .encode(&mut v);
    Frame::Settings {
        ack: true,
        settings: Settings::default(),
    }
    .encode(&mut v);
    if conn_credit > 0 {
        Frame::WindowUpdate {
            stream_id: 0,
            increment: conn_credit,
        }
        .encode(&mut v);
    }
    sock.write_all(&v).unwrap();
}

#[test]
fn a_client_that_never_reads_is_closed_at_the_stall_timeout() {
    never_reads("never reads (sendfile)", &[], RSS_BOUND_KB);
}

/// Copied bodies: the adapter holds one 256 KiB chunk per open stream.
#[test]
fn a_client_that_never_reads_copied_bodies_is_closed_at_the_stall_timeout() {
    never_reads(
        "never reads (copied bodies)",
        &["--no-zero-copy"],
        RSS_BOUND_COPY_KB,
    );
}

fn never_reads(name: &str, extra: &[&str], bound_kb: u64) {
    let (root, server) = setup("stall-noread", extra);
    let watch = Watch::start(&server, root.path());
    let mut sock = TcpStream::connect(server.addr).unwrap();
    let settings = Settings {
        initial_window_size: Some(0x7fff_ffff),
        ..Settings::default()
    };
    hello(&mut sock, settings, 0x7fff_ffff - 65_535);
    // Streams up to the server's limit (100), each asking for 64 MiB.
    let mut req = Vec::new();
    for i in 0..100u32 {
        write_get(&mut req, 1 + 2 * i, "/big.bin");
    }
    sock.write_all(&req).unwrap();
    // Never read while the server's output waits: it must give up at the
    // stall timeout (2 s; the idle timeout is 600 s).
    std::thread::sleep(STALL + Duration::from_secs(3));
    // Now read everything: the socket buffers, then EOF (or a reset), far
    // short of the 20 × 64 MiB that were asked for.
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0usize;
    let end = loop {
        match sock.read(&mut buf) {
            Ok(0) => break "EOF".to_string(),
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break "reset".to_string(),
            Err(e) => panic!("connection still open ({e}) after {total} bytes"),
        }
        assert!(total < 64 << 20, "the server kept sending: not closed");
    };
    eprintln!("{name}: {end} after {total} buffered bytes");
    watch.finish(name, bound_kb);
}

#[test]
fn a_client_that_keeps_windows_at_zero_is_closed_at_the_stall_timeout() {
    let (root, server) = setup("stall-window", &[]);
    let watch = Watch::start(&server, root.path());
    let mut sock = TcpStream::connect(server.addr).unwrap();
    let settings = Settings {
        initial_window_size: Some(0),
        ..Settings::default()
    };
    hello(&mut sock, settings, 0);
    let mut req = Vec::new();
    for i in 0..20u32 {
        write_get(
            &mut req,
            1 + 2 * i,
            if i % 2 == 0 { "/big.bin" } else { "/hello.txt" },
        );
    }
    sock.write_all(&req).unwrap();
    let start = Instant::now();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut dec = FrameDecoder::new(1 << 20);
    let mut buf = vec![0u8; 1 << 16];
    let mut goaway = None;
    let mut last_ping = Instant::now();
    let mut data = 0usize;
    let end = loop {
        assert!(
            start.elapsed() < STALL + Duration::from_secs(5),
            "not closed {:?} after the requests",
            start.elapsed()
        );
        // PINGs keep traffic flowing; they must not count as progress.
        if last_ping.elapsed() > Duration::from_millis(200) {
            let mut v = Vec::new();
            Frame::Ping {
                ack: false,
                data: [7; 8],
            }
            .encode(&mut v);
            let _ = sock.write_all(&v);
            last_ping = Instant::now();
        }
        match sock.read(&mut buf) {
            Ok(0) => break "EOF",
            Ok(n) => dec.push(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break "reset",
            Err(e) => panic!("read: {e}"),
        }
        for f in dec.frames() {
            match f.expect("valid frame") {
                Frame::GoAway { code, .. } => goaway = Some(code),
                Frame::Data { data: d, .. } => data += d.len(),
                _ => {}
            }
        }
    };
    let took = start.elapsed();
    eprintln!("zero-window client: {end} after {took:?}, GOAWAY {goaway:?}, {data} DATA bytes");
    assert_eq!(data, 0, "DATA sent beyond a zero window");
    assert!(
        took >= STALL - Duration::from_millis(100),
        "closed early: {took:?}"
    );
    assert_eq!(goaway, Some(ErrorCode::NO_ERROR));
    watch.finish("zero window", RSS_BOUND_KB);
}
