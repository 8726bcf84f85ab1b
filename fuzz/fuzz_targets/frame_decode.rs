//! HTTP/2 frame decoder (src/frame): arbitrary bytes pushed in arbitrary
//! chunks; every frame decoded is re-encoded and must decode to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

use h2o::frame::{Frame, FrameDecoder};

fuzz_target!(|data: &[u8]| {
    let mut c = common::Cursor::new(data);
    let max = 16_384 + (c.u16() as u32) * 64;
    let mut dec = FrameDecoder::new(max);
    while !c.is_empty() {
        dec.push(c.chunk());
        for item in dec.frames() {
            match item {
                Ok(frame) => roundtrip(&frame, max),
                Err(_) => return,
            }
        }
    }
});

/// Frames without padding survive encode → decode unchanged.
fn roundtrip(frame: &Frame, max: u32) {
    let padded = match frame {
        Frame::Data { data, flow_len, .. } => data.len() as u32 != *flow_len,
        Frame::Headers { .. } | Frame::PushPromise { .. } => true,
        _ => false,
    };
    if padded {
        return;
    }
    let mut buf = Vec::new();
    frame.encode(&mut buf);
    let mut d = FrameDecoder::new(max.max((1 << 24) - 1));
    d.push(&buf);
    let again: Vec<_> = d.frames().collect();
    assert_eq!(again.len(), 1, "{frame:?}");
    match &again[0] {
        Ok(f) => assert_eq!(f, frame),
        Err(e) => panic!("re-encoded {frame:?} does not decode: {e:?}"),
    }
}
