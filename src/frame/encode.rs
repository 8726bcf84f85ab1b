//! Frame encoding: many frames appended to one contiguous buffer, ready for one write.
//!
//! RFC 9113 §4.1 (frame header), §6 (frame payloads), RFC 9218 §7.1 (PRIORITY_UPDATE).
//! Besides [`Frame::encode`] there are fast paths (`write_*`) that write a frame
//! straight from its fields without building a [`Frame`]. Nothing here validates
//! sizes against the peer's SETTINGS_MAX_FRAME_SIZE except
//! [`write_header_block`], which splits field blocks; callers size DATA themselves.

use super::{
    flags, Frame, FrameHeader, FrameType, PrioritySpec, Settings, StreamId, FRAME_HEADER_LEN,
    MAX_WINDOW,
};
use crate::error::ErrorCode;

/// Appends a frame header. `len` must fit in 24 bits.
#[inline]
pub fn write_header(out: &mut Vec<u8>, len: usize, ty: u8, flags: u8, stream_id: StreamId) {
    debug_assert!(len < 1 << 24, "frame payload too large");
    let h = FrameHeader {
        len: len as u32,
        ty,
        flags,
        stream_id,
    };
    out.extend_from_slice(&h.to_bytes());
}

#[inline]
fn put_priority(out: &mut Vec<u8>, p: &PrioritySpec) {
    out.extend_from_slice(&priority_bytes(&Some(*p)).0);
}

/// Writes a payload that may be padded: `[pad length] fixed... content [padding]`.
fn padded(
    out: &mut Vec<u8>,
    ty: u8,
    mut fl: u8,
    stream_id: StreamId,
    pad: Option<u8>,
    fixed: &[u8],
    content: &[u8],
) {
    let pad_bytes = pad.map_or(0, |p| 1 + p as usize);
    if pad.is_some() {
        fl |= flags::PADDED;
    }
    write_header(
        out,
        pad_bytes + fixed.len() + content.len(),
        ty,
        fl,
        stream_id,
    );
    if let Some(p) = pad {
        out.push(p);
    }
    out.extend_from_slice(fixed);
    out.extend_from_slice(content);
    if let Some(p) = pad {
        out.resize(out.len() + p as usize, 0);
    }
}

fn priority_bytes(p: &Option<PrioritySpec>) -> ([u8; 5], usize) {
    match p {
        None => ([0; 5], 0),
        Some(p) => {
            let mut dep = p.dependency & MAX_WINDOW;
            if p.exclusive {
                dep |= 1 << 31;
            }
            let d = dep.to_be_bytes();
            ([d[0], d[1], d[2], d[3], p.weight], 5)
        }
    }
}

impl Frame {
    /// Appends the frame's wire form to `out` (no padding). Field blocks larger
    /// than one frame must be split by the caller; see [`write_header_block`].
    ///
    /// DATA writes `data` only (`flow_len` is a receive-side value and is ignored);
    /// SETTINGS with `ack` writes an empty payload whatever `settings` holds.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_inner(None, out)
    }

    /// Like [`encode`](Self::encode) but with `pad_len` padding bytes (and the
    /// PADDED flag) for DATA, HEADERS and PUSH_PROMISE; other frame types cannot
    /// be padded and are encoded exactly as by `encode`.
    pub fn encode_padded(&self, pad_len: u8, out: &mut Vec<u8>) {
        self.encode_inner(Some(pad_len), out)
    }

    fn encode_inner(&self, pad: Option<u8>, out: &mut Vec<u8>) {
        match self {
            Frame::Data {
                stream_id,
                end_stream,
                data,
                ..
            } => {
                let fl = if *end_stream { flags::END_STREAM } else { 0 };
                padded(out, FrameType::Data as u8, fl, *stream_id, pad, &[], data);
            }
            Frame::Headers {
                stream_id,
                end_stream,
                end_headers,
                priority,
                block,
            } => {
                let mut fl = 0;
                if *end_stream {
                    fl |= flags::END_STREAM;
                }
                if *end_headers {
                    fl |= flags::END_HEADERS;
                }
                if priority.is_some() {
                    fl |= flags::PRIORITY;
                }
                let (pb, n) = priority_bytes(priority);
                padded(
                    out,
                    FrameType::Headers as u8,
                    fl,
                    *stream_id,
                    pad,
                    &pb[..n],
                    block,
                );
            }
            Frame::Priority { stream_id, spec } => {
                write_priority(out, *stream_id, spec);
            }
            Frame::RstStream { stream_id, code } => write_rst_stream(out, *stream_id, *code),
            Frame::Settings { ack, settings } => {
                if *ack {
                    write_settings_ack(out);
                } else {
                    write_settings(out, settings);
                }
            }
            Frame::PushPromise {
                stream_id,
                end_headers,
                promised_id,
                block,
            } => {
                let fl = if *end_headers { flags::END_HEADERS } else { 0 };
                let id = (promised_id & MAX_WINDOW).to_be_bytes();
                padded(
                    out,
                    FrameType::PushPromise as u8,
                    fl,
                    *stream_id,
                    pad,
                    &id,
                    block,
                );
            }
            Frame::Ping { ack, data } => write_ping(out, *ack, data),
            Frame::GoAway {
                last_stream_id,
                code,
                debug,
            } => write_goaway(out, *last_stream_id, *code, debug),
            Frame::WindowUpdate {
                stream_id,
                increment,
            } => write_window_update(out, *stream_id, *increment),
            Frame::Continuation {
                stream_id,
                end_headers,
                block,
            } => {
                let fl = if *end_headers { flags::END_HEADERS } else { 0 };
                write_header(
                    out,
                    block.len(),
                    FrameType::Continuation as u8,
                    fl,
                    *stream_id,
                );
                out.extend_from_slice(block);
            }
            Frame::PriorityUpdate {
                prioritized_id,
                field_value,
            } => write_priority_update(out, *prioritized_id, field_value),
            Frame::Unknown {
                ty,
                flags,
                stream_id,
                payload,
            } => {
                write_header(out, payload.len(), *ty, *flags, *stream_id);
                out.extend_from_slice(payload);
            }
        }
    }
}

/// Appends a HEADERS frame followed by as many CONTINUATION frames as needed so
/// that no frame payload exceeds `max_frame_size`.
///
/// END_STREAM goes on the HEADERS frame, END_HEADERS on the last frame. With
/// `priority`, the 5 priority bytes count against the first frame's size.
pub fn write_header_block(
    out: &mut Vec<u8>,
    stream_id: StreamId,
    block: &[u8],
    end_stream: bool,
    priority: Option<PrioritySpec>,
    max_frame_size: u32,
) {
    let max = max_frame_size.max(1) as usize;
    let prio_len = if priority.is_some() { 5 } else { 0 };
    let first = block.len().min(max.saturating_sub(prio_len));
    let (head, mut rest) = block.split_at(first);
    let mut fl = 0;
    if end_stream {
        fl |= flags::END_STREAM;
    }
    if rest.is_empty() {
        fl |= flags::END_HEADERS;
    }
    if priority.is_some() {
        fl |= flags::PRIORITY;
    }
    out.reserve(block.len() + prio_len + FRAME_HEADER_LEN * (1 + block.len() / max));
    write_header(
        out,
        prio_len + head.len(),
        FrameType::Headers as u8,
        fl,
        stream_id,
    );
    if let Some(p) = &priority {
        put_priority(out, p);
    }
    out.extend_from_slice(head);
    while !rest.is_empty() {
        let n = rest.len().min(max);
        let (part, tail) = rest.split_at(n);
        let fl = if tail.is_empty() {
            flags::END_HEADERS
        } else {
            0
        };
        write_header(out, n, FrameType::Continuation as u8, fl, stream_id);
        out.extend_from_slice(part);
        rest = tail;
    }
}

/// Appends only the 9-byte header of a DATA frame of `len` payload bytes
/// (the payload is written separately, e.g. by `writev` or `sendfile`).
#[inline]
pub fn write_data_header(out: &mut Vec<u8>, stream_id: StreamId, len: u32, end_stream: bool) {
    let fl = if end_stream { flags::END_STREAM } else { 0 };
    write_header(out, len as usize, FrameType::Data as u8, fl, stream_id);
}

/// Appends a whole DATA frame (header and payload).
#[inline]
pub fn write_data(out: &mut Vec<u8>, stream_id: StreamId, data: &[u8], end_stream: bool) {
    write_data_header(out, stream_id, data.len() as u32, end_stream);
    out.extend_from_slice(data);
}

/// Appends a SETTINGS frame with the parameters present in `s`, in id order.
pub fn write_settings(out: &mut Vec<u8>, s: &Settings) {
    write_header(out, s.encoded_len(), FrameType::Settings as u8, 0, 0);
    for (id, v) in s.iter() {
        out.extend_from_slice(&(id as u16).to_be_bytes());
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// Appends an empty SETTINGS frame with the ACK flag.
#[inline]
pub fn write_settings_ack(out: &mut Vec<u8>) {
    write_header(out, 0, FrameType::Settings as u8, flags::ACK, 0);
}

/// Appends a WINDOW_UPDATE frame (`stream_id` 0 = connection window).
#[inline]
pub fn write_window_update(out: &mut Vec<u8>, stream_id: StreamId, increment: u32) {
    write_header(out, 4, FrameType::WindowUpdate as u8, 0, stream_id);
    out.extend_from_slice(&(increment & MAX_WINDOW).to_be_bytes());
}

/// Appends a PING frame.
#[inline]
pub fn write_ping(out: &mut Vec<u8>, ack: bool, data: &[u8; 8]) {
    let fl = if ack { flags::ACK } else { 0 };
    write_header(out, 8, FrameType::Ping as u8, fl, 0);
    out.extend_from_slice(data);
}

/// Appends a RST_STREAM frame.
#[inline]
pub fn write_rst_stream(out: &mut Vec<u8>, stream_id: StreamId, code: ErrorCode) {
    write_header(out, 4, FrameType::RstStream as u8, 0, stream_id);
    out.extend_from_slice(&code.0.to_be_bytes());
}

/// Appends a GOAWAY frame with optional debug data.
#[inline]
pub fn write_goaway(out: &mut Vec<u8>, last_stream_id: StreamId, code: ErrorCode, debug: &[u8]) {
    write_header(out, 8 + debug.len(), FrameType::GoAway as u8, 0, 0);
    out.extend_from_slice(&(last_stream_id & MAX_WINDOW).to_be_bytes());
    out.extend_from_slice(&code.0.to_be_bytes());
    out.extend_from_slice(debug);
}

/// Appends a PRIORITY frame (RFC 9113 §6.3).
#[inline]
pub fn write_priority(out: &mut Vec<u8>, stream_id: StreamId, spec: &PrioritySpec) {
    write_header(out, 5, FrameType::Priority as u8, 0, stream_id);
    put_priority(out, spec);
}

/// Appends a PRIORITY_UPDATE frame (RFC 9218 §7.1) on stream 0.
#[inline]
pub fn write_priority_update(out: &mut Vec<u8>, prioritized_id: StreamId, field_value: &[u8]) {
    write_header(
        out,
        4 + field_value.len(),
        FrameType::PriorityUpdate as u8,
        0,
        0,
    );
    out.extend_from_slice(&(prioritized_id & MAX_WINDOW).to_be_bytes());
    out.extend_from_slice(field_value);
}
