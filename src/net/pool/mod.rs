//! Pooled, multiplexing HTTP/2 client ([`Client`]): h2c with prior knowledge
//! for `http://`, HTTP/2 over TLS (ALPN `h2`) for `https://`, with HTTP/1.1
//! keep-alive connections as the cleartext alternative
//! ([`ClientConfig::http1`], [`AppProtocol`]).
//!
//! Owns: connection pooling per origin (scheme, host, port; h2c with prior
//! knowledge, RFC 9113 §3.3; TLS through one [`crate::tls::ClientTls`] per
//! pool, so every connection shares its session store (resumption) and its
//! certificate-validation cache), request multiplexing up to the peer's
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
//!
//! Files: this one holds the pool ([`Client`], origins, routing, opening
//! connections); `breaker.rs` the circuit breaker (a pure state machine, time
//! passed in), `response.rs` the caller's [`ResponseHandle`] (retry and
//! resubmit), `driver.rs` the HTTP/2 connection thread, `driver_h1.rs` the
//! HTTP/1.1 one (same commands and replies; `max` 1 so the pool routes one
//! request at a time to each connection and opens more for concurrency). Errors are [`ClientError`]
//! (src/net/error.rs).

mod breaker;
mod driver;
mod driver_h1;
mod response;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio::{Poll, Waker};

use self::breaker::{Admit, Breaker};
use self::driver::Driver;
use self::driver_h1::H1Driver;
use super::tcp;
use crate::conn::{Config, Connection};

pub use self::response::ResponseHandle;
pub use super::error::ClientError;
/// What a TLS connection negotiated; on every response of an `https://`
/// request (`response.extensions().get::<TlsInfo>()`).
#[cfg(feature = "tls")]
pub use super::tls_io::TlsInfo;

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
    /// Speak HTTP/1.1 (keep-alive, one request at a time per connection,
    /// up to [`ClientConfig::max_connections_per_origin`] connections) instead
    /// of h2c on cleartext connections, like `curl --http1.1`. Default: false.
    pub http1: bool,
    /// `user-agent` added by [`Client::get`].
    pub user_agent: String,
    /// Print every HTTP/2 frame sent and received to stderr, one line each
    /// ([`crate::trace::FrameTracer`], `h2o get --trace`). Default: false.
    pub trace: bool,
    /// TLS context for `https://` origins, shared by all the pool's
    /// connections (`None`: a default one, system roots, built on first use).
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<crate::tls::ClientTls>>,
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
            http1: false,
            user_agent: concat!("h2o/", env!("CARGO_PKG_VERSION")).to_string(),
            trace: false,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// The HTTP version a pooled connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppProtocol {
    /// HTTP/2 (h2c with prior knowledge on cleartext, ALPN `h2` over TLS).
    H2,
    /// HTTP/1.1 with keep-alive, one request at a time per connection.
    Http1,
}

impl AppProtocol {
    /// The protocol a TLS handshake agreed on by ALPN (RFC 7301): `h2` →
    /// [`AppProtocol::H2`]; `http/1.1`, anything else or no ALPN at all →
    /// [`AppProtocol::Http1`] (a server without ALPN speaks HTTP/1.1).
    pub fn from_alpn(alpn: Option<&[u8]>) -> AppProtocol {
        match alpn {
            Some(b"h2") => AppProtocol::H2,
            _ => AppProtocol::Http1,
        }
    }

    /// The protocol of a cleartext connection under `cfg` ([`ClientConfig::http1`]).
    pub fn cleartext(cfg: &ClientConfig) -> AppProtocol {
        if cfg.http1 {
            AppProtocol::Http1
        } else {
            AppProtocol::H2
        }
    }
}

/// Trailers of a response, stored in its extensions when the server sent some.
#[derive(Debug, Clone)]
pub struct Trailers(pub http::HeaderMap);

/// Origin key: TLS (`https`), host and port.
type OriginKey = (bool, String, u16);

/// TLS counters of a pool ([`Client::tls_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TlsStats {
    /// Connections whose handshake was full.
    pub full: u64,
    /// Connections that resumed an earlier session.
    pub resumed: u64,
    /// Certificate-validation cache hits.
    pub verify_hits: u64,
    /// Certificate-validation cache misses.
    pub verify_misses: u64,
}

/// A pooling, multiplexing HTTP/2 cleartext client (HTTP/1.1 keep-alive
/// connections with [`ClientConfig::http1`]); cheap to clone (shared pool).
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
    /// The pool's one TLS context (built on the first `https://` request).
    #[cfg(feature = "tls")]
    tls: std::sync::OnceLock<Result<Arc<crate::tls::ClientTls>, String>>,
    #[cfg(feature = "tls")]
    handshakes_full: AtomicU64,
    #[cfg(feature = "tls")]
    handshakes_resumed: AtomicU64,
}

/// One origin's connections and breaker (shared by all clones of a [`Client`]).
struct Origin {
    name: String,
    /// `https`: connections run TLS.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    tls: bool,
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

/// The caller-visible half of a driven connection.
struct ConnShared {
    tx: Sender<Cmd>,
    waker: Waker,
    /// Requests routed to this connection and not answered yet.
    in_flight: AtomicUsize,
    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS (at least 1).
    max: AtomicU32,
    /// The server's first SETTINGS arrived.
    ready: AtomicBool,
    /// Takes no new requests: going away, failed, idle-closed or the client
    /// was dropped.
    closed: AtomicBool,
    /// The driver thread, for [`Client::shutdown`] to wait on.
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// A request handed to a connection's driver.
struct Cmd {
    head: http::Request<()>,
    body: Bytes,
    reply: Sender<Reply>,
    deadline: Instant,
    progress: Arc<Progress>,
}

/// A driver's answer to one [`Cmd`].
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
    /// The response's `content-length`, once its head arrived (if it has one).
    length: Mutex<Option<u64>>,
}

impl Client {
    /// A client with its own (empty) pool.
    pub fn new(cfg: ClientConfig) -> Client {
        Client {
            inner: Arc::new(Inner {
                cfg,
                origins: RwLock::new(HashMap::new()),
                opened: AtomicU64::new(0),
                #[cfg(feature = "tls")]
                tls: std::sync::OnceLock::new(),
                #[cfg(feature = "tls")]
                handshakes_full: AtomicU64::new(0),
                #[cfg(feature = "tls")]
                handshakes_resumed: AtomicU64::new(0),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.cfg
    }

    /// Closes every pooled connection politely (HTTP/2: GOAWAY once its
    /// requests in flight are done) and waits up to `wait` for their threads
    /// to end. Returns false if some were still running then. Requests sent
    /// afterwards open new connections.
    pub fn shutdown(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut threads = Vec::new();
        {
            let map = self.inner.origins.read().unwrap_or_else(|e| e.into_inner());
            for o in map.values() {
                let st = o.state.lock().unwrap_or_else(|e| e.into_inner());
                for c in &st.conns {
                    c.closed.store(true, Ordering::Release);
                    let _ = c.waker.wake();
                    if let Some(t) = c.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        threads.push(t);
                    }
                }
            }
        }
        for t in threads {
            while !t.is_finished() {
                if Instant::now() >= deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = t.join();
        }
        true
    }

    /// TCP connections opened so far (all origins).
    pub fn connections_opened(&self) -> u64 {
        self.inner.opened.load(Ordering::Relaxed)
    }

    /// Live pooled connections to the origin of `url` (`0` for unknown origins).
    pub fn pooled_connections(&self, url: &str) -> usize {
        let Ok((u, tls)) = super::client::Url::parse_any(url) else {
            return 0;
        };
        let map = self.inner.origins.read().unwrap_or_else(|e| e.into_inner());
        map.get(&(tls, u.host, u.port)).map_or(0, |o| {
            let st = o.state.lock().unwrap_or_else(|e| e.into_inner());
            st.conns
                .iter()
                .filter(|c| !c.closed.load(Ordering::Acquire))
                .count()
        })
    }

    /// TLS counters: handshakes full/resumed over the pool's connections and
    /// the validation cache's hits/misses.
    #[cfg(feature = "tls")]
    pub fn tls_stats(&self) -> TlsStats {
        let (verify_hits, verify_misses) = match self.inner.tls.get() {
            Some(Ok(t)) => {
                let s = t.verify_stats();
                (s.hits, s.misses)
            }
            _ => (0, 0),
        };
        TlsStats {
            full: self.inner.handshakes_full.load(Ordering::Relaxed),
            resumed: self.inner.handshakes_resumed.load(Ordering::Relaxed),
            verify_hits,
            verify_misses,
        }
    }

    /// The pool's TLS context (built once, on first use).
    #[cfg(feature = "tls")]
    fn tls_context(&self) -> Result<Arc<crate::tls::ClientTls>, ClientError> {
        self.inner
            .tls
            .get_or_init(|| match &self.inner.cfg.tls {
                Some(t) => Ok(Arc::clone(t)),
                None => crate::tls::ClientTls::builder()
                    .build()
                    .map(Arc::new)
                    .map_err(|e| e.to_string()),
            })
            .clone()
            .map_err(ClientError::TlsConfig)
    }

    /// GET `url` (`http://` or `https://`) and wait for the whole response.
    pub fn get(&self, url: &str) -> Result<http::Response<Bytes>, ClientError> {
        self.send(self.get_request(url)?)?.wait()
    }

    /// A GET request for `url` with `user-agent` and `accept: */*`.
    pub fn get_request(&self, url: &str) -> Result<http::Request<Bytes>, ClientError> {
        let (u, tls) = super::client::Url::parse_any(url)?;
        let scheme = if tls { "https" } else { "http" };
        http::Request::get(format!("{scheme}://{}{}", u.authority, u.path))
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
        let tls = match uri.scheme_str() {
            Some("http") => false,
            #[cfg(feature = "tls")]
            Some("https") => true,
            #[cfg(not(feature = "tls"))]
            Some("https") => {
                return Err(ClientError::InvalidRequest(
                    "this h2o was built without TLS: use an http:// URL".into(),
                ))
            }
            _ => {
                return Err(ClientError::InvalidRequest(format!(
                    "unsupported URI {uri}: expected http(s)://HOST[:PORT]/PATH"
                )))
            }
        };
        let Some(auth) = uri.authority() else {
            return Err(ClientError::InvalidRequest(format!(
                "URI {uri} has no host"
            )));
        };
        let host = auth.host().trim_start_matches('[').trim_end_matches(']');
        let port = auth.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let key = (tls, host.to_string(), port);
        let head = http::Request::from_parts(parts, ());
        let origin = self.origin(key);
        let deadline = Instant::now() + self.inner.cfg.request_timeout;
        let probe = self.breaker_check(&origin)?;
        ResponseHandle::start(self.clone(), origin, head, body, deadline, probe)
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
            let (tls, host, port) = key;
            let scheme = if tls { "https" } else { "http" };
            let name = if host.contains(':') {
                format!("{scheme}://[{host}]:{port}")
            } else {
                format!("{scheme}://{host}:{port}")
            };
            Arc::new(Origin {
                name,
                tls,
                host,
                port,
                state: Mutex::new(OriginState {
                    conns: Vec::new(),
                    connecting: 0,
                    breaker: Breaker::default(),
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
        let (next, admit) = st.breaker.admit(Instant::now());
        st.breaker = next;
        match admit {
            Admit::Pass => Ok(false),
            Admit::Probe => Ok(true),
            Admit::Refuse => Err(ClientError::CircuitOpen(origin.name.clone())),
        }
    }

    /// Feeds a finished request's outcome to the origin's breaker.
    fn breaker_record(&self, origin: &Origin, probe: bool, ok: bool) {
        let Some(bc) = &self.inner.cfg.breaker else {
            return;
        };
        let mut st = origin.state.lock().unwrap_or_else(|e| e.into_inner());
        st.breaker = st.breaker.record(bc, probe, ok, Instant::now());
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
        #[allow(unused_mut)]
        let mut sock = tcp::connect(&origin.host, origin.port, deadline)?;
        #[cfg(feature = "tls")]
        let tls = if origin.tls {
            Some(self.tls_connect(&mut sock, origin, deadline)?)
        } else {
            None
        };
        sock.set_nonblocking(true)
            .map_err(|e| ClientError::io("socket setup failed", e))?;
        let sock = mio::net::TcpStream::from_std(sock);
        #[cfg(feature = "tls")]
        if let Some((t, early, proto)) = tls {
            return self.start_driver(origin, sock, proto, Some((t, early)), cmd, deadline);
        }
        self.start_driver(
            origin,
            sock,
            AppProtocol::cleartext(cfg),
            NO_TLS,
            cmd,
            deadline,
        )
    }

    /// Starts the connection thread for a connected socket speaking `proto`
    /// (over `tls` when a TLS handshake already ran)
    /// (the hook a TLS connect calls with [`AppProtocol::from_alpn`]); `cmd`
    /// is its first request, `setup_deadline` bounds HTTP/2's wait for the
    /// server's first SETTINGS (an HTTP/1.1 connection is ready at once).
    fn start_driver(
        &self,
        origin: &Arc<Origin>,
        sock: mio::net::TcpStream,
        proto: AppProtocol,
        tls: TlsStart,
        cmd: Cmd,
        setup_deadline: Instant,
    ) -> Result<Arc<ConnShared>, ClientError> {
        #[cfg(not(feature = "tls"))]
        let () = tls;
        let cfg = &self.inner.cfg;
        let poll = Poll::new().map_err(|e| ClientError::io("poll", e))?;
        let waker =
            Waker::new(poll.registry(), driver::WAKE).map_err(|e| ClientError::io("waker", e))?;
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(ConnShared {
            tx,
            waker,
            in_flight: AtomicUsize::new(1),
            max: AtomicU32::new(1),
            ready: AtomicBool::new(proto == AppProtocol::Http1),
            closed: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        let _ = shared.tx.send(cmd);
        self.inner.opened.fetch_add(1, Ordering::Relaxed);
        let thread = std::thread::Builder::new().name("h2o-client-conn".into());
        let spawned = match proto {
            AppProtocol::Http1 => {
                #[cfg(feature = "tls")]
                let sock = match tls {
                    Some((t, _)) => {
                        driver_h1::Transport::Tls(super::tls_io::TlsStream { tls: t, sock })
                    }
                    None => driver_h1::Transport::Plain(sock),
                };
                #[cfg(not(feature = "tls"))]
                let sock = driver_h1::Transport::Plain(sock);
                let driver = H1Driver::new(
                    sock,
                    poll,
                    rx,
                    Arc::clone(&shared),
                    Arc::clone(origin),
                    cfg.clone(),
                );
                thread.spawn(move || driver.run())
            }
            AppProtocol::H2 => {
                #[allow(unused_mut)]
                let mut driver = Driver::new(
                    Connection::client(cfg.h2.clone()),
                    sock,
                    poll,
                    rx,
                    Arc::clone(&shared),
                    Arc::clone(origin),
                    cfg.clone(),
                    setup_deadline,
                );
                #[cfg(feature = "tls")]
                if let Some((t, early)) = tls {
                    driver.set_tls(t, early);
                }
                thread.spawn(move || driver.run())
            }
        };
        let handle = spawned.map_err(|e| ClientError::io("cannot start connection thread", e))?;
        *shared.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(shared)
    }
}

#[cfg(feature = "tls")]
impl Client {
    /// The TLS handshake of a new connection and the client's ALPN decision
    /// point: `h2` goes on to the HTTP/2 driver; `http/1.1` or no ALPN to
    /// the HTTP/1.1 driver (over the same TLS session).
    fn tls_connect(
        &self,
        sock: &mut std::net::TcpStream,
        origin: &Origin,
        deadline: Instant,
    ) -> Result<(Box<super::tls_io::TlsIo>, Vec<u8>, AppProtocol), ClientError> {
        use super::tls_io::{self, HandshakeError, Route};
        let ctx = self.tls_context()?;
        let mut t =
            tls_io::client_handshake(sock, &ctx, &origin.host, deadline).map_err(|e| match e {
                HandshakeError::Tls(e) => ClientError::Tls(e),
                HandshakeError::Io(e) => ClientError::Handshake {
                    reason: "connection failed during the TLS handshake",
                    source: Some(Arc::new(e)),
                },
                HandshakeError::Timeout => ClientError::Timeout("connect: TLS handshake"),
            })?;
        let _ = sock.set_read_timeout(None);
        let route = tls_io::client_protocol(t.pipe());
        let proto = match route {
            Route::H2 => AppProtocol::H2,
            Route::Http1 => AppProtocol::Http1,
        };
        let counter = if t.pipe().is_resumed() {
            &self.inner.handshakes_resumed
        } else {
            &self.inner.handshakes_full
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let early = t.take_early(route);
        Ok((Box::new(t), early, proto))
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

/// A finished TLS handshake handed to the HTTP/2 driver: the session and the
/// plaintext that arrived with its last flight.
#[cfg(feature = "tls")]
type TlsStart = Option<(Box<super::tls_io::TlsIo>, Vec<u8>)>;
#[cfg(feature = "tls")]
const NO_TLS: TlsStart = None;
/// Without the `tls` feature there is never a handshake to hand over.
#[cfg(not(feature = "tls"))]
type TlsStart = ();
#[cfg(not(feature = "tls"))]
const NO_TLS: TlsStart = ();
