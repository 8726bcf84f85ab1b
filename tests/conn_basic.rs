//! Request/response exchanges through the in-memory Pair: bodies both ways,
//! trailers, many concurrent streams, PING, SETTINGS events.

mod common;
use common::*;

use bytes::Bytes;
use h2o::conn::{Config, Event};
use h2o::pair::Pair;

#[test]
fn settings_exchange() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.drive();
    assert!(p.client_errors.is_empty() && p.server_errors.is_empty());
    for evs in [&p.client_events, &p.server_events] {
        assert!(evs.iter().any(|e| matches!(e, Event::Settings(_))));
        assert!(evs.iter().any(|e| matches!(e, Event::SettingsAcked)));
    }
    assert_eq!(p.client.poll_timeout(), None);
    assert_eq!(p.client.peer_max_concurrent_streams(), 100);
}

#[test]
fn get_with_body_response() {
    let mut p = connected();
    let id = p.client.send_request(get("/x"), true).unwrap();
    assert_eq!(id, 1);
    p.drive();
    let Some(Event::Request {
        stream_id,
        request,
        end_stream,
    }) = p.server_events.pop()
    else {
        panic!("no request: {:?}", p.server_events)
    };
    assert_eq!((stream_id, end_stream), (1, true));
    assert_eq!(request.uri().path(), "/x");
    assert_eq!(request.uri().authority().unwrap().as_str(), "example.com");
    p.server.send_response(1, ok(), false).unwrap();
    p.server
        .send_data(1, Bytes::from_static(b"hello "), false)
        .unwrap();
    p.server
        .send_data(1, Bytes::from_static(b"world"), true)
        .unwrap();
    p.drive();
    assert!(matches!(
        p.client_events[0],
        Event::Response { stream_id: 1, ref response, end_stream: false } if response.status() == 200
    ));
    assert_eq!(
        body_of(&p.client_events, 1),
        (b"hello world".to_vec(), true)
    );
    assert!(closed(&p.client_events, 1));
    assert!(closed(&p.server_events, 1));
    assert_eq!(p.client.open_streams(), 0);
    assert_eq!(p.server.open_streams(), 0);
}

#[test]
fn post_body_both_ways_and_write_chunks() {
    let mut p = connected();
    let body = pattern(100_000);
    let id = p.client.send_request(post("/up"), false).unwrap();
    p.client.send_data(id, body.clone(), true).unwrap();
    p.drive();
    assert_eq!(body_of(&p.server_events, id), (body.to_vec(), true));
    p.server.send_response(id, ok(), false).unwrap();
    p.server.send_data(id, body.slice(..50_000), false).unwrap();
    p.server.send_data(id, body.slice(50_000..), true).unwrap();
    // Use the vectored writer on the server side by hand.
    let mut chunks = Vec::new();
    let n = p.server.write_chunks(p.now, &mut chunks, usize::MAX);
    assert_eq!(n, chunks.iter().map(|c| c.len()).sum::<usize>());
    // Payload chunks are the queued Bytes themselves (no copy).
    assert!(chunks
        .iter()
        .any(|c| c.len() == 16_384 && c.as_ptr() == body.as_ptr()));
    for c in &chunks {
        p.client.recv(p.now, c).unwrap();
    }
    p.drive();
    assert_eq!(body_of(&p.client_events, id), (body.to_vec(), true));
    assert!(closed(&p.server_events, id));
}

#[test]
fn trailers_both_ways() {
    let mut p = connected();
    let id = p.client.send_request(post("/t"), false).unwrap();
    p.client
        .send_data(id, Bytes::from_static(b"abc"), false)
        .unwrap();
    let mut t = http::HeaderMap::new();
    t.insert("x-checksum", "123".parse().unwrap());
    p.client.send_trailers(id, t.clone()).unwrap();
    assert_eq!(
        p.client.send_data(id, Bytes::from_static(b"x"), false),
        Err(h2o::conn::UserError::StreamClosed)
    );
    p.drive();
    assert_eq!(body_of(&p.server_events, id).0, b"abc");
    assert!(p.server_events.iter().any(
        |e| matches!(e, Event::Trailers { stream_id, trailers } if *stream_id == id && trailers == &t)
    ));
    p.server.send_response(id, ok(), false).unwrap();
    p.server.send_trailers(id, t.clone()).unwrap();
    p.drive();
    assert!(p.client_events.iter().any(
        |e| matches!(e, Event::Trailers { stream_id, trailers } if *stream_id == id && trailers == &t)
    ));
    assert!(closed(&p.client_events, id) && closed(&p.server_events, id));
}

#[test]
fn informational_then_final() {
    let mut p = connected();
    let id = p.client.send_request(post("/c"), false).unwrap();
    p.drive();
    let cont = http::Response::builder().status(100).body(()).unwrap();
    p.server.send_response(id, cont, false).unwrap();
    p.client
        .send_data(id, Bytes::from_static(b"b"), true)
        .unwrap();
    p.drive();
    p.server.send_response(id, ok(), true).unwrap();
    p.drive();
    let statuses: Vec<u16> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::Response { response, .. } => Some(response.status().as_u16()),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [100, 200]);
    assert!(closed(&p.client_events, id));
}

#[test]
fn hundred_concurrent_streams() {
    let mut p = connected();
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(p.client.send_request(get(&format!("/{i}")), true).unwrap());
    }
    p.drive();
    assert_eq!(request_ids(&p.server_events), ids);
    for (i, &id) in ids.iter().enumerate() {
        p.server.send_response(id, ok(), false).unwrap();
        p.server
            .send_data(id, Bytes::from(format!("body {i}")), true)
            .unwrap();
    }
    p.drive();
    for (i, &id) in ids.iter().enumerate() {
        assert_eq!(
            body_of(&p.client_events, id),
            (format!("body {i}").into_bytes(), true)
        );
        assert!(closed(&p.client_events, id));
    }
    assert_eq!(p.server.open_streams(), 0);
    assert_eq!(p.client.open_streams(), 0);
}

#[test]
fn ping_roundtrip() {
    let mut p = connected();
    p.client.ping(*b"12345678");
    p.drive();
    assert!(p
        .server_events
        .iter()
        .any(|e| matches!(e, Event::Ping(d) if d == b"12345678")));
    assert!(p
        .client_events
        .iter()
        .any(|e| matches!(e, Event::PingAck(d) if d == b"12345678")));
}

#[test]
fn head_response_with_content_length_no_body() {
    let mut p = connected();
    let req = http::Request::builder()
        .method("HEAD")
        .uri("https://example.com/")
        .body(())
        .unwrap();
    let id = p.client.send_request(req, true).unwrap();
    p.drive();
    let resp = http::Response::builder()
        .status(200)
        .header("content-length", "1234")
        .body(())
        .unwrap();
    p.server.send_response(id, resp, true).unwrap();
    p.drive();
    assert!(resets(&p.client_events).is_empty());
    assert!(closed(&p.client_events, id));
}

#[test]
fn send_ready_after_drain() {
    let mut p = connected();
    let id = p.client.send_request(post("/s"), false).unwrap();
    p.client.send_data(id, pattern(1000), false).unwrap();
    p.drive();
    assert!(p
        .client_events
        .iter()
        .any(|e| matches!(e, Event::SendReady { stream_id } if *stream_id == id)));
    assert_eq!(p.client.queued_len(id), Some(0));
}

#[test]
fn peer_header_table_size_zero() {
    // The server asks for no dynamic table; the client's queued and later heads
    // must still decode (ACK ordered after already-encoded blocks).
    let server = Config {
        header_table_size: 0,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), server);
    // Requests queued before the server's SETTINGS arrive.
    let mut ids = Vec::new();
    for i in 0..3 {
        let req = http::Request::builder()
            .uri(format!("https://example.com/{i}"))
            .header("x-custom", "some-value-that-gets-indexed")
            .body(())
            .unwrap();
        ids.push(p.client.send_request(req, true).unwrap());
    }
    // Deliver the server's SETTINGS to the client first.
    let mut buf = Vec::new();
    p.server.write_to(p.now, &mut buf, usize::MAX);
    p.client.recv(p.now, &buf).unwrap();
    for i in 3..6 {
        let req = http::Request::builder()
            .uri(format!("https://example.com/{i}"))
            .header("x-custom", "some-value-that-gets-indexed")
            .body(())
            .unwrap();
        ids.push(p.client.send_request(req, true).unwrap());
    }
    p.drive();
    assert!(p.server_errors.is_empty(), "{:?}", p.server_errors);
    assert_eq!(request_ids(&p.server_events), ids);
}

#[test]
fn send_response_head_from_a_shared_map() {
    // One prebuilt field map answers several streams by reference; the
    // client sees the status and every field on each, and the map is intact.
    let mut p = connected();
    let mut fields = http::HeaderMap::new();
    fields.insert("content-type", "text/plain".parse().unwrap());
    fields.insert("etag", "\"abc\"".parse().unwrap());
    let ids: Vec<_> = (0..3)
        .map(|_| p.client.send_request(get("/x"), true).unwrap())
        .collect();
    p.drive();
    for &id in &ids {
        p.server
            .send_response_head(id, http::StatusCode::OK, &fields, true)
            .unwrap();
    }
    p.drive();
    for &id in &ids {
        let (resp, end) = response_of(&p.client_events, id).expect("response");
        assert!(end, "the head ends the stream");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/plain");
        assert_eq!(resp.headers()["etag"], "\"abc\"");
    }
    assert_eq!(fields.len(), 2);
    // The same checks as send_response: no 101 in HTTP/2, no 1xx that ends the stream.
    let id = p.client.send_request(get("/y"), true).unwrap();
    p.drive();
    assert!(p
        .server
        .send_response_head(id, http::StatusCode::SWITCHING_PROTOCOLS, &fields, false)
        .is_err());
    assert!(p
        .server
        .send_response_head(id, http::StatusCode::CONTINUE, &fields, true)
        .is_err());
}

/// `send_response_shared` puts on the wire exactly the bytes that
/// `send_response_head` does, whatever came between (other heads that change
/// the HPACK table, churn-prone values, status changes, evictions in a small
/// table), and the client decodes every response.
#[test]
fn send_response_shared_emits_the_same_bytes() {
    use std::sync::Arc;
    let map = |fields: &[(&'static str, &str)]| {
        let mut m = http::HeaderMap::new();
        for (n, v) in fields {
            m.append(*n, v.parse().unwrap());
        }
        Arc::new(m)
    };
    let file_a = map(&[
        ("server", "h2o"),
        ("content-type", "text/plain"),
        ("content-length", "12"),
        ("accept-ranges", "bytes"),
        ("etag", "\"5f-c\""),
        ("last-modified", "Mon, 30 Nov 2026 22:00:00 GMT"),
    ]);
    let file_b = map(&[
        ("server", "h2o"),
        ("content-type", "text/html"),
        ("content-length", "4096"),
        ("etag", "\"60-1000\""),
        ("x-filler", &"f".repeat(120)),
    ]);
    let other = map(&[("x-once", "a"), ("content-length", "0")]);
    // (head, status) per response: runs of one head, switches, a status change.
    let mut plan = Vec::new();
    for round in 0..6 {
        plan.extend([(0, 200); 5]);
        plan.push((1, 200));
        plan.extend([(0, 200); 2]);
        plan.push((2, if round % 2 == 0 { 404 } else { 200 }));
        plan.extend([(1, 200); 3]);
        plan.push((0, 206));
        plan.push((0, 200));
    }
    for table in [4096, 200, 0] {
        let client = Config {
            header_table_size: table,
            ..Config::default()
        };
        let mut wire = Vec::new();
        for shared in [false, true] {
            let mut p = Pair::new(client.clone(), Config::default());
            p.drive();
            p.client_events.clear();
            let mut bytes = Vec::new();
            for chunk in plan.chunks(7) {
                let ids: Vec<_> = chunk
                    .iter()
                    .map(|_| p.client.send_request(get("/f"), true).unwrap())
                    .collect();
                p.drive();
                for (&id, &(head, status)) in ids.iter().zip(chunk) {
                    let h = [&file_a, &file_b, &other][head];
                    let status = http::StatusCode::from_u16(status).unwrap();
                    if shared {
                        p.server.send_response_shared(id, status, h, false).unwrap();
                    } else {
                        p.server.send_response_head(id, status, h, false).unwrap();
                    }
                    let len = [12, 4096, 0][head];
                    p.server
                        .send_data(id, Bytes::from(vec![b'x'; len]), true)
                        .unwrap();
                }
                let mut out = Vec::new();
                p.server.write_to(p.now, &mut out, usize::MAX);
                p.client.recv(p.now, &out).unwrap();
                bytes.extend_from_slice(&out);
                p.poll_events();
                for (&id, &(head, status)) in ids.iter().zip(chunk) {
                    let (resp, _) = response_of(&p.client_events, id).expect("response");
                    assert_eq!(resp.status(), status);
                    assert_eq!(resp.headers(), [&file_a, &file_b, &other][head].as_ref());
                }
                p.drive();
            }
            assert!(p.client_errors.is_empty(), "{:?}", p.client_errors);
            wire.push(bytes);
        }
        assert_eq!(wire[0], wire[1], "client table size {table}");
    }
}

/// Small DATA payloads (up to 256 bytes) are staged with their frame headers
/// by the vectored writer, larger ones stay chunks of their own; either way
/// the bytes are exactly those of the contiguous writer.
#[test]
fn write_chunks_stages_small_payloads_same_bytes() {
    let sizes = [12usize, 256, 257, 5000, 1, 200];
    let body = pattern(sizes.iter().sum());
    let mut wires = Vec::new();
    for vectored in [false, true] {
        let mut p = connected();
        let ids: Vec<_> = sizes
            .iter()
            .map(|_| p.client.send_request(get("/s"), true).unwrap())
            .collect();
        p.drive();
        let mut at = 0;
        for (&id, &n) in ids.iter().zip(&sizes) {
            p.server.send_response(id, ok(), false).unwrap();
            p.server
                .send_data(id, body.slice(at..at + n), true)
                .unwrap();
            at += n;
        }
        let mut wire = Vec::new();
        if vectored {
            let mut chunks = Vec::new();
            let n = p.server.write_chunks(p.now, &mut chunks, usize::MAX);
            // Only the two payloads above 256 bytes are chunks of their own
            // (the queued Bytes, no copy); the rest is staged around them.
            let own: Vec<_> = chunks
                .iter()
                .filter(|c| body.as_ptr_range().contains(&c.as_ptr()))
                .map(|c| c.len())
                .collect();
            assert_eq!(own, [257, 5000]);
            assert!(chunks.len() <= 5, "{} chunks", chunks.len());
            for c in &chunks {
                wire.extend_from_slice(c);
            }
            assert_eq!(n, wire.len());
        } else {
            p.server.write_to(p.now, &mut wire, usize::MAX);
        }
        p.client.recv(p.now, &wire).unwrap();
        p.drive();
        let mut at = 0;
        for (&id, &n) in ids.iter().zip(&sizes) {
            assert_eq!(
                body_of(&p.client_events, id),
                (body[at..at + n].to_vec(), true)
            );
            at += n;
        }
        wires.push(wire);
    }
    assert_eq!(wires[0], wires[1]);
}
