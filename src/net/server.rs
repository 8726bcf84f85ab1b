//! Event-driven static file server: HTTP/2 cleartext (h2c, prior knowledge)
//! and HTTP/1.1 on the same port, or HTTP/2 and HTTP/1.1 over TLS when
//! [`ServerConfig::tls`] is set (ALPN `h2`, `http/1.1` or none; the TLS glue
//! and the ALPN decision are in [`super::tls_io`], reached from the few
//! places marked "tls": `add`, `read_h2` → `tls_recv`, `switch_tls_h1`,
//! `tls_gate`, `drive_h1`, `produce`).
//!
//! The file handler ([`file_reply`]: methods, path safety, conditionals,
//! ranges) is protocol-neutral: HTTP/2 streams ([`Worker::respond`]) and
//! HTTP/1.1 connections ([`super::h1`]) both send the [`Reply`] it returns.
//!
//! Each worker thread runs one `mio` poll (epoll) loop over non-blocking
//! sockets and drives many [`Connection`]s. All workers share one listening
//! socket (registered edge-triggered in every worker's poll; whoever accepts
//! first owns the connection), so `--threads N` spreads connections over N cores.
//!
//! One loop turn of a connection: read (until a short read, or to EOF once the
//! peer closed: the edge-triggered rule) → [`Connection::recv`]
//! → handle events → [`Connection::write_chunks_ext`] (repeated while handling
//! events produces more output, up to a batch limit) → one flush of the output
//! queue: every frame of the turn leaves in one `writev` (`sendmsg`), the
//! zero-copy DATA payloads ([`Chunk::External`]) included: they point into a
//! read-only mapping of the file ([`super::mapped`]), so the kernel copies
//! them from the page cache straight into the socket. With
//! [`ServerConfig::sendfile`] they go out with `sendfile(2)` between the
//! vectored writes instead (frame header + `MSG_MORE`, then the file range).
//! Partial writes keep the remaining chunks for the next writable event.
//!
//! Timers: [`Connection::handle_timeout`] gets the time since server start; the
//! loop wakes at most once per second (more often for timeouts under 2 s)
//! while connections exist to fire timers, close idle connections
//! ([`ServerConfig::idle_timeout`]) and drop stalled ones
//! ([`ServerConfig::stall_timeout`]: output waits, nothing leaves).
//!
//! Stopping: [`serve_until`] returns once its [`StopHandle`] was told to stop
//! and the connections drained: every worker drops the listener (new
//! connections are refused), HTTP/2 connections get the core's two-phase
//! GOAWAY ([`Connection::shutdown_graceful`]), HTTP/1.1 connections finish
//! the response in progress (later ones say `connection: close`) and close,
//! idle ones close at once; what is still open after
//! [`ServerConfig::shutdown_timeout`] is closed.
//!
//! Files: bodies of at least [`ZERO_COPY_MIN`] bytes use
//! [`Connection::send_data_external`] + the file's mapping (or `sendfile`) when
//! [`ServerConfig::zero_copy`] is on; otherwise (and for small files) they are
//! read into `Bytes` and queued with [`Connection::send_data`]. Open files, their
//! metadata and small files' content are cached per worker
//! ([`super::file_cache`]). HTTP semantics of files are in [`super::files`];
//! the output queue is [`super::out`]; WebSocket connections and streams are
//! handled by [`super::ws`] from the few places marked "ws hook"; all HTTP/2 is
//! spoken by the core. `--trace` ([`super::conn_trace`]) and `--access-log`
//! ([`super::access_log`]) hook in at the places marked "trace" and "access
//! log"; both are `None` (one branch) when off.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

pub use super::access_log::AccessLogTarget; // access log
use super::access_log::{AccessLog, ConnLog, Entry};
use super::conn_trace::ConnTrace; // trace
pub use super::file_cache::SMALL_FILE;
use super::file_cache::{read_piece, CachedFile, FileCache};
use super::files::{self, DocRoot, Lookup, RangeSpec};
use super::h1::H1Conn;
use super::mapped::MappedFile;
use super::out::{Flush, OutQueue, SockWriter};
use super::ws::{ConnWs, Pre, WsConfig}; // ws hook
use super::{READ_BUF, WRITE_BATCH};
use crate::conn::{Chunk, Config, Connection, Event, UserError};
use crate::error::ErrorCode;
use crate::frame::StreamId;

/// Size of one `send_data` chunk for copied multipart bodies and HTTP/1.1.
pub const FILE_CHUNK: usize = 256 << 10;
/// Size of one `pread` piece of a copied HTTP/2 file body ([`feed`]). The
/// pooled 64 KiB buffers ([`read_piece`]) are reused while still in the CPU
/// cache, so the kernel's copy into them is cheaper than into 256 KiB ones
/// (perf profiles of 1 MiB responses, BENCHMARKS.md issue 12). The pieces
/// still leave in 1 MiB [`WRITE_BATCH`]es: writing after every 256 KiB of
/// reads cost the receiver more than it saved here (same benchmark).
pub const COPY_PIECE: usize = 64 << 10;
/// Bodies at least this large go out without a user-space copy (the file's
/// mapping, or `sendfile`) when zero-copy is on.
pub const ZERO_COPY_MIN: u64 = 64 << 10;
/// Bytes written to one connection before other connections get a turn.
const TURN_BUDGET: usize = 4 << 20;
const LISTENER: Token = Token(usize::MAX);
/// The [`StopHandle`]'s wake-up of a worker's poll.
const WAKER: Token = Token(usize::MAX - 1);
/// During a stop, how long a connection whose output is all out (write side
/// shut down) may linger for the peer's close before it is dropped.
const STOP_LINGER: Duration = Duration::from_secs(1);

/// Room kept in a connection's stream table and event queue between bursts
/// ([`Connection::trim`]): a client with up to this many requests in flight
/// never pays for regrowing them; one with 100 pays about 7 reallocations
/// per burst (tests/alloc.rs `trim_cost_per_burst`) and holds about 45 KiB
/// less while it waits.
const TRIM_KEEP: usize = 16;

/// A connection quiet this long (no input, nothing queued) gives back its
/// buffers ([`Connection::release_idle_memory`]); at most one timer tick
/// (≤ 1 s) later.
const IDLE_RELEASE: Duration = Duration::from_secs(1);

/// Settings of [`serve_with`].
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Worker threads, each with its own poll loop (at least 1).
    pub threads: usize,
    /// Send large file bodies without copying them in user space: from a
    /// read-only mapping of the file, in the same vectored write as their
    /// frame headers (or with `sendfile(2)`, see [`ServerConfig::sendfile`]).
    /// Off: they are read into buffers first.
    pub zero_copy: bool,
    /// With `zero_copy`: one `sendfile(2)` per DATA frame (after a write of
    /// its header) instead of vectored writes over the file's mapping. The
    /// kernel then copies nothing on the sending side, at the cost of two
    /// system calls per 16 KiB frame; on loopback the receiver pays more for
    /// the page-reference buffers (see BENCHMARKS.md). Default off.
    pub sendfile: bool,
    /// Close connections without any I/O for this long (GOAWAY first).
    pub idle_timeout: Duration,
    /// Drop a connection whose output has been waiting this long without a
    /// byte of progress: the peer does not read (socket buffer full), or
    /// keeps the flow-control windows of its open streams at 0. Reads and
    /// PINGs from the peer do not count as progress.
    pub stall_timeout: Duration,
    /// After [`StopHandle::stop`]: how long in-flight streams and responses
    /// may take before the remaining connections are closed.
    pub shutdown_timeout: Duration,
    /// How long cached file metadata (and small-file content) stays valid.
    /// `Duration::ZERO` disables the cache.
    pub file_cache_ttl: Duration,
    /// HTTP/2 settings of every connection.
    pub conn: Config,
    /// WebSocket endpoint (see [`super::ws`]); set `conn.enable_connect_protocol`
    /// too for RFC 8441. Default: none.
    pub ws: WsConfig, // ws hook
    /// Serve over TLS instead of h2c: every accepted connection does a TLS
    /// handshake first (see [`super::tls_io`]); ALPN `h2` is HTTP/2,
    /// `http/1.1` or none HTTP/1.1 (the context's ALPN list says what is
    /// offered). Bodies are copied (no `sendfile`: the ciphertext is made in
    /// user space).
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::ServerTls>,
    /// Print every HTTP/2 frame of every connection to stderr, one line each
    /// prefixed with a connection id (`h2o serve --trace`, see
    /// [`crate::trace`]). Default: false.
    pub trace: bool,
    /// Write one line per request here (`h2o serve --access-log`, see
    /// [`super::access_log`]). Default: none.
    pub access_log: Option<AccessLogTarget>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            threads: 1,
            zero_copy: true,
            sendfile: false,
            idle_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            file_cache_ttl: Duration::from_secs(1),
            conn: Config::default(),
            ws: WsConfig::default(), // ws hook
            #[cfg(feature = "tls")]
            tls: None,
            trace: false,
            access_log: None,
        }
    }
}

/// Stops a running [`serve_until`] from any thread: clone it, give one
/// clone to the server, call [`StopHandle::stop`] on another (e.g. from a
/// signal handler thread). Stopping is graceful; see the module doc.
#[derive(Clone, Default)]
pub struct StopHandle(Arc<StopShared>);

#[derive(Default)]
struct StopShared {
    stopped: AtomicBool,
    /// One waker per running worker poll.
    wakers: Mutex<Vec<Arc<mio::Waker>>>,
}

impl std::fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopHandle")
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

impl StopHandle {
    /// A handle that has not been stopped.
    pub fn new() -> StopHandle {
        StopHandle::default()
    }

    /// Asks the server to stop: every worker stops accepting, drains its
    /// connections (at most [`ServerConfig::shutdown_timeout`]) and ends;
    /// [`serve_until`] then returns `Ok`. Returns at once; idempotent.
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        let wakers = self.0.wakers.lock().unwrap_or_else(|e| e.into_inner());
        for w in wakers.iter() {
            let _ = w.wake();
        }
    }

    /// True once [`StopHandle::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// Registers a worker's waker; the caller checks [`Self::is_stopped`]
    /// afterwards (a stop before the registration is seen there).
    fn register(&self, w: Arc<mio::Waker>) {
        let mut wakers = self.0.wakers.lock().unwrap_or_else(|e| e.into_inner());
        wakers.push(w);
    }
}

/// Serves forever with [`ServerConfig::default`] (one worker, zero-copy).
pub fn serve(listener: TcpListener, root: DocRoot) -> io::Result<()> {
    serve_with(listener, root, ServerConfig::default())
}

/// Serves forever: `config.threads` workers share `listener`.
pub fn serve_with(listener: TcpListener, root: DocRoot, config: ServerConfig) -> io::Result<()> {
    serve_until(listener, root, config, StopHandle::new())
}

/// Serves until `stop` is stopped, then drains gracefully (see the module
/// doc) and returns `Ok` once every worker has ended: `config.threads`
/// workers share `listener`.
///
/// ```no_run
/// use h2o::net::{files::DocRoot, server};
/// let listener = std::net::TcpListener::bind("127.0.0.1:8080")?;
/// let root = DocRoot::new(std::path::Path::new("."))?;
/// let stop = server::StopHandle::new();
/// let handle = stop.clone();
/// let t = std::thread::spawn(move || {
///     server::serve_until(listener, root, server::ServerConfig::default(), handle)
/// });
/// // … later, from any thread (e.g. on SIGTERM):
/// stop.stop();
/// t.join().expect("server thread")?; // after the drain
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn serve_until(
    listener: TcpListener,
    root: DocRoot,
    config: ServerConfig,
    stop: StopHandle,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let root = Arc::new(root);
    let config = Arc::new(config);
    let origin = Instant::now();
    let mut handles = Vec::new();
    for _ in 1..config.threads.max(1) {
        let l = listener.try_clone()?;
        let (root, config, stop) = (Arc::clone(&root), Arc::clone(&config), stop.clone());
        handles.push(std::thread::spawn(move || {
            let r = Worker::new(root, config, origin).and_then(|mut w| {
                w.stop = Some(stop);
                w.run(Some(mio::net::TcpListener::from_std(l)), None)
            });
            if let Err(e) = r {
                eprintln!("worker: {e}");
            }
        }));
    }
    let mut w = Worker::new(root, config, origin)?;
    w.stop = Some(stop.clone());
    let r = w.run(Some(mio::net::TcpListener::from_std(listener)), None);
    if r.is_err() {
        // This worker failed: the others stop too rather than serve on unseen.
        stop.stop();
    }
    for h in handles {
        let _ = h.join();
    }
    r
}

/// Serves one already accepted h2c connection until it ends (blocking the
/// calling thread; uses the same event loop with a single connection).
pub fn serve_connection(sock: TcpStream, root: &DocRoot) -> io::Result<()> {
    sock.set_nonblocking(true)?;
    let mut w = Worker::new(
        Arc::new(root.clone()),
        Arc::new(ServerConfig::default()),
        Instant::now(),
    )?;
    w.run(None, Some(mio::net::TcpStream::from_std(sock)))
}

// ---------------------------------------------------------------- connections

/// A response body still to be produced.
enum Body {
    /// Copied in [`FILE_CHUNK`] pieces as the stream drains.
    Copy {
        file: Rc<File>,
        offset: u64,
        remaining: u64,
    },
    /// Announced with `send_data_external`: external byte `k` is file byte
    /// `start + k`, sent from `map` when there is one, else with `sendfile`.
    Zero {
        file: Rc<File>,
        start: u64,
        map: Option<Rc<MappedFile>>,
    },
    /// A `multipart/byteranges` body: part headers and file ranges, copied
    /// in order as the stream drains.
    Parts {
        file: Rc<File>,
        segs: std::collections::VecDeque<Seg>,
    },
}

struct Client {
    sock: mio::net::TcpStream,
    conn: Connection,
    bodies: HashMap<StreamId, Body>,
    out: OutQueue,
    last_active: Instant,
    /// The connection is going away: after a connection error (the core
    /// queued GOAWAY) or the idle timeout (we sent GOAWAY NO_ERROR). Input
    /// is read and discarded; the output drains, then the connection
    /// closes (lingering, see `lingering`).
    closing: bool,
    /// harden: all output left and our write side is shut down; input is
    /// read and discarded until the peer closes (or the idle timer), so that
    /// unread input does not turn our close into a RST that destroys the
    /// GOAWAY before the peer reads it (lingering close).
    lingering: bool,
    /// When `lingering` began.
    linger_since: Option<Instant>,
    /// Stall detection (see [`ServerConfig::stall_timeout`]).
    stall: Stall,
    /// DATA payload bytes the core has written so far (the drop of the
    /// connection send window over `write_chunks_ext` calls).
    data_sent: u64,
    /// HTTP/1.1 sniffing, raw and RFC 8441 WebSockets (src/net/ws.rs).
    ws: ConnWs, // ws hook
    /// Set once the connection turned out to be plain HTTP/1.1 (src/net/h1.rs).
    h1: Option<Box<H1Conn>>,
    /// TLS layer (`None`: h2c).
    #[cfg(feature = "tls")]
    tls: Option<Box<super::tls_io::TlsIo>>,
    /// trace: `--trace` frame log (src/net/conn_trace.rs); `None`: off.
    trace: Option<Box<ConnTrace>>,
    /// access log: the peer and the HTTP/2 requests in flight; `None`: off.
    log: Option<Box<ConnLog>>,
}

/// Stall detection: since when output has been waiting, and the progress
/// mark (DATA bytes written, output queue length) seen then.
#[derive(Default)]
struct Stall {
    since: Option<Instant>,
    mark: (u64, usize),
}

impl Stall {
    /// One timer check: true when output has waited `limit` without progress.
    fn check(&mut self, waiting: bool, mark: (u64, usize), now: Instant, limit: Duration) -> bool {
        if !waiting {
            self.since = None;
            return false;
        }
        match self.since {
            Some(t) if mark == self.mark => now.duration_since(t) >= limit,
            _ => {
                self.since = Some(now);
                self.mark = mark;
                false
            }
        }
    }
}

impl Client {
    /// Output is waiting: bytes in the queue (the socket did not take them),
    /// or, on HTTP/2, responses still open (streams other than RFC 8441
    /// WebSockets, whose silence is not a stall).
    fn waiting_to_send(&self) -> bool {
        !self.out.is_empty()
            || (self.h1.is_none()
                && self.ws.is_h2()
                && !self.closing
                && self.conn.open_streams() > self.ws.h2_websockets())
    }
}

/// What a readiness event allows for reading.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadMode {
    /// Not readable: only write.
    No,
    /// Readable: read until a short read.
    Yes,
    /// The peer closed or the socket failed: read until EOF/error.
    Drain,
}

enum Next {
    Keep,
    /// Budget used up with more to write: drive again without waiting.
    Again,
    Close,
}

struct Worker {
    poll: Poll,
    root: Arc<DocRoot>,
    config: Arc<ServerConfig>,
    origin: Instant,
    clients: Slab<Client>,
    rbuf: Vec<u8>,
    chunks: Vec<Chunk>,
    cache: FileCache,
    again: Vec<usize>,
    /// Set by `serve_until`: the handle that stops this worker.
    stop: Option<StopHandle>,
    /// Stopping: the drain deadline.
    draining: Option<Instant>,
    /// An accept failed for lack of resources (EMFILE, ENFILE, ENOBUFS…):
    /// connections may wait in the backlog with no new listener edge to
    /// announce them, so the timer tick tries again.
    accept_retry: bool,
    /// access log: this worker's buffered writer.
    access: Option<AccessLog>,
}

impl Worker {
    fn new(root: Arc<DocRoot>, config: Arc<ServerConfig>, origin: Instant) -> io::Result<Self> {
        let access = config.access_log.as_ref().map(|t| t.open()).transpose()?;
        Ok(Worker {
            poll: Poll::new()?,
            root,
            config,
            origin,
            clients: Slab::new(),
            rbuf: vec![0u8; READ_BUF],
            chunks: Vec::with_capacity(256),
            cache: FileCache::default(),
            again: Vec::new(),
            stop: None,
            draining: None,
            accept_retry: false,
            access,
        })
    }

    /// Runs until there is no listener and no connection left (with a
    /// listener: until stopped and drained).
    fn run(
        &mut self,
        mut listener: Option<mio::net::TcpListener>,
        initial: Option<mio::net::TcpStream>,
    ) -> io::Result<()> {
        if let Some(l) = listener.as_mut() {
            self.poll
                .registry()
                .register(l, LISTENER, Interest::READABLE)?;
        }
        if let Some(stop) = &self.stop {
            stop.register(Arc::new(mio::Waker::new(self.poll.registry(), WAKER)?));
        }
        if let Some(s) = initial {
            if let Some(key) = self.add(s)? {
                self.drive_key(key, ReadMode::Yes);
            }
        }
        let mut events = Events::with_capacity(1024);
        // Timer granularity: 1 s, finer for short timeouts (tests use them).
        let shortest = self.config.idle_timeout.min(self.config.stall_timeout);
        let tick = (shortest / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let mut next_tick = Instant::now() + tick;
        loop {
            if self.draining.is_none() && self.stop.as_ref().is_some_and(|s| s.is_stopped()) {
                self.begin_stop(&mut listener);
            }
            if listener.is_none() && self.clients.is_empty() {
                return Ok(());
            }
            if self.clients.is_empty() {
                if let Some(l) = self.access.as_mut() {
                    l.flush(); // access log: nothing is in flight
                }
            }
            let timeout = if !self.again.is_empty() {
                Some(Duration::ZERO)
            } else if self.clients.is_empty() && !self.accept_retry {
                None
            } else {
                Some(next_tick.saturating_duration_since(Instant::now()))
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for ev in events.iter() {
                if ev.token() == WAKER {
                    continue; // the stop flag is checked at the loop's top
                }
                if ev.token() == LISTENER {
                    if let Some(l) = listener.as_ref() {
                        self.accept(l);
                    }
                    continue;
                }
                // Edge-triggered: read only when the event says so (every new
                // arrival raises a fresh edge), so writable wakes cost no read.
                let read = if ev.is_read_closed() || ev.is_error() {
                    ReadMode::Drain
                } else if ev.is_readable() {
                    ReadMode::Yes
                } else {
                    ReadMode::No
                };
                self.drive_key(ev.token().0, read);
            }
            for key in std::mem::take(&mut self.again) {
                self.drive_key(key, ReadMode::No);
            }
            let now = Instant::now();
            if now >= next_tick {
                next_tick = now + tick;
                self.timers(now);
                if self.accept_retry {
                    if let Some(l) = listener.as_ref() {
                        self.accept(l);
                    }
                }
            }
        }
    }

    fn accept(&mut self, l: &mio::net::TcpListener) {
        self.accept_retry = false;
        loop {
            match l.accept() {
                Ok((s, _)) => match self.add(s) {
                    Ok(Some(key)) => self.drive_key(key, ReadMode::Yes),
                    Ok(None) => {}
                    Err(e) => eprintln!("register: {e}"),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and friends: report, try again at the next tick
                    // (the listener is edge-triggered: the connections already
                    // queued raise no new event).
                    eprintln!("accept: {e}");
                    self.accept_retry = true;
                    return;
                }
            }
        }
    }

    fn add(&mut self, mut sock: mio::net::TcpStream) -> io::Result<Option<usize>> {
        let _ = sock.set_nodelay(true);
        // Not with `sendfile`: the socket then holds page-cache references,
        // and a small buffer only means more calls (0.22 -> 0.43 s of server
        // CPU per GB when it was applied there).
        if !(self.config.zero_copy && self.config.sendfile) {
            super::out::size_send_buffer(&sock, sock.peer_addr().ok());
        }
        let entry = self.clients.vacant_entry();
        let key = entry.key();
        self.poll.registry().register(
            &mut sock,
            Token(key),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let mut conn = Connection::server(self.config.conn.clone());
        conn.handle_timeout(self.origin.elapsed());
        #[cfg(feature = "tls")]
        let tls = match &self.config.tls {
            Some(ctx) => match super::tls_io::TlsIo::server(ctx) {
                Ok(t) => Some(Box::new(t)),
                Err(e) => {
                    eprintln!("tls: {e}");
                    let _ = self.poll.registry().deregister(&mut sock);
                    return Ok(None);
                }
            },
            None => None,
        };
        #[cfg(feature = "tls")]
        // Over TLS the protocol is known from ALPN: no HTTP/1.1 sniffing.
        let ws = match tls {
            Some(_) => ConnWs::h2_only(),
            None => ConnWs::new(&self.config.ws),
        };
        #[cfg(not(feature = "tls"))]
        let ws = ConnWs::new(&self.config.ws);
        // access log: the peer address (one getpeername) only when logging.
        let log = self
            .access
            .is_some()
            .then(|| ConnLog::new(sock.peer_addr().ok()));
        entry.insert(Client {
            sock,
            conn,
            bodies: HashMap::new(),
            out: OutQueue::default(),
            last_active: Instant::now(),
            closing: false,
            lingering: false,
            linger_since: None,
            stall: Stall::default(),
            data_sent: 0,
            ws, // ws hook
            h1: None,
            #[cfg(feature = "tls")]
            tls,
            trace: self.config.trace.then(ConnTrace::new),
            log,
        });
        Ok(Some(key))
    }

    /// Fires connection timers and closes idle connections.
    fn timers(&mut self, now: Instant) {
        let elapsed = self.origin.elapsed();
        let idle = self.config.idle_timeout;
        let stall = self.config.stall_timeout;
        if self.draining.is_some_and(|d| now >= d) {
            // The drain time is over: close what is left.
            let keys: Vec<usize> = self.clients.iter().map(|(k, _)| k).collect();
            if !keys.is_empty() {
                eprintln!(
                    "shutdown: {} connection(s) still open after {:?}; closing",
                    keys.len(),
                    self.config.shutdown_timeout
                );
            }
            for key in keys {
                let c = self.clients.remove(key);
                self.close(c);
            }
            return;
        }
        let stopping = self.draining.is_some();
        let mut due = Vec::new();
        let mut force = Vec::new();
        let mut stalled = Vec::new();
        for (key, c) in self.clients.iter_mut() {
            if stopping
                && c.linger_since
                    .is_some_and(|t| now.duration_since(t) >= STOP_LINGER)
            {
                force.push(key);
                continue;
            }
            let mark = (c.data_sent, c.out.len());
            if !c.lingering && c.stall.check(c.waiting_to_send(), mark, now, stall) {
                stalled.push(key);
                continue;
            }
            let mut touched = false;
            if c.conn.poll_timeout().is_some_and(|t| t <= elapsed) {
                c.conn.handle_timeout(elapsed);
                touched = true;
            }
            let quiet = now.duration_since(c.last_active);
            if quiet >= IDLE_RELEASE && quiet < idle && !c.closing && c.out.is_empty() {
                // Nothing pending for a while: give back buffers sized for
                // the last burst (a no-op when already given back).
                c.conn.release_idle_memory();
                c.out.release_idle_memory();
                if c.bodies.is_empty() {
                    c.bodies = HashMap::new();
                }
            }
            if quiet >= idle {
                if c.closing {
                    // Already told to go away a tick ago and still stuck
                    // (e.g. the peer reads nothing): drop it.
                    force.push(key);
                    continue;
                }
                c.conn.shutdown(ErrorCode::NO_ERROR);
                c.closing = true;
                touched = true;
            }
            if touched {
                due.push(key);
            }
        }
        for key in force {
            let c = self.clients.remove(key);
            self.close(c);
        }
        for key in stalled {
            let mut c = self.clients.remove(key);
            log_peer(
                &c.sock,
                &format!(
                    "output stalled for {stall:?} (peer not reading or windows at 0); closing"
                ),
            );
            if c.h1.is_none() && c.ws.is_h2() && c.out.is_empty() {
                // Best effort: a GOAWAY if the socket takes it (windows at 0).
                c.conn.shutdown(ErrorCode::NO_ERROR);
                if self.produce(&mut c).is_ok() {
                    let _ = c.out.flush(&mut SockWriter(c.sock.as_raw_fd()));
                }
            }
            self.close(c);
        }
        for key in due {
            self.drive_key(key, ReadMode::No);
        }
        if let Some(l) = self.access.as_mut() {
            l.flush(); // access log: once a second
        }
    }

    /// The stop handle fired: drop the listener (new connections are
    /// refused once every worker has), start the graceful end of every
    /// connection, set the drain deadline.
    fn begin_stop(&mut self, listener: &mut Option<mio::net::TcpListener>) {
        if let Some(mut l) = listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        self.draining = Some(Instant::now() + self.config.shutdown_timeout);
        let elapsed = self.origin.elapsed();
        let keys: Vec<usize> = self.clients.iter().map(|(k, _)| k).collect();
        for key in keys {
            let c = &mut self.clients[key];
            if let Some(h1) = c.h1.as_mut() {
                // Finishes the response in progress, then closes.
                h1.stop();
            } else if c.ws.is_h2() {
                // Two-phase GOAWAY; streams in flight finish.
                c.conn.shutdown_graceful(elapsed);
            } else {
                // Not yet known (sniffing, HTTP/1.1 head) or a raw
                // WebSocket (close 1001): close now.
                c.closing = true;
            }
            self.drive_key(key, ReadMode::No);
        }
    }

    fn drive_key(&mut self, key: usize, read: ReadMode) {
        let Some(mut c) = self.clients.try_remove(key) else {
            return;
        };
        if let Some(l) = self.access.as_mut() {
            l.tick(); // access log: the clocks of this turn
        }
        match self.drive(&mut c, read) {
            Ok(Next::Keep) => {
                self.clients.insert(c);
            }
            Ok(Next::Again) => {
                self.clients.insert(c);
                self.again.push(key);
            }
            Ok(Next::Close) => self.close(c),
            Err(e) => {
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                ) {
                    eprintln!("connection: {e}");
                }
                self.close(c);
            }
        }
    }

    fn close(&mut self, mut c: Client) {
        let _ = self.poll.registry().deregister(&mut c.sock);
    }

    /// One turn of a connection: read all, handle, write in batches.
    fn drive(&mut self, c: &mut Client, read: ReadMode) -> io::Result<Next> {
        // Re-inserting into the slab after `try_remove` reuses the same key
        // (slab hands out the most recently freed slot first).
        if c.h1.is_some() {
            return self.drive_h1(c, read);
        }
        if !c.ws.is_h2() {
            if let Some(next) = self.drive_pre_h2(c, read)? {
                return Ok(next);
            }
        }
        let (eof, mut active) = self.read_h2(c, read)?;
        #[cfg(feature = "tls")]
        if let Some(next) = self.switch_tls_h1(c, eof)? {
            return Ok(next);
        }
        #[cfg(feature = "tls")]
        if let Some(next) = tls_gate(c, eof)? {
            return Ok(next);
        }
        let mut written = 0usize;
        let mut w = SockWriter(c.sock.as_raw_fd());
        loop {
            if c.out.is_empty() {
                self.produce(c)?;
            }
            if c.out.is_empty() {
                break;
            }
            let before = c.out.len();
            let r = c.out.flush(&mut w)?;
            written += before - c.out.len();
            active |= before != c.out.len();
            if r == Flush::Blocked {
                break;
            }
            if written >= TURN_BUDGET && c.conn.wants_write() {
                if active {
                    c.last_active = Instant::now();
                }
                return Ok(Next::Again);
            }
        }
        if active {
            c.last_active = Instant::now();
        }
        // Between bursts: the stream table and event queue shrink back to
        // room for TRIM_KEEP entries (no-op unless a burst grew them).
        c.conn.trim(TRIM_KEEP);
        if c.out.is_empty() {
            c.out.trim(4 * TRIM_KEEP);
        }
        if eof {
            return Ok(Next::Close);
        }
        // harden: lingering close once the output (the GOAWAY) is out.
        let done = c.conn.is_closed() || (c.closing && !c.conn.wants_write());
        if done && c.out.is_empty() && !c.lingering {
            c.closing = true;
            c.lingering = true;
            c.linger_since = Some(Instant::now());
            if c.sock.shutdown(std::net::Shutdown::Write).is_err() {
                return Ok(Next::Close);
            }
        }
        Ok(Next::Keep)
    }

    /// ws hook: a connection not (yet) known to be HTTP/2 (HTTP/1.1 sniffing,
    /// raw WebSocket) is driven by src/net/ws.rs. `Some`: the turn is over.
    fn drive_pre_h2(&mut self, c: &mut Client, read: ReadMode) -> io::Result<Option<Next>> {
        let mut w = SockWriter(c.sock.as_raw_fd());
        let (readable, drain) = (read != ReadMode::No, read == ReadMode::Drain);
        let pre = match c.trace.as_mut() {
            None => c.ws.drive_pre_h2(
                &mut c.sock,
                &mut c.conn,
                &mut self.rbuf,
                readable,
                drain,
                c.closing,
                &mut c.out,
                &mut w,
            )?,
            // trace: keep a copy of the sniffed bytes.
            Some(t) => c.ws.drive_pre_h2(
                &mut t.tee(&mut c.sock),
                &mut c.conn,
                &mut self.rbuf,
                readable,
                drain,
                c.closing,
                &mut c.out,
                &mut w,
            )?,
        };
        if let Some(t) = c.trace.as_mut() {
            if !t.sniff_done(matches!(pre, Pre::H2 { .. })) {
                c.trace = None;
            }
        }
        Ok(match pre {
            Pre::H2 { failed } => {
                c.closing |= failed;
                None
            }
            Pre::Keep { active } | Pre::Again { active } => {
                if active {
                    c.last_active = Instant::now();
                }
                let again = matches!(pre, Pre::Again { .. });
                Some(if again { Next::Again } else { Next::Keep })
            }
            Pre::Close => Some(Next::Close),
            Pre::TlsOnCleartext => {
                log_peer(
                    &c.sock,
                    "TLS handshake sent to the cleartext port (serve without --tls-cert speaks h2c and HTTP/1.1); closing",
                );
                Some(Next::Close)
            }
            Pre::H1 => {
                c.h1 = Some(Box::new(H1Conn::new(&c.ws.take_h1())));
                Some(self.drive_h1(c, read)?)
            }
        })
    }

    /// tls: a TLS connection whose ALPN decision chose HTTP/1.1 becomes an
    /// HTTP/1.1 connection once its handshake output is out. `Some`: the
    /// turn is over.
    #[cfg(feature = "tls")]
    fn switch_tls_h1(&mut self, c: &mut Client, eof: bool) -> io::Result<Option<Next>> {
        if !c.tls.as_ref().is_some_and(|t| t.is_http1()) || c.closing {
            return Ok(None);
        }
        // From here on `c.out` carries plaintext: handshake bytes leave first.
        let mut w = SockWriter(c.sock.as_raw_fd());
        if c.out.flush(&mut w)? == Flush::Blocked {
            return Ok(Some(if eof { Next::Close } else { Next::Keep }));
        }
        let mut h1 = Box::new(H1Conn::new(&[]));
        if self.draining.is_some() {
            h1.stop();
        }
        c.h1 = Some(h1);
        let read = if eof { ReadMode::Drain } else { ReadMode::Yes };
        self.drive_h1(c, read).map(Some)
    }

    /// An HTTP/1.1 connection's turn (src/net/h1.rs), answered by the same
    /// file handler as HTTP/2 ([`file_reply`]); over TLS its input is
    /// decrypted and its output encrypted on the way (no `sendfile`).
    fn drive_h1(&mut self, c: &mut Client, read: ReadMode) -> io::Result<Next> {
        let Some(h1) = c.h1.as_mut() else {
            return Ok(Next::Close);
        };
        #[cfg(feature = "tls")]
        if let Some(t) = c.tls.as_mut() {
            let mut w = SockWriter(c.sock.as_raw_fd());
            // Ciphertext the socket did not take yet goes first.
            if !t.flush_wire(&mut super::tls_io::WriteSideIo(&mut w))? {
                return Ok(Next::Keep);
            }
            if c.closing {
                return Ok(Next::Close);
            }
            let (cache, root, config) = (&mut self.cache, &self.root, &self.config);
            let (access, peer) = (&mut self.access, c.log.as_ref().map(|l| l.peer.as_str()));
            let mut handler = |req: &http::Request<()>| {
                logged_h1_reply(access, peer, req, |r| {
                    file_reply(cache, root, config, r, Instant::now())
                })
            };
            let cell = std::cell::RefCell::new(&mut **t);
            let mut r = super::tls_io::H1TlsReader {
                tls: &cell,
                sock: &c.sock,
            };
            let mut tw = super::tls_io::H1TlsWriter { tls: &cell, w };
            let pre = h1.drive(
                &mut r,
                &mut self.rbuf,
                read != ReadMode::No,
                read == ReadMode::Drain,
                &mut c.out,
                &mut tw,
                false,
                &mut handler,
            )?;
            let next = h1_next(&mut c.last_active, pre);
            if let Next::Close = next {
                // close_notify; if the socket is full, the rest leaves on
                // the next writable turn (`closing` ends it then).
                t.close();
                let mut w = SockWriter(c.sock.as_raw_fd());
                if !t.flush_wire(&mut super::tls_io::WriteSideIo(&mut w))? {
                    c.closing = true;
                    return Ok(Next::Keep);
                }
            }
            return Ok(next);
        }
        if c.closing {
            return Ok(Next::Close);
        }
        let mut w = SockWriter(c.sock.as_raw_fd());
        let (cache, root, config) = (&mut self.cache, &self.root, &self.config);
        let (access, peer) = (&mut self.access, c.log.as_ref().map(|l| l.peer.as_str()));
        let mut handler = |req: &http::Request<()>| {
            logged_h1_reply(access, peer, req, |r| {
                file_reply(cache, root, config, r, Instant::now())
            })
        };
        let pre = h1.drive(
            &mut c.sock,
            &mut self.rbuf,
            read != ReadMode::No,
            read == ReadMode::Drain,
            &mut c.out,
            &mut w,
            config.zero_copy,
            &mut handler,
        )?;
        Ok(h1_next(&mut c.last_active, pre))
    }

    /// Reads what the event allows into the core: `(eof, bytes moved)`.
    fn read_h2(&mut self, c: &mut Client, read: ReadMode) -> io::Result<(bool, bool)> {
        let (mut eof, mut active) = (false, false);
        if read == ReadMode::No {
            return Ok((eof, active));
        }
        if c.closing {
            // harden: discard input (bounded per turn) until the peer's EOF.
            for _ in 0..64 {
                match c.sock.read(&mut self.rbuf) {
                    Ok(0) => return Ok((true, false)),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => return Ok((true, false)),
                }
            }
            return Ok((eof, active));
        }
        loop {
            match c.sock.read(&mut self.rbuf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    active = true;
                    #[cfg(feature = "tls")]
                    if let Some(t) = c.tls.as_mut() {
                        if !tls_recv(
                            t,
                            &c.sock,
                            &mut c.conn,
                            &mut c.out,
                            self.origin.elapsed(),
                            &self.rbuf[..n],
                        ) {
                            c.closing = true;
                            break;
                        }
                        if t.is_http1() {
                            break; // the rest is read by the HTTP/1.1 path
                        }
                        if let Some(tr) = c.trace.as_mut() {
                            tr.recv(t.last_plain()); // trace
                        }
                        if n < self.rbuf.len() && read == ReadMode::Yes {
                            break;
                        }
                        continue;
                    }
                    if let Some(t) = c.trace.as_mut() {
                        t.recv(&self.rbuf[..n]); // trace
                    }
                    if c.conn.recv(self.origin.elapsed(), &self.rbuf[..n]).is_err() {
                        c.closing = true;
                        break;
                    }
                    // A short read drained the socket: later arrivals raise
                    // a new edge, so skip the read that would say WouldBlock
                    // (unless the peer closed: then read up to EOF now).
                    if n < self.rbuf.len() && read == ReadMode::Yes {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((eof, active))
    }

    /// Produces output into `c.out`: handles events and takes frames, until
    /// the batch is full or nothing moves.
    fn produce(&mut self, c: &mut Client) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some(t) = c.tls.as_mut() {
            if !t.is_h2() {
                return Ok(()); // handshaking: nothing of HTTP/2 leaves yet
            }
        }
        loop {
            // One clock read per round, for the file cache's freshness checks
            // of every request handled in it and for the core's timers.
            let now = Instant::now();
            let mut handled = false;
            while let Some(ev) = c.conn.poll_event() {
                handled = true;
                self.handle_event(c, ev, now);
            }
            self.chunks.clear();
            // Only DATA takes from the connection send window, and nothing
            // adds to it while writing: the drop is the DATA written.
            let window = c.conn.connection_send_window();
            let n = c
                .conn
                .write_chunks_ext(now - self.origin, &mut self.chunks, WRITE_BATCH);
            c.data_sent += u64::from(window.saturating_sub(c.conn.connection_send_window()));
            if let Some(t) = c.trace.as_mut() {
                t.sent(&self.chunks); // trace
            }
            #[cfg(feature = "tls")]
            if let Some(t) = c.tls.as_mut() {
                // One ciphertext buffer per batch: full-size records.
                if let Some(b) = t.encrypt_chunks(&mut self.chunks)? {
                    c.out.push_bytes(b);
                }
            }
            for ch in self.chunks.drain(..) {
                match ch {
                    Chunk::Bytes(b) => c.out.push_bytes(b),
                    Chunk::External {
                        stream_id,
                        offset_in_body,
                        len,
                    } => match c.bodies.get(&stream_id) {
                        Some(Body::Zero {
                            map: Some(map),
                            start,
                            ..
                        }) => {
                            c.out
                                .push_mapped(Rc::clone(map), start + offset_in_body, len as usize)
                        }
                        Some(Body::Zero { file, start, .. }) => {
                            c.out
                                .push_file(Rc::clone(file), start + offset_in_body, len as usize)
                        }
                        // Cannot happen: external data is only
                        // announced for Zero bodies, kept until closed.
                        _ => return Err(io::Error::other("external chunk without a body")),
                    },
                }
            }
            // ws hook: RFC 8441 echo credit returns as the echo leaves.
            handled |= c.ws.on_written(&mut c.conn);
            // Writing may have queued events (SendReady, Closed): one
            // more round handles them and batches what they produce.
            if c.out.len() >= WRITE_BATCH || (n == 0 && !handled) {
                return Ok(());
            }
        }
    }

    fn handle_event(&mut self, c: &mut Client, ev: Event, now: Instant) {
        match ev {
            // ws hook: RFC 8441 extended CONNECT, answered by src/net/ws.rs
            Event::Request {
                stream_id,
                ref request,
                ..
            } if c.ws.on_request(&mut c.conn, stream_id, request) => {}
            Event::Request {
                stream_id, request, ..
            } => {
                self.respond(c, stream_id, &request, now);
                // The request's map serves the next received head (no allocation).
                c.conn.recycle_headers(request.into_parts().0.headers);
            }
            // ws hook: RFC 8441 WebSocket stream data
            Event::Data {
                stream_id,
                data,
                end_stream,
            } => {
                c.ws.on_data(&mut c.conn, stream_id, &data, end_stream);
            }
            Event::SendReady { stream_id } => feed(c, stream_id),
            Event::Reset { stream_id, .. } | Event::Closed { stream_id } => {
                if let (Some(cl), Some(l)) = (c.log.as_mut(), self.access.as_mut()) {
                    cl.ended(stream_id, l); // access log
                }
                // Small bodies never enter the map: no hashing per stream then.
                if !c.bodies.is_empty() {
                    c.bodies.remove(&stream_id);
                }
                c.ws.on_stream_end(stream_id); // ws hook
            }
            // Request bodies are ignored (only GET/HEAD are served); the rest is
            // connection housekeeping the core already did.
            _ => {}
        }
    }

    fn respond(
        &mut self,
        c: &mut Client,
        stream_id: StreamId,
        req: &http::Request<()>,
        now: Instant,
    ) {
        let reply = file_reply(&mut self.cache, &self.root, &self.config, req, now);
        let status = reply.head.status();
        if let (Some(cl), Some(l)) = (c.log.as_mut(), self.access.as_ref()) {
            let status = status.as_u16(); // access log
            cl.answered(stream_id, req, l.turn_us(), status, reply.body.len());
        }
        #[cfg(feature = "tls")]
        // Over TLS the bytes are encrypted in user space: no sendfile.
        let zero_copy = self.config.zero_copy && c.tls.is_none();
        #[cfg(not(feature = "tls"))]
        let zero_copy = self.config.zero_copy;
        match reply.body {
            ReplyBody::Empty => {
                let _ = send_head(&mut c.conn, stream_id, &reply.head, true);
            }
            ReplyBody::Bytes(b) => {
                if send_head(&mut c.conn, stream_id, &reply.head, false).is_ok() {
                    let _ = c.conn.send_data(stream_id, b, true);
                }
            }
            ReplyBody::File {
                file,
                start,
                len,
                map,
            } => {
                if send_head(&mut c.conn, stream_id, &reply.head, false).is_ok() {
                    queue_body(c, stream_id, file, map, start, len, zero_copy);
                }
            }
            ReplyBody::Parts { file, segs } => {
                if send_head(&mut c.conn, stream_id, &reply.head, false).is_ok() {
                    let segs = segs.into();
                    c.bodies.insert(stream_id, Body::Parts { file, segs });
                    feed(c, stream_id);
                }
            }
        }
    }
}

/// Queues a reply's head on an HTTP/2 connection; a cached file's shared
/// `200` fields go through the connection's shared-head path (no HPACK
/// encoding when the previous response on the connection had the same head).
fn send_head(
    conn: &mut Connection,
    stream_id: StreamId,
    head: &Head,
    end_stream: bool,
) -> Result<(), UserError> {
    match head {
        Head::Ok200(h) => conn.send_response_shared(stream_id, http::StatusCode::OK, h, end_stream),
        Head::Owned(r) => conn.send_response_head(stream_id, r.status(), r.headers(), end_stream),
    }
}

/// access log: an HTTP/1.1 request's reply, logged when an access log is on.
fn logged_h1_reply(
    access: &mut Option<AccessLog>,
    peer: Option<&str>,
    req: &http::Request<()>,
    reply: impl FnOnce(&http::Request<()>) -> Reply,
) -> Reply {
    let Some(log) = access.as_mut() else {
        return reply(req);
    };
    let start = Instant::now();
    let r = reply(req);
    log.write(&Entry {
        peer: peer.unwrap_or("-"),
        method: req.method(),
        path: req.uri().path_and_query().map_or("/", |p| p.as_str()),
        status: r.head.status().as_u16(),
        bytes: r.body.len(),
        duration: start.elapsed(),
        stream: None,
    });
    r
}

/// The file handler's answer, the same for HTTP/2 and HTTP/1.1: a response
/// head with its fields (`content-length` included) and the body to send.
pub(crate) struct Reply {
    /// Status and fields.
    pub(crate) head: Head,
    /// What follows the head.
    pub(crate) body: ReplyBody,
}

/// Status and fields of a [`Reply`]: built for this reply, or a cached
/// file's prebuilt `200` fields, shared (no `HeaderMap` clone and drop per
/// request; the protocol sides encode from the borrowed map).
pub(crate) enum Head {
    /// A head built for this reply.
    Owned(http::Response<()>),
    /// `200 OK` with a cached file's fields.
    Ok200(Arc<http::HeaderMap>),
}

impl Head {
    /// The status code.
    pub(crate) fn status(&self) -> http::StatusCode {
        match self {
            Head::Owned(r) => r.status(),
            Head::Ok200(_) => http::StatusCode::OK,
        }
    }

    /// The header fields.
    pub(crate) fn headers(&self) -> &http::HeaderMap {
        match self {
            Head::Owned(r) => r.headers(),
            Head::Ok200(h) => h,
        }
    }
}

impl From<http::Response<()>> for Head {
    fn from(r: http::Response<()>) -> Head {
        Head::Owned(r)
    }
}

impl ReplyBody {
    /// Body length in bytes.
    pub(crate) fn len(&self) -> u64 {
        match self {
            ReplyBody::Empty => 0,
            ReplyBody::Bytes(b) => b.len() as u64,
            ReplyBody::File { len, .. } => *len,
            ReplyBody::Parts { segs, .. } => segs
                .iter()
                .map(|s| match s {
                    Seg::Bytes(b) => b.len() as u64,
                    Seg::File { len, .. } => *len,
                })
                .sum(),
        }
    }
}

/// Body of a [`Reply`].
pub(crate) enum ReplyBody {
    /// No body (HEAD, 304, 405, 416, empty files).
    Empty,
    /// In-memory content (cached small files, error texts).
    Bytes(Bytes),
    /// `len` bytes of `file` from `start` (copied or `sendfile`d by the protocol side).
    File {
        /// The open file.
        file: Rc<File>,
        /// First byte.
        start: u64,
        /// Byte count (> 0).
        len: u64,
        /// The file's read-only mapping, when zero-copy sends should use it
        /// (set for ranges of at least [`ZERO_COPY_MIN`] unless
        /// [`ServerConfig::sendfile`] or TLS).
        map: Option<Rc<MappedFile>>,
    },
    /// A `multipart/byteranges` body over `file`: part headers and ranges.
    Parts {
        /// The open file.
        file: Rc<File>,
        /// The body in order.
        segs: Vec<Seg>,
    },
}

/// A piece of a [`ReplyBody::Parts`] body.
#[derive(Debug)]
pub(crate) enum Seg {
    /// Delimiter and part headers.
    Bytes(Bytes),
    /// `len` bytes of the file from `start`.
    File {
        /// First byte.
        start: u64,
        /// Byte count (> 0).
        len: u64,
    },
}

/// The static file handler (protocol-neutral): GET/HEAD only (405 + allow),
/// path safety (400/404), conditionals (304), ranges (206, multipart 206, 416).
pub(crate) fn file_reply(
    cache: &mut FileCache,
    root: &DocRoot,
    config: &ServerConfig,
    req: &http::Request<()>,
    now: Instant,
) -> Reply {
    let head = req.method() == http::Method::HEAD;
    if req.method() != http::Method::GET && !head {
        let resp = base(405)
            .header(header::ALLOW, HeaderValue::from_static("GET, HEAD"))
            .header(header::CONTENT_LENGTH, HeaderValue::from_static("0"))
            .body(())
            .expect("static response head");
        return Reply {
            head: resp.into(),
            body: ReplyBody::Empty,
        };
    }
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let ttl = config.file_cache_ttl;
    let f = match cache.lookup(root, path, ttl, now) {
        Ok(f) => f,
        Err(Lookup::BadRequest) => return simple(head, 400, "400 Bad Request\n"),
        Err(_) => return simple(head, 404, "404 Not Found\n"),
    };
    let h = req.headers();
    // One pass over the (few) request fields instead of four hashed lookups
    // when, as usual, none of the conditional or range fields is present.
    let conditional = h.keys().any(|n| {
        n == header::IF_NONE_MATCH
            || n == header::IF_MODIFIED_SINCE
            || n == header::RANGE
            || n == header::IF_RANGE
    });
    if conditional && not_modified(h, f) {
        let mut b = base(304).header(header::ETAG, f.etag.clone());
        if let Some(lm) = &f.last_modified {
            b = b.header(header::LAST_MODIFIED, lm.clone());
        }
        return Reply {
            head: b.body(()).expect("head").into(),
            body: ReplyBody::Empty,
        };
    }
    let spec = if conditional {
        range(h, f)
    } else {
        RangeSpec::Full
    };
    let (status, start, len) = match spec {
        RangeSpec::Full => (200, 0, f.len),
        RangeSpec::Partial { start, end } => (206, start, end - start + 1),
        RangeSpec::Multi(ranges) => return multipart_reply(f, &ranges, head),
        RangeSpec::Unsatisfiable => {
            let resp = base(416)
                .header(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{}", f.len)).expect("ASCII digits"),
                )
                .header(header::CONTENT_LENGTH, HeaderValue::from_static("0"))
                .body(())
                .expect("head");
            return Reply {
                head: resp.into(),
                body: ReplyBody::Empty,
            };
        }
    };
    // The 200 head is built once per cached file and shared; a 206 adjusts a copy.
    let resp = if status == 206 {
        let mut resp = http::Response::new(());
        *resp.headers_mut() = (*f.head200).clone();
        *resp.status_mut() = http::StatusCode::PARTIAL_CONTENT;
        let h = resp.headers_mut();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {}-{}/{}", start, start + len - 1, f.len))
                .expect("ASCII digits"),
        );
        Head::Owned(resp)
    } else {
        Head::Ok200(Arc::clone(&f.head200))
    };
    let body = if head || len == 0 {
        ReplyBody::Empty
    } else if let Some(content) = &f.content {
        ReplyBody::Bytes(content.slice(start as usize..(start + len) as usize))
    } else {
        let mapped = config.zero_copy && !config.sendfile && len >= ZERO_COPY_MIN;
        #[cfg(feature = "tls")]
        let mapped = mapped && config.tls.is_none();
        ReplyBody::File {
            file: Rc::clone(&f.file),
            start,
            len,
            map: if mapped { f.mapped() } else { None },
        }
    };
    Reply { head: resp, body }
}

/// A 206 `multipart/byteranges` (RFC 9110 §14.6) of a cached file: one body
/// for small files, else part headers and file ranges copied in order.
fn multipart_reply(f: &CachedFile, ranges: &[(u64, u64)], head: bool) -> Reply {
    let ct = f
        .head200
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    let m = files::Multipart::new(ranges, f.len, ct);
    let mut resp = http::Response::new(());
    *resp.headers_mut() = (*f.head200).clone();
    *resp.status_mut() = http::StatusCode::PARTIAL_CONTENT;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(m.len));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&m.content_type).expect("ASCII boundary"),
    );
    let body = if head {
        ReplyBody::Empty
    } else if let Some(content) = &f.content {
        let mut v = Vec::with_capacity(m.len as usize);
        for (part, range) in &m.parts {
            v.extend_from_slice(part.as_bytes());
            if let Some((s, n)) = *range {
                v.extend_from_slice(&content[s as usize..(s + n) as usize]);
            }
        }
        ReplyBody::Bytes(Bytes::from(v))
    } else {
        let mut segs = Vec::with_capacity(2 * m.parts.len());
        for (part, range) in m.parts {
            segs.push(Seg::Bytes(Bytes::from(part)));
            if let Some((start, len)) = range {
                segs.push(Seg::File { start, len });
            }
        }
        ReplyBody::Parts {
            file: Rc::clone(&f.file),
            segs,
        }
    };
    Reply {
        head: resp.into(),
        body,
    }
}

/// Logs a one-line reason about a connection's peer.
fn log_peer(sock: &mio::net::TcpStream, what: &str) {
    match sock.peer_addr() {
        Ok(a) => eprintln!("{a}: {what}"),
        Err(_) => eprintln!("{what}"),
    }
}

/// Feeds ciphertext to a TLS connection and its plaintext to the core;
/// handshake output goes to `out`. `false`: the connection must end (TLS
/// failure or refused protocol: logged, alert queued; or an HTTP/2
/// connection error: GOAWAY queued).
#[cfg(feature = "tls")]
fn tls_recv(
    t: &mut super::tls_io::TlsIo,
    sock: &mio::net::TcpStream,
    conn: &mut Connection,
    out: &mut OutQueue,
    now: Duration,
    data: &[u8],
) -> bool {
    use super::tls_io::RecvError;
    let mut wire = Vec::new();
    let r = t.recv(data, &mut wire).map(|p| p.len());
    if !wire.is_empty() {
        out.push_bytes(Bytes::from(wire));
    }
    match r {
        // HTTP/1.1 (ALPN http/1.1 or none): the first request bytes wait in
        // the session for the HTTP/1.1 connection (`switch_tls_h1`).
        Ok(_) if t.is_http1() => {
            t.keep_plain();
            true
        }
        Ok(_) => {
            let plain = t.last_plain();
            plain.is_empty() || conn.recv(now, plain).is_ok()
        }
        Err(RecvError::Tls(crate::tls::TlsError::NotTls)) => {
            let what = if data.starts_with(b"PRI * HTTP/2.0") {
                "h2c preface sent to the TLS port"
            } else {
                "plain (non-TLS) bytes sent to the TLS port, e.g. http:// instead of https://"
            };
            log_peer(sock, &format!("{what}; closing"));
            false
        }
        Err(RecvError::Tls(e)) => {
            log_peer(sock, &format!("{e}; closing"));
            false
        }
    }
}

/// After reading: a TLS connection that failed, or is still handshaking,
/// only flushes its handshake/alert bytes this turn. `Some`: the turn is over.
#[cfg(feature = "tls")]
fn tls_gate(c: &mut Client, eof: bool) -> io::Result<Option<Next>> {
    let Some(t) = c.tls.as_mut() else {
        return Ok(None);
    };
    if t.is_h2() {
        return Ok(None);
    }
    let failed = c.closing;
    let mut w = SockWriter(c.sock.as_raw_fd());
    let flushed = c.out.flush(&mut w)?;
    if failed || eof {
        // Best effort: the alert was written if the socket took it.
        return Ok(Some(Next::Close));
    }
    let _ = flushed;
    Ok(Some(Next::Keep))
}

/// What an HTTP/1.1 connection's turn means for the connection.
fn h1_next(last_active: &mut Instant, pre: Pre) -> Next {
    match pre {
        Pre::Keep { active } | Pre::Again { active } => {
            if active {
                *last_active = Instant::now();
            }
            if matches!(pre, Pre::Again { .. }) {
                Next::Again
            } else {
                Next::Keep
            }
        }
        _ => Next::Close,
    }
}

/// Conditional GET/HEAD (RFC 9110 §13.2.2: if-none-match wins).
fn not_modified(h: &http::HeaderMap, f: &CachedFile) -> bool {
    match h.get(header::IF_NONE_MATCH) {
        Some(v) => files::none_match(v.as_bytes(), &f.etag_str),
        None => match (h.get(header::IF_MODIFIED_SINCE), f.mtime_secs) {
            (Some(v), Some(m)) => files::not_modified_since(v.as_bytes(), m),
            _ => false,
        },
    }
}

/// The requested range (RFC 9110 §14.2), ignored when `if-range` does not
/// match the current validator.
fn range(h: &http::HeaderMap, f: &CachedFile) -> RangeSpec {
    let range = match h.get(header::RANGE) {
        Some(v) => files::parse_range(v.as_bytes(), f.len),
        None => RangeSpec::Full,
    };
    if let Some(ir) = h.get(header::IF_RANGE) {
        let ir = ir.as_bytes();
        let matches = ir == f.etag_str.as_bytes()
            || f.last_modified
                .as_ref()
                .is_some_and(|lm| lm.as_bytes() == ir);
        if !matches {
            return RangeSpec::Full;
        }
    }
    range
}

/// Queues `len` body bytes of `file` from `start` after the response head:
/// large ranges by `sendfile`, others copied in [`FILE_CHUNK`] pieces as the
/// stream drains ([`feed`]).
fn queue_body(
    c: &mut Client,
    stream_id: StreamId,
    file: Rc<File>,
    map: Option<Rc<MappedFile>>,
    start: u64,
    len: u64,
    zero_copy: bool,
) {
    if zero_copy && len >= ZERO_COPY_MIN {
        if c.conn.send_data_external(stream_id, len, true).is_ok() {
            c.bodies.insert(stream_id, Body::Zero { file, start, map });
        }
    } else {
        c.bodies.insert(
            stream_id,
            Body::Copy {
                file,
                offset: start,
                remaining: len,
            },
        );
        feed(c, stream_id);
    }
}

fn base(status: u16) -> http::response::Builder {
    http::Response::builder()
        .status(status)
        .header(header::SERVER, HeaderValue::from_static("h2o"))
}

/// A small text response (400/404); HEAD gets the head only.
fn simple(head: bool, status: u16, body: &'static str) -> Reply {
    let resp = base(status)
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )
        .header(header::CONTENT_LENGTH, HeaderValue::from(body.len()))
        .body(())
        .expect("static response head");
    Reply {
        head: resp.into(),
        body: if head {
            ReplyBody::Empty
        } else {
            ReplyBody::Bytes(Bytes::from_static(body.as_bytes()))
        },
    }
}

/// Queues the next [`COPY_PIECE`] of a copied file body.
fn feed(c: &mut Client, stream_id: StreamId) {
    if let Some(Body::Parts { .. }) = c.bodies.get(&stream_id) {
        return feed_parts(c, stream_id);
    }
    let Some(Body::Copy {
        file,
        offset,
        remaining,
    }) = c.bodies.get_mut(&stream_id)
    else {
        return;
    };
    let want = (*remaining).min(COPY_PIECE as u64) as usize;
    let Ok(chunk) = read_piece(file, *offset, want) else {
        // The file shrank or failed under us: the promised length cannot be met.
        c.bodies.remove(&stream_id);
        let _ = c.conn.reset(stream_id, ErrorCode::INTERNAL_ERROR);
        return;
    };
    *offset += want as u64;
    *remaining -= want as u64;
    let last = *remaining == 0;
    if last {
        c.bodies.remove(&stream_id);
    }
    if c.conn.send_data(stream_id, chunk, last).is_err() {
        c.bodies.remove(&stream_id);
    }
}

/// Queues the next pieces (up to [`FILE_CHUNK`] bytes) of a multipart body.
fn feed_parts(c: &mut Client, stream_id: StreamId) {
    let Some(Body::Parts { file, segs }) = c.bodies.get_mut(&stream_id) else {
        return;
    };
    let mut budget = FILE_CHUNK;
    while budget > 0 {
        let Some(seg) = segs.pop_front() else {
            break;
        };
        let data = match seg {
            Seg::Bytes(b) => b,
            Seg::File { start, len } => {
                let want = len.min(budget as u64);
                let Ok(chunk) = read_piece(file, start, want as usize) else {
                    // The file shrank or failed: the promised length cannot be met.
                    c.bodies.remove(&stream_id);
                    let _ = c.conn.reset(stream_id, ErrorCode::INTERNAL_ERROR);
                    return;
                };
                if want < len {
                    segs.push_front(Seg::File {
                        start: start + want,
                        len: len - want,
                    });
                }
                chunk
            }
        };
        budget = budget.saturating_sub(data.len());
        let last = segs.is_empty();
        if c.conn.send_data(stream_id, data, last).is_err() || last {
            c.bodies.remove(&stream_id);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stall_needs_waiting_output_and_no_progress_for_the_whole_limit() {
        let limit = Duration::from_secs(30);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut st = Stall::default();
        // Nothing waiting: never a stall, however long.
        assert!(!st.check(false, (0, 0), at(0), limit));
        assert!(!st.check(false, (0, 0), at(100), limit));
        // Waiting from t=100 without progress: a stall at t=130, not before.
        assert!(!st.check(true, (0, 10), at(100), limit));
        assert!(!st.check(true, (0, 10), at(129), limit));
        assert!(st.check(true, (0, 10), at(130), limit));
        // Progress (DATA written, or the queue moved) restarts the clock.
        let mut st = Stall::default();
        assert!(!st.check(true, (0, 10), at(0), limit));
        assert!(!st.check(true, (5, 10), at(29), limit));
        assert!(!st.check(true, (5, 10), at(58), limit));
        assert!(!st.check(true, (5, 3), at(59), limit));
        assert!(st.check(true, (5, 3), at(89), limit));
        // Output drained meanwhile: the next wait starts afresh.
        let mut st = Stall::default();
        assert!(!st.check(true, (0, 10), at(0), limit));
        assert!(!st.check(false, (0, 0), at(20), limit));
        assert!(!st.check(true, (0, 10), at(40), limit));
        assert!(!st.check(true, (0, 10), at(69), limit));
        assert!(st.check(true, (0, 10), at(70), limit));
    }

    #[test]
    fn stop_handle_is_shared_and_idempotent() {
        let a = StopHandle::new();
        let b = a.clone();
        assert!(!a.is_stopped() && !b.is_stopped());
        b.stop();
        b.stop();
        assert!(a.is_stopped());
        assert!(format!("{a:?}").contains("stopped: true"));
    }
}
