//! HTTP/2 error codes (RFC 9113 §7) and the connection/stream error split (§5.4).

use core::fmt;

/// A 32-bit HTTP/2 error code as carried in RST_STREAM and GOAWAY (RFC 9113 §7).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// Graceful shutdown / no error.
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    /// Unspecific protocol error.
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x1);
    /// Unexpected internal error.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(0x2);
    /// Flow-control protocol violated.
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(0x3);
    /// SETTINGS not acknowledged in time.
    pub const SETTINGS_TIMEOUT: ErrorCode = ErrorCode(0x4);
    /// Frame received for a half-closed (remote) or closed stream.
    pub const STREAM_CLOSED: ErrorCode = ErrorCode(0x5);
    /// Frame with an invalid size.
    pub const FRAME_SIZE_ERROR: ErrorCode = ErrorCode(0x6);
    /// Stream refused before any application processing.
    pub const REFUSED_STREAM: ErrorCode = ErrorCode(0x7);
    /// Stream no longer needed.
    pub const CANCEL: ErrorCode = ErrorCode(0x8);
    /// Field-block compression state cannot be maintained.
    pub const COMPRESSION_ERROR: ErrorCode = ErrorCode(0x9);
    /// CONNECT tunnel failed.
    pub const CONNECT_ERROR: ErrorCode = ErrorCode(0xa);
    /// Peer is generating excessive load.
    pub const ENHANCE_YOUR_CALM: ErrorCode = ErrorCode(0xb);
    /// Transport properties do not meet minimum security requirements.
    pub const INADEQUATE_SECURITY: ErrorCode = ErrorCode(0xc);
    /// HTTP/1.1 must be used instead.
    pub const HTTP_1_1_REQUIRED: ErrorCode = ErrorCode(0xd);

    /// The RFC name of the code, or `None` for an unknown (extension) code.
    pub fn name(self) -> Option<&'static str> {
        const NAMES: [&str; 14] = [
            "NO_ERROR",
            "PROTOCOL_ERROR",
            "INTERNAL_ERROR",
            "FLOW_CONTROL_ERROR",
            "SETTINGS_TIMEOUT",
            "STREAM_CLOSED",
            "FRAME_SIZE_ERROR",
            "REFUSED_STREAM",
            "CANCEL",
            "COMPRESSION_ERROR",
            "CONNECT_ERROR",
            "ENHANCE_YOUR_CALM",
            "INADEQUATE_SECURITY",
            "HTTP_1_1_REQUIRED",
        ];
        NAMES.get(self.0 as usize).copied()
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "ErrorCode({:#x})", self.0),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A protocol violation detected while processing peer input (RFC 9113 §5.4).
///
/// Reasons are `&'static str` so that error paths never allocate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The whole connection is unusable: send GOAWAY with `code` and close.
    Connection {
        /// Code to send in GOAWAY.
        code: ErrorCode,
        /// Human-readable reason (also sent as GOAWAY debug data).
        reason: &'static str,
    },
    /// Only one stream is affected: send RST_STREAM with `code`.
    Stream {
        /// The affected stream.
        stream_id: u32,
        /// Code to send in RST_STREAM.
        code: ErrorCode,
        /// Human-readable reason.
        reason: &'static str,
    },
}

impl Error {
    /// Shorthand for a connection error.
    pub const fn conn(code: ErrorCode, reason: &'static str) -> Self {
        Error::Connection { code, reason }
    }
    /// Shorthand for a stream error.
    pub const fn stream(stream_id: u32, code: ErrorCode, reason: &'static str) -> Self {
        Error::Stream {
            stream_id,
            code,
            reason,
        }
    }
    /// The error code, whichever the scope.
    pub fn code(&self) -> ErrorCode {
        match *self {
            Error::Connection { code, .. } | Error::Stream { code, .. } => code,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connection { code, reason } => write!(f, "connection error {code}: {reason}"),
            Error::Stream {
                stream_id,
                code,
                reason,
            } => write!(f, "stream {stream_id} error {code}: {reason}"),
        }
    }
}

impl std::error::Error for Error {}
