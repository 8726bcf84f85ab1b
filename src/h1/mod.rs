//! Sans-IO HTTP/1.1 codec (RFC 9112): message heads, body framing, keep-alive.
//!
//! Owns the HTTP/1.1 wire format for both roles, over any byte stream (TCP
//! today, TLS once ALPN picks `http/1.1`); it performs no I/O and reads no
//! clock. Heads are parsed with `httparse` into `http` types.
//!
//! - Client role: [`encode_request`] writes a request head (adding `host`
//!   and the body framing); a [`ResponseDecoder`] turns the server's bytes
//!   into [`ResponseEvent`]s: interim 1xx heads are skipped, bodies are
//!   content-length, chunked (with trailers) or close-delimited, responses to
//!   HEAD and 204/304 have none, and each final head says whether the
//!   connection stays open (`keep_alive`).
//! - Server role: a [`RequestDecoder`] parses pipelined requests one after
//!   the other into [`RequestEvent`]s (bodies by content-length or chunked);
//!   [`encode_response`] writes a response head, [`encode_chunk`] /
//!   [`encode_last_chunk`] a chunked body.
//!
//! Input is bounded: heads by [`Limits::max_head`] bytes and
//! [`Limits::max_headers`] fields, chunk-size lines by [`MAX_CHUNK_LINE`].
//! Every malformed input is a typed [`H1Error`]; no input panics, and the
//! events do not depend on how the input was split into `recv` calls.

mod decode;

pub use decode::{RequestDecoder, RequestEvent, ResponseDecoder, ResponseEvent};

use std::fmt;

use http::header::{self, HeaderMap, HeaderValue};

/// Longest accepted chunk-size line (size, extensions, CRLF).
pub const MAX_CHUNK_LINE: usize = 4096;
/// Highest accepted [`Limits::max_headers`] (the parser's field array lives on the stack).
pub const MAX_HEADERS_CAP: usize = 256;

/// Bounds on what a decoder buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes of one head (start line + fields + empty line), and of a
    /// chunked body's trailer section.
    pub max_head: usize,
    /// Most header fields in one head (at most [`MAX_HEADERS_CAP`]).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 64 << 10,
            max_headers: 100,
        }
    }
}

/// Why HTTP/1.1 input (or a message to encode) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum H1Error {
    /// A head (or trailer section) exceeds [`Limits::max_head`].
    HeadTooLarge,
    /// A head has more than [`Limits::max_headers`] fields.
    TooManyHeaders,
    /// The start line or a header field is malformed (httparse's reason).
    BadHead(&'static str),
    /// A status code outside 100..=999 or a method/target `http` refuses.
    BadStartLine,
    /// A `content-length` that is not a number, or several different ones.
    BadContentLength,
    /// A request with a transfer coding other than a final `chunked`, or
    /// with both `transfer-encoding` and `content-length` (RFC 9112 §6.1).
    BadTransferEncoding,
    /// A malformed chunk-size line or chunk terminator.
    BadChunk,
    /// The peer closed in the middle of a message.
    UnexpectedEof,
    /// Bytes arrived where no response was expected (client role).
    UnexpectedResponse,
    /// The message to encode cannot be written (the text says why).
    Encode(&'static str),
}

impl fmt::Display for H1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            H1Error::HeadTooLarge => f.write_str("HTTP/1.1 head too large"),
            H1Error::TooManyHeaders => f.write_str("HTTP/1.1 head has too many header fields"),
            H1Error::BadHead(why) => write!(f, "malformed HTTP/1.1 head: {why}"),
            H1Error::BadStartLine => f.write_str("malformed HTTP/1.1 start line"),
            H1Error::BadContentLength => f.write_str("invalid content-length"),
            H1Error::BadTransferEncoding => f.write_str("unsupported transfer-encoding"),
            H1Error::BadChunk => f.write_str("malformed chunked body"),
            H1Error::UnexpectedEof => f.write_str("connection closed in the middle of a message"),
            H1Error::UnexpectedResponse => f.write_str("response bytes without a request"),
            H1Error::Encode(why) => write!(f, "cannot encode HTTP/1.1 message: {why}"),
        }
    }
}

impl std::error::Error for H1Error {}

/// How a message body is delimited on the wire (what the encoder announces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Framing {
    /// The head's fields are written as given (e.g. a HEAD or 304 response
    /// that carries the representation's `content-length`, or no body).
    AsIs,
    /// A body of exactly this many bytes: `content-length` is set.
    Length(u64),
    /// `transfer-encoding: chunked` (any `content-length` is dropped); the
    /// body follows as [`encode_chunk`]s and one [`encode_last_chunk`].
    Chunked,
}

/// Writes a request head for `req` (client role): origin-form target (the
/// URI's path and query), `HTTP/1.1`, `host` from the URI's authority when the
/// request has none, the fields, then the framing of `body`.
pub fn encode_request(
    req: &http::Request<()>,
    body: Framing,
    out: &mut Vec<u8>,
) -> Result<(), H1Error> {
    let uri = req.uri();
    let target = if req.method() == http::Method::CONNECT {
        uri.authority()
            .map(|a| a.as_str())
            .ok_or(H1Error::Encode("CONNECT needs an authority"))?
    } else if req.method() == http::Method::OPTIONS && uri.path() == "*" {
        "*"
    } else {
        uri.path_and_query().map_or("/", |p| p.as_str())
    };
    let target = if target.is_empty() { "/" } else { target };
    out.extend_from_slice(req.method().as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !req.headers().contains_key(header::HOST) {
        let Some(auth) = uri.authority() else {
            return Err(H1Error::Encode("the request has no host"));
        };
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(auth.as_str().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    write_fields(req.headers(), body, out);
    Ok(())
}

/// Writes a response head (server role): `HTTP/1.1 CODE REASON`, the fields,
/// the framing of `body`, and `connection: close` unless `keep_alive`.
pub fn encode_response(
    resp: &http::Response<()>,
    body: Framing,
    keep_alive: bool,
    out: &mut Vec<u8>,
) {
    encode_response_head(resp.status(), resp.headers(), body, keep_alive, out);
}

/// [`encode_response`] from a status and a borrowed field map (a prebuilt
/// head sent many times needs no `Response` per message).
pub fn encode_response_head(
    status: http::StatusCode,
    headers: &HeaderMap,
    body: Framing,
    keep_alive: bool,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    if !keep_alive && !has_token(headers, header::CONNECTION, "close") {
        out.extend_from_slice(b"connection: close\r\n");
    }
    write_fields(headers, body, out);
}

/// Fields (minus the framing ones `body` replaces), framing, empty line.
fn write_fields(h: &HeaderMap, body: Framing, out: &mut Vec<u8>) {
    for (name, value) in h {
        let framing_field = name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING;
        if framing_field && body != Framing::AsIs {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match body {
        Framing::AsIs => {}
        Framing::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(n.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes one chunk of a chunked body (nothing for empty `data`: an empty
/// chunk would end the body).
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Ends a chunked body: the last chunk, the trailer fields, the empty line.
pub fn encode_last_chunk(trailers: Option<&HeaderMap>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n");
    for (name, value) in trailers.into_iter().flatten() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// True when a comma-separated field `name` lists `token` (case-insensitive).
pub(crate) fn has_token(h: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    h.get_all(name).iter().any(|v: &HeaderValue| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// Whether a message of `version` with these fields keeps the connection
/// open (RFC 9112 §9.3): HTTP/1.1 unless `connection: close`; HTTP/1.0 only
/// with `connection: keep-alive`.
pub fn keep_alive(version: http::Version, h: &HeaderMap) -> bool {
    if has_token(h, header::CONNECTION, "close") {
        return false;
    }
    version != http::Version::HTTP_10 || has_token(h, header::CONNECTION, "keep-alive")
}

#[cfg(test)]
mod tests;
