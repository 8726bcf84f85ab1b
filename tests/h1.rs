//! HTTP/1.1 against real peers on 127.0.0.1: `curl --http1.1` and
//! `h2load --h1` against `h2o serve` (keep-alive, pipelining, the same file
//! semantics as HTTP/2), and our pooled client with `http1: true` against
//! `h2o serve` and the h2o web server (byte-exact bodies 0 B..1 MiB, chunked,
//! HEAD, 304, connection reuse, `connection: close`), plus a scripted peer for
//! trailers, interim 1xx and close-delimited bodies.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use bytes::Bytes;
use h2o::net::pool::Trailers;
use h2o::{Client, ClientConfig, ClientError};
use support::{
    random_bytes, require_bin, spawn_h2o_serve, spawn_h2o_serve_with, spawn_h2o_web_server,
    ServerGuard, TempDir,
};

/// Name and size of the test files: empty, tiny, around the 64 KiB
/// small-file / sendfile thresholds, 1 MiB.
const FILES: &[(&str, usize)] = &[
    ("empty.bin", 0),
    ("one.bin", 1),
    ("small.txt", 12),
    ("below.bin", (64 << 10) - 1),
    ("above.bin", (64 << 10) + 1),
    ("big.bin", 1 << 20),
];

fn docroot(tag: &str) -> TempDir {
    let d = TempDir::new(tag);
    for (i, (name, len)) in FILES.iter().enumerate() {
        std::fs::write(d.path().join(name), random_bytes(*len, 77 + i as u64)).unwrap();
    }
    std::fs::write(
        d.path().join("text.txt"),
        "compressible text\n".repeat(20_000),
    )
    .unwrap();
    d
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn http1_client() -> Client {
    Client::new(ClientConfig {
        http1: true,
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(20),
        breaker: None,
        ..ClientConfig::default()
    })
}

// ------------------------------------------------------------------ curl

#[test]
fn curl_http1_keep_alive_and_file_semantics() {
    let curl = require_bin("curl", "curl");
    let root = docroot("h1-curl");
    for extra in [&[][..], &["--sendfile"][..], &["--no-zero-copy"][..]] {
        let server = spawn_h2o_serve_with(root.path(), extra);
        // Every file on one connection: the 2nd..Nth transfers connect 0 times.
        let out = TempDir::new("h1-curl-out");
        let mut cmd = Command::new(&curl);
        cmd.args(["-sS", "--http1.1", "-w", "%{num_connects} %{http_code}\\n"]);
        for (name, _) in FILES {
            cmd.arg("-o").arg(out.path().join(name));
            cmd.arg(server.url(&format!("/{name}")));
        }
        let o = run(&mut cmd);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let lines: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(String::from)
            .collect();
        let mut want = vec!["0 200".to_string(); FILES.len()];
        want[0] = "1 200".into();
        assert_eq!(lines, want, "{extra:?}");
        for (name, _) in FILES {
            let got = std::fs::read(out.path().join(name)).unwrap();
            let exp = std::fs::read(root.path().join(name)).unwrap();
            assert!(got == exp, "{name} differs ({extra:?})");
        }
    }
    let server = spawn_h2o_serve(root.path());
    let head = |args: &[&str]| -> String {
        let o = run(Command::new(&curl)
            .args(["-sS", "--http1.1", "-o", "/dev/null", "-D", "-"])
            .args(args));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let h = head(&["-I", &server.url("/big.bin")]);
    assert!(h.starts_with("HTTP/1.1 200 OK\r\n"), "{h}");
    assert!(h.contains("content-length: 1048576\r\n"), "{h}");
    let etag = h
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("etag")
        .trim()
        .to_string();
    let h = head(&[
        "-H",
        &format!("if-none-match: {etag}"),
        &server.url("/big.bin"),
    ]);
    assert!(h.starts_with("HTTP/1.1 304 "), "{h}");
    let h = head(&["-r", "10-19", &server.url("/big.bin")]);
    assert!(h.starts_with("HTTP/1.1 206 "), "{h}");
    assert!(h.contains("content-range: bytes 10-19/1048576\r\n"), "{h}");
    let h = head(&["-r", "2000000-", &server.url("/big.bin")]);
    assert!(h.starts_with("HTTP/1.1 416 "), "{h}");
    let h = head(&[&server.url("/missing")]);
    assert!(h.starts_with("HTTP/1.1 404 "), "{h}");
    let h = head(&["-X", "POST", "-d", "x", &server.url("/small.txt")]);
    assert!(h.starts_with("HTTP/1.1 405 "), "{h}");
    assert!(h.contains("allow: GET, HEAD\r\n"), "{h}");
    let h = head(&["--path-as-is", &server.url("/../etc/passwd")]);
    assert!(
        h.starts_with("HTTP/1.1 400 ") || h.starts_with("HTTP/1.1 404 "),
        "{h}"
    );
}

#[test]
fn pipelined_requests_and_bad_input_over_raw_socket() {
    let root = docroot("h1-raw");
    let server = spawn_h2o_serve(root.path());
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Three pipelined requests in one write; the last asks for the close.
    s.write_all(
        b"GET /small.txt HTTP/1.1\r\nhost: x\r\n\r\nHEAD /big.bin HTTP/1.1\r\nhost: x\r\n\r\n\
          GET /one.bin HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("closed after the third");
    let text = String::from_utf8_lossy(&got);
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{text}");
    let small = std::fs::read(root.path().join("small.txt")).unwrap();
    let one = std::fs::read(root.path().join("one.bin")).unwrap();
    assert!(got.windows(small.len()).any(|w| w == small));
    assert!(got.ends_with(&one), "{text}");
    // A malformed head: 400 and the close; an oversized one: 431.
    for (req, status) in [
        (b"GET / HTTP/1.1\r\nbad header\r\n\r\n".to_vec(), "400"),
        (
            format!("GET / HTTP/1.1\r\nx: {}\r\n\r\n", "a".repeat(70 << 10)).into_bytes(),
            "431",
        ),
    ] {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(&req);
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
        assert!(text.contains("connection: close\r\n"), "{text}");
    }
    // HTTP/2 still works on the same port.
    let o = run(Command::new(env!("CARGO_BIN_EXE_h2o"))
        .args(["get"])
        .arg(server.url("/small.txt")));
    assert!(o.status.success());
    assert_eq!(o.stdout, small);
}

// ---------------------------------------------------------------- h2load

fn h2load_h1(server: &ServerGuard, n: u32, c: u32, m: u32, path: &str) {
    let h2load = require_bin("h2load", "nghttp2-client");
    let o = run(Command::new(h2load)
        .args(["--h1", "-T", "60"])
        .args([
            "-n",
            &n.to_string(),
            "-c",
            &c.to_string(),
            "-m",
            &m.to_string(),
        ])
        .arg(server.url(path)));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "h2load failed:\n{text}");
    let want = format!("{n} succeeded, 0 failed, 0 errored, 0 timeout");
    assert!(
        text.lines()
            .any(|l| l.starts_with("requests:") && l.contains(&want)),
        "h2load summary lacks {want:?}:\n{text}"
    );
    assert!(text.contains(&format!("status codes: {n} 2xx")), "{text}");
    if let Some(l) = text.lines().find(|l| l.starts_with("finished in")) {
        eprintln!("h2load --h1 -n {n} -c {c} -m {m} {path}: {l}");
    }
}

#[test]
fn h2load_h1_against_h2o_serve() {
    let root = docroot("h1-h2load");
    let server = spawn_h2o_serve(root.path());
    let n = if cfg!(debug_assertions) {
        5_000
    } else {
        50_000
    };
    h2load_h1(&server, n, 10, 1, "/small.txt");
    // -m > 1: pipelined requests on each connection.
    h2load_h1(&server, n, 10, 8, "/small.txt");
    h2load_h1(&server, 400, 4, 4, "/big.bin");
    let server = spawn_h2o_serve_with(root.path(), &["--no-zero-copy"]);
    h2load_h1(&server, 400, 4, 4, "/big.bin");
}

// ---------------------------------------------------------------- our client

/// Byte-exact bodies, HEAD, 304 and connection reuse against `base`.
fn check_client(base: &str, root: &Path) {
    let client = http1_client();
    for (name, _) in FILES {
        let r = client.get(&format!("{base}/{name}")).unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let want = std::fs::read(root.join(name)).unwrap();
        assert!(r.body()[..] == want[..], "{name}: body differs");
    }
    // Sequential requests all went over one keep-alive connection.
    assert_eq!(client.connections_opened(), 1);
    let req = http::Request::head(format!("{base}/big.bin"))
        .body(Bytes::new())
        .unwrap();
    let r = client.request(req).unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "1048576");
    assert!(r.body().is_empty());
    let etag = r.headers()["etag"].clone();
    let req = http::Request::get(format!("{base}/big.bin"))
        .header("if-none-match", etag)
        .body(Bytes::new())
        .unwrap();
    let r = client.request(req).unwrap();
    assert_eq!(r.status(), 304);
    assert!(r.body().is_empty());
    let r = client.get(&format!("{base}/missing")).unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(client.connections_opened(), 1);
    // Concurrent requests: one request per connection, several connections,
    // each reused.
    let handles: Vec<_> = (0..24)
        .map(|i| {
            let (name, _) = FILES[i % FILES.len()];
            client
                .send(client.get_request(&format!("{base}/{name}")).unwrap())
                .unwrap()
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let (name, _) = FILES[i % FILES.len()];
        let r = h.wait().unwrap();
        let want = std::fs::read(root.join(name)).unwrap();
        assert!(r.body()[..] == want[..], "{name}: body differs");
    }
    let opened = client.connections_opened();
    assert!(opened > 1 && opened <= 17, "opened {opened}");
    // `connection: close` from us: answered on the pooled connection, which
    // the server then closes; the next request needs a new connection, which
    // is kept again.
    let client = http1_client();
    assert_eq!(
        client.get(&format!("{base}/one.bin")).unwrap().status(),
        200
    );
    let req = http::Request::get(format!("{base}/small.txt"))
        .header("connection", "close")
        .body(Bytes::new())
        .unwrap();
    let r = client.request(req).unwrap();
    assert_eq!(r.body().len(), 12);
    assert_eq!(client.connections_opened(), 1);
    for _ in 0..3 {
        assert_eq!(
            client.get(&format!("{base}/one.bin")).unwrap().status(),
            200
        );
    }
    assert_eq!(client.connections_opened(), 2);
}

#[test]
fn client_http1_against_h2o_serve() {
    let root = docroot("h1-client");
    let server = spawn_h2o_serve(root.path());
    check_client(&server.url(""), root.path());
    // The CLI flag.
    let out = TempDir::new("h1-cli-out");
    let o = run(Command::new(env!("CARGO_BIN_EXE_h2o"))
        .args(["get", "--http1.1", "-o"])
        .arg(out.path().join("a"))
        .arg("-o")
        .arg(out.path().join("b"))
        .arg(server.url("/big.bin"))
        .arg(server.url("/small.txt")));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::read(out.path().join("a")).unwrap()
            == std::fs::read(root.path().join("big.bin")).unwrap()
    );
    assert!(
        std::fs::read(out.path().join("b")).unwrap()
            == std::fs::read(root.path().join("small.txt")).unwrap()
    );
}

#[test]
fn client_http1_against_h2o_web_server() {
    let root = docroot("h1-h2osrv");
    let conf_dir = TempDir::new("h1-h2osrv-conf");
    // `compress: ON`: gzip on the fly, which HTTP/1.1 sends chunked.
    let server = spawn_h2o_web_server(
        root.path(),
        conf_dir.path(),
        "",
        "        compress: ON\n",
        "h2o web server",
    );
    check_client(&server.url(""), root.path());
    // A chunked body (gzip made on the fly), checked by gunzip.
    let client = http1_client();
    let req = http::Request::get(server.url("/text.txt"))
        .header("accept-encoding", "gzip")
        .body(Bytes::new())
        .unwrap();
    let r = client.request(req).unwrap();
    assert_eq!(r.headers()["transfer-encoding"], "chunked");
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let gz = TempDir::new("h1-gz");
    std::fs::write(gz.path().join("t.gz"), r.body()).unwrap();
    let o = run(Command::new("gzip").arg("-dc").arg(gz.path().join("t.gz")));
    assert!(o.status.success());
    assert!(o.stdout == std::fs::read(root.path().join("text.txt")).unwrap());
}

#[test]
fn client_http1_survives_the_server_closing_idle_connections() {
    let root = docroot("h1-idle");
    let server = spawn_h2o_serve_with(root.path(), &["--idle-timeout", "0.3"]);
    let client = http1_client();
    let url = server.url("/small.txt");
    assert_eq!(client.get(&url).unwrap().status(), 200);
    // The server closes the idle keep-alive connection (its timer ticks
    // once a second); the next request goes over a new connection.
    std::thread::sleep(Duration::from_millis(2500));
    let r = client.get(&url).unwrap();
    assert_eq!(r.body().len(), 12);
    assert_eq!(client.connections_opened(), 2);
}

// ---------------------------------------------------------------- scripted peer

/// A one-connection server that reads one request head per reply and writes
/// the scripted replies in order, then closes.
fn scripted(replies: Vec<&'static [u8]>) -> (String, std::thread::JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut seen = Vec::new();
        for (answered, reply) in replies.into_iter().enumerate() {
            let mut buf = [0u8; 4096];
            // GET requests have no body: one head = one empty line.
            while seen.windows(4).filter(|w| w == b"\r\n\r\n").count() <= answered {
                let n = s.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    return seen;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            s.write_all(reply).unwrap();
        }
        seen
    });
    (format!("http://{addr}"), t)
}

#[test]
fn client_http1_trailers_interim_and_close_delimited() {
    let (base, t) = scripted(vec![
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
          5\r\nhello\r\n1;x=y\r\n!\r\n0\r\nx-checksum: 42\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nuntil the close",
    ]);
    let client = http1_client();
    let r = client.get(&format!("{base}/a")).unwrap();
    assert_eq!(&r.body()[..], b"hello!");
    let t1 = r.extensions().get::<Trailers>().expect("trailers");
    assert_eq!(t1.0["x-checksum"], "42");
    let r = client.get(&format!("{base}/b")).unwrap();
    assert!(r.body().is_empty());
    let r = client.get(&format!("{base}/c")).unwrap();
    assert_eq!(&r.body()[..], b"until the close");
    assert_eq!(client.connections_opened(), 1);
    let seen = t.join().unwrap();
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("GET /a HTTP/1.1\r\nhost: "), "{text}");
    // A malformed response is a typed error.
    let (base, _t) = scripted(vec![b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n"]);
    let e = http1_client().get(&format!("{base}/bad")).unwrap_err();
    assert!(matches!(e, ClientError::Http1(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "HTTP/1.1 protocol error: invalid content-length"
    );
}

#[test]
fn client_http1_resubmits_a_get_the_stale_connection_dropped() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let read_head = |s: &mut TcpStream| {
            let mut seen = Vec::new();
            let mut b = [0u8; 1];
            while !seen.ends_with(b"\r\n\r\n") {
                if s.read(&mut b).unwrap_or(0) == 0 {
                    return;
                }
                seen.push(b[0]);
            }
        };
        // 1st connection: one answer, then the next request is dropped
        // unanswered (the server closed it "while idle").
        let (mut s, _) = l.accept().unwrap();
        read_head(&mut s);
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\none")
            .unwrap();
        read_head(&mut s);
        drop(s);
        // 2nd connection: the resubmitted request.
        let (mut s, _) = l.accept().unwrap();
        read_head(&mut s);
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\ntwo")
            .unwrap();
        read_head(&mut s);
    });
    let client = http1_client();
    let url = format!("http://{addr}/x");
    assert_eq!(&client.get(&url).unwrap().body()[..], b"one");
    assert_eq!(&client.get(&url).unwrap().body()[..], b"two");
    assert_eq!(client.connections_opened(), 2);
    drop(client);
    t.join().unwrap();
}
