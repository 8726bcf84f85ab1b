//! `h2o get` end to end against `h2o serve` and scripted misbehaving peers:
//! body/-o/-v/--fail behaviour and one clear error line (exit 1) for refused
//! connections, DNS failures, https URLs, non-HTTP/2 peers, stream resets,
//! GOAWAY and timeouts.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::Duration;

use bytes::Bytes;
use h2o::frame::{Frame, Settings};
use h2o::ErrorCode;
use support::{free_port, random_bytes, spawn_h2o_serve, TempDir};

fn get(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_h2o"))
        .arg("get")
        .args(args)
        .output()
        .expect("run h2o get")
}

fn err_line(o: &Output) -> String {
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "expected exit 1, stderr: {e}");
    assert_eq!(e.lines().count(), 1, "one error line expected: {e:?}");
    e
}

#[test]
fn get_from_h2o_serve() {
    let root = TempDir::new("cli-get");
    let big = random_bytes(300 << 10, 3);
    std::fs::write(root.path().join("index.html"), b"<h1>hi</h1>\n").unwrap();
    std::fs::write(root.path().join("big.bin"), &big).unwrap();
    let server = spawn_h2o_serve(root.path());

    let o = get(&[&server.url("/")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout, b"<h1>hi</h1>\n");

    let out = root.path().join("copy.bin");
    let o = get(&["-o", out.to_str().unwrap(), &server.url("/big.bin")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty());
    assert!(std::fs::read(&out).unwrap() == big);

    let o = get(&["-v", &server.url("/index.html")]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success());
    assert!(e.contains("> :path: /index.html"), "{e}");
    assert!(e.contains("< :status: 200"), "{e}");
    assert!(e.contains("< content-type: text/html"), "{e}");
    assert!(e.contains("< content-length: 12"), "{e}");

    // Non-2xx: a response was received, exit 0 and the body is printed…
    let o = get(&[&server.url("/missing")]);
    assert!(o.status.success());
    assert_eq!(o.stdout, b"404 Not Found\n");
    // …unless --fail.
    let o = get(&["--fail", &server.url("/missing")]);
    assert!(err_line(&o).contains("404"));
    assert!(o.stdout.is_empty());
}

#[test]
fn get_errors_are_one_clear_line() {
    let port = free_port();
    let e = err_line(&get(&[&format!("http://127.0.0.1:{port}/")]));
    assert!(e.contains("cannot connect"), "{e}");

    // https:// goes through TLS (tests/tls_net.rs): a closed port is a connect error.
    let e = err_line(&get(&[&format!("https://127.0.0.1:{port}/")]));
    assert!(e.contains("cannot connect"), "{e}");

    let e = err_line(&get(&["http://no-such-host.invalid/"]));
    assert!(e.contains("cannot resolve"), "{e}");

    let e = err_line(&get(&["ftp://x/"]));
    assert!(e.contains("unsupported URL"), "{e}");
}

/// A one-shot scripted peer: accepts one connection, reads what the client
/// sends first, answers `reply`, then keeps the socket open for `hold`.
fn scripted_peer(reply: Vec<u8>, hold: Duration) -> (String, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.read(&mut buf);
        let _ = s.write_all(&reply);
        std::thread::sleep(hold);
    });
    (url, h)
}

fn h2_reply(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::new();
    Frame::Settings {
        ack: false,
        settings: Settings::default(),
    }
    .encode(&mut out);
    for f in frames {
        f.encode(&mut out);
    }
    out
}

#[test]
fn get_reports_non_http2_peer() {
    let (url, h) = scripted_peer(
        b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n".to_vec(),
        Duration::ZERO,
    );
    let e = err_line(&get(&[&url]));
    assert!(e.contains("does not speak HTTP/2"), "{e}");
    h.join().unwrap();
}

#[test]
fn get_reports_reset_stream() {
    let reply = h2_reply(&[Frame::RstStream {
        stream_id: 1,
        code: ErrorCode::REFUSED_STREAM,
    }]);
    let (url, h) = scripted_peer(reply, Duration::from_millis(500));
    let e = err_line(&get(&[&url]));
    assert!(e.contains("reset") && e.contains("REFUSED_STREAM"), "{e}");
    h.join().unwrap();
}

#[test]
fn get_reports_goaway() {
    let reply = h2_reply(&[Frame::GoAway {
        last_stream_id: 0,
        code: ErrorCode::ENHANCE_YOUR_CALM,
        debug: Bytes::from_static(b"slow down"),
    }]);
    let (url, h) = scripted_peer(reply, Duration::from_millis(500));
    let e = err_line(&get(&[&url]));
    assert!(
        e.contains("GOAWAY") && e.contains("ENHANCE_YOUR_CALM"),
        "{e}"
    );
    h.join().unwrap();
}

#[test]
fn get_times_out() {
    let (url, h) = scripted_peer(h2_reply(&[]), Duration::from_secs(3));
    let start = std::time::Instant::now();
    let e = err_line(&get(&["--timeout", "1", &url]));
    assert!(e.contains("timed out"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(3));
    h.join().unwrap();
}

#[test]
fn get_reports_early_close() {
    let (url, h) = scripted_peer(Vec::new(), Duration::ZERO);
    let e = err_line(&get(&[&url]));
    assert!(e.contains("closed"), "{e}");
    h.join().unwrap();
}
