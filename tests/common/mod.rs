//! Shared helpers for the in-memory `conn_*` integration tests (`mod common;`):
//! request builders, frame encoding and event filters over a [`Pair`].
#![allow(dead_code)]

use bytes::Bytes;
use h2o::conn::Event;
use h2o::frame::Frame;
use h2o::pair::Pair;

pub fn get(path: &str) -> http::Request<()> {
    http::Request::builder()
        .method("GET")
        .uri(format!("https://example.com{path}"))
        .body(())
        .unwrap()
}

pub fn post(path: &str) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("https://example.com{path}"))
        .body(())
        .unwrap()
}

pub fn ok() -> http::Response<()> {
    http::Response::builder().status(200).body(()).unwrap()
}

pub fn enc(frames: &[Frame]) -> Vec<u8> {
    let mut v = Vec::new();
    for f in frames {
        f.encode(&mut v);
    }
    v
}

/// Concatenated DATA received on `stream` from `events`, and whether END_STREAM came.
pub fn body_of(events: &[Event], stream: u32) -> (Vec<u8>, bool) {
    let mut v = Vec::new();
    let mut end = false;
    for e in events {
        match e {
            Event::Data {
                stream_id,
                data,
                end_stream,
            } if *stream_id == stream => {
                v.extend_from_slice(data);
                end |= *end_stream;
            }
            Event::Response {
                stream_id,
                end_stream: true,
                ..
            }
            | Event::Request {
                stream_id,
                end_stream: true,
                ..
            } if *stream_id == stream => end = true,
            Event::Trailers { stream_id, .. } if *stream_id == stream => end = true,
            _ => {}
        }
    }
    (v, end)
}

pub fn request_ids(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Request { stream_id, .. } => Some(*stream_id),
            _ => None,
        })
        .collect()
}

pub fn resets(events: &[Event]) -> Vec<(u32, h2o::ErrorCode, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Reset {
                stream_id,
                code,
                remote,
            } => Some((*stream_id, *code, *remote)),
            _ => None,
        })
        .collect()
}

pub fn closed(events: &[Event], stream: u32) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::Closed { stream_id } if *stream_id == stream))
}

pub fn pattern(n: usize) -> Bytes {
    Bytes::from((0..n).map(|i| (i * 7 + i / 251) as u8).collect::<Vec<u8>>())
}

pub fn connected() -> Pair {
    Pair::connected()
}

/// An HPACK block of never-indexed literals (does not touch the peer's dynamic table).
pub fn block(fields: &[(&str, &str)]) -> Bytes {
    let mut enc = h2o::hpack::Encoder::new(4096);
    let mut out = Vec::new();
    enc.encode(
        fields.iter().map(|(n, v)| h2o::hpack::HeaderField {
            name: n.as_bytes(),
            value: v.as_bytes(),
            never_index: true,
        }),
        &mut out,
    );
    Bytes::from(out)
}

pub fn get_block(path: &str) -> Bytes {
    block(&[
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "example.com"),
        (":path", path),
    ])
}

pub fn headers(stream_id: u32, block: Bytes, end_stream: bool) -> Frame {
    Frame::Headers {
        stream_id,
        end_stream,
        end_headers: true,
        priority: None,
        block,
    }
}

pub fn data(stream_id: u32, d: &'static [u8], end_stream: bool) -> Frame {
    Frame::Data {
        stream_id,
        end_stream,
        data: Bytes::from_static(d),
        flow_len: d.len() as u32,
    }
}

/// The (code) of the connection error recorded, if any.
pub fn conn_err(errs: &[h2o::Error]) -> Option<h2o::ErrorCode> {
    errs.iter().find_map(|e| match e {
        h2o::Error::Connection { code, .. } => Some(*code),
        _ => None,
    })
}

/// GOAWAY codes received in `events`.
pub fn goaways(events: &[Event]) -> Vec<(u32, h2o::ErrorCode)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::GoAway {
                last_stream_id,
                code,
                ..
            } => Some((*last_stream_id, *code)),
            _ => None,
        })
        .collect()
}

/// The response head received on `stream` and whether it ended the stream.
pub fn response_of(events: &[Event], stream: u32) -> Option<(&http::Response<()>, bool)> {
    events.iter().find_map(|e| match e {
        Event::Response {
            stream_id,
            response,
            end_stream,
        } if *stream_id == stream => Some((response, *end_stream)),
        _ => None,
    })
}
