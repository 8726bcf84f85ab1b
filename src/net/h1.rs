//! HTTP/1.1 connections of the native file server (`h2o serve`).
//!
//! A connection the sniffer ([`super::ws`]) found to be plain HTTP/1.1 is
//! driven here: bytes go into the sans-IO [`RequestDecoder`] (pipelined
//! requests one after the other), each request head is answered by the same
//! protocol-neutral file handler as HTTP/2 ([`super::server`]'s `file_reply`),
//! and the response leaves through the server's output queue: the head
//! encoded by [`crate::h1::encode_response_head`], small bodies from memory, large
//! file ranges from the file's mapping or by `sendfile(2)` (zero-copy on) or copied in
//! [`super::server::FILE_CHUNK`] pieces as the queue drains.
//!
//! Keep-alive and pipelining are bounded: input is read only while less than
//! [`MAX_BUFFERED`] bytes wait undecoded and the output backlog is below
//! [`BACKLOG`]; more requests are decoded only while the backlog allows.
//! Bad requests get `400` (`431` for an oversized head) and the connection
//! closes after it, as it does after a request without keep-alive.
//! When the server stops (`H1Conn::stop`), the response in progress
//! finishes, any later one says `connection: close`, and an idle connection
//! closes at once.

use std::fs::File;
use std::io::{self, Read};
use std::rc::Rc;

use bytes::Bytes;

use super::file_cache::read_piece;
use super::out::{Flush, OutQueue, WriteSide};
use super::server::{Reply, ReplyBody, Seg, FILE_CHUNK, ZERO_COPY_MIN};
use super::ws::Pre;
use crate::h1::{
    encode_response, encode_response_head, Framing, H1Error, Limits, RequestDecoder, RequestEvent,
};

/// Undecoded input above which reading pauses (pipelined requests wait in the socket).
pub const MAX_BUFFERED: usize = 128 << 10;
/// Output backlog above which no further request is decoded.
pub const BACKLOG: usize = 4 << 20;
/// Bytes written in one turn before other connections get theirs.
const TURN_BUDGET: usize = 4 << 20;

/// State of one HTTP/1.1 server connection.
pub(crate) struct H1Conn {
    dec: RequestDecoder,
    /// A copied file body still to be queued: file, offset, bytes left.
    copy: Option<(Rc<File>, u64, u64)>,
    /// A copied multipart body: its file and the pieces after `copy`.
    parts: Option<(Rc<File>, std::collections::VecDeque<Seg>)>,
    /// Close once the output drained (no keep-alive, or an error answered).
    close_after: bool,
    /// Reading paused (backlog or buffered input): read on a later turn
    /// even without a readable edge.
    read_pending: bool,
    eof: bool,
    /// The server is stopping: no more keep-alive.
    stopping: bool,
}

impl H1Conn {
    /// A connection whose first bytes (already read by the sniffer) are `initial`.
    pub(crate) fn new(initial: &[u8]) -> H1Conn {
        let mut dec = RequestDecoder::new(Limits::default());
        dec.recv(initial);
        H1Conn {
            dec,
            copy: None,
            parts: None,
            close_after: false,
            read_pending: false,
            eof: false,
            stopping: false,
        }
    }

    /// The server is stopping: the response in progress finishes, the next
    /// one (a request already on its way) gets `connection: close`, and the
    /// connection closes once no request is in progress.
    pub(crate) fn stop(&mut self) {
        self.stopping = true;
    }

    /// One turn: read (edge-triggered rule as in the server: until a short
    /// read unless `drain`), answer complete requests with `handler`, flush.
    /// `zero_copy`: large file ranges leave from the file's mapping (or by `sendfile`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn drive<S: Read, W: WriteSide>(
        &mut self,
        sock: &mut S,
        rbuf: &mut [u8],
        readable: bool,
        drain: bool,
        out: &mut OutQueue,
        w: &mut W,
        zero_copy: bool,
        handler: &mut dyn FnMut(&http::Request<()>) -> Reply,
    ) -> io::Result<Pre> {
        let mut active = false;
        let mut written = 0usize;
        let mut readable = readable || self.read_pending;
        for _ in 0..64 {
            if readable {
                self.read(sock, rbuf, drain, out, &mut active)?;
            }
            let stalled = self.produce(out, handler, zero_copy)?;
            let before = out.len();
            let r = out.flush(w)?;
            written += before - out.len();
            active |= before != out.len();
            if r == Flush::Blocked {
                // A writable edge comes when the socket drains.
                return Ok(Pre::Keep { active });
            }
            if self.close_after && self.copy.is_none() && self.parts.is_none() {
                discard_input(sock, rbuf);
                return Ok(Pre::Close);
            }
            if self.stopping && self.copy.is_none() && self.dec.is_idle() {
                // Stopping, and no request in progress: close now.
                discard_input(sock, rbuf);
                return Ok(Pre::Close);
            }
            if stalled || self.read_pending {
                if written >= TURN_BUDGET {
                    return Ok(Pre::Again { active });
                }
                readable = self.read_pending;
                continue;
            }
            if self.eof {
                return Ok(Pre::Close);
            }
            return Ok(Pre::Keep { active });
        }
        Ok(Pre::Again { active })
    }

    fn read<S: Read>(
        &mut self,
        sock: &mut S,
        rbuf: &mut [u8],
        drain: bool,
        out: &OutQueue,
        active: &mut bool,
    ) -> io::Result<()> {
        self.read_pending = false;
        if self.eof || self.close_after {
            return Ok(());
        }
        loop {
            if self.dec.buffered() >= MAX_BUFFERED || out.len() >= BACKLOG {
                self.read_pending = true;
                return Ok(());
            }
            match sock.read(rbuf) {
                Ok(0) => {
                    self.eof = true;
                    self.dec.recv_eof();
                    return Ok(());
                }
                Ok(n) => {
                    *active = true;
                    self.dec.recv(&rbuf[..n]);
                    // A short read drained the socket: new data raises a new edge.
                    if n < rbuf.len() && !drain {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Answers decoded requests and queues copied body pieces while the
    /// backlog allows. Returns true when it stopped for the backlog (more
    /// work may be waiting).
    fn produce(
        &mut self,
        out: &mut OutQueue,
        handler: &mut dyn FnMut(&http::Request<()>) -> Reply,
        zero_copy: bool,
    ) -> io::Result<bool> {
        loop {
            if let Some((file, offset, left)) = &mut self.copy {
                if out.len() >= FILE_CHUNK {
                    return Ok(true);
                }
                let want = (*left).min(FILE_CHUNK as u64) as usize;
                // The file shrank or failed under us: the promised length
                // cannot be met, so the connection must end (the error closes it).
                let chunk = read_piece(file, *offset, want)?;
                *offset += want as u64;
                *left -= want as u64;
                if *left == 0 {
                    self.copy = None;
                }
                out.push_bytes(chunk);
                continue;
            }
            if let Some((file, segs)) = &mut self.parts {
                if out.len() >= FILE_CHUNK {
                    return Ok(true);
                }
                match segs.pop_front() {
                    Some(Seg::Bytes(b)) => out.push_bytes(b),
                    Some(Seg::File { start, len }) => self.copy = Some((file.clone(), start, len)),
                    None => self.parts = None,
                }
                continue;
            }
            if self.close_after {
                return Ok(false);
            }
            if out.len() >= BACKLOG {
                return Ok(true);
            }
            match self.dec.poll() {
                Ok(Some(RequestEvent::Head {
                    request,
                    keep_alive,
                })) => {
                    let reply = handler(&request);
                    let keep_alive = keep_alive && !self.stopping;
                    self.queue(reply, keep_alive, out, zero_copy);
                    self.close_after = !keep_alive;
                }
                // Request bodies and trailers are not used (GET/HEAD files).
                Ok(Some(_)) => {}
                Ok(None) => return Ok(false),
                Err(H1Error::UnexpectedEof) => {
                    // The client left mid-request: nobody to answer.
                    self.close_after = true;
                    return Ok(false);
                }
                Err(e) => {
                    error_response(&e, out);
                    self.close_after = true;
                    return Ok(false);
                }
            }
        }
    }

    fn queue(&mut self, reply: Reply, keep_alive: bool, out: &mut OutQueue, zero_copy: bool) {
        let mut head = Vec::with_capacity(256);
        encode_response_head(
            reply.head.status(),
            reply.head.headers(),
            Framing::AsIs,
            keep_alive,
            &mut head,
        );
        out.push_bytes(Bytes::from(head));
        match reply.body {
            ReplyBody::Empty => {}
            ReplyBody::Bytes(b) => out.push_bytes(b),
            ReplyBody::File {
                map: Some(map),
                start,
                len,
                ..
            } if zero_copy && len >= ZERO_COPY_MIN => out.push_mapped(map, start, len as usize),
            ReplyBody::File {
                file, start, len, ..
            } if zero_copy && len >= ZERO_COPY_MIN => out.push_file(file, start, len as usize),
            ReplyBody::File {
                file, start, len, ..
            } => self.copy = Some((file, start, len)),
            // Multipart: ranges by sendfile between the part headers, or copied.
            ReplyBody::Parts { file, segs } if zero_copy => {
                for seg in segs {
                    match seg {
                        Seg::Bytes(b) => out.push_bytes(b),
                        Seg::File { start, len } => {
                            out.push_file(file.clone(), start, len as usize)
                        }
                    }
                }
            }
            ReplyBody::Parts { file, segs } => self.parts = Some((file, segs.into())),
        }
    }
}

/// Reads and drops what the client already sent before the close: closing
/// with unread input makes the kernel send a reset, which can destroy the
/// last response before the client has read it. Bounded (a few reads).
fn discard_input<S: Read>(sock: &mut S, rbuf: &mut [u8]) {
    for _ in 0..4 {
        match sock.read(rbuf) {
            Ok(n) if n > 0 => {}
            _ => return,
        }
    }
}

/// `400 Bad Request` (`431` for an oversized head) with `connection: close`.
fn error_response(e: &H1Error, out: &mut OutQueue) {
    let status = match e {
        H1Error::HeadTooLarge | H1Error::TooManyHeaders => {
            http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        }
        _ => http::StatusCode::BAD_REQUEST,
    };
    let body = format!("{status}: {e}\n");
    let resp = http::Response::builder()
        .status(status)
        .header(http::header::SERVER, "h2o")
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(())
        .expect("static response head");
    let mut head = Vec::with_capacity(160);
    encode_response(&resp, Framing::Length(body.len() as u64), false, &mut head);
    out.push_bytes(Bytes::from(head));
    out.push_bytes(Bytes::from(body));
}
