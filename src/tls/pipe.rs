//! [`TlsPipe`]: one TLS connection as a byte pipe, client or server role.
//!
//! Ciphertext from the peer goes in with [`TlsPipe::recv`] (which appends
//! the plaintext it decrypted), plaintext to send goes in with
//! [`TlsPipe::send`], ciphertext for the peer comes out of
//! [`TlsPipe::write_tls`]. The handshake runs inside these calls.

use core::time::Duration;
use std::io::Read;
use std::sync::Arc;

use rustls::HandshakeKind;

use super::{Alpn, ClientTls, Clock, ServerTls, TlsError, TlsVersion};

/// A TLS connection without I/O. See the module docs.
#[derive(Debug)]
pub struct TlsPipe {
    conn: rustls::Connection,
    clock: Arc<Clock>,
    /// Client: the server name (for errors); server: empty.
    host: String,
    /// The first failure; every later input returns it again.
    error: Option<TlsError>,
    /// Whether any byte came from the peer yet (first-byte sanity check).
    seen_input: bool,
    peer_closed: bool,
}

/// TLS record content types a peer may open a connection with
/// (handshake, alert).
const FIRST_RECORD_TYPES: [u8; 2] = [0x16, 0x15];

impl TlsPipe {
    /// A client connection to `host` (DNS name or IP literal) from a
    /// context; the ClientHello is ready in [`TlsPipe::write_tls`] at once.
    /// `now`: time since the Unix epoch.
    pub fn client(ctx: &ClientTls, host: &str, now: Duration) -> Result<Self, TlsError> {
        ctx.clock.set(now);
        let name = ctx.server_name(host)?;
        let conn = rustls::ClientConnection::new(ctx.config.clone(), name)
            .map_err(|e| TlsError::from_rustls(e, host))?;
        Ok(Self::wrap(conn.into(), ctx.clock.clone(), host))
    }

    /// A server connection from a context. `now`: time since the Unix epoch.
    pub fn server(ctx: &ServerTls, now: Duration) -> Result<Self, TlsError> {
        ctx.clock.set(now);
        let conn = rustls::ServerConnection::new(ctx.config.clone())
            .map_err(|e| TlsError::from_rustls(e, ""))?;
        Ok(Self::wrap(conn.into(), ctx.clock.clone(), ""))
    }

    fn wrap(conn: rustls::Connection, clock: Arc<Clock>, host: &str) -> Self {
        TlsPipe {
            conn,
            clock,
            host: host.to_string(),
            error: None,
            seen_input: false,
            peer_closed: false,
        }
    }

    /// Feeds ciphertext from the peer (all of it), advancing the handshake,
    /// and appends the decrypted application bytes to `plain`. Returns how
    /// many plaintext bytes were appended. On failure the alert for the peer
    /// (if any) is waiting in [`TlsPipe::write_tls`], and every later call
    /// returns the same error.
    pub fn recv(
        &mut self,
        now: Duration,
        mut data: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<usize, TlsError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        self.clock.set(now);
        if !self.seen_input && !data.is_empty() {
            self.seen_input = true;
            if !FIRST_RECORD_TYPES.contains(&data[0]) {
                return Err(self.fail(TlsError::NotTls));
            }
        }
        let start = plain.len();
        while !data.is_empty() {
            match self.conn.read_tls(&mut data) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(self.fail(TlsError::Protocol(e.to_string()))),
            }
            let state = match self.conn.process_new_packets() {
                Ok(s) => s,
                Err(e) => {
                    let e = TlsError::from_rustls(e, &self.host);
                    return Err(self.fail(e));
                }
            };
            let n = state.plaintext_bytes_to_read();
            if n > 0 {
                let at = plain.len();
                plain.resize(at + n, 0);
                if let Err(e) = self.conn.reader().read_exact(&mut plain[at..]) {
                    plain.truncate(at);
                    return Err(self.fail(TlsError::Protocol(e.to_string())));
                }
            }
            if state.peer_has_closed() {
                self.peer_closed = true;
            }
        }
        Ok(plain.len() - start)
    }

    fn fail(&mut self, e: TlsError) -> TlsError {
        self.error = Some(e.clone());
        e
    }

    /// Queues plaintext for the peer; it is encrypted once the handshake is
    /// done (rustls buffers it until then, up to its buffer limit). Returns
    /// how many bytes were taken (fewer than `plain.len()` when the buffer
    /// is full: call [`TlsPipe::write_tls`] and retry with the rest).
    pub fn send(&mut self, plain: &[u8]) -> usize {
        if self.error.is_some() {
            return 0;
        }
        use std::io::Write;
        self.conn.writer().write(plain).unwrap_or(0)
    }

    /// Queues several plaintext slices as one payload (full-size records
    /// across slice boundaries, not one record per slice). Returns how many
    /// bytes were taken, like [`TlsPipe::send`].
    pub fn send_vectored(&mut self, plain: &[std::io::IoSlice<'_>]) -> usize {
        if self.error.is_some() {
            return 0;
        }
        use std::io::Write;
        self.conn.writer().write_vectored(plain).unwrap_or(0)
    }

    /// Appends all pending ciphertext (handshake, records, alerts) to `out`;
    /// returns the number of bytes appended.
    pub fn write_tls(&mut self, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        while self.conn.wants_write() {
            match self.conn.write_tls(out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        out.len() - start
    }

    /// True when [`TlsPipe::write_tls`] would append something.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// True until the handshake completed.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// True for the client role.
    pub fn is_client(&self) -> bool {
        matches!(self.conn, rustls::Connection::Client(_))
    }

    /// The protocol chosen by ALPN (`None`: no ALPN, or not decided yet).
    pub fn alpn(&self) -> Option<Alpn> {
        self.conn.alpn_protocol().and_then(Alpn::from_id)
    }

    /// Full or resumed handshake (`None` until known).
    pub fn handshake_kind(&self) -> Option<HandshakeKind> {
        self.conn.handshake_kind()
    }

    /// True when the handshake resumed an earlier session.
    pub fn is_resumed(&self) -> bool {
        self.handshake_kind() == Some(HandshakeKind::Resumed)
    }

    /// The negotiated TLS version (`None` until known).
    pub fn version(&self) -> Option<TlsVersion> {
        match self.conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => Some(TlsVersion::Tls13),
            rustls::ProtocolVersion::TLSv1_2 => Some(TlsVersion::Tls12),
            _ => None,
        }
    }

    /// The peer's certificate chain (end-entity first), once received.
    pub fn peer_certs(&self) -> Option<&[rustls::pki_types::CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }

    /// Server role: the name the client asked for with SNI.
    pub fn sni(&self) -> Option<&str> {
        match &self.conn {
            rustls::Connection::Server(s) => s.server_name(),
            rustls::Connection::Client(_) => None,
        }
    }

    /// Queues a close_notify alert (then call [`TlsPipe::write_tls`]).
    pub fn close(&mut self) {
        self.conn.send_close_notify();
    }

    /// True once the peer sent close_notify.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// The failure that ended the connection, if any.
    pub fn error(&self) -> Option<&TlsError> {
        self.error.as_ref()
    }
}
