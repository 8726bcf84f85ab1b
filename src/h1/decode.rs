//! HTTP/1.1 decoders: [`ResponseDecoder`] (client role) and
//! [`RequestDecoder`] (server role), sharing the body state machine.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::{keep_alive, H1Error, Limits, MAX_CHUNK_LINE, MAX_HEADERS_CAP};

/// How the body of the message being decoded ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// This many bytes are left.
    Length(u64),
    /// Expecting a chunk-size line.
    ChunkSize,
    /// This many bytes of the current chunk are left.
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// The trailer section after the last chunk.
    Trailers,
    /// Everything until the peer closes.
    Close,
}

/// What one body step produced.
enum Step {
    Data(Bytes),
    End(Option<HeaderMap>),
}

/// Buffered input, the body state and the sticky error of a decoder.
#[derive(Debug)]
struct Reader {
    buf: BytesMut,
    limits: Limits,
    body: Option<Body>,
    eof: bool,
    error: Option<H1Error>,
}

impl Reader {
    fn new(limits: Limits) -> Reader {
        let max_headers = limits.max_headers.clamp(1, MAX_HEADERS_CAP);
        Reader {
            buf: BytesMut::new(),
            limits: Limits {
                max_head: limits.max_head.max(16),
                max_headers,
            },
            body: None,
            eof: false,
            error: None,
        }
    }

    /// The head-parse window: at most `max_head` bytes.
    fn window(&self) -> &[u8] {
        &self.buf[..self.buf.len().min(self.limits.max_head)]
    }

    /// Partial head: more input may complete it unless the window is full.
    fn partial(&self) -> Result<(), H1Error> {
        if self.buf.len() >= self.limits.max_head {
            Err(H1Error::HeadTooLarge)
        } else if self.eof && !self.buf.is_empty() {
            Err(H1Error::UnexpectedEof)
        } else {
            Ok(())
        }
    }

    /// One step of the body: `None` needs more input.
    fn body_step(&mut self) -> Result<Option<Step>, H1Error> {
        let Some(state) = self.body else {
            return Ok(None);
        };
        match state {
            Body::Length(0) => {
                self.body = None;
                Ok(Some(Step::End(None)))
            }
            Body::Length(n) | Body::ChunkData(n) => {
                if self.buf.is_empty() {
                    return if self.eof {
                        Err(H1Error::UnexpectedEof)
                    } else {
                        Ok(None)
                    };
                }
                let take = (self.buf.len() as u64).min(n);
                let data = self.buf.split_to(take as usize).freeze();
                let left = n - take;
                self.body = Some(match state {
                    Body::Length(_) => Body::Length(left),
                    _ if left == 0 => Body::ChunkEnd,
                    _ => Body::ChunkData(left),
                });
                Ok(Some(Step::Data(data)))
            }
            Body::ChunkSize => {
                let w = &self.buf[..self.buf.len().min(MAX_CHUNK_LINE)];
                match httparse::parse_chunk_size(w) {
                    Ok(httparse::Status::Complete((n, size))) => {
                        self.buf.advance(n);
                        self.body = Some(if size == 0 {
                            Body::Trailers
                        } else {
                            Body::ChunkData(size)
                        });
                        self.body_step()
                    }
                    Ok(httparse::Status::Partial) if self.buf.len() >= MAX_CHUNK_LINE => {
                        Err(H1Error::BadChunk)
                    }
                    Ok(httparse::Status::Partial) if self.eof => Err(H1Error::UnexpectedEof),
                    Ok(httparse::Status::Partial) => Ok(None),
                    Err(_) => Err(H1Error::BadChunk),
                }
            }
            Body::ChunkEnd => {
                match self.buf.first() {
                    None => {}
                    Some(b'\r') => {}
                    Some(_) => return Err(H1Error::BadChunk),
                }
                match self.buf.get(1) {
                    Some(b'\n') => {
                        self.buf.advance(2);
                        self.body = Some(Body::ChunkSize);
                        self.body_step()
                    }
                    Some(_) => Err(H1Error::BadChunk),
                    None if self.eof => Err(H1Error::UnexpectedEof),
                    None => Ok(None),
                }
            }
            Body::Trailers => {
                if self.buf.starts_with(b"\r\n") {
                    self.buf.advance(2);
                    self.body = None;
                    return Ok(Some(Step::End(None)));
                }
                let mut arr = [httparse::EMPTY_HEADER; MAX_HEADERS_CAP];
                let fields = &mut arr[..self.limits.max_headers];
                let w = self.window();
                match httparse::parse_headers(w, fields) {
                    Ok(httparse::Status::Complete((n, hs))) => {
                        let map = to_map(hs)?;
                        self.buf.advance(n);
                        self.body = None;
                        Ok(Some(Step::End(if map.is_empty() {
                            None
                        } else {
                            Some(map)
                        })))
                    }
                    Ok(httparse::Status::Partial) => self.partial().map(|()| None),
                    Err(e) => Err(head_error(e)),
                }
            }
            Body::Close => {
                if !self.buf.is_empty() {
                    let data = self.buf.split().freeze();
                    Ok(Some(Step::Data(data)))
                } else if self.eof {
                    self.body = None;
                    Ok(Some(Step::End(None)))
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Runs `f` unless an error is already stored; stores a new one.
    fn sticky<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<Option<T>, H1Error>,
    ) -> Result<Option<T>, H1Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let r = f(self);
        if let Err(e) = &r {
            self.error = Some(e.clone());
        }
        r
    }
}

fn head_error(e: httparse::Error) -> H1Error {
    match e {
        httparse::Error::TooManyHeaders => H1Error::TooManyHeaders,
        e => H1Error::BadHead(match e {
            httparse::Error::HeaderName => "invalid header field name",
            httparse::Error::HeaderValue => "invalid header field value",
            httparse::Error::NewLine => "invalid line ending",
            httparse::Error::Status => "invalid status code",
            httparse::Error::Token => "invalid token",
            httparse::Error::Version => "invalid HTTP version",
            _ => "invalid head",
        }),
    }
}

fn to_map(hs: &[httparse::Header<'_>]) -> Result<HeaderMap, H1Error> {
    let mut map = HeaderMap::with_capacity(hs.len());
    for h in hs {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| H1Error::BadHead("invalid header field name"))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| H1Error::BadHead("invalid header field value"))?;
        map.append(name, value);
    }
    Ok(map)
}

fn version(v: Option<u8>) -> http::Version {
    match v {
        Some(0) => http::Version::HTTP_10,
        _ => http::Version::HTTP_11,
    }
}

/// The `content-length` of a head: every value (and list element) must agree.
fn content_length(h: &HeaderMap) -> Result<Option<u64>, H1Error> {
    let mut len = None;
    for v in h.get_all(header::CONTENT_LENGTH) {
        for part in v.as_bytes().split(|&b| b == b',') {
            let part = part.trim_ascii();
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) || part.len() > 19 {
                return Err(H1Error::BadContentLength);
            }
            let n: u64 = std::str::from_utf8(part)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(H1Error::BadContentLength)?;
            if len.is_some_and(|l| l != n) {
                return Err(H1Error::BadContentLength);
            }
            len = Some(n);
        }
    }
    Ok(len)
}

/// True when the last transfer coding is `chunked`.
fn chunked_last(h: &HeaderMap) -> bool {
    let mut last = None;
    for v in h.get_all(header::TRANSFER_ENCODING) {
        for part in v.as_bytes().split(|&b| b == b',') {
            let part = part.trim_ascii();
            if !part.is_empty() {
                last = Some(part);
            }
        }
    }
    last.is_some_and(|p| p.eq_ignore_ascii_case(b"chunked"))
}

// ------------------------------------------------------------------ client role

/// An event of a [`ResponseDecoder`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ResponseEvent {
    /// A final response head (1xx heads other than 101 are skipped).
    Head {
        /// Status, version and fields.
        response: http::Response<()>,
        /// The connection may carry another request after this response.
        keep_alive: bool,
    },
    /// Body bytes, in order.
    Data(Bytes),
    /// The response is complete.
    End {
        /// Trailer fields of a chunked body, if it had any.
        trailers: Option<HeaderMap>,
    },
}

/// Client-role decoder: the server's bytes → responses, one per request
/// announced with [`ResponseDecoder::expect`], in order.
#[derive(Debug)]
pub struct ResponseDecoder {
    r: Reader,
    /// One entry per request sent and not yet answered: was it a HEAD?
    pending: VecDeque<bool>,
    /// A non-keep-alive response ended: later bytes are ignored.
    done: bool,
}

impl ResponseDecoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> ResponseDecoder {
        ResponseDecoder {
            r: Reader::new(limits),
            pending: VecDeque::new(),
            done: false,
        }
    }

    /// A request with `method` was sent: its response comes next (after any
    /// earlier pending ones). HEAD responses have no body.
    pub fn expect(&mut self, method: &http::Method) {
        self.pending.push_back(method == http::Method::HEAD);
    }

    /// Requests sent and not fully answered.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Bytes from the server.
    pub fn recv(&mut self, data: &[u8]) {
        if !self.done || self.r.body.is_some() {
            self.r.buf.extend_from_slice(data);
        }
    }

    /// The server closed its side: ends a close-delimited body; anything else
    /// in progress becomes [`H1Error::UnexpectedEof`].
    pub fn recv_eof(&mut self) {
        self.r.eof = true;
    }

    /// The next event: `Ok(None)` needs more input. Errors are final (every
    /// later call returns the same one).
    pub fn poll(&mut self) -> Result<Option<ResponseEvent>, H1Error> {
        let pending = &mut self.pending;
        let done = &mut self.done;
        self.r.sticky(|r| loop {
            if r.body.is_some() {
                return Ok(r.body_step()?.map(|s| match s {
                    Step::Data(d) => ResponseEvent::Data(d),
                    Step::End(trailers) => ResponseEvent::End { trailers },
                }));
            }
            match next_head(r, pending, done)? {
                Some(Some(ev)) => return Ok(Some(ev)),
                Some(None) => continue, // an interim 1xx head was skipped
                None => return Ok(None),
            }
        })
    }
}

/// Parses a response head. `Some(None)`: a skipped 1xx head.
fn next_head(
    r: &mut Reader,
    pending: &mut VecDeque<bool>,
    done: &mut bool,
) -> Result<Option<Option<ResponseEvent>>, H1Error> {
    if *done {
        r.buf.clear();
        return Ok(None);
    }
    if r.buf.is_empty() {
        return if r.eof && !pending.is_empty() {
            Err(H1Error::UnexpectedEof)
        } else {
            Ok(None)
        };
    }
    let Some(&head_req) = pending.front() else {
        return Err(H1Error::UnexpectedResponse);
    };
    let mut arr = [httparse::EMPTY_HEADER; MAX_HEADERS_CAP];
    let mut resp = httparse::Response::new(&mut arr[..r.limits.max_headers]);
    let n = match resp.parse(r.window()) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return r.partial().map(|()| None),
        Err(e) => return Err(head_error(e)),
    };
    let code = resp.code.unwrap_or(0);
    let status = http::StatusCode::from_u16(code).map_err(|_| H1Error::BadStartLine)?;
    let ver = version(resp.version);
    let headers = to_map(resp.headers)?;
    r.buf.advance(n);
    if status.is_informational() && status != http::StatusCode::SWITCHING_PROTOCOLS {
        return Ok(Some(None));
    }
    pending.pop_front();
    let no_body = head_req
        || status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED;
    let te = headers.contains_key(header::TRANSFER_ENCODING);
    let (body, framed) = if no_body {
        (Body::Length(0), true)
    } else if te {
        if chunked_last(&headers) {
            (Body::ChunkSize, true)
        } else {
            (Body::Close, false)
        }
    } else {
        match content_length(&headers)? {
            Some(n) => (Body::Length(n), true),
            None => (Body::Close, false),
        }
    };
    let keep = framed
        && status != http::StatusCode::SWITCHING_PROTOCOLS
        && !(te && headers.contains_key(header::CONTENT_LENGTH))
        && keep_alive(ver, &headers);
    if !keep {
        // Nothing after this response belongs to us.
        *done = true;
        pending.clear();
    }
    r.body = Some(body);
    let mut response = http::Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = ver;
    *response.headers_mut() = headers;
    Ok(Some(Some(ResponseEvent::Head {
        response,
        keep_alive: keep,
    })))
}

// ------------------------------------------------------------------ server role

/// An event of a [`RequestDecoder`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RequestEvent {
    /// A request head.
    Head {
        /// Method, target (as a URI), version and fields.
        request: http::Request<()>,
        /// The client may send another request after this one (and its
        /// response should not say `connection: close`).
        keep_alive: bool,
    },
    /// Request body bytes, in order.
    Data(Bytes),
    /// The request is complete (also right after a head without body).
    End {
        /// Trailer fields of a chunked body, if it had any.
        trailers: Option<HeaderMap>,
    },
}

/// Server-role decoder: the client's bytes → requests, pipelined ones one
/// after the other. Input is only buffered: the caller bounds it (see
/// [`RequestDecoder::buffered`]).
#[derive(Debug)]
pub struct RequestDecoder {
    r: Reader,
    /// A request without keep-alive ended: later bytes are ignored.
    done: bool,
    keep: bool,
}

impl RequestDecoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> RequestDecoder {
        RequestDecoder {
            r: Reader::new(limits),
            done: false,
            keep: true,
        }
    }

    /// Bytes from the client.
    pub fn recv(&mut self, data: &[u8]) {
        if !self.done || self.r.body.is_some() {
            self.r.buf.extend_from_slice(data);
        }
    }

    /// The client closed its side.
    pub fn recv_eof(&mut self) {
        self.r.eof = true;
    }

    /// Bytes received and not decoded yet (pipelined requests waiting).
    pub fn buffered(&self) -> usize {
        self.r.buf.len()
    }

    /// True when no request is half received (between messages).
    pub fn is_idle(&self) -> bool {
        self.r.body.is_none() && self.r.buf.is_empty()
    }

    /// The next event: `Ok(None)` needs more input (or the connection is
    /// done: after a request without keep-alive, later bytes are ignored).
    /// Errors are final.
    pub fn poll(&mut self) -> Result<Option<RequestEvent>, H1Error> {
        if self.done && self.r.body.is_none() {
            return Ok(None);
        }
        let (done, keep) = (&mut self.done, &mut self.keep);
        self.r.sticky(|r| {
            if r.body.is_some() {
                let step = r.body_step()?;
                if r.body.is_none() && !*keep {
                    *done = true;
                    r.buf.clear();
                }
                return Ok(step.map(|s| match s {
                    Step::Data(d) => RequestEvent::Data(d),
                    Step::End(trailers) => RequestEvent::End { trailers },
                }));
            }
            if r.buf.is_empty() {
                return Ok(None);
            }
            let mut arr = [httparse::EMPTY_HEADER; MAX_HEADERS_CAP];
            let mut req = httparse::Request::new(&mut arr[..r.limits.max_headers]);
            let n = match req.parse(r.window()) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => return r.partial().map(|()| None),
                Err(e) => return Err(head_error(e)),
            };
            let method = http::Method::from_bytes(req.method.unwrap_or("").as_bytes())
                .map_err(|_| H1Error::BadStartLine)?;
            let uri: http::Uri = req
                .path
                .unwrap_or("")
                .parse()
                .map_err(|_| H1Error::BadStartLine)?;
            let ver = version(req.version);
            let headers = to_map(req.headers)?;
            let te = headers.contains_key(header::TRANSFER_ENCODING);
            let body = if te {
                let single = headers
                    .get_all(header::TRANSFER_ENCODING)
                    .iter()
                    .flat_map(|v| v.as_bytes().split(|&b| b == b','))
                    .filter(|p| !p.trim_ascii().is_empty())
                    .count()
                    == 1;
                if !single
                    || !chunked_last(&headers)
                    || headers.contains_key(header::CONTENT_LENGTH)
                {
                    return Err(H1Error::BadTransferEncoding);
                }
                Body::ChunkSize
            } else {
                Body::Length(content_length(&headers)?.unwrap_or(0))
            };
            r.buf.advance(n);
            r.body = Some(body);
            *keep = keep_alive(ver, &headers);
            let mut request = http::Request::new(());
            *request.method_mut() = method;
            *request.uri_mut() = uri;
            *request.version_mut() = ver;
            *request.headers_mut() = headers;
            Ok(Some(RequestEvent::Head {
                request,
                keep_alive: *keep,
            }))
        })
    }
}
