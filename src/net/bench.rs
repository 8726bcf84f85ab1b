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
//! With [`BenchConfig::rate`] the load is open-loop instead (as wrk2): each
//! thread starts requests on a fixed schedule (its share of the total rate)
//! whether or not earlier ones finished, using free stream slots; a request
//! whose slot is not free yet waits, and its latency is counted from its
//! intended start (coordinated-omission corrected) as well as from the moment
//! it was sent (uncorrected).
//!
//! Reports: the h2load-style text ([`BenchReport`]'s `Display`), a live view
//! on a terminal ([`live`]), JSON ([`report`]) and a self-contained HTML page
//! with SVG charts ([`html`]).
//!
//! [`start_embedded`] starts `h2o::net::server::serve` on a loopback port over a
//! generated directory (`/small` 12 B, `/1k`, `/64k`, `/1m`) and loads it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token};

use crate::conn::{Config, Connection, Event};
use crate::error::ErrorCode;
use crate::frame::StreamId;

use super::client::Url;
use super::{tcp, READ_BUF, WBUF_CAP, WRITE_CHUNK};

pub mod html;
pub mod live;
pub mod report;

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
    /// Show the live view on stderr while running (callers pass "on a
    /// terminal and not `--no-tui`").
    pub progress: bool,
    /// Open-loop mode: start this many requests per second in total (spread
    /// over the threads by their share of connections), latency measured from
    /// each request's intended start. `None`: closed loop (each finished
    /// request starts the next).
    pub rate: Option<f64>,
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
            rate: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// One second of the run (from the start of the load): requests that ended in
/// it, and how many of those failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Second {
    /// Requests ended (response or error).
    pub done: u64,
    /// Of those, not 2xx/3xx or without a complete response.
    pub failed: u64,
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
    /// Request latencies in microseconds (open loop: from each request's
    /// intended start, coordinated-omission corrected).
    pub latency: Histogram<u64>,
    /// Open loop only: latencies from the moment each request was sent.
    pub latency_uncorrected: Option<Histogram<u64>>,
    /// TLS handshakes (full, resumed); `None` for h2c.
    pub tls_handshakes: Option<(u64, u64)>,
    /// Throughput series: one entry per second of the run.
    pub series: Vec<Second>,
    /// Connection setup times in microseconds (TCP connect, plus the TLS
    /// handshake for `https://`), one value per connection established.
    pub connect_times: Histogram<u64>,
    /// Errors by kind: `connect`, `tls`, `protocol`, `io`, `closed`, `setup`
    /// (connections lost) and `stream_reset` (streams reset by the server).
    pub errors: BTreeMap<&'static str, u64>,
    /// The configuration that ran.
    pub config: BenchConfig,
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

/// One text line of a latency histogram's summary (`latency: min …`).
fn fmt_latency(f: &mut fmt::Formatter<'_>, label: &str, h: &Histogram<u64>) -> fmt::Result {
    if h.is_empty() {
        writeln!(f, "{label}: no completed requests")
    } else {
        writeln!(
            f,
            "{label}: min {}, mean {}, p50 {}, p90 {}, p99 {}, max {}",
            fmt_us(h.min() as f64),
            fmt_us(h.mean()),
            fmt_us(h.value_at_quantile(0.5) as f64),
            fmt_us(h.value_at_quantile(0.9) as f64),
            fmt_us(h.value_at_quantile(0.99) as f64),
            fmt_us(h.max() as f64)
        )
    }
}

impl BenchReport {
    /// One line saying which mode ran.
    pub fn mode_line(&self) -> String {
        match self.config.rate {
            Some(r) => format!(
                "open loop at {r} req/s (latency from each request's intended start, \
                 coordinated-omission corrected; uncorrected from its send)"
            ),
            None => format!(
                "closed loop ({} connections x {} streams, each response starts the next request)",
                self.config.connections.max(1),
                self.config.streams.max(1)
            ),
        }
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
        writeln!(f, "mode: {}", self.mode_line())?;
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
        fmt_latency(f, "latency", &self.latency)?;
        if let Some(h) = &self.latency_uncorrected {
            fmt_latency(f, "latency (uncorrected)", h)?;
        }
        let ct = &self.connect_times;
        if !ct.is_empty() {
            writeln!(
                f,
                "time for connect: min {}, mean {}, max {} ({} connections)",
                fmt_us(ct.min() as f64),
                fmt_us(ct.mean()),
                fmt_us(ct.max() as f64),
                ct.len()
            )?;
        }
        if !self.errors.is_empty() {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            writeln!(f, "errors: {}", list.join(", "))?;
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

/// How often a worker publishes its counts and latencies for the live view.
const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// Shared between the worker threads.
struct Shared {
    /// Requests not started yet.
    remaining: AtomicU64,
    /// Ended requests (live view), updated in batches.
    done: AtomicU64,
    /// Failed requests (live view), updated in batches.
    failed: AtomicU64,
    /// Stop starting requests.
    stop: AtomicBool,
    /// Live view only: each worker's latency histogram so far, refreshed every
    /// [`PUBLISH_EVERY`] (a copy under a lock the worker takes a few times a
    /// second, never per request).
    live: Option<Vec<Mutex<Option<Histogram<u64>>>>>,
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
    resets: u64,
    status: [u64; 4],
    bytes_in: u64,
    data_bytes: u64,
    tls_full: u64,
    tls_resumed: u64,
}

/// What one worker measures: counts, latencies, the per-second series.
struct Tally {
    c: Counts,
    /// Latency from the request's start (open loop: its intended start).
    hist: Histogram<u64>,
    /// Open loop only: latency from the moment the request was sent.
    unc: Option<Histogram<u64>>,
    series: Vec<Second>,
    /// Start of the load (second 0 of `series`).
    t0: Instant,
    /// Index in `series` of the current loop turn.
    sec: usize,
    /// Not yet added to [`Shared::done`] / [`Shared::failed`].
    pending_done: u64,
    pending_failed: u64,
}

impl Tally {
    /// Sets the loop turn's second (one clock subtraction per turn).
    fn turn(&mut self, now: Instant) {
        self.sec = now.saturating_duration_since(self.t0).as_secs() as usize;
        if self.series.len() <= self.sec {
            self.series.resize(self.sec + 1, Second::default());
        }
    }

    /// A request ended: a complete response (`ok`: 2xx/3xx) or an error.
    fn ended(&mut self, ok: bool) {
        self.c.done += 1;
        self.pending_done += 1;
        let s = &mut self.series[self.sec];
        s.done += 1;
        if ok {
            self.c.succeeded += 1;
        } else {
            self.c.failed += 1;
            self.pending_failed += 1;
            s.failed += 1;
        }
    }

    /// Adds the batched counts to the shared ones.
    fn publish(&mut self, shared: &Shared) {
        shared.done.fetch_add(self.pending_done, Ordering::Relaxed);
        shared
            .failed
            .fetch_add(self.pending_failed, Ordering::Relaxed);
        self.pending_done = 0;
        self.pending_failed = 0;
    }
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

/// A request in flight: start time (closed loop: the loop-turn clock; open
/// loop: the intended start), the time it was sent, and "final status 2xx/3xx".
struct Slot {
    start: Instant,
    sent: Instant,
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

impl BConn {
    /// True when a new request can start on this connection now.
    fn has_slot(&self, m: usize) -> bool {
        !self.dead
            && self.inflight.len() < m
            && self.conn.is_accepting_streams()
            && (self.inflight.len() as u32) < self.conn.peer_max_concurrent_streams()
    }
}

/// Where a worker's connections go: addresses, and for `https://` the TLS
/// context and server name.
#[derive(Clone)]
struct Target {
    addrs: Vec<SocketAddr>,
    #[cfg(feature = "tls")]
    tls: Option<(Arc<crate::tls::ClientTls>, String)>,
}

/// The open-loop schedule of one worker: the k-th request is due at
/// `t0 + k * interval`.
struct Schedule {
    t0: Instant,
    interval_ns: u64,
    next: u64,
    /// No more requests to start (budget spent or past the deadline).
    over: bool,
}

impl Schedule {
    fn due(&self) -> Instant {
        self.t0 + Duration::from_nanos(self.interval_ns.saturating_mul(self.next))
    }
}

/// The token of the open-loop schedule's [`Ticker`] waker.
const TICK: Token = Token(usize::MAX);

/// Wakes an open-loop worker's poll at each scheduled start. epoll's timeout
/// has millisecond resolution (mio rounds it up), which would make every
/// start up to 1 ms late and inflate the corrected latencies; this thread's
/// `sleep` is precise to tens of microseconds.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Ticker {
    fn start(poll: &Poll, t0: Instant, interval_ns: u64) -> io::Result<Ticker> {
        let waker = mio::Waker::new(poll.registry(), TICK)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("h2o-bench-tick".into())
            .spawn(move || {
                let interval = interval_ns.max(1);
                let mut k = 0u64;
                while !flag.load(Ordering::Relaxed) {
                    let due = t0 + Duration::from_nanos(interval.saturating_mul(k));
                    let now = Instant::now();
                    if due > now {
                        // Short naps so that a stop is seen within 50 ms.
                        std::thread::sleep((due - now).min(Duration::from_millis(50)));
                        continue;
                    }
                    let _ = waker.wake();
                    // The next start after now (starts that are already due
                    // are the worker's to catch up with, one wake suffices).
                    let since = Instant::now().saturating_duration_since(t0).as_nanos();
                    k = (since / u128::from(interval)) as u64 + 1;
                }
            })?;
        Ok(Ticker { stop, thread })
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// What a worker hands back.
struct WorkerResult {
    tally: Tally,
    connect: Histogram<u64>,
    errs: Vec<(&'static str, String)>,
}

/// The kind of a connection-level error message (see [`BenchReport::errors`]).
fn error_kind(msg: &str) -> &'static str {
    if msg.starts_with("HTTP/2 protocol error") {
        "protocol"
    } else if msg.starts_with("connection closed") {
        "closed"
    } else if msg.starts_with("TLS") {
        "tls"
    } else {
        "io"
    }
}

/// Runs the load and returns the report (errors: bad URL, nothing reachable,
/// a bad `--rate`).
pub fn run(cfg: &BenchConfig) -> Result<BenchReport, String> {
    if let Some(r) = cfg.rate {
        // Bounded so that the interval between starts is a valid Duration.
        if !(0.01..=1e9).contains(&r) {
            return Err("--rate must be a number of requests per second from 0.01 to 1e9".into());
        }
    }
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
        failed: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        live: cfg
            .progress
            .then(|| (0..threads).map(|_| Mutex::new(None)).collect()),
    });
    let start = Instant::now();
    let deadline = cfg.duration.map(|d| start + d);
    let mut handles = Vec::new();
    for t in 0..threads {
        let n = (0..conns).filter(|i| i % threads == t).count();
        // This thread's share of the rate; threads are phase-shifted so their
        // starts interleave.
        let pace = cfg.rate.map(|r| {
            let interval = (1e9 * conns as f64 / (r * n as f64)) as u64;
            (interval, interval * t as u64 / threads as u64)
        });
        let shared = Arc::clone(&shared);
        let head = head.clone();
        let target = target.clone();
        handles.push(
            std::thread::Builder::new()
                .name(format!("h2o-bench-{t}"))
                .spawn(move || {
                    let w = Worker {
                        index: t,
                        target: &target,
                        n,
                        m: streams,
                        head,
                        shared,
                        deadline,
                        pace,
                    };
                    w.run()
                })
                .map_err(|e| format!("cannot start thread: {e}"))?,
        );
    }
    let mut view = cfg.progress.then(|| live::Live::new(cfg, start));
    let mut scratch = new_hist();
    let tick = if view.is_some() {
        live::REFRESH
    } else {
        Duration::from_millis(5)
    };
    while !handles.iter().all(|h| h.is_finished()) {
        if let (Some(v), Some(hists)) = (view.as_mut(), shared.live.as_ref()) {
            scratch.reset();
            for h in hists {
                if let Some(h) = h.lock().ok().as_ref().and_then(|g| g.as_ref()) {
                    let _ = scratch.add(h);
                }
            }
            v.update(
                shared.done.load(Ordering::Relaxed),
                shared.failed.load(Ordering::Relaxed),
                &scratch,
            );
        }
        std::thread::sleep(tick);
    }
    let mut results = Vec::new();
    for h in handles {
        results.push(h.join().map_err(|_| "bench thread panicked".to_string())?);
    }
    let elapsed = start.elapsed();
    if let Some(v) = view {
        v.finish();
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
        latency_uncorrected: cfg.rate.map(|_| new_hist()),
        tls_handshakes: https.then_some((0, 0)),
        series: Vec::new(),
        connect_times: new_hist(),
        errors: BTreeMap::new(),
        config: cfg.clone(),
    };
    for r in results {
        let c = &r.tally.c;
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
        if c.resets > 0 {
            *rep.errors.entry("stream_reset").or_default() += c.resets;
        }
        let _ = rep.latency.add(&r.tally.hist);
        if let (Some(all), Some(h)) = (rep.latency_uncorrected.as_mut(), &r.tally.unc) {
            let _ = all.add(h);
        }
        if rep.series.len() < r.tally.series.len() {
            rep.series.resize(r.tally.series.len(), Second::default());
        }
        for (all, s) in rep.series.iter_mut().zip(&r.tally.series) {
            all.done += s.done;
            all.failed += s.failed;
        }
        let _ = rep.connect_times.add(&r.connect);
        for (kind, msg) in r.errs {
            *rep.errors.entry(kind).or_default() += 1;
            rep.conn_errors.push(msg);
        }
    }
    rep.conn_errors.sort();
    rep.conn_errors.dedup();
    Ok(rep)
}

/// One worker thread's parameters.
struct Worker<'a> {
    /// Thread index (its slot in [`Shared::live`]).
    index: usize,
    target: &'a Target,
    /// Connections.
    n: usize,
    /// Streams per connection.
    m: usize,
    head: http::Request<()>,
    shared: Arc<Shared>,
    deadline: Option<Instant>,
    /// Open loop: interval between this thread's starts, and its phase
    /// (nanoseconds).
    pace: Option<(u64, u64)>,
}

impl Worker<'_> {
    fn run(self) -> WorkerResult {
        let Worker {
            index,
            target,
            n,
            m,
            head,
            shared,
            deadline,
            pace,
        } = self;
        let mut t = Tally {
            c: Counts::default(),
            hist: new_hist(),
            unc: pace.map(|_| new_hist()),
            series: vec![Second::default()],
            t0: Instant::now(),
            sec: 0,
            pending_done: 0,
            pending_failed: 0,
        };
        let mut connect = new_hist();
        let mut errs: Vec<(&'static str, String)> = Vec::new();
        let mut poll = match Poll::new() {
            Ok(p) => p,
            Err(e) => {
                errs.push(("setup", format!("poll: {e}")));
                return WorkerResult {
                    tally: t,
                    connect,
                    errs,
                };
            }
        };
        let h2 = Config::default();
        let mut conns: Vec<BConn> = Vec::with_capacity(n);
        for _ in 0..n {
            let began = Instant::now();
            #[allow(unused_mut)]
            let mut sock = match tcp::connect_addrs(&target.addrs, Instant::now() + CONNECT_TIMEOUT)
            {
                Ok(s) => s,
                Err(e) => {
                    errs.push(("connect", e.to_string()));
                    continue;
                }
            };
            #[allow(unused_mut)]
            let mut conn = Connection::client(h2.clone());
            #[cfg(feature = "tls")]
            let tls = match &target.tls {
                Some((ctx, host)) => match bench_tls(&mut sock, ctx, host, &mut conn, &mut t.c) {
                    Ok(tls) => Some(tls),
                    Err(e) => {
                        errs.push(("tls", e));
                        continue;
                    }
                },
                None => None,
            };
            let _ = connect.record((began.elapsed().as_micros() as u64).max(1));
            if let Err(e) = sock.set_nonblocking(true) {
                errs.push(("setup", format!("socket setup: {e}")));
                continue;
            }
            let mut sock = mio::net::TcpStream::from_std(sock);
            // The token is the index in `conns` (failed connects are skipped).
            if let Err(e) = poll.registry().register(
                &mut sock,
                Token(conns.len()),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                errs.push(("setup", format!("poll register: {e}")));
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
        // Second 0 of the series and of the schedule: the load starts now.
        t.t0 = Instant::now();
        let mut sched = pace.map(|(interval_ns, phase)| Schedule {
            t0: t.t0 + Duration::from_nanos(phase),
            interval_ns,
            next: 0,
            over: false,
        });
        // Without the ticker (no waker), the poll timeout still paces the
        // starts, at millisecond resolution.
        let ticker = sched
            .as_ref()
            .and_then(|s| Ticker::start(&poll, s.t0, s.interval_ns).ok());
        let mut rr = 0usize;
        let closed = sched.is_none();
        if closed {
            // Fill every connection's M slots.
            for bc in conns.iter_mut() {
                fill(bc, m, &head, &shared, &mut t.c, Instant::now());
                if let Err(e) = flush(bc) {
                    kill(bc, e, &mut t, &mut errs);
                }
            }
        }
        let mut next_publish = t.t0 + PUBLISH_EVERY;
        let grace = Duration::from_secs(2);
        let mut timeout = Duration::from_millis(100);
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
            let no_more = shared.stop.load(Ordering::Relaxed)
                || shared.remaining.load(Ordering::Acquire) == 0
                || sched.as_ref().is_some_and(|s| s.over && deadline.is_none());
            if no_more && conns.iter().all(|b| b.dead || b.inflight.is_empty()) {
                break;
            }
            if let Err(e) = poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    errs.push(("setup", format!("poll: {e}")));
                    break;
                }
            }
            let now = Instant::now();
            t.turn(now);
            for ev in events.iter() {
                let Some(bc) = conns.get_mut(ev.token().0) else {
                    continue;
                };
                if bc.dead {
                    continue;
                }
                let read_err = if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    read(bc, &mut rbuf, &mut t.c).err()
                } else {
                    None
                };
                // Responses that arrived before a read error still count.
                drain(now, bc, m, &head, &shared, &mut t, closed);
                if let Some(e) = read_err {
                    kill(bc, e, &mut t, &mut errs);
                    continue;
                }
                if let Err(e) = flush(bc) {
                    kill(bc, e, &mut t, &mut errs);
                }
            }
            if let Some(s) = sched.as_mut() {
                let blocked = start_due(
                    s, &mut conns, &mut rr, m, &head, &shared, &mut t.c, deadline,
                );
                for bc in conns.iter_mut() {
                    if !bc.dead && (bc.wpos < bc.wbuf.len() || bc.conn.wants_write()) {
                        if let Err(e) = flush(bc) {
                            kill(bc, e, &mut t, &mut errs);
                        }
                    }
                }
                // Wake up for the next start unless waiting for a free slot.
                timeout = if blocked || s.over {
                    Duration::from_millis(100)
                } else {
                    s.due()
                        .saturating_duration_since(Instant::now())
                        .min(Duration::from_millis(100))
                };
            }
            if t.pending_done >= 64 || now >= next_publish {
                t.publish(&shared);
            }
            if now >= next_publish {
                next_publish = now + PUBLISH_EVERY;
                if let Some(slot) = shared.live.as_ref().and_then(|l| l.get(index)) {
                    if let Ok(mut g) = slot.lock() {
                        match g.as_mut() {
                            Some(h) => {
                                let _ = h.set_to(&t.hist);
                            }
                            None => *g = Some(t.hist.clone()),
                        }
                    }
                }
            }
        }
        t.publish(&shared);
        if let Some(tk) = ticker {
            tk.stop();
        }
        for bc in conns.iter_mut().filter(|b| !b.dead) {
            bc.conn.shutdown(ErrorCode::NO_ERROR);
            let _ = flush(bc);
        }
        WorkerResult {
            tally: t,
            connect,
            errs,
        }
    }
}

/// Open loop: starts the requests that are due, each on the next connection
/// (round robin from `rr`) with a free slot. Returns true when a due request
/// is waiting for a slot.
#[allow(clippy::too_many_arguments)]
fn start_due(
    s: &mut Schedule,
    conns: &mut [BConn],
    rr: &mut usize,
    m: usize,
    head: &http::Request<()>,
    shared: &Shared,
    c: &mut Counts,
    deadline: Option<Instant>,
) -> bool {
    let now = Instant::now();
    while !s.over {
        let due = s.due();
        if due > now {
            return false;
        }
        if deadline.is_some_and(|d| due >= d) || shared.stop.load(Ordering::Relaxed) {
            s.over = true;
            return false;
        }
        let n = conns.len();
        let Some(j) = (0..n)
            .map(|i| (*rr + i) % n)
            .find(|&j| conns[j].has_slot(m))
        else {
            return true;
        };
        if !shared.take() {
            s.over = true;
            return false;
        }
        let bc = &mut conns[j];
        match bc.conn.send_request(head.clone(), true) {
            Ok(id) => {
                bc.inflight.insert(
                    id,
                    Slot {
                        start: due,
                        sent: now,
                        ok: false,
                    },
                );
                c.started += 1;
                s.next += 1;
                *rr = j + 1;
            }
            Err(_) => {
                // Give the request back; retry on the next turn.
                shared.remaining.fetch_add(1, Ordering::AcqRel);
                return true;
            }
        }
    }
    false
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
                        sent: now,
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

/// Handles events, records finished requests and (closed loop) refills the
/// slots. `now` is the loop turn's clock (one clock read per turn, not per
/// request).
fn drain(
    now: Instant,
    bc: &mut BConn,
    m: usize,
    head: &http::Request<()>,
    shared: &Shared,
    t: &mut Tally,
    closed: bool,
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
                            t.c.status[class - 2] += 1;
                        }
                        if let Some(slot) = bc.inflight.get_mut(&stream_id) {
                            slot.ok = (200..400).contains(&s);
                        }
                    }
                }
                Event::Data { data, .. } => t.c.data_bytes += data.len() as u64,
                Event::Closed { stream_id } => {
                    if let Some(slot) = bc.inflight.remove(&stream_id) {
                        let us = now.saturating_duration_since(slot.start).as_micros() as u64;
                        let _ = t.hist.record(us.max(1));
                        if let Some(h) = t.unc.as_mut() {
                            let us = now.saturating_duration_since(slot.sent).as_micros() as u64;
                            let _ = h.record(us.max(1));
                        }
                        t.ended(slot.ok);
                    }
                }
                Event::Reset { stream_id, .. } if bc.inflight.remove(&stream_id).is_some() => {
                    t.c.errored += 1;
                    t.c.resets += 1;
                    t.ended(false);
                }
                _ => {}
            }
        }
        if !closed {
            return;
        }
        let before = bc.inflight.len();
        fill(bc, m, head, shared, &mut t.c, now);
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
fn kill(bc: &mut BConn, e: String, t: &mut Tally, errs: &mut Vec<(&'static str, String)>) {
    if bc.dead {
        return;
    }
    bc.dead = true;
    let n = bc.inflight.len() as u64;
    bc.inflight.clear();
    t.c.errored += n;
    for _ in 0..n {
        t.ended(false);
    }
    errs.push((error_kind(&e), e));
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
