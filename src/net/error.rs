//! The public error types of the native clients: [`ClientError`] (pooled
//! [`super::pool::Client`] and the blocking [`super::client::get`]) and
//! [`WsError`] ([`super::ws_client`]).
//!
//! Underlying errors are kept, not flattened into text: I/O errors (behind an
//! `Arc`, so the errors stay `Clone`), [`ConnectError`], the core's
//! [`crate::Error`] and WebSocket errors are reachable through
//! [`std::error::Error::source`]. The `Display` text is the one-line reason
//! the CLI prints. I/O errors compare equal by [`io::ErrorKind`].

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::tcp::ConnectError;
use crate::conn::UserError;
use crate::error::ErrorCode;
use crate::frame::StreamId;
use crate::ws::handshake::HandshakeError;
use crate::ws::SendError;

type Source<'a> = Option<&'a (dyn std::error::Error + 'static)>;

fn io_eq(a: &io::Error, b: &io::Error) -> bool {
    a.kind() == b.kind()
}

/// Why an HTTP/2 client request failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL or request cannot be sent (bad URL, `https://`, invalid headers).
    InvalidRequest(String),
    /// No TCP connection: DNS failure or connect error.
    Connect(ConnectError),
    /// TCP connected but the peer is not an HTTP/2 (h2c prior knowledge)
    /// server: it answered HTTP/1.x, closed, or failed before its first SETTINGS.
    Handshake {
        /// What happened.
        reason: &'static str,
        /// The socket error, if one ended the handshake.
        source: Option<Arc<io::Error>>,
    },
    /// Something took too long; the text says what (connect, request, keepalive).
    Timeout(&'static str),
    /// The server did not process the request (REFUSED_STREAM after a GOAWAY),
    /// again on the retry.
    Refused,
    /// The origin's circuit breaker is open: no connection was attempted.
    CircuitOpen(String),
    /// The server reset the stream with this code.
    Reset(ErrorCode),
    /// We reset the stream after a stream error of the server's (code sent).
    ResetLocally(ErrorCode),
    /// The server sent GOAWAY and the request was not retried.
    GoAway {
        /// GOAWAY error code.
        code: ErrorCode,
        /// Highest stream the server may have processed.
        last_stream_id: StreamId,
        /// Debug data (lossy UTF-8).
        debug: String,
    },
    /// The peer broke HTTP/2 (connection error).
    Protocol(crate::Error),
    /// The peer broke HTTP/1.1 (malformed or oversized response; the
    /// connection is closed).
    Http1(crate::h1::H1Error),
    /// The stream ended without a response head.
    NoResponse,
    /// The server answered with this status and the caller asked to fail on
    /// statuses >= 400 ([`super::client::GetOptions::fail`]).
    Status(u16),
    /// The connection closed early, without a socket error; the text says when.
    Closed(&'static str),
    /// A socket (or thread/poll setup) error.
    Io {
        /// The operation that failed.
        what: &'static str,
        /// Its error.
        source: Arc<io::Error>,
    },
    /// [`super::pool::ResponseHandle::poll`] was called after it returned the result.
    ResponseTaken,
    /// TLS failed: certificate refused (unknown CA, expired, not yet valid,
    /// wrong host), no ALPN overlap, an alert from the peer, a peer that
    /// does not speak TLS, ... (the [`crate::tls::TlsError`] is the source).
    #[cfg(feature = "tls")]
    Tls(crate::tls::TlsError),
    /// The TLS client context could not be built (roots, `--cacert`).
    #[cfg(feature = "tls")]
    TlsConfig(String),
}

impl ClientError {
    /// An [`ClientError::Io`] error.
    pub(crate) fn io(what: &'static str, e: io::Error) -> ClientError {
        ClientError::Io {
            what,
            source: Arc::new(e),
        }
    }
}

impl From<ConnectError> for ClientError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Timeout => ClientError::Timeout("connect"),
            e => ClientError::Connect(e),
        }
    }
}

impl PartialEq for ClientError {
    /// Structural equality; I/O errors compare by [`io::ErrorKind`].
    fn eq(&self, other: &Self) -> bool {
        use ClientError as E;
        match (self, other) {
            (E::InvalidRequest(a), E::InvalidRequest(b))
            | (E::CircuitOpen(a), E::CircuitOpen(b)) => a == b,
            (E::Connect(a), E::Connect(b)) => a == b,
            (
                E::Handshake {
                    reason: a,
                    source: x,
                },
                E::Handshake {
                    reason: b,
                    source: y,
                },
            ) => a == b && x.as_ref().map(|e| e.kind()) == y.as_ref().map(|e| e.kind()),
            (E::Timeout(a), E::Timeout(b)) | (E::Closed(a), E::Closed(b)) => a == b,
            (E::Refused, E::Refused) | (E::NoResponse, E::NoResponse) => true,
            (E::ResponseTaken, E::ResponseTaken) => true,
            (E::Reset(a), E::Reset(b)) | (E::ResetLocally(a), E::ResetLocally(b)) => a == b,
            (
                E::GoAway {
                    code: a,
                    last_stream_id: x,
                    debug: m,
                },
                E::GoAway {
                    code: b,
                    last_stream_id: y,
                    debug: n,
                },
            ) => a == b && x == y && m == n,
            (E::Protocol(a), E::Protocol(b)) => a == b,
            (E::Http1(a), E::Http1(b)) => a == b,
            (E::Status(a), E::Status(b)) => a == b,
            #[cfg(feature = "tls")]
            (E::Tls(a), E::Tls(b)) => a == b,
            #[cfg(feature = "tls")]
            (E::TlsConfig(a), E::TlsConfig(b)) => a == b,
            (E::Io { what: a, source: x }, E::Io { what: b, source: y }) => a == b && io_eq(x, y),
            _ => false,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::InvalidRequest(m) => f.write_str(m),
            ClientError::Connect(e) => e.fmt(f),
            ClientError::Handshake { reason, source } => match source {
                Some(e) => write!(f, "{reason}: {e}"),
                None => f.write_str(reason),
            },
            ClientError::Timeout(what) => write!(f, "timed out ({what})"),
            ClientError::Refused => f.write_str(
                "request refused by the server (not processed, REFUSED_STREAM) even after a retry",
            ),
            ClientError::CircuitOpen(origin) => write!(
                f,
                "circuit breaker open for {origin}: too many recent failures, not connecting"
            ),
            ClientError::Reset(code) => write!(f, "stream reset by the server: {code}"),
            ClientError::ResetLocally(code) => {
                write!(f, "HTTP/2 protocol error: stream reset locally: {code}")
            }
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
            ClientError::Protocol(e) => write!(f, "HTTP/2 protocol error: {e}"),
            ClientError::Http1(e) => write!(f, "HTTP/1.1 protocol error: {e}"),
            ClientError::NoResponse => {
                f.write_str("HTTP/2 protocol error: stream ended without a response")
            }
            ClientError::Status(code) => write!(f, "server returned HTTP status {code}"),
            ClientError::Closed(m) => f.write_str(m),
            ClientError::Io { what, source } => write!(f, "{what}: {source}"),
            ClientError::ResponseTaken => f.write_str("response already taken"),
            #[cfg(feature = "tls")]
            ClientError::Tls(e) => e.fmt(f),
            #[cfg(feature = "tls")]
            ClientError::TlsConfig(m) => write!(f, "TLS configuration: {m}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Source<'_> {
        match self {
            ClientError::Connect(e) => Some(e),
            ClientError::Handshake {
                source: Some(e), ..
            }
            | ClientError::Io { source: e, .. } => Some(&**e),
            ClientError::Protocol(e) => Some(e),
            ClientError::Http1(e) => Some(e),
            #[cfg(feature = "tls")]
            ClientError::Tls(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a WebSocket client operation failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WsError {
    /// The URL or request cannot be used (bad URL, `wss://`, invalid path).
    InvalidRequest(String),
    /// No TCP connection: DNS failure, connect error or connect timeout.
    Connect(ConnectError),
    /// `/dev/urandom` (masking keys, handshake nonce) could not be read.
    Random(Arc<io::Error>),
    /// A socket error.
    Io {
        /// The operation that failed.
        what: &'static str,
        /// Its error.
        source: Arc<io::Error>,
    },
    /// The server closed the TCP connection.
    Closed,
    /// A blocking call did not complete within the client's timeout.
    Timeout(Duration),
    /// The server broke HTTP/2 (connection error).
    Protocol(crate::Error),
    /// The server sent GOAWAY with an error code.
    GoAway(ErrorCode),
    /// The HTTP/2 stream (WebSocket or GET) was reset.
    Reset(ErrorCode),
    /// The server answered the RFC 8441 CONNECT with this non-2xx status.
    Rejected(u16),
    /// The extended CONNECT could not be sent: the server did not enable
    /// RFC 8441 (SETTINGS_ENABLE_CONNECT_PROTOCOL), the path makes an invalid
    /// URI, or the connection is going away.
    NoExtendedConnect(UserError),
    /// The HTTP/1.1 Upgrade response was not a valid `101`.
    Handshake {
        /// The response status.
        status: u16,
        /// What was wrong with it.
        source: HandshakeError,
    },
    /// The HTTP/1.1 response head could not be parsed (or was too large).
    BadResponse(String),
    /// The WebSocket failed (protocol error by the peer; close sent).
    WebSocket(crate::ws::Error),
    /// A message or close frame could not be queued.
    Send(SendError),
    /// The WebSocket is closed: nothing more will arrive.
    WebSocketClosed,
    /// No WebSocket or request with this stream id on the session.
    UnknownStream(StreamId),
    /// A GET could not be sent on the session.
    Request(UserError),
    /// A GET's stream ended without a response head.
    NoResponse,
}

impl WsError {
    /// A [`WsError::Io`] error.
    pub(crate) fn io(what: &'static str, e: io::Error) -> WsError {
        WsError::Io {
            what,
            source: Arc::new(e),
        }
    }
}

impl From<ConnectError> for WsError {
    fn from(e: ConnectError) -> Self {
        WsError::Connect(e)
    }
}

impl PartialEq for WsError {
    /// Structural equality; I/O errors compare by [`io::ErrorKind`].
    fn eq(&self, other: &Self) -> bool {
        use WsError as E;
        match (self, other) {
            (E::InvalidRequest(a), E::InvalidRequest(b))
            | (E::BadResponse(a), E::BadResponse(b)) => a == b,
            (E::Connect(a), E::Connect(b)) => a == b,
            (E::Random(a), E::Random(b)) => io_eq(a, b),
            (E::Io { what: a, source: x }, E::Io { what: b, source: y }) => a == b && io_eq(x, y),
            (E::Closed, E::Closed)
            | (E::WebSocketClosed, E::WebSocketClosed)
            | (E::NoResponse, E::NoResponse) => true,
            (E::Timeout(a), E::Timeout(b)) => a == b,
            (E::Protocol(a), E::Protocol(b)) => a == b,
            (E::GoAway(a), E::GoAway(b)) | (E::Reset(a), E::Reset(b)) => a == b,
            (E::Rejected(a), E::Rejected(b)) => a == b,
            (E::NoExtendedConnect(a), E::NoExtendedConnect(b)) | (E::Request(a), E::Request(b)) => {
                a == b
            }
            (
                E::Handshake {
                    status: a,
                    source: x,
                },
                E::Handshake {
                    status: b,
                    source: y,
                },
            ) => a == b && x == y,
            (E::WebSocket(a), E::WebSocket(b)) => a == b,
            (E::Send(a), E::Send(b)) => a == b,
            (E::UnknownStream(a), E::UnknownStream(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::InvalidRequest(m) | WsError::BadResponse(m) => f.write_str(m),
            WsError::Connect(e) => e.fmt(f),
            WsError::Random(e) => write!(f, "cannot read /dev/urandom: {e}"),
            WsError::Io { what, source } => write!(f, "{what}: {source}"),
            WsError::Closed => f.write_str("connection closed by the server"),
            WsError::Timeout(d) => write!(f, "timed out after {d:?}"),
            WsError::Protocol(e) => write!(f, "HTTP/2 protocol error: {e}"),
            WsError::GoAway(code) => write!(f, "server sent GOAWAY {code}"),
            WsError::Reset(code) => write!(f, "stream reset: {code}"),
            WsError::Rejected(status) => {
                write!(f, "server refused the WebSocket: status {status}")
            }
            WsError::NoExtendedConnect(e) => write!(
                f,
                "cannot open a WebSocket stream: {e} (server lacks RFC 8441 support?)"
            ),
            WsError::Handshake { status, source } => {
                write!(f, "WebSocket handshake failed: {source} (status {status})")
            }
            WsError::WebSocket(e) => write!(f, "WebSocket failed: {e}"),
            WsError::Send(e) => write!(f, "cannot send: {e}"),
            WsError::WebSocketClosed => f.write_str("the WebSocket is closed"),
            WsError::UnknownStream(id) => write!(f, "no WebSocket or request on stream {id}"),
            WsError::Request(e) => write!(f, "cannot send request: {e}"),
            WsError::NoResponse => f.write_str("stream ended without a response"),
        }
    }
}

impl std::error::Error for WsError {
    fn source(&self) -> Source<'_> {
        match self {
            WsError::Connect(e) => Some(e),
            WsError::Random(e) | WsError::Io { source: e, .. } => Some(&**e),
            WsError::Protocol(e) => Some(e),
            WsError::NoExtendedConnect(e) | WsError::Request(e) => Some(e),
            WsError::Handshake { source, .. } => Some(source),
            WsError::WebSocket(e) => Some(e),
            WsError::Send(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn sources_are_kept() {
        let e = ClientError::io(
            "read failed",
            io::Error::from(io::ErrorKind::ConnectionReset),
        );
        let src = e.source().expect("io source");
        let io = src.downcast_ref::<io::Error>().expect("an io::Error");
        assert_eq!(io.kind(), io::ErrorKind::ConnectionReset);
        assert!(e.to_string().starts_with("read failed: "));

        let p = crate::Error::conn(ErrorCode::PROTOCOL_ERROR, "bad frame");
        let e = ClientError::Protocol(p);
        assert_eq!(e.source().unwrap().downcast_ref::<crate::Error>(), Some(&p));
        assert_eq!(
            e.to_string(),
            "HTTP/2 protocol error: connection error PROTOCOL_ERROR: bad frame"
        );

        let w = WsError::Send(SendError::Closed);
        assert_eq!(
            w.source().unwrap().downcast_ref::<SendError>(),
            Some(&SendError::Closed)
        );
        assert!(WsError::Timeout(Duration::from_secs(1)).source().is_none());
    }

    #[test]
    fn connect_timeout_maps_to_timeout() {
        assert_eq!(
            ClientError::from(ConnectError::Timeout),
            ClientError::Timeout("connect")
        );
        let e = ClientError::io("x", io::ErrorKind::BrokenPipe.into());
        assert_eq!(e.clone(), e);
        assert_ne!(e, ClientError::io("x", io::ErrorKind::TimedOut.into()));
    }
}
