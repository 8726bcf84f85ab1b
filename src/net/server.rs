//! Event-driven HTTP/2 cleartext (h2c, prior knowledge) static file server.
//!
//! Each worker thread runs one `mio` poll (epoll) loop over non-blocking
//! sockets and drives many [`Connection`]s. All workers share one listening
//! socket (registered edge-triggered in every worker's poll; whoever accepts
//! first owns the connection), so `--threads N` spreads connections over N cores.
//!
//! One loop turn of a connection: read until `WouldBlock` → [`Connection::recv`]
//! → handle events → [`Connection::write_chunks_ext`] (repeated while handling
//! events produces more output, up to a batch limit) → one flush of the output
//! queue: every frame of the turn leaves in one `writev` (`sendmsg`), except
//! that zero-copy DATA payloads ([`Chunk::External`]) go out with `sendfile(2)`
//! between the vectored writes (frame header + `MSG_MORE`, then the file range).
//! Partial writes keep the remaining chunks for the next writable event.
//!
//! Timers: [`Connection::handle_timeout`] gets the time since server start; the
//! loop wakes at most once per second while connections exist to fire timers
//! and close idle connections ([`ServerConfig::idle_timeout`]).
//!
//! Files: bodies of at least [`ZERO_COPY_MIN`] bytes use
//! [`Connection::send_data_external`] + `sendfile` when
//! [`ServerConfig::zero_copy`] is on; otherwise (and for small files) they are
//! read into `Bytes` and queued with [`Connection::send_data`]. Open files, their
//! metadata and the content of files up to [`SMALL_FILE`] bytes are cached per
//! worker for [`ServerConfig::file_cache_ttl`]; a hit re-checks length and
//! mtime with `fstat` when the last check is older than 10 ms, so in-place
//! changes show within 10 ms and a file replaced by rename within the TTL. HTTP semantics of files are in
//! [`super::files`]; all HTTP/2 is spoken by the core.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, IoSlice, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http::header::{self, HeaderValue};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use super::files::{self, DocRoot, FileInfo, Lookup, RangeSpec};
use super::ws::{ConnWs, Pre, WsConfig}; // ws hook
use crate::conn::{Chunk, Config, Connection, Event};
use crate::error::ErrorCode;
use crate::frame::StreamId;

/// Size of one `send_data` chunk for copied file bodies.
pub const FILE_CHUNK: usize = 256 << 10;
/// Bodies at least this large go out with `sendfile` when zero-copy is on.
pub const ZERO_COPY_MIN: u64 = 64 << 10;
/// Files up to this size have their content cached (with the metadata).
pub const SMALL_FILE: u64 = 64 << 10;
/// Output produced per connection and loop turn before flushing.
const WRITE_BATCH: usize = 1 << 20;
/// Bytes written to one connection before other connections get a turn.
const TURN_BUDGET: usize = 4 << 20;
/// Size of the (per-worker) socket read buffer.
const READ_BUF: usize = 256 << 10;
/// At most this many slices per `writev`.
const MAX_IOV: usize = 128;
/// A cached file's length and mtime are re-checked (fstat) when its last
/// check is older than this.
const REVALIDATE: Duration = Duration::from_millis(10);
/// Entries of the per-worker file cache.
const CACHE_CAP: usize = 1024;
const LISTENER: Token = Token(usize::MAX);

/// Settings of [`serve_with`].
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Worker threads, each with its own poll loop (at least 1).
    pub threads: usize,
    /// Send large file bodies with `sendfile(2)` instead of copying them.
    pub zero_copy: bool,
    /// Close connections without any I/O for this long (GOAWAY first).
    pub idle_timeout: Duration,
    /// How long cached file metadata (and small-file content) stays valid.
    /// `Duration::ZERO` disables the cache.
    pub file_cache_ttl: Duration,
    /// HTTP/2 settings of every connection.
    pub conn: Config,
    /// WebSocket endpoint (see [`super::ws`]); set `conn.enable_connect_protocol`
    /// too for RFC 8441. Default: none.
    pub ws: WsConfig, // ws hook
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            threads: 1,
            zero_copy: true,
            idle_timeout: Duration::from_secs(60),
            file_cache_ttl: Duration::from_secs(1),
            conn: Config::default(),
            ws: WsConfig::default(), // ws hook
        }
    }
}

/// Serves forever with [`ServerConfig::default`] (one worker, zero-copy).
pub fn serve(listener: TcpListener, root: DocRoot) -> io::Result<()> {
    serve_with(listener, root, ServerConfig::default())
}

/// Serves forever: `config.threads` workers share `listener`.
pub fn serve_with(listener: TcpListener, root: DocRoot, config: ServerConfig) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let root = Arc::new(root);
    let config = Arc::new(config);
    let origin = Instant::now();
    let mut handles = Vec::new();
    for _ in 1..config.threads.max(1) {
        let l = listener.try_clone()?;
        let (root, config) = (Arc::clone(&root), Arc::clone(&config));
        handles.push(std::thread::spawn(move || {
            let r = Worker::new(root, config, origin)
                .and_then(|mut w| w.run(Some(mio::net::TcpListener::from_std(l)), None));
            if let Err(e) = r {
                eprintln!("worker: {e}");
            }
        }));
    }
    Worker::new(root, config, origin)?.run(Some(mio::net::TcpListener::from_std(listener)), None)
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

// ---------------------------------------------------------------- output queue

/// The write side of a socket, as the output queue uses it (a trait so tests
/// can count calls and force short writes).
pub trait WriteSide {
    /// One vectored write; `more`: further output follows right away
    /// (`MSG_MORE`, so a frame header and its `sendfile` payload share segments).
    fn writev(&mut self, bufs: &[IoSlice<'_>], more: bool) -> io::Result<usize>;
    /// Writes up to `len` bytes of `file` from `offset` (`sendfile(2)`).
    fn sendfile(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize>;
}

/// One queued piece of output.
#[derive(Debug)]
pub enum Out {
    /// Bytes to write.
    Bytes(Bytes),
    /// `len` bytes of `file` from `offset`, sent with `sendfile`.
    File {
        /// The file.
        file: Rc<File>,
        /// Position in the file.
        offset: u64,
        /// Bytes left.
        len: usize,
    },
}

/// Outcome of [`OutQueue::flush`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// Everything was written.
    Done,
    /// The socket is full; the rest stays queued.
    Blocked,
}

/// Output waiting for the socket: `Bytes` slices are gathered into one
/// `writev`, file ranges go out with `sendfile`.
#[derive(Debug, Default)]
pub struct OutQueue {
    items: VecDeque<Out>,
    len: usize,
}

impl OutQueue {
    /// Queued bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Appends bytes.
    pub fn push_bytes(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.len += b.len();
            self.items.push_back(Out::Bytes(b));
        }
    }

    /// Appends a file range.
    pub fn push_file(&mut self, file: Rc<File>, offset: u64, len: usize) {
        if len > 0 {
            self.len += len;
            self.items.push_back(Out::File { file, offset, len });
        }
    }

    /// Writes as much as the socket takes: consecutive `Bytes` in one
    /// `writev`, file ranges with `sendfile`. Short writes keep the rest.
    /// A file that ends early is an `UnexpectedEof` error (the frame header
    /// promised those bytes: the connection must be dropped).
    pub fn flush<W: WriteSide>(&mut self, w: &mut W) -> io::Result<Flush> {
        loop {
            let res = match self.items.front() {
                None => return Ok(Flush::Done),
                Some(Out::File { file, offset, len }) => w.sendfile(file, *offset, *len),
                Some(Out::Bytes(_)) => {
                    let mut iov = [IoSlice::new(&[]); MAX_IOV];
                    let mut n = 0;
                    for it in &self.items {
                        match it {
                            Out::Bytes(b) if n < MAX_IOV => {
                                iov[n] = IoSlice::new(b);
                                n += 1;
                            }
                            _ => break,
                        }
                    }
                    let more = self.items.len() > n;
                    w.writev(&iov[..n], more)
                }
            };
            let mut n = match res {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flush::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Err(match self.items.front() {
                    Some(Out::File { .. }) => {
                        io::Error::new(io::ErrorKind::UnexpectedEof, "file shorter than announced")
                    }
                    _ => io::Error::new(io::ErrorKind::WriteZero, "socket took no bytes"),
                });
            }
            self.len -= n;
            while n > 0 {
                let front = self.items.front_mut().expect("wrote queued bytes");
                match front {
                    Out::Bytes(b) => {
                        if b.len() <= n {
                            n -= b.len();
                            self.items.pop_front();
                        } else {
                            b.advance(n);
                            n = 0;
                        }
                    }
                    Out::File { offset, len, .. } => {
                        if *len <= n {
                            n -= *len;
                            self.items.pop_front();
                        } else {
                            *offset += n as u64;
                            *len -= n;
                            n = 0;
                        }
                    }
                }
            }
        }
    }
}

/// [`WriteSide`] of a raw socket descriptor (`sendmsg` + `sendfile`).
struct SockWriter(RawFd);

#[allow(unsafe_code)] // sendmsg(2) and sendfile(2)
impl WriteSide for SockWriter {
    fn writev(&mut self, bufs: &[IoSlice<'_>], more: bool) -> io::Result<usize> {
        // SAFETY: an all-zero msghdr is valid (no name, no control data).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = bufs.len() as _;
        let flags = libc::MSG_NOSIGNAL | if more { libc::MSG_MORE } else { 0 };
        // SAFETY: IoSlice is ABI-compatible with iovec (std guarantees it on
        // unix); the slices outlive the call; msg points to no other memory;
        // self.0 is an open socket owned by the caller for the whole call.
        let n = unsafe { libc::sendmsg(self.0, &msg, flags) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    fn sendfile(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        let mut off = offset as libc::off_t;
        // SAFETY: both descriptors are open for the whole call (`file` is
        // borrowed, the socket is owned by the caller); `off` is a valid,
        // exclusively borrowed off_t the kernel updates.
        let n = unsafe { libc::sendfile(self.0, file.as_raw_fd(), &mut off, len.min(0x7fff_f000)) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

// ---------------------------------------------------------------- file cache

/// Cached metadata (and, for small files, content) of one path.
struct CachedFile {
    file: Rc<File>,
    len: u64,
    etag: HeaderValue,
    etag_str: String,
    last_modified: Option<HeaderValue>,
    mtime_secs: Option<u64>,
    modified: Option<std::time::SystemTime>,
    /// Whole content, for files up to [`SMALL_FILE`].
    content: Option<Bytes>,
    at: Instant,
    /// Last time length and mtime were re-checked.
    checked: Instant,
    /// Header fields of the full 200 response.
    head200: http::HeaderMap,
}

impl CachedFile {
    fn new(info: FileInfo, now: Instant) -> io::Result<CachedFile> {
        let etag_str = info.etag();
        let content = if info.len <= SMALL_FILE {
            let mut v = vec![0u8; info.len as usize];
            info.file.read_exact_at(&mut v, 0)?;
            Some(Bytes::from(v))
        } else {
            None
        };
        let etag = HeaderValue::from_str(&etag_str).expect("etag is visible ASCII");
        let last_modified = info
            .last_modified()
            .and_then(|s| HeaderValue::from_str(&s).ok());
        let mut head200 = http::HeaderMap::with_capacity(8);
        head200.insert(header::SERVER, HeaderValue::from_static("h2o"));
        head200.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(info.content_type),
        );
        head200.insert(header::CONTENT_LENGTH, HeaderValue::from(info.len));
        head200.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        head200.insert(header::ETAG, etag.clone());
        if let Some(lm) = &last_modified {
            head200.insert(header::LAST_MODIFIED, lm.clone());
        }
        Ok(CachedFile {
            etag,
            last_modified,
            head200,
            mtime_secs: info.mtime_secs(),
            modified: info.modified,
            len: info.len,
            file: Rc::new(info.file),
            etag_str,
            content,
            at: now,
            checked: now,
        })
    }
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
    /// Announced with `send_data_external`: external byte `k` is file byte `start + k`.
    Zero { file: Rc<File>, start: u64 },
}

struct Client {
    sock: mio::net::TcpStream,
    conn: Connection,
    bodies: HashMap<StreamId, Body>,
    out: OutQueue,
    last_active: Instant,
    /// A connection error was detected: drain the GOAWAY and close.
    failed: bool,
    /// HTTP/1.1 sniffing, raw and RFC 8441 WebSockets (src/net/ws.rs).
    ws: ConnWs, // ws hook
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
    cache: HashMap<String, CachedFile>,
    again: Vec<usize>,
}

impl Worker {
    fn new(root: Arc<DocRoot>, config: Arc<ServerConfig>, origin: Instant) -> io::Result<Self> {
        Ok(Worker {
            poll: Poll::new()?,
            root,
            config,
            origin,
            clients: Slab::new(),
            rbuf: vec![0u8; READ_BUF],
            chunks: Vec::with_capacity(256),
            cache: HashMap::new(),
            again: Vec::new(),
        })
    }

    /// Runs until there is no listener and no connection left (never with a listener).
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
        if let Some(s) = initial {
            if let Some(key) = self.add(s)? {
                self.drive_key(key, ReadMode::Yes);
            }
        }
        let mut events = Events::with_capacity(1024);
        let tick = Duration::from_secs(1);
        let mut next_tick = Instant::now() + tick;
        loop {
            if listener.is_none() && self.clients.is_empty() {
                return Ok(());
            }
            let timeout = if !self.again.is_empty() {
                Some(Duration::ZERO)
            } else if self.clients.is_empty() {
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
            }
        }
    }

    fn accept(&mut self, l: &mio::net::TcpListener) {
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
                    // EMFILE and friends: report, try again on the next event.
                    eprintln!("accept: {e}");
                    return;
                }
            }
        }
    }

    fn add(&mut self, mut sock: mio::net::TcpStream) -> io::Result<Option<usize>> {
        let _ = sock.set_nodelay(true);
        let entry = self.clients.vacant_entry();
        let key = entry.key();
        self.poll.registry().register(
            &mut sock,
            Token(key),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let mut conn = Connection::server(self.config.conn.clone());
        conn.handle_timeout(self.origin.elapsed());
        entry.insert(Client {
            sock,
            conn,
            bodies: HashMap::new(),
            out: OutQueue::default(),
            last_active: Instant::now(),
            failed: false,
            ws: ConnWs::new(&self.config.ws), // ws hook
        });
        Ok(Some(key))
    }

    /// Fires connection timers and closes idle connections.
    fn timers(&mut self, now: Instant) {
        let elapsed = self.origin.elapsed();
        let idle = self.config.idle_timeout;
        let mut due = Vec::new();
        let mut force = Vec::new();
        for (key, c) in self.clients.iter_mut() {
            let mut touched = false;
            if c.conn.poll_timeout().is_some_and(|t| t <= elapsed) {
                c.conn.handle_timeout(elapsed);
                touched = true;
            }
            if now.duration_since(c.last_active) >= idle {
                if c.failed {
                    // Already told to go away a tick ago and still stuck
                    // (e.g. the peer reads nothing): drop it.
                    force.push(key);
                    continue;
                }
                c.conn.shutdown(ErrorCode::NO_ERROR);
                c.failed = true;
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
        for key in due {
            self.drive_key(key, ReadMode::No);
        }
    }

    fn drive_key(&mut self, key: usize, read: ReadMode) {
        let Some(mut c) = self.clients.try_remove(key) else {
            return;
        };
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
        // ---- ws hook begin: HTTP/1.1 sniffing and raw WebSocket connections
        if !c.ws.is_h2() {
            let mut w = SockWriter(c.sock.as_raw_fd());
            let (readable, drain) = (read != ReadMode::No, read == ReadMode::Drain);
            let (rbuf, out) = (&mut self.rbuf, &mut c.out);
            match c.ws.drive_pre_h2(
                &mut c.sock,
                &mut c.conn,
                rbuf,
                readable,
                drain,
                c.failed,
                out,
                &mut w,
            )? {
                Pre::H2 { failed } => c.failed |= failed,
                p @ (Pre::Keep { active } | Pre::Again { active }) => {
                    if active {
                        c.last_active = Instant::now();
                    }
                    let again = matches!(p, Pre::Again { .. });
                    return Ok(if again { Next::Again } else { Next::Keep });
                }
                Pre::Close => return Ok(Next::Close),
            }
        }
        // ---- ws hook end
        let mut eof = false;
        let mut active = false;
        if read != ReadMode::No && !c.failed {
            // The core timestamps what `recv` sees (PING RTTs for adaptive
            // windows) with the last time it was given: give it now.
            c.conn.handle_timeout(self.origin.elapsed());
            loop {
                match c.sock.read(&mut self.rbuf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        active = true;
                        if c.conn.recv(self.origin.elapsed(), &self.rbuf[..n]).is_err() {
                            c.failed = true;
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
        }
        let mut written = 0usize;
        let mut w = SockWriter(c.sock.as_raw_fd());
        loop {
            // Produce: events and frames, until the batch is full or nothing moves.
            if c.out.is_empty() {
                loop {
                    let mut handled = false;
                    while let Some(ev) = c.conn.poll_event() {
                        handled = true;
                        self.handle_event(c, ev);
                    }
                    self.chunks.clear();
                    let n = c.conn.write_chunks_ext(
                        self.origin.elapsed(),
                        &mut self.chunks,
                        WRITE_BATCH,
                    );
                    for ch in self.chunks.drain(..) {
                        match ch {
                            Chunk::Bytes(b) => c.out.push_bytes(b),
                            Chunk::External {
                                stream_id,
                                offset_in_body,
                                len,
                            } => match c.bodies.get(&stream_id) {
                                Some(Body::Zero { file, start }) => c.out.push_file(
                                    Rc::clone(file),
                                    start + offset_in_body,
                                    len as usize,
                                ),
                                // Cannot happen: external data is only
                                // announced for Zero bodies, kept until closed.
                                _ => return Err(io::Error::other("external chunk without a body")),
                            },
                        }
                    }
                    // Writing may have queued events (SendReady, Closed): one
                    // more round handles them and batches what they produce.
                    if c.out.len() >= WRITE_BATCH || (n == 0 && !handled) {
                        break;
                    }
                }
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
        if eof || c.conn.is_closed() || (c.failed && c.out.is_empty() && !c.conn.wants_write()) {
            return Ok(Next::Close);
        }
        Ok(Next::Keep)
    }

    fn handle_event(&mut self, c: &mut Client, ev: Event) {
        match ev {
            // ws hook: RFC 8441 extended CONNECT, answered by src/net/ws.rs
            Event::Request {
                stream_id,
                ref request,
                ..
            } if c.ws.on_request(&mut c.conn, stream_id, request) => {}
            Event::Request {
                stream_id, request, ..
            } => self.respond(c, stream_id, &request),
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
                c.bodies.remove(&stream_id);
                c.ws.on_stream_end(stream_id); // ws hook
            }
            // Request bodies are ignored (only GET/HEAD are served); the rest is
            // connection housekeeping the core already did.
            _ => {}
        }
    }

    /// Cached file for `path` (resolving and caching on a miss or when stale).
    fn lookup(&mut self, path: &str) -> Result<&CachedFile, Lookup> {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let ttl = self.config.file_cache_ttl;
        let now = Instant::now();
        // Fresh: young enough (a file replaced by rename is seen after the TTL)
        // and unchanged in place (an fstat, at most every REVALIDATE: same
        // length and mtime).
        let fresh = ttl > Duration::ZERO
            && self.cache.get_mut(path).is_some_and(|e| {
                if now.duration_since(e.at) >= ttl {
                    return false;
                }
                if now.duration_since(e.checked) < REVALIDATE {
                    return true;
                }
                e.checked = now;
                e.file
                    .metadata()
                    .is_ok_and(|m| m.len() == e.len && m.modified().ok() == e.modified)
            });
        if !fresh {
            let info = self.root.resolve(path)?;
            let entry = CachedFile::new(info, now).map_err(|_| Lookup::NotFound)?;
            if self.cache.len() >= CACHE_CAP {
                self.cache.clear();
            }
            self.cache.insert(path.to_owned(), entry);
        }
        Ok(self.cache.get(path).expect("inserted above"))
    }

    fn respond(&mut self, c: &mut Client, stream_id: StreamId, req: &http::Request<()>) {
        let head = req.method() == http::Method::HEAD;
        if req.method() != http::Method::GET && !head {
            let resp = base(405)
                .header(header::ALLOW, HeaderValue::from_static("GET, HEAD"))
                .header(header::CONTENT_LENGTH, HeaderValue::from_static("0"))
                .body(())
                .expect("static response head");
            let _ = c.conn.send_response(stream_id, resp, true);
            return;
        }
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let zero_copy = self.config.zero_copy;
        let f = match self.lookup(path) {
            Ok(f) => f,
            Err(Lookup::BadRequest) => return simple(c, stream_id, head, 400, "400 Bad Request\n"),
            Err(_) => return simple(c, stream_id, head, 404, "404 Not Found\n"),
        };
        let h = req.headers();
        // Conditional GET/HEAD (RFC 9110 §13.2.2: if-none-match wins).
        let not_modified = match h.get(header::IF_NONE_MATCH) {
            Some(v) => files::none_match(v.as_bytes(), &f.etag_str),
            None => match (h.get(header::IF_MODIFIED_SINCE), f.mtime_secs) {
                (Some(v), Some(m)) => files::not_modified_since(v.as_bytes(), m),
                _ => false,
            },
        };
        if not_modified {
            let mut b = base(304).header(header::ETAG, f.etag.clone());
            if let Some(lm) = &f.last_modified {
                b = b.header(header::LAST_MODIFIED, lm.clone());
            }
            let _ = c
                .conn
                .send_response(stream_id, b.body(()).expect("head"), true);
            return;
        }
        let mut range = match h.get(header::RANGE) {
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
                range = RangeSpec::Full;
            }
        }
        let (status, start, len) = match range {
            RangeSpec::Full => (200, 0, f.len),
            RangeSpec::Partial { start, end } => (206, start, end - start + 1),
            RangeSpec::Unsatisfiable => {
                let resp = base(416)
                    .header(
                        header::CONTENT_RANGE,
                        HeaderValue::from_str(&format!("bytes */{}", f.len)).expect("ASCII digits"),
                    )
                    .header(header::CONTENT_LENGTH, HeaderValue::from_static("0"))
                    .body(())
                    .expect("head");
                let _ = c.conn.send_response(stream_id, resp, true);
                return;
            }
        };
        // The 200 head is built once per cached file; a 206 adjusts a copy.
        let mut resp = http::Response::new(());
        *resp.headers_mut() = f.head200.clone();
        if status == 206 {
            *resp.status_mut() = http::StatusCode::PARTIAL_CONTENT;
            let h = resp.headers_mut();
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            h.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes {}-{}/{}", start, start + len - 1, f.len))
                    .expect("ASCII digits"),
            );
        }
        if head || len == 0 {
            let _ = c.conn.send_response(stream_id, resp, true);
            return;
        }
        if c.conn.send_response(stream_id, resp, false).is_err() {
            return;
        }
        if let Some(content) = &f.content {
            let body = content.slice(start as usize..(start + len) as usize);
            let _ = c.conn.send_data(stream_id, body, true);
        } else if zero_copy && len >= ZERO_COPY_MIN {
            if c.conn.send_data_external(stream_id, len, true).is_ok() {
                c.bodies.insert(
                    stream_id,
                    Body::Zero {
                        file: Rc::clone(&f.file),
                        start,
                    },
                );
            }
        } else {
            c.bodies.insert(
                stream_id,
                Body::Copy {
                    file: Rc::clone(&f.file),
                    offset: start,
                    remaining: len,
                },
            );
            feed(c, stream_id);
        }
    }
}

fn base(status: u16) -> http::response::Builder {
    http::Response::builder()
        .status(status)
        .header(header::SERVER, HeaderValue::from_static("h2o"))
}

fn simple(c: &mut Client, stream_id: StreamId, head: bool, status: u16, body: &'static str) {
    let resp = base(status)
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )
        .header(header::CONTENT_LENGTH, HeaderValue::from(body.len()))
        .body(())
        .expect("static response head");
    if head {
        let _ = c.conn.send_response(stream_id, resp, true);
    } else if c.conn.send_response(stream_id, resp, false).is_ok() {
        let _ = c
            .conn
            .send_data(stream_id, Bytes::from_static(body.as_bytes()), true);
    }
}

/// Queues the next chunk of a copied file body.
fn feed(c: &mut Client, stream_id: StreamId) {
    let Some(Body::Copy {
        file,
        offset,
        remaining,
    }) = c.bodies.get_mut(&stream_id)
    else {
        return;
    };
    let want = (*remaining).min(FILE_CHUNK as u64) as usize;
    let mut chunk = vec![0u8; want];
    if file.read_exact_at(&mut chunk, *offset).is_err() {
        // The file shrank or failed under us: the promised length cannot be met.
        c.bodies.remove(&stream_id);
        let _ = c.conn.reset(stream_id, ErrorCode::INTERNAL_ERROR);
        return;
    }
    *offset += want as u64;
    *remaining -= want as u64;
    let last = *remaining == 0;
    if last {
        c.bodies.remove(&stream_id);
    }
    if c.conn
        .send_data(stream_id, Bytes::from(chunk), last)
        .is_err()
    {
        c.bodies.remove(&stream_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every call; accepts at most `cap` bytes per call.
    struct Fake {
        cap: usize,
        calls: Vec<&'static str>,
        data: Vec<u8>,
        block_after: Option<usize>,
    }

    impl Fake {
        fn new(cap: usize) -> Fake {
            Fake {
                cap,
                calls: Vec::new(),
                data: Vec::new(),
                block_after: None,
            }
        }
        fn gate(&mut self) -> io::Result<()> {
            if self.block_after.is_some_and(|n| self.calls.len() >= n) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(())
        }
    }

    impl WriteSide for Fake {
        fn writev(&mut self, bufs: &[IoSlice<'_>], _more: bool) -> io::Result<usize> {
            self.gate()?;
            self.calls.push("writev");
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.cap - n);
                self.data.extend_from_slice(&b[..take]);
                n += take;
                if n == self.cap {
                    break;
                }
            }
            Ok(n)
        }
        fn sendfile(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
            self.gate()?;
            self.calls.push("sendfile");
            let mut v = vec![0u8; len.min(self.cap)];
            let n = file.read_at(&mut v, offset)?;
            self.data.extend_from_slice(&v[..n]);
            Ok(n)
        }
    }

    #[test]
    fn many_frames_leave_in_one_writev() {
        let mut p = crate::pair::Pair::new(Config::default(), Config::default());
        p.drive();
        let id = p
            .client
            .send_request(http::Request::get("http://x/").body(()).unwrap(), true)
            .unwrap();
        p.drive();
        let s = &mut p.server;
        s.send_response(id, http::Response::new(()), false).unwrap();
        for i in 0..20u8 {
            s.send_data(id, Bytes::from(vec![i; 100]), i == 19).unwrap();
        }
        s.ping([1; 8]);
        let mut chunks = Vec::new();
        let total = s.write_chunks_ext(Duration::ZERO, &mut chunks, 1 << 20);
        assert!(chunks.len() > 3, "{}", chunks.len());
        let mut q = OutQueue::default();
        for ch in chunks {
            match ch {
                Chunk::Bytes(b) => q.push_bytes(b),
                Chunk::External { .. } => panic!("no external data queued"),
            }
        }
        let mut f = Fake::new(usize::MAX);
        assert_eq!(q.flush(&mut f).unwrap(), Flush::Done);
        assert_eq!(f.calls, ["writev"]);
        assert_eq!(f.data.len(), total);
        // Same bytes as the contiguous writer would give.
        assert!(q.is_empty());
    }

    #[test]
    fn short_writes_resume_exactly() {
        let mut q = OutQueue::default();
        let mut want = Vec::new();
        for i in 0..50u8 {
            let b = vec![i; 1 + i as usize * 3];
            want.extend_from_slice(&b);
            q.push_bytes(Bytes::from(b));
        }
        // 7 bytes per call, and the socket "fills up" after 5 calls.
        let mut f = Fake::new(7);
        f.block_after = Some(5);
        assert_eq!(q.flush(&mut f).unwrap(), Flush::Blocked);
        assert_eq!(f.calls.len(), 5);
        assert_eq!(q.len(), want.len() - 35);
        f.block_after = None;
        assert_eq!(q.flush(&mut f).unwrap(), Flush::Done);
        assert_eq!(f.data, want);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn file_ranges_interleave_with_bytes() {
        let dir = std::env::temp_dir().join(format!("h2o-outq-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let content: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let file = Rc::new(File::open(&path).unwrap());
        let mut q = OutQueue::default();
        let mut want = Vec::new();
        for k in 0..4u64 {
            let hdr = vec![0xA0 + k as u8; 9];
            want.extend_from_slice(&hdr);
            q.push_bytes(Bytes::from(hdr));
            let off = 100 + k * 2000;
            want.extend_from_slice(&content[off as usize..off as usize + 1500]);
            q.push_file(Rc::clone(&file), off, 1500);
        }
        let mut f = Fake::new(usize::MAX);
        assert_eq!(q.flush(&mut f).unwrap(), Flush::Done);
        assert_eq!(f.calls, ["writev", "sendfile"].repeat(4));
        assert_eq!(f.data, want);
        // Short writes inside files too.
        let mut q2 = OutQueue::default();
        q2.push_bytes(Bytes::from_static(b"head"));
        q2.push_file(Rc::clone(&file), 0, 10_000);
        q2.push_bytes(Bytes::from_static(b"tail"));
        let mut f = Fake::new(999);
        assert_eq!(q2.flush(&mut f).unwrap(), Flush::Done);
        let mut w2 = b"head".to_vec();
        w2.extend_from_slice(&content);
        w2.extend_from_slice(b"tail");
        assert_eq!(f.data, w2);
        // A file shorter than announced is an error, not a hang.
        let mut q3 = OutQueue::default();
        q3.push_file(file, 9_990, 20);
        let mut f = Fake::new(usize::MAX);
        assert_eq!(
            q3.flush(&mut f).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
