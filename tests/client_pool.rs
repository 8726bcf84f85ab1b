//! `h2o::Client` against in-test fake servers built on `h2o::Connection`:
//! pooling and multiplexing (MAX_CONCURRENT_STREAMS 100 vs 1), request
//! timeouts, PING keepalive (sent; missing ACK fails the request), GOAWAY
//! retry of unprocessed requests on a new connection, the circuit breaker
//! (open → CircuitOpen without connecting, half-open probe, disabled).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2o::frame::Frame;
use h2o::{BreakerConfig, Client, ClientConfig, ClientError, Config, Connection, ErrorCode, Event};

/// How the fake server behaves (switchable at run time).
const NORMAL: u8 = 0;
/// Reads and acknowledges, never answers requests.
const SILENT: u8 = 1;
/// After SETTINGS and the first request, stops reading and writing.
const MUTE: u8 = 2;
/// Accepts and closes at once.
const CLOSE: u8 = 3;
/// First connection: GOAWAY(last = first stream) once 4 requests arrived.
const GOAWAY: u8 = 4;
/// Answers the first batch, then GOAWAY(NO_ERROR) and closes at once.
const ONESHOT: u8 = 5;

struct Fake {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    accepted: Arc<AtomicUsize>,
    pings: Arc<AtomicUsize>,
    max_open: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    /// Server connection threads that finished (peer closed or GOAWAY done).
    ended: Arc<AtomicUsize>,
}

impl Fake {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

/// A fake server; `hold`: how long requests wait before being answered (so
/// concurrent requests overlap).
fn fake(mode: u8, mcs: u32, hold: Duration) -> Fake {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let f = Fake {
        addr: l.local_addr().unwrap(),
        mode: Arc::new(AtomicU8::new(mode)),
        accepted: Arc::new(AtomicUsize::new(0)),
        pings: Arc::new(AtomicUsize::new(0)),
        max_open: Arc::new(AtomicUsize::new(0)),
        stop: Arc::new(AtomicBool::new(false)),
        ended: Arc::new(AtomicUsize::new(0)),
    };
    let ended = f.ended.clone();
    let (m, acc, pings, max_open, stop) = (
        f.mode.clone(),
        f.accepted.clone(),
        f.pings.clone(),
        f.max_open.clone(),
        f.stop.clone(),
    );
    std::thread::spawn(move || {
        for s in l.incoming() {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let Ok(s) = s else { continue };
            let n = acc.fetch_add(1, Ordering::SeqCst);
            let mode = m.load(Ordering::SeqCst);
            if mode == CLOSE {
                drop(s);
                continue;
            }
            let (pings, max_open, stop) = (pings.clone(), max_open.clone(), stop.clone());
            let ended = ended.clone();
            std::thread::spawn(move || {
                serve_conn(s, mode, n, mcs, hold, pings, max_open, stop);
                ended.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    f
}

#[allow(clippy::too_many_arguments)]
fn serve_conn(
    mut s: TcpStream,
    mode: u8,
    index: usize,
    mcs: u32,
    hold: Duration,
    pings: Arc<AtomicUsize>,
    max_open: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    let mut conn = Connection::server(Config {
        max_concurrent_streams: mcs,
        ..Config::default()
    });
    let _ = s.set_read_timeout(Some(Duration::from_millis(10)));
    let mut buf = vec![0u8; 64 << 10];
    let mut out = Vec::new();
    let mut pending: Vec<(u32, String, Instant)> = Vec::new();
    let mut requests = 0usize;
    let mut goaway_sent = false;
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        if mode == MUTE && requests > 0 {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                // A mock peer without a clock (no timers, static windows).
                if conn.recv(Duration::ZERO, &buf[..n]).is_err() {
                    return;
                }
            }
            Err(_) => {}
        }
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::Request {
                    stream_id, request, ..
                } => {
                    requests += 1;
                    pending.push((stream_id, request.uri().path().to_string(), Instant::now()));
                    max_open.fetch_max(conn.open_streams(), Ordering::SeqCst);
                }
                Event::Ping(_) => {
                    pings.fetch_add(1, Ordering::SeqCst);
                }
                _ => {}
            }
        }
        out.clear();
        if mode == GOAWAY && index == 0 && !goaway_sent && requests >= 4 {
            goaway_sent = true;
            let first = pending.iter().map(|p| p.0).min().unwrap();
            conn.write_to(Duration::ZERO, &mut out, 1 << 20);
            Frame::GoAway {
                last_stream_id: first,
                code: ErrorCode::NO_ERROR,
                debug: Bytes::from_static(b"restarting"),
            }
            .encode(&mut out);
            pending.retain(|p| p.0 == first);
        }
        if mode != SILENT && mode != MUTE {
            let now = Instant::now();
            let oldest = pending.iter().map(|p| p.2).min();
            if oldest.is_some_and(|t| now >= t + hold) {
                for (id, path, _) in pending.drain(..) {
                    let resp = http::Response::builder().status(200).body(()).unwrap();
                    let _ = conn.send_response(id, resp, false);
                    let _ = conn.send_data(id, Bytes::from(format!("ok {path}")), true);
                }
                if mode == ONESHOT {
                    conn.shutdown(ErrorCode::NO_ERROR);
                }
            }
        }
        conn.write_to(Duration::ZERO, &mut out, 1 << 20);
        if !out.is_empty() && s.write_all(&out).is_err() {
            return;
        }
        if conn.is_closed() {
            return;
        }
    }
}

fn cfg() -> ClientConfig {
    ClientConfig {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    }
}

fn body(r: &http::Response<Bytes>) -> &str {
    std::str::from_utf8(r.body()).unwrap()
}

#[test]
fn concurrent_requests_share_one_connection() {
    let f = fake(NORMAL, 100, Duration::from_millis(300));
    let c = Client::new(cfg());
    let hs: Vec<_> = (0..8)
        .map(|i| {
            c.send(c.get_request(&f.url(&format!("/r{i}"))).unwrap())
                .unwrap()
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        let r = h.wait().unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(body(&r), format!("ok /r{i}"));
    }
    assert_eq!(f.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(c.connections_opened(), 1);
    assert_eq!(
        f.max_open.load(Ordering::SeqCst),
        8,
        "all 8 multiplexed at once"
    );
    // The pooled connection is reused later.
    assert_eq!(body(&c.get(&f.url("/again")).unwrap()), "ok /again");
    assert_eq!(f.accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn mcs_one_opens_more_connections() {
    let f = fake(NORMAL, 1, Duration::from_millis(200));
    let c = Client::new(cfg());
    let hs: Vec<_> = (0..4)
        .map(|i| {
            c.send(c.get_request(&f.url(&format!("/m{i}"))).unwrap())
                .unwrap()
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(body(&h.wait().unwrap()), format!("ok /m{i}"));
    }
    assert!(
        f.accepted.load(Ordering::SeqCst) >= 2,
        "a second connection"
    );
    assert_eq!(f.max_open.load(Ordering::SeqCst), 1, "never above MCS");
}

#[test]
fn request_timeout() {
    let f = fake(SILENT, 100, Duration::ZERO);
    let c = Client::new(ClientConfig {
        request_timeout: Duration::from_millis(300),
        ..cfg()
    });
    let t = Instant::now();
    let e = c.get(&f.url("/never")).unwrap_err();
    assert_eq!(e, ClientError::Timeout("request"));
    assert!(e.to_string().contains("timed out"));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[test]
fn connect_timeout_to_unroutable_or_refused() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = Client::new(ClientConfig {
        breaker: None,
        ..cfg()
    });
    match c.get(&format!("http://127.0.0.1:{port}/")).unwrap_err() {
        ClientError::Connect(m) => assert!(m.to_string().contains("cannot connect"), "{m}"),
        e => panic!("unexpected {e:?}"),
    }
    // https:// goes through TLS (tests/tls_net.rs): a closed port is a connect error.
    assert!(matches!(
        c.get(&format!("https://127.0.0.1:{port}/")).unwrap_err(),
        ClientError::Connect(_)
    ));
}

#[test]
fn errors_keep_their_sources() {
    use h2o::net::ConnectError;
    use std::error::Error as _;
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = Client::new(ClientConfig {
        breaker: None,
        ..cfg()
    });
    let e = c.get(&format!("http://127.0.0.1:{port}/")).unwrap_err();
    // ClientError -> ConnectError -> io::Error, each inspectable.
    let ce = e
        .source()
        .and_then(|s| s.downcast_ref::<ConnectError>())
        .unwrap_or_else(|| panic!("no ConnectError source: {e:?}"));
    match ce {
        ConnectError::Tcp { addr, source } => {
            assert_eq!(addr.port(), port);
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("unexpected {other:?}"),
    }
    let io = ce
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .expect("io::Error source");
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);

    // A peer that answers HTTP/1.1 is a handshake failure, not a connect error.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        // Drain until the client hangs up, so closing cannot reset the
        // connection before the client read the reply.
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    });
    let e = c.get(&format!("http://{addr}/")).unwrap_err();
    assert!(
        matches!(e, ClientError::Handshake { source: None, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("does not speak HTTP/2"), "{e}");
    t.join().unwrap();
}

#[test]
fn keepalive_pings_are_sent() {
    let f = fake(NORMAL, 100, Duration::ZERO);
    let c = Client::new(ClientConfig {
        keepalive_interval: Some(Duration::from_millis(100)),
        keepalive_timeout: Duration::from_millis(500),
        ..cfg()
    });
    assert_eq!(body(&c.get(&f.url("/k")).unwrap()), "ok /k");
    let t = Instant::now();
    while f.pings.load(Ordering::SeqCst) < 2 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(f.pings.load(Ordering::SeqCst) >= 2);
    // Acknowledged pings keep the connection alive and pooled.
    assert_eq!(body(&c.get(&f.url("/k2")).unwrap()), "ok /k2");
    assert_eq!(f.accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn missing_ping_ack_fails_requests() {
    let f = fake(MUTE, 100, Duration::ZERO);
    let c = Client::new(ClientConfig {
        keepalive_interval: Some(Duration::from_millis(100)),
        keepalive_timeout: Duration::from_millis(200),
        request_timeout: Duration::from_secs(10),
        ..cfg()
    });
    let t = Instant::now();
    let e = c.get(&f.url("/mute")).unwrap_err();
    assert_eq!(e, ClientError::Timeout("keepalive PING not acknowledged"));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[test]
fn goaway_unprocessed_requests_retry_on_new_connection() {
    let f = fake(GOAWAY, 100, Duration::from_millis(200));
    let c = Client::new(cfg());
    let hs: Vec<_> = (0..4)
        .map(|i| {
            c.send(c.get_request(&f.url(&format!("/g{i}"))).unwrap())
                .unwrap()
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        let r = h.wait().unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(body(&r), format!("ok /g{i}"));
    }
    assert_eq!(f.accepted.load(Ordering::SeqCst), 2);
    assert_eq!(c.connections_opened(), 2);
}

#[test]
fn breaker_opens_probes_and_closes() {
    let f = fake(CLOSE, 100, Duration::from_millis(300));
    let c = Client::new(ClientConfig {
        breaker: Some(BreakerConfig {
            failure_threshold: 2,
            open_interval: Duration::from_millis(300),
        }),
        ..cfg()
    });
    for _ in 0..2 {
        assert!(matches!(
            c.get(&f.url("/b")).unwrap_err(),
            ClientError::Handshake { .. }
        ));
    }
    let tried = f.accepted.load(Ordering::SeqCst);
    let e = c.get(&f.url("/b")).unwrap_err();
    assert!(matches!(e, ClientError::CircuitOpen(_)), "{e:?}");
    assert!(e.to_string().contains("circuit breaker open"));
    assert_eq!(
        f.accepted.load(Ordering::SeqCst),
        tried,
        "no connection while open"
    );

    // Half-open probe that fails: open again at once.
    std::thread::sleep(Duration::from_millis(350));
    assert!(matches!(
        c.get(&f.url("/b")).unwrap_err(),
        ClientError::Handshake { .. }
    ));
    let tried = f.accepted.load(Ordering::SeqCst);
    assert!(matches!(
        c.get(&f.url("/b")).unwrap_err(),
        ClientError::CircuitOpen(_)
    ));
    assert_eq!(f.accepted.load(Ordering::SeqCst), tried);

    // Server healthy again: the probe succeeds and closes the breaker.
    f.mode.store(NORMAL, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(350));
    let probe = c.send(c.get_request(&f.url("/p")).unwrap()).unwrap();
    // Only one request goes through while the probe is in flight.
    assert!(matches!(
        c.get(&f.url("/b")).unwrap_err(),
        ClientError::CircuitOpen(_)
    ));
    assert_eq!(body(&probe.wait().unwrap()), "ok /p");
    assert_eq!(body(&c.get(&f.url("/q")).unwrap()), "ok /q");
}

#[test]
fn breaker_can_be_disabled() {
    let f = fake(CLOSE, 100, Duration::ZERO);
    let c = Client::new(ClientConfig {
        breaker: None,
        ..cfg()
    });
    for _ in 0..6 {
        assert!(matches!(
            c.get(&f.url("/d")).unwrap_err(),
            ClientError::Handshake { .. }
        ));
    }
    assert!(f.accepted.load(Ordering::SeqCst) >= 6);
}

#[test]
fn many_threads_share_the_pool() {
    let f = fake(NORMAL, 100, Duration::ZERO);
    let c = Client::new(cfg());
    let ts: Vec<_> = (0..4)
        .map(|t| {
            let c = c.clone();
            let url = f.url("/t");
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let r = c.get(&url).unwrap();
                    assert_eq!(r.body().as_ref(), b"ok /t", "thread {t}");
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(f.accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn dropping_the_client_closes_its_connections() {
    let f = fake(NORMAL, 100, Duration::ZERO);
    let c = Client::new(cfg());
    assert_eq!(body(&c.get(&f.url("/x")).unwrap()), "ok /x");
    assert_eq!(c.pooled_connections(&f.url("/")), 1);
    assert_eq!(f.ended.load(Ordering::SeqCst), 0);
    drop(c);
    let t = Instant::now();
    while f.ended.load(Ordering::SeqCst) == 0 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(f.ended.load(Ordering::SeqCst), 1);
}

#[test]
fn response_then_immediate_close_is_delivered() {
    let f = fake(ONESHOT, 100, Duration::ZERO);
    let c = Client::new(cfg());
    for i in 0..3 {
        // Each connection answers once and closes: the answer arrives with
        // GOAWAY and EOF in the same read, and later requests use new connections.
        let r = c.get(&f.url(&format!("/o{i}"))).unwrap();
        assert_eq!(body(&r), format!("ok /o{i}"));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(f.accepted.load(Ordering::SeqCst), 3);
}

#[test]
fn idle_connections_are_closed() {
    let f = fake(NORMAL, 100, Duration::ZERO);
    let c = Client::new(ClientConfig {
        idle_timeout: Duration::from_millis(200),
        ..cfg()
    });
    assert_eq!(body(&c.get(&f.url("/i")).unwrap()), "ok /i");
    let t = Instant::now();
    while f.ended.load(Ordering::SeqCst) == 0 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(f.ended.load(Ordering::SeqCst), 1, "idle connection closed");
    assert_eq!(c.pooled_connections(&f.url("/")), 0);
    assert_eq!(body(&c.get(&f.url("/j")).unwrap()), "ok /j");
    assert_eq!(f.accepted.load(Ordering::SeqCst), 2);
}
