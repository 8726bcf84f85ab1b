//! Field blocks ↔ `http` types, with the message checks of RFC 9113 §8.2–§8.3
//! (pseudo-headers, lowercase names, connection-specific fields, TE, content-length)
//! and RFC 8441 `:protocol`.
//!
//! Owns:
//! * `HeadBuilder`: receives the fields of one decoded field block (request,
//!   response or trailers) and turns them into an `http` head, or into the stream
//!   error (RFC 9113 §8.1.1: malformed ⇒ PROTOCOL_ERROR) for the first violation.
//!   Each regular field value is scanned once, by `conn::validate`'s SIMD
//!   kernels (the bytes `http::HeaderValue` accepts: no NUL, CR, LF, other
//!   controls or DEL), and becomes a `HeaderValue` without a second scan;
//!   values share one per-connection store; a `:authority` / `:path` equal
//!   to the previous request's is shared, not parsed again.
//! * `encode_request` / `encode_response` / `encode_trailers`: the reverse, checking
//!   that what the application asks us to send is a well-formed HTTP/2 message
//!   before a single byte reaches the HPACK encoder (whose dynamic table must not
//!   see a half-emitted block).

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};

use crate::conn::names::NameTable;
use crate::conn::validate;
use crate::conn::UserError;
use crate::error::{Error, ErrorCode};
use crate::hpack::{Encoder, HeaderField};

/// RFC 8441 `:protocol` pseudo-header value, carried as an `http` extension on
/// requests (extended CONNECT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protocol(pub String);

/// Reason of the stream error returned when a field block exceeds our
/// SETTINGS_MAX_HEADER_LIST_SIZE. A server may answer 431 before resetting
/// (RFC 9113 §10.5.1); the connection layer can compare against this constant.
///
/// The code is PROTOCOL_ERROR, as in the `h2` crate (which sends 431 + RST_STREAM
/// PROTOCOL_ERROR on servers and RST_STREAM PROTOCOL_ERROR on clients).
/// REFUSED_STREAM is deliberately not used: it tells the peer the request is safe
/// to retry unchanged (§8.7), and a retry of the same oversized block would fail
/// the same way.
pub(crate) const HEADER_LIST_TOO_LARGE: &str =
    "header list larger than SETTINGS_MAX_HEADER_LIST_SIZE";

/// Which kind of field block is being decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockKind {
    /// First HEADERS of a stream on a server. (PUSH_PROMISE never gets here:
    /// we advertise SETTINGS_ENABLE_PUSH = 0 and reject it as a connection error.)
    Request,
    /// A response head (1xx or final) on a client.
    Response,
    /// A trailing HEADERS block (END_STREAM set, after DATA or a head).
    Trailers,
}

/// A decoded, validated head.
#[derive(Debug)]
pub(crate) struct Head {
    /// The head itself.
    pub kind: HeadKind,
    /// The `content-length` value, when present (requests and responses only),
    /// for checking against the DATA payload (RFC 9113 §8.1.1).
    pub content_length: Option<u64>,
}

/// The `http` value of a decoded head.
#[derive(Debug)]
pub(crate) enum HeadKind {
    /// A request (server side; the connection itself takes requests with
    /// [`HeadBuilder::finish_request`], this is for the unit tests).
    #[cfg_attr(not(test), allow(dead_code))]
    Request(Request<()>),
    /// A response (client side).
    Response(Response<()>),
    /// Trailers.
    Trailers(HeaderMap),
}

/// Collects the fields of one field block and validates them.
///
/// [`field`](Self::field) never fails: the HPACK decoder has to finish the block to
/// keep its dynamic table in sync, so the first violation is recorded and reported
/// by [`finish`](Self::finish). After a violation, or once the header list size
/// limit is exceeded, fields are only counted, not stored.
#[derive(Debug)]
pub(crate) struct HeadBuilder {
    kind: BlockKind,
    stream_id: u32,
    max_header_list_size: u32,
    connect_protocol_enabled: bool,
    /// Running RFC 9113 §6.5.2 size: Σ name + value + 32.
    list_size: u64,
    oversize: bool,
    malformed: Option<&'static str>,
    saw_regular: bool,
    method: Option<Method>,
    scheme: Option<Scheme>,
    authority: Option<Authority>,
    path: Option<PathAndQuery>,
    protocol: Option<String>,
    status: Option<StatusCode>,
    /// The regular fields; `None` once taken (by [`finish`](Self::finish)
    /// or [`take_headers`](Self::take_headers)): taking leaves no empty map
    /// to build and drop.
    headers: Option<HeaderMap>,
    content_length: Option<u64>,
    /// A `priority` field was seen.
    has_priority: bool,
    /// Backing store for the values (and `:path`, `:authority`): each is
    /// copied in and split off as a `Bytes` sharing this buffer. The
    /// connection keeps the store across blocks, so a [`STORE_CHUNK`] buffer
    /// (two allocations: the buffer and its shared header) serves many
    /// blocks instead of one allocation per value. A value kept by the
    /// application keeps its chunk alive.
    store: BytesMut,
    /// The connection's interned names, lent for this block.
    names: NameTable,
}

/// Size of a value store chunk (bigger values get a buffer of their own size).
const STORE_CHUNK: usize = 4096;

impl HeadBuilder {
    /// A builder for one block of `kind` on `stream_id`, with a store, name
    /// table and map of its own (tests; the connection lends its own with
    /// [`lent`](Self::lent)).
    #[cfg(test)]
    pub(crate) fn new(
        kind: BlockKind,
        stream_id: u32,
        max_header_list_size: u32,
        connect_protocol_enabled: bool,
    ) -> Self {
        Self::lent(
            kind,
            stream_id,
            max_header_list_size,
            connect_protocol_enabled,
            BytesMut::new(),
            NameTable::default(),
            HeaderMap::new(),
        )
    }

    /// A builder for one block of `kind` on `stream_id`. `max_header_list_size` is
    /// our advertised SETTINGS_MAX_HEADER_LIST_SIZE; `connect_protocol_enabled`
    /// whether we advertised SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3).
    /// The connection lends `store` (the value store left over from earlier
    /// blocks), `names` (its interned names and last pseudo-header values)
    /// and `headers` (an empty map, e.g. a pooled one), taken back with
    /// [`take_store`](Self::take_store), [`take_names`](Self::take_names)
    /// and, when the block does not become a head, [`take_headers`](Self::take_headers).
    pub(crate) fn lent(
        kind: BlockKind,
        stream_id: u32,
        max_header_list_size: u32,
        connect_protocol_enabled: bool,
        mut store: BytesMut,
        mut names: NameTable,
        headers: HeaderMap,
    ) -> Self {
        debug_assert!(headers.is_empty());
        // Renew a nearly used-up chunk now, between blocks: when the values
        // of earlier blocks were all dropped, `reserve` reclaims the chunk in
        // place. (Renewed mid-block, the block's own values would still hold
        // it, and a new chunk would be allocated.) The kept `:authority` and
        // `:path` are slices of it: dropped first, parsed again next time.
        if store.capacity() < STORE_CHUNK / 2 {
            names.forget_pseudo();
            store.reserve(STORE_CHUNK);
        }
        HeadBuilder {
            kind,
            stream_id,
            max_header_list_size,
            connect_protocol_enabled,
            list_size: 0,
            oversize: false,
            malformed: None,
            saw_regular: false,
            method: None,
            scheme: None,
            authority: None,
            path: None,
            protocol: None,
            status: None,
            headers: Some(headers),
            content_length: None,
            has_priority: false,
            store,
            names,
        }
    }

    /// Gives back the interned names.
    pub(crate) fn take_names(&mut self) -> NameTable {
        core::mem::take(&mut self.names)
    }

    /// Gives back the map when the block will not become a head (an error).
    pub(crate) fn take_headers(&mut self) -> HeaderMap {
        self.headers.take().unwrap_or_default()
    }

    /// Gives back the value store for the next block.
    pub(crate) fn take_store(&mut self) -> BytesMut {
        core::mem::take(&mut self.store)
    }

    /// `v` as a `Bytes` in the shared value store.
    fn share(&mut self, v: &[u8]) -> Bytes {
        if self.store.capacity() < v.len() {
            // Reclaims the chunk in place when every value split off it was
            // dropped (the store is then its only handle); allocates otherwise.
            self.store.reserve(v.len().max(STORE_CHUNK));
        }
        self.store.extend_from_slice(v);
        self.store.split().freeze()
    }

    /// Accepts the next decoded field. Never fails early (see the type docs).
    pub(crate) fn field(&mut self, f: HeaderField<'_>) {
        self.list_size += f.name.len() as u64 + f.value.len() as u64 + 32;
        if self.list_size > u64::from(self.max_header_list_size) {
            self.oversize = true;
        }
        if self.oversize || self.malformed.is_some() {
            return;
        }
        if let Err(reason) = self.check_field(f) {
            self.malformed = Some(reason);
        }
    }

    fn check_field(&mut self, f: HeaderField<'_>) -> Result<(), &'static str> {
        if f.name.first() == Some(&b':') {
            // A value equal to the kept `:authority` / `:path` passed this
            // check when it was kept.
            let kept = match f.name {
                b":authority" => self.names.authority(f.value).is_some(),
                b":path" => self.names.path(f.value).is_some(),
                _ => false,
            };
            if !kept {
                check_value_bytes(f.value)?;
            }
            self.pseudo(f.name, f.value)
        } else {
            if has_outer_whitespace(f.value) {
                return Err("leading or trailing whitespace in a field value");
            }
            // `regular` scans the value once (`validate::value_is_valid`,
            // which refuses NUL, CR and LF with every other control but HTAB,
            // and DEL); on any failure, report what the full check, which
            // comes first, would have said.
            self.regular(f)
                .map_err(|reason| match check_value_bytes(f.value) {
                    Err(first) => first,
                    Ok(()) => reason,
                })
        }
    }

    /// A pseudo-header field (RFC 9113 §8.3).
    fn pseudo(&mut self, name: &[u8], value: &[u8]) -> Result<(), &'static str> {
        if self.saw_regular {
            return Err("pseudo-header field after a regular field");
        }
        match self.kind {
            BlockKind::Trailers => Err("pseudo-header field in trailers"),
            BlockKind::Response => match name {
                b":status" => {
                    if self.status.is_some() {
                        return Err("duplicate :status");
                    }
                    self.status = Some(parse_status(value)?);
                    Ok(())
                }
                b":method" | b":scheme" | b":authority" | b":path" | b":protocol" => {
                    Err("request pseudo-header field in a response")
                }
                _ => Err("unknown pseudo-header field"),
            },
            BlockKind::Request => match name {
                b":method" => {
                    if self.method.is_some() {
                        return Err("duplicate :method");
                    }
                    let m = Method::from_bytes(value).map_err(|_| "invalid :method")?;
                    self.method = Some(m);
                    Ok(())
                }
                b":scheme" => {
                    if self.scheme.is_some() {
                        return Err("duplicate :scheme");
                    }
                    let s = Scheme::try_from(value).map_err(|_| "invalid :scheme")?;
                    self.scheme = Some(s);
                    Ok(())
                }
                b":authority" => {
                    if self.authority.is_some() {
                        return Err("duplicate :authority");
                    }
                    // Usually the connection's previous `:authority`, shared
                    // (it passed the checks below); parsed otherwise.
                    let a = match self.names.authority(value) {
                        Some(a) => a.clone(),
                        None => {
                            if value.is_empty() || value.contains(&b'@') {
                                return Err("invalid :authority");
                            }
                            let a = Authority::from_maybe_shared(self.share(value))
                                .map_err(|_| "invalid :authority")?;
                            self.names.keep_authority(&a);
                            a
                        }
                    };
                    self.authority = Some(a);
                    Ok(())
                }
                b":path" => {
                    if self.path.is_some() {
                        return Err("duplicate :path");
                    }
                    // A repeated `:path` is shared like `:authority`.
                    let p = match self.names.path(value) {
                        Some(p) => p.clone(),
                        None => {
                            if value.is_empty() {
                                return Err("empty :path");
                            }
                            if value[0] != b'/' && value != b"*" {
                                return Err(":path is neither origin-form nor asterisk-form");
                            }
                            let p = PathAndQuery::from_maybe_shared(self.share(value))
                                .map_err(|_| "invalid :path")?;
                            self.names.keep_path(&p);
                            p
                        }
                    };
                    self.path = Some(p);
                    Ok(())
                }
                b":protocol" => {
                    if self.protocol.is_some() {
                        return Err("duplicate :protocol");
                    }
                    if !self.connect_protocol_enabled {
                        return Err(":protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL");
                    }
                    if !is_token(value) {
                        return Err("invalid :protocol");
                    }
                    // A token is ASCII, hence UTF-8.
                    let p = core::str::from_utf8(value).map_err(|_| "invalid :protocol")?;
                    self.protocol = Some(p.to_owned());
                    Ok(())
                }
                b":status" => Err(":status in a request"),
                _ => Err("unknown pseudo-header field"),
            },
        }
    }

    /// A regular field (RFC 9113 §8.2).
    fn regular(&mut self, f: HeaderField<'_>) -> Result<(), &'static str> {
        self.saw_regular = true;
        let name = match known_name(f.name) {
            Some(n) => n,
            None => {
                self.has_priority |= f.name == b"priority";
                // Checked (lowercase token, §8.2.1) only when not interned yet.
                self.names.get(f.name)?
            }
        };
        if is_connection_specific(&name) {
            return Err("connection-specific field");
        }
        if name == header::TE && !f.value.eq_ignore_ascii_case(b"trailers") {
            return Err("te field with a value other than \"trailers\"");
        }
        if name == header::CONTENT_LENGTH && self.kind != BlockKind::Trailers {
            let n = parse_content_length(f.value)?;
            match self.content_length {
                Some(prev) if prev != n => return Err("conflicting content-length values"),
                _ => self.content_length = Some(n),
            }
        }
        // The one scan of the value: SIMD for 16 bytes and more, and the
        // same predicate as `http`'s (proptest and an exhaustive byte ×
        // position test in `conn::validate` and tests/validate_prop.rs), so
        // `http`'s checked constructor would only scan it again.
        if !validate::value_is_valid(f.value) {
            return Err("invalid field value");
        }
        let shared = self.share(f.value);
        // A bad byte would not break memory safety, only `HeaderValue`'s
        // invariant (debug builds of `http` re-check and panic).
        #[allow(unsafe_code)]
        // SAFETY: the only precondition, every byte one `HeaderValue::from_bytes`
        // accepts (HTAB, 0x20..=0x7e, 0x80..=0xff), was checked by
        // `value_is_valid` above on these bytes (`shared` copies `f.value`).
        let mut value = unsafe { HeaderValue::from_maybe_shared_unchecked(shared) };
        if f.never_index {
            value.set_sensitive(true);
        }
        // `None` (taken) is not reached: fields only arrive before `finish`.
        let full = self
            .headers
            .as_mut()
            .is_none_or(|h| h.try_append(name, value).is_err());
        if full {
            // More entries than `HeaderMap` can hold: only reachable with a huge
            // SETTINGS_MAX_HEADER_LIST_SIZE; treat like an oversized list.
            self.oversize = true;
        }
        Ok(())
    }

    /// Checks the block as a whole and builds the head.
    /// Takes the head out of the builder by reference: the builder (several
    /// hundred bytes) is not moved per block.
    pub(crate) fn finish(&mut self) -> Result<Head, Error> {
        let stream_id = self.stream_id;
        let err = |reason| Error::stream(stream_id, ErrorCode::PROTOCOL_ERROR, reason);
        self.check_block()?;
        match self.kind {
            BlockKind::Request => {
                let content_length = self.content_length;
                let req = self.take_request().map_err(err)?;
                Ok(Head {
                    kind: HeadKind::Request(req),
                    content_length,
                })
            }
            BlockKind::Response => {
                let status = self.status.ok_or_else(|| err("missing :status"))?;
                let mut resp = Response::new(());
                *resp.status_mut() = status;
                *resp.version_mut() = Version::HTTP_2;
                *resp.headers_mut() = self.headers.take().unwrap_or_default();
                Ok(Head {
                    kind: HeadKind::Response(resp),
                    content_length: self.content_length,
                })
            }
            BlockKind::Trailers => Ok(Head {
                kind: HeadKind::Trailers(self.headers.take().unwrap_or_default()),
                content_length: None,
            }),
        }
    }

    /// The whole-block checks (list size, a malformed field) that
    /// [`finish`](Self::finish) and [`finish_request`](Self::finish_request) start with.
    fn check_block(&self) -> Result<(), Error> {
        let err = |reason| Error::stream(self.stream_id, ErrorCode::PROTOCOL_ERROR, reason);
        if self.oversize {
            return Err(err(HEADER_LIST_TOO_LARGE));
        }
        if let Some(reason) = self.malformed {
            return Err(err(reason));
        }
        Ok(())
    }

    /// [`finish`](Self::finish) for a request block, returning the request
    /// itself (the server's hot path: no [`Head`] wrapping to move it
    /// through). `content_length` and `has_priority` stay readable after.
    #[inline]
    pub(crate) fn finish_request(&mut self) -> Result<Request<()>, Error> {
        debug_assert!(self.kind == BlockKind::Request);
        self.check_block()?;
        let stream_id = self.stream_id;
        self.take_request()
            .map_err(|reason| Error::stream(stream_id, ErrorCode::PROTOCOL_ERROR, reason))
    }

    /// The block's `content-length` value, when present.
    pub(crate) fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// Whether the block had a `priority` field.
    pub(crate) fn has_priority(&self) -> bool {
        self.has_priority
    }

    /// Request checks of RFC 9113 §8.3.1 and RFC 8441 §4, and the target URI (§8.3.1).
    #[inline]
    fn take_request(&mut self) -> Result<Request<()>, &'static str> {
        let method = self.method.take().ok_or("missing :method")?;
        let is_connect = method == Method::CONNECT;
        let mut parts = http::uri::Parts::default();
        if self.protocol.is_some() {
            // Extended CONNECT (RFC 8441 §4).
            if !is_connect {
                return Err(":protocol in a request whose method is not CONNECT");
            }
            if self.scheme.is_none() || self.path.is_none() {
                return Err("extended CONNECT without :scheme or :path");
            }
            if self.authority.is_none() {
                return Err("extended CONNECT without :authority");
            }
        } else if is_connect {
            // Plain CONNECT (RFC 9113 §8.5): authority-form target.
            if self.scheme.is_some() || self.path.is_some() {
                return Err("CONNECT with :scheme or :path");
            }
            parts.authority = Some(self.authority.take().ok_or("CONNECT without :authority")?);
            let uri = Uri::from_parts(parts).map_err(|_| "invalid CONNECT target")?;
            return Ok(make_request(
                method,
                uri,
                self.headers.take().unwrap_or_default(),
                None,
            ));
        } else {
            if self.scheme.is_none() {
                return Err("missing :scheme");
            }
            if self.path.is_none() {
                return Err("missing :path");
            }
        }
        let path = self.path.take().ok_or("missing :path")?;
        if path.as_str() == "*" && method != Method::OPTIONS {
            return Err("asterisk-form :path with a method other than OPTIONS");
        }
        // §8.3.1: `:authority` wins over `host`; `host` only fills in when absent.
        let authority = match self.authority.take() {
            Some(a) => Some(a),
            None => match self.headers.as_ref().and_then(|h| h.get(header::HOST)) {
                Some(h) => Some(parse_authority(h.as_bytes()).ok_or("invalid host field")?),
                None => None,
            },
        };
        if let Some(a) = authority {
            parts.scheme = self.scheme.take();
            parts.authority = Some(a);
        }
        // Without any authority the target stays in origin-form (path only).
        parts.path_and_query = Some(path);
        let uri = Uri::from_parts(parts).map_err(|_| "invalid target URI")?;
        Ok(make_request(
            method,
            uri,
            self.headers.take().unwrap_or_default(),
            self.protocol.take(),
        ))
    }
}

#[inline]
fn make_request(
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    protocol: Option<String>,
) -> Request<()> {
    let mut req = Request::new(());
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_2;
    *req.headers_mut() = headers;
    if let Some(p) = protocol {
        req.extensions_mut().insert(Protocol(p));
    }
    req
}

/// Fast path for the most common field names: the `http` constant without
/// parsing (these names are lowercase and valid, so no check is skipped).
#[inline]
fn known_name(n: &[u8]) -> Option<HeaderName> {
    Some(match n {
        b"accept" => header::ACCEPT,
        b"accept-encoding" => header::ACCEPT_ENCODING,
        b"accept-language" => header::ACCEPT_LANGUAGE,
        b"accept-ranges" => header::ACCEPT_RANGES,
        b"cache-control" => header::CACHE_CONTROL,
        b"content-encoding" => header::CONTENT_ENCODING,
        b"content-length" => header::CONTENT_LENGTH,
        b"content-type" => header::CONTENT_TYPE,
        b"cookie" => header::COOKIE,
        b"date" => header::DATE,
        b"etag" => header::ETAG,
        b"last-modified" => header::LAST_MODIFIED,
        b"server" => header::SERVER,
        b"user-agent" => header::USER_AGENT,
        b"vary" => header::VARY,
        _ => return None,
    })
}

/// RFC 9113 §8.2.1: no NUL, CR or LF anywhere; no leading or trailing SP / HTAB.
fn check_value_bytes(v: &[u8]) -> Result<(), &'static str> {
    if v.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n') {
        return Err("NUL, CR or LF in a field value");
    }
    if has_outer_whitespace(v) {
        return Err("leading or trailing whitespace in a field value");
    }
    Ok(())
}

fn has_outer_whitespace(v: &[u8]) -> bool {
    let ws = |b: &u8| *b == b' ' || *b == b'\t';
    v.first().is_some_and(ws) || v.last().is_some_and(ws)
}

/// `:status`: exactly three digits, 100..=999; 101 is not available in HTTP/2 (§8.6).
fn parse_status(v: &[u8]) -> Result<StatusCode, &'static str> {
    if v.len() != 3 || !v.iter().all(u8::is_ascii_digit) {
        return Err(":status is not three digits");
    }
    let s = StatusCode::from_bytes(v).map_err(|_| "invalid :status")?;
    if s == StatusCode::SWITCHING_PROTOCOLS {
        return Err(":status 101 in HTTP/2");
    }
    Ok(s)
}

/// An authority without the deprecated userinfo part (§8.3.1).
fn parse_authority(v: &[u8]) -> Option<Authority> {
    if v.is_empty() || v.contains(&b'@') {
        return None;
    }
    Authority::try_from(v).ok()
}

/// `content-length`: one non-negative decimal u64, or a comma-separated list of
/// identical ones (RFC 9110 §8.6).
fn parse_content_length(v: &[u8]) -> Result<u64, &'static str> {
    let mut result = None;
    for part in v.split(|&b| b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return Err("invalid content-length");
        }
        let mut n: u64 = 0;
        for &d in part {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or("content-length overflow")?;
        }
        match result {
            Some(prev) if prev != n => return Err("conflicting content-length values"),
            _ => result = Some(n),
        }
    }
    result.ok_or("invalid content-length")
}

/// RFC 9110 §5.6.2 token.
fn is_token(v: &[u8]) -> bool {
    !v.is_empty()
        && v.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// RFC 9113 §8.2.2 connection-specific fields.
#[inline]
pub(crate) fn is_connection_specific(name: &HeaderName) -> bool {
    is_connection_specific_str(name.as_str())
}

/// [`is_connection_specific`] on the name's text: dispatched on the length,
/// so that most names are settled by one comparison.
#[inline]
fn is_connection_specific_str(s: &str) -> bool {
    match s.len() {
        7 => s == "upgrade",
        10 => s == "connection" || s == "keep-alive",
        16 => s == "proxy-connection",
        17 => s == "transfer-encoding",
        _ => false,
    }
}

/// Checks one regular field the application wants to send.
#[inline]
fn check_outgoing(name: &HeaderName, value: &HeaderValue) -> Result<(), UserError> {
    let name = name.as_str();
    if is_connection_specific_str(name) {
        return Err(UserError::InvalidHeaders("connection-specific field"));
    }
    if name == "te" && !value.as_bytes().eq_ignore_ascii_case(b"trailers") {
        return Err(UserError::InvalidHeaders(
            "te field with a value other than \"trailers\"",
        ));
    }
    if has_outer_whitespace(value.as_bytes()) {
        return Err(UserError::InvalidHeaders(
            "leading or trailing whitespace in a field value",
        ));
    }
    Ok(())
}

fn check_outgoing_map(headers: &HeaderMap) -> Result<(), UserError> {
    headers.iter().try_for_each(|(n, v)| check_outgoing(n, v))
}

fn field<'a>(name: &'a [u8], value: &'a [u8]) -> HeaderField<'a> {
    HeaderField {
        name,
        value,
        never_index: false,
    }
}

/// Regular fields of `headers` as HPACK fields, `host` left out when `skip_host`.
fn regular_fields(
    headers: &HeaderMap,
    skip_host: bool,
) -> impl Iterator<Item = HeaderField<'_>> + '_ {
    headers
        .iter()
        .filter(move |(n, _)| !(skip_host && **n == header::HOST))
        .map(|(n, v)| HeaderField {
            name: n.as_str().as_bytes(),
            value: v.as_bytes(),
            never_index: v.is_sensitive(),
        })
}

/// The fields of a request head, pseudo-headers first, after checking it.
///
/// A URI without a scheme is sent with `:scheme: https`. The `host` field is
/// never sent: it becomes `:authority` when the URI has no authority.
/// Whether the peer allows extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL)
/// is the connection's business, not checked here.
fn request_fields(
    req: &Request<()>,
) -> Result<impl Iterator<Item = HeaderField<'_>> + '_, UserError> {
    let method = req.method();
    let uri = req.uri();
    let headers = req.headers();
    check_outgoing_map(headers)?;
    let authority: Option<&[u8]> = match uri.authority() {
        Some(a) => Some(a.as_str().as_bytes()),
        None => headers.get(header::HOST).map(HeaderValue::as_bytes),
    };
    let is_connect = *method == Method::CONNECT;
    let protocol = req.extensions().get::<Protocol>();
    let scheme = uri.scheme_str().unwrap_or("https").as_bytes();
    let path = match uri.path_and_query().map(PathAndQuery::as_str) {
        Some(p) if !p.is_empty() => p.as_bytes(),
        _ => b"/",
    };
    let mut pseudo: [Option<HeaderField<'_>>; 5] = [None; 5];
    pseudo[0] = Some(field(b":method", method.as_str().as_bytes()));
    if let Some(p) = protocol {
        if !is_connect {
            return Err(UserError::InvalidHeaders(
                ":protocol on a request whose method is not CONNECT",
            ));
        }
        if !is_token(p.0.as_bytes()) {
            return Err(UserError::InvalidHeaders("invalid :protocol"));
        }
        pseudo[1] = Some(field(b":protocol", p.0.as_bytes()));
    }
    if is_connect && authority.is_none() {
        return Err(UserError::InvalidHeaders("CONNECT without an authority"));
    }
    if !is_connect || protocol.is_some() {
        pseudo[2] = Some(field(b":scheme", scheme));
        pseudo[4] = Some(field(b":path", path));
    }
    if let Some(a) = authority {
        pseudo[3] = Some(field(b":authority", a));
    }
    Ok(pseudo
        .into_iter()
        .flatten()
        .chain(regular_fields(headers, true)))
}

/// The three ASCII digits of every status code 000..=999, so that `:status`
/// can be borrowed for as long as the response (`StatusCode::as_str` borrows a
/// temporary).
static STATUS_DIGITS: [u8; 3000] = {
    let mut t = [0u8; 3000];
    let mut i = 0;
    while i < 1000 {
        t[i * 3] = b'0' + (i / 100) as u8;
        t[i * 3 + 1] = b'0' + (i / 10 % 10) as u8;
        t[i * 3 + 2] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// The fields of a response head, `:status` first, after checking it.
#[cfg(test)]
fn response_fields(
    resp: &Response<()>,
) -> Result<impl Iterator<Item = HeaderField<'_>> + '_, UserError> {
    head_fields(resp.status(), resp.headers())
}

/// The fields of a response head given as status and field map, `:status`
/// first, after checking them.
fn head_fields(
    status: StatusCode,
    headers: &HeaderMap,
) -> Result<impl Iterator<Item = HeaderField<'_>> + '_, UserError> {
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Err(UserError::InvalidHeaders("101 is not available in HTTP/2"));
    }
    check_outgoing_map(headers)?;
    let code = usize::from(status.as_u16());
    let status = field(b":status", &STATUS_DIGITS[code * 3..code * 3 + 3]);
    Ok(core::iter::once(status).chain(regular_fields(headers, false)))
}

/// Encodes a request head into `out` (one complete field block).
pub(crate) fn encode_request(
    req: &Request<()>,
    enc: &mut Encoder,
    out: &mut Vec<u8>,
) -> Result<(), UserError> {
    enc.encode(request_fields(req)?, out);
    Ok(())
}

/// Encodes a response head (status and fields) into `out` (one complete
/// field block).
pub(crate) fn encode_response(
    status: StatusCode,
    headers: &HeaderMap,
    enc: &mut Encoder,
    out: &mut Vec<u8>,
) -> Result<(), UserError> {
    enc.encode(head_fields(status, headers)?, out);
    Ok(())
}

/// Encodes trailers into `out` (one complete field block).
pub(crate) fn encode_trailers(
    t: &HeaderMap,
    enc: &mut Encoder,
    out: &mut Vec<u8>,
) -> Result<(), UserError> {
    check_outgoing_map(t)?;
    enc.encode(regular_fields(t, false), out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u32 = 64 * 1024;

    fn hf<'a>(name: &'a str, value: &'a str) -> HeaderField<'a> {
        field(name.as_bytes(), value.as_bytes())
    }

    fn build(kind: BlockKind, connect: bool, fields: &[(&str, &str)]) -> Result<Head, Error> {
        let mut b = HeadBuilder::new(kind, 3, MAX, connect);
        for (n, v) in fields {
            b.field(hf(n, v));
        }
        b.finish()
    }

    fn request(fields: &[(&str, &str)]) -> Result<Request<()>, Error> {
        match build(BlockKind::Request, false, fields)?.kind {
            HeadKind::Request(r) => Ok(r),
            k => panic!("not a request: {k:?}"),
        }
    }

    fn response(fields: &[(&str, &str)]) -> Result<Response<()>, Error> {
        match build(BlockKind::Response, false, fields)?.kind {
            HeadKind::Response(r) => Ok(r),
            k => panic!("not a response: {k:?}"),
        }
    }

    fn trailers(fields: &[(&str, &str)]) -> Result<HeaderMap, Error> {
        match build(BlockKind::Trailers, false, fields)?.kind {
            HeadKind::Trailers(t) => Ok(t),
            k => panic!("not trailers: {k:?}"),
        }
    }

    #[track_caller]
    fn assert_malformed<T: core::fmt::Debug>(r: Result<T, Error>, reason_part: &str) {
        match r {
            Err(Error::Stream {
                stream_id: 3,
                code: ErrorCode::PROTOCOL_ERROR,
                reason,
            }) => assert!(
                reason.contains(reason_part),
                "reason {reason:?} lacks {reason_part:?}"
            ),
            other => panic!("expected malformed ({reason_part}), got {other:?}"),
        }
    }

    const GET: [(&str, &str); 4] = [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "example.com"),
        (":path", "/a?b=c"),
    ];

    fn get_with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut v = GET.to_vec();
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn valid_request() {
        let r = request(&get_with(&[("accept", "*/*"), ("x-a", "1")])).unwrap();
        assert_eq!(r.method(), Method::GET);
        assert_eq!(r.uri(), "https://example.com/a?b=c");
        assert_eq!(r.version(), Version::HTTP_2);
        assert_eq!(r.headers().len(), 2);
        assert_eq!(r.headers()["x-a"], "1");
        assert!(r.extensions().get::<Protocol>().is_none());
        // Pseudo-header order does not matter.
        let r = request(&[
            (":path", "/"),
            (":authority", "h"),
            (":scheme", "http"),
            (":method", "POST"),
        ])
        .unwrap();
        assert_eq!(r.uri(), "http://h/");
        assert_eq!(r.method(), Method::POST);
    }

    #[test]
    fn pseudo_after_regular() {
        let mut f = GET.to_vec();
        f.insert(3, ("accept", "*/*"));
        assert_malformed(request(&f), "after a regular");
        assert_malformed(
            response(&[("server", "x"), (":status", "200")]),
            "after a regular",
        );
    }

    #[test]
    fn unknown_pseudo() {
        assert_malformed(request(&get_with(&[])[..0]), "missing :method");
        let mut f = GET.to_vec();
        f.insert(0, (":foo", "bar"));
        assert_malformed(request(&f), "unknown pseudo");
        assert_malformed(
            response(&[(":status", "200"), (":bar", "x")]),
            "unknown pseudo",
        );
        assert_malformed(request(&[(":", "x")]), "unknown pseudo");
    }

    #[test]
    fn duplicate_pseudo() {
        for (n, v) in GET {
            let mut f = GET.to_vec();
            f.insert(0, (n, v));
            assert_malformed(request(&f), "duplicate");
        }
        assert_malformed(
            response(&[(":status", "200"), (":status", "200")]),
            "duplicate :status",
        );
        let f = [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":authority", "h"),
            (":path", "/chat"),
        ];
        assert_malformed(build(BlockKind::Request, true, &f), "duplicate :protocol");
    }

    #[test]
    fn pseudo_in_wrong_block() {
        let mut f = GET.to_vec();
        f.push((":status", "200"));
        f.rotate_right(1);
        assert_malformed(request(&f), ":status in a request");
        for (n, v) in GET.iter().copied().chain([(":protocol", "websocket")]) {
            assert_malformed(
                response(&[(":status", "200"), (n, v)]),
                "request pseudo-header field in a response",
            );
        }
        for (n, v) in GET.iter().copied().chain([(":status", "200")]) {
            assert_malformed(trailers(&[(n, v)]), "in trailers");
        }
    }

    #[test]
    fn uppercase_and_invalid_names() {
        assert_malformed(request(&get_with(&[("Accept", "x")])), "uppercase");
        assert_malformed(request(&get_with(&[("x-fOo", "x")])), "uppercase");
        assert_malformed(trailers(&[("X", "x")]), "uppercase");
        for bad in ["", "a b", "a:b", "a\u{7f}", "é", "a\"b", "a\0"] {
            assert_malformed(request(&get_with(&[(bad, "x")])), "invalid field name");
        }
        // Uppercase in a pseudo-header name is an unknown pseudo-header.
        assert_malformed(
            request(&[(":Method", "GET"), (":scheme", "https"), (":path", "/")]),
            "unknown pseudo",
        );
    }

    #[test]
    fn field_values() {
        for ok in ["", "a b", "a\tb", "\u{e9}", "x=\"1\"; y"] {
            let r = request(&get_with(&[("x", ok)])).unwrap();
            assert_eq!(r.headers()["x"].as_bytes(), ok.as_bytes());
        }
        for (bad, why) in [
            (" a", "whitespace"),
            ("a ", "whitespace"),
            ("\ta", "whitespace"),
            ("a\t", "whitespace"),
            (" ", "whitespace"),
            ("a\0b", "NUL, CR or LF"),
            ("a\rb", "NUL, CR or LF"),
            ("a\nb", "NUL, CR or LF"),
            ("a\u{1}b", "invalid field value"),
            ("a\u{7f}b", "invalid field value"),
        ] {
            assert_malformed(request(&get_with(&[("x", bad)])), why);
            assert_malformed(trailers(&[("x", bad)]), why);
        }
        // The value check comes first, whatever else is wrong with the field.
        for name in ["connection", "content-length", "te", "user-agent", "X-Up"] {
            assert_malformed(request(&get_with(&[(name, "1\r")])), "NUL, CR or LF");
        }
        // Pseudo-header values are checked too.
        let mut f = GET.to_vec();
        f[3] = (":path", "/a ");
        assert_malformed(request(&f), "whitespace");
        assert_malformed(response(&[(":status", "200\n")]), "NUL, CR or LF");
    }

    #[test]
    fn connection_specific_fields() {
        for n in [
            "connection",
            "keep-alive",
            "proxy-connection",
            "transfer-encoding",
            "upgrade",
        ] {
            assert_malformed(request(&get_with(&[(n, "x")])), "connection-specific");
            assert_malformed(
                response(&[(":status", "200"), (n, "x")]),
                "connection-specific",
            );
            assert_malformed(trailers(&[(n, "x")]), "connection-specific");
        }
    }

    #[test]
    fn te_field() {
        let r = request(&get_with(&[("te", "trailers")])).unwrap();
        assert_eq!(r.headers()["te"], "trailers");
        request(&get_with(&[("te", "Trailers")])).unwrap();
        for bad in ["gzip", "trailers, gzip", "trailers;q=1", ""] {
            assert_malformed(request(&get_with(&[("te", bad)])), "te field");
        }
    }

    #[test]
    fn required_request_pseudo() {
        for missing in 0..2 {
            let mut f = GET.to_vec();
            f.remove(missing);
            let want = [":method", ":scheme"][missing];
            assert_malformed(request(&f), &format!("missing {want}"));
        }
        let mut f = GET.to_vec();
        f.remove(3);
        assert_malformed(request(&f), "missing :path");
        f.push((":path", ""));
        assert_malformed(request(&f), "empty :path");
        f.pop();
        f.push((":path", "a/b"));
        assert_malformed(request(&f), "neither origin-form");
        // :authority is optional for non-CONNECT requests: origin-form target.
        let r = request(&[(":method", "GET"), (":scheme", "https"), (":path", "/p")]).unwrap();
        assert_eq!(r.uri(), "/p");
        assert!(r.uri().authority().is_none());
    }

    #[test]
    fn asterisk_form() {
        let f = [
            (":method", "OPTIONS"),
            (":scheme", "https"),
            (":authority", "h"),
            (":path", "*"),
        ];
        let r = request(&f).unwrap();
        assert_eq!(r.uri().path(), "*");
        let mut f = f.to_vec();
        f[0] = (":method", "GET");
        assert_malformed(request(&f), "asterisk-form");
    }

    #[test]
    fn field_values_through_the_simd_scan() {
        // Long values (16 and 32 bytes and more take the SSE2 / AVX2 /
        // simd128 kernels), obs-text included, are stored unchanged...
        let long = "Mozilla/5.0 (X11; Linux x86_64) caf\u{e9} \t na\u{ef}ve";
        for v in [
            &long[..15],
            &long[..16],
            &long[..17],
            &long[..31],
            &long[..33],
            long,
        ] {
            let r = request(&get_with(&[("x", v)])).unwrap();
            assert_eq!(r.headers()["x"], http::HeaderValue::from_str(v).unwrap());
        }
        // ...and a bad byte anywhere in them is refused like in short ones.
        for len in [16usize, 33, 70] {
            for pos in 1..len - 1 {
                for (b, why) in [
                    (0u8, "NUL, CR or LF"),
                    (b'\r', "NUL, CR or LF"),
                    (b'\n', "NUL, CR or LF"),
                    (1, "invalid field value"),
                    (0x1f, "invalid field value"),
                    (0x7f, "invalid field value"),
                ] {
                    let mut v = vec![b'a'; len];
                    v[pos] = b;
                    let mut bl = HeadBuilder::new(BlockKind::Request, 3, MAX, false);
                    for (n, val) in GET {
                        bl.field(hf(n, val));
                    }
                    bl.field(field(b"x", &v));
                    assert_malformed(bl.finish(), why);
                }
            }
        }
    }

    #[test]
    fn kept_authority_and_path() {
        type Lent = (BytesMut, NameTable);
        fn run(st: &mut Lent, fields: &[(&str, &str)]) -> Result<Request<()>, Error> {
            let mut b = HeadBuilder::lent(
                BlockKind::Request,
                3,
                MAX,
                false,
                core::mem::take(&mut st.0),
                core::mem::take(&mut st.1),
                HeaderMap::new(),
            );
            for (n, v) in fields {
                b.field(hf(n, v));
            }
            st.0 = b.take_store();
            st.1 = b.take_names();
            match b.finish()?.kind {
                HeadKind::Request(r) => Ok(r),
                k => panic!("not a request: {k:?}"),
            }
        }
        let st = &mut (BytesMut::new(), NameTable::default());
        let authority = |r: &Request<()>| r.uri().authority().unwrap().as_str().as_ptr();
        let path = |r: &Request<()>| r.uri().path().as_ptr();
        let a = run(st, &GET).unwrap();
        let b = run(st, &GET).unwrap();
        assert_eq!(b.uri(), "https://example.com/a?b=c");
        // The second request shares the first one's bytes (no copy, no parse).
        assert_eq!(authority(&a), authority(&b));
        assert_eq!(path(&a), path(&b));
        // Other values are checked and parsed as ever, then kept.
        let mut f = GET.to_vec();
        f[2] = (":authority", "other.example:8443");
        f[3] = (":path", "/x");
        let c = run(st, &f).unwrap();
        assert_eq!(c.uri(), "https://other.example:8443/x");
        assert_ne!(authority(&b), authority(&c));
        assert_eq!(authority(&c), authority(&run(st, &f).unwrap()));
        for (i, bad, why) in [
            (2, "user@other.example:8443", "invalid :authority"),
            (2, "other.example:8443\r", "NUL, CR or LF"),
            (2, "", "invalid :authority"),
            (3, "/x ", "whitespace"),
            (3, "x", "neither origin-form"),
            (3, "", "empty :path"),
        ] {
            let mut g = f.clone();
            g[i].1 = bad;
            assert_malformed(run(st, &g), why);
        }
        // Kept values are still subject to the block's own rules.
        let mut g = f.clone();
        g.push((":authority", "other.example:8443"));
        assert_malformed(run(st, &g), "duplicate :authority");
        let mut g = get_with(&[("x", "y")]);
        g.push((":path", "/a?b=c"));
        assert_malformed(run(st, &g), "after a regular field");
        // When the store's chunk is renewed, the kept values (slices of it)
        // are dropped first, and parsed again into the new chunk.
        let d = run(st, &GET).unwrap();
        st.0 = BytesMut::new();
        let e = run(st, &GET).unwrap();
        assert_eq!(d.uri(), e.uri());
        assert_ne!(authority(&d), authority(&e));
    }

    #[test]
    fn invalid_pseudo_values() {
        let mut f = GET.to_vec();
        f[0] = (":method", "G(T");
        assert_malformed(request(&f), "invalid :method");
        let mut f = GET.to_vec();
        f[1] = (":scheme", "ht tp");
        assert_malformed(request(&f), "invalid :scheme");
        let mut f = GET.to_vec();
        f[2] = (":authority", "user@h");
        assert_malformed(request(&f), "invalid :authority");
        f[2] = (":authority", "");
        assert_malformed(request(&f), "invalid :authority");
        f[2] = (":authority", "a/b");
        assert_malformed(request(&f), "invalid :authority");
    }

    #[test]
    fn connect() {
        let r = request(&[(":method", "CONNECT"), (":authority", "h.example:443")]).unwrap();
        assert_eq!(r.method(), Method::CONNECT);
        assert_eq!(r.uri().authority().unwrap(), "h.example:443");
        assert!(r.uri().scheme().is_none());
        assert_malformed(
            request(&[(":method", "CONNECT")]),
            "CONNECT without :authority",
        );
        assert_malformed(
            request(&[
                (":method", "CONNECT"),
                (":authority", "h:443"),
                (":path", "/"),
            ]),
            "CONNECT with :scheme or :path",
        );
        assert_malformed(
            request(&[
                (":method", "CONNECT"),
                (":authority", "h:443"),
                (":scheme", "https"),
            ]),
            "CONNECT with :scheme or :path",
        );
    }

    const EXT_CONNECT: [(&str, &str); 5] = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":authority", "h.example"),
        (":path", "/chat?x"),
    ];

    #[test]
    fn extended_connect() {
        let head = build(BlockKind::Request, true, &EXT_CONNECT).unwrap();
        let HeadKind::Request(r) = head.kind else {
            panic!()
        };
        assert_eq!(r.method(), Method::CONNECT);
        assert_eq!(r.uri(), "https://h.example/chat?x");
        assert_eq!(
            r.extensions().get::<Protocol>(),
            Some(&Protocol("websocket".into()))
        );
        // Not enabled by our SETTINGS.
        assert_malformed(
            build(BlockKind::Request, false, &EXT_CONNECT),
            "SETTINGS_ENABLE_CONNECT_PROTOCOL",
        );
        for missing in 2..5 {
            let mut f = EXT_CONNECT.to_vec();
            f.remove(missing);
            assert_malformed(
                build(BlockKind::Request, true, &f),
                "extended CONNECT without",
            );
        }
        let mut f = EXT_CONNECT.to_vec();
        f[0] = (":method", "GET");
        assert_malformed(build(BlockKind::Request, true, &f), "not CONNECT");
        f[0] = (":method", "CONNECT");
        f[1] = (":protocol", "web socket");
        assert_malformed(build(BlockKind::Request, true, &f), "invalid :protocol");
    }

    #[test]
    fn authority_and_host() {
        // Both: :authority wins, host stays in the map.
        let r = request(&get_with(&[("host", "other.example")])).unwrap();
        assert_eq!(r.uri().host(), Some("example.com"));
        assert_eq!(r.headers()["host"], "other.example");
        // Host only: it provides the authority.
        let r = request(&[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/x"),
            ("host", "h.example:8080"),
        ])
        .unwrap();
        assert_eq!(r.uri(), "http://h.example:8080/x");
        assert_malformed(
            request(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/x"),
                ("host", "u@h"),
            ]),
            "invalid host",
        );
    }

    #[test]
    fn responses() {
        let head = build(
            BlockKind::Response,
            false,
            &[(":status", "204"), ("server", "t")],
        )
        .unwrap();
        assert_eq!(head.content_length, None);
        let HeadKind::Response(r) = head.kind else {
            panic!()
        };
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(r.version(), Version::HTTP_2);
        assert_eq!(r.headers()["server"], "t");
        assert_eq!(response(&[(":status", "103")]).unwrap().status(), 103);
        assert_eq!(response(&[(":status", "999")]).unwrap().status(), 999);
        assert_malformed(response(&[("server", "t")]), "missing :status");
        assert_malformed(response(&[]), "missing :status");
        for bad in ["20", "2000", "abc", "+20", "2 0", ""] {
            assert_malformed(response(&[(":status", bad)]), "three digits");
        }
        assert_malformed(response(&[(":status", "099")]), "invalid :status");
        assert_malformed(response(&[(":status", "101")]), "101");
    }

    #[test]
    fn content_length() {
        let cl = |vals: &[&'static str]| {
            let f: Vec<_> = vals.iter().map(|v| ("content-length", *v)).collect();
            build(BlockKind::Request, false, &get_with(&f)).map(|h| h.content_length)
        };
        assert_eq!(cl(&[]).unwrap(), None);
        assert_eq!(cl(&["0"]).unwrap(), Some(0));
        assert_eq!(cl(&["42"]).unwrap(), Some(42));
        assert_eq!(cl(&["42", "42"]).unwrap(), Some(42));
        assert_eq!(cl(&["42, 42"]).unwrap(), Some(42));
        assert_eq!(cl(&["007"]).unwrap(), Some(7));
        assert_eq!(cl(&["18446744073709551615"]).unwrap(), Some(u64::MAX));
        assert_malformed(cl(&["42", "43"]), "conflicting");
        assert_malformed(cl(&["42,43"]), "conflicting");
        assert_malformed(cl(&["18446744073709551616"]), "overflow");
        for bad in ["", "-1", "+1", "1a", "0x10", "1 2", "42,", ",42"] {
            assert_malformed(cl(&[bad]), "content-length");
        }
        let head = build(
            BlockKind::Response,
            false,
            &[(":status", "200"), ("content-length", "5")],
        )
        .unwrap();
        assert_eq!(head.content_length, Some(5));
        // Kept in the map as well.
        let HeadKind::Response(r) = head.kind else {
            panic!()
        };
        assert_eq!(r.headers()["content-length"], "5");
    }

    #[test]
    fn header_list_size() {
        // Σ(name + value + 32): ":method GET" = 42, ":scheme https" = 44,
        // ":authority example.com" = 53, ":path /a?b=c" = 43 → 182.
        let fields = GET;
        let size: u32 = fields
            .iter()
            .map(|(n, v)| (n.len() + v.len() + 32) as u32)
            .sum();
        assert_eq!(size, 182);
        let run = |max: u32, extra: &[(&str, &str)]| {
            let mut b = HeadBuilder::new(BlockKind::Request, 3, max, false);
            for (n, v) in fields.iter().chain(extra) {
                b.field(hf(n, v));
            }
            b.finish()
        };
        assert!(run(size, &[]).is_ok());
        let e = run(size - 1, &[]).unwrap_err();
        assert_eq!(
            e,
            Error::stream(3, ErrorCode::PROTOCOL_ERROR, HEADER_LIST_TOO_LARGE)
        );
        // Oversize wins over a violation recorded earlier, and later fields are
        // still accepted (counted) without panicking.
        let e = run(size + 10, &[("Bad", "x"), ("more", "y")]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PROTOCOL_ERROR);
        assert!(matches!(
            e,
            Error::Stream {
                reason: HEADER_LIST_TOO_LARGE,
                ..
            }
        ));
    }

    #[test]
    fn first_violation_wins() {
        let e = request(&get_with(&[
            ("connection", "x"),
            ("Upper", "x"),
            (":path", "/"),
        ]))
        .unwrap_err();
        assert!(matches!(
            e,
            Error::Stream {
                reason: "connection-specific field",
                ..
            }
        ));
    }

    #[test]
    fn never_index_and_cookies() {
        let mut b = HeadBuilder::new(BlockKind::Request, 1, MAX, false);
        for (n, v) in GET {
            b.field(hf(n, v));
        }
        b.field(HeaderField {
            name: b"authorization",
            value: b"secret",
            never_index: true,
        });
        b.field(hf("cookie", "a=1"));
        b.field(hf("cookie", "b=2"));
        let HeadKind::Request(r) = b.finish().unwrap().kind else {
            panic!()
        };
        assert!(r.headers()["authorization"].is_sensitive());
        let cookies: Vec<_> = r.headers().get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert!(!cookies[0].is_sensitive());
    }

    #[test]
    fn valid_trailers() {
        let t = trailers(&[
            ("grpc-status", "0"),
            ("x", "1"),
            ("x", "2"),
            ("te", "trailers"),
        ])
        .unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t.get_all("x").iter().count(), 2);
        assert_eq!(trailers(&[]).unwrap().len(), 0);
    }

    // ---- encode side (field lists; the HPACK round trip is below) ----

    fn pairs<'a>(it: impl Iterator<Item = HeaderField<'a>>) -> Vec<(String, String, bool)> {
        it.map(|f| {
            (
                String::from_utf8(f.name.to_vec()).unwrap(),
                String::from_utf8(f.value.to_vec()).unwrap(),
                f.never_index,
            )
        })
        .collect()
    }

    fn names(v: &[(String, String, bool)]) -> Vec<&str> {
        v.iter().map(|(n, _, _)| n.as_str()).collect()
    }

    #[test]
    fn encode_request_fields() {
        let req = Request::get("https://example.com/x?y")
            .header("host", "other")
            .header("accept", "*/*")
            .header("te", "trailers")
            .body(())
            .unwrap();
        let v = pairs(request_fields(&req).unwrap());
        assert_eq!(
            v[..4],
            [
                (":method".into(), "GET".into(), false),
                (":scheme".into(), "https".into(), false),
                (":authority".into(), "example.com".into(), false),
                (":path".into(), "/x?y".into(), false),
            ]
        );
        assert_eq!(
            names(&v),
            [":method", ":scheme", ":authority", ":path", "accept", "te"]
        );

        // Relative URI: host becomes :authority, default scheme https, path "/".
        let req = Request::post("/").header("host", "h:1").body(()).unwrap();
        let v = pairs(request_fields(&req).unwrap());
        assert_eq!(names(&v), [":method", ":scheme", ":authority", ":path"]);
        assert_eq!(v[1].1, "https");
        assert_eq!(v[2].1, "h:1");
        assert_eq!(v[3].1, "/");
        // No authority at all: no :authority.
        let req = Request::get("/p").body(()).unwrap();
        assert_eq!(
            names(&pairs(request_fields(&req).unwrap())),
            [":method", ":scheme", ":path"]
        );
        // http:// URI without a path still sends "/".
        let req = Request::get("http://h").body(()).unwrap();
        let v = pairs(request_fields(&req).unwrap());
        assert_eq!((v[1].1.as_str(), v[3].1.as_str()), ("http", "/"));
    }

    #[test]
    fn encode_connect_fields() {
        let req = Request::connect("h.example:443").body(()).unwrap();
        let v = pairs(request_fields(&req).unwrap());
        assert_eq!(names(&v), [":method", ":authority"]);
        assert_eq!(v[1].1, "h.example:443");
        let req = Request::connect("/").body(()).unwrap();
        assert!(matches!(
            request_fields(&req).err(),
            Some(UserError::InvalidHeaders(_))
        ));
        let mut req = Request::connect("https://h.example/chat").body(()).unwrap();
        req.extensions_mut().insert(Protocol("websocket".into()));
        let v = pairs(request_fields(&req).unwrap());
        assert_eq!(
            names(&v),
            [":method", ":protocol", ":scheme", ":authority", ":path"]
        );
        assert_eq!(v[1].1, "websocket");
        assert_eq!(v[4].1, "/chat");
        let mut req = Request::get("https://h.example/chat").body(()).unwrap();
        req.extensions_mut().insert(Protocol("websocket".into()));
        assert!(request_fields(&req).is_err());
        let mut req = Request::connect("https://h/").body(()).unwrap();
        req.extensions_mut().insert(Protocol("a b".into()));
        assert!(request_fields(&req).is_err());
    }

    #[test]
    fn encode_refuses_bad_fields() {
        for (n, v) in [
            ("connection", "close"),
            ("keep-alive", "5"),
            ("proxy-connection", "x"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("te", "gzip"),
            ("x", " padded"),
        ] {
            let req = Request::get("https://h/").header(n, v).body(()).unwrap();
            assert!(matches!(
                request_fields(&req).err(),
                Some(UserError::InvalidHeaders(_))
            ));
            let resp = Response::builder().header(n, v).body(()).unwrap();
            assert!(response_fields(&resp).is_err());
            let mut t = HeaderMap::new();
            t.insert(HeaderName::from_static(n), HeaderValue::from_static(v));
            let mut enc = Encoder::default();
            let mut out = Vec::new();
            assert!(encode_trailers(&t, &mut enc, &mut out).is_err());
            assert!(out.is_empty());
        }
        let resp = Response::builder().status(101).body(()).unwrap();
        assert!(response_fields(&resp).is_err());
    }

    #[test]
    fn encode_response_fields_and_sensitive() {
        let mut v = HeaderValue::from_static("s3cret");
        v.set_sensitive(true);
        let resp = Response::builder()
            .status(404)
            .header("set-cookie", v)
            .header("x", "y")
            .body(())
            .unwrap();
        let f = pairs(response_fields(&resp).unwrap());
        assert_eq!(
            f,
            [
                (":status".into(), "404".into(), false),
                ("set-cookie".into(), "s3cret".into(), true),
                ("x".into(), "y".into(), false),
            ]
        );
        for code in [100u16, 200, 299, 500, 999] {
            let resp = Response::builder().status(code).body(()).unwrap();
            let f = pairs(response_fields(&resp).unwrap());
            assert_eq!(f[0].1, code.to_string());
        }
    }

    fn feed<'a>(kind: BlockKind, it: impl Iterator<Item = HeaderField<'a>>) -> Result<Head, Error> {
        let mut b = HeadBuilder::new(kind, 3, MAX, true);
        it.for_each(|f| b.field(f));
        b.finish()
    }

    #[test]
    fn field_round_trip() {
        let mut secret = HeaderValue::from_static("Bearer x");
        secret.set_sensitive(true);
        let req = Request::post("https://example.com:8443/p/a?q=1")
            .header("authorization", secret)
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .header("content-length", "3")
            .body(())
            .unwrap();
        let head = feed(BlockKind::Request, request_fields(&req).unwrap()).unwrap();
        assert_eq!(head.content_length, Some(3));
        let HeadKind::Request(back) = head.kind else {
            panic!()
        };
        assert_eq!(back.method(), req.method());
        assert_eq!(back.uri(), req.uri());
        assert_eq!(back.headers(), req.headers());
        assert!(back.headers()["authorization"].is_sensitive());

        let mut req = Request::connect("https://h.example/ws").body(()).unwrap();
        req.extensions_mut().insert(Protocol("websocket".into()));
        let HeadKind::Request(back) = feed(BlockKind::Request, request_fields(&req).unwrap())
            .unwrap()
            .kind
        else {
            panic!()
        };
        assert_eq!(back.uri(), req.uri());
        assert_eq!(back.extensions().get::<Protocol>(), req.extensions().get());

        let req = Request::connect("h.example:443").body(()).unwrap();
        let HeadKind::Request(back) = feed(BlockKind::Request, request_fields(&req).unwrap())
            .unwrap()
            .kind
        else {
            panic!()
        };
        assert_eq!(back.uri(), req.uri());

        let resp = Response::builder()
            .status(418)
            .header("a", "b")
            .body(())
            .unwrap();
        let HeadKind::Response(back) = feed(BlockKind::Response, response_fields(&resp).unwrap())
            .unwrap()
            .kind
        else {
            panic!()
        };
        assert_eq!(back.status(), resp.status());
        assert_eq!(back.headers(), resp.headers());
    }

    // ---- HPACK round trips ----

    fn decode_block(dec: &mut crate::hpack::Decoder, kind: BlockKind, block: &[u8]) -> Head {
        let mut b = HeadBuilder::new(kind, 5, MAX, true);
        dec.decode(block, |f| b.field(f)).unwrap();
        b.finish().unwrap()
    }

    #[test]
    fn hpack_round_trip() {
        let mut enc = Encoder::default();
        let mut dec = crate::hpack::Decoder::default();
        let mut secret = HeaderValue::from_static("Bearer t0k3n");
        secret.set_sensitive(true);
        let req = Request::post("https://example.com/upload?x=1")
            .header("authorization", secret)
            .header("content-type", "text/plain")
            .header("content-length", "11")
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .header("te", "trailers")
            .body(())
            .unwrap();
        // Twice, so the second block is served from the dynamic table.
        for _ in 0..2 {
            let mut out = Vec::new();
            encode_request(&req, &mut enc, &mut out).unwrap();
            let head = decode_block(&mut dec, BlockKind::Request, &out);
            assert_eq!(head.content_length, Some(11));
            let HeadKind::Request(back) = head.kind else {
                panic!()
            };
            assert_eq!(back.method(), req.method());
            assert_eq!(back.uri(), req.uri());
            assert_eq!(back.headers(), req.headers());
            assert!(back.headers()["authorization"].is_sensitive());
            assert!(!back.headers()["content-type"].is_sensitive());
        }

        // A refused head leaves no bytes and no table change behind.
        let bad = Request::get("https://example.com/")
            .header("connection", "close")
            .body(())
            .unwrap();
        let mut out = Vec::new();
        assert_eq!(
            encode_request(&bad, &mut enc, &mut out),
            Err(UserError::InvalidHeaders("connection-specific field"))
        );
        assert!(out.is_empty());

        let mut ws = Request::connect("https://example.com/chat")
            .body(())
            .unwrap();
        ws.extensions_mut().insert(Protocol("websocket".into()));
        encode_request(&ws, &mut enc, &mut out).unwrap();
        let HeadKind::Request(back) = decode_block(&mut dec, BlockKind::Request, &out).kind else {
            panic!()
        };
        assert_eq!(back.uri(), ws.uri());
        assert_eq!(back.extensions().get::<Protocol>(), ws.extensions().get());

        let resp = Response::builder()
            .status(200)
            .header("content-length", "0")
            .header("server", "h2o")
            .body(())
            .unwrap();
        out.clear();
        encode_response(resp.status(), resp.headers(), &mut enc, &mut out).unwrap();
        let head = decode_block(&mut dec, BlockKind::Response, &out);
        assert_eq!(head.content_length, Some(0));
        let HeadKind::Response(back) = head.kind else {
            panic!()
        };
        assert_eq!(back.status(), 200);
        assert_eq!(back.headers(), resp.headers());

        let mut t = HeaderMap::new();
        t.insert("grpc-status", HeaderValue::from_static("0"));
        t.append("x-checksum", HeaderValue::from_static("abc"));
        out.clear();
        encode_trailers(&t, &mut enc, &mut out).unwrap();
        let HeadKind::Trailers(back) = decode_block(&mut dec, BlockKind::Trailers, &out).kind
        else {
            panic!()
        };
        assert_eq!(back, t);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn any_field() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, bool)> {
            let name = prop_oneof![
                Just(b":method".to_vec()),
                Just(b":scheme".to_vec()),
                Just(b":authority".to_vec()),
                Just(b":path".to_vec()),
                Just(b":status".to_vec()),
                Just(b":protocol".to_vec()),
                Just(b"content-length".to_vec()),
                Just(b"host".to_vec()),
                Just(b"te".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..12),
            ];
            let value = prop_oneof![
                Just(b"CONNECT".to_vec()),
                Just(b"/".to_vec()),
                Just(b"200".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..12),
            ];
            (name, value, any::<bool>())
        }

        proptest! {
            /// Arbitrary peer input never panics, and errors are always
            /// PROTOCOL_ERROR stream errors on the right stream.
            #[test]
            fn never_panics(
                kind in 0..3u8,
                connect in any::<bool>(),
                max in prop_oneof![Just(u32::MAX), 0..400u32],
                fields in proptest::collection::vec(any_field(), 0..12),
            ) {
                let kind = [BlockKind::Request, BlockKind::Response, BlockKind::Trailers][kind as usize];
                let mut b = HeadBuilder::new(kind, 7, max, connect);
                for (n, v, ni) in &fields {
                    b.field(HeaderField { name: n, value: v, never_index: *ni });
                }
                if let Err(e) = b.finish() {
                    let ok = matches!(
                        e,
                        Error::Stream { stream_id: 7, code: ErrorCode::PROTOCOL_ERROR, .. }
                    );
                    prop_assert!(ok, "unexpected error {:?}", e);
                }
            }

            /// Whatever valid regular fields a request carries survive
            /// encode → decode unchanged.
            #[test]
            fn request_round_trip(
                fields in proptest::collection::vec(
                    ("x-[a-z0-9-]{0,8}", "[!-~]([ -~]{0,10}[!-~])?", any::<bool>()),
                    0..8,
                ),
                path in "/[a-zA-Z0-9/._~-]{0,12}",
            ) {
                let mut req = Request::get(format!("https://h.example{path}")).body(()).unwrap();
                for (n, v, sensitive) in &fields {
                    let mut v = HeaderValue::from_str(v).unwrap();
                    v.set_sensitive(*sensitive);
                    req.headers_mut().append(HeaderName::from_bytes(n.as_bytes()).unwrap(), v);
                }
                // Straight from the field list, and through HPACK.
                let direct = feed(BlockKind::Request, request_fields(&req).unwrap()).unwrap();
                let mut out = Vec::new();
                encode_request(&req, &mut Encoder::default(), &mut out).unwrap();
                let via_hpack = decode_block(&mut crate::hpack::Decoder::default(), BlockKind::Request, &out);
                for head in [direct, via_hpack] {
                    let HeadKind::Request(back) = head.kind else { panic!() };
                    prop_assert_eq!(back.uri(), req.uri());
                    prop_assert_eq!(back.headers(), req.headers());
                    for ((_, a), (_, b)) in back.headers().iter().zip(req.headers()) {
                        prop_assert_eq!(a.is_sensitive(), b.is_sensitive());
                    }
                }
            }
        }
    }
}
