//! The WebSocket connection state machine (RFC 6455 §5.4-§5.6, §7, §8).
//!
//! [`WebSocket`] is sans-IO: feed received bytes to [`WebSocket::recv`], take
//! [`Event`]s from [`WebSocket::poll_event`], queue frames with the `send_*`
//! methods and [`WebSocket::close`], and move pending bytes out with
//! [`WebSocket::write_to`] (one buffer) or [`WebSocket::next_write`] (a
//! sequence of [`Bytes`] for a vectored write).
//!
//! Receiving: partial frames are buffered in one [`BytesMut`]; payload bytes are
//! unmasked as they arrive — while being copied in, in one pass, by
//! [`WebSocket::recv`]; in place in the adapter's own buffer by
//! [`WebSocket::recv_buf`] — and text is UTF-8-validated incrementally
//! (fail fast, also inside a frame that is not complete yet). A single-frame
//! message is split off the read buffer and frozen (no copy); a fragmented one
//! is assembled in one buffer. Frame and message sizes are checked against
//! [`Config`] from the header, before any payload is buffered.
//!
//! Sending: frames are serialized into one output buffer, except that a
//! server ([`Role::Server`], no masking) sending a data message of at least
//! [`SHARE_MIN`] bytes with [`WebSocket::send`] queues the message's own
//! [`Bytes`] after its frame header, so an echo of a received message
//! leaves through [`WebSocket::next_write`] and a vectored write without any
//! copy of its payload (a client masks, which needs a copy).
//!
//! Failing: a protocol violation queues a close frame with code 1002 (framing),
//! 1007 (bad UTF-8 / close reason) or 1009 (too big), and `recv` returns
//! [`Error`]; once that close is due the connection counts as closed
//! ([`WebSocket::is_closed`]): the adapter should flush
//! [`WebSocket::write_to`] and close the transport.
//!
//! Automatic replies (pongs, the reply to the peer's close, the close of a
//! failure) keep the order of what caused them: each goes out once the
//! application has taken every event received before its cause, at the next
//! [`WebSocket::poll_event`] or [`WebSocket::write_to`]. So an adapter that
//! answers each event as it takes it (an echo) sends, for one read holding
//! `[text, ping, binary, invalid frame]`: the text's answer, the pong, the
//! binary's answer, then the close — nothing valid before the error is dropped.

use std::collections::VecDeque;
use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use super::frame::{self, parse_header, OpCode};
use super::mask::{apply_mask, extend_masked};
use super::utf8::Utf8Validator;
use super::{CloseCode, Error, Utf8Bytes};

/// Smallest payload that [`WebSocket::send`] queues by reference (server
/// role) instead of copying it into the output buffer: below this a copy costs
/// less than the extra piece of output (and its `iovec`).
pub const SHARE_MIN: usize = 1024;

/// [`WebSocket::release_read_buffer`] copies buffered bytes shorter than this
/// out of the adapter's read buffer.
pub const RELEASE_COPY_MAX: usize = 64 << 10;

/// Which end of the connection this is (RFC 6455 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Masks every frame it sends; rejects masked frames it receives.
    Client,
    /// Sends unmasked frames; rejects unmasked frames it receives.
    Server,
}

/// Connection limits and options.
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest accepted frame payload (default 16 MiB); larger → close 1009.
    pub max_frame_size: usize,
    /// Largest accepted message, summed over its fragments (default 64 MiB);
    /// larger → close 1009.
    pub max_message_size: usize,
    /// Reply to each received ping with a pong automatically (default true).
    pub auto_pong: bool,
    /// Seed of the xorshift generator that makes client masking keys. The core
    /// has no randomness source: a client adapter must set this from a real
    /// random source (or use [`WebSocket::with_mask_source`]). Unused by servers.
    pub mask_seed: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            auto_pong: true,
            mask_seed: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

/// A complete data message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message (validated UTF-8).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

/// Something that happened on the connection, returned by [`WebSocket::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A complete (possibly reassembled) data message.
    Message(Message),
    /// A ping was received (a pong is queued automatically if
    /// [`Config::auto_pong`] and we have not sent a close frame, at the next
    /// `poll_event` or `write_to` after this event was taken).
    Ping(Bytes),
    /// A pong was received.
    Pong(Bytes),
    /// The peer sent a close frame. `code` is [`CloseCode::NO_STATUS`] (1005)
    /// if its payload was empty. If we had not sent a close frame yet, a reply
    /// echoing the code is queued at the next `poll_event` or `write_to`.
    Close {
        /// Status code.
        code: CloseCode,
        /// UTF-8 reason (may be empty).
        reason: Utf8Bytes,
    },
}

/// Misuse of the sending API (not a protocol error by the peer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// A close frame has already been sent (or the connection failed).
    Closed,
    /// A control frame payload (ping/pong/close) would exceed 125 bytes.
    ControlTooLong,
    /// The close code may not be sent on the wire (see
    /// [`CloseCode::is_valid_on_wire`]).
    InvalidCloseCode,
    /// A whole message or a new fragmented message was started while a
    /// fragmented message is being sent, or a continuation was sent without one.
    FragmentState,
    /// `send_fragment` was given a control opcode.
    NotDataOpCode,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            SendError::Closed => "close frame already sent",
            SendError::ControlTooLong => "control frame payload over 125 bytes",
            SendError::InvalidCloseCode => "close code not allowed on the wire",
            SendError::FragmentState => "invalid fragment sequence",
            SendError::NotDataOpCode => "fragments must be text, binary or continuation",
        };
        f.write_str(s)
    }
}

impl std::error::Error for SendError {}

/// Generator of client masking keys.
enum MaskSource {
    Xorshift(u64),
    Fn(Box<dyn FnMut() -> [u8; 4] + Send>),
}

impl MaskSource {
    fn next(&mut self) -> [u8; 4] {
        match self {
            MaskSource::Xorshift(s) => {
                // xorshift64*
                let mut x = *s;
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                *s = x;
                let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
                ((r >> 32) as u32).to_ne_bytes()
            }
            MaskSource::Fn(f) => f(),
        }
    }
}

/// An automatic reply queued in event order (see the module doc).
#[derive(Debug)]
enum Auto {
    /// Pong with this payload (skipped if a close was sent meanwhile).
    Pong(Bytes),
    /// Close with this code and reason (skipped if one was sent meanwhile).
    Close(CloseCode, &'static str),
}

/// Frame currently being received: its header and how many payload bytes at
/// the front of the read buffer are already unmasked (and validated).
#[derive(Clone, Copy)]
struct InFrame {
    fin: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    len: usize,
    done: usize,
}

/// A sans-IO WebSocket connection (RFC 6455) after the opening handshake.
pub struct WebSocket {
    role: Role,
    config: Config,
    rbuf: BytesMut,
    cur: Option<InFrame>,
    /// Opcode (Text/Binary) of the data message being received, if any.
    msg_kind: Option<OpCode>,
    /// Bytes of the message being received so far (completed frames).
    msg_len: usize,
    /// Assembly buffer for fragmented messages.
    frag: BytesMut,
    /// `rbuf`/`frag` may point into an adapter's buffer ([`WebSocket::recv_buf`]).
    adapter_buf: bool,
    utf8: Utf8Validator,
    events: VecDeque<Event>,
    /// Events pushed / taken so far (positions for `auto`).
    pushed: u64,
    taken: u64,
    /// Automatic replies waiting for the events before them to be taken:
    /// `(pushed count at their cause, reply)`, in order.
    auto: VecDeque<(u64, Auto)>,
    /// Output, in order: pieces already cut (`segs`, `segs_len` bytes), then
    /// `out`, the buffer frames are serialized into.
    segs: VecDeque<Bytes>,
    segs_len: usize,
    out: Vec<u8>,
    close_sent: bool,
    close_received: bool,
    failed: Option<Error>,
    send_fragmenting: bool,
    masks: MaskSource,
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("role", &self.role)
            .field("buffered", &self.rbuf.len())
            .field("events", &self.events.len())
            .field("pending_out", &self.pending_write_len())
            .field("close_sent", &self.close_sent)
            .field("close_received", &self.close_received)
            .field("failed", &self.failed)
            .finish()
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    let z = z ^ (z >> 31);
    if z == 0 {
        1
    } else {
        z
    }
}

impl WebSocket {
    /// A connection in the open state (handshake already done by the adapter).
    /// Client masking keys come from a xorshift generator seeded with
    /// [`Config::mask_seed`].
    pub fn new(role: Role, config: Config) -> WebSocket {
        let seed = splitmix(config.mask_seed);
        WebSocket {
            role,
            config,
            rbuf: BytesMut::new(),
            cur: None,
            msg_kind: None,
            msg_len: 0,
            frag: BytesMut::new(),
            adapter_buf: false,
            utf8: Utf8Validator::default(),
            events: VecDeque::new(),
            pushed: 0,
            taken: 0,
            auto: VecDeque::new(),
            segs: VecDeque::new(),
            segs_len: 0,
            out: Vec::new(),
            close_sent: false,
            close_received: false,
            failed: None,
            send_fragmenting: false,
            masks: MaskSource::Xorshift(seed),
        }
    }

    /// Like [`WebSocket::new`], but client masking keys are drawn from
    /// `mask_source` (e.g. a CSPRNG supplied by the adapter).
    pub fn with_mask_source(
        role: Role,
        config: Config,
        mask_source: impl FnMut() -> [u8; 4] + Send + 'static,
    ) -> WebSocket {
        let mut ws = WebSocket::new(role, config);
        ws.masks = MaskSource::Fn(Box::new(mask_source));
        ws
    }

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Feeds received bytes. All of `data` is consumed (partial frames are
    /// buffered), so `Ok` is always `data.len()`. Produces events for
    /// [`WebSocket::poll_event`] and may queue output (pongs, close replies).
    ///
    /// On a protocol violation a close frame with the error's code is queued
    /// (after the answers to the events received before it: module doc) and
    /// `Err` is returned, now and on every later call. Bytes received after
    /// the peer's close frame are ignored.
    pub fn recv(&mut self, data: &[u8]) -> Result<usize, Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let mut rest = data;
        // After `run`, the read buffer holds either the unmasked start of the
        // current frame's payload or a partial header. So payload bytes are
        // copied and unmasked in one pass (`extend_masked`), and headers are
        // parsed straight from `data`.
        while !rest.is_empty() && !self.close_received {
            match self.cur {
                Some(mut f) if self.rbuf.len() == f.done => {
                    let (chunk, tail) = rest.split_at((f.len - f.done).min(rest.len()));
                    let start = self.rbuf.len();
                    match f.mask {
                        Some(m) => extend_masked(&mut self.rbuf, chunk, m, f.done),
                        None => self.rbuf.extend_from_slice(chunk),
                    }
                    let is_text = !f.opcode.is_control() && self.msg_kind == Some(OpCode::Text);
                    if is_text && self.utf8.feed(&self.rbuf[start..]).is_err() {
                        return Err(
                            self.fail_now(Error::invalid_data("invalid UTF-8 in text message"))
                        );
                    }
                    f.done += chunk.len();
                    self.cur = Some(f);
                    rest = tail;
                }
                None if self.rbuf.is_empty() => match parse_header(rest) {
                    Ok(Some((h, n))) => {
                        let f = self.start_frame(&h).map_err(|e| self.fail_now(e))?;
                        self.cur = Some(f);
                        rest = &rest[n..];
                    }
                    Ok(None) => {
                        self.rbuf.extend_from_slice(rest);
                        rest = &[];
                    }
                    Err(e) => return Err(self.fail_now(e)),
                },
                _ => {
                    // Complete a partial header (`process` parses it).
                    let (head, tail) = rest.split_at(rest.len().min(frame::MAX_HEADER_LEN));
                    self.rbuf.extend_from_slice(head);
                    rest = tail;
                }
            }
            self.run()?;
        }
        Ok(data.len())
    }

    /// Fails the connection with `e` (see [`WebSocket::recv`]) and returns it.
    fn fail_now(&mut self, e: Error) -> Error {
        self.fail(e);
        e
    }

    /// Like [`WebSocket::recv`], but takes ownership of an adapter's read
    /// buffer: if no partial frame is buffered, `data` becomes the read buffer
    /// without a copy (single-frame messages are then split off it zero-copy,
    /// and unmasked in place). A buffered partial frame is joined without a
    /// copy too when `data` follows it in the same allocation (successive
    /// [`BytesMut::split`]s of one adapter buffer); otherwise `data` is copied
    /// after it. See [`WebSocket::release_read_buffer`].
    pub fn recv_buf(&mut self, data: BytesMut) -> Result<usize, Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let n = data.len();
        if self.close_received {
            return Ok(n);
        }
        self.rbuf.unsplit(data);
        self.adapter_buf = true;
        self.run().map(|()| n)
    }

    /// After [`WebSocket::recv_buf`], when the adapter lets go of its read
    /// buffer (e.g. at the end of a turn): buffered bytes that still point
    /// into it — a partial frame, the first fragments of a message — are
    /// copied into buffers of their own when shorter than
    /// [`RELEASE_COPY_MAX`], so an idle connection does not keep a large
    /// adapter buffer alive for a few bytes. Larger ones stay where they are
    /// (they hold at least that much of it).
    pub fn release_read_buffer(&mut self) {
        if !std::mem::take(&mut self.adapter_buf) {
            return;
        }
        fn own(b: &mut BytesMut) {
            if b.is_empty() {
                *b = BytesMut::new();
            } else if b.len() < RELEASE_COPY_MAX {
                *b = BytesMut::from(&b[..]);
            }
        }
        own(&mut self.rbuf);
        own(&mut self.frag);
    }

    fn run(&mut self) -> Result<(), Error> {
        self.process().inspect_err(|&e| self.fail(e))
    }

    fn fail(&mut self, e: Error) {
        self.failed = Some(e);
        self.rbuf.clear();
        self.frag = BytesMut::new();
        self.cur = None;
        if !self.close_sent {
            self.auto
                .push_back((self.pushed, Auto::Close(e.code, e.msg)));
        }
    }

    fn push_event(&mut self, ev: Event) {
        self.events.push_back(ev);
        self.pushed += 1;
    }

    /// Queues the automatic replies whose preceding events were all taken.
    fn fire_auto(&mut self) {
        while let Some((at, _)) = self.auto.front() {
            if *at > self.taken {
                break;
            }
            let Some((_, a)) = self.auto.pop_front() else {
                break;
            };
            match a {
                Auto::Pong(data) if !self.close_sent => {
                    self.write_frame(true, OpCode::Pong, &data);
                }
                Auto::Close(code, reason) if !self.close_sent => self.queue_close(code, reason),
                _ => {}
            }
        }
    }

    fn queue_close(&mut self, code: CloseCode, reason: &str) {
        let payload = if code == CloseCode::NO_STATUS {
            Vec::new()
        } else {
            let mut r = reason;
            while r.len() > 123 {
                // Truncate on a char boundary.
                let mut end = 123;
                while !r.is_char_boundary(end) {
                    end -= 1;
                }
                r = &r[..end];
            }
            frame::close_payload(code, r)
        };
        self.write_frame(true, OpCode::Close, &payload);
        self.close_sent = true;
    }

    fn write_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        let mask = match self.role {
            Role::Client => Some(self.masks.next()),
            Role::Server => None,
        };
        frame::write_frame(&mut self.out, fin, opcode, mask, payload);
    }

    /// Validates a freshly parsed header against role, fragmentation state and
    /// limits, and starts a message if it is the first frame of one.
    fn start_frame(&mut self, h: &frame::FrameHeader) -> Result<InFrame, Error> {
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(Error::protocol("unmasked frame from client")),
            (Role::Client, true) => return Err(Error::protocol("masked frame from server")),
            _ => {}
        }
        if h.payload_len > self.config.max_frame_size as u64 {
            return Err(Error::too_big("frame too big"));
        }
        let len = h.payload_len as usize;
        match h.opcode {
            OpCode::Text | OpCode::Binary => {
                if self.msg_kind.is_some() {
                    return Err(Error::protocol("new message inside a fragmented message"));
                }
                if len > self.config.max_message_size {
                    return Err(Error::too_big("message too big"));
                }
                self.msg_kind = Some(h.opcode);
                self.msg_len = 0;
                self.utf8.reset();
            }
            OpCode::Continuation => {
                if self.msg_kind.is_none() {
                    return Err(Error::protocol("continuation without a started message"));
                }
                if self.msg_len.saturating_add(len) > self.config.max_message_size {
                    return Err(Error::too_big("message too big"));
                }
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => {}
        }
        Ok(InFrame {
            fin: h.fin,
            opcode: h.opcode,
            mask: h.mask,
            len,
            done: 0,
        })
    }

    fn process(&mut self) -> Result<(), Error> {
        loop {
            let mut f = match self.cur {
                Some(f) => f,
                None => match parse_header(&self.rbuf)? {
                    None => return Ok(()),
                    Some((h, n)) => {
                        let f = self.start_frame(&h)?;
                        self.rbuf.advance(n);
                        f
                    }
                },
            };
            let avail = self.rbuf.len().min(f.len);
            if avail > f.done {
                let chunk = &mut self.rbuf[f.done..avail];
                if let Some(m) = f.mask {
                    apply_mask(chunk, m, f.done);
                }
                let is_text = !f.opcode.is_control() && self.msg_kind == Some(OpCode::Text);
                if is_text && self.utf8.feed(chunk).is_err() {
                    return Err(Error::invalid_data("invalid UTF-8 in text message"));
                }
                f.done = avail;
            }
            if f.done < f.len {
                self.cur = Some(f);
                return Ok(());
            }
            self.cur = None;
            let payload = self.rbuf.split_to(f.len);
            self.handle_frame(f, payload)?;
            if self.close_received {
                self.rbuf.clear();
                return Ok(());
            }
        }
    }

    fn handle_frame(&mut self, f: InFrame, payload: BytesMut) -> Result<(), Error> {
        match f.opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                self.msg_len += f.len;
                let first = f.opcode != OpCode::Continuation;
                if !f.fin {
                    if first {
                        self.frag = payload;
                    } else {
                        self.frag.extend_from_slice(&payload);
                    }
                    return Ok(());
                }
                let data = if first {
                    payload.freeze()
                } else {
                    self.frag.extend_from_slice(&payload);
                    std::mem::take(&mut self.frag).freeze()
                };
                let kind = self.msg_kind.take();
                let msg = if kind == Some(OpCode::Text) {
                    if self.utf8.finish().is_err() {
                        return Err(Error::invalid_data("incomplete UTF-8 at end of message"));
                    }
                    Message::Text(Utf8Bytes::from_validated(data))
                } else {
                    Message::Binary(data)
                };
                self.push_event(Event::Message(msg));
            }
            OpCode::Ping => {
                let data = payload.freeze();
                self.push_event(Event::Ping(data.clone()));
                if self.config.auto_pong && !self.close_sent {
                    self.auto.push_back((self.pushed, Auto::Pong(data)));
                }
            }
            OpCode::Pong => self.push_event(Event::Pong(payload.freeze())),
            OpCode::Close => {
                let (code, reason) = match payload.len() {
                    0 => (CloseCode::NO_STATUS, Utf8Bytes::default()),
                    1 => return Err(Error::protocol("close payload of length 1")),
                    _ => {
                        let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
                        if !code.is_valid_on_wire() {
                            return Err(Error::protocol("invalid close code"));
                        }
                        let reason = payload.freeze().slice(2..);
                        let reason = Utf8Bytes::try_from(reason)
                            .map_err(|_| Error::invalid_data("invalid UTF-8 in close reason"))?;
                        (code, reason)
                    }
                };
                self.close_received = true;
                self.push_event(Event::Close { code, reason });
                if !self.close_sent {
                    self.auto.push_back((self.pushed, Auto::Close(code, "")));
                }
            }
        }
        Ok(())
    }

    /// The next event, if any. First queues the automatic replies that were
    /// waiting for the events already taken (see the module doc).
    pub fn poll_event(&mut self) -> Option<Event> {
        self.fire_auto();
        let ev = self.events.pop_front()?;
        self.taken += 1;
        Some(ev)
    }

    fn check_can_send(&self) -> Result<(), SendError> {
        // A failed connection may still answer the events received before the
        // error while its close waits in `auto`.
        if self.close_sent || (self.failed.is_some() && self.auto.is_empty()) {
            Err(SendError::Closed)
        } else {
            Ok(())
        }
    }

    /// Queues a complete message (one frame), e.g. one received from
    /// [`WebSocket::poll_event`] (an echo). A server queues a payload of at
    /// least [`SHARE_MIN`] bytes by reference (the `Bytes` itself, no copy:
    /// see [`WebSocket::next_write`]); anything else is copied like
    /// [`WebSocket::send_binary`].
    pub fn send(&mut self, msg: Message) -> Result<(), SendError> {
        let (op, data) = match msg {
            Message::Text(t) => (OpCode::Text, t.into_bytes()),
            Message::Binary(b) => (OpCode::Binary, b),
        };
        if self.role == Role::Client || data.len() < SHARE_MIN {
            return self.send_message(op, &data);
        }
        self.check_can_send()?;
        if self.send_fragmenting {
            return Err(SendError::FragmentState);
        }
        // Everything serialized so far goes first, then this frame's header.
        frame::write_header(&mut self.out, true, op, None, data.len() as u64);
        self.cut_out();
        self.segs_len += data.len();
        self.segs.push_back(data);
        Ok(())
    }

    /// Moves the serialized output (`out`) to the end of `segs`.
    fn cut_out(&mut self) {
        if !self.out.is_empty() {
            let b = Bytes::from(std::mem::take(&mut self.out));
            self.segs_len += b.len();
            self.segs.push_back(b);
        }
    }

    /// Queues a complete text message (one frame).
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_message(OpCode::Text, text.as_bytes())
    }

    /// Queues a complete binary message (one frame).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_message(OpCode::Binary, data)
    }

    fn send_message(&mut self, op: OpCode, data: &[u8]) -> Result<(), SendError> {
        self.check_can_send()?;
        if self.send_fragmenting {
            return Err(SendError::FragmentState);
        }
        self.write_frame(true, op, data);
        Ok(())
    }

    /// Queues one fragment of a message: the first fragment has opcode
    /// [`OpCode::Text`] or [`OpCode::Binary`], later ones
    /// [`OpCode::Continuation`]; `fin` marks the last one. Control frames may be
    /// sent between fragments. For text, the concatenation of all fragments must
    /// be UTF-8 (individual fragments may split a code point; not checked here).
    pub fn send_fragment(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        self.check_can_send()?;
        match opcode {
            OpCode::Text | OpCode::Binary if !self.send_fragmenting => {}
            OpCode::Continuation if self.send_fragmenting => {}
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                return Err(SendError::FragmentState)
            }
            _ => return Err(SendError::NotDataOpCode),
        }
        self.write_frame(fin, opcode, payload);
        self.send_fragmenting = !fin;
        Ok(())
    }

    /// Queues a ping (payload ≤ 125 bytes).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Queues an unsolicited pong (payload ≤ 125 bytes).
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Pong, payload)
    }

    fn send_control(&mut self, op: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.check_can_send()?;
        if payload.len() > 125 {
            return Err(SendError::ControlTooLong);
        }
        self.write_frame(true, op, payload);
        Ok(())
    }

    /// Starts (or answers) the close handshake with `code` and a UTF-8 `reason`
    /// (≤ 123 bytes). [`CloseCode::NO_STATUS`] sends an empty close payload
    /// (then `reason` must be empty). After this no data, ping or pong can be
    /// sent; incoming frames are still processed until the peer's close arrives.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.check_can_send()?;
        if code == CloseCode::NO_STATUS {
            if !reason.is_empty() {
                return Err(SendError::ControlTooLong);
            }
        } else if !code.is_valid_on_wire() {
            return Err(SendError::InvalidCloseCode);
        }
        if reason.len() > 123 {
            return Err(SendError::ControlTooLong);
        }
        self.queue_close(code, reason);
        Ok(())
    }

    /// Appends all pending frames to `out`; returns the number of bytes appended.
    /// Automatic replies whose preceding events were all taken are queued first.
    pub fn write_to(&mut self, out: &mut Vec<u8>) -> usize {
        self.fire_auto();
        let n = self.pending_write_len();
        if !self.segs.is_empty() {
            out.reserve(n);
            for b in self.segs.drain(..) {
                out.extend_from_slice(&b);
            }
            self.segs_len = 0;
        }
        if out.is_empty() && out.capacity() < self.out.capacity() {
            std::mem::swap(out, &mut self.out);
        } else {
            out.extend_from_slice(&self.out);
            self.out.clear();
        }
        n
    }

    /// The next piece of pending output, for a vectored write (`writev`):
    /// `None` once everything was taken. The pieces, in order, are the same
    /// bytes [`WebSocket::write_to`] would append; payloads queued by
    /// reference ([`WebSocket::send`]) come back as the caller's own `Bytes`,
    /// uncopied. Automatic replies that are due are queued first.
    pub fn next_write(&mut self) -> Option<Bytes> {
        self.fire_auto();
        if let Some(b) = self.segs.pop_front() {
            self.segs_len -= b.len();
            return Some(b);
        }
        if self.out.is_empty() {
            return None;
        }
        Some(Bytes::from(std::mem::take(&mut self.out)))
    }

    /// True if there are frames waiting for [`WebSocket::write_to`] /
    /// [`WebSocket::next_write`] (also an automatic reply that is due).
    pub fn wants_write(&self) -> bool {
        self.pending_write_len() != 0 || self.auto.front().is_some_and(|(at, _)| *at <= self.taken)
    }

    /// Bytes waiting for [`WebSocket::write_to`] / [`WebSocket::next_write`].
    pub fn pending_write_len(&self) -> usize {
        self.segs_len + self.out.len()
    }

    /// True once a close frame has been queued by us.
    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// True once the peer's close frame has been received.
    pub fn close_received(&self) -> bool {
        self.close_received
    }

    /// The protocol error that failed the connection, if any.
    pub fn error(&self) -> Option<Error> {
        self.failed
    }

    /// True when the WebSocket is finished: both close frames exchanged, or the
    /// connection failed. The adapter should then flush [`WebSocket::write_to`]
    /// and close the transport (a server closes TCP first, RFC 6455 §7.1.1).
    pub fn is_closed(&self) -> bool {
        // A failure's close (the last automatic reply) may wait for earlier
        // events to be answered (module doc): closed once it is due.
        let fail_due = self.failed.is_some()
            && (self.close_sent || self.auto.back().is_none_or(|(at, _)| *at <= self.taken));
        (self.close_sent && self.close_received) || fail_due
    }
}
