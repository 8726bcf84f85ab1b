//! TLS for the native adapters (feature `tls`): the glue between a socket
//! and the sans-IO [`TlsPipe`] (src/tls), used by the epoll server
//! ([`super::server`]) and the pooled client ([`super::pool`]).
//!
//! Owns:
//! - [`TlsIo`]: a pipe plus its buffers: ciphertext from the socket in,
//!   plaintext for the HTTP/2 core out; core output in (several chunks
//!   gathered into full-size records, never one record per frame header),
//!   ciphertext for the socket out;
//! - the two ALPN decision points, the only places that look at the
//!   negotiated protocol: [`server_protocol`] (server, once its handshake is
//!   over) and [`client_protocol`] (client, in the pool's connect path);
//! - [`client_handshake`]: the client handshake on a freshly connected
//!   blocking socket, bounded by a deadline;
//! - [`wall_clock`]: the calendar time the TLS layer is given (certificate
//!   validity, ticket ages).
//!
//! No protocol logic lives here: TLS is rustls (through [`TlsPipe`]), HTTP/2
//! is the core.

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

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
    /// Not servable here; the text is the one-line reason (logged by the
    /// server, [`super::ClientError::AlpnNotH2`] on the client).
    Refuse(Option<Alpn>),
}

/// Server ALPN decision, called once the handshake is over. Today only `h2`
/// is served (the server context offers only `h2`, so rustls already refused
/// clients without it); `http/1.1` is where HTTP/1.1-over-TLS gets routed.
pub fn server_protocol(pipe: &TlsPipe) -> Route {
    match pipe.alpn() {
        Some(Alpn::H2) => Route::H2,
        other => Route::Refuse(other),
    }
}

/// Client ALPN decision, called by the pool's connect path right after the
/// handshake. Today only `h2` is spoken; `http/1.1` (or no ALPN: a server
/// that does not know HTTP/2) is where an HTTP/1.1 connection gets routed.
pub fn client_protocol(pipe: &TlsPipe) -> Route {
    match pipe.alpn() {
        Some(Alpn::H2) => Route::H2,
        other => Route::Refuse(other),
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
    /// The negotiated protocol is not served here.
    Refused(Option<Alpn>),
}

/// One TLS connection on a socket: a [`TlsPipe`] and its buffers.
#[derive(Debug)]
pub struct TlsIo {
    pipe: TlsPipe,
    /// Plaintext decrypted by the last `recv` (reused).
    plain: Vec<u8>,
    /// The protocol was checked and is `h2`: plaintext flows.
    h2: bool,
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
            h2: false,
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
        self.h2
    }

    /// Feeds ciphertext from the socket; handshake records and alerts for
    /// the peer are appended to `out`. Returns the decrypted application
    /// bytes (empty while handshaking) for the HTTP/2 core.
    pub fn recv(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<&[u8], RecvError> {
        self.plain.clear();
        let r = self.pipe.recv(wall_clock(), data, &mut self.plain);
        self.pipe.write_tls(out);
        r.map_err(RecvError::Tls)?;
        if !self.h2 && !self.pipe.is_handshaking() {
            let route = if self.pipe.is_client() {
                client_protocol(&self.pipe)
            } else {
                server_protocol(&self.pipe)
            };
            match route {
                Route::H2 => self.h2 = true,
                Route::Refuse(p) => return Err(RecvError::Refused(p)),
            }
        }
        Ok(if self.h2 { &self.plain } else { &[] })
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
    /// `h2`.
    pub fn take_early(&mut self) -> Vec<u8> {
        self.h2 = true;
        std::mem::take(&mut self.plain)
    }
}
