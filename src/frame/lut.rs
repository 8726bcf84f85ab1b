//! Per-frame-type validation rules as a 256-entry table indexed by the type byte
//! (fixed/min/max payload length, allowed flags, stream id 0 or not), so the header
//! check is one lookup instead of a chain of generic comparisons.
//!
//! Covers the header-level rules of RFC 9113 §4.1–§4.2 and §6.1–§6.10 and of
//! RFC 9218 §7.1 (PRIORITY_UPDATE). Rules that need payload bytes (padding length,
//! self-dependency, WINDOW_UPDATE increment, SETTINGS values) are checked by the
//! decoder after this table has accepted the header.
//!
//! Layout of one [`Rule`] (12 bytes, the whole table is 3 KiB):
//!
//! | field          | meaning                                                          |
//! |----------------|------------------------------------------------------------------|
//! | `max_len`      | largest payload (`u32::MAX`: only SETTINGS_MAX_FRAME_SIZE limits) |
//! | `min_len`      | smallest payload before flag-dependent fields                    |
//! | `flags_mask`   | flags defined for the type; others are ignored (masked off)      |
//! | `len_flags`    | flags announcing extra fields: PADDED (+1 byte), PRIORITY (+5)   |
//! | `empty_if`     | flags that force an empty payload (SETTINGS ACK)                  |
//! | `len_multiple` | payload must be a multiple of this (SETTINGS: 6; others 1)        |
//! | `stream_forbid`| bit 0: stream 0 forbidden, bit 1: non-zero stream forbidden       |
//! | `size_scope`   | whether a size error is a connection or a stream error            |
//! | `known`        | false: extension type, decoded as [`Frame::Unknown`](super::Frame::Unknown) |
//!
//! The flag-dependent minimum is computed without branches from
//! `flags & len_flags`: PADDED (0x8) adds the 1-byte pad length, PRIORITY (0x20)
//! adds the 5 priority bytes, only for the types that define them
//! (DATA/HEADERS/PUSH_PROMISE, HEADERS). Extension types keep all their flags
//! but have `len_flags == 0`.

use super::{flags, FrameHeader, FrameType};
use crate::error::{Error, ErrorCode};

/// Whether a frame size error is a connection error or a stream error (RFC 9113 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Scope {
    /// Connection error (GOAWAY).
    Connection = 0,
    /// Stream error (RST_STREAM) on the frame's stream.
    Stream = 1,
}

/// `stream_forbid` bit: stream id 0 is not allowed.
pub const FORBID_ZERO: u8 = 0b01;
/// `stream_forbid` bit: a non-zero stream id is not allowed.
pub const FORBID_NONZERO: u8 = 0b10;

/// Validation rule for one frame type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Largest payload length; `u32::MAX` when only the frame size limit applies.
    pub max_len: u32,
    /// Smallest payload length, not counting flag-dependent fields (pad length, priority).
    pub min_len: u8,
    /// Flags defined for this type; undefined flags are masked off.
    pub flags_mask: u8,
    /// Flags that announce extra payload fields (PADDED: 1 byte, PRIORITY: 5 bytes).
    pub len_flags: u8,
    /// Flags which, when set, require an empty payload (SETTINGS ACK).
    pub empty_if: u8,
    /// Payload length must be a multiple of this (1 = no constraint).
    pub len_multiple: u8,
    /// [`FORBID_ZERO`] / [`FORBID_NONZERO`] bits.
    pub stream_forbid: u8,
    /// Scope of a frame size error.
    pub size_scope: Scope,
    /// Known type (false: extension type, skipped as `Frame::Unknown`).
    pub known: bool,
}

const ANY_LEN: u32 = u32::MAX;

/// The rule for unknown/extension types: any length (up to the frame size limit),
/// any flags, any stream; the frame is passed on as `Frame::Unknown`.
pub const SKIP: Rule = Rule {
    max_len: ANY_LEN,
    min_len: 0,
    flags_mask: 0xff,
    len_flags: 0,
    empty_if: 0,
    len_multiple: 1,
    stream_forbid: 0,
    size_scope: Scope::Connection,
    known: false,
};

const fn rule(
    min_len: u8,
    max_len: u32,
    flags_mask: u8,
    stream_forbid: u8,
    size_scope: Scope,
) -> Rule {
    Rule {
        max_len,
        min_len,
        flags_mask,
        len_flags: flags_mask & (flags::PADDED | flags::PRIORITY),
        empty_if: 0,
        len_multiple: 1,
        stream_forbid,
        size_scope,
        known: true,
    }
}

const fn build() -> [Rule; 256] {
    use Scope::{Connection as C, Stream as S};
    let mut t = [SKIP; 256];
    // DATA §6.1: END_STREAM|PADDED, stream ≠ 0.
    t[FrameType::Data as usize] = rule(
        0,
        ANY_LEN,
        flags::END_STREAM | flags::PADDED,
        FORBID_ZERO,
        C,
    );
    // HEADERS §6.2: END_STREAM|END_HEADERS|PADDED|PRIORITY, stream ≠ 0, carries a field block.
    t[FrameType::Headers as usize] = rule(
        0,
        ANY_LEN,
        flags::END_STREAM | flags::END_HEADERS | flags::PADDED | flags::PRIORITY,
        FORBID_ZERO,
        C,
    );
    // PRIORITY §6.3: exactly 5 bytes; a size error is a stream error.
    t[FrameType::Priority as usize] = rule(5, 5, 0, FORBID_ZERO, S);
    // RST_STREAM §6.4: exactly 4 bytes.
    t[FrameType::RstStream as usize] = rule(4, 4, 0, FORBID_ZERO, C);
    // SETTINGS §6.5: stream 0, multiple of 6, empty with ACK.
    let mut s = rule(0, ANY_LEN, flags::ACK, FORBID_NONZERO, C);
    s.empty_if = flags::ACK;
    s.len_multiple = 6;
    t[FrameType::Settings as usize] = s;
    // PUSH_PROMISE §6.6: promised stream id (4 bytes) + optional pad length.
    t[FrameType::PushPromise as usize] = rule(
        4,
        ANY_LEN,
        flags::END_HEADERS | flags::PADDED,
        FORBID_ZERO,
        C,
    );
    // PING §6.7: exactly 8 bytes, stream 0.
    t[FrameType::Ping as usize] = rule(8, 8, flags::ACK, FORBID_NONZERO, C);
    // GOAWAY §6.8: at least 8 bytes, stream 0.
    t[FrameType::GoAway as usize] = rule(8, ANY_LEN, 0, FORBID_NONZERO, C);
    // WINDOW_UPDATE §6.9: exactly 4 bytes, any stream.
    t[FrameType::WindowUpdate as usize] = rule(4, 4, 0, 0, C);
    // CONTINUATION §6.10: END_HEADERS, stream ≠ 0.
    t[FrameType::Continuation as usize] = rule(0, ANY_LEN, flags::END_HEADERS, FORBID_ZERO, C);
    // PRIORITY_UPDATE RFC 9218 §7.1: stream 0, at least the 4-byte prioritized id.
    t[FrameType::PriorityUpdate as usize] = rule(4, ANY_LEN, 0, FORBID_NONZERO, C);
    t
}

/// The rule table, indexed by the frame type byte.
pub static RULES: [Rule; 256] = build();

/// Reason: payload larger than our SETTINGS_MAX_FRAME_SIZE.
pub const R_TOO_LARGE: &str = "frame larger than SETTINGS_MAX_FRAME_SIZE";
/// Reason: a stream frame on stream 0.
pub const R_NEED_STREAM: &str = "frame type not allowed on stream 0";
/// Reason: a connection frame on a non-zero stream.
pub const R_NEED_ZERO: &str = "frame type only allowed on stream 0";

/// Reason of a frame size error, per type. Error path only (cold), shared by
/// the table-driven and the generic validators.
#[cold]
pub fn size_reason(ty: u8) -> &'static str {
    match FrameType::from_u8(ty) {
        Some(FrameType::Data) => "DATA frame too short for its pad length",
        Some(FrameType::Headers) => "HEADERS frame too short for its pad length/priority",
        Some(FrameType::Priority) => "PRIORITY payload must be 5 bytes",
        Some(FrameType::RstStream) => "RST_STREAM payload must be 4 bytes",
        Some(FrameType::Settings) => "SETTINGS length not a multiple of 6, or ACK with payload",
        Some(FrameType::PushPromise) => "PUSH_PROMISE frame too short",
        Some(FrameType::Ping) => "PING payload must be 8 bytes",
        Some(FrameType::GoAway) => "GOAWAY payload shorter than 8 bytes",
        Some(FrameType::WindowUpdate) => "WINDOW_UPDATE payload must be 4 bytes",
        Some(FrameType::Continuation) | None => "invalid frame size",
        Some(FrameType::PriorityUpdate) => "PRIORITY_UPDATE payload shorter than 4 bytes",
    }
}

#[cold]
pub(crate) fn size_error(h: &FrameHeader, scope: Scope) -> Error {
    match scope {
        Scope::Connection => Error::conn(ErrorCode::FRAME_SIZE_ERROR, size_reason(h.ty)),
        Scope::Stream => Error::stream(h.stream_id, ErrorCode::FRAME_SIZE_ERROR, size_reason(h.ty)),
    }
}

#[cold]
pub(crate) fn stream_id_error(h: &FrameHeader) -> Error {
    let reason = if h.stream_id == 0 {
        R_NEED_STREAM
    } else {
        R_NEED_ZERO
    };
    Error::conn(ErrorCode::PROTOCOL_ERROR, reason)
}

/// Validates a frame header with one table lookup; returns the flags with the
/// bits undefined for the type masked off.
///
/// Checks, in order: length ≤ `max_frame_size` (connection FRAME_SIZE_ERROR),
/// stream id zero/non-zero rule (connection PROTOCOL_ERROR), payload length
/// bounds including the flag-dependent pad-length and priority fields
/// (FRAME_SIZE_ERROR with the type's scope).
#[inline]
pub fn check(h: &FrameHeader, max_frame_size: u32) -> Result<u8, Error> {
    let r = &RULES[h.ty as usize];
    if h.len > max_frame_size {
        return Err(Error::conn(ErrorCode::FRAME_SIZE_ERROR, R_TOO_LARGE));
    }
    if (r.stream_forbid >> (h.stream_id != 0) as u8) & 1 != 0 {
        return Err(stream_id_error(h));
    }
    let f = h.flags & r.flags_mask;
    let g = f & r.len_flags;
    let min = r.min_len as u32 + ((g >> 3) & 1) as u32 + 5 * ((g >> 5) & 1) as u32;
    if h.len < min
        || h.len > r.max_len
        || (f & r.empty_if != 0 && h.len != 0)
        || (r.len_multiple > 1 && h.len % r.len_multiple as u32 != 0)
    {
        return Err(size_error(h, r.size_scope));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(len: u32, ty: u8, flags: u8, stream_id: u32) -> FrameHeader {
        FrameHeader {
            len,
            ty,
            flags,
            stream_id,
        }
    }

    #[test]
    fn table_is_compact() {
        assert!(core::mem::size_of::<Rule>() <= 12);
        assert_eq!(RULES.iter().filter(|r| r.known).count(), 11);
    }

    #[test]
    fn unknown_types_are_skipped() {
        for ty in 0x0a..=0xffu8 {
            if ty == 0x10 {
                continue;
            }
            assert_eq!(RULES[ty as usize], SKIP);
            assert_eq!(check(&hdr(100, ty, 0xff, 0), 16384), Ok(0xff));
            assert_eq!(check(&hdr(0, ty, 0x3, 7), 16384), Ok(0x3));
        }
    }

    #[test]
    fn flags_are_masked() {
        assert_eq!(check(&hdr(4, 0x0, 0xff, 1), 16384), Ok(0x09));
        assert_eq!(check(&hdr(10, 0x1, 0xff, 1), 16384), Ok(0x2d));
        assert_eq!(check(&hdr(8, 0x6, 0xfe, 0), 16384), Ok(0));
        assert_eq!(check(&hdr(4, 0x8, 0xff, 3), 16384), Ok(0));
        // Extension types keep PADDED/PRIORITY-looking bits without length rules.
        assert_eq!(check(&hdr(0, 0xfa, 0x28, 3), 16384), Ok(0x28));
    }

    #[test]
    fn priority_size_error_is_stream_scoped() {
        assert_eq!(
            check(&hdr(4, 0x2, 0, 3), 16384),
            Err(Error::stream(
                3,
                ErrorCode::FRAME_SIZE_ERROR,
                size_reason(2)
            ))
        );
        // On stream 0 the stream-id rule fires first (connection error).
        assert_eq!(
            check(&hdr(4, 0x2, 0, 0), 16384),
            Err(Error::conn(ErrorCode::PROTOCOL_ERROR, R_NEED_STREAM))
        );
    }

    #[test]
    fn too_large_first() {
        assert_eq!(
            check(&hdr(16385, 0xfa, 0, 0), 16384),
            Err(Error::conn(ErrorCode::FRAME_SIZE_ERROR, R_TOO_LARGE))
        );
    }
}
