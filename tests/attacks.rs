//! Flood defences against a running `h2o serve`, over 127.0.0.1: one test per
//! attack, each driving raw HTTP/2 bytes. Each checks that
//! - the attacker's connection ends with GOAWAY and the expected code,
//! - the server's resident memory (VmRSS in /proc/PID/status, sampled every
//!   20 ms) stays under [`RSS_BOUND_KB`],
//! - a well-behaved client (curl, HTTP/2 prior knowledge) on another
//!   connection is served throughout, without a single failure.
//!
//! Every flood is bounded in bytes and time. SECURITY.md lists the limits.

mod support;
use support::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2o::frame::{Frame, FrameDecoder, Settings};
use h2o::hpack::{Encoder, HeaderField};
use h2o::ErrorCode;

/// Server RSS bound during any attack (KiB): the bound SECURITY.md states.
const RSS_BOUND_KB: u64 = 32 * 1024;

/// Longest a flood may take before we stop sending.
const FLOOD_TIME: Duration = Duration::from_secs(20);

/// The HTTP/2 client preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn enc(frames: &[Frame]) -> Vec<u8> {
    let mut v = Vec::new();
    for f in frames {
        f.encode(&mut v);
    }
    v
}

/// A field block of literals (never indexed: no dynamic-table state).
fn block(fields: &[(&str, &str)]) -> Bytes {
    let mut out = Vec::new();
    Encoder::default().encode(
        fields.iter().map(|(n, v)| HeaderField {
            name: n.as_bytes(),
            value: v.as_bytes(),
            never_index: true,
        }),
        &mut out,
    );
    Bytes::from(out)
}

fn request(method: &str, path: &str) -> Bytes {
    block(&[
        (":method", method),
        (":scheme", "http"),
        (":authority", "x"),
        (":path", path),
    ])
}

fn headers(stream_id: u32, block: Bytes, end_stream: bool) -> Frame {
    Frame::Headers {
        stream_id,
        end_stream,
        end_headers: true,
        priority: None,
        block,
    }
}

/// What runs next to an attack: an RSS sampler and a curl loop.
struct Watch {
    stop: Arc<AtomicBool>,
    max_rss: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<(u32, Vec<String>)>>,
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
            (0, Vec::new())
        });
        let url = server.url("/hello.txt");
        let want = std::fs::read(root.join("hello.txt")).unwrap();
        let curl = require_bin("curl", "curl");
        let st = stop.clone();
        let client = std::thread::spawn(move || {
            let mut ok = 0u32;
            let mut failures = Vec::new();
            // Bounded: at most 2 000 requests, while the attack runs and
            // until 3 have been served (a busy machine may start curl late).
            for _ in 0..2000 {
                if st.load(Ordering::Relaxed) && ok >= 3 {
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
                    failures.push(format!(
                        "{}: {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (ok, failures)
        });
        Watch {
            stop,
            max_rss,
            threads: vec![sampler, client],
        }
    }

    /// Stops; returns (max RSS KiB, well-behaved requests served, failures).
    fn finish(self) -> (u64, u32, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let mut ok = 0;
        let mut failures = Vec::new();
        for t in self.threads {
            let (o, f) = t.join().unwrap();
            ok += o;
            failures.extend(f);
        }
        (self.max_rss.load(Ordering::Relaxed), ok, failures)
    }
}

/// Reads the server's frames until GOAWAY (its code), EOF or `limit`.
fn read_goaway(mut sock: TcpStream, limit: Duration) -> Option<ErrorCode> {
    let start = Instant::now();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut dec = FrameDecoder::new(1 << 24);
    let mut buf = vec![0u8; 1 << 16];
    while start.elapsed() < limit {
        match sock.read(&mut buf) {
            Ok(0) => {
                eprintln!("read_goaway: EOF");
                return None;
            }
            Ok(n) => dec.push(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => {
                eprintln!("read_goaway: {e}");
                return None;
            }
        }
        for f in dec.frames() {
            match f {
                Ok(Frame::GoAway { code, .. }) => return Some(code),
                Ok(_) => {}
                Err(e) => panic!("server sent a bad frame: {e:?}"),
            }
        }
    }
    None
}

/// How the attacker treats the server's output during the flood.
#[derive(Clone, Copy, PartialEq)]
enum Reading {
    /// Reads it all the time.
    Always,
    /// Never reads until the flood is over (PING/SETTINGS ACKs pile up).
    AfterFlood,
}

/// Runs one attack: `chunk` written up to `reps` times after the preface
/// (or until the server stops taking bytes / [`FLOOD_TIME`]). Returns the
/// GOAWAY code seen by the attacker.
fn attack(name: &str, chunk: &[u8], reps: usize, reading: Reading) -> Option<ErrorCode> {
    let root = TempDir::new(&format!("attack-{name}"));
    std::fs::write(root.path().join("hello.txt"), random_bytes(3000, 7)).unwrap();
    let server = spawn_h2o_serve(root.path());
    let watch = Watch::start(&server, root.path());
    let base = rss_kb(server.child.id());

    let mut sock = TcpStream::connect(server.addr).unwrap();
    sock.set_nodelay(true).unwrap();
    sock.set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut hello = PREFACE.to_vec();
    hello.extend(enc(&[
        Frame::Settings {
            ack: false,
            settings: Settings::default(),
        },
        Frame::Settings {
            ack: true,
            settings: Settings::default(),
        },
    ]));
    sock.write_all(&hello).unwrap();
    let reader = (reading == Reading::Always).then(|| {
        let s = sock.try_clone().unwrap();
        std::thread::spawn(move || read_goaway(s, FLOOD_TIME + Duration::from_secs(10)))
    });
    let start = Instant::now();
    let mut sent = 0usize;
    for _ in 0..reps {
        if start.elapsed() > FLOOD_TIME {
            break;
        }
        if let Err(e) = sock.write_all(chunk) {
            eprintln!("attack {name}: flood ends: {e}");
            break;
        }
        sent += chunk.len();
    }
    let code = match reader {
        Some(r) => r.join().unwrap(),
        None => read_goaway(sock.try_clone().unwrap(), Duration::from_secs(10)),
    };
    // The well-behaved client keeps being served after the attack too.
    std::thread::sleep(Duration::from_millis(200));
    let (max_rss, ok, failures) = watch.finish();
    eprintln!(
        "attack {name}: {sent} bytes sent in {:?}, GOAWAY {code:?}, server RSS {base} KiB at start, \
         max {max_rss} KiB; well-behaved client: {ok} served, {} failed",
        start.elapsed(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{name}: well-behaved client failed: {failures:?}"
    );
    assert!(
        ok >= 3,
        "{name}: well-behaved client served only {ok} times"
    );
    assert!(
        max_rss < RSS_BOUND_KB,
        "{name}: server RSS {max_rss} KiB above {RSS_BOUND_KB} KiB"
    );
    drop(server);
    code
}

#[test]
fn rapid_reset() {
    // CVE-2023-44487: open and cancel streams at once.
    let mut frames = Vec::new();
    for i in 0..1000u32 {
        let id = 1 + 2 * i;
        frames.push(headers(id, request("GET", "/hello.txt"), true));
        frames.push(Frame::RstStream {
            stream_id: id,
            code: ErrorCode::CANCEL,
        });
    }
    // Stream ids must grow: each repetition needs new ids, so the whole
    // flood is built at once (5 000 streams).
    let mut all = enc(&frames);
    for _ in 1..5 {
        for f in frames.iter_mut() {
            match f {
                Frame::Headers { stream_id, .. } | Frame::RstStream { stream_id, .. } => {
                    *stream_id += 2000
                }
                _ => {}
            }
        }
        all.extend(enc(&frames));
    }
    let code = attack("rapid-reset", &all, 1, Reading::Always);
    assert_eq!(code, Some(ErrorCode::ENHANCE_YOUR_CALM));
}

#[test]
fn made_you_reset() {
    // CVE-2025-8671: make the server reset streams (WINDOW_UPDATE of 0 on an
    // open stream).
    let mut frames = Vec::new();
    for i in 0..3000u32 {
        let id = 1 + 2 * i;
        frames.push(headers(id, request("POST", "/hello.txt"), false));
        frames.push(Frame::WindowUpdate {
            stream_id: id,
            increment: 0,
        });
    }
    let code = attack("made-you-reset", &enc(&frames), 1, Reading::Always);
    assert_eq!(code, Some(ErrorCode::ENHANCE_YOUR_CALM));
}

#[test]
fn continuation_flood() {
    // CVE-2024-27316 family: a header block that never ends.
    let mut first = enc(&[Frame::Headers {
        stream_id: 1,
        end_stream: true,
        end_headers: false,
        priority: None,
        block: request("GET", "/hello.txt"),
    }]);
    let cont = enc(&[Frame::Continuation {
        stream_id: 1,
        end_headers: false,
        block: Bytes::from(vec![0x40u8; 16_000]),
    }]);
    first.extend(&cont);
    let mut chunk = Vec::new();
    for _ in 0..64 {
        chunk.extend(&cont);
    }
    first.extend(&chunk);
    let code = attack("continuation", &first, 1, Reading::Always);
    assert_eq!(code, Some(ErrorCode::ENHANCE_YOUR_CALM));
}

#[test]
fn ping_flood_without_reading() {
    let frames: Vec<Frame> = (0..10_000u64)
        .map(|i| Frame::Ping {
            ack: false,
            data: i.to_be_bytes(),
        })
        .collect();
    // Up to 300 × 170 KB = 51 MB, until the server stops taking them.
    let code = attack("ping", &enc(&frames), 300, Reading::AfterFlood);
    assert_eq!(code, Some(ErrorCode::ENHANCE_YOUR_CALM));
}

#[test]
fn settings_flood_without_reading() {
    let frames: Vec<Frame> = (0..10_000)
        .map(|_| Frame::Settings {
            ack: false,
            settings: Settings::default(),
        })
        .collect();
    let code = attack("settings", &enc(&frames), 600, Reading::AfterFlood);
    assert_eq!(code, Some(ErrorCode::ENHANCE_YOUR_CALM));
}

#[test]
fn empty_data_flood() {
    // CVE-2019-9518: empty DATA frames on an open request body.
    let mut frames = vec![headers(1, request("POST", "/hello.txt"), false)];
    for _ in 0..5000 {
        frames.push(Frame::Data {
            stream_id: 1,
            end_stream: false,
            data: Bytes::new(),
            flow_len: 0,
        });
    }
    let code = attack("empty-data", &enc(&frames), 1, Reading::Always);
    assert_eq!(code, Some(ErrorCode::ENHANCE_YOUR_CALM));
}

#[test]
fn hpack_bomb() {
    // A 4 KB value inserted in the dynamic table, then referenced 1 000 times
    // per block: ~4 MB of header list from ~5 KB on the wire, per stream.
    let mut frames = Vec::new();
    for i in 0..3000u32 {
        let mut b = request("GET", "/hello.txt").to_vec();
        if i == 0 {
            // Literal with incremental indexing, new name "x-b".
            b.push(0x40);
            b.push(3);
            b.extend_from_slice(b"x-b");
            b.push(0x7f);
            // 4000 - 127 as an HPACK integer (7-bit prefix).
            let mut rest = 4000 - 127;
            while rest >= 128 {
                b.push((rest % 128) as u8 | 0x80);
                rest /= 128;
            }
            b.push(rest as u8);
            b.extend(std::iter::repeat_n(b'a', 4000));
        }
        b.extend(std::iter::repeat_n(0x80 | 62, 1000));
        frames.push(headers(1 + 2 * i, Bytes::from(b), true));
    }
    let code = attack("hpack-bomb", &enc(&frames), 1, Reading::Always);
    assert_eq!(code, Some(ErrorCode::ENHANCE_YOUR_CALM));
}
