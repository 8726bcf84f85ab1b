//! BENCH-ONLY: the naive, branch-per-type frame header validator.
//!
//! Built only with the `bench-internals` feature (which the crate's own tests
//! and benches enable). This module exists only so that `benches/frame.rs` can compare the
//! table-driven validator ([`super::lut::check`]) with the usual chain of
//! per-type `match`/`if` checks, and so tests can prove both give identical
//! results for every type byte. Production code uses [`super::lut`] and
//! [`super::FrameDecoder::frames`]; nothing here is part of the supported API.
//! Rules: RFC 9113 §4.1–§4.2, §6; RFC 9218 §7.1.

use super::decode::{FrameDecoder, Walk};
use super::lut::{size_error, stream_id_error, Scope, R_TOO_LARGE};
use super::{flags, Frame, FrameHeader, FrameType};
use crate::error::{Error, ErrorCode};

/// Validates a header the naive way; same contract and results as [`super::lut::check`].
pub fn check(h: &FrameHeader, max_frame_size: u32) -> Result<u8, Error> {
    if h.len > max_frame_size {
        return Err(Error::conn(ErrorCode::FRAME_SIZE_ERROR, R_TOO_LARGE));
    }
    let ty = match FrameType::from_u8(h.ty) {
        Some(ty) => ty,
        None => return Ok(h.flags),
    };
    match ty {
        FrameType::Data
        | FrameType::Headers
        | FrameType::Priority
        | FrameType::RstStream
        | FrameType::PushPromise
        | FrameType::Continuation => {
            if h.stream_id == 0 {
                return Err(stream_id_error(h));
            }
        }
        FrameType::Settings | FrameType::Ping | FrameType::GoAway | FrameType::PriorityUpdate => {
            if h.stream_id != 0 {
                return Err(stream_id_error(h));
            }
        }
        FrameType::WindowUpdate => {}
    }
    let conn = Scope::Connection;
    match ty {
        FrameType::Data => {
            let f = h.flags & (flags::END_STREAM | flags::PADDED);
            if f & flags::PADDED != 0 && h.len < 1 {
                return Err(size_error(h, conn));
            }
            Ok(f)
        }
        FrameType::Headers => {
            let f = h.flags
                & (flags::END_STREAM | flags::END_HEADERS | flags::PADDED | flags::PRIORITY);
            let mut min = 0;
            if f & flags::PADDED != 0 {
                min += 1;
            }
            if f & flags::PRIORITY != 0 {
                min += 5;
            }
            if h.len < min {
                return Err(size_error(h, conn));
            }
            Ok(f)
        }
        FrameType::Priority => {
            if h.len != 5 {
                return Err(size_error(h, Scope::Stream));
            }
            Ok(0)
        }
        FrameType::RstStream => {
            if h.len != 4 {
                return Err(size_error(h, conn));
            }
            Ok(0)
        }
        FrameType::Settings => {
            let f = h.flags & flags::ACK;
            if h.len % 6 != 0 {
                return Err(size_error(h, conn));
            }
            if f != 0 && h.len != 0 {
                return Err(size_error(h, conn));
            }
            Ok(f)
        }
        FrameType::PushPromise => {
            let f = h.flags & (flags::END_HEADERS | flags::PADDED);
            let min = if f & flags::PADDED != 0 { 5 } else { 4 };
            if h.len < min {
                return Err(size_error(h, conn));
            }
            Ok(f)
        }
        FrameType::Ping => {
            if h.len != 8 {
                return Err(size_error(h, conn));
            }
            Ok(h.flags & flags::ACK)
        }
        FrameType::GoAway => {
            if h.len < 8 {
                return Err(size_error(h, conn));
            }
            Ok(0)
        }
        FrameType::WindowUpdate => {
            if h.len != 4 {
                return Err(size_error(h, conn));
            }
            Ok(0)
        }
        FrameType::Continuation => Ok(h.flags & flags::END_HEADERS),
        FrameType::PriorityUpdate => {
            if h.len < 4 {
                return Err(size_error(h, conn));
            }
            Ok(0)
        }
    }
}

/// BENCH-ONLY iterator: [`FrameDecoder::frames`] with [`check`] instead of the table.
pub struct GenericFrames<'a> {
    pub(super) walk: Walk<'a>,
}

impl Iterator for GenericFrames<'_> {
    type Item = Result<Frame, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        self.walk.next(check)
    }
}

/// BENCH-ONLY: walks the decoder's complete frames using the generic validator.
pub fn frames(dec: &mut FrameDecoder) -> GenericFrames<'_> {
    GenericFrames {
        walk: Walk::new(dec),
    }
}
