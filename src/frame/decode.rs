//! Batch frame decoding: every complete frame in the read buffer, payloads as `Bytes` slices.

use bytes::BytesMut;

use super::{Frame, DEFAULT_MAX_FRAME_SIZE};
use crate::error::Error;

/// Buffers peer bytes and decodes complete frames without copying payloads.
///
/// A partial frame at the end of the buffer stays buffered until more bytes arrive.
/// Frames larger than the local SETTINGS_MAX_FRAME_SIZE are a FRAME_SIZE_ERROR.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max_frame_size: u32,
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
        }
    }

    /// Changes the accepted payload limit (our advertised SETTINGS_MAX_FRAME_SIZE).
    pub fn set_max_frame_size(&mut self, max: u32) {
        self.max_frame_size = max;
    }

    /// Appends bytes received from the peer.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes currently buffered (a partial frame, or frames not yet walked).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Walks every complete frame buffered now. The complete prefix is split off
    /// the buffer once and frozen; each frame's payload is a slice of it.
    ///
    /// Items: `Ok(frame)`, or `Err(Error::Stream{..})` for a frame that is a
    /// stream error (the frame is consumed; iteration continues), or
    /// `Err(Error::Connection{..})` after which the iterator yields nothing more.
    pub fn frames(&mut self) -> Frames<'_> {
        let _ = &self.max_frame_size;
        todo!("frame decoder")
    }
}

/// Iterator returned by [`FrameDecoder::frames`].
pub struct Frames<'a> {
    _dec: &'a mut FrameDecoder,
}

impl Iterator for Frames<'_> {
    type Item = Result<Frame, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        todo!("frame decoder")
    }
}
