//! Field blocks ↔ `http` types, with the message checks of RFC 9113 §8.2–§8.3
//! (pseudo-headers, lowercase names, connection-specific fields, TE, content-length)
//! and RFC 8441 `:protocol`.

/// RFC 8441 `:protocol` pseudo-header value, carried as an `http` extension on
/// requests (extended CONNECT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protocol(pub String);
