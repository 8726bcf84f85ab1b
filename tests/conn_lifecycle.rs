//! Connection lifecycle: MAX_CONCURRENT_STREAMS, SETTINGS timeout, GOAWAY
//! (graceful shutdown with in-flight streams, refused streams above
//! last_stream_id), RST_STREAM both ways, is_closed.

mod common;
use common::*;

use bytes::Bytes;
use core::time::Duration;
use h2o::conn::{Config, Event, UserError};
use h2o::frame::Frame;
use h2o::pair::{Link, Pair};
use h2o::ErrorCode;

#[test]
fn client_respects_peer_concurrency_limit() {
    let server = Config {
        max_concurrent_streams: 2,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), server);
    p.drive();
    let a = p.client.send_request(get("/a"), true).unwrap();
    let _b = p.client.send_request(get("/b"), true).unwrap();
    assert_eq!(
        p.client.send_request(get("/c"), true),
        Err(UserError::StreamLimit)
    );
    p.drive();
    p.server.send_response(a, ok(), true).unwrap();
    p.drive();
    assert!(closed(&p.client_events, a));
    assert!(p.client.send_request(get("/c"), true).is_ok());
}

#[test]
fn server_refuses_streams_beyond_its_limit() {
    let server = Config {
        max_concurrent_streams: 1,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), server);
    p.drive();
    p.inject_to_server(&enc(&[
        headers(1, get_block("/1"), true),
        headers(3, get_block("/3"), true),
    ]))
    .unwrap();
    p.poll_events();
    assert_eq!(request_ids(&p.server_events), [1]);
    let mut buf = Vec::new();
    p.server.write_to(p.now, &mut buf, usize::MAX);
    let mut dec = h2o::frame::FrameDecoder::default();
    dec.push(&buf);
    let out: Vec<Frame> = dec.frames().map(|f| f.unwrap()).collect();
    assert!(out.contains(&Frame::RstStream {
        stream_id: 3,
        code: ErrorCode::REFUSED_STREAM
    }));
    // Late DATA for the refused stream is ignored.
    p.inject_to_server(&enc(&[data(3, b"x", true)])).unwrap();
    assert!(p.server_errors.is_empty());
}

#[test]
fn settings_timeout() {
    // A server that never ACKs: only the client's preface reaches it, and we drop
    // the server's output.
    let mut c = h2o::Connection::client(Config {
        settings_timeout: Duration::from_secs(5),
        ..Config::default()
    });
    // The timer starts when the SETTINGS leave (the first write).
    assert_eq!(c.poll_timeout(), None);
    let mut out = Vec::new();
    c.write_to(Duration::from_secs(100), &mut out, usize::MAX);
    assert_eq!(c.poll_timeout(), Some(Duration::from_secs(105)));
    c.handle_timeout(Duration::from_secs(104));
    assert!(!c.is_closed());
    c.handle_timeout(Duration::from_secs(105));
    c.write_to(Duration::from_secs(105), &mut out, usize::MAX);
    // Preface + SETTINGS + WINDOW_UPDATE + GOAWAY(SETTINGS_TIMEOUT).
    let mut dec = h2o::frame::FrameDecoder::default();
    dec.push(&out[24..]);
    let frames: Vec<Frame> = dec.frames().map(|f| f.unwrap()).collect();
    assert!(frames.iter().any(|f| matches!(
        f,
        Frame::GoAway {
            code: ErrorCode::SETTINGS_TIMEOUT,
            ..
        }
    )));
    assert!(c.is_closed());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn settings_acked_in_time_disarms_timer() {
    let mut p = Pair::new(Config::default(), Config::default());
    // Nothing sent yet: no timer.
    assert_eq!(p.client.poll_timeout(), None);
    // One hop: the server's SETTINGS left and wait for the client's ACK.
    p.step();
    assert!(p.server.poll_timeout().is_some());
    p.drive();
    assert_eq!(p.client.poll_timeout(), None);
    assert_eq!(p.server.poll_timeout(), None);
    p.advance(Duration::from_secs(3600));
    assert!(!p.client.is_closed() && !p.server.is_closed());
}

#[test]
fn graceful_shutdown_lets_streams_finish() {
    let mut p = connected();
    let a = p.client.send_request(post("/a"), false).unwrap();
    p.drive();
    p.server.shutdown(ErrorCode::NO_ERROR);
    p.drive();
    assert_eq!(goaways(&p.client_events), [(a, ErrorCode::NO_ERROR)]);
    assert_eq!(
        p.client.send_request(get("/late"), true),
        Err(UserError::GoingAway)
    );
    assert!(!p.server.is_closed());
    // In-flight stream finishes.
    p.client
        .send_data(a, Bytes::from_static(b"body"), true)
        .unwrap();
    p.drive();
    p.server.send_response(a, ok(), false).unwrap();
    p.server
        .send_data(a, Bytes::from_static(b"done"), true)
        .unwrap();
    p.drive();
    assert_eq!(body_of(&p.client_events, a), (b"done".to_vec(), true));
    assert!(p.server.is_closed());
    assert!(p.client.is_closed());
}

#[test]
fn goaway_refuses_streams_above_last_id() {
    let mut p = connected();
    let a = p.client.send_request(get("/a"), true).unwrap();
    p.drive();
    p.server.shutdown(ErrorCode::NO_ERROR);
    // Client opens b before it sees the GOAWAY.
    let b = p.client.send_request(get("/b"), true).unwrap();
    p.drive();
    // The server ignores (refuses) b, the client reports it refused.
    assert_eq!(request_ids(&p.server_events), [a]);
    assert!(resets(&p.client_events).contains(&(b, ErrorCode::REFUSED_STREAM, true)));
    p.server.send_response(a, ok(), true).unwrap();
    p.drive();
    assert!(closed(&p.client_events, a));
    assert!(p.client.is_closed() && p.server.is_closed());
}

#[test]
fn received_goaway_refuses_our_streams_above_last() {
    let mut p = connected();
    let a = p.client.send_request(get("/a"), true).unwrap();
    let b = p.client.send_request(get("/b"), true).unwrap();
    let c = p.client.send_request(get("/c"), true).unwrap();
    p.drive();
    p.inject_to_client(&enc(&[Frame::GoAway {
        last_stream_id: a,
        code: ErrorCode::NO_ERROR,
        debug: bytes::Bytes::from_static(b"bye"),
    }]))
    .unwrap();
    p.poll_events();
    assert!(matches!(
        &p.client_events[0],
        Event::GoAway { last_stream_id, debug, .. } if *last_stream_id == a && debug == "bye"
    ));
    let r = resets(&p.client_events);
    assert_eq!(
        r,
        [
            (b, ErrorCode::REFUSED_STREAM, true),
            (c, ErrorCode::REFUSED_STREAM, true)
        ]
    );
    assert_eq!(p.client.open_streams(), 1);
}

#[test]
fn connection_error_sends_goaway_and_closes() {
    let mut p = connected();
    let a = p.client.send_request(get("/a"), true).unwrap();
    p.drive();
    let _ = p.inject_to_client(&enc(&[data(99, b"x", false)]));
    assert_eq!(conn_err(&p.client_errors), Some(ErrorCode::PROTOCOL_ERROR));
    assert!(!p.client.is_closed(), "GOAWAY not yet written");
    p.drive();
    assert!(p.client.is_closed());
    assert!(p.server_events.iter().any(|e| matches!(
        e,
        Event::GoAway { code: ErrorCode::PROTOCOL_ERROR, debug, .. } if !debug.is_empty()
    )));
    assert_eq!(
        p.client.send_request(get("/b"), true),
        Err(UserError::ConnectionClosed)
    );
    let _ = a;
}

#[test]
fn reset_both_ways() {
    let mut p = connected();
    let a = p.client.send_request(post("/a"), false).unwrap();
    p.drive();
    p.client.reset(a, ErrorCode::CANCEL).unwrap();
    p.drive();
    assert!(resets(&p.server_events).contains(&(a, ErrorCode::CANCEL, true)));
    assert_eq!(
        p.client.reset(a, ErrorCode::CANCEL),
        Err(UserError::UnknownStream)
    );
    assert_eq!(
        p.server.send_response(a, ok(), true),
        Err(UserError::UnknownStream)
    );
    let b = p.client.send_request(post("/b"), false).unwrap();
    p.drive();
    p.server.reset(b, ErrorCode::INTERNAL_ERROR).unwrap();
    p.drive();
    assert!(resets(&p.client_events).contains(&(b, ErrorCode::INTERNAL_ERROR, true)));
    assert_eq!(p.client.open_streams(), 0);
    assert_eq!(p.server.open_streams(), 0);
    assert!(p.client_errors.is_empty() && p.server_errors.is_empty());
}

#[test]
fn reset_before_headers_written_keeps_order() {
    // The RST_STREAM must not overtake the HEADERS that open the stream.
    let mut p = connected();
    let a = p.client.send_request(post("/a"), false).unwrap();
    p.client.reset(a, ErrorCode::CANCEL).unwrap();
    p.drive();
    assert!(p.server_errors.is_empty(), "{:?}", p.server_errors);
    assert!(resets(&p.server_events).contains(&(a, ErrorCode::CANCEL, true)));
}

#[test]
fn api_misuse() {
    let mut p = connected();
    assert_eq!(
        p.server.send_request(get("/"), true),
        Err(UserError::WrongRole)
    );
    assert_eq!(
        p.client.send_response(1, ok(), true),
        Err(UserError::WrongRole)
    );
    assert_eq!(
        p.client.send_data(1, Bytes::new(), true),
        Err(UserError::UnknownStream)
    );
    let a = p.client.send_request(get("/"), true).unwrap();
    assert_eq!(
        p.client.send_data(a, Bytes::from_static(b"x"), true),
        Err(UserError::StreamClosed)
    );
    p.drive();
    assert!(matches!(
        p.server.send_data(a, Bytes::from_static(b"x"), true),
        Err(UserError::ResponseHeadFirst)
    ));
    let early = http::Response::builder().status(103).body(()).unwrap();
    assert_eq!(
        p.server.send_response(a, early, true),
        Err(UserError::InformationalEndsStream)
    );
    let bad = http::Response::builder()
        .status(200)
        .header("connection", "close")
        .body(())
        .unwrap();
    assert!(matches!(
        p.server.send_response(a, bad, true),
        Err(UserError::InvalidHeaders(_))
    ));
    p.server.send_response(a, ok(), true).unwrap();
    assert_eq!(
        p.server.send_response(a, ok(), true),
        Err(UserError::UnknownStream)
    );
}

#[test]
fn rapid_reset_flood_is_refused() {
    let mut p = connected();
    let mut frames = Vec::new();
    let mut id = 1;
    for _ in 0..1100 {
        frames.push(headers(id, get_block("/"), true));
        frames.push(Frame::RstStream {
            stream_id: id,
            code: ErrorCode::CANCEL,
        });
        id += 2;
    }
    let _ = p.inject_to_server(&enc(&frames));
    assert_eq!(
        conn_err(&p.server_errors),
        Some(ErrorCode::ENHANCE_YOUR_CALM)
    );
}

#[test]
fn empty_data_flood_is_refused() {
    let mut p = connected();
    let mut frames = vec![headers(1, get_block("/"), false)];
    for _ in 0..1100 {
        frames.push(data(1, b"", false));
    }
    let _ = p.inject_to_server(&enc(&frames));
    assert_eq!(
        conn_err(&p.server_errors),
        Some(ErrorCode::ENHANCE_YOUR_CALM)
    );
}

#[test]
fn ping_flood_without_reading_is_refused() {
    let mut p = connected();
    let frames: Vec<Frame> = (0..70_000u64)
        .map(|i| Frame::Ping {
            ack: false,
            data: i.to_be_bytes(),
        })
        .collect();
    let _ = p.inject_to_server(&enc(&frames));
    assert_eq!(
        conn_err(&p.server_errors),
        Some(ErrorCode::ENHANCE_YOUR_CALM)
    );
}

#[test]
fn normal_traffic_with_cancellations_is_fine() {
    // Many completed streams offset occasional cancellations.
    let mut p = connected();
    for round in 0..30 {
        let mut ids = Vec::new();
        for _ in 0..50 {
            ids.push(p.client.send_request(get("/"), true).unwrap());
        }
        p.drive();
        for (i, &id) in ids.iter().enumerate() {
            if i % 2 == 0 {
                p.client.reset(id, ErrorCode::CANCEL).unwrap();
            } else {
                p.server.send_response(id, ok(), true).unwrap();
            }
        }
        p.drive();
        assert!(p.server_errors.is_empty(), "round {round}");
    }
}

#[test]
fn settings_timer_starts_at_first_write() {
    // The SETTINGS-ACK deadline counts from the first write at time zero.
    let mut c = h2o::Connection::client(Config::default());
    let mut out = Vec::new();
    c.write_to(Duration::ZERO, &mut out, usize::MAX);
    assert_eq!(c.poll_timeout(), Some(Duration::from_secs(10)));
    c.handle_timeout(Duration::from_secs(9));
    assert!(!c.is_closed());
    c.handle_timeout(Duration::from_secs(10));
    out.clear();
    c.write_to(Duration::from_secs(10), &mut out, usize::MAX);
    assert!(c.is_closed());
}

/// The pair simulates time: once nothing moves, `drive` jumps to the earliest
/// timer. Here the server's SETTINGS (and its ACK of the client's) are lost,
/// so both SETTINGS-ACK timers (10 s from the first write) fire at t = 10 s.
#[test]
fn drive_jumps_to_the_settings_timers() {
    let mut p = Pair::new(Config::default(), Config::default());
    let mut buf = Vec::new();
    p.client.write_to(p.now, &mut buf, usize::MAX);
    p.server.recv(p.now, &buf).unwrap();
    let mut lost = Vec::new();
    assert!(p.server.write_to(p.now, &mut lost, usize::MAX) > 0);
    assert_eq!(p.next_timeout(), Some(Duration::from_secs(10)));
    // Without advancing time (or with the timer beyond the limit) nothing fires.
    p.drive_now();
    p.time_limit = Duration::from_secs(9);
    p.drive();
    assert_eq!(p.now, Duration::ZERO);
    assert!(!p.client.is_closed() && !p.server.is_closed());
    p.time_limit = Duration::from_secs(3600);
    p.drive();
    assert_eq!(p.now, Duration::from_secs(10));
    assert!(p.client.is_closed() && p.server.is_closed());
    // Each side failed with SETTINGS_TIMEOUT (`recv` repeats the error).
    assert_eq!(
        p.server_errors.first().map(|e| e.code()),
        Some(ErrorCode::SETTINGS_TIMEOUT)
    );
    assert_eq!(
        p.client_errors.first().map(|e| e.code()),
        Some(ErrorCode::SETTINGS_TIMEOUT)
    );
    assert_eq!(p.next_timeout(), None);
}

/// On a path whose one-way delay (6 s) exceeds the SETTINGS timeout (5 s),
/// `run_link` fires both timers at exactly t = 5 s, before any ACK arrives.
#[test]
fn settings_timeout_on_a_slow_link_fires_at_the_deadline() {
    let cfg = Config {
        settings_timeout: Duration::from_secs(5),
        ..Config::default()
    };
    let mut p = Pair::new(cfg.clone(), cfg);
    let link = Link::new(Duration::from_secs(6), 1_000_000_000);
    let failed = p.run_link(&link, Duration::from_secs(60), |p| {
        p.client.is_closed() && p.server.is_closed()
    });
    assert!(failed);
    assert_eq!(p.now, Duration::from_secs(5));
    assert!(p.client_events.is_empty() && p.server_events.is_empty());
}

/// A PING round trip over a simulated 20 ms (one-way) path takes exactly two
/// propagation delays plus the serialization of two 17-byte frames at 1 GB/s;
/// the SETTINGS round trip gave adaptive flow control its first RTT.
#[test]
fn ping_round_trip_takes_the_simulated_rtt() {
    let mut p = Pair::new(Config::default(), Config::default());
    let link = Link::new(Duration::from_millis(20), 1_000_000_000);
    assert!(p.run_link(&link, Duration::from_secs(1), |p| {
        p.client_events
            .iter()
            .any(|e| matches!(e, Event::SettingsAcked))
    }));
    let rtt = p.client.min_rtt().expect("SETTINGS round trip measured");
    assert!(rtt >= Duration::from_millis(40) && rtt < Duration::from_millis(41));
    p.client_events.clear();
    // Let the in-flight handshake frames land first.
    p.run_link(&link, Duration::from_secs(1), |_| false);
    let t0 = p.now;
    p.client.ping(*b"rtt-test");
    assert!(p.run_link(&link, t0 + Duration::from_secs(1), |p| {
        p.client_events
            .iter()
            .any(|e| matches!(e, Event::PingAck(d) if d == b"rtt-test"))
    }));
    assert_eq!(
        p.now - t0,
        Duration::from_millis(40) + Duration::from_nanos(34)
    );
}

/// Stream state is recycled (the DATA queue of a closed stream is pooled and
/// handed to the next stream; received heads' `HeaderMap`s come back through
/// `recycle_headers`): a reused stream starts fully reset — nothing queued on
/// the old stream leaks into the new one, and a recycled map arrives empty.
#[test]
fn reused_stream_state_is_reset() {
    let mut p = Pair::connected();
    // Stream 1: body queued, then reset by the application before any write.
    let a = p.client.send_request(post("/a"), false).unwrap();
    p.client
        .send_data(a, Bytes::from_static(b"stale body of stream 1"), false)
        .unwrap();
    assert_eq!(p.client.queued_len(a), Some(22));
    p.client.reset(a, ErrorCode::CANCEL).unwrap();
    // Stream 3 takes the pooled queue.
    let b = p.client.send_request(post("/b"), false).unwrap();
    assert_eq!(p.client.queued_len(b), Some(0));
    assert_eq!(
        p.client.send_window(b),
        Some(Config::default().initial_window_size)
    );
    p.client
        .send_data(b, Bytes::from_static(b"fresh"), true)
        .unwrap();
    assert_eq!(p.client.queued_len(b), Some(5));
    p.drive();
    let mut data = Vec::new();
    for ev in p.server_events.drain(..) {
        match ev {
            Event::Data {
                stream_id, data: d, ..
            } => data.push((stream_id, d)),
            Event::Request {
                stream_id, request, ..
            } if stream_id == b => {
                assert_eq!(request.uri().path(), "/b");
                // A recycled map comes back empty for the next head.
                let mut h = request.into_parts().0.headers;
                h.insert("x-old", "stale".parse().unwrap());
                p.server.recycle_headers(h);
            }
            _ => {}
        }
    }
    assert_eq!(data, [(b, Bytes::from_static(b"fresh"))]);
    p.server.send_response(b, ok(), true).unwrap();
    let c = p.client.send_request(get("/c"), true).unwrap();
    p.drive();
    let mut seen = false;
    for ev in p.server_events.drain(..) {
        if let Event::Request {
            stream_id, request, ..
        } = ev
        {
            assert_eq!(stream_id, c);
            assert!(request.headers().get("x-old").is_none());
            seen = true;
        }
    }
    assert!(seen);
    assert!(p.server_errors.is_empty() && p.client_errors.is_empty());
}
