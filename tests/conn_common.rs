//! Shared helpers for the `conn_*` integration tests (included with `mod`).
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
