//! WebSocket connection core (RFC 6455): round trips, fragmentation, close
//! handshake, every protocol error with its close code, split input, proptest.

use bytes::Bytes;
use h2o::ws::frame::{parse_header, write_header};
use h2o::ws::{CloseCode, Config, Event, Message, OpCode, Role, SendError, Utf8Bytes, WebSocket};
use proptest::prelude::*;

fn client() -> WebSocket {
    WebSocket::new(
        Role::Client,
        Config {
            mask_seed: 42,
            ..Config::default()
        },
    )
}
fn server() -> WebSocket {
    WebSocket::new(Role::Server, Config::default())
}

fn take_out(ws: &mut WebSocket) -> Vec<u8> {
    let mut v = Vec::new();
    ws.write_to(&mut v);
    v
}

fn events(ws: &mut WebSocket) -> Vec<Event> {
    std::iter::from_fn(|| ws.poll_event()).collect()
}

fn pump(from: &mut WebSocket, to: &mut WebSocket) -> Result<usize, h2o::ws::Error> {
    let b = take_out(from);
    to.recv(&b)
}

fn text(s: &str) -> Event {
    Event::Message(Message::Text(Utf8Bytes::from(s)))
}
fn binary(b: &[u8]) -> Event {
    Event::Message(Message::Binary(Bytes::copy_from_slice(b)))
}

/// A raw frame with an explicit first byte (FIN/RSV/opcode), masked if `mask`.
fn raw(b0: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    // write_header sets FIN/opcode; patch the first byte afterwards.
    write_header(&mut out, true, OpCode::Binary, mask, payload.len() as u64);
    out[0] = b0;
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(m) = mask {
        h2o::ws::apply_mask(&mut out[start..], m, 0);
    }
    out
}
/// A masked frame as a client sends it.
fn cf(b0: u8, payload: &[u8]) -> Vec<u8> {
    raw(b0, Some([0xA1, 0xB2, 0xC3, 0xD4]), payload)
}

/// Decodes the close frame(s) a WebSocket wrote; returns the code of the first.
fn written_close_code(ws: &mut WebSocket) -> Option<u16> {
    let out = take_out(ws);
    let mut pos = 0;
    while pos < out.len() {
        let (h, n) = parse_header(&out[pos..]).unwrap().unwrap();
        let mut p = out[pos + n..pos + n + h.payload_len as usize].to_vec();
        if let Some(m) = h.mask {
            h2o::ws::apply_mask(&mut p, m, 0);
        }
        if h.opcode == OpCode::Close {
            return Some(if p.len() >= 2 {
                u16::from_be_bytes([p[0], p[1]])
            } else {
                1005
            });
        }
        pos += n + h.payload_len as usize;
    }
    None
}

/// Server receives `bytes`; expect an error with `code` and a close frame with it.
fn server_fails(bytes: &[u8], code: u16) {
    let mut s = server();
    let e = s.recv(bytes).unwrap_err();
    assert_eq!(e.code(), CloseCode(code), "{e}");
    assert!(s.is_closed());
    assert_eq!(written_close_code(&mut s), Some(code));
    // Sticky: later input gives the same error.
    assert_eq!(s.recv(&cf(0x81, b"x")).unwrap_err(), e);
    assert_eq!(s.send_text("x"), Err(SendError::Closed));
}

#[test]
fn round_trip_sizes_both_directions() {
    for &n in &[0usize, 1, 125, 126, 65535, 65536, 16 << 20] {
        let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        let s_text: String = (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let (mut c, mut s) = (client(), server());
        c.send_binary(&data).unwrap();
        c.send_text(&s_text).unwrap();
        pump(&mut c, &mut s).unwrap();
        let ev = events(&mut s);
        assert_eq!(ev.len(), 2);
        assert!(ev[0] == binary(&data), "binary {n}");
        assert!(ev[1] == text(&s_text), "text {n}");
        s.send_binary(&data).unwrap();
        s.send_text(&s_text).unwrap();
        pump(&mut s, &mut c).unwrap();
        let ev = events(&mut c);
        assert!(
            ev[0] == binary(&data) && ev[1] == text(&s_text),
            "server->client {n}"
        );
    }
}

#[test]
fn client_masks_server_does_not() {
    let (mut c, mut s) = (client(), server());
    c.send_text("hello").unwrap();
    let out = take_out(&mut c);
    let (h, _) = parse_header(&out).unwrap().unwrap();
    assert!(h.mask.is_some());
    assert_ne!(&out[6..], b"hello");
    s.send_text("hello").unwrap();
    let out = take_out(&mut s);
    assert_eq!(out, b"\x81\x05hello");
}

#[test]
fn mask_source_is_used() {
    let mut c = WebSocket::with_mask_source(Role::Client, Config::default(), || [1, 2, 3, 4]);
    c.send_binary(b"").unwrap();
    assert_eq!(take_out(&mut c), [0x82, 0x80, 1, 2, 3, 4]);
}

#[test]
fn fragmented_with_interleaved_ping() {
    let (mut c, mut s) = (client(), server());
    c.send_fragment(OpCode::Text, "Hé".as_bytes()[..2].as_ref(), false)
        .unwrap();
    c.send_ping(b"p1").unwrap();
    c.send_fragment(OpCode::Continuation, &"Hé".as_bytes()[2..], false)
        .unwrap();
    c.send_fragment(OpCode::Continuation, b"llo", true).unwrap();
    c.send_fragment(OpCode::Binary, b"ab", false).unwrap();
    assert_eq!(c.send_text("no"), Err(SendError::FragmentState));
    assert_eq!(
        c.send_fragment(OpCode::Text, b"no", true),
        Err(SendError::FragmentState)
    );
    c.send_fragment(OpCode::Continuation, b"cd", true).unwrap();
    assert_eq!(
        c.send_fragment(OpCode::Continuation, b"x", true),
        Err(SendError::FragmentState)
    );
    assert_eq!(
        c.send_fragment(OpCode::Ping, b"x", true),
        Err(SendError::NotDataOpCode)
    );
    pump(&mut c, &mut s).unwrap();
    assert_eq!(
        events(&mut s),
        vec![
            Event::Ping(Bytes::from_static(b"p1")),
            text("Héllo"),
            binary(b"abcd")
        ]
    );
    // Auto pong went back.
    pump(&mut s, &mut c).unwrap();
    assert_eq!(events(&mut c), vec![Event::Pong(Bytes::from_static(b"p1"))]);
}

fn mixed_sequence() -> Vec<u8> {
    let mut c = client();
    c.send_text("hi €").unwrap();
    c.send_fragment(OpCode::Binary, &[1, 2, 3], false).unwrap();
    c.send_pong(b"pp").unwrap();
    c.send_fragment(OpCode::Continuation, &[4; 130], true)
        .unwrap();
    c.send_ping(b"").unwrap();
    c.send_binary(&[9; 300]).unwrap();
    c.close(CloseCode::NORMAL, "done").unwrap();
    take_out(&mut c)
}

#[test]
fn split_input_at_every_boundary() {
    let bytes = mixed_sequence();
    let mut s = server();
    s.recv(&bytes).unwrap();
    let want = events(&mut s);
    assert_eq!(want.len(), 6);
    for i in 0..=bytes.len() {
        let mut s = server();
        s.recv(&bytes[..i]).unwrap();
        s.recv(&bytes[i..]).unwrap();
        assert_eq!(events(&mut s), want, "split at {i}");
    }
    let mut s = server();
    for b in &bytes {
        s.recv(std::slice::from_ref(b)).unwrap();
    }
    assert_eq!(events(&mut s), want, "byte by byte");
    assert!(s.is_closed());
}

#[test]
fn recv_buf_owned_chunks() {
    let bytes = mixed_sequence();
    let mut s = server();
    s.recv(&bytes).unwrap();
    let want = events(&mut s);
    for step in [1usize, 5, 17, 200, bytes.len()] {
        let mut s = server();
        for c in bytes.chunks(step) {
            assert_eq!(s.recv_buf(bytes::BytesMut::from(c)).unwrap(), c.len());
        }
        assert_eq!(events(&mut s), want, "step {step}");
    }
}

#[test]
fn protocol_errors_at_server() {
    // Reserved opcodes.
    for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        server_fails(&cf(0x80 | op, b""), 1002);
    }
    // Reserved bits.
    for rsv in [0x40u8, 0x20, 0x10] {
        server_fails(&cf(0x81 | rsv, b"a"), 1002);
    }
    // Unmasked frame from a client.
    server_fails(&raw(0x81, None, b"hi"), 1002);
    // Control frame > 125 bytes, fragmented control frames.
    server_fails(&cf(0x89, &[0; 126]), 1002);
    server_fails(&cf(0x09, b"x"), 1002);
    server_fails(&cf(0x08, &[3, 0xE8]), 1002);
    // Continuation without a message; new message inside a fragmented one.
    server_fails(&cf(0x80, b"x"), 1002);
    let mut b = cf(0x01, b"a");
    b.extend(cf(0x81, b"b"));
    server_fails(&b, 1002);
    let mut b = cf(0x02, b"a");
    b.extend(cf(0x02, b"b"));
    server_fails(&b, 1002);
    // 64-bit length with the MSB set.
    let mut b = vec![0x82, 0xFF];
    b.extend_from_slice(&(1u64 << 63).to_be_bytes());
    b.extend_from_slice(&[1, 2, 3, 4]);
    server_fails(&b, 1002);
    // Close payload of length 1; invalid close codes.
    server_fails(&cf(0x88, &[3]), 1002);
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
    ] {
        server_fails(&cf(0x88, &code.to_be_bytes()), 1002);
    }
    // Invalid UTF-8 close reason.
    server_fails(&cf(0x88, &[3, 0xE8, 0xFF]), 1007);
    // Invalid UTF-8 text in one frame.
    server_fails(&cf(0x81, b"ok\xC0\xAF"), 1007);
    // Incomplete code point at the end of a message.
    server_fails(&cf(0x81, b"ok\xE2\x82"), 1007);
}

#[test]
fn valid_close_codes_accepted() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1010, 1011, 1014, 3000, 4999,
    ] {
        let mut s = server();
        s.recv(&cf(0x88, &code.to_be_bytes())).unwrap();
        assert_eq!(
            events(&mut s),
            vec![Event::Close {
                code: CloseCode(code),
                reason: Utf8Bytes::default()
            }]
        );
        assert_eq!(written_close_code(&mut s), Some(code), "echo");
    }
}

#[test]
fn masked_frame_at_client() {
    let mut c = client();
    let e = c.recv(&cf(0x81, b"hi")).unwrap_err();
    assert_eq!(e.code(), CloseCode::PROTOCOL_ERROR);
    assert_eq!(written_close_code(&mut c), Some(1002));
}

#[test]
fn utf8_fails_on_the_fragment_where_prefix_becomes_invalid() {
    let mut s = server();
    // "€" is E2 82 AC; the second fragment makes E2 82 28 → invalid.
    s.recv(&cf(0x01, b"ab\xE2")).unwrap();
    s.recv(&cf(0x00, b"\x82")).unwrap();
    let e = s.recv(&cf(0x00, b"\x28cd")).unwrap_err();
    assert_eq!(e.code(), CloseCode::INVALID_DATA);
    // Same data split validly passes.
    let mut s = server();
    s.recv(&cf(0x01, b"ab\xE2")).unwrap();
    s.recv(&cf(0x00, b"\x82")).unwrap();
    s.recv(&cf(0x80, b"\xACcd")).unwrap();
    assert_eq!(events(&mut s), vec![text("ab€cd")]);
}

#[test]
fn utf8_fails_fast_inside_an_incomplete_frame() {
    let mut s = server();
    let frame = cf(0x81, b"abc\xFFdefghijklmnop");
    // Header (6 bytes) + 4 payload bytes: the invalid byte has arrived, the
    // rest of the frame has not.
    let e = s.recv(&frame[..10]).unwrap_err();
    assert_eq!(e.code(), CloseCode::INVALID_DATA);
}

#[test]
fn too_big_detected_from_header() {
    let cfg = Config {
        max_frame_size: 1000,
        max_message_size: 1500,
        ..Config::default()
    };
    // Frame over the limit: fails on the header alone.
    let mut s = WebSocket::new(Role::Server, cfg.clone());
    let f = cf(0x82, &[0; 1001]);
    assert_eq!(s.recv(&f[..8]).unwrap_err().code(), CloseCode::TOO_BIG);
    assert_eq!(written_close_code(&mut s), Some(1009));
    // Message over the limit across fragments.
    let mut s = WebSocket::new(Role::Server, cfg.clone());
    s.recv(&cf(0x02, &[0; 1000])).unwrap();
    assert_eq!(
        s.recv(&cf(0x80, &[0; 501])).unwrap_err().code(),
        CloseCode::TOO_BIG
    );
    // Exactly at the limits is fine.
    let mut s = WebSocket::new(Role::Server, cfg);
    s.recv(&cf(0x02, &[0; 1000])).unwrap();
    s.recv(&cf(0x80, &[0; 500])).unwrap();
    assert_eq!(events(&mut s), vec![binary(&[0; 1500])]);
    // 16 MiB + 1 with the defaults.
    let mut s = server();
    let mut h = Vec::new();
    write_header(
        &mut h,
        true,
        OpCode::Binary,
        Some([1, 2, 3, 4]),
        (16 << 20) + 1,
    );
    assert_eq!(s.recv(&h).unwrap_err().code(), CloseCode::TOO_BIG);
}

#[test]
fn close_initiated_by_client() {
    let (mut c, mut s) = (client(), server());
    c.close(CloseCode::NORMAL, "bye").unwrap();
    assert!(c.close_sent() && !c.is_closed());
    assert_eq!(c.send_text("x"), Err(SendError::Closed));
    assert_eq!(c.send_ping(b""), Err(SendError::Closed));
    assert_eq!(c.close(CloseCode::NORMAL, ""), Err(SendError::Closed));
    pump(&mut c, &mut s).unwrap();
    assert_eq!(
        events(&mut s),
        vec![Event::Close {
            code: CloseCode::NORMAL,
            reason: Utf8Bytes::from("bye")
        }]
    );
    assert!(s.is_closed(), "server replied and is done");
    // Server data sent before it saw the close still reaches the client.
    pump(&mut s, &mut c).unwrap();
    let ev = events(&mut c);
    assert_eq!(
        ev,
        vec![Event::Close {
            code: CloseCode::NORMAL,
            reason: Utf8Bytes::default()
        }]
    );
    assert!(c.is_closed());
    // Anything after the close is ignored.
    assert_eq!(c.recv(b"\x81\x01x").unwrap(), 3);
    assert!(events(&mut c).is_empty());
}

#[test]
fn close_initiated_by_server_data_still_delivered() {
    let (mut c, mut s) = (client(), server());
    s.close(CloseCode(4000), "app").unwrap();
    c.send_text("in flight").unwrap();
    pump(&mut c, &mut s).unwrap();
    assert_eq!(events(&mut s), vec![text("in flight")]);
    pump(&mut s, &mut c).unwrap();
    assert_eq!(
        events(&mut c),
        vec![Event::Close {
            code: CloseCode(4000),
            reason: Utf8Bytes::from("app")
        }]
    );
    // The client echoed the code.
    let mut out = Vec::new();
    c.write_to(&mut out);
    s.recv(&out).unwrap();
    assert_eq!(
        events(&mut s),
        vec![Event::Close {
            code: CloseCode(4000),
            reason: Utf8Bytes::default()
        }]
    );
    assert!(s.is_closed() && c.is_closed());
}

#[test]
fn empty_close_payload() {
    let mut s = server();
    s.recv(&cf(0x88, b"")).unwrap();
    assert_eq!(
        events(&mut s),
        vec![Event::Close {
            code: CloseCode::NO_STATUS,
            reason: Utf8Bytes::default()
        }]
    );
    assert_eq!(take_out(&mut s), [0x88, 0x00]);
}

#[test]
fn send_api_errors() {
    let mut s = server();
    assert_eq!(s.send_ping(&[0; 126]), Err(SendError::ControlTooLong));
    assert_eq!(s.send_pong(&[0; 126]), Err(SendError::ControlTooLong));
    assert_eq!(
        s.close(CloseCode(1005), "x"),
        Err(SendError::ControlTooLong)
    );
    assert_eq!(
        s.close(CloseCode(1006), ""),
        Err(SendError::InvalidCloseCode)
    );
    assert_eq!(
        s.close(CloseCode(999), ""),
        Err(SendError::InvalidCloseCode)
    );
    assert_eq!(
        s.close(CloseCode(1000), &"x".repeat(124)),
        Err(SendError::ControlTooLong)
    );
    s.send_ping(&[0; 125]).unwrap();
    s.close(CloseCode(1000), &"x".repeat(123)).unwrap();
    assert!(!s.is_closed());
}

#[test]
fn no_auto_pong_after_close_sent_and_when_disabled() {
    let mut s = server();
    s.close(CloseCode::NORMAL, "").unwrap();
    take_out(&mut s);
    s.recv(&cf(0x89, b"x")).unwrap();
    assert!(!s.wants_write());
    let mut s = WebSocket::new(
        Role::Server,
        Config {
            auto_pong: false,
            ..Config::default()
        },
    );
    s.recv(&cf(0x89, b"x")).unwrap();
    assert!(!s.wants_write());
    assert_eq!(events(&mut s), vec![Event::Ping(Bytes::from_static(b"x"))]);
}

#[derive(Clone, Debug)]
enum Op {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Frag(Vec<u8>, usize),
    TextFrag(String, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        ".{0,40}".prop_map(Op::Text),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Binary),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Op::Ping),
        (proptest::collection::vec(any::<u8>(), 0..200), 1usize..5)
            .prop_map(|(v, n)| Op::Frag(v, n)),
        (".{0,40}", 1usize..5).prop_map(|(s, n)| Op::TextFrag(s, n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn prop_round_trip_any_chunking(
        ops in proptest::collection::vec(op(), 0..12),
        chunks in proptest::collection::vec(1usize..64, 1..20),
        client_sends in any::<bool>(),
    ) {
        let (mut c, mut s) = (client(), server());
        let (tx, rx) = if client_sends { (&mut c, &mut s) } else { (&mut s, &mut c) };
        let mut want = Vec::new();
        for op in &ops {
            match op {
                Op::Text(t) => { tx.send_text(t).unwrap(); want.push(text(t)); }
                Op::Binary(b) => { tx.send_binary(b).unwrap(); want.push(binary(b)); }
                Op::Ping(p) => { tx.send_ping(p).unwrap(); want.push(Event::Ping(Bytes::copy_from_slice(p))); }
                Op::Frag(_, n) | Op::TextFrag(_, n) => {
                    let (bytes, first, ev) = match op {
                        Op::Frag(b, _) => (b.clone(), OpCode::Binary, binary(b)),
                        Op::TextFrag(t, _) => (t.as_bytes().to_vec(), OpCode::Text, text(t)),
                        _ => unreachable!(),
                    };
                    let step = bytes.len().div_ceil(*n).max(1);
                    let parts: Vec<&[u8]> = if bytes.is_empty() { vec![&[]] } else { bytes.chunks(step).collect() };
                    for (i, p) in parts.iter().enumerate() {
                        let opc = if i == 0 { first } else { OpCode::Continuation };
                        tx.send_fragment(opc, p, i + 1 == parts.len()).unwrap();
                    }
                    want.push(ev);
                }
            }
        }
        let wire = take_out(tx);
        let mut pos = 0;
        for &n in chunks.iter().cycle() {
            if pos >= wire.len() { break; }
            let end = (pos + n).min(wire.len());
            prop_assert_eq!(rx.recv(&wire[pos..end]).unwrap(), end - pos);
            pos = end;
        }
        prop_assert_eq!(events(rx), want);
    }
}

/// Strict echo: frames received before a protocol error in the same read are
/// answered in order (an echo answering each event as it takes it): the
/// text's echo, the pong, the binary's echo, then the failing close.
#[test]
fn answers_before_the_error_keep_their_order() {
    for (bad, code) in [(cf(0x83, b"x"), 1002u16), (cf(0x81, b"\xff"), 1007)] {
        let mut s = server();
        let mut input = cf(0x81, b"a");
        input.extend(cf(0x89, b"p"));
        input.extend(cf(0x82, b"b"));
        input.extend(bad);
        let e = s.recv(&input).unwrap_err();
        assert_eq!(e.code(), CloseCode(code));
        // The close waits for the events before it.
        assert!(!s.is_closed());
        assert!(!s.wants_write());
        while let Some(ev) = s.poll_event() {
            match ev {
                Event::Message(Message::Text(t)) => s.send_text(t.as_str()).unwrap(),
                Event::Message(Message::Binary(b)) => s.send_binary(&b).unwrap(),
                _ => {}
            }
        }
        assert!(s.is_closed());
        let out = take_out(&mut s);
        let mut got = Vec::new();
        let mut pos = 0;
        while pos < out.len() {
            let (h, n) = parse_header(&out[pos..]).unwrap().unwrap();
            let end = pos + n + h.payload_len as usize;
            got.push((h.opcode, out[pos + n..end].to_vec()));
            pos = end;
        }
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0], (OpCode::Text, b"a".to_vec()));
        assert_eq!(got[1], (OpCode::Pong, b"p".to_vec()));
        assert_eq!(got[2], (OpCode::Binary, b"b".to_vec()));
        assert_eq!(got[3].0, OpCode::Close);
        assert_eq!(u16::from_be_bytes([got[3].1[0], got[3].1[1]]), code);
        assert_eq!(s.send_text("late"), Err(SendError::Closed));
    }
}

/// A pong is due once the events received before its ping were taken.
#[test]
fn pong_waits_for_earlier_events_to_be_taken() {
    let mut s = server();
    let mut input = cf(0x81, b"a");
    input.extend(cf(0x89, b"p"));
    s.recv(&input).unwrap();
    // The text event is not taken yet: the pong is not due.
    assert!(take_out(&mut s).is_empty());
    assert_eq!(s.poll_event(), Some(text("a")));
    assert_eq!(s.poll_event(), Some(Event::Ping(Bytes::from_static(b"p"))));
    assert!(s.wants_write());
    assert_eq!(take_out(&mut s), b"\x8a\x01p");
}

/// All pieces of `next_write`, in order.
fn pieces(ws: &mut WebSocket) -> Vec<Bytes> {
    std::iter::from_fn(|| ws.next_write()).collect()
}

#[test]
fn send_queues_large_server_payloads_by_reference() {
    use h2o::ws::SHARE_MIN;
    let big = Bytes::from((0..70_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    let at_min = Bytes::from(vec![7u8; SHARE_MIN]);
    let small = Utf8Bytes::from("héllo");
    // The same sequence through the copying API: the reference bytes.
    let mut copy = server();
    copy.send_text("first").unwrap();
    copy.send_binary(&big).unwrap();
    copy.send_text(small.as_str()).unwrap();
    copy.send_binary(&at_min).unwrap();
    copy.send_ping(b"p").unwrap();
    let want = take_out(&mut copy);

    let mut s = server();
    s.send_text("first").unwrap();
    s.send(Message::Binary(big.clone())).unwrap();
    s.send(Message::Text(small)).unwrap();
    s.send(Message::Binary(at_min.clone())).unwrap();
    s.send_ping(b"p").unwrap();
    assert!(s.wants_write());
    assert_eq!(s.pending_write_len(), want.len());
    let p = pieces(&mut s);
    assert_eq!(p.concat(), want, "same bytes as the copying API");
    // Both large payloads are the caller's own buffers (no copy).
    assert!(p
        .iter()
        .any(|b| b.as_ptr() == big.as_ptr() && b.len() == big.len()));
    assert!(p.iter().any(|b| b.as_ptr() == at_min.as_ptr()));
    assert!(!s.wants_write());
    assert_eq!(s.pending_write_len(), 0);
    assert!(s.next_write().is_none());

    // write_to drains the same queue, shared pieces included.
    let mut s = server();
    s.send_text("first").unwrap();
    s.send(Message::Binary(big.clone())).unwrap();
    let mut v = b"xy".to_vec();
    let n = s.write_to(&mut v);
    let mut c = server();
    c.send_text("first").unwrap();
    c.send_binary(&big).unwrap();
    assert_eq!(n, v.len() - 2);
    assert_eq!(&v[2..], &take_out(&mut c)[..]);
    assert_eq!(s.pending_write_len(), 0);
}

#[test]
fn send_by_a_client_masks_a_copy() {
    let big = Bytes::from(vec![0x5au8; 5000]);
    let mut c = client();
    let mut s = server();
    c.send(Message::Binary(big.clone())).unwrap();
    let p = pieces(&mut c);
    assert!(
        p.iter().all(|b| b.as_ptr() != big.as_ptr()),
        "masked: copied"
    );
    s.recv(&p.concat()).unwrap();
    assert_eq!(events(&mut s), [Event::Message(Message::Binary(big))]);
}

#[test]
fn echo_by_reference_round_trip_and_send_rules() {
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let mut c = client();
    let mut s = server();
    c.send_binary(&payload).unwrap();
    c.send_text(&"ü".repeat(1000)).unwrap();
    c.send_ping(b"hi").unwrap();
    pump(&mut c, &mut s).unwrap();
    // Echo every message by reference; the pong comes in event order.
    let mut got = Vec::new();
    while let Some(ev) = s.poll_event() {
        if let Event::Message(m) = ev.clone() {
            let shared = match &m {
                Message::Binary(b) => b.as_ptr(),
                Message::Text(t) => t.as_bytes().as_ptr(),
            };
            s.send(m).unwrap();
            got.push(shared);
        }
    }
    let p = pieces(&mut s);
    for ptr in got {
        assert!(p.iter().any(|b| b.as_ptr() == ptr), "echo not copied");
    }
    c.recv(&p.concat()).unwrap();
    assert_eq!(
        events(&mut c),
        [
            binary(&payload),
            text(&"ü".repeat(1000)),
            Event::Pong(Bytes::from_static(b"hi")),
        ]
    );
    // The sending rules hold for `send` too.
    s.send_fragment(OpCode::Binary, b"a", false).unwrap();
    let big = Message::Binary(Bytes::from(vec![1u8; 4096]));
    assert_eq!(s.send(big.clone()), Err(SendError::FragmentState));
    s.send_fragment(OpCode::Continuation, b"b", true).unwrap();
    s.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(s.send(big), Err(SendError::Closed));
}

#[test]
fn recv_buf_joins_contiguous_pieces_without_copying() {
    let payload: Vec<u8> = (0..40_000u32).map(|i| (i % 249) as u8).collect();
    let mut wire = cf(0x82, &payload);
    wire.extend_from_slice(&cf(0x81, b"tail"));
    // One adapter buffer, handed over in successive splits (reads).
    let mut buf = bytes::BytesMut::with_capacity(wire.len());
    buf.extend_from_slice(&wire);
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    let mut s = server();
    let mut at = 0;
    for cut in [3usize, 5000, 20_000, 39_990] {
        s.recv_buf(buf.split_to(cut - at)).unwrap();
        at = cut;
    }
    s.recv_buf(buf.split()).unwrap();
    let ev = events(&mut s);
    assert_eq!(ev, [binary(&payload), text("tail")]);
    let Event::Message(Message::Binary(b)) = &ev[0] else {
        unreachable!()
    };
    assert!(
        range.contains(&(b.as_ptr() as usize)),
        "the payload was unmasked in place in the adapter's buffer"
    );
}

#[test]
fn release_read_buffer_copies_short_partial_frames_out() {
    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 241) as u8).collect();
    let wire = cf(0x82, &payload);
    let mut buf = bytes::BytesMut::with_capacity(256 << 10);
    buf.extend_from_slice(&wire);
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.capacity();
    let mut s = server();
    s.recv_buf(buf.split_to(1000)).unwrap();
    s.release_read_buffer(); // 1000 - header bytes buffered: copied out
    s.recv(&buf).unwrap();
    let ev = events(&mut s);
    assert_eq!(ev, [binary(&payload)]);
    let Event::Message(Message::Binary(b)) = &ev[0] else {
        unreachable!()
    };
    assert!(!range.contains(&(b.as_ptr() as usize)), "no longer in it");
    // Nothing buffered, nothing from recv(): a no-op.
    s.release_read_buffer();
    s.send_text("ok").unwrap();
    assert!(s.wants_write());
}
