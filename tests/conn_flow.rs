//! Flow control (RFC 9113 §5.2, §6.9): large bodies through default and minimal
//! windows, batched WINDOW_UPDATEs, overflow and overrun errors, SETTINGS
//! INITIAL_WINDOW_SIZE changes.

mod common;
use common::*;

use bytes::Bytes;
use h2o::conn::{Config, Event};
use h2o::frame::{Frame, Settings};
use h2o::pair::Pair;
use h2o::ErrorCode;

const FIVE_MIB: usize = 5 << 20;

fn transfer(client_cfg: Config, server_cfg: Config, limit: usize) -> Pair {
    let mut p = Pair::new(client_cfg, server_cfg);
    p.write_limit = limit;
    p.drive();
    let body = pattern(FIVE_MIB);
    let id = p.client.send_request(post("/big"), false).unwrap();
    p.client.send_data(id, body.clone(), true).unwrap();
    p.drive();
    assert!(p.server_errors.is_empty() && p.client_errors.is_empty());
    let (got, end) = body_of(&p.server_events, id);
    assert!(end);
    assert!(got == body[..], "upload corrupted");
    p.server.send_response(id, ok(), false).unwrap();
    p.server.send_data(id, body.clone(), true).unwrap();
    p.drive();
    let (got, end) = body_of(&p.client_events, id);
    assert!(end);
    assert!(got == body[..], "download corrupted");
    assert!(closed(&p.client_events, id) && closed(&p.server_events, id));
    p
}

#[test]
fn five_mib_default_windows() {
    transfer(Config::default(), Config::default(), 1 << 20);
}

#[test]
fn five_mib_through_65535_windows() {
    let small = Config {
        initial_window_size: 65_535,
        connection_window_size: 65_535,
        ..Config::default()
    };
    let p = transfer(small.clone(), small, 1 << 20);
    // 5 MiB each way through a 64 KiB window needs at least 80 round trips of
    // WINDOW_UPDATEs; batching keeps the overhead small: one update per ≥32 KiB
    // per scope, 13 bytes each, so well under 1% extra bytes.
    let overhead = p.bytes_to_server + p.bytes_to_client - 2 * FIVE_MIB as u64;
    assert!(overhead < (2 * FIVE_MIB as u64) / 50, "overhead {overhead}");
}

#[test]
fn small_write_limit_still_completes() {
    transfer(Config::default(), Config::default(), 1000);
}

#[test]
fn window_updates_are_batched() {
    let mut p = connected();
    let id = p.client.send_request(post("/"), false).unwrap();
    p.client.send_data(id, pattern(100_000), true).unwrap();
    // Move client output to the server without polling events: no WINDOW_UPDATE yet.
    let mut buf = Vec::new();
    p.client.write_to(p.now, &mut buf, usize::MAX);
    p.server.recv(p.now, &buf).unwrap();
    buf.clear();
    p.server.write_to(p.now, &mut buf, usize::MAX);
    assert!(
        buf.is_empty(),
        "no WINDOW_UPDATE before the data is consumed"
    );
    // Consume: stream target is 1 MiB, conn 16 MiB, so 100 KB releases nothing yet
    // (and the stream is finished anyway).
    while p.server.poll_event().is_some() {}
    p.server.write_to(p.now, &mut buf, usize::MAX);
    assert!(
        buf.is_empty(),
        "updates are batched, got {} bytes",
        buf.len()
    );
}

#[test]
fn receive_window_is_backpressure() {
    // Without taking events, the client's window of 65535 fills and stops.
    let small = Config {
        initial_window_size: 65_535,
        connection_window_size: 65_535,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), small);
    p.drive();
    p.auto_poll = false;
    let id = p.client.send_request(post("/"), false).unwrap();
    p.client.send_data(id, pattern(200_000), true).unwrap();
    p.drive();
    assert_eq!(p.client.queued_len(id), Some(200_000 - 65_535));
    assert_eq!(p.client.send_window(id), Some(0));
    p.auto_poll = true;
    p.drive();
    assert_eq!(body_of(&p.server_events, id).0.len(), 200_000);
}

#[test]
fn peer_overruns_stream_window() {
    let small = Config {
        initial_window_size: 65_535,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), small);
    p.drive();
    p.inject_to_server(&enc(&[headers(1, get_block("/"), false)]))
        .unwrap();
    let chunk = Bytes::from(vec![0u8; 16_384]);
    let frames: Vec<Frame> = (0..5)
        .map(|_| Frame::Data {
            stream_id: 1,
            end_stream: false,
            data: chunk.clone(),
            flow_len: 16_384,
        })
        .collect();
    p.inject_to_server(&enc(&frames)).unwrap();
    let mut buf = Vec::new();
    p.server.write_to(p.now, &mut buf, usize::MAX);
    let mut dec = h2o::frame::FrameDecoder::default();
    dec.push(&buf);
    let out: Vec<Frame> = dec.frames().map(|f| f.unwrap()).collect();
    assert!(out.contains(&Frame::RstStream {
        stream_id: 1,
        code: ErrorCode::FLOW_CONTROL_ERROR
    }));
}

#[test]
fn peer_overruns_connection_window() {
    let small = Config {
        connection_window_size: 65_535,
        initial_window_size: 1 << 20,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), small);
    p.drive();
    let chunk = Bytes::from(vec![0u8; 16_384]);
    let mut frames = Vec::new();
    for id in [1u32, 3] {
        frames.push(headers(id, get_block("/"), false));
        for _ in 0..3 {
            frames.push(Frame::Data {
                stream_id: id,
                end_stream: false,
                data: chunk.clone(),
                flow_len: 16_384,
            });
        }
    }
    let _ = p.inject_to_server(&enc(&frames));
    assert_eq!(
        conn_err(&p.server_errors),
        Some(ErrorCode::FLOW_CONTROL_ERROR)
    );
}

#[test]
fn window_update_overflow() {
    // Connection scope: connection error.
    let mut p = connected();
    let _ = p.inject_to_client(&enc(&[Frame::WindowUpdate {
        stream_id: 0,
        increment: (1 << 31) - 1,
    }]));
    assert_eq!(
        conn_err(&p.client_errors),
        Some(ErrorCode::FLOW_CONTROL_ERROR)
    );
    // Stream scope: stream error.
    let mut p = connected();
    let id = p.client.send_request(post("/"), false).unwrap();
    p.drive();
    p.inject_to_client(&enc(&[Frame::WindowUpdate {
        stream_id: id,
        increment: (1 << 31) - 1,
    }]))
    .unwrap();
    p.drive();
    assert!(resets(&p.client_events).contains(&(id, ErrorCode::FLOW_CONTROL_ERROR, false)));
    assert!(resets(&p.server_events).contains(&(id, ErrorCode::FLOW_CONTROL_ERROR, true)));
}

#[test]
fn initial_window_size_change_applies_to_open_streams() {
    let small = Config {
        initial_window_size: 65_535,
        connection_window_size: 65_535,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), small);
    p.drive();
    p.auto_poll = false;
    let id = p.client.send_request(post("/"), false).unwrap();
    p.client.send_data(id, pattern(100_000), false).unwrap();
    p.drive();
    assert_eq!(p.client.send_window(id), Some(0));
    // The server lowers INITIAL_WINDOW_SIZE by 1000: the window goes negative.
    let f = Frame::Settings {
        ack: false,
        settings: Settings {
            initial_window_size: Some(64_535),
            ..Settings::default()
        },
    };
    p.inject_to_client(&enc(&[f])).unwrap();
    p.client.poll_event();
    // A stream WINDOW_UPDATE of 1000 only brings it back to 0.
    p.inject_to_client(&enc(&[Frame::WindowUpdate {
        stream_id: id,
        increment: 1000,
    }]))
    .unwrap();
    assert_eq!(p.client.send_window(id), Some(0));
    // Raising it makes room again.
    let f = Frame::Settings {
        ack: false,
        settings: Settings {
            initial_window_size: Some(70_535),
            ..Settings::default()
        },
    };
    p.inject_to_client(&enc(&[f])).unwrap();
    assert_eq!(p.client.send_window(id), Some(6000));
    // Overflow through SETTINGS is a connection FLOW_CONTROL_ERROR.
    p.inject_to_client(&enc(&[Frame::WindowUpdate {
        stream_id: id,
        increment: (1 << 31) - 1 - 6000,
    }]))
    .unwrap();
    let f = Frame::Settings {
        ack: false,
        settings: Settings {
            initial_window_size: Some(70_536),
            ..Settings::default()
        },
    };
    let _ = p.inject_to_client(&enc(&[f]));
    assert_eq!(
        conn_err(&p.client_errors),
        Some(ErrorCode::FLOW_CONTROL_ERROR)
    );
}

#[test]
fn padding_counts_against_windows() {
    // A padded DATA frame (built by hand) of 10 data bytes + 100 padding.
    let mut p = connected();
    p.inject_to_server(&enc(&[headers(1, get_block("/"), false)]))
        .unwrap();
    let mut raw = Vec::new();
    let hdr = h2o::frame::FrameHeader {
        len: 111,
        ty: 0,
        flags: h2o::frame::flags::PADDED | h2o::frame::flags::END_STREAM,
        stream_id: 1,
    };
    raw.extend_from_slice(&hdr.to_bytes());
    raw.push(100);
    raw.extend_from_slice(b"0123456789");
    raw.extend_from_slice(&[0u8; 100]);
    p.inject_to_server(&raw).unwrap();
    p.poll_events();
    assert_eq!(body_of(&p.server_events, 1), (b"0123456789".to_vec(), true));
    assert!(p
        .server_events
        .iter()
        .all(|e| !matches!(e, Event::Reset { .. })));
}

/// Manual release (`set_manual_release` / `release_capacity`): taking DATA
/// events returns no credit; the windows reopen only by the bytes released,
/// and bytes held when the stream ends go back to the connection window.
#[test]
fn manual_release_keeps_the_window_closed_until_released() {
    const W: usize = 65_535;
    let small = Config {
        initial_window_size: W as u32,
        connection_window_size: W as u32,
        adaptive_window: false,
        ..Config::default()
    };
    let mut p = Pair::new(small.clone(), small);
    p.drive();
    let id = p.client.send_request(post("/up"), false).unwrap();
    p.drive();
    p.server.set_manual_release(id).unwrap();
    let body = pattern(4 * W + 100);
    p.client.send_data(id, body.clone(), true).unwrap();
    p.drive();
    let got = |p: &Pair| body_of(&p.server_events, id).0.len();
    assert_eq!(got(&p), W, "exactly one window arrives");
    assert_eq!(p.server.held_capacity(id), W);
    // Taking the events returned nothing: more driving moves no data.
    for _ in 0..3 {
        p.drive();
    }
    assert_eq!(got(&p), W, "window reopened without a release");
    assert_eq!(p.client.queued_len(id), Some(body.len() - W));
    // Half a window released: the batched WINDOW_UPDATEs let that much in.
    p.server.release_capacity(id, W / 2 + 1);
    p.drive();
    assert_eq!(got(&p), W + W / 2 + 1);
    // Releasing more than held is clamped to what is held.
    p.server.release_capacity(id, usize::MAX);
    assert_eq!(p.server.held_capacity(id), 0);
    while got(&p) < body.len() {
        let before = got(&p);
        p.server.release_capacity(id, usize::MAX);
        p.drive();
        assert!(got(&p) > before, "stalled at {before}");
    }
    let (data, end) = body_of(&p.server_events, id);
    assert!(end && data == body[..], "body corrupted");
    p.server.release_capacity(id, usize::MAX);

    // A stream that ends holding credit returns it to the connection: after
    // its reset the client has a whole connection window again.
    let id2 = p.client.send_request(post("/up2"), false).unwrap();
    p.drive();
    p.server.set_manual_release(id2).unwrap();
    p.client.send_data(id2, pattern(W), false).unwrap();
    p.drive();
    assert!(p.server.held_capacity(id2) > W / 2);
    assert!(p.client.connection_send_window() < W as u32 / 2);
    p.client.reset(id2, ErrorCode::CANCEL).unwrap();
    p.drive();
    assert_eq!(p.server.held_capacity(id2), 0);
    assert_eq!(p.client.connection_send_window(), W as u32, "credit leaked");
    // Unknown streams are ignored; manual release needs a live stream.
    p.server.release_capacity(id2, 10);
    assert!(p.server.set_manual_release(id2).is_err());
}
