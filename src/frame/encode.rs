//! Frame encoding: many frames appended to one contiguous buffer, ready for one write.

use super::{Frame, PrioritySpec, StreamId};

impl Frame {
    /// Appends the frame's wire form to `out` (no padding). Field blocks larger
    /// than one frame must be split by the caller; see [`write_header_block`].
    pub fn encode(&self, out: &mut Vec<u8>) {
        let _ = out;
        todo!("frame encode")
    }
}

/// Appends a HEADERS frame followed by as many CONTINUATION frames as needed so
/// that no frame payload exceeds `max_frame_size`.
pub fn write_header_block(
    out: &mut Vec<u8>,
    stream_id: StreamId,
    block: &[u8],
    end_stream: bool,
    priority: Option<PrioritySpec>,
    max_frame_size: u32,
) {
    let _ = (out, stream_id, block, end_stream, priority, max_frame_size);
    todo!("header block encode")
}

/// Appends only the 9-byte header of a DATA frame of `len` payload bytes
/// (the payload is written separately, e.g. by `writev` or `sendfile`).
pub fn write_data_header(out: &mut Vec<u8>, stream_id: StreamId, len: u32, end_stream: bool) {
    let _ = (out, stream_id, len, end_stream);
    todo!("data header encode")
}
