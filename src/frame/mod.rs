//! HTTP/2 frame layer (RFC 9113 §4 framing, §6 frame definitions, RFC 9218 §7.1 PRIORITY_UPDATE).
//!
//! Owns: the 9-byte frame header, the per-type validation table ([`lut`]), batch
//! decoding of a read buffer into [`Frame`]s whose payloads are `Bytes` slices of
//! that buffer ([`FrameDecoder`]), and encoding of many frames into one
//! contiguous output buffer ([`encode`]). It knows nothing of stream state or
//! HPACK: field blocks are opaque bytes here.

mod decode;
pub mod encode;
#[doc(hidden)]
#[cfg(feature = "bench-internals")]
pub mod generic;
pub mod lut;
mod settings;

pub use decode::{FrameDecoder, Frames, RECV_RESERVE};
pub use encode::{
    write_data, write_data_header, write_goaway, write_header_block, write_ping, write_priority,
    write_priority_update, write_rst_stream, write_settings, write_settings_ack,
    write_window_update,
};
pub use settings::{SettingId, Settings, SETTINGS_H2O_HPACK_PRESET};

use bytes::Bytes;

use crate::error::ErrorCode;

/// Length of the fixed frame header.
pub const FRAME_HEADER_LEN: usize = 9;
/// Initial SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// Largest allowed SETTINGS_MAX_FRAME_SIZE.
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// Largest flow-control window / stream id (31 bits).
pub const MAX_WINDOW: u32 = (1 << 31) - 1;

/// A stream identifier (31 bits; 0 is the connection).
pub type StreamId = u32;

/// Frame type codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameType {
    /// DATA (§6.1)
    Data = 0x0,
    /// HEADERS (§6.2)
    Headers = 0x1,
    /// PRIORITY (§6.3, deprecated but parsed)
    Priority = 0x2,
    /// RST_STREAM (§6.4)
    RstStream = 0x3,
    /// SETTINGS (§6.5)
    Settings = 0x4,
    /// PUSH_PROMISE (§6.6)
    PushPromise = 0x5,
    /// PING (§6.7)
    Ping = 0x6,
    /// GOAWAY (§6.8)
    GoAway = 0x7,
    /// WINDOW_UPDATE (§6.9)
    WindowUpdate = 0x8,
    /// CONTINUATION (§6.10)
    Continuation = 0x9,
    /// PRIORITY_UPDATE (RFC 9218 §7.1)
    PriorityUpdate = 0x10,
}

impl FrameType {
    /// Maps a wire type code to a known type, `None` for extension types.
    pub fn from_u8(ty: u8) -> Option<Self> {
        Some(match ty {
            0x0 => Self::Data,
            0x1 => Self::Headers,
            0x2 => Self::Priority,
            0x3 => Self::RstStream,
            0x4 => Self::Settings,
            0x5 => Self::PushPromise,
            0x6 => Self::Ping,
            0x7 => Self::GoAway,
            0x8 => Self::WindowUpdate,
            0x9 => Self::Continuation,
            0x10 => Self::PriorityUpdate,
            _ => return None,
        })
    }
}

/// Frame flag bits.
pub mod flags {
    /// DATA, HEADERS: last frame of the stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: acknowledgement.
    pub const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: field block complete.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: padding present.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: priority fields present.
    pub const PRIORITY: u8 = 0x20;
}

/// The fixed 9-byte frame header (RFC 9113 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub len: u32,
    /// Type code (may be an unknown extension type).
    pub ty: u8,
    /// Flag bits.
    pub flags: u8,
    /// Stream id with the reserved bit cleared.
    pub stream_id: StreamId,
}

impl FrameHeader {
    /// Parses a header from exactly 9 bytes (the reserved bit is ignored).
    #[inline]
    pub fn parse(b: &[u8; FRAME_HEADER_LEN]) -> Self {
        FrameHeader {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            ty: b[3],
            flags: b[4],
            stream_id: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & MAX_WINDOW,
        }
    }

    /// Serialises the header.
    #[inline]
    pub fn to_bytes(&self) -> [u8; FRAME_HEADER_LEN] {
        let l = self.len.to_be_bytes();
        let s = (self.stream_id & MAX_WINDOW).to_be_bytes();
        [
            l[1], l[2], l[3], self.ty, self.flags, s[0], s[1], s[2], s[3],
        ]
    }
}

/// Deprecated RFC 7540 priority fields (HEADERS with PRIORITY flag, PRIORITY frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PrioritySpec {
    /// Exclusive dependency flag.
    pub exclusive: bool,
    /// Stream depended upon.
    pub dependency: StreamId,
    /// Weight minus one (0..=255), as on the wire.
    pub weight: u8,
}

/// One decoded frame. Payload fields are zero-copy slices of the read buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// DATA (§6.1); padding already removed.
    Data {
        /// Stream id (non-zero).
        stream_id: StreamId,
        /// END_STREAM flag.
        end_stream: bool,
        /// Application data without padding.
        data: Bytes,
        /// Whole payload length including padding: what counts against flow control.
        flow_len: u32,
    },
    /// HEADERS (§6.2); padding removed, priority fields parsed.
    Headers {
        /// Stream id (non-zero).
        stream_id: StreamId,
        /// END_STREAM flag.
        end_stream: bool,
        /// END_HEADERS flag (no CONTINUATION follows).
        end_headers: bool,
        /// Priority fields when the PRIORITY flag is set.
        priority: Option<PrioritySpec>,
        /// Field block fragment.
        block: Bytes,
    },
    /// PRIORITY (§6.3).
    Priority {
        /// Stream id (non-zero).
        stream_id: StreamId,
        /// Priority fields.
        spec: PrioritySpec,
    },
    /// RST_STREAM (§6.4).
    RstStream {
        /// Stream id (non-zero).
        stream_id: StreamId,
        /// Error code.
        code: ErrorCode,
    },
    /// SETTINGS (§6.5); stream 0.
    Settings {
        /// ACK flag (then `settings` is empty).
        ack: bool,
        /// Parameters present in the frame (unknown ids ignored).
        settings: Settings,
    },
    /// PUSH_PROMISE (§6.6).
    PushPromise {
        /// Associated stream id.
        stream_id: StreamId,
        /// END_HEADERS flag.
        end_headers: bool,
        /// Promised stream id.
        promised_id: StreamId,
        /// Field block fragment.
        block: Bytes,
    },
    /// PING (§6.7); stream 0.
    Ping {
        /// ACK flag.
        ack: bool,
        /// Opaque data.
        data: [u8; 8],
    },
    /// GOAWAY (§6.8); stream 0.
    GoAway {
        /// Last stream id the sender may have processed.
        last_stream_id: StreamId,
        /// Error code.
        code: ErrorCode,
        /// Additional debug data.
        debug: Bytes,
    },
    /// WINDOW_UPDATE (§6.9).
    WindowUpdate {
        /// Stream id (0 = connection).
        stream_id: StreamId,
        /// Window size increment (1..=2^31-1).
        increment: u32,
    },
    /// CONTINUATION (§6.10).
    Continuation {
        /// Stream id (non-zero).
        stream_id: StreamId,
        /// END_HEADERS flag.
        end_headers: bool,
        /// Field block fragment.
        block: Bytes,
    },
    /// PRIORITY_UPDATE (RFC 9218 §7.1); sent on stream 0.
    PriorityUpdate {
        /// The stream whose priority changes.
        prioritized_id: StreamId,
        /// Priority field value (structured-fields dictionary, e.g. `u=1, i`).
        field_value: Bytes,
    },
    /// A frame of an unknown (extension) type: to be ignored (§4.1, §5.5).
    Unknown {
        /// Type code.
        ty: u8,
        /// Flag bits.
        flags: u8,
        /// Stream id.
        stream_id: StreamId,
        /// Raw payload.
        payload: Bytes,
    },
}

impl Frame {
    /// The stream id the frame was received on (0 for connection frames).
    pub fn stream_id(&self) -> StreamId {
        match *self {
            Frame::Data { stream_id, .. }
            | Frame::Headers { stream_id, .. }
            | Frame::Priority { stream_id, .. }
            | Frame::RstStream { stream_id, .. }
            | Frame::PushPromise { stream_id, .. }
            | Frame::WindowUpdate { stream_id, .. }
            | Frame::Continuation { stream_id, .. }
            | Frame::Unknown { stream_id, .. } => stream_id,
            Frame::Settings { .. }
            | Frame::Ping { .. }
            | Frame::GoAway { .. }
            | Frame::PriorityUpdate { .. } => 0,
        }
    }
}
