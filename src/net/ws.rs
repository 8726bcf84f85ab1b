//! WebSocket echo endpoint of the native server (`h2o serve --ws-echo PATH`)
//! and the protocol sniffing of every server connection.
//!
//! The first bytes of every connection are sniffed. The 24-byte HTTP/2
//! preface (RFC 9113 §3.4) → the connection is HTTP/2 as usual. Anything else
//! is HTTP/1.1: without an endpoint it goes straight to the HTTP/1.1 file
//! server ([`super::h1`], reported as [`Pre::H1`]). Two WebSocket transports,
//! both ending in the sans-IO core ([`crate::ws`]):
//! - **HTTP/1.1 Upgrade** (RFC 6455 §4): with an endpoint configured, the
//!   first HTTP/1.1 request head is parsed (`httparse`): a valid upgrade
//!   ([`handshake::verify_request_headers`]) on the endpoint path gets
//!   `101 Switching Protocols` and the connection becomes a raw WebSocket
//!   (server role). The endpoint path without a valid upgrade gets
//!   `426 Upgrade Required` (with `Sec-WebSocket-Version: 13`) or `400`, and an
//!   upgrade elsewhere `404 Not Found`; these close the connection. Every
//!   other request (and an unparsable or oversized head, which the HTTP/1.1
//!   server answers with 400/431) goes to the HTTP/1.1 file server.
//! - **HTTP/2 extended CONNECT** (RFC 8441): the server advertises
//!   SETTINGS_ENABLE_CONNECT_PROTOCOL; a CONNECT with `:protocol websocket` on
//!   the path gets `200` and one [`WsStream`] per stream carries the frames.
//!   Ordinary GETs on the path still serve files.
//!
//! Every received message is sent back (text as text, binary as binary);
//! pings are answered by the core, close frames echoed by the core, in the
//! order received: answers to valid frames that came before a protocol error
//! go out before the failing close.
//!
//! Copies: a raw WebSocket reads (`recv(2)`, [`ReadSpare`]) into its own
//! 256 KiB buffer whose pieces the core takes as they are
//! ([`WebSocket::recv_buf`]) and unmasks in place; an echo of 1 KiB or more
//! ([`crate::ws::SHARE_MIN`]) is queued as that same memory
//! ([`WebSocket::send`]) and leaves with its frame header in one `sendmsg`.
//! No payload byte is copied in user space. RFC 8441 payloads arrive as
//! slices of the HTTP/2 decoder's buffer (a copy of what was read) and are
//! copied once more by the core, unmasked on the way (`mask::extend_masked`).
//!
//! Backpressure (memory bounds, SECURITY.md): a raw WebSocket stops reading
//! its socket while more than 8 MiB of output wait (TCP then stalls the
//! sender). An RFC 8441 stream is in manual release
//! ([`Connection::set_manual_release`]): its DATA returns flow-control credit
//! only while at most [`ECHO_QUEUE`] echo bytes wait on the stream, so a peer
//! that sends without reading is stopped by its window.
//!
//! Idle connections ([`super::server::ServerConfig::idle_timeout`]) get close
//! 1001 (going away). API: set [`super::server::ServerConfig::ws`] and
//! `conn.enable_connect_protocol`, then [`super::server::serve_with`]:
//!
//! ```no_run
//! use h2o::net::{files::DocRoot, server, ws::WsConfig};
//! let mut config = server::ServerConfig::default();
//! config.ws = WsConfig::echo("/echo");
//! config.conn.enable_connect_protocol = true; // RFC 8441
//! let listener = std::net::TcpListener::bind("127.0.0.1:8080")?;
//! server::serve_with(listener, DocRoot::new(std::path::Path::new("."))?, config)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The file server ([`super::server`]) calls [`ConnWs`] from a few delimited
//! hooks: [`ConnWs::drive_pre_h2`] at the top of its connection turn, and
//! [`ConnWs::on_request`] / [`ConnWs::on_data`] / [`ConnWs::on_stream_end`]
//! from its HTTP/2 event handler.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::out::{Flush, OutQueue, WriteSide};
use crate::conn::{Connection, Protocol, PREFACE};
use crate::frame::StreamId;
use crate::ws::h2::WsStream;
use crate::ws::handshake::{self, HandshakeError};
use crate::ws::{CloseCode, Event, Role, WebSocket};

/// Largest accepted HTTP/1.1 request head.
pub const MAX_HEAD: usize = 16 << 10;
/// Output backlog above which a raw WebSocket connection stops reading.
const BACKLOG: usize = 8 << 20;
/// Raw WebSocket: size of a connection's own read buffer, which received
/// bytes are split off (no copy into the WebSocket) and which is let go at
/// the end of a turn once the output is written.
const WS_READ: usize = 256 << 10;
/// A new read buffer is taken when less room than this is left.
const WS_READ_MIN: usize = 64 << 10;
/// RFC 8441: echo bytes queued on a stream (not yet written) above which the
/// stream's received DATA is not released, so the peer's window stays shut.
pub const ECHO_QUEUE: usize = 1 << 20;

/// WebSocket settings of the server ([`super::server::ServerConfig::ws`]).
#[derive(Clone, Debug, Default)]
pub struct WsConfig {
    /// Path of the echo endpoint (`None`: no WebSocket endpoint, no sniffing).
    pub echo_path: Option<Arc<str>>,
    /// Limits of each WebSocket.
    pub ws: crate::ws::Config,
}

impl WsConfig {
    /// An echo endpoint on `path`.
    pub fn echo(path: &str) -> WsConfig {
        WsConfig {
            echo_path: Some(Arc::from(path)),
            ws: crate::ws::Config::default(),
        }
    }
}

/// What [`ConnWs::drive_pre_h2`] decided for this turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pre {
    /// HTTP/2 connection: continue with the normal HTTP/2 turn. `failed`: the
    /// buffered bytes fed to [`Connection::recv`] were a protocol error.
    H2 {
        /// The connection failed (GOAWAY queued).
        failed: bool,
    },
    /// Not HTTP/2: reading paused for output backlog that has drained
    /// meanwhile: drive the connection again soon without waiting for an event.
    Again {
        /// Bytes moved (reset the idle timer).
        active: bool,
    },
    /// Not HTTP/2: the turn is done; keep the connection.
    Keep {
        /// Bytes moved (reset the idle timer).
        active: bool,
    },
    /// Not HTTP/2: close the connection now.
    Close,
    /// HTTP/1.1 for the file server: take the bytes received so far with
    /// [`ConnWs::take_h1`] and drive the connection with [`super::h1`].
    H1,
    /// A TLS handshake arrived on this cleartext port: a 400 was sent; close
    /// (and say so in the log).
    TlsOnCleartext,
}

enum Mode {
    /// Waiting for enough bytes to tell the HTTP/2 preface from HTTP/1.1.
    Sniff(Vec<u8>),
    /// HTTP/2 (the server's usual path).
    H2,
    /// An HTTP/1.1 head is being received.
    Head(Vec<u8>),
    /// An HTTP/1.1 error response is being written; close after it.
    Closing,
    /// Raw WebSocket after `101`.
    Ws(Box<WebSocket>),
    /// Plain HTTP/1.1 (the file server): the bytes received so far, until
    /// [`ConnWs::take_h1`].
    H1(Vec<u8>),
}

/// Per-connection WebSocket state of the server.
pub struct ConnWs {
    config: Option<WsConfig>,
    mode: Mode,
    streams: HashMap<StreamId, WsStream>,
    /// Reading paused for backlog: read on the next turn even without an edge.
    read_pending: bool,
    /// The first bytes were a TLS handshake (answered with a 400, then closed).
    tls_on_cleartext: bool,
    /// Raw WebSocket: the read buffer ([`WS_READ`]), empty between turns.
    wsbuf: BytesMut,
}

impl std::fmt::Debug for ConnWs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnWs")
            .field("h2", &self.is_h2())
            .field("streams", &self.streams.len())
            .finish()
    }
}

impl ConnWs {
    /// State of a new connection: sniffing (HTTP/2 preface or HTTP/1.1).
    pub fn new(config: &WsConfig) -> ConnWs {
        let on = config.echo_path.is_some();
        ConnWs {
            config: on.then(|| config.clone()),
            mode: Mode::Sniff(Vec::new()),
            streams: HashMap::new(),
            read_pending: false,
            tls_on_cleartext: false,
            wsbuf: BytesMut::new(),
        }
    }

    /// A connection already known to speak HTTP/2 (TLS with ALPN `h2`): no
    /// sniffing, no WebSocket echo.
    pub fn h2_only() -> ConnWs {
        ConnWs {
            config: None,
            mode: Mode::H2,
            streams: HashMap::new(),
            read_pending: false,
            tls_on_cleartext: false,
            wsbuf: BytesMut::new(),
        }
    }

    /// True once the connection is known to be HTTP/2.
    pub fn is_h2(&self) -> bool {
        matches!(self.mode, Mode::H2)
    }

    /// After [`Pre::H1`]: the HTTP/1.1 bytes received so far (once; empty
    /// otherwise).
    pub fn take_h1(&mut self) -> Vec<u8> {
        match &mut self.mode {
            Mode::H1(buf) => std::mem::take(buf),
            _ => Vec::new(),
        }
    }

    /// One turn of a connection that is not (yet) known to be HTTP/2: reads
    /// (when `readable`: until `WouldBlock`, or until a short read unless
    /// `drain` — the edge-triggered rule of the server), sniffs, handles the
    /// HTTP/1.1 head or raw WebSocket, writes through `out`/`w`. `closing`: the server wants the connection
    /// gone (idle timeout): a WebSocket gets close 1001 first.
    #[allow(clippy::too_many_arguments)]
    pub fn drive_pre_h2<S: ReadSpare, W: WriteSide>(
        &mut self,
        sock: &mut S,
        conn: &mut Connection,
        rbuf: &mut [u8],
        readable: bool,
        drain: bool,
        closing: bool,
        out: &mut OutQueue,
        w: &mut W,
    ) -> io::Result<Pre> {
        let mut active = false;
        if closing {
            if let Mode::Ws(ws) = &mut self.mode {
                let _ = ws.close(CloseCode::GOING_AWAY, "idle");
                push_ws(ws, out);
                let _ = out.flush(w);
            }
            return Ok(Pre::Close);
        }
        let mut eof = false;
        let mut readable = readable;
        // Rounds of read → handle → flush; another round only when reading
        // paused for backlog and the backlog drained (no edge would wake us).
        for _ in 0..8 {
            if let Some(pre) = self.round(
                sock,
                conn,
                rbuf,
                readable,
                drain,
                out,
                &mut eof,
                &mut active,
            ) {
                return pre;
            }
            // Write what is pending.
            if let Mode::Ws(ws) = &mut self.mode {
                push_ws(ws, out);
            }
            let before = out.len();
            let flushed = out.flush(w)?;
            active |= out.len() != before;
            if flushed == Flush::Blocked {
                break;
            }
            if out.is_empty() {
                // Nothing written points into the read buffer any more.
                self.wsbuf = BytesMut::new();
                if let Mode::Ws(ws) = &mut self.mode {
                    ws.release_read_buffer();
                }
            }
            match &self.mode {
                Mode::Closing if self.tls_on_cleartext => return Ok(Pre::TlsOnCleartext),
                Mode::Closing => return Ok(Pre::Close),
                Mode::Ws(ws) if ws.is_closed() => return Ok(Pre::Close),
                _ => {}
            }
            if eof || !self.read_pending {
                break;
            }
            readable = false;
        }
        if eof {
            return Ok(Pre::Close);
        }
        if self.read_pending && out.is_empty() {
            return Ok(Pre::Again { active });
        }
        Ok(Pre::Keep { active })
    }

    /// Reads (when readable or resuming after backlog) and handles the bytes.
    #[allow(clippy::too_many_arguments)]
    fn round<S: ReadSpare>(
        &mut self,
        sock: &mut S,
        conn: &mut Connection,
        rbuf: &mut [u8],
        readable: bool,
        drain: bool,
        out: &mut OutQueue,
        eof: &mut bool,
        active: &mut bool,
    ) -> Option<io::Result<Pre>> {
        if readable || self.read_pending {
            self.read_pending = false;
            loop {
                if matches!(self.mode, Mode::Closing) {
                    break;
                }
                if out.len() >= BACKLOG {
                    self.read_pending = true;
                    break;
                }
                // A raw WebSocket reads into its own buffer, whose pieces
                // become the WebSocket's (the echoed payloads included).
                let ws = matches!(self.mode, Mode::Ws(_));
                if ws && self.wsbuf.capacity() < WS_READ_MIN {
                    self.wsbuf = BytesMut::with_capacity(WS_READ);
                }
                let room = if ws {
                    self.wsbuf.capacity()
                } else {
                    rbuf.len()
                };
                let res = if ws {
                    sock.read_spare(&mut self.wsbuf)
                } else {
                    sock.read(rbuf)
                };
                let n = match res {
                    Ok(0) => {
                        *eof = true;
                        break;
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Some(Err(e)),
                };
                *active = true;
                if let Mode::Ws(ws) = &mut self.mode {
                    let _ = ws.recv_buf(self.wsbuf.split());
                    echo(ws);
                    push_ws(ws, out);
                } else if let Some(pre) = self.on_bytes(conn, &rbuf[..n], out) {
                    return Some(Ok(pre));
                }
                // A short read drained the socket: new data raises a new edge.
                if n < room && !drain {
                    break;
                }
            }
        }
        None
    }

    /// Handles freshly read bytes; `Some` ends the read loop.
    fn on_bytes(&mut self, conn: &mut Connection, data: &[u8], out: &mut OutQueue) -> Option<Pre> {
        match &mut self.mode {
            Mode::Sniff(buf) => {
                buf.extend_from_slice(data);
                // 0x16: a TLS handshake record (ClientHello); neither h2c nor
                // HTTP/1.1. A plain 400 makes the client report "not TLS".
                if buf[0] == 0x16 {
                    self.tls_on_cleartext = true;
                    self.fail_h1(out, "400 Bad Request", "");
                    return None;
                }
                let n = buf.len().min(PREFACE.len());
                if buf[..n] != PREFACE[..n] {
                    let head = std::mem::take(buf);
                    if self.config.is_none() {
                        self.mode = Mode::H1(head);
                        return Some(Pre::H1);
                    }
                    self.mode = Mode::Head(Vec::new());
                    return self.on_bytes(conn, &head, out);
                }
                if buf.len() >= PREFACE.len() {
                    let bytes = std::mem::take(buf);
                    self.mode = Mode::H2;
                    // The time of the accept (the connection's latest).
                    let failed = conn.recv(conn.now(), &bytes).is_err();
                    return Some(Pre::H2 { failed });
                }
                None
            }
            Mode::Head(buf) => {
                buf.extend_from_slice(data);
                let head = std::mem::take(buf);
                self.on_head(head, out)
            }
            Mode::Ws(ws) => {
                let _ = ws.recv(data);
                echo(ws);
                push_ws(ws, out);
                None
            }
            Mode::H2 | Mode::Closing | Mode::H1(_) => None,
        }
    }

    fn on_head(&mut self, mut buf: Vec<u8>, out: &mut OutQueue) -> Option<Pre> {
        let mut hdrs = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut hdrs);
        let parsed = req.parse(&buf);
        let n = match parsed {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {
                self.mode = Mode::Head(buf);
                return None;
            }
            // The HTTP/1.1 server answers what is not a WebSocket request.
            _ => {
                self.mode = Mode::H1(buf);
                return Some(Pre::H1);
            }
        };
        let path = req.path.unwrap_or("");
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let method = req.method.unwrap_or("");
        let headers = req
            .headers
            .iter()
            .filter_map(|h| std::str::from_utf8(h.value).ok().map(|v| (h.name, v)));
        let verdict = handshake::verify_request_headers(method, headers);
        let wants_upgrade = req.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("upgrade")
                && String::from_utf8_lossy(h.value)
                    .to_ascii_lowercase()
                    .contains("websocket")
        });
        let on_path = self
            .config
            .as_ref()
            .and_then(|c| c.echo_path.as_deref())
            .is_some_and(|p| p == path);
        match verdict {
            Ok(cr) if on_path => {
                let mut resp = Vec::with_capacity(160);
                handshake::write_response_101(&mut resp, &cr.key, None);
                out.push_bytes(Bytes::from(resp));
                let cfg = self
                    .config
                    .as_ref()
                    .map(|c| c.ws.clone())
                    .unwrap_or_default();
                let mut ws = Box::new(WebSocket::new(Role::Server, cfg));
                let rest = buf.split_off(n);
                if !rest.is_empty() {
                    let _ = ws.recv(&rest);
                    echo(&mut ws);
                }
                self.mode = Mode::Ws(ws);
            }
            Err(_) if on_path => {
                let extra = if matches!(verdict, Err(HandshakeError::Version)) || !wants_upgrade {
                    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                } else {
                    ""
                };
                if wants_upgrade && !matches!(verdict, Err(HandshakeError::Version)) {
                    self.fail_h1(out, "400 Bad Request", extra);
                } else {
                    self.fail_h1(out, "426 Upgrade Required", extra);
                }
            }
            _ if wants_upgrade => self.fail_h1(out, "404 Not Found", ""),
            _ => {
                self.mode = Mode::H1(buf);
                return Some(Pre::H1);
            }
        }
        None
    }

    /// Queues a small HTTP/1.1 error response; the connection closes after it.
    fn fail_h1(&mut self, out: &mut OutQueue, status: &str, extra: &str) {
        let body = format!("{status}\n");
        let resp = format!(
            "HTTP/1.1 {status}\r\nServer: h2o\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
            body.len()
        );
        out.push_bytes(Bytes::from(resp));
        self.mode = Mode::Closing;
    }

    /// HTTP/2 hook: a request head arrived. Returns true when it was an
    /// extended CONNECT this module answered (accepted or refused); false
    /// means the server handles the request as usual.
    pub fn on_request(
        &mut self,
        conn: &mut Connection,
        stream_id: StreamId,
        request: &http::Request<()>,
    ) -> bool {
        let Some(cfg) = &self.config else {
            return false;
        };
        if request.method() != http::Method::CONNECT
            || request.extensions().get::<Protocol>().is_none()
        {
            return false;
        }
        let status = if cfg.echo_path.as_deref() != Some(request.uri().path()) {
            404
        } else {
            match WsStream::accept(conn, stream_id, request, cfg.ws.clone()) {
                Ok((s, _)) => {
                    // Credit comes back as the echo is written (`release`).
                    let _ = conn.set_manual_release(stream_id);
                    self.streams.insert(stream_id, s);
                    return true;
                }
                Err(HandshakeError::Protocol) => 501,
                Err(_) => 400,
            }
        };
        let resp = http::Response::builder()
            .status(status)
            .header(http::header::SERVER, "h2o")
            .body(())
            .expect("static response head");
        let _ = conn.send_response(stream_id, resp, true);
        true
    }

    /// HTTP/2 hook: DATA of a stream. Returns true when the stream is a WebSocket.
    pub fn on_data(
        &mut self,
        conn: &mut Connection,
        stream_id: StreamId,
        data: &[u8],
        end_stream: bool,
    ) -> bool {
        let Some(s) = self.streams.get_mut(&stream_id) else {
            return false;
        };
        let _ = s.on_data(conn, data, end_stream);
        echo(s.websocket());
        let _ = s.flush(conn);
        if s.is_finished() && s.peer_finished() {
            self.streams.remove(&stream_id);
        }
        release(conn, stream_id);
        true
    }

    /// HTTP/2 hook, after frames were taken for writing: returns the credit
    /// of WebSocket streams whose echo queue drained to [`ECHO_QUEUE`]. True
    /// when something was released (WINDOW_UPDATEs wait to be written).
    pub fn on_written(&mut self, conn: &mut Connection) -> bool {
        let mut any = false;
        for &id in self.streams.keys() {
            any |= release(conn, id);
        }
        any
    }

    /// HTTP/2 hook: a stream was closed or reset: forget its WebSocket.
    pub fn on_stream_end(&mut self, stream_id: StreamId) {
        // Most connections carry no WebSocket: no hashing per stream then.
        if !self.streams.is_empty() {
            self.streams.remove(&stream_id);
        }
    }

    /// Number of WebSockets open on this HTTP/2 connection.
    pub fn h2_websockets(&self) -> usize {
        self.streams.len()
    }
}

/// A socket the raw WebSocket path reads from: one read appended to a
/// `BytesMut`'s spare capacity. The default zero-fills the spare room first
/// (any [`Read`]); a TCP socket reads into it directly with `recv(2)`.
pub trait ReadSpare: Read {
    /// One read into `buf`'s spare capacity (appended); `Ok(0)` at EOF.
    fn read_spare(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        let len = buf.len();
        buf.resize(buf.capacity(), 0);
        let r = self.read(&mut buf[len..]);
        buf.truncate(len + *r.as_ref().unwrap_or(&0));
        r
    }
}

impl ReadSpare for mio::net::TcpStream {
    #[allow(unsafe_code)] // recv(2) into uninitialized spare capacity
    fn read_spare(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        let len = buf.len();
        let spare = buf.spare_capacity_mut();
        // SAFETY: the kernel writes at most `spare.len()` bytes at `spare`'s
        // start, spare capacity of `buf` that nothing else references (it is
        // borrowed mutably here); the descriptor is open (borrowed `self`).
        let n = unsafe { libc::recv(self.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: recv initialized the first `n` (<= spare.len()) spare bytes.
        unsafe { buf.set_len(len + n as usize) };
        Ok(n as usize)
    }
}

impl<R: Read> ReadSpare for super::conn_trace::Tee<'_, R> {}

/// Returns a WebSocket stream's held credit while its echo queue is short.
fn release(conn: &mut Connection, id: StreamId) -> bool {
    let held = conn.held_capacity(id);
    if held == 0 || conn.queued_len(id).unwrap_or(0) > ECHO_QUEUE {
        return false;
    }
    conn.release_capacity(id, held);
    true
}

/// Sends every received message back; other events need no action (pongs
/// and close replies are queued by the core). [`WebSocket::send`] queues a
/// large payload by reference: the received bytes, unmasked in place in the
/// WebSocket's read buffer, are the bytes written back.
fn echo(ws: &mut WebSocket) {
    while let Some(ev) = ws.poll_event() {
        if let Event::Message(m) = ev {
            let _ = ws.send(m);
        }
    }
}

/// Moves the WebSocket's output to the queue without copying it: frame
/// headers and small frames as one piece, large echoed payloads as their own
/// `Bytes` (one `sendmsg` writes them all).
fn push_ws(ws: &mut WebSocket, out: &mut OutQueue) {
    while let Some(b) = ws.next_write() {
        out.push_bytes(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A reader that only has the portable (zero-filling) `read_spare`.
    struct Plain<'a>(&'a [u8]);
    impl Read for Plain<'_> {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            self.0.read(b)
        }
    }
    impl ReadSpare for Plain<'_> {}

    /// Reads `r` to EOF with `read_spare`, after a prefix, in varied room sizes.
    fn read_all<R: ReadSpare>(r: &mut R) -> BytesMut {
        let mut got = BytesMut::new();
        got.extend_from_slice(b"pre");
        loop {
            got.reserve(700 + got.len() % 5000);
            if r.read_spare(&mut got).unwrap() == 0 {
                return got;
            }
        }
    }

    #[test]
    fn read_spare_recv_matches_the_portable_read() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut tx = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (rx, _) = l.accept().unwrap();
        // Blocking socket: each recv waits for data (the writer closes at the end).
        let mut rx = mio::net::TcpStream::from_std(rx);
        let sent = data.clone();
        let w = std::thread::spawn(move || tx.write_all(&sent).unwrap());
        let by_recv = read_all(&mut rx);
        w.join().unwrap();
        let portable = read_all(&mut Plain(&data));
        assert_eq!(&by_recv[..3], b"pre");
        assert_eq!(&by_recv[3..], &data[..]);
        assert_eq!(by_recv, portable);
    }
}
