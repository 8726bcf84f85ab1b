//! The connection thread of the pooled client for an HTTP/1.1 origin: one
//! [`H1Driver`] owns a non-blocking socket (mio) and the sans-IO HTTP/1.1
//! codec ([`crate::h1`]), runs one request at a time (the pool routes at most
//! one to it: `max` is 1), keeps the connection for the next request when
//! the response allows keep-alive, and enforces request deadlines and the
//! idle close. Same commands and replies as the HTTP/2 driver.
//!
//! A keep-alive connection the server closed while idle is only noticed when
//! the next request gets no response byte: that request is resubmitted
//! ([`Reply::Unsent`]) when its method is idempotent (RFC 9110 §9.2.2).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mio::{Events, Interest, Poll, Token};

use super::{ClientConfig, ClientError, Cmd, ConnShared, Origin, Reply, Trailers};
use crate::h1::{encode_request, Framing, Limits, ResponseDecoder, ResponseEvent};
use crate::net::CLIENT_READ_BUF;

/// Bodies with a larger `content-length` are not preallocated.
const MAX_PREALLOC: u64 = 16 << 20;
const SOCK: Token = Token(0);

/// The request being answered.
struct Current {
    cmd: Cmd,
    head: Option<http::Response<()>>,
    body: BytesMut,
    /// Some response byte arrived.
    got_bytes: bool,
}

/// The byte stream of an HTTP/1.1 connection: the socket, or a TLS session
/// on it (ALPN `http/1.1` or none; see [`crate::net::tls_io::TlsStream`]).
#[derive(Debug)]
pub(super) enum Transport {
    /// Cleartext.
    Plain(mio::net::TcpStream),
    /// TLS.
    #[cfg(feature = "tls")]
    Tls(crate::net::tls_io::TlsStream<mio::net::TcpStream>),
}

impl Transport {
    fn socket(&mut self) -> &mut mio::net::TcpStream {
        match self {
            Transport::Plain(s) => s,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => &mut t.sock,
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.write(buf),
        }
    }

    /// TLS: writes ciphertext still waiting (`WouldBlock` while the socket is full).
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.flush(),
        }
    }
}

/// Owns one HTTP/1.1 connection.
pub(super) struct H1Driver {
    sock: Transport,
    poll: Poll,
    rx: Receiver<Cmd>,
    shared: Arc<ConnShared>,
    origin: Arc<Origin>,
    cfg: ClientConfig,
    dec: ResponseDecoder,
    queued: VecDeque<Cmd>,
    current: Option<Current>,
    /// Responses completed on this connection (a close before the first
    /// byte of a later one means a stale keep-alive connection).
    served: u64,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    wpos: usize,
    idle_since: Option<Instant>,
    /// The last response did not allow keep-alive: finish and close.
    last: bool,
}

impl H1Driver {
    /// A driver for a freshly connected socket.
    pub(super) fn new(
        sock: Transport,
        poll: Poll,
        rx: Receiver<Cmd>,
        shared: Arc<ConnShared>,
        origin: Arc<Origin>,
        cfg: ClientConfig,
    ) -> H1Driver {
        H1Driver {
            sock,
            poll,
            rx,
            shared,
            origin,
            cfg,
            dec: ResponseDecoder::new(Limits::default()),
            queued: VecDeque::new(),
            current: None,
            served: 0,
            rbuf: vec![0u8; CLIENT_READ_BUF],
            wbuf: Vec::new(),
            wpos: 0,
            idle_since: None,
            last: false,
        }
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
                self.sock.socket(),
                SOCK,
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| ClientError::io("poll register", e))?;
        let mut events = Events::with_capacity(16);
        loop {
            self.take_commands();
            if self.current.is_none() {
                if self.last {
                    return Ok(());
                }
                self.start_next()?;
            }
            self.flush()?;
            let now = Instant::now();
            let wait = match self.timers(now)? {
                Some(w) => w,
                None => return Ok(()),
            };
            match self.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ClientError::io("poll", e)),
            }
            let readable = events
                .iter()
                .any(|ev| ev.token() == SOCK && (ev.is_readable() || ev.is_read_closed()));
            if readable {
                self.read()?;
            }
        }
    }

    fn take_commands(&mut self) {
        loop {
            match self.rx.try_recv() {
                Ok(cmd) => {
                    if self.shared.closed.load(Ordering::Acquire) || self.last {
                        self.release_slot();
                        let _ = cmd.reply.send(Reply::Unsent);
                    } else {
                        self.queued.push_back(cmd);
                    }
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => return,
            }
        }
    }

    /// Writes the next queued request.
    fn start_next(&mut self) -> Result<(), ClientError> {
        let Some(cmd) = self.queued.pop_front() else {
            return Ok(());
        };
        let m = cmd.head.method();
        let framing = if !cmd.body.is_empty()
            || m == http::Method::POST
            || m == http::Method::PUT
            || m == http::Method::PATCH
        {
            Framing::Length(cmd.body.len() as u64)
        } else {
            Framing::AsIs
        };
        self.wbuf.clear();
        self.wpos = 0;
        if let Err(e) = encode_request(&cmd.head, framing, &mut self.wbuf) {
            let e = ClientError::InvalidRequest(format!("cannot send request: {e}"));
            self.release_slot();
            let _ = cmd.reply.send(Reply::Done(Err(e)));
            return Ok(());
        }
        self.wbuf.extend_from_slice(&cmd.body);
        self.dec.expect(cmd.head.method());
        self.idle_since = None;
        self.current = Some(Current {
            cmd,
            head: None,
            body: BytesMut::new(),
            got_bytes: false,
        });
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ClientError> {
        while self.wpos < self.wbuf.len() {
            match self.sock.write(&self.wbuf[self.wpos..]) {
                Ok(0) => {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "connection closed");
                    return Err(self.stale_or(ClientError::io("write failed", e)));
                }
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(e) => return Err(self.stale_or(ClientError::io("write failed", e))),
            }
        }
        // TLS: ciphertext the socket did not take yet (a writable edge wakes us).
        match self.sock.flush() {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(self.stale_or(ClientError::io("write failed", e))),
        }
    }

    fn read(&mut self) -> Result<(), ClientError> {
        loop {
            match self.sock.read(&mut self.rbuf) {
                Ok(0) => {
                    const EARLY: &str =
                        "connection closed by the server before the response completed";
                    if self.current.as_ref().is_some_and(|c| !c.got_bytes) {
                        return Err(self.stale_or(ClientError::Closed(EARLY)));
                    }
                    self.dec.recv_eof();
                    match self.on_events() {
                        Err(ClientError::Http1(crate::h1::H1Error::UnexpectedEof)) => {
                            return Err(ClientError::Closed(EARLY));
                        }
                        r => r?,
                    }
                    return match &self.current {
                        Some(_) => Err(self.stale_or(ClientError::Closed(
                            "connection closed by the server before the response completed",
                        ))),
                        None => {
                            // Closed while idle: take no more requests.
                            self.last = true;
                            Ok(())
                        }
                    };
                }
                Ok(n) => {
                    if let Some(c) = &mut self.current {
                        c.got_bytes = true;
                    }
                    self.dec.recv(&self.rbuf[..n]);
                    self.on_events()?;
                    // Read on to WouldBlock even after a short read: the
                    // server's close may have come with the data, and an
                    // edge-triggered poll would not report it again.
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.stale_or(ClientError::io("read failed", e))),
            }
        }
    }

    /// A failure before any response byte on a connection that served
    /// before: the server closed the idle keep-alive connection. The request
    /// is resubmitted elsewhere if that is safe (idempotent method).
    fn stale_or(&mut self, e: ClientError) -> ClientError {
        if let Some(c) = &self.current {
            let m = c.cmd.head.method();
            let idempotent = m.is_idempotent();
            if self.served > 0 && !c.got_bytes && idempotent {
                if let Some(c) = self.current.take() {
                    self.release_slot();
                    let _ = c.cmd.reply.send(Reply::Unsent);
                }
            }
        }
        e
    }

    fn on_events(&mut self) -> Result<(), ClientError> {
        loop {
            let ev = match self.dec.poll() {
                Ok(Some(ev)) => ev,
                Ok(None) => return Ok(()),
                Err(e) => return Err(ClientError::Http1(e)),
            };
            let Some(c) = &mut self.current else {
                return Err(ClientError::Http1(crate::h1::H1Error::UnexpectedResponse));
            };
            match ev {
                ResponseEvent::Head {
                    response,
                    keep_alive,
                } => {
                    let length = response
                        .headers()
                        .get(http::header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    if let Some(n) = length {
                        *c.cmd
                            .progress
                            .length
                            .lock()
                            .unwrap_or_else(|e| e.into_inner()) = Some(n);
                        if n <= MAX_PREALLOC && c.cmd.head.method() != http::Method::HEAD {
                            c.body.reserve(n as usize);
                        }
                    }
                    c.head = Some(response);
                    if !keep_alive {
                        // No request after this one: the pool routes elsewhere.
                        self.last = true;
                        self.shared.closed.store(true, Ordering::Release);
                        self.origin.notify();
                    }
                }
                ResponseEvent::Data(d) => {
                    c.body.extend_from_slice(&d);
                    c.cmd
                        .progress
                        .received
                        .fetch_add(d.len() as u64, Ordering::Relaxed);
                }
                ResponseEvent::End { trailers } => {
                    let Some(c) = self.current.take() else {
                        return Ok(());
                    };
                    let res = match c.head {
                        Some(head) => {
                            let (parts, ()) = head.into_parts();
                            let mut resp = http::Response::from_parts(parts, c.body.freeze());
                            #[cfg(feature = "tls")]
                            if let Transport::Tls(t) = &self.sock {
                                if let Some(info) = t.tls.info() {
                                    resp.extensions_mut().insert(info);
                                }
                            }
                            if let Some(t) = trailers {
                                resp.extensions_mut().insert(Trailers(t));
                            }
                            Ok(resp)
                        }
                        None => Err(ClientError::NoResponse),
                    };
                    self.served += 1;
                    self.release_slot();
                    let _ = c.cmd.reply.send(Reply::Done(res));
                    if !self.last {
                        self.take_commands();
                        self.start_next()?;
                        self.flush()?;
                    }
                }
            }
        }
    }

    /// Fires the request deadline and the idle close; `None`: leave now.
    fn timers(&mut self, now: Instant) -> Result<Option<Duration>, ClientError> {
        let mut next = now + Duration::from_secs(3600);
        if let Some(c) = &self.current {
            if now >= c.cmd.deadline {
                // An HTTP/1.1 request cannot be cancelled: the connection goes.
                return Err(ClientError::Timeout("request"));
            }
            next = next.min(c.cmd.deadline);
        } else if self.queued.is_empty() {
            if self.shared.closed.load(Ordering::Acquire) || self.last {
                return Ok(None);
            }
            let since = *self.idle_since.get_or_insert(now);
            if now >= since + self.cfg.idle_timeout {
                self.shared.closed.store(true, Ordering::Release);
                // Commands sent before the flag was seen are answered Unsent.
                self.take_commands();
                if self.queued.is_empty() {
                    return Ok(None);
                }
            } else {
                next = next.min(since + self.cfg.idle_timeout);
            }
        }
        Ok(Some(
            next.saturating_duration_since(now)
                .max(Duration::from_millis(1)),
        ))
    }

    /// Frees this connection's slot; called before the reply is sent, so a
    /// caller woken by the reply finds the connection free for its next request.
    fn release_slot(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        if self.origin.waiters.load(Ordering::Acquire) > 0 {
            self.origin.notify();
        }
    }

    /// Connection over: fail what is in flight, answer late commands, leave.
    fn finish(mut self, err: Option<ClientError>) {
        self.shared.closed.store(true, Ordering::Release);
        let err = err.unwrap_or(ClientError::Closed(
            "connection closed before the response completed",
        ));
        if let Some(c) = self.current.take() {
            self.release_slot();
            let _ = c.cmd.reply.send(Reply::Done(Err(err)));
        }
        // Never written: the handle resubmits them.
        for c in std::mem::take(&mut self.queued) {
            self.release_slot();
            let _ = c.reply.send(Reply::Unsent);
        }
        while let Ok(c) = self.rx.try_recv() {
            self.release_slot();
            let _ = c.reply.send(Reply::Unsent);
        }
        self.origin.notify();
    }
}
