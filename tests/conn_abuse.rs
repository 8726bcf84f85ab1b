//! Abuse defences of the core, in memory: MadeYouReset (CVE-2025-8671, resets
//! the client provokes count like the ones it sends), the bound on what a
//! peer that never reads can make us queue, and the two-phase graceful
//! GOAWAY driven with simulated time.

mod common;
use common::*;

use bytes::Bytes;
use core::time::Duration;
use h2o::conn::{Config, Connection, Event, SHUTDOWN_PAYLOAD};
use h2o::frame::{Frame, FrameDecoder, Settings};
use h2o::pair::Pair;
use h2o::ErrorCode;

/// The abuse score limit of the core (`ABUSE_LIMIT` in src/conn/mod.rs).
const ABUSE_LIMIT: u32 = 1000;
/// The bound on unsent control/header output (`CTRL_LIMIT` in src/conn/mod.rs).
const CTRL_LIMIT: usize = 1 << 20;

/// Frames that make the server reset stream `id` (a fresh client stream).
fn provoke(kind: &str, id: u32) -> Vec<Frame> {
    match kind {
        // WINDOW_UPDATE with an increment of 0 on an open stream (§6.9).
        "window_update_0" => vec![
            headers(id, get_block("/"), false),
            Frame::WindowUpdate {
                stream_id: id,
                increment: 0,
            },
        ],
        // DATA on a half-closed (remote) stream (§5.1).
        "data_half_closed" => vec![headers(id, get_block("/"), true), data(id, b"x", false)],
        // A malformed request head (no :path) (§8.3.1).
        "bad_headers" => vec![headers(
            id,
            block(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":authority", "x"),
            ]),
            true,
        )],
        // content-length that the body contradicts (§8.1.1).
        "content_length" => vec![
            headers(
                id,
                block(&[
                    (":method", "POST"),
                    (":scheme", "https"),
                    (":authority", "x"),
                    (":path", "/"),
                    ("content-length", "1"),
                ]),
                false,
            ),
            data(id, b"xy", true),
        ],
        // DATA beyond the stream's receive window (65 535 bytes, see
        // `pair_for`): four full frames fit, the fifth overflows.
        "flow_control" => {
            let mut v = vec![headers(id, get_block("/"), false)];
            for len in [16_383, 16_383, 16_383, 16_383, 16_384] {
                v.push(Frame::Data {
                    stream_id: id,
                    end_stream: false,
                    data: Bytes::from(vec![0u8; len]),
                    flow_len: len as u32,
                });
            }
            v
        }
        _ => unreachable!("{kind}"),
    }
}

/// Server output frames of `p` (taken without delivering them).
fn take_server_frames(p: &mut Pair) -> Vec<Frame> {
    let mut out = Vec::new();
    p.server.write_to(p.now, &mut out, usize::MAX);
    let mut dec = FrameDecoder::new(1 << 24);
    dec.push(&out);
    dec.frames().map(|f| f.unwrap()).collect()
}

fn rst_count(frames: &[Frame]) -> usize {
    frames
        .iter()
        .filter(|f| matches!(f, Frame::RstStream { .. }))
        .count()
}

fn goaway_of(frames: &[Frame]) -> Option<(u32, ErrorCode)> {
    frames.iter().find_map(|f| match f {
        Frame::GoAway {
            last_stream_id,
            code,
            ..
        } => Some((*last_stream_id, *code)),
        _ => None,
    })
}

/// A connected pair whose server has a small stream window (so a single DATA
/// frame can overflow it).
fn pair_for(kind: &str) -> Pair {
    let server = if kind == "flow_control" {
        Config {
            initial_window_size: 65_535,
            adaptive_window: false,
            ..Config::default()
        }
    } else {
        Config::default()
    };
    let mut p = Pair::new(Config::default(), server);
    p.drive();
    p.client_events.clear();
    p.server_events.clear();
    p
}

#[test]
fn each_provoked_reset_kind_counts_and_a_flood_ends_in_enhance_your_calm() {
    for kind in [
        "window_update_0",
        "data_half_closed",
        "bad_headers",
        "content_length",
        "flow_control",
    ] {
        let mut p = pair_for(kind);
        // Up to the limit: every provocation is answered with RST_STREAM and
        // the connection lives on.
        let mut id = 1;
        let mut rsts = 0;
        for chunk in 0..(ABUSE_LIMIT / 100) {
            let mut frames = Vec::new();
            for _ in 0..100 {
                let f = provoke(kind, id);
                frames.extend(f);
                id += 2;
            }
            p.inject_to_server(&enc(&frames))
                .unwrap_or_else(|e| panic!("{kind}: chunk {chunk}: {e:?}"));
            let out = take_server_frames(&mut p);
            rsts += rst_count(&out);
            assert_eq!(goaway_of(&out), None, "{kind}");
            // Taking the DATA events returns their bytes to the connection window.
            p.poll_events();
            p.server_events.clear();
        }
        assert_eq!(rsts, ABUSE_LIMIT as usize, "{kind}: one RST_STREAM each");
        // One more: GOAWAY(ENHANCE_YOUR_CALM).
        let r = p.inject_to_server(&enc(&provoke(kind, id)));
        assert!(r.is_err(), "{kind}");
        assert_eq!(
            conn_err(&p.server_errors),
            Some(ErrorCode::ENHANCE_YOUR_CALM),
            "{kind}"
        );
        let out = take_server_frames(&mut p);
        assert_eq!(
            goaway_of(&out).map(|g| g.1),
            Some(ErrorCode::ENHANCE_YOUR_CALM),
            "{kind}"
        );
        // Bounded: the dead connection takes more input without queuing output.
        for _ in 0..10 {
            let _ = p.inject_to_server(&enc(&provoke(kind, id + 2)));
        }
        let mut rest = Vec::new();
        assert_eq!(p.server.write_to(p.now, &mut rest, usize::MAX), 0, "{kind}");
        assert!(p.server.is_closed(), "{kind}");
    }
}

#[test]
fn streams_beyond_the_acknowledged_limit_count_as_provoked_resets() {
    let server = Config {
        max_concurrent_streams: 1,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), server);
    p.drive();
    // Stream 1 stays open; every further stream is refused.
    p.inject_to_server(&enc(&[headers(1, get_block("/"), false)]))
        .unwrap();
    let mut id = 3;
    let mut frames = Vec::new();
    for _ in 0..ABUSE_LIMIT {
        frames.push(headers(id, get_block("/"), true));
        id += 2;
    }
    p.inject_to_server(&enc(&frames)).unwrap();
    assert_eq!(rst_count(&take_server_frames(&mut p)), ABUSE_LIMIT as usize);
    let _ = p.inject_to_server(&enc(&[headers(id, get_block("/"), true)]));
    assert_eq!(
        conn_err(&p.server_errors),
        Some(ErrorCode::ENHANCE_YOUR_CALM)
    );
}

#[test]
fn completed_streams_offset_provoked_resets() {
    // A client that makes a mistake now and then but completes most streams
    // is never cut off: 3 000 provoked resets interleaved with 3 000
    // completed requests.
    let mut p = connected();
    let mut id = 1;
    for round in 0..30 {
        let mut frames = Vec::new();
        let mut good = Vec::new();
        for _ in 0..100 {
            frames.extend(provoke("window_update_0", id));
            id += 2;
            frames.push(headers(id, get_block("/"), true));
            good.push(id);
            id += 2;
        }
        p.inject_to_server(&enc(&frames))
            .unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        for g in good {
            p.server.send_response(g, ok(), true).unwrap();
        }
        take_server_frames(&mut p);
        p.poll_events();
    }
    assert!(p.server_errors.is_empty());
}

#[test]
fn the_client_role_does_not_count_resets() {
    // Stream errors a server provokes in a client are not an abuse signal
    // (the client chose to talk to it); only the server defends.
    let mut p = connected();
    for _ in 0..(ABUSE_LIMIT + 10) {
        let id = p.client.send_request(get("/"), true).unwrap();
        let mut sink = Vec::new();
        p.client.write_to(p.now, &mut sink, usize::MAX);
        // A response head without :status: a stream error in the client.
        p.inject_to_client(&enc(&[headers(id, block(&[("x", "y")]), true)]))
            .unwrap();
        sink.clear();
        p.client.write_to(p.now, &mut sink, usize::MAX);
        assert!(!sink.is_empty(), "RST_STREAM expected");
        while p.client.poll_event().is_some() {}
    }
    assert!(p.client_errors.is_empty());
}

/// A server fed the client preface, SETTINGS and the ACK of its own SETTINGS,
/// whose output is never read.
fn unread_server() -> Connection {
    let mut s = Connection::server(Config::default());
    let mut input = h2o::conn::PREFACE.to_vec();
    Frame::Settings {
        ack: false,
        settings: Settings::default(),
    }
    .encode(&mut input);
    Frame::Settings {
        ack: true,
        settings: Settings::default(),
    }
    .encode(&mut input);
    s.recv(Duration::ZERO, &input).unwrap();
    while s.poll_event().is_some() {}
    s
}

#[test]
fn a_client_that_never_reads_cannot_grow_queued_responses() {
    // GETs answered with response heads that never leave: the core refuses
    // the peer once CTRL_LIMIT bytes of control and header output are queued.
    let mut s = unread_server();
    let chunk_frames = 1000;
    let mut id = 1u32;
    let mut failed = None;
    for round in 0..200 {
        let mut input = Vec::new();
        for _ in 0..chunk_frames {
            headers(id, get_block("/"), true).encode(&mut input);
            id += 2;
        }
        if let Err(e) = s.recv(Duration::ZERO, &input) {
            failed = Some((round, e));
            break;
        }
        while let Some(ev) = s.poll_event() {
            if let Event::Request { stream_id, .. } = ev {
                let resp = http::Response::builder()
                    .status(200)
                    .header("x-pad", "0123456789")
                    .body(())
                    .unwrap();
                s.send_response(stream_id, resp, true).unwrap();
            }
        }
    }
    let (round, e) = failed.expect("the flood was never refused");
    assert!(
        matches!(
            e,
            h2o::Error::Connection {
                code: ErrorCode::ENHANCE_YOUR_CALM,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(round > 0, "refused before the limit");
    let mut out = Vec::new();
    let n = s.write_to(Duration::ZERO, &mut out, usize::MAX);
    // What was queued: at most the limit plus one round of responses (the
    // check runs after each recv), and the GOAWAY.
    assert!(n <= CTRL_LIMIT + chunk_frames * 64, "{n} bytes queued");
}

#[test]
fn a_ping_flood_that_never_reads_stays_bounded() {
    let mut s = unread_server();
    let per_recv = 4096;
    let mut refused = false;
    for round in 0..100u64 {
        let mut input = Vec::new();
        for i in 0..per_recv {
            Frame::Ping {
                ack: false,
                data: (round * per_recv + i).to_be_bytes(),
            }
            .encode(&mut input);
        }
        if s.recv(Duration::ZERO, &input).is_err() {
            refused = true;
            break;
        }
        while s.poll_event().is_some() {}
    }
    assert!(refused);
    let mut out = Vec::new();
    let n = s.write_to(Duration::ZERO, &mut out, usize::MAX);
    assert!(n <= CTRL_LIMIT + per_recv as usize * 17 + 256, "{n}");
}

// ---- two-phase graceful GOAWAY ----

fn client_goaways(p: &Pair) -> Vec<(u32, ErrorCode)> {
    goaways(&p.client_events)
}

#[test]
fn graceful_shutdown_serves_the_stream_in_flight_then_sends_the_real_goaway() {
    let mut p = connected();
    let done = p.client.send_request(get("/done"), true).unwrap();
    p.drive();
    p.server.send_response(done, ok(), true).unwrap();
    p.drive();
    // A request is on its way while the server starts shutting down: with a
    // one-phase GOAWAY(last = 1) it would be refused.
    let racing = p.client.send_request(get("/racing"), true).unwrap();
    p.server.shutdown_graceful(p.now);
    assert!(p.server.is_shutting_down());
    assert!(!p.server.is_closed());
    // One hop each way: the request reaches the server, GOAWAY(2^31-1) + PING
    // reach the client.
    p.step();
    assert!(request_ids(&p.server_events).contains(&racing));
    assert_eq!(client_goaways(&p), [((1 << 31) - 1, ErrorCode::NO_ERROR)]);
    // The client stops opening streams at the first GOAWAY.
    assert!(p.client.send_request(get("/late"), true).is_err());
    // The PING ACK comes back: the real GOAWAY names the racing stream.
    p.drive();
    assert!(!p.server.is_shutting_down());
    assert_eq!(
        client_goaways(&p),
        [
            ((1 << 31) - 1, ErrorCode::NO_ERROR),
            (racing, ErrorCode::NO_ERROR)
        ]
    );
    // The probe's ACK is not reported as an application PingAck.
    assert!(!p
        .server_events
        .iter()
        .any(|e| matches!(e, Event::PingAck(_))));
    // The in-flight stream finishes; then the connection is over.
    assert!(!p.server.is_closed());
    p.server.send_response(racing, ok(), true).unwrap();
    p.drive();
    assert!(closed(&p.client_events, racing));
    assert!(p.server.is_closed());
    assert!(p.server_errors.is_empty() && p.client_errors.is_empty());
}

#[test]
fn graceful_shutdown_accepts_streams_until_the_final_goaway_and_refuses_after() {
    let mut p = connected();
    p.server.shutdown_graceful(p.now);
    // Take the server's GOAWAY(2^31-1) + PING without delivering them:
    // the client does not know yet and opens a stream (raw).
    let first = take_server_frames(&mut p);
    assert_eq!(
        goaway_of(&first),
        Some(((1 << 31) - 1, ErrorCode::NO_ERROR))
    );
    assert!(first.contains(&Frame::Ping {
        ack: false,
        data: SHUTDOWN_PAYLOAD
    }));
    p.inject_to_server(&enc(&[headers(1, get_block("/a"), true)]))
        .unwrap();
    p.poll_events();
    assert_eq!(request_ids(&p.server_events), [1]);
    // The ACK arrives: final GOAWAY(1).
    p.inject_to_server(&enc(&[Frame::Ping {
        ack: true,
        data: SHUTDOWN_PAYLOAD,
    }]))
    .unwrap();
    let second = take_server_frames(&mut p);
    assert_eq!(goaway_of(&second), Some((1, ErrorCode::NO_ERROR)));
    // A stream above it is refused.
    p.inject_to_server(&enc(&[headers(3, get_block("/b"), true)]))
        .unwrap();
    let third = take_server_frames(&mut p);
    assert!(third.contains(&Frame::RstStream {
        stream_id: 3,
        code: ErrorCode::REFUSED_STREAM
    }));
    p.poll_events();
    assert_eq!(request_ids(&p.server_events), [1]);
    p.server.send_response(1, ok(), true).unwrap();
    take_server_frames(&mut p);
    assert!(p.server.is_closed());
}

#[test]
fn graceful_shutdown_without_ack_times_out_through_poll_timeout() {
    let mut p = Pair::new(
        Config::default(),
        Config {
            graceful_shutdown_timeout: Duration::from_millis(250),
            ..Config::default()
        },
    );
    p.drive();
    p.now = Duration::from_secs(7);
    p.server.shutdown_graceful(p.now);
    assert_eq!(
        p.server.poll_timeout(),
        Some(Duration::from_secs(7) + Duration::from_millis(250))
    );
    // The client never answers: its output is dropped.
    let first = take_server_frames(&mut p);
    assert_eq!(goaway_of(&first).map(|g| g.0), Some((1 << 31) - 1));
    p.server.handle_timeout(Duration::from_millis(7249));
    assert!(goaway_of(&take_server_frames(&mut p)).is_none());
    p.server.handle_timeout(Duration::from_millis(7250));
    assert_eq!(
        goaway_of(&take_server_frames(&mut p)),
        Some((0, ErrorCode::NO_ERROR))
    );
    assert_eq!(p.server.poll_timeout(), None);
    assert!(p.server.is_closed());
}

#[test]
fn graceful_shutdown_timer_fires_in_a_driven_pair() {
    // Pair::drive jumps simulated time to the timer when the ACK never comes
    // (here: the client connection is replaced by silence after the first hop).
    let mut p = connected();
    let id = p.client.send_request(get("/slow"), true).unwrap();
    p.drive();
    p.server.shutdown_graceful(p.now);
    let t0 = p.now;
    // Deliver nothing to the client; only time moves.
    take_server_frames(&mut p);
    let deadline = p.server.poll_timeout().unwrap();
    assert_eq!(deadline, t0 + Config::default().graceful_shutdown_timeout);
    p.now = deadline;
    p.server.handle_timeout(p.now);
    assert_eq!(
        goaway_of(&take_server_frames(&mut p)),
        Some((id, ErrorCode::NO_ERROR))
    );
    // The stream below the final GOAWAY still completes.
    p.server.send_response(id, ok(), true).unwrap();
    p.drive();
    assert!(closed(&p.client_events, id));
    assert!(p.server.is_closed());
}

#[test]
fn graceful_then_immediate_shutdown_sends_the_final_goaway_at_once() {
    let mut p = connected();
    p.server.shutdown_graceful(p.now);
    p.server.shutdown(ErrorCode::NO_ERROR);
    assert!(!p.server.is_shutting_down());
    let out = take_server_frames(&mut p);
    let gs: Vec<u32> = out
        .iter()
        .filter_map(|f| match f {
            Frame::GoAway { last_stream_id, .. } => Some(*last_stream_id),
            _ => None,
        })
        .collect();
    assert_eq!(gs, [(1 << 31) - 1, 0]);
    // A repeated call is a no-op.
    p.server.shutdown_graceful(p.now);
    assert!(take_server_frames(&mut p).is_empty());
}

#[test]
fn an_unrelated_ping_ack_with_the_shutdown_payload_is_reported() {
    let mut p = connected();
    p.inject_to_server(&enc(&[Frame::Ping {
        ack: true,
        data: SHUTDOWN_PAYLOAD,
    }]))
    .unwrap();
    p.poll_events();
    assert!(p
        .server_events
        .iter()
        .any(|e| matches!(e, Event::PingAck(d) if *d == SHUTDOWN_PAYLOAD)));
}

#[test]
fn tiny_data_frames_the_application_does_not_take_are_bounded() {
    // 1-byte DATA frames while events are not taken (the adapter cannot
    // write, so it does not poll): the event queue is capped.
    let mut s = unread_server();
    let mut input = Vec::new();
    headers(1, get_block("/"), false).encode(&mut input);
    for _ in 0..20_000 {
        data(1, b"x", false).encode(&mut input);
    }
    let e = s.recv(Duration::ZERO, &input).unwrap_err();
    assert!(
        matches!(
            e,
            h2o::Error::Connection {
                code: ErrorCode::ENHANCE_YOUR_CALM,
                ..
            }
        ),
        "{e:?}"
    );
    // Below the cap, untaken events are fine (backpressure, not abuse).
    let mut s = unread_server();
    let mut input = Vec::new();
    headers(1, get_block("/"), false).encode(&mut input);
    for _ in 0..10_000 {
        data(1, b"x", false).encode(&mut input);
    }
    s.recv(Duration::ZERO, &input).unwrap();
    let mut n = 0;
    while s.poll_event().is_some() {
        n += 1;
    }
    assert_eq!(n, 10_001);
}
