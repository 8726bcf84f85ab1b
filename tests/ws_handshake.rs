//! WebSocket opening-handshake helpers: RFC 6455 §4 (HTTP/1.1 Upgrade) and
//! RFC 8441 (HTTP/2 extended CONNECT).

use h2o::conn::Protocol;
use h2o::ws::handshake::*;
use http::{Method, Request, StatusCode};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn good() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Host", "server.example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Key", KEY),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Protocol", "chat, superchat"),
    ]
}

#[test]
fn accept_key_rfc_vector() {
    // RFC 6455 §1.3.
    assert_eq!(accept_key(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(generate_key(*b"the sample nonce"), KEY);
}

#[test]
fn verify_headers_ok_and_each_failure() {
    let r = verify_request_headers("GET", good()).unwrap();
    assert_eq!(r.key, KEY);
    assert_eq!(r.protocols, vec!["chat", "superchat"]);
    assert_eq!(
        verify_request_headers("POST", good()),
        Err(HandshakeError::Method)
    );
    let without = |name: &str| {
        good()
            .into_iter()
            .filter(move |(n, _)| *n != name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        verify_request_headers("GET", without("Upgrade")),
        Err(HandshakeError::Upgrade)
    );
    assert_eq!(
        verify_request_headers("GET", without("Connection")),
        Err(HandshakeError::Connection)
    );
    assert_eq!(
        verify_request_headers("GET", without("Sec-WebSocket-Version")),
        Err(HandshakeError::Version)
    );
    assert_eq!(
        verify_request_headers("GET", without("Sec-WebSocket-Key")),
        Err(HandshakeError::Key)
    );
    let mut v = without("Sec-WebSocket-Version");
    v.push(("sec-websocket-version", "8"));
    assert_eq!(
        verify_request_headers("GET", v),
        Err(HandshakeError::Version)
    );
    for bad in [
        "dGhlIHNhbXBsZQ==",
        "not base64 at all!!!!!!!",
        "dGhlIHNhbXBsZSBub25jZQ",
    ] {
        let mut v = without("Sec-WebSocket-Key");
        v.push(("sec-websocket-key", bad));
        assert_eq!(
            verify_request_headers("GET", v),
            Err(HandshakeError::Key),
            "{bad}"
        );
    }
    // Case-insensitive names and tokens.
    let v = vec![
        ("UPGRADE", "WebSocket"),
        ("connection", "upgrade"),
        ("sec-websocket-key", KEY),
        ("SEC-WEBSOCKET-VERSION", "13"),
    ];
    assert!(verify_request_headers("get", v).is_ok());
}

#[test]
fn http1_request_response_round_trip() {
    let key = generate_key([7; 16]);
    let req = client_request("ws://example.com:8080/chat", &key).unwrap();
    assert_eq!(req.headers()["host"], "example.com:8080");
    let got = verify_request(&req).unwrap();
    assert_eq!(got.key, key);
    let resp = response_101(&got.key, Some("chat"));
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(resp.headers()["sec-websocket-protocol"], "chat");
    verify_response(&resp, &key).unwrap();
    assert_eq!(verify_response(&resp, KEY), Err(HandshakeError::Accept));
    let mut bad = response_101(&key, None);
    *bad.status_mut() = StatusCode::OK;
    assert_eq!(verify_response(&bad, &key), Err(HandshakeError::Status));

    let mut raw = Vec::new();
    write_response_101(&mut raw, KEY, None);
    assert_eq!(
        raw,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    );
}

#[test]
fn rfc8441_extended_connect() {
    let req = h2_connect_request("https://example.com/chat").unwrap();
    assert_eq!(req.method(), Method::CONNECT);
    assert_eq!(req.extensions().get::<Protocol>().unwrap().0, "websocket");
    assert_eq!(req.headers()["sec-websocket-version"], "13");
    assert!(req.headers().get("sec-websocket-key").is_none());
    verify_h2_request(&req).unwrap();

    let mut no_proto = Request::builder()
        .method(Method::CONNECT)
        .uri("https://example.com/chat")
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    assert_eq!(verify_h2_request(&no_proto), Err(HandshakeError::Protocol));
    no_proto
        .extensions_mut()
        .insert(Protocol("websocket".into()));
    verify_h2_request(&no_proto).unwrap();
    no_proto.headers_mut().remove("sec-websocket-version");
    assert_eq!(verify_h2_request(&no_proto), Err(HandshakeError::Version));
    let get = Request::get("https://example.com/").body(()).unwrap();
    assert_eq!(verify_h2_request(&get), Err(HandshakeError::Method));

    let resp = h2_response(None);
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("sec-websocket-accept").is_none());
    verify_h2_response(&resp).unwrap();
    let mut r = h2_response(None);
    *r.status_mut() = StatusCode::FORBIDDEN;
    assert_eq!(verify_h2_response(&r), Err(HandshakeError::Status));
}
