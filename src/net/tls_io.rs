//! TLS for the native adapters (feature `tls`): the glue between a socket
//! and the sans-IO [`TlsPipe`] (src/tls), used by the epoll server
//! ([`super::server`]) and the pooled client ([`super::pool`]).
//!
//! Owns:
//! - [`TlsIo`]: a pipe plus its buffers: ciphertext from the socket in,
//!   plaintext for the HTTP/2 core out; core output in (several chunks
//!   gathered into full-size records, never one record per frame header),
//!   ciphertext for the socket out;
//! - HTTP/1.1 over TLS: plaintext reads and writes for the HTTP/1.1 code of
//!   both sides ([`TlsIo::read_plain`], [`TlsIo::write_plain`],
//!   [`TlsIo::flush_wire`]; client [`TlsStream`], server `H1TlsReader` /
//!   `H1TlsWriter`);
//! - the two ALPN decision points, the only places that look at the
//!   negotiated protocol: [`server_protocol`] (server, once its handshake is
//!   over) and [`client_protocol`] (client, in the pool's connect path);
//! - [`client_handshake`]: the client handshake on a freshly connected
//!   blocking socket, bounded by a deadline;
//! - [`wall_clock`]: the calendar time the TLS layer is given (certificate
//!   validity, ticket ages).
//!
//! No protocol logic lives here: TLS is rustls (through [`TlsPipe`]), HTTP/2
//! is the core, HTTP/1.1 is [`crate::h1`].

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::out::WriteSide;
use crate::conn::Chunk;
use crate::tls::{Alpn, ClientTls, HandshakeKind, ServerTls, TlsError, TlsPipe, TlsVersion};

/// Time since the Unix epoch (the TLS layer's calendar clock).
pub fn wall_clock() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// What the negotiated protocol means for a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// HTTP/2 over TLS: the connection goes to the HTTP/2 core.
    H2,
    /// HTTP/1.1 over TLS (ALPN `http/1.1`, or no ALPN at all: a peer that
    /// does not know HTTP/2): the connection goes to the HTTP/1.1 path.
    Http1,
}

/// Server ALPN decision, called once the handshake is over: `h2` goes to
/// the HTTP/2 core; `http/1.1` or no ALPN (a client that offered none) to
/// the HTTP/1.1 path with the same file handler.
pub fn server_protocol(pipe: &TlsPipe) -> Route {
    route(pipe.alpn())
}

/// Client ALPN decision, called by the pool's connect path right after the
/// handshake: `h2` runs the HTTP/2 driver; `http/1.1` or no ALPN (a server
/// that does not know HTTP/2) the HTTP/1.1 driver.
pub fn client_protocol(pipe: &TlsPipe) -> Route {
    route(pipe.alpn())
}

fn route(alpn: Option<Alpn>) -> Route {
    match alpn {
        Some(Alpn::H2) => Route::H2,
        Some(Alpn::Http11) | None => Route::Http1,
    }
}

/// What a connection negotiated, for logs and the client API.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TlsInfo {
    /// Full or resumed handshake.
    pub handshake: HandshakeKind,
    /// TLS 1.3 or 1.2.
    pub version: Option<TlsVersion>,
    /// The ALPN protocol.
    pub alpn: Option<Alpn>,
}

impl TlsInfo {
    fn of(pipe: &TlsPipe) -> TlsInfo {
        TlsInfo {
            handshake: pipe.handshake_kind().unwrap_or(HandshakeKind::Full),
            version: pipe.version(),
            alpn: pipe.alpn(),
        }
    }

    /// `"full"` or `"resumed"` (a TLS 1.3 HelloRetryRequest counts as full).
    pub fn kind_str(&self) -> &'static str {
        match self.handshake {
            HandshakeKind::Resumed => "resumed",
            _ => "full",
        }
    }
}

/// Why [`TlsIo::recv`] failed.
#[derive(Debug)]
pub enum RecvError {
    /// TLS failed (the alert for the peer, if any, was queued for output).
    Tls(TlsError),
}

/// One TLS connection on a socket: a [`TlsPipe`] and its buffers.
#[derive(Debug)]
pub struct TlsIo {
    pipe: TlsPipe,
    /// Plaintext decrypted by the last `recv` (reused).
    plain: Vec<u8>,
    /// The protocol was checked and accepted: plaintext flows.
    route: Option<Route>,
    /// HTTP/1.1 path ([`TlsIo::read_plain`]): decrypted bytes not yet
    /// handed out, from `plain_at`.
    backlog: Vec<u8>,
    plain_at: usize,
    /// HTTP/1.1 path: ciphertext not yet taken by the socket, from `wire_at`.
    wire: Vec<u8>,
    wire_at: usize,
    /// HTTP/1.1 path: ciphertext read buffer (reused).
    scratch: Vec<u8>,
}

impl TlsIo {
    /// A server-side connection of `ctx`.
    pub fn server(ctx: &ServerTls) -> Result<TlsIo, TlsError> {
        Ok(Self::wrap(TlsPipe::server(ctx, wall_clock())?))
    }

    fn wrap(pipe: TlsPipe) -> TlsIo {
        TlsIo {
            pipe,
            plain: Vec::new(),
            route: None,
            backlog: Vec::new(),
            plain_at: 0,
            wire: Vec::new(),
            wire_at: 0,
            scratch: Vec::new(),
        }
    }

    /// The pipe (ALPN, version, handshake kind, SNI).
    pub fn pipe(&self) -> &TlsPipe {
        &self.pipe
    }

    /// What was negotiated (`None` while handshaking).
    pub fn info(&self) -> Option<TlsInfo> {
        (!self.pipe.is_handshaking()).then(|| TlsInfo::of(&self.pipe))
    }

    /// True once the handshake is over and `h2` was accepted: plaintext
    /// flows both ways.
    pub fn is_h2(&self) -> bool {
        self.route == Some(Route::H2)
    }

    /// True once the handshake is over and HTTP/1.1 was chosen (ALPN
    /// `http/1.1` or none): plaintext flows both ways.
    pub fn is_http1(&self) -> bool {
        self.route == Some(Route::Http1)
    }

    /// Feeds ciphertext from the socket; handshake records and alerts for
    /// the peer are appended to `out`. Returns the decrypted application
    /// bytes (empty while handshaking) for the protocol [`Route`] chose
    /// (see [`TlsIo::is_h2`], [`TlsIo::is_http1`]).
    pub fn recv(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<&[u8], RecvError> {
        self.plain.clear();
        let r = self.pipe.recv(wall_clock(), data, &mut self.plain);
        self.pipe.write_tls(out);
        r.map_err(RecvError::Tls)?;
        if self.route.is_none() && !self.pipe.is_handshaking() {
            let route = if self.pipe.is_client() {
                client_protocol(&self.pipe)
            } else {
                server_protocol(&self.pipe)
            };
            self.route = Some(route);
        }
        Ok(if self.route.is_some() {
            &self.plain
        } else {
            &[]
        })
    }

    /// Encrypts plaintext and appends the records (and anything else
    /// pending) to `out`.
    pub fn encrypt(&mut self, plain: &[u8], out: &mut Vec<u8>) {
        self.encrypt_vectored(&[IoSlice::new(plain)], out);
    }

    /// Encrypts several slices as one payload (records of up to 16 KiB
    /// spanning slice boundaries) and appends the ciphertext to `out`.
    pub fn encrypt_vectored(&mut self, bufs: &[IoSlice<'_>], out: &mut Vec<u8>) {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let mut done = 0usize;
        let mut owned: Vec<IoSlice<'_>> = bufs.to_vec();
        let mut slices: &mut [IoSlice<'_>] = &mut owned;
        while done < total {
            let n = self.pipe.send_vectored(slices);
            self.pipe.write_tls(out);
            if n == 0 {
                // Failed pipe (its error is reported on the next recv).
                break;
            }
            done += n;
            IoSlice::advance_slices(&mut slices, n);
        }
        self.pipe.write_tls(out);
    }

    /// Encrypts the core's output chunks (all `Chunk::Bytes`: zero-copy
    /// bodies are never announced on TLS connections) into one ciphertext
    /// buffer. Returns it, or `None` when there was nothing to send.
    pub fn encrypt_chunks(&mut self, chunks: &mut Vec<Chunk>) -> io::Result<Option<Bytes>> {
        let mut bufs: Vec<IoSlice<'_>> = Vec::with_capacity(chunks.len());
        let mut plain = 0;
        for ch in chunks.iter() {
            match ch {
                Chunk::Bytes(b) => {
                    plain += b.len();
                    bufs.push(IoSlice::new(b));
                }
                Chunk::External { .. } => {
                    return Err(io::Error::other("zero-copy chunk on a TLS connection"))
                }
            }
        }
        let mut out = Vec::with_capacity(plain + plain / 64 + 64);
        self.encrypt_vectored(&bufs, &mut out);
        drop(bufs);
        chunks.clear();
        Ok((!out.is_empty()).then(|| Bytes::from(out)))
    }

    /// Appends pending ciphertext (handshake, alerts, close_notify) to `out`.
    pub fn write_pending(&mut self, out: &mut Vec<u8>) -> usize {
        self.pipe.write_tls(out)
    }

    /// True when [`TlsIo::write_pending`] would append something.
    pub fn wants_write(&self) -> bool {
        self.pipe.wants_write()
    }

    /// Queues close_notify.
    pub fn close(&mut self) {
        self.pipe.close();
    }
}

/// Why [`client_handshake`] failed.
#[derive(Debug)]
pub enum HandshakeError {
    /// TLS failed (certificate, alert, ALPN, ...).
    Tls(TlsError),
    /// The socket failed or closed during the handshake.
    Io(io::Error),
    /// The deadline passed.
    Timeout,
}

/// Runs the client handshake for `host` on a connected blocking socket,
/// bounded by `deadline`. Returns the connection, with any application
/// bytes that arrived with the server's last flight kept for
/// [`TlsIo::take_early`]. The ALPN decision is left to the caller
/// ([`client_protocol`]).
pub fn client_handshake(
    sock: &mut TcpStream,
    ctx: &ClientTls,
    host: &str,
    deadline: Instant,
) -> Result<TlsIo, HandshakeError> {
    let pipe = TlsPipe::client(ctx, host, wall_clock()).map_err(HandshakeError::Tls)?;
    let mut io = TlsIo::wrap(pipe);
    let mut out = Vec::with_capacity(2048);
    let mut buf = vec![0u8; 16 << 10];
    let mut early = Vec::new();
    loop {
        out.clear();
        io.pipe.write_tls(&mut out);
        if !out.is_empty() {
            sock.write_all(&out).map_err(HandshakeError::Io)?;
        }
        if !io.pipe.is_handshaking() {
            io.plain = early;
            return Ok(io);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HandshakeError::Timeout);
        }
        sock.set_read_timeout(Some(left))
            .map_err(HandshakeError::Io)?;
        let n = match sock.read(&mut buf) {
            Ok(0) => {
                return Err(HandshakeError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed during the TLS handshake",
                )))
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(HandshakeError::Timeout)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(HandshakeError::Io(e)),
        };
        if let Err(e) = io.pipe.recv(wall_clock(), &buf[..n], &mut early) {
            // Send our alert (best effort) before reporting.
            out.clear();
            io.pipe.write_tls(&mut out);
            let _ = sock.write_all(&out);
            return Err(HandshakeError::Tls(e));
        }
    }
}

impl TlsIo {
    /// Client: application bytes that came with the server's last handshake
    /// flight (e.g. its SETTINGS), once, after the ALPN decision accepted
    /// `route` ([`client_protocol`]). For HTTP/1.1 they stay queued for
    /// [`TlsIo::read_plain`] and the result is empty.
    pub fn take_early(&mut self, route: Route) -> Vec<u8> {
        self.route = Some(route);
        let early = std::mem::take(&mut self.plain);
        if route == Route::Http1 {
            self.backlog.extend_from_slice(&early);
            return Vec::new();
        }
        early
    }
}

/// HTTP/1.1 over TLS: the HTTP/1.1 paths (server [`super::h1`], client
/// `pool::driver_h1`) read and write plaintext through these as if it were
/// the socket; records, tickets and alerts are handled here.
impl TlsIo {
    /// The plaintext the last [`TlsIo::recv`] returned.
    pub fn last_plain(&self) -> &[u8] {
        &self.plain
    }

    /// Keeps the plaintext of the last [`TlsIo::recv`] for
    /// [`TlsIo::read_plain`] (the HTTP/1.1 path reads it first).
    pub fn keep_plain(&mut self) {
        self.backlog.extend_from_slice(&self.plain);
        self.plain.clear();
    }

    /// Reads plaintext into `buf`, reading ciphertext from `sock` (a
    /// non-blocking socket) as needed. Keeps the edge-triggered contract of
    /// a socket read: a result shorter than `buf` means the socket was
    /// drained (or `WouldBlock`: nothing decrypted yet); `Ok(0)` is the
    /// peer's EOF. TLS failures are `InvalidData` errors (the alert is
    /// queued for [`TlsIo::flush_wire`]).
    pub fn read_plain<S: Read>(&mut self, sock: &mut S, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        loop {
            if self.plain_at < self.backlog.len() {
                let k = (self.backlog.len() - self.plain_at).min(buf.len() - n);
                buf[n..n + k].copy_from_slice(&self.backlog[self.plain_at..self.plain_at + k]);
                self.plain_at += k;
                n += k;
                if self.plain_at == self.backlog.len() {
                    self.backlog.clear();
                    self.plain_at = 0;
                }
            }
            if n == buf.len() {
                return Ok(n);
            }
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.resize(buf.len().max(4096), 0);
            let r = sock.read(&mut scratch);
            let res = match r {
                Ok(0) => Some(Ok(n)),
                Ok(k) => {
                    let mut wire = std::mem::take(&mut self.wire);
                    let got = self.recv(&scratch[..k], &mut wire).map(|p| p.len());
                    let drained = k < scratch.len();
                    let res = match got {
                        Ok(len) => {
                            // `recv` decrypted into `self.plain`.
                            self.backlog.extend_from_slice(&self.plain[..len]);
                            None
                        }
                        Err(RecvError::Tls(e)) => {
                            Some(Err(io::Error::new(io::ErrorKind::InvalidData, e)))
                        }
                    };
                    self.wire = wire;
                    match res {
                        Some(e) => Some(e),
                        // The socket is drained: hand out what there is.
                        None if drained && self.backlog.len() - self.plain_at + n == 0 => {
                            Some(Err(io::ErrorKind::WouldBlock.into()))
                        }
                        None if drained => {
                            let k = (self.backlog.len() - self.plain_at).min(buf.len() - n);
                            buf[n..n + k]
                                .copy_from_slice(&self.backlog[self.plain_at..self.plain_at + k]);
                            self.plain_at += k;
                            Some(Ok(n + k))
                        }
                        None => None,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => None,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && n > 0 => Some(Ok(n)),
                Err(e) => Some(Err(e)),
            };
            self.scratch = scratch;
            if let Some(r) = res {
                return r;
            }
        }
    }

    /// Encrypts all of `bufs` and writes what the socket takes; the rest of
    /// the ciphertext waits for [`TlsIo::flush_wire`]. `WouldBlock` (nothing
    /// taken) while earlier ciphertext is still waiting.
    pub fn write_plain<S: Write>(
        &mut self,
        sock: &mut S,
        bufs: &[IoSlice<'_>],
    ) -> io::Result<usize> {
        if !self.flush_wire(sock)? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let total = bufs.iter().map(|b| b.len()).sum();
        let mut wire = std::mem::take(&mut self.wire);
        self.encrypt_vectored(bufs, &mut wire);
        self.wire = wire;
        self.flush_wire(sock)?;
        Ok(total)
    }

    /// Writes waiting ciphertext (records, tickets, alerts, close_notify).
    /// `Ok(true)`: nothing is left; `Ok(false)`: the socket is full.
    pub fn flush_wire<S: Write>(&mut self, sock: &mut S) -> io::Result<bool> {
        self.pipe.write_tls(&mut self.wire);
        while self.wire_at < self.wire.len() {
            match sock.write(&self.wire[self.wire_at..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.wire_at += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.wire.clear();
        self.wire_at = 0;
        Ok(true)
    }
}

/// A client-side TLS connection as a plaintext byte stream (HTTP/1.1 over
/// TLS): reads and writes go through [`TlsIo::read_plain`] and
/// [`TlsIo::write_plain`]; `flush` is [`TlsIo::flush_wire`] (`WouldBlock`
/// while ciphertext waits).
#[derive(Debug)]
pub struct TlsStream<S> {
    /// The TLS connection.
    pub tls: Box<TlsIo>,
    /// The socket.
    pub sock: S,
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.tls.read_plain(&mut self.sock, buf);
        // Answers to post-handshake records go out at once (best effort;
        // the rest with the next write or flush).
        let _ = self.tls.flush_wire(&mut self.sock);
        r
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tls.write_plain(&mut self.sock, &[IoSlice::new(buf)])
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.tls.flush_wire(&mut self.sock)? {
            true => Ok(()),
            false => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

/// A [`WriteSide`] as a plain [`Write`] (the server's `sendmsg` path for
/// [`TlsIo::flush_wire`]).
pub(crate) struct WriteSideIo<'a, W: WriteSide>(pub(crate) &'a mut W);

impl<W: WriteSide> Write for WriteSideIo<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.writev(&[IoSlice::new(buf)], false)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Server HTTP/1.1 over TLS, reading half: plaintext from the socket for
/// the HTTP/1.1 connection ([`super::h1`]). Shares the session with
/// [`H1TlsWriter`] (never borrowed by both at once).
pub(crate) struct H1TlsReader<'a> {
    /// The session.
    pub(crate) tls: &'a RefCell<&'a mut TlsIo>,
    /// The socket.
    pub(crate) sock: &'a mio::net::TcpStream,
}

impl Read for H1TlsReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut t = self.tls.borrow_mut();
        let r = t.read_plain(&mut self.sock, buf);
        // Answers to post-handshake records go out now (best effort; the
        // rest with the next write or flush).
        let _ = t.flush_wire(&mut self.sock);
        r
    }
}

/// Server HTTP/1.1 over TLS, writing half: the output queue's plaintext is
/// encrypted on its way to the socket; file ranges are never queued for
/// `sendfile` on a TLS connection (zero-copy is off there).
pub(crate) struct H1TlsWriter<'a, W: WriteSide> {
    /// The session.
    pub(crate) tls: &'a RefCell<&'a mut TlsIo>,
    /// The socket.
    pub(crate) w: W,
}

impl<W: WriteSide> WriteSide for H1TlsWriter<'_, W> {
    fn writev(&mut self, bufs: &[IoSlice<'_>], _more: bool) -> io::Result<usize> {
        self.tls
            .borrow_mut()
            .write_plain(&mut WriteSideIo(&mut self.w), bufs)
    }

    fn sendfile(&mut self, _file: &File, _offset: u64, _len: usize) -> io::Result<usize> {
        Err(io::Error::other("sendfile on a TLS connection"))
    }
}
