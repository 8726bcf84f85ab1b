//! The connection thread of the pooled client: one [`Driver`] owns a
//! non-blocking socket (mio) and its [`Connection`], takes [`Cmd`]s from the
//! pool's channel, answers each on its own reply channel, and enforces the
//! request deadlines, PING keepalive and idle close of its connection.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mio::{Events, Interest, Poll, Token};

use super::{ClientConfig, ClientError, Cmd, ConnShared, Origin, Progress, Reply, Trailers};
use crate::conn::{Connection, Event, UserError};
use crate::error::ErrorCode;
use crate::frame::StreamId;
use crate::net::client::{NOT_H2C_CLOSED, NOT_H2C_HTTP1};
use crate::net::{CLIENT_READ_BUF, WBUF_CAP, WRITE_CHUNK};
use crate::trace::{Direction, FrameTracer};

/// Bodies with a larger `content-length` are not preallocated.
const MAX_PREALLOC: u64 = 16 << 20;
/// Reason of the handshake error when the socket fails before SETTINGS.
const FAILED_BEFORE_SETTINGS: &str = "connection failed before the server's first SETTINGS";

const SOCK: Token = Token(0);
/// Token of the waker the pool uses to signal new commands.
pub(super) const WAKE: Token = Token(1);

/// A request whose stream is open: its response as it is assembled.
struct InFlight {
    reply: Sender<Reply>,
    head: Option<http::Response<()>>,
    body: BytesMut,
    trailers: Option<http::HeaderMap>,
    deadline: Instant,
    progress: Arc<Progress>,
}

/// Owns one connection: socket, [`Connection`], requests in flight.
pub(super) struct Driver {
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
    /// Output taken from the core; `wbuf[wpos..]` is not written yet.
    wbuf: Vec<u8>,
    wpos: usize,
    /// Zero of the core's clock (`handle_timeout` gets `start.elapsed()`).
    start: Instant,
    /// The server's first SETTINGS must arrive by then.
    setup_deadline: Instant,
    /// Last time bytes arrived (a keepalive PING follows a silent interval).
    last_read: Instant,
    /// When the unacknowledged keepalive PING was sent.
    ping_sent: Option<Instant>,
    /// Since when nothing is in flight (idle close after `idle_timeout`).
    idle_since: Option<Instant>,
    /// The server's GOAWAY: last stream, code, debug text.
    goaway: Option<(StreamId, ErrorCode, String)>,
    /// Some byte arrived (before that, failures mean "not an h2c server").
    got_bytes: bool,
    /// Frame trace to stderr ([`ClientConfig::trace`]); `None`: off.
    tracer: Option<Box<FrameTracer>>,
    /// TLS layer (`None`: h2c), with the handshake already done.
    #[cfg(feature = "tls")]
    tls: Option<Box<crate::net::tls_io::TlsIo>>,
    /// What the TLS handshake negotiated (put on every response).
    #[cfg(feature = "tls")]
    tls_info: Option<crate::net::tls_io::TlsInfo>,
    /// Application bytes that came with the handshake, for the core.
    #[cfg(feature = "tls")]
    early: Vec<u8>,
    /// Plaintext scratch for encryption.
    #[cfg(feature = "tls")]
    plain: Vec<u8>,
}

impl Driver {
    /// A driver for a freshly connected socket; `setup_deadline` bounds the
    /// wait for the server's first SETTINGS.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        conn: Connection,
        sock: mio::net::TcpStream,
        poll: Poll,
        rx: Receiver<Cmd>,
        shared: Arc<ConnShared>,
        origin: Arc<Origin>,
        cfg: ClientConfig,
        setup_deadline: Instant,
    ) -> Driver {
        let now = Instant::now();
        Driver {
            conn,
            sock,
            poll,
            rx,
            shared,
            origin,
            streams: HashMap::new(),
            queued: VecDeque::new(),
            rbuf: vec![0u8; CLIENT_READ_BUF],
            wbuf: Vec::with_capacity(WBUF_CAP),
            wpos: 0,
            start: now,
            setup_deadline,
            last_read: now,
            ping_sent: None,
            idle_since: None,
            goaway: None,
            got_bytes: false,
            tracer: cfg.trace.then(|| Box::new(FrameTracer::client())),
            cfg,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_info: None,
            #[cfg(feature = "tls")]
            early: Vec::new(),
            #[cfg(feature = "tls")]
            plain: Vec::new(),
        }
    }

    /// Runs the connection over `tls` (handshake done, `h2` negotiated);
    /// `early`: application bytes that arrived with the handshake.
    #[cfg(feature = "tls")]
    pub(super) fn set_tls(&mut self, tls: Box<crate::net::tls_io::TlsIo>, early: Vec<u8>) {
        self.tls_info = tls.info();
        self.tls = Some(tls);
        self.early = early;
    }

    /// The thread body: drive until the connection ends, then answer everyone.
    pub(super) fn run(mut self) {
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
            .map_err(|e| ClientError::io("poll register", e))?;
        #[cfg(feature = "tls")]
        if !self.early.is_empty() {
            let early = std::mem::take(&mut self.early);
            self.got_bytes = true;
            trace(&mut self.tracer, self.start, Direction::Recv, &early);
            self.conn
                .recv(self.start.elapsed(), &early)
                .map_err(ClientError::Protocol)?;
        }
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
                // Closed with nothing in flight (idle timeout, or the last
                // Client clone was dropped): say goodbye, flush, leave.
                self.conn.shutdown(ErrorCode::NO_ERROR);
                let _ = self.flush();
                return Ok(());
            }
            match self.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ClientError::io("poll", e)),
            }
            let mut readable = false;
            for ev in events.iter() {
                if ev.token() == SOCK && (ev.is_readable() || ev.is_read_closed()) {
                    readable = true;
                }
            }
            if readable {
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
                        ClientError::Handshake {
                            reason: NOT_H2C_CLOSED,
                            source: None,
                        }
                    } else if let Some((last, code, debug)) = &self.goaway {
                        ClientError::GoAway {
                            code: *code,
                            last_stream_id: *last,
                            debug: debug.clone(),
                        }
                    } else {
                        ClientError::Closed(
                            "connection closed by the server before the response completed",
                        )
                    })
                }
                Ok(n) => {
                    #[cfg(feature = "tls")]
                    if let Some(t) = self.tls.as_mut() {
                        self.last_read = Instant::now();
                        // Post-handshake records (tickets, key updates) may
                        // need an answer: it goes out with the next flush.
                        let mut wire = Vec::new();
                        let plain = match t.recv(&self.rbuf[..n], &mut wire) {
                            Ok(p) => p,
                            Err(crate::net::tls_io::RecvError::Tls(e)) => {
                                self.handle_events();
                                return Err(ClientError::Tls(e));
                            }
                        };
                        self.wbuf.extend_from_slice(&wire);
                        self.got_bytes = true;
                        trace(&mut self.tracer, self.start, Direction::Recv, plain);
                        if !plain.is_empty() {
                            if let Err(e) = self.conn.recv(self.start.elapsed(), plain) {
                                self.handle_events();
                                let _ = self.flush();
                                return Err(ClientError::Protocol(e));
                            }
                        }
                        if n < self.rbuf.len() {
                            return Ok(());
                        }
                        continue;
                    }
                    let data = &self.rbuf[..n];
                    if !self.got_bytes && data.starts_with(b"HTTP/") {
                        return Err(ClientError::Handshake {
                            reason: NOT_H2C_HTTP1,
                            source: None,
                        });
                    }
                    self.got_bytes = true;
                    self.last_read = Instant::now();
                    trace(&mut self.tracer, self.start, Direction::Recv, data);
                    if let Err(e) = self.conn.recv(self.start.elapsed(), data) {
                        // Deliver what arrived before the error first.
                        self.handle_events();
                        let _ = self.flush();
                        return Err(ClientError::Protocol(e));
                    }
                    if n < self.rbuf.len() {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if !self.got_bytes => return Err(handshake_failed(e)),
                Err(e) => return Err(ClientError::io("read failed", e)),
            }
        }
    }

    /// Writes queued output; one `write` per batch, the rest on writability.
    fn flush(&mut self) -> Result<(), ClientError> {
        loop {
            if self.wpos == self.wbuf.len() {
                self.wbuf.clear();
                self.wpos = 0;
                #[cfg(feature = "tls")]
                if let Some(t) = self.tls.as_mut() {
                    self.plain.clear();
                    let n = self
                        .conn
                        .write_to(self.start.elapsed(), &mut self.plain, WRITE_CHUNK);
                    trace(&mut self.tracer, self.start, Direction::Send, &self.plain);
                    t.encrypt(&self.plain, &mut self.wbuf);
                    if self.wbuf.is_empty() {
                        return Ok(());
                    }
                    if n > 0 {
                        self.handle_events();
                    }
                } else if self
                    .conn
                    .write_to(self.start.elapsed(), &mut self.wbuf, WRITE_CHUNK)
                    == 0
                {
                    return Ok(());
                } else {
                    trace(&mut self.tracer, self.start, Direction::Send, &self.wbuf);
                }
                #[cfg(not(feature = "tls"))]
                if self
                    .conn
                    .write_to(self.start.elapsed(), &mut self.wbuf, WRITE_CHUNK)
                    == 0
                {
                    return Ok(());
                } else {
                    trace(&mut self.tracer, self.start, Direction::Send, &self.wbuf);
                }
                // Writing may produce events (SendReady) and free slots.
                self.handle_events();
            }
            match self.sock.write(&self.wbuf[self.wpos..]) {
                Ok(0) => {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "connection closed");
                    return Err(ClientError::io("write failed", e));
                }
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(e) if !self.got_bytes => return Err(handshake_failed(e)),
                Err(e) => return Err(ClientError::io("write failed", e)),
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
                let e = ClientError::InvalidRequest(format!("cannot send request: {e}"));
                let _ = cmd.reply.send(Reply::Done(Err(e)));
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

    /// Handles every pending core event, then opens queued requests that
    /// fit the (possibly raised) stream limit.
    fn handle_events(&mut self) {
        while let Some(ev) = self.conn.poll_event() {
            match ev {
                Event::Response {
                    stream_id,
                    response,
                    end_stream,
                } => self.on_response(stream_id, response, end_stream),
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
                } => self.on_reset(stream_id, code, remote),
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
                } => self.on_goaway(last_stream_id, code, &debug),
                _ => {}
            }
        }
        self.open_queued();
    }

    /// A final response head (interim 1xx heads are skipped).
    fn on_response(&mut self, id: StreamId, response: http::Response<()>, end_stream: bool) {
        if response.status().is_informational() {
            return;
        }
        if let Some(s) = self.streams.get_mut(&id) {
            let length = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(n) = length {
                *s.progress.length.lock().unwrap_or_else(|e| e.into_inner()) = Some(n);
                if n <= MAX_PREALLOC {
                    s.body.reserve(n as usize);
                }
            }
            s.head = Some(response);
        }
        if end_stream {
            self.complete(id);
        }
    }

    /// A stream reset: REFUSED_STREAM after a GOAWAY means "not processed",
    /// so the handle may retry elsewhere (unless the server asked us to calm down).
    fn on_reset(&mut self, id: StreamId, code: ErrorCode, remote: bool) {
        let e = match &self.goaway {
            Some((last, gcode, debug)) if remote && code == ErrorCode::REFUSED_STREAM => {
                let e = ClientError::GoAway {
                    code: *gcode,
                    last_stream_id: *last,
                    debug: debug.clone(),
                };
                // ENHANCE_YOUR_CALM asks us to back off: no retry.
                if *gcode != ErrorCode::ENHANCE_YOUR_CALM {
                    if let Some(s) = self.streams.remove(&id) {
                        let _ = s.reply.send(Reply::Retry(e));
                        self.release_slot();
                    }
                    return;
                }
                e
            }
            _ if remote => ClientError::Reset(code),
            _ => ClientError::ResetLocally(code),
        };
        self.fail(id, e);
    }

    /// GOAWAY: no new requests here; those not yet opened go elsewhere.
    fn on_goaway(&mut self, last_stream_id: StreamId, code: ErrorCode, debug: &[u8]) {
        self.goaway = Some((
            last_stream_id,
            code,
            String::from_utf8_lossy(debug).into_owned(),
        ));
        self.shared.closed.store(true, Ordering::Release);
        self.origin.notify();
        for c in std::mem::take(&mut self.queued) {
            let _ = c.reply.send(Reply::Unsent);
            self.release_slot();
        }
    }

    /// Slots freed: opens queued requests while the peer accepts streams.
    fn open_queued(&mut self) {
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
                #[allow(unused_mut)]
                let mut resp = http::Response::from_parts(parts, s.body.freeze());
                #[cfg(feature = "tls")]
                if let Some(info) = self.tls_info {
                    resp.extensions_mut().insert(info);
                }
                if let Some(t) = s.trailers {
                    resp.extensions_mut().insert(Trailers(t));
                }
                Ok(resp)
            }
            None => Err(ClientError::NoResponse),
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
        let err = err.unwrap_or(ClientError::Closed(
            "connection closed before the response completed",
        ));
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

/// `--trace`: formats the frames in `data` and writes them to stderr.
fn trace(t: &mut Option<Box<FrameTracer>>, start: Instant, dir: Direction, data: &[u8]) {
    let Some(t) = t else {
        return;
    };
    let mut out = String::new();
    t.feed(dir, start.elapsed(), data, &mut out);
    if !out.is_empty() {
        let _ = io::stderr().lock().write_all(out.as_bytes());
    }
}

/// A socket error before the server's first SETTINGS: not (yet) an HTTP/2 peer.
fn handshake_failed(e: io::Error) -> ClientError {
    ClientError::Handshake {
        reason: FAILED_BEFORE_SETTINGS,
        source: Some(Arc::new(e)),
    }
}
