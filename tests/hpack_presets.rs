//! HPACK priming and the negotiated shared preset (`Config::hpack_priming`,
//! `Config::hpack_preset`): header block sizes of the first 10 requests with
//! none / priming / preset, decoded by our own server; the preset agreement
//! rules (one side only, different ids, a request sent before the peer's
//! SETTINGS arrived, a SETTINGS ACK queued behind an encoded block); priming
//! and an offered preset against a real nghttpd.
//! Run with `--nocapture` to see the sizes.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use h2o::conn::{Config, Connection, Event};
use h2o::frame::{Frame, FrameDecoder};
use http::{HeaderName, HeaderValue};

/// The 10 requests of a page load: the document, then assets and API calls
/// with fields the first request does not carry.
fn requests() -> Vec<http::Request<()>> {
    let mut v = Vec::new();
    for i in 0..10 {
        let mut b = http::Request::builder()
            .method("GET")
            .uri(format!("https://example.com/r/{i}"))
            .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) h2o-test/1.0")
            .header("accept-encoding", "gzip, deflate, br")
            .header("accept-language", "en-US,en;q=0.9");
        b = match i {
            0 => b
                .header(
                    "accept",
                    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                )
                .header("upgrade-insecure-requests", "1")
                .header("sec-fetch-mode", "navigate"),
            i if i % 2 == 1 => b
                .header("accept", "*/*")
                .header("sec-fetch-mode", "no-cors")
                .header("referer", "https://example.com/r/0"),
            _ => b
                .header("accept", "application/json")
                .header("sec-fetch-mode", "cors")
                .header("referer", "https://example.com/r/0")
                .header("x-requested-with", "XMLHttpRequest"),
        };
        v.push(b.body(()).unwrap());
    }
    v
}

/// Priming set for [`requests`]: the fields of the later requests.
fn priming() -> Vec<(HeaderName, HeaderValue)> {
    [
        ("accept", "*/*"),
        ("accept", "application/json"),
        ("sec-fetch-mode", "no-cors"),
        ("sec-fetch-mode", "cors"),
        ("referer", "https://example.com/r/0"),
        ("x-requested-with", "XMLHttpRequest"),
    ]
    .into_iter()
    .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
    .collect()
}

/// Field block bytes (HEADERS + CONTINUATION payloads) in `bytes`.
fn block_bytes(dec: &mut FrameDecoder, bytes: &[u8]) -> usize {
    dec.push(bytes);
    let mut n = 0;
    for f in dec.frames() {
        match f.unwrap() {
            Frame::Headers { block, .. } | Frame::Continuation { block, .. } => n += block.len(),
            _ => {}
        }
    }
    n
}

/// Moves everything both ways until quiet; returns the client→server field
/// block bytes and the server's requests.
fn pump(
    c: &mut Connection,
    s: &mut Connection,
    frames: &mut FrameDecoder,
    got: &mut Vec<http::Request<()>>,
) -> usize {
    let mut blocks = 0;
    let mut buf = Vec::new();
    for _ in 0..100 {
        let mut moved = false;
        buf.clear();
        if c.write_to(Duration::ZERO, &mut buf, usize::MAX) > 0 {
            moved = true;
            blocks += block_bytes(frames, &buf);
            s.recv(Duration::ZERO, &buf).unwrap();
        }
        buf.clear();
        if s.write_to(Duration::ZERO, &mut buf, usize::MAX) > 0 {
            moved = true;
            c.recv(Duration::ZERO, &buf).unwrap();
        }
        while let Some(e) = s.poll_event() {
            if let Event::Request {
                stream_id, request, ..
            } = e
            {
                s.send_response(stream_id, http::Response::new(()), true)
                    .unwrap();
                got.push(request);
            }
        }
        while c.poll_event().is_some() {}
        if !moved {
            break;
        }
    }
    blocks
}

/// The preface frames skipped by the block counter.
fn preface_decoder() -> FrameDecoder {
    FrameDecoder::new(16_384)
}

/// Field block sizes of the 10 requests, sent one after the other once the
/// connection is set up; checks the server decoded each exactly.
fn sizes(client: Config, server: Config) -> Vec<usize> {
    let primed: Vec<_> = client.hpack_priming.clone();
    let mut c = Connection::client(client);
    let mut s = Connection::server(server);
    // Skip the preface bytes (24) before frame decoding.
    let mut buf = Vec::new();
    c.write_to(Duration::ZERO, &mut buf, usize::MAX);
    s.recv(Duration::ZERO, &buf).unwrap();
    let mut frames = preface_decoder();
    block_bytes(&mut frames, &buf[24..]);
    let mut got = Vec::new();
    pump(&mut c, &mut s, &mut frames, &mut got);
    let mut out = Vec::new();
    for req in requests() {
        c.send_request(req, true).unwrap();
        out.push(pump(&mut c, &mut s, &mut frames, &mut got));
    }
    assert_eq!(got.len(), 10);
    for (i, (got, want)) in got.iter().zip(requests()).enumerate() {
        assert_eq!(got.uri(), want.uri());
        for (n, v) in want.headers() {
            assert_eq!(
                got.headers().get_all(n).iter().collect::<Vec<_>>(),
                [v],
                "{i} {n}"
            );
        }
        let extra = got.headers().len() - want.headers().len();
        if i == 0 {
            // Priming adds the fields whose names the first request lacks.
            let want_extra = primed
                .iter()
                .filter(|(n, _)| !want.headers().contains_key(n))
                .count();
            assert_eq!(extra, want_extra);
        } else {
            assert_eq!(extra, 0, "request {i}");
        }
    }
    out
}

fn preset_config(id: u32) -> Config {
    Config {
        hpack_preset: id,
        ..Config::default()
    }
}

#[test]
fn first_ten_header_block_sizes() {
    let none = sizes(Config::default(), Config::default());
    let primed = sizes(
        Config {
            hpack_priming: priming(),
            ..Config::default()
        },
        Config::default(),
    );
    let preset = sizes(preset_config(1), preset_config(1));
    let both = sizes(
        Config {
            hpack_priming: priming(),
            hpack_preset: 1,
            ..Config::default()
        },
        preset_config(1),
    );
    let total = |v: &[usize]| v.iter().sum::<usize>();
    for (name, v) in [
        ("none", &none),
        ("priming", &primed),
        ("shared preset 1", &preset),
        ("priming + preset 1", &both),
    ] {
        println!(
            "header block bytes, first 10 requests, {name}: {v:?} = {}",
            total(v)
        );
    }
    // Priming makes the first block bigger and every later one no bigger.
    assert!(primed[0] > none[0]);
    for i in 1..10 {
        assert!(primed[i] <= none[i], "request {i}: {primed:?} vs {none:?}");
    }
    assert!(total(&primed[1..]) < total(&none[1..]));
    // The preset makes the first block smaller and none bigger.
    assert!(preset[0] < none[0]);
    for i in 0..10 {
        assert!(preset[i] <= none[i], "request {i}: {preset:?} vs {none:?}");
    }
    assert!(total(&preset) < total(&none));
}

#[test]
fn preset_needs_both_sides_and_the_same_id() {
    let none = sizes(Config::default(), Config::default());
    // Offered by one side only, or different ids (7 is unknown here, so
    // the server offers nothing): plain HPACK, same sizes as without.
    assert_eq!(sizes(preset_config(1), Config::default()), none);
    assert_eq!(sizes(Config::default(), preset_config(1)), none);
    assert_eq!(sizes(preset_config(1), preset_config(7)), none);
}

/// The race the rules settle: requests encoded before the server's SETTINGS
/// arrived (one still queued when they arrive, so our ACK goes behind it)
/// are decoded without the preset; those after, with it.
#[test]
fn preset_switch_point_with_requests_before_settings() {
    let mut c = Connection::client(preset_config(1));
    let mut s = Connection::server(preset_config(1));
    let mut reqs = requests().into_iter();
    // Request 1 leaves with the preface, before the server's SETTINGS.
    c.send_request(reqs.next().unwrap(), true).unwrap();
    let mut buf = Vec::new();
    c.write_to(Duration::ZERO, &mut buf, usize::MAX);
    s.recv(Duration::ZERO, &buf).unwrap();
    // Request 2 is encoded (not yet written) when the server's SETTINGS
    // arrive: the client's ACK must follow it on the wire.
    c.send_request(reqs.next().unwrap(), true).unwrap();
    buf.clear();
    s.write_to(Duration::ZERO, &mut buf, usize::MAX);
    c.recv(Duration::ZERO, &buf).unwrap();
    // Request 3 is encoded with the preset.
    c.send_request(reqs.next().unwrap(), true).unwrap();
    buf.clear();
    c.write_to(Duration::ZERO, &mut buf, usize::MAX);
    // Frame order: HEADERS(3), SETTINGS ACK, HEADERS(5)?
    let mut d = FrameDecoder::new(16_384);
    d.push(&buf);
    let order: Vec<String> = d
        .frames()
        .map(|f| match f.unwrap() {
            Frame::Headers { stream_id, .. } => format!("H{stream_id}"),
            Frame::Settings { ack: true, .. } => "ACK".into(),
            Frame::Settings { .. } => "S".into(),
            f => format!("{f:?}"),
        })
        .collect();
    assert_eq!(order, ["H3", "ACK", "H5"]);
    s.recv(Duration::ZERO, &buf).unwrap();
    let mut frames = FrameDecoder::new(16_384);
    let mut got = Vec::new();
    pump(&mut c, &mut s, &mut frames, &mut got);
    for req in reqs {
        c.send_request(req, true).unwrap();
        pump(&mut c, &mut s, &mut frames, &mut got);
    }
    assert_eq!(got.len(), 10);
    for (got, want) in got.iter().zip(requests()) {
        assert_eq!(got.uri(), want.uri());
        assert_eq!(got.headers(), want.headers());
    }
}

// ------------------------------------------------------------ nghttpd

/// Drives `c` over `sock` until `done`, bounded by `limit`.
fn drive_tcp(
    c: &mut Connection,
    sock: &mut TcpStream,
    limit: Duration,
    mut on_event: impl FnMut(Event) -> bool,
) {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut inb = [0u8; 16 << 10];
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    loop {
        assert!(start.elapsed() < limit, "timed out");
        let now = start.elapsed();
        out.clear();
        c.write_to(now, &mut out, usize::MAX);
        sock.write_all(&out).unwrap();
        match sock.read(&mut inb) {
            Ok(0) => panic!("peer closed"),
            Ok(n) => {
                c.recv(start.elapsed(), &inb[..n]).unwrap();
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("{e}"),
        }
        while let Some(e) = c.poll_event() {
            if on_event(e) {
                return;
            }
        }
    }
}

/// nghttpd decodes a primed first block and the indexed later ones, and
/// ignores the preset offer (an unknown SETTINGS parameter).
#[test]
fn priming_and_preset_offer_against_nghttpd() {
    let root = support::TempDir::new("presets-nghttpd");
    std::fs::write(root.path().join("small.txt"), b"hello world\n").unwrap();
    let server = support::spawn_nghttpd(root.path(), &[]);
    let mut sock = TcpStream::connect(server.addr).unwrap();
    let mut c = Connection::client(Config {
        hpack_priming: priming(),
        hpack_preset: 1,
        ..Config::default()
    });
    for (i, mut req) in requests().into_iter().enumerate() {
        *req.uri_mut() = format!("http://{}/small.txt", server.addr).parse().unwrap();
        let id = c.send_request(req, true).unwrap();
        let mut status = None;
        let mut body = Vec::new();
        drive_tcp(&mut c, &mut sock, Duration::from_secs(20), |e| match e {
            Event::Response {
                stream_id,
                response,
                ..
            } if stream_id == id => {
                status = Some(response.status());
                false
            }
            Event::Data {
                stream_id, data, ..
            } if stream_id == id => {
                body.extend_from_slice(&data);
                false
            }
            Event::Closed { stream_id } if stream_id == id => true,
            Event::Reset { .. } | Event::GoAway { .. } => panic!("request {i}: {e:?}"),
            _ => false,
        });
        assert_eq!(status, Some(http::StatusCode::OK), "request {i}");
        assert_eq!(body, b"hello world\n", "request {i}");
    }
    assert!(c.is_accepting_streams());
}

/// Random interleavings of requests, responses and one-directional hops from
/// the first byte on, with the preset on both ends (and priming on one):
/// every head arrives exactly as sent, no COMPRESSION_ERROR, so both tables
/// of each direction stay in step whatever arrives when.
#[test]
fn preset_random_interleavings_stay_in_sync() {
    let pool: [(&str, &str); 8] = [
        ("accept", "*/*"),
        ("accept", "application/json"),
        ("content-type", "text/plain"),
        ("cache-control", "no-cache"),
        ("x-trace", "abc"),
        ("accept-encoding", "gzip, deflate, br"),
        ("server", "h2o"),
        ("vary", "accept-encoding"),
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for round in 0..200 {
        let client = Config {
            hpack_preset: 1,
            hpack_priming: if round % 2 == 0 {
                priming()
            } else {
                Vec::new()
            },
            ..Config::default()
        };
        let server = Config {
            hpack_preset: if round % 7 == 6 { 0 } else { 1 },
            ..Config::default()
        };
        let mut c = Connection::client(client);
        let mut s = Connection::server(server);
        let mut sent_req: Vec<http::HeaderMap> = Vec::new();
        let mut sent_resp: Vec<http::HeaderMap> = Vec::new();
        let (mut got_req, mut got_resp) = (0, 0);
        let mut buf = Vec::new();
        let mut pending: Vec<u32> = Vec::new();
        // 60 random steps, then hops both ways until everything arrived.
        for step in 0..70 {
            let action = if step < 60 { rnd(5) } else { 2 + step % 2 };
            match action {
                0 if sent_req.len() < 20 => {
                    let mut b = http::Request::builder()
                        .method("GET")
                        .uri(format!("https://example.com/{}", rnd(3)));
                    for _ in 0..rnd(4) {
                        let (n, v) = pool[rnd(8) as usize];
                        b = b.header(n, v);
                    }
                    let req = b.body(()).unwrap();
                    sent_req.push(req.headers().clone());
                    c.send_request(req, true).unwrap();
                }
                1 if !pending.is_empty() => {
                    let id = pending.remove(0);
                    let mut b = http::Response::builder().status(200);
                    for _ in 0..rnd(4) {
                        let (n, v) = pool[rnd(8) as usize];
                        b = b.header(n, v);
                    }
                    let resp = b.body(()).unwrap();
                    sent_resp.push(resp.headers().clone());
                    s.send_response(id, resp, true).unwrap();
                }
                2 => {
                    buf.clear();
                    c.write_to(Duration::ZERO, &mut buf, usize::MAX);
                    s.recv(Duration::ZERO, &buf).unwrap();
                }
                _ => {
                    buf.clear();
                    s.write_to(Duration::ZERO, &mut buf, usize::MAX);
                    c.recv(Duration::ZERO, &buf).unwrap();
                }
            }
            while let Some(e) = s.poll_event() {
                if let Event::Request {
                    stream_id, request, ..
                } = e
                {
                    let want = &sent_req[got_req];
                    // Priming may add fields to the first request only.
                    for (n, v) in want {
                        assert!(request.headers().get_all(n).iter().any(|x| x == v));
                    }
                    if got_req > 0 {
                        assert_eq!(request.headers(), want, "round {round}");
                    }
                    got_req += 1;
                    pending.push(stream_id);
                }
            }
            while let Some(e) = c.poll_event() {
                if let Event::Response { response, .. } = e {
                    assert_eq!(response.headers(), &sent_resp[got_resp], "round {round}");
                    got_resp += 1;
                }
            }
        }
        assert_eq!(got_req, sent_req.len(), "round {round}");
        assert_eq!(got_resp, sent_resp.len(), "round {round}");
    }
}

/// The native server with priming (on its first response head) and the
/// preset offer, in this process: nghttp, curl and h2load, which ignore the
/// unknown SETTINGS parameter, decode every response.
#[test]
fn server_with_priming_and_preset_against_nghttp_curl_h2load() {
    use std::process::Command;
    let root = support::TempDir::new("presets-server");
    std::fs::write(root.path().join("small.txt"), b"hello world\n").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = h2o::net::server::ServerConfig {
        conn: Config {
            hpack_priming: vec![
                (
                    HeaderName::from_static("cache-control"),
                    HeaderValue::from_static("no-cache"),
                ),
                (
                    HeaderName::from_static("x-content-type-options"),
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            hpack_preset: 1,
            ..Config::default()
        },
        ..Default::default()
    };
    let docroot = h2o::net::files::DocRoot::new(root.path()).unwrap();
    std::thread::spawn(move || h2o::net::server::serve_with(listener, docroot, config));
    let url = format!("http://{addr}/small.txt");

    let nghttp = support::require_bin("nghttp", "nghttp2-client");
    let o = Command::new(nghttp)
        .args(["-n", "-s", "-m", "5", "-t", "30", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "nghttp: {}\n{text}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        text.lines().filter(|l| l.contains(" 200 ")).count(),
        5,
        "{text}"
    );

    // One URL per curl run: with two URLs curl 7.88 fails the second on the
    // reused connection ("Error in the HTTP2 framing layer"), against
    // nghttpd as well, so it is curl's; not what this test is about.
    let curl = support::require_bin("curl", "curl");
    for _ in 0..2 {
        let o = Command::new(&curl)
            .args([
                "-sS",
                "-i",
                "--http2-prior-knowledge",
                "--max-time",
                "30",
                &url,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "curl: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(text.ends_with("hello world\n"), "{text}");
        // The primed fields came with the (first) response head, decoded by nghttp2.
        assert!(text.contains("x-content-type-options: nosniff"), "{text}");
    }

    let h2load = support::require_bin("h2load", "nghttp2-client");
    let n = 20_000;
    let o = Command::new(h2load)
        .args([
            "-n",
            &n.to_string(),
            "-c",
            "4",
            "-m",
            "16",
            "-T",
            "60",
            &url,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "h2load: {text}");
    assert!(
        text.contains(&format!("{n} succeeded, 0 failed, 0 errored")),
        "{text}"
    );
}
