//! Batch frame decoding: every complete frame in the read buffer, payloads as `Bytes` slices.
//!
//! RFC 9113 §4.1–§4.2 (framing, size limits) and the per-type payload rules of §6
//! (padding, priority fields, SETTINGS values, WINDOW_UPDATE increment), RFC 9218 §7.1.
//! Header-level rules come from the table in [`super::lut`].
//!
//! Allocation: [`FrameDecoder::frames`] splits the run of complete frames off the
//! receive buffer once and freezes it; every payload is a `Bytes::slice` of that
//! run (a reference count increment, no copy, no allocation). Fixed-size frames
//! (SETTINGS, PING, WINDOW_UPDATE, RST_STREAM, PRIORITY, GOAWAY fields) are parsed
//! straight from the slice into plain values.

use bytes::{Bytes, BytesMut};

use super::{
    flags, lut, Frame, FrameHeader, PrioritySpec, Settings, DEFAULT_MAX_FRAME_SIZE,
    FRAME_HEADER_LEN, MAX_WINDOW,
};
use crate::error::{Error, ErrorCode};

/// Spare room ensured in the receive buffer before bytes are appended, so a
/// read of a default-size frame does not have to grow it.
pub const RECV_RESERVE: usize = DEFAULT_MAX_FRAME_SIZE as usize + FRAME_HEADER_LEN;

/// Smallest spare room [`FrameDecoder::push`] makes: pushed slices are often
/// a few small frames (request heads, control frames), and a connection keeps
/// its buffer between reads, so reserving a whole default-size frame for each
/// would hold 16 KiB per connection. Larger pushes get what they need (the
/// buffer grows by doubling).
const PUSH_RESERVE: usize = 8192;

/// Buffers peer bytes and decodes complete frames without copying payloads.
///
/// A partial frame at the end of the buffer stays buffered until more bytes arrive.
/// Frames larger than the local SETTINGS_MAX_FRAME_SIZE are a FRAME_SIZE_ERROR.
/// After a connection error the decoder is poisoned: it ignores further input
/// and yields nothing more.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max_frame_size: u32,
    /// The frozen run of complete frames being walked, and the walk position.
    chunk: Bytes,
    pos: usize,
    /// A stream error to report right after the frame that caused it
    /// (HEADERS with a self-dependency: the block is still delivered, §4.3).
    pending: Option<Error>,
    poisoned: bool,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl FrameDecoder {
    /// A decoder accepting frames up to `max_frame_size` payload bytes.
    pub fn new(max_frame_size: u32) -> Self {
        FrameDecoder {
            buf: BytesMut::new(),
            max_frame_size,
            chunk: Bytes::new(),
            pos: 0,
            pending: None,
            poisoned: false,
        }
    }

    /// Changes the accepted payload limit (our advertised SETTINGS_MAX_FRAME_SIZE).
    pub fn set_max_frame_size(&mut self, max: u32) {
        self.max_frame_size = max;
    }

    /// The accepted payload limit.
    pub fn max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// Appends bytes received from the peer (ignored once poisoned).
    pub fn push(&mut self, data: &[u8]) {
        if !self.poisoned {
            self.make_room(data.len(), PUSH_RESERVE);
            self.buf.extend_from_slice(data);
        }
    }

    /// Ensures `n` bytes (at least `floor`) of spare capacity. Done
    /// here, before new bytes arrive, rather than right after a batch is split
    /// off: by now the previous batch is walked and dropped, so when the
    /// application also dropped the payloads it was given, the buffer is
    /// unique again and `reserve` reclaims it in place instead of allocating.
    fn make_room(&mut self, n: usize, floor: usize) {
        if self.buf.capacity() - self.buf.len() < n {
            self.buf.reserve(n.max(floor));
        }
    }

    /// The receive buffer itself, for adapters that read straight into its spare
    /// capacity instead of calling [`push`](Self::push). Bytes appended here are
    /// decoded exactly like pushed bytes.
    pub fn read_buf(&mut self) -> &mut BytesMut {
        self.make_room(RECV_RESERVE, RECV_RESERVE);
        &mut self.buf
    }

    /// Frees the receive buffer when nothing is buffered (an idle
    /// connection); the next [`push`](Self::push) or
    /// [`read_buf`](Self::read_buf) allocates a fresh one. Returns whether it
    /// was freed.
    pub fn release_buffer(&mut self) -> bool {
        if self.buffered() > 0 {
            return false;
        }
        self.buf = BytesMut::new();
        self.chunk = Bytes::new();
        self.pos = 0;
        true
    }

    /// Bytes currently buffered (a partial frame, or frames not yet walked).
    pub fn buffered(&self) -> usize {
        self.buf.len() + (self.chunk.len() - self.pos)
    }

    /// True after a connection error: nothing more will be decoded.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Walks every complete frame buffered now. The complete prefix is split off
    /// the buffer once and frozen; each frame's payload is a slice of it.
    ///
    /// Items: `Ok(frame)`, or `Err(Error::Stream{..})` for a frame that is a
    /// stream error (the frame is consumed; iteration continues), or
    /// `Err(Error::Connection{..})` after which the iterator yields nothing more.
    ///
    /// One exception keeps HPACK state in sync (RFC 9113 §4.3): a HEADERS frame
    /// whose priority names its own stream is yielded as `Ok` (so its field block
    /// can still be decoded) and is immediately followed by the stream
    /// PROTOCOL_ERROR for that stream.
    ///
    /// Dropping the iterator early loses nothing: unwalked frames stay buffered
    /// and are yielded by the next call.
    pub fn frames(&mut self) -> Frames<'_> {
        Frames {
            walk: Walk::new(self),
        }
    }

    /// Splits the run of complete frames off `buf`. `Ok(false)`: nothing complete.
    fn take_batch(&mut self) -> Result<bool, Error> {
        let (n, oversize) = complete_prefix(&self.buf, self.max_frame_size);
        self.pos = 0;
        if n == 0 {
            self.chunk = Bytes::new();
            if oversize {
                return Err(Error::conn(ErrorCode::FRAME_SIZE_ERROR, lut::R_TOO_LARGE));
            }
            return Ok(false);
        }
        self.chunk = self.buf.split_to(n).freeze();
        Ok(true)
    }

    fn poison(&mut self) {
        self.poisoned = true;
        self.buf = BytesMut::new();
        self.chunk = Bytes::new();
        self.pos = 0;
        self.pending = None;
    }
}

/// Length of the run of complete frames at the start of `buf`, and whether the
/// run ended at a frame header announcing more than `max` payload bytes.
#[inline]
fn complete_prefix(buf: &[u8], max: u32) -> (usize, bool) {
    let mut pos = 0;
    while let Some(h) = buf.get(pos..pos + FRAME_HEADER_LEN) {
        let len = u32::from_be_bytes([0, h[0], h[1], h[2]]);
        if len > max {
            return (pos, true);
        }
        let end = pos + FRAME_HEADER_LEN + len as usize;
        if end > buf.len() {
            break;
        }
        pos = end;
    }
    (pos, false)
}

/// The walk shared by [`Frames`] (table validator) and the bench-only generic
/// iterator (`frame::generic`, feature `bench-internals`), which passes its
/// own header validator.
pub(super) struct Walk<'a> {
    dec: &'a mut FrameDecoder,
}

impl<'a> Walk<'a> {
    pub(super) fn new(dec: &'a mut FrameDecoder) -> Self {
        Walk { dec }
    }

    #[inline]
    pub(super) fn next(
        &mut self,
        check: impl Fn(&FrameHeader, u32) -> Result<u8, Error>,
    ) -> Option<Result<Frame, Error>> {
        let d = &mut *self.dec;
        if let Some(e) = d.pending.take() {
            return Some(Err(e));
        }
        if d.poisoned {
            return None;
        }
        if d.pos >= d.chunk.len() {
            match d.take_batch() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    d.poison();
                    return Some(Err(e));
                }
            }
        }
        let start = d.pos + FRAME_HEADER_LEN;
        let hb: &[u8; FRAME_HEADER_LEN] = d.chunk.get(d.pos..start)?.try_into().ok()?;
        let h = FrameHeader::parse(hb);
        let end = start + h.len as usize;
        if end > d.chunk.len() {
            // Unreachable: `complete_prefix` only keeps whole frames.
            return None;
        }
        d.pos = end;
        let checked = check(&h, d.max_frame_size);
        let res = checked.and_then(|f| decode_payload(&h, f, &d.chunk, start, end, &mut d.pending));
        if let Err(Error::Connection { .. }) = res {
            d.poison();
        }
        Some(res)
    }
}

/// Iterator returned by [`FrameDecoder::frames`].
pub struct Frames<'a> {
    walk: Walk<'a>,
}

impl Iterator for Frames<'_> {
    type Item = Result<Frame, Error>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.walk.next(lut::check)
    }
}

#[inline]
fn be32(p: &[u8], at: usize) -> u32 {
    match p.get(at..at + 4) {
        Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        None => 0,
    }
}

#[cold]
fn proto(reason: &'static str) -> Error {
    Error::conn(ErrorCode::PROTOCOL_ERROR, reason)
}

/// Removes padding: returns the payload range `[from, to)` that follows the pad
/// length byte (if PADDED) and precedes the padding. `fixed` is the size of the
/// fields between pad length and content (priority, promised id), which the
/// padding may not eat into.
#[inline]
fn unpad(f: u8, p: &[u8], fixed: usize) -> Result<(usize, usize), Error> {
    if f & flags::PADDED == 0 {
        return Ok((0, p.len()));
    }
    let pad = *p.first().ok_or(proto("padded frame without pad length"))? as usize;
    let room = p.len().saturating_sub(1 + fixed);
    if pad > room {
        return Err(proto("padding length exceeds frame payload"));
    }
    Ok((1, p.len() - pad))
}

#[inline]
fn priority_spec(p: &[u8], at: usize) -> PrioritySpec {
    let raw = be32(p, at);
    PrioritySpec {
        exclusive: raw & !MAX_WINDOW != 0,
        dependency: raw & MAX_WINDOW,
        weight: p.get(at + 4).copied().unwrap_or(0),
    }
}

/// Decodes a payload whose header passed [`lut::check`]; `f` are the masked flags.
fn decode_payload(
    h: &FrameHeader,
    f: u8,
    chunk: &Bytes,
    start: usize,
    end: usize,
    pending: &mut Option<Error>,
) -> Result<Frame, Error> {
    let p = &chunk[start..end];
    let sid = h.stream_id;
    Ok(match h.ty {
        0x0 => {
            let (a, b) = unpad(f, p, 0)?;
            Frame::Data {
                stream_id: sid,
                end_stream: f & flags::END_STREAM != 0,
                data: chunk.slice(start + a..start + b),
                flow_len: h.len,
            }
        }
        0x1 => {
            let prio = f & flags::PRIORITY != 0;
            let (mut a, b) = unpad(f, p, if prio { 5 } else { 0 })?;
            let priority = if prio {
                let spec = priority_spec(p, a);
                a += 5;
                if spec.dependency == sid {
                    *pending = Some(Error::stream(
                        sid,
                        ErrorCode::PROTOCOL_ERROR,
                        "HEADERS stream depends on itself",
                    ));
                }
                Some(spec)
            } else {
                None
            };
            Frame::Headers {
                stream_id: sid,
                end_stream: f & flags::END_STREAM != 0,
                end_headers: f & flags::END_HEADERS != 0,
                priority,
                block: chunk.slice(start + a..start + b),
            }
        }
        0x2 => {
            let spec = priority_spec(p, 0);
            if spec.dependency == sid {
                return Err(Error::stream(
                    sid,
                    ErrorCode::PROTOCOL_ERROR,
                    "PRIORITY stream depends on itself",
                ));
            }
            Frame::Priority {
                stream_id: sid,
                spec,
            }
        }
        0x3 => Frame::RstStream {
            stream_id: sid,
            code: ErrorCode(be32(p, 0)),
        },
        0x4 => {
            let ack = f & flags::ACK != 0;
            let settings = if ack {
                Settings::default()
            } else {
                Settings::parse(p)?
            };
            Frame::Settings { ack, settings }
        }
        0x5 => {
            let (a, b) = unpad(f, p, 4)?;
            Frame::PushPromise {
                stream_id: sid,
                end_headers: f & flags::END_HEADERS != 0,
                promised_id: be32(p, a) & MAX_WINDOW,
                block: chunk.slice(start + a + 4..start + b),
            }
        }
        0x6 => {
            let mut data = [0u8; 8];
            data.copy_from_slice(p.get(..8).unwrap_or(&[0; 8]));
            Frame::Ping {
                ack: f & flags::ACK != 0,
                data,
            }
        }
        0x7 => Frame::GoAway {
            last_stream_id: be32(p, 0) & MAX_WINDOW,
            code: ErrorCode(be32(p, 4)),
            debug: chunk.slice(start + 8..end),
        },
        0x8 => {
            let increment = be32(p, 0) & MAX_WINDOW;
            if increment == 0 {
                const R: &str = "WINDOW_UPDATE increment of 0";
                return Err(if sid == 0 {
                    Error::conn(ErrorCode::PROTOCOL_ERROR, R)
                } else {
                    Error::stream(sid, ErrorCode::PROTOCOL_ERROR, R)
                });
            }
            Frame::WindowUpdate {
                stream_id: sid,
                increment,
            }
        }
        0x9 => Frame::Continuation {
            stream_id: sid,
            end_headers: f & flags::END_HEADERS != 0,
            block: chunk.slice(start..end),
        },
        0x10 => {
            let prioritized_id = be32(p, 0) & MAX_WINDOW;
            if prioritized_id == 0 {
                return Err(proto("PRIORITY_UPDATE for stream 0"));
            }
            Frame::PriorityUpdate {
                prioritized_id,
                field_value: chunk.slice(start + 4..end),
            }
        }
        ty => Frame::Unknown {
            ty,
            flags: f,
            stream_id: sid,
            payload: chunk.slice(start..end),
        },
    })
}
