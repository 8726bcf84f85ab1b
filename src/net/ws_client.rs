//! Blocking WebSocket client over std `TcpStream` (used by `h2o ws`), on both
//! transports:
//! - HTTP/1.1 Upgrade (RFC 6455 §4.1): request built by
//!   [`handshake::client_request`], response parsed with `httparse` and checked
//!   by [`handshake::verify_response`], then raw frames;
//! - HTTP/2 extended CONNECT (RFC 8441, h2c prior knowledge): an
//!   [`H2Session`] multiplexes any number of WebSockets ([`WsStream`]) and
//!   ordinary GET requests on one [`Connection`].
//!
//! Framing is done by [`crate::ws`], HTTP/2 by [`crate::conn`]; this module
//! only moves bytes. Client masking keys and `Sec-WebSocket-Key` nonces come
//! from `/dev/urandom`.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::client::Url;
pub use super::error::WsError;
use super::{tcp, READ_BUF, WRITE_BATCH};
use crate::conn::{Config as H2Config, Connection, Event as H2Event};
use crate::error::ErrorCode;
use crate::frame::StreamId;
use crate::ws::h2::WsStream;
use crate::ws::handshake;
use crate::ws::{CloseCode, Config, Event, Role, WebSocket};

/// Largest accepted HTTP/1.1 handshake response head.
const MAX_RESPONSE_HEAD: usize = 64 << 10;

fn io_err(what: &'static str) -> impl Fn(io::Error) -> WsError {
    move |e| WsError::io(what, e)
}

/// `n` bytes from the operating system's random source.
pub fn os_random<const N: usize>() -> Result<[u8; N], WsError> {
    let mut b = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| WsError::Random(Arc::new(e)))?;
    Ok(b)
}

/// A WebSocket config whose masking-key seed comes from `/dev/urandom`.
pub fn random_config() -> Result<Config, WsError> {
    Ok(Config {
        mask_seed: u64::from_ne_bytes(os_random::<8>()?),
        ..Config::default()
    })
}

/// Parses `ws://host[:port]/path` (or `http://`); `wss://`/`https://` are refused.
pub fn parse_url(url: &str) -> Result<Url, WsError> {
    let http = if let Some(r) = url.strip_prefix("ws://") {
        format!("http://{r}")
    } else if url.starts_with("wss://") {
        return Err(WsError::InvalidRequest(
            "TLS not supported yet: use a ws:// URL".into(),
        ));
    } else {
        url.to_string()
    };
    Url::parse(&http).map_err(|e| WsError::InvalidRequest(e.to_string()))
}

/// Sets the read timeout to what is left until `deadline`; false if it passed.
fn arm(sock: &TcpStream, deadline: Instant) -> bool {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return false;
    }
    let _ = sock.set_read_timeout(Some(left.max(Duration::from_millis(1))));
    true
}

/// One read; `Ok(None)` on timeout.
fn read_some(sock: &mut TcpStream, buf: &mut [u8]) -> Result<Option<usize>, WsError> {
    loop {
        return match sock.read(buf) {
            Ok(0) => Err(WsError::Closed),
            Ok(n) => Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(WsError::io("read failed", e)),
        };
    }
}

/// Writes every byte of `chunks` with vectored writes (`writev`, at most
/// [`MAX_IOV`] slices each), resuming after short writes.
fn write_all_chunks<W: Write>(sock: &mut W, chunks: &[Bytes]) -> io::Result<()> {
    const MAX_IOV: usize = 64;
    let (mut i, mut off) = (0, 0);
    while i < chunks.len() {
        let mut iov = [io::IoSlice::new(&[]); MAX_IOV];
        let mut k = 0;
        for (j, c) in chunks[i..].iter().take(MAX_IOV).enumerate() {
            iov[k] = io::IoSlice::new(if j == 0 { &c[off..] } else { c });
            k += 1;
        }
        let mut n = match sock.write_vectored(&iov[..k]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // Skip what was written (empty chunks included).
        while i < chunks.len() && n >= chunks[i].len() - off {
            n -= chunks[i].len() - off;
            i += 1;
            off = 0;
        }
        off += n;
    }
    Ok(())
}

// ------------------------------------------------------------------ HTTP/2

/// The body of a GET made on an [`H2Session`].
#[derive(Debug, Default)]
struct GetState {
    status: Option<u16>,
    body: Vec<u8>,
    done: bool,
}

/// An HTTP/2 cleartext (prior knowledge) connection carrying RFC 8441
/// WebSockets and ordinary GETs side by side (blocking, single-threaded).
pub struct H2Session {
    sock: TcpStream,
    conn: Connection,
    authority: String,
    start: Instant,
    timeout: Duration,
    settings_seen: bool,
    ws: HashMap<StreamId, WsStream>,
    ws_events: HashMap<StreamId, VecDeque<Event>>,
    /// Streams whose CONNECT was answered: `Ok` 2xx, `Err(status)` otherwise.
    ws_answer: HashMap<StreamId, Result<(), u16>>,
    gets: HashMap<StreamId, GetState>,
    failed_streams: HashMap<StreamId, WsError>,
    rbuf: Vec<u8>,
    /// Output of one `write_chunks` call: frame headers and control frames,
    /// and DATA payloads as queued (no copy).
    chunks: Vec<Bytes>,
}

impl fmt::Debug for H2Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H2Session")
            .field("authority", &self.authority)
            .field("websockets", &self.ws.len())
            .finish()
    }
}

impl H2Session {
    /// Connects to `url`'s host (`ws://` or `http://`; the path is ignored).
    /// `timeout` bounds every blocking call.
    pub fn connect(url: &str, timeout: Duration) -> Result<H2Session, WsError> {
        let u = parse_url(url)?;
        let start = Instant::now();
        let sock = tcp::connect(&u.host, u.port, start + timeout)?;
        Ok(H2Session {
            sock,
            conn: Connection::client(H2Config::default()),
            authority: u.authority,
            start,
            timeout,
            settings_seen: false,
            ws: HashMap::new(),
            ws_events: HashMap::new(),
            ws_answer: HashMap::new(),
            gets: HashMap::new(),
            failed_streams: HashMap::new(),
            rbuf: vec![0u8; READ_BUF],
            chunks: Vec::new(),
        })
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout
    }

    /// Opens a WebSocket on `path` (extended CONNECT, `:scheme http`) and
    /// waits for the server's 2xx.
    pub fn open_websocket(&mut self, path: &str) -> Result<StreamId, WsError> {
        let deadline = self.deadline();
        while !self.settings_seen {
            self.pump(deadline)?;
        }
        let uri = format!("http://{}{}", self.authority, path);
        let ws = WebSocket::new(Role::Client, random_config()?);
        let s = WsStream::connect(&mut self.conn, &uri, ws).map_err(WsError::NoExtendedConnect)?;
        let id = s.stream_id();
        self.ws.insert(id, s);
        self.ws_events.insert(id, VecDeque::new());
        loop {
            if let Some(e) = self.failed_streams.get(&id) {
                return Err(e.clone());
            }
            match self.ws_answer.get(&id) {
                Some(Ok(())) => return Ok(id),
                Some(Err(status)) => return Err(WsError::Rejected(*status)),
                None => self.pump(deadline)?,
            }
        }
    }

    /// The WebSocket of stream `id` (to queue messages; they leave on the
    /// next [`H2Session::flush`] / receive call).
    pub fn websocket(&mut self, id: StreamId) -> Option<&mut WebSocket> {
        self.ws.get_mut(&id).map(|s| s.websocket())
    }

    /// Writes everything queued (WebSocket frames, requests, HTTP/2 control).
    pub fn flush(&mut self) -> Result<(), WsError> {
        for s in self.ws.values_mut() {
            let _ = s.flush(&mut self.conn);
        }
        loop {
            self.chunks.clear();
            self.conn
                .write_chunks(self.start.elapsed(), &mut self.chunks, WRITE_BATCH);
            if self.chunks.is_empty() {
                return Ok(());
            }
            write_all_chunks(&mut self.sock, &self.chunks).map_err(io_err("write failed"))?;
        }
    }

    /// One round: flush, one read (until `deadline`), dispatch events.
    fn pump(&mut self, deadline: Instant) -> Result<(), WsError> {
        self.flush()?;
        if !arm(&self.sock, deadline) {
            return Err(WsError::Timeout(self.timeout));
        }
        match read_some(&mut self.sock, &mut self.rbuf)? {
            Some(n) => {
                if let Err(e) = self.conn.recv(self.start.elapsed(), &self.rbuf[..n]) {
                    return Err(WsError::Protocol(e));
                }
            }
            None => self.conn.handle_timeout(self.start.elapsed()),
        }
        while let Some(ev) = self.conn.poll_event() {
            self.dispatch(ev)?;
        }
        self.flush()
    }

    fn dispatch(&mut self, ev: H2Event) -> Result<(), WsError> {
        match ev {
            H2Event::Settings(_) => self.settings_seen = true,
            H2Event::Response {
                stream_id,
                response,
                end_stream,
            } => {
                if response.status().is_informational() {
                    return Ok(());
                }
                if let Some(s) = self.ws.get_mut(&stream_id) {
                    let ok = s.on_response(&response).is_ok() && !end_stream;
                    let status = response.status().as_u16();
                    self.ws_answer
                        .insert(stream_id, if ok { Ok(()) } else { Err(status) });
                    if !ok {
                        self.ws.remove(&stream_id);
                        let _ = self.conn.reset(stream_id, ErrorCode::CANCEL);
                    }
                } else if let Some(g) = self.gets.get_mut(&stream_id) {
                    g.status = Some(response.status().as_u16());
                    g.done |= end_stream;
                }
            }
            H2Event::Data {
                stream_id,
                data,
                end_stream,
            } => {
                if let Some(s) = self.ws.get_mut(&stream_id) {
                    let _ = s.on_data(&mut self.conn, &data, end_stream);
                    let q = self.ws_events.entry(stream_id).or_default();
                    while let Some(e) = s.poll_event() {
                        q.push_back(e);
                    }
                } else if let Some(g) = self.gets.get_mut(&stream_id) {
                    g.body.extend_from_slice(&data);
                    g.done |= end_stream;
                }
            }
            H2Event::Trailers { stream_id, .. } | H2Event::Closed { stream_id } => {
                if let Some(g) = self.gets.get_mut(&stream_id) {
                    g.done = true;
                }
            }
            H2Event::Reset {
                stream_id, code, ..
            } => {
                self.failed_streams.insert(stream_id, WsError::Reset(code));
            }
            H2Event::GoAway { code, .. } if code != ErrorCode::NO_ERROR => {
                return Err(WsError::GoAway(code));
            }
            _ => {}
        }
        Ok(())
    }

    /// Next WebSocket event of stream `id` (messages, pings, pongs, close),
    /// waiting up to `wait`. `Ok(None)`: nothing arrived in time.
    pub fn recv_timeout(&mut self, id: StreamId, wait: Duration) -> Result<Option<Event>, WsError> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(e) = self.ws_events.get_mut(&id).and_then(|q| q.pop_front()) {
                return Ok(Some(e));
            }
            if let Some(e) = self.failed_streams.get(&id) {
                return Err(e.clone());
            }
            let finished = self
                .ws
                .get(&id)
                .is_none_or(|s| s.peer_finished() || s.is_finished());
            if finished {
                return Err(WsError::WebSocketClosed);
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            match self.pump(deadline) {
                Err(WsError::Timeout(_)) => return Ok(None),
                r => r?,
            }
        }
    }

    /// Next WebSocket event of stream `id`, waiting up to the session timeout.
    pub fn recv(&mut self, id: StreamId) -> Result<Event, WsError> {
        match self.recv_timeout(id, self.timeout)? {
            Some(e) => Ok(e),
            None => Err(WsError::Timeout(self.timeout)),
        }
    }

    /// Starts the close handshake of WebSocket `id` and waits for the
    /// server's close frame (discarding messages that arrive meanwhile).
    /// Returns the code the server sent.
    pub fn close_websocket(
        &mut self,
        id: StreamId,
        code: CloseCode,
        reason: &str,
    ) -> Result<CloseCode, WsError> {
        let Some(ws) = self.websocket(id) else {
            return Err(WsError::UnknownStream(id));
        };
        ws.close(code, reason).map_err(WsError::Send)?;
        loop {
            if let Event::Close { code, .. } = self.recv(id)? {
                self.flush()?;
                return Ok(code);
            }
        }
    }

    /// Starts a GET of `path` on the same connection.
    pub fn get(&mut self, path: &str) -> Result<StreamId, WsError> {
        let deadline = self.deadline();
        while !self.settings_seen {
            self.pump(deadline)?;
        }
        let uri = format!("http://{}{}", self.authority, path);
        let req = http::Request::get(uri)
            .body(())
            .map_err(|e| WsError::InvalidRequest(format!("bad request: {e}")))?;
        let id = self
            .conn
            .send_request(req, true)
            .map_err(WsError::Request)?;
        self.gets.insert(id, GetState::default());
        Ok(id)
    }

    /// Waits for the GET on stream `id` to finish: `(status, body)`.
    pub fn response(&mut self, id: StreamId) -> Result<(u16, Bytes), WsError> {
        let deadline = self.deadline();
        loop {
            if let Some(e) = self.failed_streams.get(&id) {
                return Err(e.clone());
            }
            match self.gets.get(&id) {
                None => return Err(WsError::UnknownStream(id)),
                Some(g) if g.done => {
                    let g = self.gets.remove(&id).unwrap_or_default();
                    let status = g.status.ok_or(WsError::NoResponse)?;
                    return Ok((status, Bytes::from(g.body)));
                }
                Some(_) => self.pump(deadline)?,
            }
        }
    }

    /// Ends the connection politely (GOAWAY).
    pub fn shutdown(&mut self) {
        self.conn.shutdown(ErrorCode::NO_ERROR);
        let _ = self.flush();
    }
}

// ------------------------------------------------------------------ client

enum Transport {
    H1 {
        sock: TcpStream,
        ws: Box<WebSocket>,
        rbuf: Vec<u8>,
        wbuf: Vec<u8>,
    },
    H2 {
        session: Box<H2Session>,
        id: StreamId,
    },
}

/// A blocking WebSocket client on either transport.
pub struct WsClient {
    t: Transport,
    timeout: Duration,
}

impl fmt::Debug for WsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h2 = matches!(self.t, Transport::H2 { .. });
        f.debug_struct("WsClient").field("h2", &h2).finish()
    }
}

impl WsClient {
    /// Connects to `url` (`ws://host:port/path`) with a 30 s timeout for each
    /// blocking call: HTTP/1.1 Upgrade, or RFC 8441 over h2c when `h2`.
    pub fn connect(url: &str, h2: bool) -> Result<WsClient, WsError> {
        WsClient::connect_timeout(url, h2, Duration::from_secs(30))
    }

    /// Like [`WsClient::connect`] with another timeout.
    pub fn connect_timeout(url: &str, h2: bool, timeout: Duration) -> Result<WsClient, WsError> {
        let u = parse_url(url)?;
        if h2 {
            let mut session = Box::new(H2Session::connect(url, timeout)?);
            let id = session.open_websocket(&u.path)?;
            return Ok(WsClient {
                t: Transport::H2 { session, id },
                timeout,
            });
        }
        let deadline = Instant::now() + timeout;
        let mut sock = tcp::connect(&u.host, u.port, deadline)?;
        let key = handshake::generate_key(os_random::<16>()?);
        let req = handshake::client_request(&format!("http://{}{}", u.authority, u.path), &key)
            .map_err(|e| WsError::InvalidRequest(format!("bad URL: {e}")))?;
        let mut head = format!("GET {} HTTP/1.1\r\n", u.path).into_bytes();
        for (k, v) in req.headers() {
            head.extend_from_slice(k.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(v.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        sock.write_all(&head).map_err(io_err("write failed"))?;
        // Read the response head.
        let mut buf = Vec::new();
        let mut rbuf = vec![0u8; READ_BUF];
        let (resp, used) = loop {
            if !arm(&sock, deadline) {
                return Err(WsError::Timeout(timeout));
            }
            match read_some(&mut sock, &mut rbuf)? {
                Some(n) => buf.extend_from_slice(&rbuf[..n]),
                None => continue,
            }
            let mut hdrs = [httparse::EMPTY_HEADER; 64];
            let mut r = httparse::Response::new(&mut hdrs);
            match r.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let mut b = http::Response::builder().status(r.code.unwrap_or(0));
                    for h in r.headers.iter() {
                        b = b.header(h.name, h.value);
                    }
                    let resp = b.body(()).map_err(|e| {
                        WsError::BadResponse(format!("bad handshake response: {e}"))
                    })?;
                    break (resp, n);
                }
                Ok(httparse::Status::Partial) if buf.len() < MAX_RESPONSE_HEAD => {}
                Ok(_) => {
                    return Err(WsError::BadResponse(
                        "handshake response head too large".into(),
                    ))
                }
                Err(e) => return Err(WsError::BadResponse(format!("bad handshake response: {e}"))),
            }
        };
        if let Err(e) = handshake::verify_response(&resp, &key) {
            return Err(WsError::Handshake {
                status: resp.status().as_u16(),
                source: e,
            });
        }
        let mut ws = Box::new(WebSocket::new(Role::Client, random_config()?));
        if buf.len() > used {
            let _ = ws.recv(&buf[used..]);
        }
        Ok(WsClient {
            t: Transport::H1 {
                sock,
                ws,
                rbuf,
                wbuf: Vec::new(),
            },
            timeout,
        })
    }

    /// True when the WebSocket runs over HTTP/2 (RFC 8441).
    pub fn is_h2(&self) -> bool {
        matches!(self.t, Transport::H2 { .. })
    }

    /// The WebSocket, to queue anything (fragments, pongs); call
    /// [`WsClient::flush`] afterwards.
    pub fn websocket(&mut self) -> &mut WebSocket {
        match &mut self.t {
            Transport::H1 { ws, .. } => ws,
            Transport::H2 { session, id } => session
                .ws
                .get_mut(id)
                .map(|s| s.websocket())
                .expect("the stream's WebSocket lives as long as the client"),
        }
    }

    /// Writes every queued frame.
    pub fn flush(&mut self) -> Result<(), WsError> {
        match &mut self.t {
            Transport::H1 { sock, ws, wbuf, .. } => {
                wbuf.clear();
                ws.write_to(wbuf);
                if !wbuf.is_empty() {
                    sock.write_all(wbuf).map_err(io_err("write failed"))?;
                }
                Ok(())
            }
            Transport::H2 { session, .. } => session.flush(),
        }
    }

    fn queued(&mut self, r: Result<(), crate::ws::SendError>) -> Result<(), WsError> {
        r.map_err(WsError::Send)?;
        self.flush()
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), WsError> {
        let r = self.websocket().send_text(text);
        self.queued(r)
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), WsError> {
        let r = self.websocket().send_binary(data);
        self.queued(r)
    }

    /// Sends a ping (payload ≤ 125 bytes).
    pub fn send_ping(&mut self, data: &[u8]) -> Result<(), WsError> {
        let r = self.websocket().send_ping(data);
        self.queued(r)
    }

    /// Next event (message, ping, pong, close) within `wait`; `Ok(None)` if
    /// none arrived. Pongs to pings are sent automatically.
    pub fn recv_timeout(&mut self, wait: Duration) -> Result<Option<Event>, WsError> {
        let deadline = Instant::now() + wait;
        match &mut self.t {
            Transport::H2 { session, id } => session.recv_timeout(*id, wait),
            Transport::H1 {
                sock,
                ws,
                rbuf,
                wbuf,
            } => loop {
                if let Some(e) = ws.poll_event() {
                    wbuf.clear();
                    ws.write_to(wbuf);
                    if !wbuf.is_empty() {
                        sock.write_all(wbuf).map_err(io_err("write failed"))?;
                    }
                    return Ok(Some(e));
                }
                if let Some(e) = ws.error() {
                    return Err(WsError::WebSocket(e));
                }
                if ws.close_received() {
                    return Err(WsError::WebSocketClosed);
                }
                if !arm(sock, deadline) {
                    return Ok(None);
                }
                if let Some(n) = read_some(sock, rbuf)? {
                    let _ = ws.recv(&rbuf[..n]);
                }
            },
        }
    }

    /// Next event, waiting up to the client's timeout.
    pub fn recv(&mut self) -> Result<Event, WsError> {
        match self.recv_timeout(self.timeout)? {
            Some(e) => Ok(e),
            None => Err(WsError::Timeout(self.timeout)),
        }
    }

    /// Closes with `code`/`reason` and waits for the server's close frame
    /// (messages arriving meanwhile are dropped). Returns the server's code.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<CloseCode, WsError> {
        if let Transport::H2 { session, id } = &mut self.t {
            let c = session.close_websocket(*id, code, reason)?;
            session.shutdown();
            return Ok(c);
        }
        let r = self.websocket().close(code, reason);
        self.queued(r)?;
        loop {
            if let Event::Close { code, .. } = self.recv()? {
                return Ok(code);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes at most `max` bytes per call, across slices.
    struct Short {
        got: Vec<u8>,
        max: usize,
        calls: usize,
    }
    impl Write for Short {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[io::IoSlice::new(b)])
        }
        fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
            self.calls += 1;
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.max - n);
                self.got.extend_from_slice(&b[..take]);
                n += take;
            }
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_all_chunks_resumes_short_writes_in_order() {
        let mut chunks: Vec<Bytes> = (0..200u32)
            .map(|i| Bytes::from(vec![i as u8; (i as usize * 7) % 13]))
            .collect();
        chunks.push(Bytes::from(
            (0..100_000u32).map(|i| i as u8).collect::<Vec<_>>(),
        ));
        let want = chunks.concat();
        for max in [1usize, 5, 64, 4096, usize::MAX / 2] {
            let mut w = Short {
                got: Vec::new(),
                max,
                calls: 0,
            };
            write_all_chunks(&mut w, &chunks).unwrap();
            assert_eq!(w.got, want, "max {max}");
            if max > want.len() {
                assert_eq!(w.calls, 4, "64 slices per call");
            }
        }
    }
}
