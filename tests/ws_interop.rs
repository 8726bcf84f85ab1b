//! WebSocket interop on loopback with real peers started by the tests:
//! Python `websockets` and Node `ws` clients against `h2o serve --ws-echo`,
//! `h2o ws` against their echo servers, RFC 8441 (`h2o ws --h2` and several
//! WebSockets multiplexed with GETs on one HTTP/2 connection through the Rust
//! API), malformed frames answered with the right close codes, and the
//! HTTP/1.1 answers of the sniffing server. `scripts/test.sh` installs the
//! peers (`pip install websockets`, `npm ci` in tests/ws).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use h2o::net::ws_client::{H2Session, WsClient};
use h2o::ws::{CloseCode, Event, Message};
use support::*;

fn require_node_ws() {
    assert!(
        ws_dir().join("node_modules/ws").is_dir(),
        "node `ws` is required: (cd tests/ws && npm ci) (scripts/test.sh does)"
    );
}

fn serve_echo(tag: &str) -> (TempDir, ServerGuard) {
    let dir = TempDir::new(tag);
    std::fs::write(dir.path().join("echo"), b"a file named echo\n").unwrap();
    std::fs::write(dir.path().join("index.html"), b"<p>hi</p>\n").unwrap();
    let g = spawn_h2o_serve_with(dir.path(), &["--ws-echo", "/echo"]);
    (dir, g)
}

/// Runs a peer script in client mode against `url`, with a time limit.
fn run_peer_client(cmd: &mut Command) -> Output {
    let mut child = cmd
        .current_dir(ws_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn peer");
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "peer client timed out:\n{}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_all_ok(o: &Output, who: &str) {
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.lines().any(|l| l == "ALL OK"),
        "{who} failed ({:?}):\n{out}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn python_websockets_client_against_h2o_serve() {
    require_python_websockets();
    let (_d, g) = serve_echo("ws-py");
    let url = format!("ws://{}/echo", g.addr);
    let o = run_peer_client(Command::new("python3").args(["py_peer.py", "client", &url]));
    assert_all_ok(&o, "python websockets client");
}

#[test]
fn node_ws_client_against_h2o_serve() {
    require_node_ws();
    let (_d, g) = serve_echo("ws-node");
    let url = format!("ws://{}/echo", g.addr);
    let o = run_peer_client(Command::new("node").args(["node_peer.js", "client", &url]));
    assert_all_ok(&o, "node ws client");
}

/// A peer echo server; killed on drop (its stdin is a pipe we hold).
fn spawn_peer_server(mut cmd: Command, name: &str) -> ServerGuard {
    cmd.current_dir(ws_dir()).stdin(Stdio::piped());
    support::spawn_listening(&mut cmd, name, Duration::from_secs(20))
}

/// Runs `h2o ws ARGS` with `input` on stdin; returns its output.
fn h2o_ws(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_h2o"))
        .arg("ws")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("h2o ws timed out");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

const LINES: &str = "first line\nsecond — ünïcødé\n\nlast\n";

fn assert_echoed(o: &Output) {
    assert!(
        o.status.success(),
        "h2o ws failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), LINES);
}

#[test]
fn h2o_ws_against_python_echo_server() {
    require_python_websockets();
    let mut cmd = Command::new("python3");
    cmd.args(["py_peer.py", "server"]);
    let g = spawn_peer_server(cmd, "python websockets server");
    assert_echoed(&h2o_ws(&[&format!("ws://{}/", g.addr)], LINES));
}

#[test]
fn h2o_ws_against_node_echo_server() {
    require_node_ws();
    let mut cmd = Command::new("node");
    cmd.args(["node_peer.js", "server"]);
    let g = spawn_peer_server(cmd, "node ws server");
    assert_echoed(&h2o_ws(&[&format!("ws://{}/any/path", g.addr)], LINES));
}

#[test]
fn h2o_ws_h2_against_h2o_serve() {
    let (_d, g) = serve_echo("ws-h2cli");
    assert_echoed(&h2o_ws(&["--h2", &format!("ws://{}/echo", g.addr)], LINES));
    assert_echoed(&h2o_ws(&[&format!("ws://{}/echo", g.addr)], LINES));
}

#[test]
fn rust_client_both_transports() {
    let (_d, g) = serve_echo("ws-rust");
    for h2 in [false, true] {
        let mut c = WsClient::connect_timeout(
            &format!("ws://{}/echo", g.addr),
            h2,
            Duration::from_secs(20),
        )
        .unwrap();
        assert_eq!(c.is_h2(), h2);
        c.send_text("héllo").unwrap();
        assert_eq!(
            c.recv().unwrap(),
            Event::Message(Message::Text("héllo".into()))
        );
        let big: Vec<u8> = random_bytes(16 << 20, 9);
        c.send_binary(&big).unwrap();
        match c.recv().unwrap() {
            Event::Message(Message::Binary(b)) => assert!(b == big, "16 MiB echo differs"),
            e => panic!("{e:?}"),
        }
        c.send_ping(b"p").unwrap();
        assert_eq!(c.recv().unwrap(), Event::Pong("p".into()));
        assert_eq!(
            c.close(CloseCode(4321), "done").unwrap(),
            CloseCode(4321),
            "h2={h2}"
        );
    }
}

#[test]
fn rfc8441_many_websockets_and_gets_on_one_connection() {
    let (_d, g) = serve_echo("ws-mux");
    let mut s = H2Session::connect(&format!("ws://{}/", g.addr), Duration::from_secs(20)).unwrap();
    let ids: Vec<_> = (0..5).map(|_| s.open_websocket("/echo").unwrap()).collect();
    // A GET on the endpoint path still serves the file; others too.
    let g1 = s.get("/echo").unwrap();
    for (k, &id) in ids.iter().enumerate() {
        s.websocket(id)
            .unwrap()
            .send_text(&format!("stream {k}"))
            .unwrap();
        s.websocket(id)
            .unwrap()
            .send_binary(&vec![k as u8; 100_000 * (k + 1)])
            .unwrap();
    }
    let g2 = s.get("/index.html").unwrap();
    s.flush().unwrap();
    // Read the streams in reverse order: their events were buffered meanwhile.
    for (k, &id) in ids.iter().enumerate().rev() {
        assert_eq!(
            s.recv(id).unwrap(),
            Event::Message(Message::Text(format!("stream {k}").into()))
        );
        match s.recv(id).unwrap() {
            Event::Message(Message::Binary(b)) => {
                assert_eq!(b.len(), 100_000 * (k + 1));
                assert!(b.iter().all(|&x| x == k as u8));
            }
            e => panic!("{e:?}"),
        }
    }
    assert_eq!(s.response(g1).unwrap(), (200, "a file named echo\n".into()));
    assert_eq!(s.response(g2).unwrap(), (200, "<p>hi</p>\n".into()));
    // Close some, keep using the others.
    for &id in &ids[..3] {
        assert_eq!(
            s.close_websocket(id, CloseCode::NORMAL, "").unwrap(),
            CloseCode::NORMAL
        );
    }
    let id = ids[4];
    s.websocket(id).unwrap().send_text("still here").unwrap();
    assert_eq!(
        s.recv(id).unwrap(),
        Event::Message(Message::Text("still here".into()))
    );
    // A CONNECT on another path is refused; the connection lives on.
    let err = s.open_websocket("/elsewhere").unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    assert_eq!(err, h2o::net::WsError::Rejected(404));
    let g3 = s.get("/index.html").unwrap();
    assert_eq!(s.response(g3).unwrap().0, 200);
    s.shutdown();
}

// ------------------------------------------------------- raw HTTP/1.1 checks

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn upgrade(addr: std::net::SocketAddr, path: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).unwrap() == 0 {
            break;
        }
        head.push(b[0]);
    }
    (s, String::from_utf8(head).unwrap())
}

/// Sends `frame` after a valid upgrade; returns the close code the server sent.
fn close_code_for(addr: std::net::SocketAddr, frame: &[u8]) -> u16 {
    let (mut s, head) = upgrade(addr, "/echo");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    s.write_all(frame).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(got.len() >= 4, "no close frame: {got:?}");
    assert_eq!(got[0], 0x88, "close frame expected, got {got:?}");
    u16::from_be_bytes([got[2], got[3]])
}

fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let key = [1u8, 2, 3, 4];
    let mut v = vec![first, 0x80 | payload.len() as u8];
    v.extend_from_slice(&key);
    let mut p = payload.to_vec();
    h2o::ws::apply_mask(&mut p, key, 0);
    v.extend_from_slice(&p);
    v
}

#[test]
fn malformed_frames_get_the_right_close_codes() {
    let (_d, g) = serve_echo("ws-bad");
    let a = g.addr;
    assert_eq!(
        close_code_for(a, &masked(0x83, b"x")),
        1002,
        "reserved opcode 3"
    );
    assert_eq!(
        close_code_for(a, &masked(0x8B, b"")),
        1002,
        "reserved opcode 0xB"
    );
    assert_eq!(close_code_for(a, &masked(0xC1, b"x")), 1002, "RSV1 set");
    assert_eq!(close_code_for(a, &masked(0xA1, b"x")), 1002, "RSV2 set");
    assert_eq!(
        close_code_for(a, b"\x81\x02hi"),
        1002,
        "unmasked client frame"
    );
    // A 126-byte ping (control frames carry at most 125 bytes).
    let mut big_ping = vec![0x89, 0x80 | 126, 0, 126, 0, 0, 0, 0];
    big_ping.extend_from_slice(&[0u8; 126]);
    assert_eq!(close_code_for(a, &big_ping), 1002, "oversize control frame");
    assert_eq!(
        close_code_for(a, &masked(0x09, b"")),
        1002,
        "fragmented ping"
    );
    assert_eq!(
        close_code_for(a, &masked(0x81, b"\xff\xfe")),
        1007,
        "invalid UTF-8"
    );
    assert_eq!(
        close_code_for(a, &masked(0x81, b"ok\xc3")),
        1007,
        "truncated UTF-8"
    );
    // The server keeps serving.
    let mut c = WsClient::connect(&format!("ws://{a}/echo"), false).unwrap();
    c.send_text("alive").unwrap();
    assert_eq!(
        c.recv().unwrap(),
        Event::Message(Message::Text("alive".into()))
    );
    let mut c2 = WsClient::connect(&format!("ws://{a}/echo"), true).unwrap();
    c2.send_text("alive2").unwrap();
    assert_eq!(
        c2.recv().unwrap(),
        Event::Message(Message::Text("alive2".into()))
    );
}

fn http1(addr: std::net::SocketAddr, req: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .expect("server closes after the reply");
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn http1_requests_that_are_not_upgrades() {
    let (_d, g) = serve_echo("ws-h1");
    let a = g.addr;
    // Plain HTTP/1.1 requests are served by the file server (keep-alive:
    // ask for the close the helper waits for).
    let r = http1(
        a,
        "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
    let r = http1(a, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 426 "), "{r}");
    assert!(r.contains("Sec-WebSocket-Version: 13"), "{r}");
    let (_, head) = upgrade(a, "/nope");
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    let r = http1(
        a,
        "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    let r = http1(a, "\x00\x01garbage\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    // h2c prior knowledge still works on the same port.
    let o = Command::new(env!("CARGO_BIN_EXE_h2o"))
        .args(["get", &format!("http://{a}/index.html")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "<p>hi</p>\n");
}

#[test]
fn idle_websocket_is_closed_with_1001() {
    let dir = TempDir::new("ws-idle");
    let g = spawn_h2o_serve_with(dir.path(), &["--ws-echo", "/echo", "--idle-timeout", "1"]);
    let (mut s, head) = upgrade(g.addr, "/echo");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(
        got.len() >= 4 && got[0] == 0x88,
        "close frame expected: {got:?}"
    );
    assert_eq!(u16::from_be_bytes([got[2], got[3]]), 1001);
}

#[test]
fn sniffing_copes_with_bytes_arriving_one_by_one() {
    let (_d, g) = serve_echo("ws-slow");
    // HTTP/2 preface dribbled byte by byte, then an empty SETTINGS frame:
    // the server answers with HTTP/2 frames (its SETTINGS first).
    let mut s = TcpStream::connect(g.addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for b in b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" {
        s.write_all(&[*b]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    s.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).unwrap();
    let mut head = [0u8; 9];
    s.read_exact(&mut head).unwrap();
    assert_eq!(head[3], 4, "SETTINGS frame expected, got {head:?}");
    // An upgrade request dribbled in pieces still gets its 101.
    let mut s = TcpStream::connect(g.addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n\r\n"
    );
    for chunk in req.as_bytes().chunks(7) {
        s.write_all(chunk).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    // A frame right behind the head.
    s.write_all(&masked(0x81, b"hey")).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&got).contains("hey") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 101 "), "{text}");
    assert!(got.ends_with(b"\x81\x03hey"), "{got:?}");
}

#[test]
fn pipelined_messages_beyond_the_output_backlog() {
    use h2o::ws::{Config, Role, WebSocket};
    let (_d, g) = serve_echo("ws-backlog");
    let (s, head) = upgrade(g.addr, "/echo");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    const N: usize = 40;
    const SIZE: usize = 1 << 20;
    let mut wsock = s.try_clone().unwrap();
    // Writer: 40 MiB of messages without reading anything meanwhile.
    let writer = std::thread::spawn(move || {
        let mut ws = WebSocket::new(Role::Client, Config::default());
        let mut buf = Vec::new();
        for k in 0..N {
            ws.send_binary(&vec![k as u8; SIZE]).unwrap();
            buf.clear();
            ws.write_to(&mut buf);
            wsock.write_all(&buf).unwrap();
        }
    });
    // Reader starts late, so the server's output backlog fills up first.
    std::thread::sleep(Duration::from_millis(300));
    let mut rs = s;
    rs.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut ws = WebSocket::new(Role::Client, Config::default());
    let mut buf = vec![0u8; 1 << 16];
    let mut k = 0;
    while k < N {
        let n = rs.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {k} echoes");
        ws.recv(&buf[..n]).unwrap();
        while let Some(ev) = ws.poll_event() {
            match ev {
                Event::Message(Message::Binary(b)) => {
                    assert_eq!(b.len(), SIZE);
                    assert!(b.iter().all(|&x| x == k as u8), "message {k}");
                    k += 1;
                }
                e => panic!("{e:?}"),
            }
        }
    }
    writer.join().unwrap();
}
