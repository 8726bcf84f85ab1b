//! RFC 9218 priorities: scheduler order observed in the emitted DATA order, the
//! `priority` request header, PRIORITY_UPDATE, deprecated PRIORITY frames.

mod common;
use common::*;

use bytes::Bytes;
use h2o::conn::{Event, Priority};
use h2o::frame::{Frame, PrioritySpec};
use h2o::pair::Pair;
use h2o::ErrorCode;

fn req_with_priority(path: &str, prio: Option<&str>) -> http::Request<()> {
    let mut b = http::Request::builder()
        .method("GET")
        .uri(format!("https://example.com{path}"));
    if let Some(v) = prio {
        b = b.header("priority", v);
    }
    b.body(()).unwrap()
}

fn data_order(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Data { stream_id, .. } => Some(*stream_id),
            _ => None,
        })
        .collect()
}

/// Opens streams with the given priority headers, then the server queues
/// `frames` full DATA frames for each before writing anything.
fn run(prios: &[Option<&str>], frames: usize) -> (Pair, Vec<u32>) {
    let mut p = connected();
    let ids: Vec<u32> = prios
        .iter()
        .enumerate()
        .map(|(i, pr)| {
            p.client
                .send_request(req_with_priority(&format!("/{i}"), *pr), true)
                .unwrap()
        })
        .collect();
    p.drive();
    for &id in &ids {
        p.server.send_response(id, ok(), false).unwrap();
        p.server
            .send_data(id, pattern(16_384 * frames), true)
            .unwrap();
    }
    p.drive();
    let order = data_order(&p.client_events);
    assert_eq!(order.len(), ids.len() * frames);
    (p, order)
}

#[test]
fn urgency_then_sequential_then_round_robin() {
    let (_p, order) = run(
        &[
            Some("u=3"),      // 1
            None,             // 3 (default u=3)
            Some("u=1, i"),   // 5
            Some("u=1,i"),    // 7
            Some("u=0"),      // 9
            Some("garbage="), // 11: malformed → default
        ],
        3,
    );
    assert_eq!(
        order,
        [9, 9, 9, 5, 7, 5, 7, 5, 7, 1, 1, 1, 3, 3, 3, 11, 11, 11]
    );
}

#[test]
fn non_incremental_before_incremental_in_same_urgency() {
    let (_p, order) = run(&[Some("u=2, i"), Some("u=2, i"), Some("u=2")], 2);
    assert_eq!(order, [5, 5, 1, 3, 1, 3]);
}

#[test]
fn priority_update_reorders() {
    let mut p = connected();
    let a = p
        .client
        .send_request(req_with_priority("/a", None), true)
        .unwrap();
    let b = p
        .client
        .send_request(req_with_priority("/b", None), true)
        .unwrap();
    p.drive();
    let hi = Priority {
        urgency: 0,
        incremental: false,
    };
    p.client.set_priority(b, hi).unwrap();
    p.drive();
    assert!(p.server_events.iter().any(
        |e| matches!(e, Event::PriorityUpdate { stream_id, priority } if *stream_id == b && *priority == hi)
    ));
    for id in [a, b] {
        p.server.send_response(id, ok(), false).unwrap();
        p.server.send_data(id, pattern(40_000), true).unwrap();
    }
    p.drive();
    assert_eq!(data_order(&p.client_events), [b, b, b, a, a, a]);
}

#[test]
fn priority_update_while_queued() {
    // Reprioritizing a stream that already sits in the scheduler moves it.
    let mut p = connected();
    let a = p
        .client
        .send_request(req_with_priority("/a", None), true)
        .unwrap();
    let b = p
        .client
        .send_request(req_with_priority("/b", None), true)
        .unwrap();
    p.drive();
    for id in [a, b] {
        p.server.send_response(id, ok(), false).unwrap();
        p.server.send_data(id, pattern(40_000), true).unwrap();
    }
    let f = Frame::PriorityUpdate {
        prioritized_id: b,
        field_value: Bytes::from_static(b"u=1"),
    };
    p.inject_to_server(&enc(&[f])).unwrap();
    p.drive();
    assert_eq!(data_order(&p.client_events), [b, b, b, a, a, a]);
}

#[test]
fn priority_update_edge_cases() {
    // Unknown (idle) stream and invalid value: ignored.
    let mut p = connected();
    let f1 = Frame::PriorityUpdate {
        prioritized_id: 41,
        field_value: Bytes::from_static(b"u=1"),
    };
    let f2 = Frame::PriorityUpdate {
        prioritized_id: 1,
        field_value: Bytes::from_static(b"u=1,,,"),
    };
    p.inject_to_server(&enc(&[f1, f2])).unwrap();
    assert!(p.server_errors.is_empty());
    // Server-initiated (even) stream: PROTOCOL_ERROR.
    let f = Frame::PriorityUpdate {
        prioritized_id: 2,
        field_value: Bytes::from_static(b"u=1"),
    };
    let _ = p.inject_to_server(&enc(&[f]));
    assert_eq!(conn_err(&p.server_errors), Some(ErrorCode::PROTOCOL_ERROR));
    // A client receiving PRIORITY_UPDATE: PROTOCOL_ERROR.
    let mut p = connected();
    let f = Frame::PriorityUpdate {
        prioritized_id: 1,
        field_value: Bytes::from_static(b"u=1"),
    };
    let _ = p.inject_to_client(&enc(&[f]));
    assert_eq!(conn_err(&p.client_errors), Some(ErrorCode::PROTOCOL_ERROR));
    // set_priority is client-only and for known streams.
    assert!(p.server.set_priority(1, Priority::default()).is_err());
}

#[test]
fn deprecated_priority_frames_ignored() {
    let mut p = connected();
    let a = p.client.send_request(get("/"), true).unwrap();
    p.drive();
    let f = Frame::Priority {
        stream_id: a,
        spec: PrioritySpec {
            exclusive: true,
            dependency: 0,
            weight: 200,
        },
    };
    p.inject_to_server(&enc(&[f])).unwrap();
    assert!(p.server_errors.is_empty());
    // HEADERS carrying the PRIORITY flag are fine too.
    let h = Frame::Headers {
        stream_id: 3,
        end_stream: true,
        end_headers: true,
        priority: Some(PrioritySpec {
            exclusive: false,
            dependency: 1,
            weight: 10,
        }),
        block: get_block("/p"),
    };
    p.inject_to_server(&enc(&[h])).unwrap();
    p.poll_events();
    assert_eq!(request_ids(&p.server_events), [a, 3]);
}

#[test]
fn priority_update_before_stream_opens() {
    let mut p = connected();
    let f = Frame::PriorityUpdate {
        prioritized_id: 3,
        field_value: Bytes::from_static(b"u=0"),
    };
    p.inject_to_server(&enc(&[f])).unwrap();
    let a = p
        .client
        .send_request(req_with_priority("/a", None), true)
        .unwrap();
    let b = p
        .client
        .send_request(req_with_priority("/b", Some("u=5")), true)
        .unwrap();
    assert_eq!(b, 3);
    p.drive();
    for id in [a, b] {
        p.server.send_response(id, ok(), false).unwrap();
        p.server.send_data(id, pattern(40_000), true).unwrap();
    }
    p.drive();
    assert_eq!(data_order(&p.client_events), [b, b, b, a, a, a]);
}
