//! Protocol violations injected as raw frames, with the expected connection vs
//! stream error scope (RFC 9113 §5.1, §5.4, §6, §8.1).

mod common;
use common::*;

use bytes::Bytes;
use h2o::conn::{Config, Event, PREFACE};
use h2o::frame::{Frame, PrioritySpec, Settings};
use h2o::pair::Pair;
use h2o::ErrorCode;
use std::time::Duration;

/// Server-side violation: injected into the server; the connection error code
/// must be `code`, and the client must receive a GOAWAY with it.
fn expect_conn_error(p: &mut Pair, frames: &[Frame], code: ErrorCode) {
    let _ = p.inject_to_server(&enc(frames));
    assert_eq!(
        conn_err(&p.server_errors),
        Some(code),
        "{:?}",
        p.server_errors
    );
    p.drive();
    assert!(goaways(&p.client_events).iter().any(|g| g.1 == code));
    assert!(p.server.is_closed());
}

fn expect_stream_reset(p: &mut Pair, frames: &[Frame], id: u32, code: ErrorCode) {
    let _ = p.inject_to_server(&enc(frames));
    assert!(p.server_errors.is_empty(), "{:?}", p.server_errors);
    // The stream may be unknown to the real client (injected), so look at the
    // server's raw output instead of feeding it to the client.
    let out = server_output(p);
    assert!(
        out.contains(&Frame::RstStream {
            stream_id: id,
            code
        }),
        "server output {out:?}"
    );
    assert!(!p.server.is_closed());
}

/// Frames the server writes now (not delivered to the client).
fn server_output(p: &mut Pair) -> Vec<Frame> {
    let mut buf = Vec::new();
    p.server.write_to(p.now, &mut buf, usize::MAX);
    let mut dec = h2o::frame::FrameDecoder::default();
    dec.push(&buf);
    dec.frames().map(|f| f.unwrap()).collect()
}

#[test]
fn bad_preface() {
    let mut s = h2o::Connection::server(Config::default());
    assert!(
        s.recv(Duration::ZERO, &PREFACE[..10]).is_ok(),
        "partial preface is buffered"
    );
    let e = s.recv(Duration::ZERO, b"XXXX").unwrap_err();
    assert_eq!(e.code(), ErrorCode::PROTOCOL_ERROR);
    let mut out = Vec::new();
    s.write_to(Duration::ZERO, &mut out, usize::MAX);
    assert!(s.is_closed());
}

#[test]
fn first_frame_must_be_settings() {
    let mut s = h2o::Connection::server(Config::default());
    let mut b = PREFACE.to_vec();
    Frame::Ping {
        ack: false,
        data: [0; 8],
    }
    .encode(&mut b);
    assert_eq!(
        s.recv(Duration::ZERO, &b).unwrap_err().code(),
        ErrorCode::PROTOCOL_ERROR
    );
}

#[test]
fn unexpected_settings_ack() {
    let mut p = connected();
    let f = Frame::Settings {
        ack: true,
        settings: Settings::default(),
    };
    expect_conn_error(&mut p, &[f], ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn data_on_idle_stream() {
    let mut p = connected();
    expect_conn_error(&mut p, &[data(1, b"x", false)], ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn window_update_and_rst_on_idle_stream() {
    let mut p = connected();
    let f = Frame::WindowUpdate {
        stream_id: 5,
        increment: 1,
    };
    expect_conn_error(&mut p, &[f], ErrorCode::PROTOCOL_ERROR);
    let mut p = connected();
    let f = Frame::RstStream {
        stream_id: 5,
        code: ErrorCode::CANCEL,
    };
    expect_conn_error(&mut p, &[f], ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn priority_on_idle_stream_is_fine() {
    let mut p = connected();
    let f = Frame::Priority {
        stream_id: 9,
        spec: PrioritySpec {
            exclusive: false,
            dependency: 0,
            weight: 15,
        },
    };
    p.inject_to_server(&enc(&[f])).unwrap();
    // A later request on stream 9 still opens fine.
    p.inject_to_server(&enc(&[headers(9, get_block("/"), true)]))
        .unwrap();
    p.drive();
    assert_eq!(request_ids(&p.server_events), [9]);
}

#[test]
fn even_stream_from_client() {
    let mut p = connected();
    expect_conn_error(
        &mut p,
        &[headers(2, get_block("/"), true)],
        ErrorCode::PROTOCOL_ERROR,
    );
}

#[test]
fn decreasing_stream_id() {
    let mut p = connected();
    p.inject_to_server(&enc(&[headers(7, get_block("/"), true)]))
        .unwrap();
    expect_conn_error(
        &mut p,
        &[headers(5, get_block("/"), true)],
        ErrorCode::PROTOCOL_ERROR,
    );
}

#[test]
fn data_after_end_stream_half_closed_remote() {
    let mut p = connected();
    // Stream 1 stays open on the server (no response yet): half-closed (remote).
    p.inject_to_server(&enc(&[headers(1, get_block("/"), true)]))
        .unwrap();
    expect_stream_reset(&mut p, &[data(1, b"x", false)], 1, ErrorCode::STREAM_CLOSED);
    p.poll_events();
    assert!(resets(&p.server_events).contains(&(1, ErrorCode::STREAM_CLOSED, false)));
}

#[test]
fn headers_after_end_stream_half_closed_remote() {
    let mut p = connected();
    p.inject_to_server(&enc(&[headers(1, get_block("/"), true)]))
        .unwrap();
    let t = block(&[("x-a", "b")]);
    expect_stream_reset(&mut p, &[headers(1, t, true)], 1, ErrorCode::STREAM_CLOSED);
}

#[test]
fn data_on_stream_closed_by_end_stream() {
    let mut p = connected();
    let id = p.client.send_request(get("/"), true).unwrap();
    p.drive();
    p.server.send_response(id, ok(), true).unwrap();
    p.drive();
    assert!(closed(&p.server_events, id));
    expect_conn_error(&mut p, &[data(id, b"x", false)], ErrorCode::STREAM_CLOSED);
}

#[test]
fn frames_after_local_reset_are_ignored() {
    let mut p = connected();
    let id = p.client.send_request(post("/"), false).unwrap();
    p.drive();
    p.server.reset(id, ErrorCode::CANCEL).unwrap();
    // Frames the client sent before seeing the RST_STREAM:
    p.inject_to_server(&enc(&[data(id, b"late", false), data(id, b"late", true)]))
        .unwrap();
    p.inject_to_server(&enc(&[Frame::WindowUpdate {
        stream_id: id,
        increment: 10,
    }]))
    .unwrap();
    p.drive();
    assert!(p.server_errors.is_empty());
    assert!(resets(&p.client_events).contains(&(id, ErrorCode::CANCEL, true)));
}

#[test]
fn data_after_remote_reset_is_stream_closed() {
    let mut p = connected();
    let id = p.client.send_request(post("/"), false).unwrap();
    p.drive();
    p.inject_to_server(&enc(&[Frame::RstStream {
        stream_id: id,
        code: ErrorCode::CANCEL,
    }]))
    .unwrap();
    assert!(resets(&{
        p.poll_events();
        std::mem::take(&mut p.server_events)
    })
    .contains(&(id, ErrorCode::CANCEL, true)));
    let _ = p.inject_to_server(&enc(&[data(id, b"x", false)]));
    assert!(p.server_errors.is_empty());
    p.drive();
    assert!(resets(&p.client_events).contains(&(id, ErrorCode::STREAM_CLOSED, true)));
}

#[test]
fn continuation_interleaving() {
    let mut p = connected();
    let b = get_block("/");
    let h = Frame::Headers {
        stream_id: 1,
        end_stream: true,
        end_headers: false,
        priority: None,
        block: b.slice(..3),
    };
    expect_conn_error(
        &mut p,
        &[
            h,
            Frame::Ping {
                ack: false,
                data: [0; 8],
            },
        ],
        ErrorCode::PROTOCOL_ERROR,
    );
    // CONTINUATION on another stream.
    let mut p = connected();
    let h = Frame::Headers {
        stream_id: 1,
        end_stream: true,
        end_headers: false,
        priority: None,
        block: b.slice(..3),
    };
    let c = Frame::Continuation {
        stream_id: 3,
        end_headers: true,
        block: b.slice(3..),
    };
    expect_conn_error(&mut p, &[h, c], ErrorCode::PROTOCOL_ERROR);
    // CONTINUATION without HEADERS.
    let mut p = connected();
    let c = Frame::Continuation {
        stream_id: 1,
        end_headers: true,
        block: b.clone(),
    };
    expect_conn_error(&mut p, &[c], ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn continuation_reassembly() {
    let mut p = connected();
    let b = get_block("/split");
    let h = Frame::Headers {
        stream_id: 1,
        end_stream: true,
        end_headers: false,
        priority: None,
        block: b.slice(..2),
    };
    let c1 = Frame::Continuation {
        stream_id: 1,
        end_headers: false,
        block: b.slice(2..5),
    };
    let c2 = Frame::Continuation {
        stream_id: 1,
        end_headers: true,
        block: b.slice(5..),
    };
    p.inject_to_server(&enc(&[h, c1, c2])).unwrap();
    p.poll_events();
    assert!(
        matches!(&p.server_events[0], Event::Request { stream_id: 1, request, end_stream: true } if request.uri().path() == "/split")
    );
}

#[test]
fn hpack_garbage_is_compression_error() {
    let mut p = connected();
    let f = headers(
        1,
        Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        true,
    );
    expect_conn_error(&mut p, &[f], ErrorCode::COMPRESSION_ERROR);
}

#[test]
fn malformed_request_is_stream_error() {
    let mut p = connected();
    let b = block(&[(":method", "GET"), (":path", "/")]); // no :scheme
    expect_stream_reset(&mut p, &[headers(1, b, true)], 1, ErrorCode::PROTOCOL_ERROR);
    // The connection still works (HPACK state in sync).
    p.inject_to_server(&enc(&[headers(3, get_block("/ok"), true)]))
        .unwrap();
    p.poll_events();
    assert_eq!(request_ids(&p.server_events), [3]);
}

#[test]
fn trailers_without_end_stream() {
    let mut p = connected();
    p.inject_to_server(&enc(&[headers(1, get_block("/"), false)]))
        .unwrap();
    let t = block(&[("x-t", "1")]);
    expect_stream_reset(
        &mut p,
        &[headers(1, t, false)],
        1,
        ErrorCode::PROTOCOL_ERROR,
    );
}

#[test]
fn content_length_mismatch() {
    let mut p = connected();
    let b = block(&[
        (":method", "POST"),
        (":scheme", "https"),
        (":authority", "a"),
        (":path", "/"),
        ("content-length", "5"),
    ]);
    expect_stream_reset(
        &mut p,
        &[headers(1, b.clone(), false), data(1, b"abc", true)],
        1,
        ErrorCode::PROTOCOL_ERROR,
    );
    // Too much data.
    expect_stream_reset(
        &mut p,
        &[headers(3, b.clone(), false), data(3, b"abcdef", false)],
        3,
        ErrorCode::PROTOCOL_ERROR,
    );
    // Exact length is fine.
    p.inject_to_server(&enc(&[headers(5, b, false), data(5, b"abcde", true)]))
        .unwrap();
    p.poll_events();
    assert_eq!(body_of(&p.server_events, 5), (b"abcde".to_vec(), true));
}

#[test]
fn header_list_too_large() {
    let cfg = Config {
        max_header_list_size: 200,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), cfg);
    p.drive();
    let big = "v".repeat(300);
    let req = http::Request::builder()
        .uri("https://example.com/")
        .header("x-big", big.as_str())
        .body(())
        .unwrap();
    // The client knows the server's limit and refuses to send.
    assert!(matches!(
        p.client.send_request(req, true),
        Err(h2o::conn::UserError::InvalidHeaders(_))
    ));
    // Injected anyway: the server resets the stream.
    let b = block(&[
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "a"),
        (":path", "/"),
        ("x-big", &big),
    ]);
    let _ = p.inject_to_server(&enc(&[headers(1, b, true)]));
    assert!(p.server_errors.is_empty());
    let out = server_output(&mut p);
    assert!(out
        .iter()
        .any(|f| matches!(f, Frame::RstStream { stream_id: 1, .. })));
    p.poll_events();
    assert!(request_ids(&p.server_events).is_empty());
}

#[test]
fn huge_continuation_is_refused() {
    let cfg = Config {
        max_header_list_size: 1000,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), cfg);
    p.drive();
    let chunk = Bytes::from(vec![0u8; 16_000]);
    let mut frames = vec![Frame::Headers {
        stream_id: 1,
        end_stream: true,
        end_headers: false,
        priority: None,
        block: chunk.clone(),
    }];
    for _ in 0..4 {
        frames.push(Frame::Continuation {
            stream_id: 1,
            end_headers: false,
            block: chunk.clone(),
        });
    }
    expect_conn_error(&mut p, &frames, ErrorCode::ENHANCE_YOUR_CALM);
}

#[test]
fn push_promise_is_protocol_error() {
    let mut p = connected();
    let id = p.client.send_request(get("/"), true).unwrap();
    p.drive();
    let f = Frame::PushPromise {
        stream_id: id,
        end_headers: true,
        promised_id: 2,
        block: get_block("/pushed"),
    };
    let _ = p.inject_to_client(&enc(&[f]));
    assert_eq!(conn_err(&p.client_errors), Some(ErrorCode::PROTOCOL_ERROR));
}

#[test]
fn server_enable_push_is_protocol_error() {
    let mut p = connected();
    let f = Frame::Settings {
        ack: false,
        settings: Settings {
            enable_push: Some(1),
            ..Settings::default()
        },
    };
    let _ = p.inject_to_client(&enc(&[f]));
    assert_eq!(conn_err(&p.client_errors), Some(ErrorCode::PROTOCOL_ERROR));
}

#[test]
fn response_on_unopened_stream() {
    let mut p = connected();
    let b = block(&[(":status", "200")]);
    let _ = p.inject_to_client(&enc(&[headers(1, b, true)]));
    assert_eq!(conn_err(&p.client_errors), Some(ErrorCode::PROTOCOL_ERROR));
}

#[test]
fn informational_with_end_stream() {
    let mut p = connected();
    let id = p.client.send_request(get("/"), true).unwrap();
    p.drive();
    let b = block(&[(":status", "103")]);
    p.inject_to_client(&enc(&[headers(id, b, true)])).unwrap();
    p.drive();
    assert!(resets(&p.client_events).contains(&(id, ErrorCode::PROTOCOL_ERROR, false)));
    assert!(resets(&p.server_events).contains(&(id, ErrorCode::PROTOCOL_ERROR, true)));
}

#[test]
fn unknown_frames_are_ignored() {
    let mut p = connected();
    let f = Frame::Unknown {
        ty: 0xfa,
        flags: 0,
        stream_id: 77,
        payload: Bytes::from_static(b"whatever"),
    };
    p.inject_to_server(&enc(&[f])).unwrap();
    let id = p.client.send_request(get("/"), true).unwrap();
    p.drive();
    assert!(p.server_errors.is_empty());
    assert_eq!(request_ids(&p.server_events), [id]);
}

#[test]
fn recv_after_error_returns_error() {
    let mut p = connected();
    let _ = p.inject_to_server(&enc(&[data(1, b"x", false)]));
    assert!(p.server.recv(p.now, b"anything").is_err());
    let r = p.server.send_response(1, ok(), true);
    assert!(r.is_err());
}
