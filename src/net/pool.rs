//! Pooled, multiplexing HTTP/2 cleartext client ([`Client`]).
//!
//! Owns: connection pooling per origin (scheme, host, port; h2c with prior
//! knowledge, RFC 9113 §3.3), request multiplexing up to the peer's
//! SETTINGS_MAX_CONCURRENT_STREAMS (§5.1.2) and then further connections,
//! connect/request/idle timeouts, PING keepalive (§6.7), retry of requests a
//! GOAWAY reported as unprocessed (§6.8, §8.7) and a per-origin circuit breaker.
//!
//! Design: every connection has a *driver thread* that owns the socket (mio,
//! non-blocking) and the sans-IO [`Connection`]; callers hand it requests
//! through an `mpsc` channel and wake it with a `mio::Waker`; each request gets
//! its answer on its own channel. The pool lock is per origin and only held to
//! pick a connection (never during I/O), so there is no global lock on the hot
//! path. [`Client::send`] returns a [`ResponseHandle`] at once (it blocks only
//! while a new connection's TCP handshake and the server's first SETTINGS are
//! awaited), so one thread can keep many requests in flight.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::conn::{Config, Connection, Event, UserError};
use crate::error::ErrorCode;
use crate::frame::StreamId;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The URL or request cannot be sent (bad URL, `https://`, invalid headers).
    InvalidRequest(String),
    /// No connection: DNS failure, TCP connect error, or a peer that is not an
    /// HTTP/2 (h2c prior knowledge) server.
    Connect(String),
    /// Something took too long; the text says what (connect, request, keepalive).
    Timeout(&'static str),
    /// The server did not process the request (REFUSED_STREAM after a GOAWAY),
    /// again on the retry.
    Refused,
    /// The origin's circuit breaker is open: no connection was attempted.
    CircuitOpen(String),
    /// The server reset the stream with this code.
    Reset(ErrorCode),
    /// The server sent GOAWAY and the request was not retried.
    GoAway {
        /// GOAWAY error code.
        code: ErrorCode,
        /// Highest stream the server may have processed.
        last_stream_id: StreamId,
        /// Debug data (lossy UTF-8).
        debug: String,
    },
    /// The peer broke HTTP/2 (connection error) or we reset the stream after a
    /// stream error.
    Protocol(String),
    /// Socket error or early close.
    Io(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::InvalidRequest(m) | ClientError::Connect(m) | ClientError::Io(m) => {
                f.write_str(m)
            }
            ClientError::Timeout(what) => write!(f, "timed out ({what})"),
            ClientError::Refused => f.write_str(
                "request refused by the server (not processed, REFUSED_STREAM) even after a retry",
            ),
            ClientError::CircuitOpen(origin) => write!(
                f,
                "circuit breaker open for {origin}: too many recent failures, not connecting"
            ),
            ClientError::Reset(code) => write!(f, "stream reset by the server: {code}"),
            ClientError::GoAway {
                code,
                last_stream_id,
                debug,
            } => {
                write!(
                    f,
                    "server sent GOAWAY {code} (last stream {last_stream_id})"
                )?;
                if !debug.is_empty() {
                    write!(f, ": {debug}")?;
                }
                Ok(())
            }
            ClientError::Protocol(m) => write!(f, "HTTP/2 protocol error: {m}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Circuit-breaker settings (per origin).
#[derive(Debug, Clone)]
pub struct BreakerConfig {
    /// Consecutive failed requests that open the breaker.
    pub failure_threshold: u32,
    /// How long an open breaker refuses requests before letting one probe through.
    pub open_interval: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            open_interval: Duration::from_secs(5),
        }
    }
}

/// [`Client`] settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// TCP connect + first server SETTINGS deadline.
    pub connect_timeout: Duration,
    /// Whole-request deadline, from [`Client::send`] to the end of the response.
    pub request_timeout: Duration,
    /// An unused pooled connection is closed after this long.
    pub idle_timeout: Duration,
    /// Send a PING when nothing was received for this long (`None`: no keepalive).
    pub keepalive_interval: Option<Duration>,
    /// A PING not acknowledged within this closes the connection and fails its requests.
    pub keepalive_timeout: Duration,
    /// Most connections opened to one origin.
    pub max_connections_per_origin: usize,
    /// Circuit breaker (`None` disables it).
    pub breaker: Option<BreakerConfig>,
    /// HTTP/2 settings of each connection.
    pub h2: Config,
    /// `user-agent` added by [`Client::get`].
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            keepalive_interval: Some(Duration::from_secs(30)),
            keepalive_timeout: Duration::from_secs(10),
            max_connections_per_origin: 16,
            breaker: Some(BreakerConfig::default()),
            h2: Config::default(),
            user_agent: concat!("h2o/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Trailers of a response, stored in its extensions when the server sent some.
#[derive(Debug, Clone)]
pub struct Trailers(pub http::HeaderMap);

/// Origin key: host and port (the scheme is always `http`).
type OriginKey = (String, u16);

/// A pooling, multiplexing HTTP/2 cleartext client; cheap to clone (shared pool).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("connections_opened", &self.connections_opened())
            .finish()
    }
}

struct Inner {
    cfg: ClientConfig,
    origins: RwLock<HashMap<OriginKey, Arc<Origin>>>,
    opened: AtomicU64,
}

struct Origin {
    name: String,
    host: String,
    port: u16,
    state: Mutex<OriginState>,
    cv: Condvar,
    waiters: AtomicUsize,
}

impl Origin {
    fn notify(&self) {
        let _g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.cv.notify_all();
    }
}

struct OriginState {
    conns: Vec<Arc<ConnShared>>,
    connecting: usize,
    breaker: Breaker,
}

#[derive(Debug, Clone, Copy)]
enum Breaker {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// The caller-visible half of a driven connection.
struct ConnShared {
    tx: Sender<Cmd>,
    waker: Waker,
    in_flight: AtomicUsize,
    max: AtomicU32,
    ready: AtomicBool,
    closed: AtomicBool,
}

struct Cmd {
    head: http::Request<()>,
    body: Bytes,
    reply: Sender<Reply>,
    deadline: Instant,
    progress: Arc<Progress>,
}

enum Reply {
    Done(Result<http::Response<Bytes>, ClientError>),
    /// Not processed by the server (GOAWAY): may be retried once.
    Retry(ClientError),
    /// Never written to the connection: resubmit.
    Unsent,
}

/// Body bytes received so far and the announced `content-length`.
#[derive(Debug, Default)]
struct Progress {
    received: AtomicU64,
    /// `content-length + 1`, 0 when unknown.
    length: AtomicU64,
}

impl Client {
    /// A client with its own (empty) pool.
    pub fn new(cfg: ClientConfig) -> Client {
        Client {
            inner: Arc::new(Inner {
                cfg,
                origins: RwLock::new(HashMap::new()),
                opened: AtomicU64::new(0),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.cfg
    }

    /// TCP connections opened so far (all origins).
    pub fn connections_opened(&self) -> u64 {
        self.inner.opened.load(Ordering::Relaxed)
    }

    /// Live pooled connections to the origin of `url` (`0` for unknown origins).
    pub fn pooled_connections(&self, url: &str) -> usize {
        let Ok(u) = super::client::Url::parse(url) else {
            return 0;
        };
        let map = self.inner.origins.read().unwrap_or_else(|e| e.into_inner());
        map.get(&(u.host, u.port)).map_or(0, |o| {
            let st = o.state.lock().unwrap_or_else(|e| e.into_inner());
            st.conns
                .iter()
                .filter(|c| !c.closed.load(Ordering::Acquire))
                .count()
        })
    }

    /// GET `url` (`http://` only) and wait for the whole response.
    pub fn get(&self, url: &str) -> Result<http::Response<Bytes>, ClientError> {
        self.send(self.get_request(url)?)?.wait()
    }

    /// A GET request for `url` with `user-agent` and `accept: */*`.
    pub fn get_request(&self, url: &str) -> Result<http::Request<Bytes>, ClientError> {
        let u = super::client::Url::parse(url).map_err(|e| ClientError::InvalidRequest(e.0))?;
        http::Request::get(format!("http://{}{}", u.authority, u.path))
            .header("user-agent", self.inner.cfg.user_agent.as_str())
            .header("accept", "*/*")
            .body(Bytes::new())
            .map_err(|e| ClientError::InvalidRequest(format!("invalid request: {e}")))
    }

    /// Sends `req` (absolute `http://` URI) and waits for the whole response.
    pub fn request(&self, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, ClientError> {
        self.send(req)?.wait()
    }

    /// Starts `req` and returns a handle to wait on. Many handles may be in
    /// flight at once; they share pooled connections.
    pub fn send(&self, req: http::Request<Bytes>) -> Result<ResponseHandle, ClientError> {
        let (parts, body) = req.into_parts();
        let uri = &parts.uri;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(ClientError::InvalidRequest(
                    "TLS not supported yet: use an http:// URL (h2c with prior knowledge)".into(),
                ))
            }
            _ => {
                return Err(ClientError::InvalidRequest(format!(
                    "unsupported URI {uri}: expected http://HOST[:PORT]/PATH"
                )))
            }
        }
        let Some(auth) = uri.authority() else {
            return Err(ClientError::InvalidRequest(format!(
                "URI {uri} has no host"
            )));
        };
        let host = auth.host().trim_start_matches('[').trim_end_matches(']');
        let key = (host.to_string(), auth.port_u16().unwrap_or(80));
        let head = http::Request::from_parts(parts, ());
        let origin = self.origin(key);
        let deadline = Instant::now() + self.inner.cfg.request_timeout;
        let probe = self.breaker_check(&origin)?;
        let mut h = ResponseHandle {
            client: self.clone(),
            origin,
            rx: None,
            head,
            body,
            deadline,
            retried: false,
            resubmits: 0,
            probe,
            reported: false,
            progress: Arc::new(Progress::default()),
        };
        match h.dispatch() {
            Ok(()) => Ok(h),
            Err(e) => {
                h.report(false);
                Err(e)
            }
        }
    }

    fn origin(&self, key: OriginKey) -> Arc<Origin> {
        if let Some(o) = self
            .inner
            .origins
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Arc::clone(o);
        }
        let mut map = self
            .inner
            .origins
            .write()
            .unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry(key.clone()).or_insert_with(|| {
            let name = if key.0.contains(':') {
                format!("http://[{}]:{}", key.0, key.1)
            } else {
                format!("http://{}:{}", key.0, key.1)
            };
            Arc::new(Origin {
                name,
                host: key.0,
                port: key.1,
                state: Mutex::new(OriginState {
                    conns: Vec::new(),
                    connecting: 0,
                    breaker: Breaker::Closed { failures: 0 },
                }),
                cv: Condvar::new(),
                waiters: AtomicUsize::new(0),
            })
        }))
    }

    /// `Ok(true)`: this request is the half-open probe.
    fn breaker_check(&self, origin: &Origin) -> Result<bool, ClientError> {
        if self.inner.cfg.breaker.is_none() {
            return Ok(false);
        }
        let mut st = origin.state.lock().unwrap_or_else(|e| e.into_inner());
        match st.breaker {
            Breaker::Closed { .. } => Ok(false),
            Breaker::Open { until } if Instant::now() >= until => {
                st.breaker = Breaker::HalfOpen;
                Ok(true)
            }
            Breaker::Open { .. } | Breaker::HalfOpen => {
                Err(ClientError::CircuitOpen(origin.name.clone()))
            }
        }
    }

    fn breaker_record(&self, origin: &Origin, probe: bool, ok: bool) {
        let Some(bc) = &self.inner.cfg.breaker else {
            return;
        };
        let mut st = origin.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        st.breaker = match (st.breaker, ok) {
            (_, true) if probe => Breaker::Closed { failures: 0 },
            (_, false) if probe => Breaker::Open {
                until: now + bc.open_interval,
            },
            (Breaker::Closed { .. }, true) => Breaker::Closed { failures: 0 },
            (Breaker::Closed { failures }, false) => {
                if failures + 1 >= bc.failure_threshold.max(1) {
                    Breaker::Open {
                        until: now + bc.open_interval,
                    }
                } else {
                    Breaker::Closed {
                        failures: failures + 1,
                    }
                }
            }
            (b, _) => b,
        };
    }

    /// Picks (or opens) a connection with a free stream slot and hands it `cmd`.
    fn route(&self, origin: &Arc<Origin>, cmd: Cmd) -> Result<(), ClientError> {
        let cfg = &self.inner.cfg;
        let mut st = origin.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            st.conns.retain(|c| !c.closed.load(Ordering::Acquire));
            if let Some(c) = st.conns.iter().find(|c| {
                c.ready.load(Ordering::Acquire)
                    && c.in_flight.load(Ordering::Acquire) < c.max.load(Ordering::Acquire) as usize
            }) {
                c.in_flight.fetch_add(1, Ordering::AcqRel);
                let c = Arc::clone(c);
                drop(st);
                return match c.tx.send(cmd) {
                    Ok(()) => {
                        let _ = c.waker.wake();
                        Ok(())
                    }
                    // The driver just exited: its reply sender is dropped with
                    // the command and the handle resubmits.
                    Err(_) => Ok(()),
                };
            }
            let setting_up =
                st.connecting > 0 || st.conns.iter().any(|c| !c.ready.load(Ordering::Acquire));
            if !setting_up && st.conns.len() < cfg.max_connections_per_origin.max(1) {
                st.connecting += 1;
                drop(st);
                let res = self.open(origin, cmd);
                let mut st = origin.state.lock().unwrap_or_else(|e| e.into_inner());
                st.connecting -= 1;
                if let Ok(c) = &res {
                    st.conns.push(Arc::clone(c));
                }
                origin.cv.notify_all();
                return res.map(|_| ());
            }
            let now = Instant::now();
            if now >= cmd.deadline {
                return Err(ClientError::Timeout("waiting for a free connection"));
            }
            origin.waiters.fetch_add(1, Ordering::AcqRel);
            let wait = (cmd.deadline - now).min(Duration::from_millis(20));
            st = origin
                .cv
                .wait_timeout(st, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            origin.waiters.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Opens a TCP connection and starts its driver with `cmd` as first request.
    fn open(&self, origin: &Arc<Origin>, cmd: Cmd) -> Result<Arc<ConnShared>, ClientError> {
        let cfg = &self.inner.cfg;
        let deadline = cmd
            .deadline
            .min(Instant::now() + cfg.connect_timeout.max(Duration::from_millis(1)));
        let sock = connect(&origin.host, origin.port, deadline)?;
        let _ = sock.set_nodelay(true);
        sock.set_nonblocking(true)
            .map_err(|e| ClientError::Io(format!("socket setup failed: {e}")))?;
        let sock = mio::net::TcpStream::from_std(sock);
        let poll = Poll::new().map_err(|e| ClientError::Io(format!("poll: {e}")))?;
        let waker = Waker::new(poll.registry(), WAKE)
            .map_err(|e| ClientError::Io(format!("waker: {e}")))?;
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(ConnShared {
            tx,
            waker,
            in_flight: AtomicUsize::new(1),
            max: AtomicU32::new(1),
            ready: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        });
        let _ = shared.tx.send(cmd);
        self.inner.opened.fetch_add(1, Ordering::Relaxed);
        let driver = Driver {
            conn: Connection::client(cfg.h2.clone()),
            sock,
            poll,
            rx,
            shared: Arc::clone(&shared),
            origin: Arc::clone(origin),
            cfg: cfg.clone(),
            streams: HashMap::new(),
            queued: VecDeque::new(),
            rbuf: vec![0u8; 64 << 10],
            wbuf: Vec::with_capacity(64 << 10),
            wpos: 0,
            start: Instant::now(),
            setup_deadline: deadline,
            last_read: Instant::now(),
            ping_sent: None,
            idle_since: None,
            goaway: None,
            got_bytes: false,
        };
        std::thread::Builder::new()
            .name("h2o-client-conn".into())
            .spawn(move || driver.run())
            .map_err(|e| ClientError::Io(format!("cannot start connection thread: {e}")))?;
        Ok(shared)
    }
}

impl Drop for Inner {
    /// The last [`Client`] clone is gone: pooled connections close once their
    /// streams are done.
    fn drop(&mut self) {
        let map = self.origins.get_mut().unwrap_or_else(|e| e.into_inner());
        for o in map.values() {
            let st = o.state.lock().unwrap_or_else(|e| e.into_inner());
            for c in &st.conns {
                c.closed.store(true, Ordering::Release);
                let _ = c.waker.wake();
            }
        }
    }
}

fn connect(host: &str, port: u16, deadline: Instant) -> Result<StdTcpStream, ClientError> {
    let addrs: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            return Err(ClientError::Connect(format!(
                "cannot resolve host {host:?}: {e}"
            )))
        }
    };
    if addrs.is_empty() {
        return Err(ClientError::Connect(format!(
            "cannot resolve host {host:?}: no addresses"
        )));
    }
    let mut last = None;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match StdTcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                return Err(ClientError::Timeout("connect"))
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    match last {
        Some((addr, e)) => Err(ClientError::Connect(format!(
            "cannot connect to {addr}: {e}"
        ))),
        None => Err(ClientError::Timeout("connect")),
    }
}

/// A request in flight; [`ResponseHandle::wait`] blocks for its response.
///
/// Dropping it abandons the request (its stream still finishes on the connection).
pub struct ResponseHandle {
    client: Client,
    origin: Arc<Origin>,
    rx: Option<Receiver<Reply>>,
    head: http::Request<()>,
    body: Bytes,
    deadline: Instant,
    retried: bool,
    resubmits: u8,
    probe: bool,
    reported: bool,
    progress: Arc<Progress>,
}

impl fmt::Debug for ResponseHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseHandle")
            .field("uri", self.head.uri())
            .finish()
    }
}

impl ResponseHandle {
    fn dispatch(&mut self) -> Result<(), ClientError> {
        let (tx, rx) = mpsc::channel();
        self.rx = Some(rx);
        self.progress.received.store(0, Ordering::Relaxed);
        let cmd = Cmd {
            head: self.head.clone(),
            body: self.body.clone(),
            reply: tx,
            deadline: self.deadline,
            progress: Arc::clone(&self.progress),
        };
        self.client.route(&self.origin, cmd)
    }

    fn report(&mut self, ok: bool) {
        if !self.reported {
            self.reported = true;
            self.client.breaker_record(&self.origin, self.probe, ok);
        }
    }

    /// Body bytes received so far and the response's `content-length`, if known.
    pub fn progress(&self) -> (u64, Option<u64>) {
        let len = self.progress.length.load(Ordering::Relaxed);
        (
            self.progress.received.load(Ordering::Relaxed),
            len.checked_sub(1),
        )
    }

    /// The request's URI.
    pub fn uri(&self) -> &http::Uri {
        self.head.uri()
    }

    /// Waits up to `timeout` for the response: `None` if it is not complete yet.
    pub fn poll(
        &mut self,
        timeout: Duration,
    ) -> Option<Result<http::Response<Bytes>, ClientError>> {
        let end = Instant::now() + timeout;
        loop {
            let Some(rx) = &self.rx else {
                return Some(Err(ClientError::Io("response already taken".into())));
            };
            let now = Instant::now();
            // The driver enforces the deadline; the grace covers a stuck driver.
            let hard = self.deadline + Duration::from_secs(1);
            let until = end.min(hard);
            let reply = match rx.recv_timeout(until.saturating_duration_since(now)) {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout) if Instant::now() >= hard => {
                    Reply::Done(Err(ClientError::Timeout("request")))
                }
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => Reply::Unsent,
            };
            let res = match reply {
                Reply::Done(r) => r,
                Reply::Retry(e) if !self.retried => {
                    self.retried = true;
                    match self.dispatch() {
                        Ok(()) => continue,
                        Err(_) => Err(e),
                    }
                }
                Reply::Retry(ClientError::GoAway { .. }) => Err(ClientError::Refused),
                Reply::Retry(e) => Err(e),
                Reply::Unsent if self.resubmits < 3 => {
                    self.resubmits += 1;
                    match self.dispatch() {
                        Ok(()) => continue,
                        Err(e) => Err(e),
                    }
                }
                Reply::Unsent => Err(ClientError::Io(
                    "connection closed before the request could be sent".into(),
                )),
            };
            self.rx = None;
            self.report(res.is_ok());
            return Some(res);
        }
    }

    /// Blocks until the whole response arrived (or the request failed).
    pub fn wait(mut self) -> Result<http::Response<Bytes>, ClientError> {
        loop {
            if let Some(r) = self.poll(Duration::from_secs(3600)) {
                return r;
            }
        }
    }
}

impl Drop for ResponseHandle {
    fn drop(&mut self) {
        // An abandoned half-open probe counts as failed so the breaker can
        // probe again after its interval.
        if !self.reported && self.probe {
            self.report(false);
        }
    }
}

const SOCK: Token = Token(0);
const WAKE: Token = Token(1);

struct InFlight {
    reply: Sender<Reply>,
    head: Option<http::Response<()>>,
    body: BytesMut,
    trailers: Option<http::HeaderMap>,
    deadline: Instant,
    progress: Arc<Progress>,
}

/// Owns one connection: socket, [`Connection`], requests in flight.
struct Driver {
    conn: Connection,
    sock: mio::net::TcpStream,
    poll: Poll,
    rx: Receiver<Cmd>,
    shared: Arc<ConnShared>,
    origin: Arc<Origin>,
    cfg: ClientConfig,
    streams: HashMap<StreamId, InFlight>,
    /// Requests waiting for a stream slot (the peer lowered its limit).
    queued: VecDeque<Cmd>,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    wpos: usize,
    start: Instant,
    setup_deadline: Instant,
    last_read: Instant,
    ping_sent: Option<Instant>,
    idle_since: Option<Instant>,
    goaway: Option<(StreamId, ErrorCode, String)>,
    got_bytes: bool,
}

impl Driver {
    fn run(mut self) {
        let err = self.drive().err();
        self.finish(err);
    }

    fn drive(&mut self) -> Result<(), ClientError> {
        self.poll
            .registry()
            .register(
                &mut self.sock,
                SOCK,
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| ClientError::Io(format!("poll register: {e}")))?;
        self.conn.handle_timeout(Duration::ZERO);
        let mut events = Events::with_capacity(16);
        loop {
            self.take_commands();
            self.handle_events();
            self.flush()?;
            if self.conn.is_closed() {
                return Ok(());
            }
            let now = Instant::now();
            let wait = self.timers(now)?;
            if self.shared.closed.load(Ordering::Acquire)
                && self.streams.is_empty()
                && self.queued.is_empty()
                && self.goaway.is_none()
            {
                // Idle close: say goodbye, flush, leave.
                self.conn.shutdown(ErrorCode::NO_ERROR);
                let _ = self.flush();
                return Ok(());
            }
            match self.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ClientError::Io(format!("poll: {e}"))),
            }
            let mut readable = false;
            for ev in events.iter() {
                if ev.token() == SOCK && (ev.is_readable() || ev.is_read_closed()) {
                    readable = true;
                }
            }
            if readable {
                // Timestamp what `recv` sees (PING RTTs) with the time of this turn.
                self.conn.handle_timeout(self.start.elapsed());
                if let Err(e) = self.read() {
                    // Deliver what arrived before the close or error.
                    self.handle_events();
                    return Err(e);
                }
            }
            let t = self.start.elapsed();
            self.conn.handle_timeout(t);
        }
    }

    fn read(&mut self) -> Result<(), ClientError> {
        loop {
            match self.sock.read(&mut self.rbuf) {
                Ok(0) => {
                    return Err(if !self.got_bytes {
                        ClientError::Connect(
                            "connection closed by the server without an HTTP/2 response (not an h2c server?)"
                                .into(),
                        )
                    } else if let Some((last, code, debug)) = &self.goaway {
                        ClientError::GoAway {
                            code: *code,
                            last_stream_id: *last,
                            debug: debug.clone(),
                        }
                    } else {
                        ClientError::Io(
                            "connection closed by the server before the response completed".into(),
                        )
                    })
                }
                Ok(n) => {
                    let data = &self.rbuf[..n];
                    if !self.got_bytes && data.starts_with(b"HTTP/") {
                        return Err(ClientError::Connect(
                            "server does not speak HTTP/2 with prior knowledge (got an HTTP/1.x reply)"
                                .into(),
                        ));
                    }
                    self.got_bytes = true;
                    self.last_read = Instant::now();
                    if let Err(e) = self.conn.recv(self.start.elapsed(), data) {
                        // Deliver what arrived before the error first.
                        self.handle_events();
                        let _ = self.flush();
                        return Err(ClientError::Protocol(e.to_string()));
                    }
                    if n < self.rbuf.len() {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if !self.got_bytes => {
                    return Err(ClientError::Connect(format!(
                        "connection failed before the server's first SETTINGS: {e}"
                    )))
                }
                Err(e) => return Err(ClientError::Io(format!("read failed: {e}"))),
            }
        }
    }

    /// Writes queued output; one `write` per batch, the rest on writability.
    fn flush(&mut self) -> Result<(), ClientError> {
        loop {
            if self.wpos == self.wbuf.len() {
                self.wbuf.clear();
                self.wpos = 0;
                if self
                    .conn
                    .write_to(self.start.elapsed(), &mut self.wbuf, 256 << 10)
                    == 0
                {
                    return Ok(());
                }
                // Writing may produce events (SendReady) and free slots.
                self.handle_events();
            }
            match self.sock.write(&self.wbuf[self.wpos..]) {
                Ok(0) => return Err(ClientError::Io("write failed: connection closed".into())),
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(e) if !self.got_bytes => {
                    return Err(ClientError::Connect(format!(
                        "connection failed before the server's first SETTINGS: {e}"
                    )))
                }
                Err(e) => return Err(ClientError::Io(format!("write failed: {e}"))),
            }
        }
    }

    /// Fires expired timers and returns how long to sleep.
    fn timers(&mut self, now: Instant) -> Result<Duration, ClientError> {
        let mut next = now + Duration::from_secs(3600);
        if !self.shared.ready.load(Ordering::Relaxed) {
            if now >= self.setup_deadline {
                return Err(ClientError::Timeout("connect: no SETTINGS from the server"));
            }
            next = next.min(self.setup_deadline);
        }
        // Request deadlines.
        let mut expired = Vec::new();
        for (&id, s) in &self.streams {
            if now >= s.deadline {
                expired.push(id);
            } else {
                next = next.min(s.deadline);
            }
        }
        for id in expired {
            let _ = self.conn.reset(id, ErrorCode::CANCEL);
            self.fail(id, ClientError::Timeout("request"));
        }
        let mut i = 0;
        while i < self.queued.len() {
            if now >= self.queued[i].deadline {
                if let Some(c) = self.queued.remove(i) {
                    let _ = c
                        .reply
                        .send(Reply::Done(Err(ClientError::Timeout("request"))));
                    self.release_slot();
                }
            } else {
                next = next.min(self.queued[i].deadline);
                i += 1;
            }
        }
        // Keepalive.
        if let Some(iv) = self.cfg.keepalive_interval {
            match self.ping_sent {
                Some(t) if now >= t + self.cfg.keepalive_timeout => {
                    return Err(ClientError::Timeout("keepalive PING not acknowledged"));
                }
                Some(t) => next = next.min(t + self.cfg.keepalive_timeout),
                None if now >= self.last_read + iv => {
                    self.conn.ping(*b"h2o-keep");
                    self.ping_sent = Some(now);
                    self.flush()?;
                    next = next.min(now + self.cfg.keepalive_timeout);
                }
                None => next = next.min(self.last_read + iv),
            }
        }
        // Idle close.
        if self.shared.in_flight.load(Ordering::Acquire) == 0 && self.streams.is_empty() {
            let since = *self.idle_since.get_or_insert(now);
            if now >= since + self.cfg.idle_timeout {
                self.shared.closed.store(true, Ordering::Release);
                // Commands sent before the flag was seen are answered Unsent.
                self.take_commands();
            } else {
                next = next.min(since + self.cfg.idle_timeout);
            }
        } else {
            self.idle_since = None;
        }
        if let Some(t) = self.conn.poll_timeout() {
            next = next.min(self.start + t);
        }
        Ok(next
            .saturating_duration_since(now)
            .max(Duration::from_millis(1)))
    }

    fn take_commands(&mut self) {
        loop {
            match self.rx.try_recv() {
                Ok(cmd) => self.start_request(cmd),
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => return,
            }
        }
    }

    fn start_request(&mut self, cmd: Cmd) {
        if self.shared.closed.load(Ordering::Acquire) || !self.conn.is_accepting_streams() {
            let _ = cmd.reply.send(Reply::Unsent);
            self.release_slot();
            return;
        }
        if !self.queued.is_empty() {
            self.queued.push_back(cmd);
            return;
        }
        self.open_stream(cmd);
    }

    fn open_stream(&mut self, cmd: Cmd) {
        let end = cmd.body.is_empty();
        match self.conn.send_request(cmd.head.clone(), end) {
            Ok(id) => {
                if !end {
                    let _ = self.conn.send_data(id, cmd.body, true);
                }
                self.streams.insert(
                    id,
                    InFlight {
                        reply: cmd.reply,
                        head: None,
                        body: BytesMut::new(),
                        trailers: None,
                        deadline: cmd.deadline,
                        progress: cmd.progress,
                    },
                );
            }
            Err(UserError::StreamLimit) => self.queued.push_back(cmd),
            Err(UserError::GoingAway) | Err(UserError::ConnectionClosed) => {
                let _ = cmd.reply.send(Reply::Unsent);
                self.release_slot();
            }
            Err(e) => {
                let _ = cmd
                    .reply
                    .send(Reply::Done(Err(ClientError::InvalidRequest(format!(
                        "cannot send request: {e}"
                    )))));
                self.release_slot();
            }
        }
    }

    fn release_slot(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        if self.origin.waiters.load(Ordering::Acquire) > 0 {
            self.origin.notify();
        }
    }

    fn handle_events(&mut self) {
        while let Some(ev) = self.conn.poll_event() {
            match ev {
                Event::Response {
                    stream_id,
                    response,
                    end_stream,
                } => {
                    if response.status().is_informational() {
                        continue;
                    }
                    if let Some(s) = self.streams.get_mut(&stream_id) {
                        if let Some(n) = response
                            .headers()
                            .get(http::header::CONTENT_LENGTH)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<u64>().ok())
                        {
                            s.progress.length.store(n + 1, Ordering::Relaxed);
                            if n <= 16 << 20 {
                                s.body.reserve(n as usize);
                            }
                        }
                        s.head = Some(response);
                    }
                    if end_stream {
                        self.complete(stream_id);
                    }
                }
                Event::Data {
                    stream_id,
                    data,
                    end_stream,
                } => {
                    if let Some(s) = self.streams.get_mut(&stream_id) {
                        s.body.extend_from_slice(&data);
                        s.progress
                            .received
                            .fetch_add(data.len() as u64, Ordering::Relaxed);
                    }
                    if end_stream {
                        self.complete(stream_id);
                    }
                }
                Event::Trailers {
                    stream_id,
                    trailers,
                } => {
                    if let Some(s) = self.streams.get_mut(&stream_id) {
                        s.trailers = Some(trailers);
                    }
                    self.complete(stream_id);
                }
                Event::Closed { stream_id } => self.complete(stream_id),
                Event::Reset {
                    stream_id,
                    code,
                    remote,
                } => {
                    let e = match &self.goaway {
                        Some((last, gcode, debug))
                            if remote && code == ErrorCode::REFUSED_STREAM =>
                        {
                            let e = ClientError::GoAway {
                                code: *gcode,
                                last_stream_id: *last,
                                debug: debug.clone(),
                            };
                            // ENHANCE_YOUR_CALM asks us to back off: no retry.
                            if *gcode != ErrorCode::ENHANCE_YOUR_CALM {
                                if let Some(s) = self.streams.remove(&stream_id) {
                                    let _ = s.reply.send(Reply::Retry(e));
                                    self.release_slot();
                                }
                                continue;
                            }
                            e
                        }
                        _ if remote => ClientError::Reset(code),
                        _ => ClientError::Protocol(format!("stream reset locally: {code}")),
                    };
                    self.fail(stream_id, e);
                }
                Event::Settings(_) => {
                    let max = self.conn.peer_max_concurrent_streams().max(1);
                    self.shared.max.store(max, Ordering::Release);
                    if !self.shared.ready.swap(true, Ordering::AcqRel) {
                        self.origin.notify();
                    }
                }
                Event::PingAck(_) => self.ping_sent = None,
                Event::GoAway {
                    last_stream_id,
                    code,
                    debug,
                } => {
                    self.goaway = Some((
                        last_stream_id,
                        code,
                        String::from_utf8_lossy(&debug).into_owned(),
                    ));
                    self.shared.closed.store(true, Ordering::Release);
                    self.origin.notify();
                    // Requests not yet opened go elsewhere.
                    for c in std::mem::take(&mut self.queued) {
                        let _ = c.reply.send(Reply::Unsent);
                        self.release_slot();
                    }
                }
                _ => {}
            }
        }
        // Slots freed: open queued requests.
        while !self.queued.is_empty() && self.conn.is_accepting_streams() {
            let n = self.queued.len();
            if let Some(c) = self.queued.pop_front() {
                self.open_stream(c);
            }
            if self.queued.len() >= n {
                break;
            }
        }
    }

    fn complete(&mut self, id: StreamId) {
        let Some(s) = self.streams.remove(&id) else {
            return;
        };
        let res = match s.head {
            Some(head) => {
                let (parts, ()) = head.into_parts();
                let mut resp = http::Response::from_parts(parts, s.body.freeze());
                if let Some(t) = s.trailers {
                    resp.extensions_mut().insert(Trailers(t));
                }
                Ok(resp)
            }
            None => Err(ClientError::Protocol(
                "stream ended without a response".into(),
            )),
        };
        let _ = s.reply.send(Reply::Done(res));
        self.release_slot();
    }

    fn fail(&mut self, id: StreamId, e: ClientError) {
        if let Some(s) = self.streams.remove(&id) {
            let _ = s.reply.send(Reply::Done(Err(e)));
            self.release_slot();
        }
    }

    /// Connection over: fail what is in flight, answer late commands, leave.
    fn finish(mut self, err: Option<ClientError>) {
        self.shared.closed.store(true, Ordering::Release);
        let err = err.unwrap_or_else(|| {
            ClientError::Io("connection closed before the response completed".into())
        });
        let ids: Vec<StreamId> = self.streams.keys().copied().collect();
        for id in ids {
            self.fail(id, err.clone());
        }
        for c in std::mem::take(&mut self.queued) {
            let _ = c.reply.send(Reply::Done(Err(err.clone())));
            self.release_slot();
        }
        while let Ok(c) = self.rx.try_recv() {
            let _ = c.reply.send(Reply::Unsent);
            self.release_slot();
        }
        self.origin.notify();
    }
}
