//! [`TlsH2`]: HTTP/2 over TLS, the composition of a [`TlsPipe`] with the
//! sans-IO [`Connection`]. Ciphertext in → plaintext into
//! `Connection::recv`; `Connection` output → encrypted out. Nothing of the
//! protocol is redone here.
//!
//! The HTTP/2 connection may be used (requests queued) before the handshake
//! ends; its output is held back until then. Once the handshake is done the
//! negotiated protocol must be `h2`, otherwise every call reports
//! [`TlsH2Error::NotH2`] and the adapter takes the pipe back
//! ([`TlsH2::into_parts`]) for HTTP/1.1.

use core::fmt;
use core::time::Duration;

use crate::conn::{Config, Connection};
use crate::error::Error;

use super::{Alpn, TlsError, TlsPipe};

/// Plaintext taken from the HTTP/2 connection per encryption step.
const CHUNK: usize = 16 << 10;

/// Why a [`TlsH2`] call failed.
#[derive(Debug)]
pub enum TlsH2Error {
    /// The TLS layer failed (certificate, alert, protocol, ...).
    Tls(TlsError),
    /// The HTTP/2 connection failed (its GOAWAY is queued for output).
    H2(Error),
    /// The handshake completed with another protocol than `h2`
    /// (`None`: the peer did no ALPN).
    NotH2(Option<Alpn>),
}

impl fmt::Display for TlsH2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsH2Error::Tls(e) => e.fmt(f),
            TlsH2Error::H2(e) => write!(f, "HTTP/2: {e}"),
            TlsH2Error::NotH2(Some(p)) => write!(f, "TLS: the peer chose {p}, not h2"),
            TlsH2Error::NotH2(None) => f.write_str("TLS: the peer did not negotiate h2 (no ALPN)"),
        }
    }
}

impl std::error::Error for TlsH2Error {}

/// An HTTP/2 connection over TLS, without I/O. See the module docs.
#[derive(Debug)]
pub struct TlsH2 {
    tls: TlsPipe,
    conn: Connection,
    /// Plaintext decrypted by the last `recv` (a reused buffer).
    plain_in: Vec<u8>,
    /// Core output not yet taken by the TLS layer.
    plain_out: Vec<u8>,
    /// Taken from `plain_out` already.
    out_pos: usize,
}

impl TlsH2 {
    /// Composes `tls` with a new HTTP/2 connection of the same role; `now`
    /// (since the Unix epoch) starts the core's clock (its SETTINGS timer).
    pub fn new(tls: TlsPipe, config: Config, now: Duration) -> Self {
        let mut conn = if tls.is_client() {
            Connection::client(config)
        } else {
            Connection::server(config)
        };
        conn.handle_timeout(now);
        TlsH2 {
            tls,
            conn,
            plain_in: Vec::new(),
            plain_out: Vec::new(),
            out_pos: 0,
        }
    }

    /// Checks the negotiated protocol once the handshake is over.
    fn check_alpn(&self) -> Result<bool, TlsH2Error> {
        if self.tls.is_handshaking() {
            return Ok(false);
        }
        match self.tls.alpn() {
            Some(Alpn::H2) => Ok(true),
            other => Err(TlsH2Error::NotH2(other)),
        }
    }

    /// Feeds ciphertext from the peer; decrypted bytes go to the HTTP/2
    /// connection (poll its events with [`TlsH2::connection`]). `now`: time
    /// since the Unix epoch (also the core's time).
    pub fn recv(&mut self, now: Duration, data: &[u8]) -> Result<(), TlsH2Error> {
        self.plain_in.clear();
        self.tls
            .recv(now, data, &mut self.plain_in)
            .map_err(TlsH2Error::Tls)?;
        if !self.check_alpn()? {
            return Ok(());
        }
        if !self.plain_in.is_empty() {
            self.conn
                .recv(now, &self.plain_in)
                .map_err(TlsH2Error::H2)?;
        }
        Ok(())
    }

    /// Tells the HTTP/2 connection the time (timers), like
    /// `Connection::handle_timeout`.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.conn.handle_timeout(now);
    }

    /// Appends ciphertext for the peer to `out`: the handshake, then (once
    /// it is done and `h2` was negotiated) the HTTP/2 output encrypted, until
    /// about `limit` bytes were appended by this call. Returns the number of
    /// bytes appended.
    pub fn write_tls(
        &mut self,
        now: Duration,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<usize, TlsH2Error> {
        let start = out.len();
        self.tls.write_tls(out);
        if !self.check_alpn()? {
            return Ok(out.len() - start);
        }
        while out.len() - start < limit {
            if self.out_pos == self.plain_out.len() {
                self.plain_out.clear();
                self.out_pos = 0;
                if self.conn.write_to(now, &mut self.plain_out, CHUNK) == 0 {
                    break;
                }
            }
            let n = self.tls.send(&self.plain_out[self.out_pos..]);
            self.out_pos += n;
            if self.tls.write_tls(out) == 0 && n == 0 {
                break;
            }
        }
        Ok(out.len() - start)
    }

    /// True when [`TlsH2::write_tls`] would append something.
    pub fn wants_write(&self) -> bool {
        self.tls.wants_write()
            || (!self.tls.is_handshaking()
                && self.tls.alpn() == Some(Alpn::H2)
                && (self.out_pos < self.plain_out.len() || self.conn.wants_write()))
    }

    /// The HTTP/2 connection: send requests/responses, poll events.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The TLS pipe: ALPN, handshake kind, version, SNI.
    pub fn tls(&self) -> &TlsPipe {
        &self.tls
    }

    /// True once the HTTP/2 connection is over and all its output was
    /// encrypted and taken: queue close_notify with [`TlsH2::close`].
    pub fn is_closed(&self) -> bool {
        self.conn.is_closed() && self.out_pos == self.plain_out.len() && !self.tls.wants_write()
    }

    /// Queues a TLS close_notify (after the HTTP/2 GOAWAY).
    pub fn close(&mut self) {
        self.tls.close();
    }

    /// Takes the parts back (e.g. for HTTP/1.1 after [`TlsH2Error::NotH2`]).
    pub fn into_parts(self) -> (TlsPipe, Connection) {
        (self.tls, self.conn)
    }
}
