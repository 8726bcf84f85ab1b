//! Sans-IO WebSocket protocol core (RFC 6455), plus the pure handshake helpers
//! for HTTP/1.1 Upgrade (RFC 6455 §4) and HTTP/2 extended CONNECT (RFC 8441).
//!
//! Layout:
//! - [`mask`]: payload masking (§5.3) with SIMD fast paths;
//! - [`frame`]: frame header wire format (§5.2);
//! - [`conn`]: [`WebSocket`], the connection state machine: fragmentation
//!   (§5.4), control frames (§5.5), UTF-8 text (§5.6, §8.1), close handshake
//!   (§5.5.1, §7), limits;
//! - [`handshake`]: `Sec-WebSocket-Accept` (§4.2.2) and request/response checks.
//! - [`h2`]: [`h2::WsStream`], a WebSocket on an HTTP/2 stream (RFC 8441).
//!
//! Like the HTTP/2 core, nothing here performs I/O, reads a clock or draws
//! random numbers: bytes go in through [`WebSocket::recv`], events come out of
//! [`WebSocket::poll_event`], frames are appended to a caller buffer by
//! [`WebSocket::write_to`]; client masking keys come from a caller-seeded
//! generator or a caller-supplied closure.

pub mod conn;
pub mod frame;
pub mod h2;
pub mod handshake;
pub mod mask;
mod utf8;

pub use conn::{Config, Event, Message, Role, SendError, WebSocket, RELEASE_COPY_MAX, SHARE_MIN};
pub use frame::OpCode;
pub use mask::apply_mask;

use bytes::Bytes;
use core::fmt;

/// A close status code (RFC 6455 §7.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: endpoint going away.
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: unsupported data type.
    pub const UNSUPPORTED: CloseCode = CloseCode(1003);
    /// 1005: no status code was present (never sent on the wire).
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: abnormal closure (never sent on the wire).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: invalid frame payload data (e.g. bad UTF-8).
    pub const INVALID_DATA: CloseCode = CloseCode(1007);
    /// 1008: policy violation.
    pub const POLICY: CloseCode = CloseCode(1008);
    /// 1009: message too big.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: missing extension (client).
    pub const EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: internal server error.
    pub const INTERNAL: CloseCode = CloseCode(1011);

    /// Whether this code may appear in a close frame on the wire: 1000-1003,
    /// 1007-1014 and 3000-4999 (the set Autobahn accepts).
    pub fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A protocol violation by the peer. The connection has failed: a close frame
/// with [`Error::code`] has been queued (unless one was already sent) and
/// every later [`WebSocket::recv`] returns the same error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    code: CloseCode,
    msg: &'static str,
}

impl Error {
    pub(crate) fn protocol(msg: &'static str) -> Error {
        Error {
            code: CloseCode::PROTOCOL_ERROR,
            msg,
        }
    }
    pub(crate) fn invalid_data(msg: &'static str) -> Error {
        Error {
            code: CloseCode::INVALID_DATA,
            msg,
        }
    }
    pub(crate) fn too_big(msg: &'static str) -> Error {
        Error {
            code: CloseCode::TOO_BIG,
            msg,
        }
    }

    /// The close code sent to the peer (1002, 1007 or 1009).
    pub fn code(&self) -> CloseCode {
        self.code
    }

    /// A short description of the violation.
    pub fn message(&self) -> &'static str {
        self.msg
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "websocket error {}: {}", self.code.0, self.msg)
    }
}

impl std::error::Error for Error {}

/// Immutable bytes that are guaranteed to be valid UTF-8 (a text payload).
///
/// Cheap to clone (it is a [`Bytes`]). Because the crate allows `unsafe` only
/// for SIMD kernels and the native server's syscalls (never to skip a check,
/// see the crate docs), [`Utf8Bytes::as_str`] re-checks the bytes with SIMD
/// UTF-8 validation (tens of GB/s) instead of an unchecked conversion; use
/// [`Utf8Bytes::as_bytes`] / [`Utf8Bytes::into_bytes`] for zero-cost access.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps bytes the caller has already validated.
    pub(crate) fn from_validated(b: Bytes) -> Utf8Bytes {
        Utf8Bytes(b)
    }

    /// A static string.
    pub const fn from_static(s: &'static str) -> Utf8Bytes {
        Utf8Bytes(Bytes::from_static(s.as_bytes()))
    }

    /// The text as `&str`.
    pub fn as_str(&self) -> &str {
        // The invariant guarantees validity; the fallback is unreachable.
        simdutf8::basic::from_utf8(&self.0).unwrap_or_default()
    }

    /// The UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying [`Bytes`].
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = Bytes;
    /// Validates `b`; returns it back unchanged if it is not UTF-8.
    fn try_from(b: Bytes) -> Result<Utf8Bytes, Bytes> {
        if simdutf8::basic::from_utf8(&b).is_ok() {
            Ok(Utf8Bytes(b))
        } else {
            Err(b)
        }
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Utf8Bytes {
        Utf8Bytes(Bytes::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Utf8Bytes {
        Utf8Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
