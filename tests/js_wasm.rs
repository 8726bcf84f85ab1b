//! wasm-bindgen-test unit tests of the npm adapter (src/js.rs), run in Node by
//! `wasm-bindgen-test-runner` (scripts/test.sh):
//! `cargo test --target wasm32-unknown-unknown --no-default-features --features js --test js_wasm`.
//! They drive the exported classes exactly as JS would (JsValue in and out).
#![cfg(all(target_arch = "wasm32", feature = "js"))]

use h2o::js::{mask, mask_uses_simd128, Connection, HpackDecoder, HpackEncoder, WebSocketCodec};
use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

fn s(v: &JsValue, k: &str) -> String {
    get(v, k).as_string().unwrap_or_default()
}

fn headers(list: &[(&str, &str)]) -> JsValue {
    let a = Array::new();
    for (n, v) in list {
        a.push(&Array::of2(&(*n).into(), &(*v).into()));
    }
    a.into()
}

/// Moves output both ways until neither side has any; returns all events.
fn pump(c: &mut Connection, srv: &mut Connection, now: f64) -> (Vec<JsValue>, Vec<JsValue>) {
    let (mut ce, mut se) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        let a = c.take_output(0.0, None).unwrap();
        let b = srv.take_output(0.0, None).unwrap();
        if a.is_empty() && b.is_empty() {
            break;
        }
        srv.receive(&a, now).unwrap();
        c.receive(&b, now).unwrap();
        loop {
            let e = c.poll_event();
            if e.is_undefined() {
                break;
            }
            ce.push(e);
        }
        loop {
            let e = srv.poll_event();
            if e.is_undefined() {
                break;
            }
            se.push(e);
        }
    }
    (ce, se)
}

fn of_type<'a>(evs: &'a [JsValue], t: &str) -> Vec<&'a JsValue> {
    evs.iter().filter(|e| s(e, "type") == t).collect()
}

#[wasm_bindgen_test]
fn request_response_with_body_and_trailers() {
    let mut c = Connection::new("client", JsValue::UNDEFINED).unwrap();
    let mut srv = Connection::new("server", JsValue::UNDEFINED).unwrap();
    let id = c
        .request(
            "POST",
            "http://example.test/upload?x=1",
            headers(&[("x-a", "caf\u{e9}")]),
            false,
            None,
        )
        .unwrap();
    assert_eq!(id, 1);
    c.send_data(id, b"hello ", false).unwrap();
    c.send_data(id, b"world", true).unwrap();
    let (_, se) = pump(&mut c, &mut srv, 1.0);
    let req = of_type(&se, "request");
    assert_eq!(req.len(), 1);
    assert_eq!(s(req[0], "method"), "POST");
    assert_eq!(s(req[0], "url"), "http://example.test/upload?x=1");
    let h = Array::from(&get(req[0], "headers"));
    let first = Array::from(&h.get(0));
    assert_eq!(first.get(0).as_string().unwrap(), "x-a");
    // Latin-1 both ways: é is one byte on the wire and comes back as é.
    assert_eq!(first.get(1).as_string().unwrap(), "caf\u{e9}");
    let body: Vec<u8> = of_type(&se, "data")
        .iter()
        .flat_map(|e| Uint8Array::new(&get(e, "data")).to_vec())
        .collect();
    assert_eq!(body, b"hello world");

    srv.respond(id, 200, headers(&[("content-type", "text/plain")]), false)
        .unwrap();
    srv.send_data(id, &vec![7u8; 100_000], false).unwrap();
    srv.send_trailers(id, headers(&[("grpc-status", "0")]))
        .unwrap();
    let (ce, _) = pump(&mut c, &mut srv, 2.0);
    let resp = of_type(&ce, "response");
    assert_eq!(get(resp[0], "status").as_f64(), Some(200.0));
    let n: usize = of_type(&ce, "data")
        .iter()
        .map(|e| Uint8Array::new(&get(e, "data")).length() as usize)
        .sum();
    assert_eq!(n, 100_000);
    let tr = of_type(&ce, "trailers");
    assert_eq!(tr.len(), 1);
    assert_eq!(of_type(&ce, "closed").len(), 1);
}

#[wasm_bindgen_test]
fn protocol_error_is_an_error_with_code() {
    let mut srv = Connection::new("server", JsValue::UNDEFINED).unwrap();
    let err = srv.receive(b"GET / HTTP/1.1\r\n\r\n", 0.0).unwrap_err();
    assert_eq!(s(&err, "code"), "ERR_H2O_PROTOCOL");
    assert!(err.is_instance_of::<js_sys::Error>());
    // The GOAWAY is queued for the peer.
    assert!(!srv.take_output(0.0, None).unwrap().is_empty());
}

#[wasm_bindgen_test]
fn bad_arguments_are_rejected_with_codes() {
    assert_eq!(
        s(
            &Connection::new("peer", JsValue::UNDEFINED).err().unwrap(),
            "code"
        ),
        "ERR_H2O_INVALID_ARG"
    );
    let mut c = Connection::new("client", JsValue::UNDEFINED).unwrap();
    let e = c
        .request("GET", "http://a b/", JsValue::UNDEFINED, true, None)
        .unwrap_err();
    assert_eq!(s(&e, "code"), "ERR_H2O_INVALID_URL");
    let e = c
        .request(
            "GET",
            "http://a/",
            headers(&[("connection", "close")]),
            true,
            None,
        )
        .unwrap_err();
    assert_eq!(s(&e, "code"), "ERR_H2O_INVALID_ARG");
    let e = c
        .request(
            "GET",
            "http://a/",
            headers(&[("x", "\u{263a}")]),
            true,
            None,
        )
        .unwrap_err();
    assert_eq!(s(&e, "code"), "ERR_H2O_INVALID_ARG");
    let e = c.send_data(99, b"x", true).unwrap_err();
    assert_eq!(s(&e, "code"), "ERR_H2O_INVALID_STREAM");
    assert!(c.receive(b"", f64::NAN).is_err());
}

#[wasm_bindgen_test]
fn timeouts_are_milliseconds() {
    let mut c = Connection::new("client", JsValue::UNDEFINED).unwrap();
    assert!(c.poll_timeout().is_none(), "no timer before SETTINGS leave");
    // Our SETTINGS leave at 1 s; they must be acknowledged within the default 10 s.
    assert!(!c.take_output(1000.0, None).unwrap().is_empty());
    let t = c.poll_timeout().expect("settings timer");
    assert!((t - 11_000.0).abs() < 1.0, "{t}");
    c.handle_timeout(t + 1.0).unwrap();
    // SETTINGS_TIMEOUT: the connection sends GOAWAY and ends.
    let out = c.take_output(t + 1.0, None).unwrap();
    assert!(!out.is_empty(), "GOAWAY expected");
    assert!(c.is_closed());
}

#[wasm_bindgen_test]
fn hpack_round_trip_and_error() {
    let mut enc = HpackEncoder::new(None);
    let mut dec = HpackDecoder::new(None);
    let h = headers(&[
        (":method", "GET"),
        ("user-agent", "h2o-wasm"),
        ("x-bin", "\u{ff}\u{1}"),
    ]);
    for _ in 0..3 {
        let block = enc.encode(h.clone()).unwrap();
        let out = dec.decode(&block).unwrap();
        assert_eq!(out.length(), 3);
        let last = Array::from(&out.get(2));
        assert_eq!(last.get(1).as_string().unwrap(), "\u{ff}\u{1}");
    }
    let e = dec
        .decode(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        .unwrap_err();
    assert_eq!(s(&e, "code"), "ERR_H2O_COMPRESSION");
}

#[wasm_bindgen_test]
fn websocket_codec_client_server() {
    let mut cl = WebSocketCodec::new("client", JsValue::UNDEFINED).unwrap();
    let mut sv = WebSocketCodec::new("server", JsValue::UNDEFINED).unwrap();
    cl.send_text("h\u{e9}llo").unwrap();
    cl.send_binary(&[1, 2, 3]).unwrap();
    let wire = cl.take_output();
    assert!(wire[1] & 0x80 != 0, "client frames are masked");
    sv.receive(&wire).unwrap();
    let m = sv.poll_event();
    assert_eq!(s(&m, "data"), "h\u{e9}llo");
    let m = sv.poll_event();
    assert_eq!(Uint8Array::new(&get(&m, "data")).to_vec(), vec![1, 2, 3]);
    cl.close(Some(4001), Some("bye".into())).unwrap();
    sv.receive(&cl.take_output()).unwrap();
    let c = sv.poll_event();
    assert_eq!(get(&c, "code").as_f64(), Some(4001.0));
    assert_eq!(s(&c, "reason"), "bye");
    cl.receive(&sv.take_output()).unwrap();
    assert!(cl.is_closed() && sv.is_closed());
    // An unmasked frame to a server is a protocol error (close 1002).
    let mut sv2 = WebSocketCodec::new("server", JsValue::UNDEFINED).unwrap();
    let e = sv2.receive(&[0x81, 0x01, b'x']).unwrap_err();
    assert_eq!(s(&e, "code"), "ERR_H2O_WS_PROTOCOL");
    assert_eq!(get(&e, "closeCode").as_f64(), Some(1002.0));
    assert!(sv2.close(Some(999), None).is_err());
}

#[wasm_bindgen_test]
fn websocket_handshake_helpers() {
    let hs = WebSocketCodec::client_handshake("ws://127.0.0.1:9/chat?a=b").unwrap();
    let req = String::from_utf8(Uint8Array::new(&get(&hs, "request")).to_vec()).unwrap();
    assert!(req.starts_with("GET /chat?a=b HTTP/1.1\r\n"), "{req}");
    assert!(req.contains("host: 127.0.0.1:9\r\n"), "{req}");
    let key = s(&hs, "key");
    let accept = h2o::ws::handshake::accept_key(&key);
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    let mut resp = resp.into_bytes();
    resp.extend_from_slice(&[0x81, 0x00]);
    let n = WebSocketCodec::parse_handshake_response(&resp, &key).unwrap();
    assert_eq!(n as usize, resp.len() - 2);
    assert_eq!(
        WebSocketCodec::parse_handshake_response(&resp[..20], &key).unwrap(),
        0
    );
    let e = WebSocketCodec::parse_handshake_response(b"HTTP/1.1 404 Not Found\r\n\r\n", &key)
        .unwrap_err();
    assert_eq!(s(&e, "code"), "ERR_H2O_WS_HANDSHAKE");
    assert_eq!(get(&e, "status").as_f64(), Some(404.0));
    assert!(WebSocketCodec::verify_h2_response(200).is_ok());
    assert!(WebSocketCodec::verify_h2_response(400).is_err());
}

#[wasm_bindgen_test]
fn mask_matches_reference_and_uses_simd128() {
    assert!(
        mask_uses_simd128(),
        "the package must be built with -C target-feature=+simd128"
    );
    for len in [0usize, 1, 3, 15, 16, 17, 127, 128, 129, 1000, 65_537] {
        for off in 0..4u32 {
            let orig: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            let mut a = orig.clone();
            mask(&mut a, &[0x37, 0xfa, 0x21, 0x3d], Some(off)).unwrap();
            let mut b = orig.clone();
            h2o::ws::mask::mask_reference(&mut b, [0x37, 0xfa, 0x21, 0x3d], off as usize);
            assert_eq!(a, b, "len {len} offset {off}");
        }
    }
    let e = mask(&mut [0u8; 4], &[1, 2, 3], None).unwrap_err();
    assert_eq!(s(&e, "code"), "ERR_H2O_INVALID_ARG");
}
