//! Robustness: arbitrary frame sequences and raw bytes from the peer never panic,
//! and the connection keeps a consistent state (it either works or is closed
//! after an error).

mod common;
use common::*;

use bytes::Bytes;
use h2o::frame::{Frame, PrioritySpec, Settings};
use h2o::ErrorCode;
use proptest::prelude::*;
use std::time::Duration;

fn arb_frame() -> impl Strategy<Value = Frame> {
    let sid = 0u32..10;
    let payload = proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from);
    prop_oneof![
        (sid.clone(), any::<bool>(), payload.clone()).prop_map(|(s, e, d)| Frame::Data {
            stream_id: s.max(1),
            end_stream: e,
            flow_len: d.len() as u32,
            data: d
        }),
        (sid.clone(), any::<bool>(), any::<bool>(), 0usize..4).prop_map(|(s, e, h, k)| {
            let b = match k {
                0 => get_block("/f"),
                1 => block(&[(":status", "200")]),
                2 => block(&[("x-t", "1")]),
                _ => Bytes::from_static(&[0x82, 0x87]),
            };
            Frame::Headers {
                stream_id: s.max(1),
                end_stream: e,
                end_headers: h,
                priority: None,
                block: b,
            }
        }),
        (sid.clone(), any::<bool>(), payload.clone()).prop_map(|(s, h, b)| Frame::Continuation {
            stream_id: s.max(1),
            end_headers: h,
            block: b
        }),
        (sid.clone(), 0u32..10).prop_map(|(s, d)| Frame::Priority {
            stream_id: s.max(1),
            spec: PrioritySpec {
                exclusive: false,
                dependency: d,
                weight: 1
            }
        }),
        (sid.clone(), 0u32..14).prop_map(|(s, c)| Frame::RstStream {
            stream_id: s.max(1),
            code: ErrorCode(c)
        }),
        (any::<bool>(), proptest::option::of(0u32..100_000)).prop_map(|(a, w)| Frame::Settings {
            ack: a,
            settings: Settings {
                initial_window_size: w,
                ..Settings::default()
            }
        }),
        any::<[u8; 8]>().prop_map(|d| Frame::Ping {
            ack: false,
            data: d
        }),
        (sid.clone(), 0u32..14).prop_map(|(s, c)| Frame::GoAway {
            last_stream_id: s,
            code: ErrorCode(c),
            debug: Bytes::new()
        }),
        (sid.clone(), 1u32..(1 << 31) - 1).prop_map(|(s, i)| Frame::WindowUpdate {
            stream_id: s,
            increment: i
        }),
        (sid, payload).prop_map(|(s, v)| Frame::PriorityUpdate {
            prioritized_id: s.max(1),
            field_value: v
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn frames_never_panic(frames in proptest::collection::vec(arb_frame(), 1..12), to_client in any::<bool>()) {
        let mut p = connected();
        let a = p.client.send_request(post("/a"), false).unwrap();
        p.drive();
        let _ = p.server.send_response(a, ok(), false);
        p.drive();
        let bytes = enc(&frames);
        if to_client {
            let _ = p.inject_to_client(&bytes);
        } else {
            let _ = p.inject_to_server(&bytes);
        }
        let _ = p.client.send_data(a, Bytes::from_static(b"more"), true);
        let _ = p.server.send_data(a, Bytes::from_static(b"more"), true);
        p.drive();
        // After a connection error, the failing side is closed.
        if !p.server_errors.is_empty() {
            prop_assert!(p.server.is_closed());
        }
        if !p.client_errors.is_empty() {
            prop_assert!(p.client.is_closed());
        }
    }

    #[test]
    fn raw_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..200), to_client in any::<bool>()) {
        let mut p = connected();
        let a = p.client.send_request(get("/a"), true).unwrap();
        p.drive();
        if to_client {
            let _ = p.inject_to_client(&raw);
        } else {
            let _ = p.inject_to_server(&raw);
        }
        let _ = p.server.send_response(a, ok(), true);
        p.drive();
        let mut s = h2o::Connection::server(h2o::conn::Config::default());
        let _ = s.recv(Duration::ZERO, &raw);
    }
}
