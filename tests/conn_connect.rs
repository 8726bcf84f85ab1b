//! RFC 8441 extended CONNECT: happy path with DATA both ways, refusal without
//! the server's SETTINGS_ENABLE_CONNECT_PROTOCOL, and plain CONNECT.

mod common;
use common::*;

use bytes::Bytes;
use h2o::conn::{Config, Event, Protocol, UserError};
use h2o::pair::Pair;
use h2o::ErrorCode;

fn ws_connect() -> http::Request<()> {
    let mut r = http::Request::builder()
        .method("CONNECT")
        .uri("https://example.com/chat")
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    r.extensions_mut().insert(Protocol("websocket".into()));
    r
}

#[test]
fn extended_connect_happy_path() {
    let server = Config {
        enable_connect_protocol: true,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), server);
    p.drive();
    let id = p.client.send_request(ws_connect(), false).unwrap();
    p.drive();
    let Some(request) = p.server_events.iter().find_map(|e| match e {
        Event::Request {
            request,
            end_stream: false,
            ..
        } => Some(request),
        _ => None,
    }) else {
        panic!("{:?}", p.server_events)
    };
    assert_eq!(request.method(), http::Method::CONNECT);
    assert_eq!(
        request.extensions().get::<Protocol>(),
        Some(&Protocol("websocket".into()))
    );
    assert_eq!(request.uri().path(), "/chat");
    p.server.send_response(id, ok(), false).unwrap();
    // Tunnel bytes both ways, several rounds.
    for i in 0..5u8 {
        p.client
            .send_data(id, Bytes::from(vec![i; 10]), false)
            .unwrap();
        p.server
            .send_data(id, Bytes::from(vec![i + 100; 20]), false)
            .unwrap();
        p.drive();
    }
    p.client.send_data(id, Bytes::new(), true).unwrap();
    p.server.send_data(id, Bytes::new(), true).unwrap();
    p.drive();
    let (up, up_end) = body_of(&p.server_events, id);
    let (down, down_end) = body_of(&p.client_events, id);
    assert_eq!(up.len(), 50);
    assert_eq!(down.len(), 100);
    assert!(up_end && down_end);
    assert!(closed(&p.client_events, id) && closed(&p.server_events, id));
}

#[test]
fn extended_connect_refused_without_setting() {
    let mut p = connected();
    assert!(matches!(
        p.client.send_request(ws_connect(), false),
        Err(UserError::ConnectProtocolDisabled)
    ));
    // Injected anyway: the server (which did not enable it) rejects the stream.
    let b = block(&[
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":authority", "example.com"),
        (":path", "/chat"),
    ]);
    p.inject_to_server(&enc(&[headers(1, b, false)])).unwrap();
    p.poll_events();
    assert!(request_ids(&p.server_events).is_empty());
    let mut buf = Vec::new();
    p.server.write_to(p.now, &mut buf, usize::MAX);
    let mut dec = h2o::frame::FrameDecoder::default();
    dec.push(&buf);
    assert!(dec.frames().any(|f| f
        == Ok(h2o::frame::Frame::RstStream {
            stream_id: 1,
            code: ErrorCode::PROTOCOL_ERROR
        })));
}

#[test]
fn plain_connect_tunnel() {
    let mut p = connected();
    let req = http::Request::builder()
        .method("CONNECT")
        .uri("example.com:443")
        .body(())
        .unwrap();
    let id = p.client.send_request(req, false).unwrap();
    p.drive();
    assert_eq!(request_ids(&p.server_events), [id]);
    p.server.send_response(id, ok(), false).unwrap();
    p.client
        .send_data(id, Bytes::from_static(b"ping"), false)
        .unwrap();
    p.drive();
    assert_eq!(body_of(&p.server_events, id).0, b"ping");
}
