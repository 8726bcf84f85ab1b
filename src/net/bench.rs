//! `h2o bench`: an h2load-style HTTP/2 load generator (h2c for `http://`,
//! TLS with ALPN `h2` for `https://`: each connection's handshake runs at
//! connect time, records go through [`super::tls_io`]).
//!
//! Owns: C connections spread over T threads, each keeping M concurrent streams
//! busy (a new request as soon as one ends, RFC 9113 §5.1.2 concurrency) until N
//! requests were started or a duration elapsed; counts, status classes,
//! traffic and latency percentiles (hdrhistogram). Each thread drives its
//! connections with one non-blocking mio loop: read into one large buffer →
//! [`Connection::recv`] → events → new requests → one `write` per connection
//! per loop turn. The request head is built once and cloned per request (the
//! clone of a head without extra fields does not allocate).
//!
//! [`start_embedded`] starts `h2o::net::server::serve` on a loopback port over a
//! generated directory (`/small` 12 B, `/1k`, `/64k`, `/1m`) and loads it.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token};

use crate::conn::{Config, Connection, Event};
use crate::error::ErrorCode;
use crate::frame::StreamId;

use super::client::Url;
use super::{tcp, READ_BUF, WBUF_CAP, WRITE_CHUNK};

/// Deadline of each connection's TCP connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Load parameters.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Target (`http://` or `https://`).
    pub url: String,
    /// Total requests (N).
    pub requests: u64,
    /// Connections (C).
    pub connections: usize,
    /// Concurrent streams per connection (M).
    pub streams: usize,
    /// Threads (T); connections are spread round-robin.
    pub threads: usize,
    /// Stop starting requests after this long.
    pub duration: Option<Duration>,
    /// Show a progress bar on stderr (callers pass "stderr is a tty").
    pub progress: bool,
    /// TLS context for `https://`, shared by all connections (`None`: system
    /// roots).
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<crate::tls::ClientTls>>,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            url: String::new(),
            requests: 200_000,
            connections: 10,
            streams: 32,
            threads: 2,
            duration: Some(Duration::from_secs(10)),
            progress: false,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// Results of a run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Wall time from the first connect to the last response.
    pub elapsed: Duration,
    /// Requests asked for (N).
    pub total: u64,
    /// Requests started.
    pub started: u64,
    /// Requests ended (response or error).
    pub done: u64,
    /// Ended with a 2xx/3xx status.
    pub succeeded: u64,
    /// Ended otherwise (includes `errored`).
    pub failed: u64,
    /// Ended without a complete response (reset, connection error).
    pub errored: u64,
    /// Responses by class: 2xx, 3xx, 4xx, 5xx.
    pub status: [u64; 4],
    /// Bytes read from the sockets.
    pub bytes_in: u64,
    /// Response body bytes.
    pub data_bytes: u64,
    /// Connection-level failures (connect errors, protocol errors).
    pub conn_errors: Vec<String>,
    /// Request latencies in microseconds.
    pub latency: Histogram<u64>,
    /// TLS handshakes (full, resumed); `None` for h2c.
    pub tls_handshakes: Option<(u64, u64)>,
}

impl BenchReport {
    /// Requests ended per second.
    pub fn req_per_sec(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn fmt_bytes(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.2}GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2}MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.2}KB", n / 1e3)
    } else {
        format!("{n}B")
    }
}

fn fmt_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2}s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{us:.0}us")
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        writeln!(
            f,
            "finished in {secs:.2}s, {:.2} req/s, {}/s",
            self.req_per_sec(),
            fmt_bytes(self.bytes_in as f64 / secs)
        )?;
        writeln!(
            f,
            "requests: {} total, {} started, {} done, {} succeeded, {} failed, {} errored",
            self.total, self.started, self.done, self.succeeded, self.failed, self.errored
        )?;
        writeln!(
            f,
            "status codes: {} 2xx, {} 3xx, {} 4xx, {} 5xx",
            self.status[0], self.status[1], self.status[2], self.status[3]
        )?;
        writeln!(
            f,
            "traffic: {} ({}) total, {} ({}) data",
            fmt_bytes(self.bytes_in as f64),
            self.bytes_in,
            fmt_bytes(self.data_bytes as f64),
            self.data_bytes
        )?;
        let h = &self.latency;
        if h.is_empty() {
            writeln!(f, "latency: no completed requests")?;
        } else {
            writeln!(
                f,
                "latency: min {}, mean {}, p50 {}, p90 {}, p99 {}, max {}",
                fmt_us(h.min() as f64),
                fmt_us(h.mean()),
                fmt_us(h.value_at_quantile(0.5) as f64),
                fmt_us(h.value_at_quantile(0.9) as f64),
                fmt_us(h.value_at_quantile(0.99) as f64),
                fmt_us(h.max() as f64)
            )?;
        }
        if let Some((full, resumed)) = self.tls_handshakes {
            writeln!(f, "TLS handshakes: {full} full, {resumed} resumed")?;
        }
        for e in &self.conn_errors {
            writeln!(f, "connection error: {e}")?;
        }
        Ok(())
    }
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// Shared between the worker threads.
struct Shared {
    /// Requests not started yet.
    remaining: AtomicU64,
    /// Ended requests (progress bar), updated in batches.
    done: AtomicU64,
    /// Stop starting requests.
    stop: AtomicBool,
}

impl Shared {
    fn take(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
            && self
                .remaining
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| r.checked_sub(1))
                .is_ok()
    }
}

#[derive(Default)]
struct Counts {
    started: u64,
    done: u64,
    succeeded: u64,
    failed: u64,
    errored: u64,
    status: [u64; 4],
    bytes_in: u64,
    data_bytes: u64,
    tls_full: u64,
    tls_resumed: u64,
}

/// Multiplicative hash of stream ids (no SipHash per request).
#[derive(Default)]
struct IdHash(u64);

impl Hasher for IdHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A request in flight: start time (loop-turn clock) and "final status 2xx/3xx".
struct Slot {
    start: Instant,
    ok: bool,
}

/// The time given to the core: the load generator runs no HTTP/2 timers and
/// keeps static receive windows (a clock that stands still).
const NO_CLOCK: Duration = Duration::ZERO;

struct BConn {
    sock: mio::net::TcpStream,
    conn: Connection,
    inflight: HashMap<StreamId, Slot, BuildHasherDefault<IdHash>>,
    wbuf: Vec<u8>,
    wpos: usize,
    dead: bool,
    /// TLS layer (`None`: h2c).
    #[cfg(feature = "tls")]
    tls: Option<Box<super::tls_io::TlsIo>>,
    /// Plaintext scratch for encryption.
    #[cfg(feature = "tls")]
    plain: Vec<u8>,
}

/// Where a worker's connections go: addresses, and for `https://` the TLS
/// context and server name.
#[derive(Clone)]
struct Target {
    addrs: Vec<SocketAddr>,
    #[cfg(feature = "tls")]
    tls: Option<(Arc<crate::tls::ClientTls>, String)>,
}

/// Runs the load and returns the report (errors: bad URL, nothing reachable).
pub fn run(cfg: &BenchConfig) -> Result<BenchReport, String> {
    let (url, https) = Url::parse_any(&cfg.url).map_err(|e| e.to_string())?;
    let addrs = tcp::resolve(&url.host, url.port).map_err(|e| e.to_string())?;
    #[cfg(not(feature = "tls"))]
    if https {
        return Err("this h2o was built without TLS: use an http:// URL".into());
    }
    let target = Target {
        addrs,
        #[cfg(feature = "tls")]
        tls: if https {
            let ctx = match &cfg.tls {
                Some(t) => Arc::clone(t),
                None => Arc::new(
                    crate::tls::ClientTls::builder()
                        .build()
                        .map_err(|e| format!("TLS: {e}"))?,
                ),
            };
            Some((ctx, url.host.clone()))
        } else {
            None
        },
    };
    let scheme = if https { "https" } else { "http" };
    let head = http::Request::get(format!("{scheme}://{}{}", url.authority, url.path))
        .body(())
        .map_err(|e| format!("invalid request: {e}"))?;
    let conns = cfg.connections.max(1);
    let threads = cfg.threads.clamp(1, conns);
    let streams = cfg.streams.max(1);
    let shared = Arc::new(Shared {
        remaining: AtomicU64::new(cfg.requests),
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let start = Instant::now();
    let deadline = cfg.duration.map(|d| start + d);
    let mut handles = Vec::new();
    for t in 0..threads {
        let n = (0..conns).filter(|i| i % threads == t).count();
        let shared = Arc::clone(&shared);
        let head = head.clone();
        let target = target.clone();
        handles.push(
            std::thread::Builder::new()
                .name(format!("h2o-bench-{t}"))
                .spawn(move || worker(&target, n, streams, head, shared, deadline))
                .map_err(|e| format!("cannot start thread: {e}"))?,
        );
    }
    let bar = if cfg.progress {
        let pb = indicatif::ProgressBar::new(cfg.requests);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} requests, {per_sec}, {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(pb)
    } else {
        None
    };
    let mut results = Vec::new();
    for h in handles {
        while !h.is_finished() {
            if let Some(pb) = &bar {
                pb.set_position(shared.done.load(Ordering::Relaxed));
            }
            std::thread::sleep(Duration::from_millis(if bar.is_some() { 100 } else { 5 }));
        }
        results.push(h.join().map_err(|_| "bench thread panicked".to_string())?);
    }
    let elapsed = start.elapsed();
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let mut rep = BenchReport {
        elapsed,
        total: cfg.requests,
        started: 0,
        done: 0,
        succeeded: 0,
        failed: 0,
        errored: 0,
        status: [0; 4],
        bytes_in: 0,
        data_bytes: 0,
        conn_errors: Vec::new(),
        latency: new_hist(),
        tls_handshakes: https.then_some((0, 0)),
    };
    for (c, h, errs) in results {
        if let Some((full, resumed)) = rep.tls_handshakes.as_mut() {
            *full += c.tls_full;
            *resumed += c.tls_resumed;
        }
        rep.started += c.started;
        rep.done += c.done;
        rep.succeeded += c.succeeded;
        rep.failed += c.failed;
        rep.errored += c.errored;
        for i in 0..4 {
            rep.status[i] += c.status[i];
        }
        rep.bytes_in += c.bytes_in;
        rep.data_bytes += c.data_bytes;
        let _ = rep.latency.add(&h);
        rep.conn_errors.extend(errs);
    }
    rep.conn_errors.sort();
    rep.conn_errors.dedup();
    Ok(rep)
}

type WorkerResult = (Counts, Histogram<u64>, Vec<String>);

fn worker(
    target: &Target,
    n: usize,
    m: usize,
    head: http::Request<()>,
    shared: Arc<Shared>,
    deadline: Option<Instant>,
) -> WorkerResult {
    let mut c = Counts::default();
    let mut hist = new_hist();
    let mut errs = Vec::new();
    let mut poll = match Poll::new() {
        Ok(p) => p,
        Err(e) => return (c, hist, vec![format!("poll: {e}")]),
    };
    let h2 = Config::default();
    let mut conns: Vec<BConn> = Vec::with_capacity(n);
    for i in 0..n {
        #[allow(unused_mut)]
        let mut sock = match tcp::connect_addrs(&target.addrs, Instant::now() + CONNECT_TIMEOUT) {
            Ok(s) => s,
            Err(e) => {
                errs.push(e.to_string());
                continue;
            }
        };
        #[allow(unused_mut)]
        let mut conn = Connection::client(h2.clone());
        #[cfg(feature = "tls")]
        let tls = match &target.tls {
            Some((ctx, host)) => match bench_tls(&mut sock, ctx, host, &mut conn, &mut c) {
                Ok(t) => Some(t),
                Err(e) => {
                    errs.push(e);
                    continue;
                }
            },
            None => None,
        };
        if let Err(e) = sock.set_nonblocking(true) {
            errs.push(format!("socket setup: {e}"));
            continue;
        }
        let mut sock = mio::net::TcpStream::from_std(sock);
        // The token is the index in `conns` (failed connects are skipped).
        let _ = i;
        if let Err(e) = poll.registry().register(
            &mut sock,
            Token(conns.len()),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            errs.push(format!("poll register: {e}"));
            continue;
        }
        conns.push(BConn {
            sock,
            conn,
            inflight: HashMap::with_capacity_and_hasher(m * 2, Default::default()),
            wbuf: Vec::with_capacity(WBUF_CAP),
            wpos: 0,
            dead: false,
            #[cfg(feature = "tls")]
            tls,
            #[cfg(feature = "tls")]
            plain: Vec::new(),
        });
    }
    let mut rbuf = vec![0u8; READ_BUF];
    let mut events = Events::with_capacity(1024);
    let mut pending_done = 0u64;
    // Fill every connection's M slots.
    for bc in conns.iter_mut() {
        fill(bc, m, &head, &shared, &mut c, Instant::now());
        if let Err(e) = flush(bc) {
            kill(bc, e, &mut c, &mut errs);
        }
    }
    let grace = Duration::from_secs(2);
    loop {
        let now = Instant::now();
        if let Some(d) = deadline {
            if now >= d {
                shared.stop.store(true, Ordering::Relaxed);
            }
            if now >= d + grace {
                break;
            }
        }
        if conns.iter().all(|b| b.dead) {
            break;
        }
        if conns.iter().all(|b| b.dead || b.inflight.is_empty())
            && (shared.stop.load(Ordering::Relaxed)
                || shared.remaining.load(Ordering::Acquire) == 0)
        {
            break;
        }
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_millis(100))) {
            if e.kind() != io::ErrorKind::Interrupted {
                errs.push(format!("poll: {e}"));
                break;
            }
        }
        let now = Instant::now();
        for ev in events.iter() {
            let Some(bc) = conns.get_mut(ev.token().0) else {
                continue;
            };
            if bc.dead {
                continue;
            }
            let read_err = if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                read(bc, &mut rbuf, &mut c).err()
            } else {
                None
            };
            // Responses that arrived before a read error still count.
            drain(
                now,
                bc,
                m,
                &head,
                &shared,
                &mut c,
                &mut hist,
                &mut pending_done,
            );
            if let Some(e) = read_err {
                kill(bc, e, &mut c, &mut errs);
                continue;
            }
            if let Err(e) = flush(bc) {
                kill(bc, e, &mut c, &mut errs);
            }
        }
        if pending_done >= 64 {
            shared.done.fetch_add(pending_done, Ordering::Relaxed);
            pending_done = 0;
        }
    }
    shared.done.fetch_add(pending_done, Ordering::Relaxed);
    for bc in conns.iter_mut().filter(|b| !b.dead) {
        bc.conn.shutdown(ErrorCode::NO_ERROR);
        let _ = flush(bc);
    }
    (c, hist, errs)
}

/// Starts requests until the connection has `m` in flight or the budget is spent.
fn fill(
    bc: &mut BConn,
    m: usize,
    head: &http::Request<()>,
    shared: &Shared,
    c: &mut Counts,
    now: Instant,
) {
    while bc.inflight.len() < m && !bc.dead && bc.conn.is_accepting_streams() {
        if (bc.inflight.len() as u32) >= bc.conn.peer_max_concurrent_streams() {
            return;
        }
        if !shared.take() {
            return;
        }
        match bc.conn.send_request(head.clone(), true) {
            Ok(id) => {
                bc.inflight.insert(
                    id,
                    Slot {
                        start: now,
                        ok: false,
                    },
                );
                c.started += 1;
            }
            Err(_) => {
                // Give the request back; this connection cannot take it now.
                shared.remaining.fetch_add(1, Ordering::AcqRel);
                return;
            }
        }
    }
}

fn read(bc: &mut BConn, rbuf: &mut [u8], c: &mut Counts) -> Result<(), String> {
    loop {
        match bc.sock.read(rbuf) {
            Ok(0) => return Err("connection closed by the server".into()),
            Ok(n) => {
                c.bytes_in += n as u64;
                #[cfg(feature = "tls")]
                if let Some(t) = bc.tls.as_mut() {
                    let plain = t.recv(&rbuf[..n], &mut bc.wbuf).map_err(|e| match e {
                        super::tls_io::RecvError::Tls(e) => e.to_string(),
                    })?;
                    if !plain.is_empty() {
                        bc.conn
                            .recv(NO_CLOCK, plain)
                            .map_err(|e| format!("HTTP/2 protocol error: {e}"))?;
                    }
                    if n < rbuf.len() {
                        return Ok(());
                    }
                    continue;
                }
                bc.conn
                    .recv(NO_CLOCK, &rbuf[..n])
                    .map_err(|e| format!("HTTP/2 protocol error: {e}"))?;
                if n < rbuf.len() {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read failed: {e}")),
        }
    }
}

/// Handles events, records finished requests and refills the slots. `now` is
/// the loop turn's clock (one clock read per turn, not per request).
#[allow(clippy::too_many_arguments)]
fn drain(
    now: Instant,
    bc: &mut BConn,
    m: usize,
    head: &http::Request<()>,
    shared: &Shared,
    c: &mut Counts,
    hist: &mut Histogram<u64>,
    pending_done: &mut u64,
) {
    loop {
        while let Some(ev) = bc.conn.poll_event() {
            match ev {
                Event::Response {
                    stream_id,
                    response,
                    ..
                } => {
                    let s = response.status().as_u16();
                    if s >= 200 {
                        let class = (s / 100) as usize;
                        if (2..=5).contains(&class) {
                            c.status[class - 2] += 1;
                        }
                        if let Some(slot) = bc.inflight.get_mut(&stream_id) {
                            slot.ok = (200..400).contains(&s);
                        }
                    }
                }
                Event::Data { data, .. } => c.data_bytes += data.len() as u64,
                Event::Closed { stream_id } => {
                    if let Some(slot) = bc.inflight.remove(&stream_id) {
                        c.done += 1;
                        *pending_done += 1;
                        let us = now.saturating_duration_since(slot.start).as_micros() as u64;
                        let _ = hist.record(us.max(1));
                        if slot.ok {
                            c.succeeded += 1;
                        } else {
                            c.failed += 1;
                        }
                    }
                }
                Event::Reset { stream_id, .. } if bc.inflight.remove(&stream_id).is_some() => {
                    c.done += 1;
                    *pending_done += 1;
                    c.failed += 1;
                    c.errored += 1;
                }
                _ => {}
            }
        }
        let before = bc.inflight.len();
        fill(bc, m, head, shared, c, now);
        if bc.inflight.len() == before {
            return;
        }
    }
}

fn flush(bc: &mut BConn) -> Result<(), String> {
    loop {
        if bc.wpos == bc.wbuf.len() {
            bc.wbuf.clear();
            bc.wpos = 0;
            #[cfg(feature = "tls")]
            if let Some(t) = bc.tls.as_mut() {
                bc.plain.clear();
                bc.conn.write_to(NO_CLOCK, &mut bc.plain, WRITE_CHUNK);
                t.encrypt(&bc.plain, &mut bc.wbuf);
                if bc.wbuf.is_empty() {
                    return Ok(());
                }
            } else if bc.conn.write_to(NO_CLOCK, &mut bc.wbuf, WRITE_CHUNK) == 0 {
                return Ok(());
            }
            #[cfg(not(feature = "tls"))]
            if bc.conn.write_to(NO_CLOCK, &mut bc.wbuf, WRITE_CHUNK) == 0 {
                return Ok(());
            }
        }
        match bc.sock.write(&bc.wbuf[bc.wpos..]) {
            Ok(0) => return Err("write failed: connection closed".into()),
            Ok(n) => bc.wpos += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
            Err(e) => return Err(format!("write failed: {e}")),
        }
    }
}

/// The TLS handshake of one bench connection (blocking, at connect time)
/// and the ALPN check; the server's early bytes go to `conn`.
#[cfg(feature = "tls")]
fn bench_tls(
    sock: &mut std::net::TcpStream,
    ctx: &crate::tls::ClientTls,
    host: &str,
    conn: &mut Connection,
    c: &mut Counts,
) -> Result<Box<super::tls_io::TlsIo>, String> {
    use super::tls_io::{self, HandshakeError, Route};
    let mut t = tls_io::client_handshake(sock, ctx, host, Instant::now() + CONNECT_TIMEOUT)
        .map_err(|e| match e {
            HandshakeError::Tls(e) => e.to_string(),
            HandshakeError::Io(e) => format!("TLS handshake: {e}"),
            HandshakeError::Timeout => "TLS handshake timed out".into(),
        })?;
    let _ = sock.set_read_timeout(None);
    if tls_io::client_protocol(t.pipe()) != Route::H2 {
        let p = t
            .pipe()
            .alpn()
            .map_or("no ALPN".to_string(), |p| p.to_string());
        return Err(format!("TLS: the server chose {p}, not h2"));
    }
    if t.pipe().is_resumed() {
        c.tls_resumed += 1;
    } else {
        c.tls_full += 1;
    }
    let early = t.take_early(Route::H2);
    if !early.is_empty() {
        conn.recv(NO_CLOCK, &early)
            .map_err(|e| format!("HTTP/2 protocol error: {e}"))?;
    }
    Ok(Box::new(t))
}

/// A connection failed: its requests in flight are errored.
fn kill(bc: &mut BConn, e: String, c: &mut Counts, errs: &mut Vec<String>) {
    if bc.dead {
        return;
    }
    bc.dead = true;
    let n = bc.inflight.len() as u64;
    bc.inflight.clear();
    c.done += n;
    c.failed += n;
    c.errored += n;
    errs.push(e);
}

/// The files of the embedded server's document root.
pub const EMBEDDED_FILES: &[(&str, usize)] = &[
    ("small", 12),
    ("1k", 1 << 10),
    ("64k", 64 << 10),
    ("1m", 1 << 20),
];

/// A generated document root, removed on drop.
#[derive(Debug)]
pub struct BenchRoot(pub PathBuf);

impl BenchRoot {
    /// Creates a temp dir with [`EMBEDDED_FILES`].
    pub fn create() -> io::Result<BenchRoot> {
        let dir = std::env::temp_dir().join(format!("h2o-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let root = BenchRoot(dir);
        for (name, len) in EMBEDDED_FILES {
            let body: Vec<u8> = if *len == 12 {
                b"hello world\n".to_vec()
            } else {
                (0..*len).map(|i| b'a' + (i % 26) as u8).collect()
            };
            std::fs::write(root.0.join(name), body)?;
        }
        Ok(root)
    }
}

impl Drop for BenchRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the embedded server (`h2o::net::server::serve` on a thread) on a free
/// loopback port over a generated [`BenchRoot`]; returns its address and root.
pub fn start_embedded() -> Result<(SocketAddr, BenchRoot), String> {
    let root = BenchRoot::create().map_err(|e| format!("cannot create bench files: {e}"))?;
    let doc = super::files::DocRoot::new(&root.0).map_err(|e| format!("bench root: {e}"))?;
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot listen on loopback: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("h2o-bench-server".into())
        .spawn(move || {
            if let Err(e) = super::server::serve(listener, doc) {
                eprintln!("embedded server: {e}");
            }
        })
        .map_err(|e| format!("cannot start server thread: {e}"))?;
    Ok((addr, root))
}
