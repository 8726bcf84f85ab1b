//! Unit and property tests of the HTTP/1.1 codec.

use bytes::BytesMut;
use proptest::prelude::*;

use super::*;

fn responses(input: &[&[u8]], methods: &[&str], eof: bool) -> Vec<Result<ResponseEvent, H1Error>> {
    responses_with(Limits::default(), input, methods, eof)
}

fn responses_with(
    limits: Limits,
    input: &[&[u8]],
    methods: &[&str],
    eof: bool,
) -> Vec<Result<ResponseEvent, H1Error>> {
    let mut d = ResponseDecoder::new(limits);
    for m in methods {
        d.expect(&http::Method::from_bytes(m.as_bytes()).unwrap());
    }
    let mut out = Vec::new();
    let drain = |d: &mut ResponseDecoder, out: &mut Vec<_>| loop {
        match d.poll() {
            Ok(Some(ev)) => out.push(Ok(ev)),
            Ok(None) => return true,
            Err(e) => {
                out.push(Err(e));
                return false;
            }
        }
    };
    for piece in input {
        d.recv(piece);
        if !drain(&mut d, &mut out) {
            return merge_resp(out);
        }
    }
    if eof {
        d.recv_eof();
        drain(&mut d, &mut out);
    }
    merge_resp(out)
}

/// Joins adjacent `Data` events (their boundaries depend on the input split).
fn merge_resp(v: Vec<Result<ResponseEvent, H1Error>>) -> Vec<Result<ResponseEvent, H1Error>> {
    let mut out: Vec<Result<ResponseEvent, H1Error>> = Vec::new();
    for ev in v {
        if let (Ok(ResponseEvent::Data(d)), Some(Ok(ResponseEvent::Data(prev)))) =
            (&ev, out.last_mut())
        {
            let mut b = BytesMut::from(&prev[..]);
            b.extend_from_slice(d);
            *prev = b.freeze();
            continue;
        }
        out.push(ev);
    }
    out
}

fn requests(input: &[&[u8]], eof: bool) -> Vec<Result<RequestEvent, H1Error>> {
    requests_with(Limits::default(), input, eof)
}

fn requests_with(limits: Limits, input: &[&[u8]], eof: bool) -> Vec<Result<RequestEvent, H1Error>> {
    let mut d = RequestDecoder::new(limits);
    let mut out: Vec<Result<RequestEvent, H1Error>> = Vec::new();
    let push = |ev: Result<RequestEvent, H1Error>, out: &mut Vec<Result<RequestEvent, H1Error>>| {
        if let (Ok(RequestEvent::Data(d)), Some(Ok(RequestEvent::Data(prev)))) =
            (&ev, out.last_mut())
        {
            let mut b = BytesMut::from(&prev[..]);
            b.extend_from_slice(d);
            *prev = b.freeze();
        } else {
            out.push(ev);
        }
    };
    let mut pieces: Vec<Option<&[u8]>> = input.iter().map(|p| Some(*p)).collect();
    if eof {
        pieces.push(None);
    }
    for piece in pieces {
        match piece {
            Some(p) => d.recv(p),
            None => d.recv_eof(),
        }
        loop {
            match d.poll() {
                Ok(Some(ev)) => push(Ok(ev), &mut out),
                Ok(None) => break,
                Err(e) => {
                    push(Err(e), &mut out);
                    return out;
                }
            }
        }
    }
    out
}

fn head(ev: &Result<ResponseEvent, H1Error>) -> (u16, bool) {
    match ev {
        Ok(ResponseEvent::Head {
            response,
            keep_alive,
        }) => (response.status().as_u16(), *keep_alive),
        other => panic!("expected a head, got {other:?}"),
    }
}

fn data(ev: &Result<ResponseEvent, H1Error>) -> &[u8] {
    match ev {
        Ok(ResponseEvent::Data(d)) => d,
        other => panic!("expected data, got {other:?}"),
    }
}

#[test]
fn content_length_response_and_keep_alive() {
    let evs = responses(
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello"],
        &["GET"],
        false,
    );
    assert_eq!(evs.len(), 3, "{evs:?}");
    assert_eq!(head(&evs[0]), (200, true));
    assert_eq!(data(&evs[1]), b"hello");
    assert!(
        matches!(evs[2], Ok(ResponseEvent::End { trailers: None })),
        "{evs:?}"
    );
}

#[test]
fn chunked_with_trailers_and_extensions() {
    let evs = responses(
        &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-sum: 42\r\n\r\n"],
        &["GET"],
        false,
    );
    assert_eq!(head(&evs[0]), (200, true));
    assert_eq!(data(&evs[1]), b"hello world");
    let Ok(ResponseEvent::End { trailers: Some(t) }) = &evs[2] else {
        panic!("{evs:?}")
    };
    assert_eq!(t["x-sum"], "42");
}

#[test]
fn interim_heads_are_skipped_and_head_204_304_have_no_body() {
    let evs = responses(
        &[b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc\
HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n\
HTTP/1.1 204 No Content\r\ncontent-length: 7\r\n\r\n\
HTTP/1.1 304 Not Modified\r\ncontent-length: 7\r\n\r\n"],
        &["GET", "HEAD", "GET", "GET"],
        false,
    );
    let statuses: Vec<u16> = evs
        .iter()
        .filter_map(|e| match e {
            Ok(ResponseEvent::Head { response, .. }) => Some(response.status().as_u16()),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [200, 200, 204, 304]);
    assert_eq!(evs.len(), 9, "{evs:?}");
}

#[test]
fn close_delimited_and_connection_close() {
    let evs = responses(
        &[b"HTTP/1.1 200 OK\r\n\r\nall of it", b" until eof"],
        &["GET"],
        true,
    );
    assert_eq!(head(&evs[0]), (200, false));
    assert_eq!(data(&evs[1]), b"all of it until eof");
    assert!(
        matches!(evs[2], Ok(ResponseEvent::End { trailers: None })),
        "{evs:?}"
    );
    let evs = responses(
        &[b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"],
        &["GET"],
        false,
    );
    assert_eq!(head(&evs[0]), (200, false));
    let evs = responses(
        &[b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx"],
        &["GET"],
        false,
    );
    assert_eq!(head(&evs[0]), (200, false));
    let evs = responses(
        &[b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx"],
        &["GET"],
        false,
    );
    assert_eq!(head(&evs[0]), (200, true));
}

#[test]
fn typed_errors() {
    let last = |evs: Vec<Result<ResponseEvent, H1Error>>| evs.last().cloned().unwrap().unwrap_err();
    assert_eq!(
        last(responses(
            &[b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab"],
            &["GET"],
            true
        )),
        H1Error::UnexpectedEof
    );
    assert_eq!(
        last(responses(
            &[b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n"],
            &["GET"],
            false
        )),
        H1Error::BadContentLength
    );
    assert_eq!(
        last(responses(
            &[b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n"],
            &["GET"],
            false
        )),
        H1Error::BadContentLength
    );
    assert_eq!(
        last(responses(
            &[b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"],
            &["GET"],
            false
        )),
        H1Error::BadChunk
    );
    assert_eq!(
        last(responses(
            &[b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nab\r\n"],
            &["GET"],
            false
        )),
        H1Error::BadChunk
    );
    assert_eq!(
        last(responses(&[b"HTTP/1.1 200 OK\r\n\r\n"], &[], false)),
        H1Error::UnexpectedResponse
    );
    assert!(matches!(
        last(responses(&[b"HTTX/1.1 200 OK\r\n\r\n"], &["GET"], false)),
        H1Error::BadHead(_)
    ));
    let big = format!("HTTP/1.1 200 OK\r\nx: {}\r\n\r\n", "a".repeat(70 << 10));
    assert_eq!(
        last(responses(&[big.as_bytes()], &["GET"], false)),
        H1Error::HeadTooLarge
    );
    let many: String = (0..101).map(|i| format!("x{i}: y\r\n")).collect();
    let many = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
    assert_eq!(
        last(responses(&[many.as_bytes()], &["GET"], false)),
        H1Error::TooManyHeaders
    );
    // A request: transfer-encoding with content-length is refused (smuggling).
    let evs = requests(
        &[b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n"],
        false,
    );
    assert_eq!(
        evs.last().cloned().unwrap().unwrap_err(),
        H1Error::BadTransferEncoding
    );
    let evs = requests(
        &[b"POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n"],
        false,
    );
    assert_eq!(
        evs.last().cloned().unwrap().unwrap_err(),
        H1Error::BadTransferEncoding
    );
    let evs = requests(&[b"GET / HTTP/1.1\r\nhost: a"], true);
    assert_eq!(
        evs.last().cloned().unwrap().unwrap_err(),
        H1Error::UnexpectedEof
    );
}

#[test]
fn pipelined_requests() {
    let evs = requests(
        &[b"GET /a HTTP/1.1\r\nhost: x\r\n\r\nPOST /b HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc\
PUT /c HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nt: 1\r\n\r\n\
GET /d HTTP/1.0\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n"],
        false,
    );
    let heads: Vec<(String, String, bool)> = evs
        .iter()
        .filter_map(|e| match e {
            Ok(RequestEvent::Head {
                request,
                keep_alive,
            }) => Some((
                request.method().to_string(),
                request.uri().to_string(),
                *keep_alive,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        heads,
        [
            ("GET".into(), "/a".into(), true),
            ("POST".into(), "/b".into(), true),
            ("PUT".into(), "/c".into(), true),
            ("GET".into(), "/d".into(), false),
        ]
    );
    let datas: Vec<&[u8]> = evs
        .iter()
        .filter_map(|e| match e {
            Ok(RequestEvent::Data(d)) => Some(&d[..]),
            _ => None,
        })
        .collect();
    assert_eq!(datas, [&b"abc"[..], b"hi"]);
    assert_eq!(evs.len(), 4 + 4 + 2, "{evs:?}");
}

#[test]
fn encoders() {
    let req = http::Request::get("http://example.com:8080/a?b=1")
        .header("user-agent", "t")
        .body(())
        .unwrap();
    let mut out = Vec::new();
    encode_request(&req, Framing::AsIs, &mut out).unwrap();
    assert_eq!(
        out,
        b"GET /a?b=1 HTTP/1.1\r\nhost: example.com:8080\r\nuser-agent: t\r\n\r\n"
    );
    let req = http::Request::post("/x").body(()).unwrap();
    assert_eq!(
        encode_request(&req, Framing::Length(1), &mut out),
        Err(H1Error::Encode("the request has no host"))
    );
    let resp = http::Response::builder()
        .status(404)
        .header("content-length", "9")
        .body(())
        .unwrap();
    let mut out = Vec::new();
    encode_response(&resp, Framing::Chunked, false, &mut out);
    encode_chunk(b"not found", &mut out);
    encode_chunk(b"", &mut out);
    let mut t = http::HeaderMap::new();
    t.insert("x-t", http::HeaderValue::from_static("1"));
    encode_last_chunk(Some(&t), &mut out);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        "HTTP/1.1 404 Not Found\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n9\r\nnot found\r\n0\r\nx-t: 1\r\n\r\n"
    );
    // What the encoders write, the decoders read back.
    let evs = responses(&[&out], &["GET"], false);
    assert_eq!(head(&evs[0]), (404, false));
    assert_eq!(data(&evs[1]), b"not found");
}

/// Splits `data` at the given points (taken modulo its length, sorted).
fn split<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    for c in cuts {
        out.push(&data[at..c]);
        at = c;
    }
    out.push(&data[at..]);
    out
}

/// Inputs close to valid messages (mutated), so the state machines get deep.
fn messy_message() -> impl Strategy<Value = Vec<u8>> {
    let parts = prop::collection::vec(
        prop_oneof![
            Just(b"HTTP/1.1 200 OK\r\n".to_vec()),
            Just(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
            Just(b"GET / HTTP/1.1\r\n".to_vec()),
            Just(b"content-length: 3\r\n".to_vec()),
            Just(b"transfer-encoding: chunked\r\n".to_vec()),
            Just(b"connection: close\r\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"3\r\nabc\r\n".to_vec()),
            Just(b"0\r\n\r\n".to_vec()),
            Just(b"x: y\r\n".to_vec()),
            prop::collection::vec(any::<u8>(), 0..8),
        ],
        0..16,
    );
    parts.prop_map(|v| v.concat())
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..512), messy_message()]
}

/// Tiny limits, so the head-size and field-count errors are reached.
const SMALL: Limits = Limits {
    max_head: 48,
    max_headers: 2,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn response_split_invariant(data in input(), cuts in prop::collection::vec(any::<usize>(), 0..8), eof in any::<bool>()) {
        let methods = ["GET", "HEAD", "GET", "GET"];
        let parts = split(&data, &cuts);
        for limits in [Limits::default(), SMALL] {
            let whole = responses_with(limits, &[&data], &methods, eof);
            prop_assert_eq!(format!("{:?}", responses_with(limits, &parts, &methods, eof)), format!("{whole:?}"));
        }
    }

    #[test]
    fn request_split_invariant(data in input(), cuts in prop::collection::vec(any::<usize>(), 0..8), eof in any::<bool>()) {
        let parts = split(&data, &cuts);
        for limits in [Limits::default(), SMALL] {
            let whole = requests_with(limits, &[&data], eof);
            prop_assert_eq!(format!("{:?}", requests_with(limits, &parts, eof)), format!("{whole:?}"));
        }
    }
}
