//! Stream slot reuse ("pool reset", issue 13): a stream driven into every
//! non-default state it can carry is reset mid-body; the next stream opened
//! takes the same slab slot and must behave as a fresh one, on both ends.

use bytes::Bytes;

use super::stream::{RecvPhase, Stream};
use super::{Config, Connection, Event, Priority};
use crate::error::ErrorCode;
use crate::frame::StreamId;
use crate::pair::Pair;

/// The stream `id` of `c` equals a freshly built one with the connection's
/// current windows (every field, including the DATA queue's contents), in
/// receive phase `phase` (a server's stream opens with the request head).
fn assert_fresh(c: &Connection, id: StreamId, local: bool, phase: RecvPhase, who: &str) {
    let s = c.streams.get(&id).expect("open stream");
    let mut fresh = Stream::new(id, local, c.peer.initial_window_size, c.local_window);
    fresh.recv_phase = phase;
    assert_eq!(
        format!("{s:?}"),
        format!("{fresh:?}"),
        "{who}: reused stream"
    );
    assert_eq!(c.queued_len(id), Some(0), "{who}: queued bytes");
    assert_eq!(c.held_capacity(id), 0, "{who}: held credit");
    assert_eq!(
        c.send_window(id),
        Some(c.peer.initial_window_size),
        "{who}: send window"
    );
}

/// Connection receive credit neither granted nor waiting in `unreleased`:
/// bytes some stream still holds (0 once every stream gave its bytes back).
fn conn_credit_held(c: &Connection) -> i64 {
    c.conn_recv.held()
}

fn body(n: usize) -> Bytes {
    Bytes::from(vec![b'x'; n])
}

#[test]
fn reused_stream_slot_is_fully_reset() {
    // 64 KiB stream windows, no adaptive growth: bodies of 100 KB overrun them.
    let cfg = Config {
        initial_window_size: 65_535,
        adaptive_window: false,
        ..Config::default()
    };
    let mut p = Pair::new(cfg.clone(), cfg);
    p.drive();
    p.client_events.clear();
    p.server_events.clear();
    p.auto_poll = false;
    let urgent = Priority {
        urgency: 1,
        incremental: true,
    };

    // Stream 1 on the client: a request body beyond the server's stream
    // window (65,535), external bytes after it, trailers, manual release, a
    // PRIORITY_UPDATE.
    let req = http::Request::builder()
        .method("POST")
        .uri("http://example.com/upload")
        .header("content-length", "200000")
        .body(())
        .unwrap();
    let id = p.client.send_request(req, false).unwrap();
    p.client.send_data(id, body(100_000), false).unwrap();
    p.client.send_data_external(id, 1_000, false).unwrap();
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-checksum", http::HeaderValue::from_static("abc"));
    p.client.send_trailers(id, trailers.clone()).unwrap();
    p.client.set_manual_release(id).unwrap();
    p.client.set_priority(id, urgent).unwrap();

    // The server: manual release (takes the body without giving it back),
    // a response body beyond the client's window, external bytes, trailers.
    p.step();
    let mut got_request = false;
    while let Some(e) = p.server.poll_event() {
        if let Event::Request { stream_id, .. } = e {
            assert_eq!(stream_id, id);
            got_request = true;
            p.server.set_manual_release(id).unwrap();
        }
    }
    assert!(got_request);
    let resp = http::Response::builder()
        .status(200)
        .header("content-length", "300000")
        .body(())
        .unwrap();
    p.server.send_response(id, resp, false).unwrap();
    p.server.send_data(id, body(150_000), false).unwrap();
    p.server.send_data_external(id, 1_000, false).unwrap();
    p.server.send_trailers(id, trailers).unwrap();
    for _ in 0..4 {
        p.step();
        while let Some(e) = p.client.poll_event() {
            drop(e);
        }
        while let Some(e) = p.server.poll_event() {
            drop(e);
        }
    }

    // Each end gives back part of the body it holds (over half the window:
    // a WINDOW_UPDATE leaves): the other end's window
    // reopens and its stream is back in the scheduler (a write limit of 0
    // writes control frames only: no DATA leaves).
    let mut wire = Vec::new();
    p.client.release_capacity(id, 40_000);
    p.client.write_to(p.now, &mut wire, 0);
    p.server.recv(p.now, &wire).unwrap();
    wire.clear();
    p.server.release_capacity(id, 40_000);
    p.server.write_to(p.now, &mut wire, 0);
    p.client.recv(p.now, &wire).unwrap();

    // Both ends carry the states the reuse must clear.
    for (c, who) in [(&p.client, "client"), (&p.server, "server")] {
        let s = c.streams.get(&id).expect("stream 1 open");
        assert!(s.manual_release && s.held > 0, "{who}: held {}", s.held);
        assert!(s.queued > 0 && !s.queue.is_empty(), "{who}: queued");
        assert!(s.ext_queued > 0, "{who}: external bytes");
        assert!(s.trailers.is_some(), "{who}: trailers");
        assert!(
            s.scheduled && s.send_window.available() > 0,
            "{who}: scheduled"
        );
        assert!(s.received > 0 && s.content_length.is_some(), "{who}: body");
        assert_eq!(c.manual_streams, 1, "{who}");
        assert!(conn_credit_held(c) > 0, "{who}: connection credit held");
    }
    assert_eq!(p.server.streams[&id].priority, urgent, "PRIORITY_UPDATE");
    assert_eq!(p.client.streams[&id].priority, urgent);
    let client_slot = p.client.streams.slot(id).unwrap();
    let server_slot = p.server.streams.slot(id).unwrap();

    // RST mid-body.
    p.client.reset(id, ErrorCode::CANCEL).unwrap();
    p.auto_poll = true;
    p.drive_now();
    assert_eq!((p.client.open_streams(), p.server.open_streams()), (0, 0));
    assert!(p
        .server_events
        .iter()
        .any(|e| matches!(e, Event::Reset { stream_id, remote: true, .. } if *stream_id == id)));
    for (c, who) in [(&p.client, "client"), (&p.server, "server")] {
        assert_eq!(c.manual_streams, 0, "{who}: manual streams");
        assert!(c.sched.is_empty(), "{who}: scheduler");
        assert_eq!(conn_credit_held(c), 0, "{who}: held credit returned");
    }
    p.client_events.clear();
    p.server_events.clear();

    // Stream 3 takes the same slots and is fresh on both ends.
    p.auto_poll = false;
    let req = http::Request::builder()
        .method("POST")
        .uri("http://example.com/again")
        .body(())
        .unwrap();
    let id3 = p.client.send_request(req, false).unwrap();
    assert_eq!(p.client.streams.slot(id3), Some(client_slot), "client slot");
    assert_fresh(&p.client, id3, true, RecvPhase::Head, "client");
    p.step();
    let mut got_request = false;
    while let Some(e) = p.server.poll_event() {
        got_request |= matches!(e, Event::Request { stream_id, .. } if stream_id == id3);
    }
    assert!(got_request);
    assert_eq!(p.server.streams.slot(id3), Some(server_slot), "server slot");
    assert_fresh(&p.server, id3, false, RecvPhase::Body, "server");

    // It behaves as fresh: a body without content-length is accepted,
    // its bytes are released when taken (no manual release), exactly the
    // bytes queued now leave, and no trailers follow.
    p.auto_poll = true;
    p.client.send_data(id3, body(1_000), true).unwrap();
    p.drive_now();
    assert_eq!(p.server.held_capacity(id3), 0, "server: auto release");
    p.server
        .send_response(id3, http::Response::new(()), false)
        .unwrap();
    p.server.send_data(id3, body(10), false).unwrap();
    p.drive_now();
    assert_eq!(p.client.held_capacity(id3), 0, "client: auto release");
    p.server.send_data(id3, Bytes::new(), true).unwrap();
    p.drive_now();
    assert!(p.client_errors.is_empty() && p.server_errors.is_empty());
    let mut server_body = 0;
    for e in &p.server_events {
        match e {
            Event::Data {
                stream_id, data, ..
            } if *stream_id == id3 => server_body += data.len(),
            Event::Trailers { .. } | Event::Reset { .. } => panic!("server: {e:?}"),
            _ => {}
        }
    }
    let mut client_body = 0;
    let mut closed = false;
    for e in &p.client_events {
        match e {
            Event::Data {
                stream_id, data, ..
            } if *stream_id == id3 => client_body += data.len(),
            Event::Closed { stream_id } if *stream_id == id3 => closed = true,
            Event::Trailers { .. } | Event::Reset { .. } => panic!("client: {e:?}"),
            _ => {}
        }
    }
    assert_eq!((server_body, client_body), (1_000, 10), "bodies");
    assert!(closed);
    for (c, who) in [(&p.client, "client"), (&p.server, "server")] {
        assert_eq!(c.open_streams(), 0, "{who}");
        assert!(c.sched.is_empty(), "{who}: scheduler");
        assert_eq!(conn_credit_held(c), 0, "{who}: credit");
    }
}
