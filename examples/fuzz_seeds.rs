//! Writes seed corpora for the fuzz targets in `fuzz/` (run by
//! scripts/fuzz.sh): `cargo run --release --example fuzz_seeds -- DIR`
//! writes `DIR/<target>/seed-N`. The inputs are what the tests exchange: a
//! client↔server session (requests with and without bodies, responses,
//! trailers, a reset, PING), HPACK blocks of typical heads, WebSocket frames
//! of both roles and a TLS handshake's first flights, each encoded in the
//! target's input format (see fuzz/fuzz_targets/common.rs: choice bytes and
//! u16-length-prefixed chunks).

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use h2o::conn::{Config, Connection, Event, PREFACE};
use h2o::hpack::{Encoder, HeaderField};
use h2o::ws::{CloseCode, Role, WebSocket};

/// Appends op `op` followed by a u16-length-prefixed chunk (split if long).
fn chunks(out: &mut Vec<u8>, op: Option<u8>, data: &[u8]) {
    for piece in data.chunks(16_384) {
        if let Some(op) = op {
            out.push(op);
        }
        out.extend_from_slice(&(piece.len() as u16).to_be_bytes());
        out.extend_from_slice(piece);
    }
}

/// A client↔server session; returns (client→server, server→client) bytes.
fn session() -> (Vec<u8>, Vec<u8>) {
    let mut c = Connection::client(Config::default());
    let mut s = Connection::server(Config::default());
    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    let now = Duration::ZERO;
    let get = http::Request::get("https://example.com/index.html")
        .header("user-agent", "seed")
        .body(())
        .unwrap();
    let post = http::Request::post("https://example.com/upload")
        .header("content-type", "text/plain")
        .body(())
        .unwrap();
    let a = c.send_request(get, true).unwrap();
    let b = c.send_request(post, false).unwrap();
    c.send_data(b, Bytes::from_static(b"hello body"), false)
        .unwrap();
    let mut t = http::HeaderMap::new();
    t.insert("x-trailer", http::HeaderValue::from_static("1"));
    c.send_trailers(b, t).unwrap();
    let cancel = c
        .send_request(
            http::Request::get("https://example.com/x")
                .body(())
                .unwrap(),
            true,
        )
        .unwrap();
    c.ping(*b"seedping");
    for round in 0..20 {
        let mut buf = Vec::new();
        c.write_to(now, &mut buf, usize::MAX);
        c2s.extend_from_slice(&buf);
        let _ = s.recv(now, &buf);
        while let Some(ev) = s.poll_event() {
            if let Event::Request { stream_id, .. } = ev {
                let resp = http::Response::builder()
                    .status(200)
                    .header("content-type", "text/html")
                    .body(())
                    .unwrap();
                s.send_response(stream_id, resp, false).unwrap();
                s.send_data(stream_id, Bytes::from(vec![b'x'; 3000]), true)
                    .unwrap();
            }
        }
        buf.clear();
        s.write_to(now, &mut buf, usize::MAX);
        s2c.extend_from_slice(&buf);
        let _ = c.recv(now, &buf);
        while c.poll_event().is_some() {}
        if round == 1 {
            let _ = c.reset(cancel, h2o::ErrorCode::CANCEL);
        }
    }
    let _ = a;
    (c2s, s2c)
}

fn hpack_blocks() -> Vec<Vec<u8>> {
    let mut enc = Encoder::default();
    let heads: [&[(&str, &str)]; 3] = [
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "www.example.com"),
            (":path", "/"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "www.example.com"),
            (":path", "/index.html"),
            ("custom-key", "custom-value"),
            ("cookie", "a=b; c=d"),
        ],
        &[
            (":status", "200"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
    ];
    heads
        .iter()
        .map(|fields| {
            let mut out = Vec::new();
            enc.encode(
                fields.iter().map(|(n, v)| HeaderField {
                    name: n.as_bytes(),
                    value: v.as_bytes(),
                    never_index: false,
                }),
                &mut out,
            );
            out
        })
        .collect()
}

/// Frames a WebSocket endpoint of `role` writes (masked for clients).
fn ws_frames(role: Role) -> Vec<u8> {
    let mut ws = WebSocket::new(role, h2o::ws::Config::default());
    ws.send_text("hello").unwrap();
    ws.send_binary(&[0u8; 300]).unwrap();
    ws.send_binary(&vec![1u8; 70_000]).unwrap();
    ws.send_ping(b"p").unwrap();
    ws.close(CloseCode(1000), "bye").unwrap();
    let mut out = Vec::new();
    ws.write_to(&mut out);
    out
}

#[cfg(feature = "tls")]
fn tls_flights() -> (Vec<u8>, Vec<u8>) {
    use h2o::tls::{Alpn, ClientTls, Roots, SelfSigned, ServerTls, TlsPipe};
    let now = Duration::from_secs(1_800_000_000);
    let s = SelfSigned::generate(&["localhost"], now, 30).unwrap();
    let server = ServerTls::builder()
        .cert(s.chain.clone())
        .alpn(&[Alpn::H2])
        .build()
        .unwrap();
    let client = ClientTls::builder()
        .roots(Roots::None)
        .add_ca_pem(s.ca_pem.as_bytes(), "seed CA")
        .alpn(&[Alpn::H2])
        .build()
        .unwrap();
    let mut c = TlsPipe::client(&client, "localhost", now).unwrap();
    let mut sv = TlsPipe::server(&server, now).unwrap();
    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    let mut plain = Vec::new();
    for _ in 0..4 {
        let mut buf = Vec::new();
        c.write_tls(&mut buf);
        c2s.extend_from_slice(&buf);
        let _ = sv.recv(now, &buf, &mut plain);
        buf.clear();
        sv.write_tls(&mut buf);
        s2c.extend_from_slice(&buf);
        let _ = c.recv(now, &buf, &mut plain);
    }
    (c2s, s2c)
}

#[cfg(not(feature = "tls"))]
fn tls_flights() -> (Vec<u8>, Vec<u8>) {
    (Vec::new(), Vec::new())
}

fn write(dir: &Path, target: &str, seeds: &[Vec<u8>]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).unwrap();
    for (i, s) in seeds.iter().enumerate() {
        std::fs::write(d.join(format!("seed-{i}")), s).unwrap();
    }
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| {
        eprintln!("usage: fuzz_seeds DIR");
        std::process::exit(2)
    });
    let dir = Path::new(&dir);
    let (c2s, s2c) = session();
    let c2s = &c2s[PREFACE.len()..];

    // frame_decode: [u16 max-frame choice] then chunks.
    let mut seeds = Vec::new();
    for bytes in [c2s, &s2c[..]] {
        let mut v = vec![0, 0];
        chunks(&mut v, None, bytes);
        seeds.push(v);
    }
    write(dir, "frame_decode", &seeds);

    // hpack_decode: [u16 table size] then (op byte, chunk) per block.
    let mut v = vec![0x10, 0x00];
    for b in hpack_blocks() {
        v.push(1);
        chunks(&mut v, None, &b);
    }
    write(dir, "hpack_decode", &[v]);

    // conn_server: config bytes, then recv / poll / respond / write ops.
    let mut v = vec![7, 0, 0, 0];
    chunks(&mut v, Some(0), c2s);
    v.extend_from_slice(&[4, 5, 0, 0, 0, 6, 0, 0x01, 0x00, 1, 11, 0xff, 0xff]);
    write(dir, "conn_server", &[v]);

    // conn_client: config byte, send a GET and write, then the server's bytes.
    let mut v = vec![0, 5, 0, 9, 0xff, 0xff];
    chunks(&mut v, Some(0), &s2c);
    v.push(4);
    write(dir, "conn_client", &[v]);

    // ws_frame: single frame headers of both roles.
    let client_frames = ws_frames(Role::Client);
    let server_frames = ws_frames(Role::Server);
    write(
        dir,
        "ws_frame",
        &[client_frames[..14].to_vec(), server_frames[..14].to_vec()],
    );

    // ws_conn: [role, u16 max frame, u16 max message, auto pong] then ops.
    let mut seeds = Vec::new();
    for (role, frames) in [(0u8, &client_frames), (1u8, &server_frames)] {
        let mut v = vec![role, 0xff, 0xff, 0xff, 0xff, 0];
        chunks(&mut v, Some(0), frames);
        v.push(7);
        seeds.push(v);
    }
    write(dir, "ws_conn", &seeds);

    // tls_server / tls_client: the peer's handshake flights as recv chunks.
    let (tc2s, ts2c) = tls_flights();
    if !tc2s.is_empty() {
        let mut v = Vec::new();
        chunks(&mut v, Some(0), &tc2s);
        write(dir, "tls_server", &[v]);
        let mut v = Vec::new();
        chunks(&mut v, Some(0), &ts2c);
        write(dir, "tls_client", &[v]);
    }
    println!("fuzz seeds written to {}", dir.display());
}
