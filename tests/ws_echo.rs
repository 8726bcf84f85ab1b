//! `h2o ws --echo` driven by a Python `websockets` server
//! (tests/ws/py_echo_driver.py): text, binary, fragmented messages and a
//! ping are echoed byte-exact and in order and the server's close 1000 is
//! answered; a frame with a reserved opcode is answered with close 1002 and
//! exit status 1. `scripts/test.sh` installs `websockets`. Over RFC 8441 the
//! driver is an HTTP/2 server made of the core (`Connection` + `WsStream`).

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{require_python_websockets, spawn_listening, ws_dir, ServerGuard, TempDir};

/// The driver server in `mode`, writing its checks to `result`.
fn driver(mode: &str, result: &Path) -> ServerGuard {
    require_python_websockets();
    let mut cmd = Command::new("python3");
    cmd.arg("py_echo_driver.py")
        .arg(mode)
        .arg(result)
        .current_dir(ws_dir())
        .stdin(Stdio::piped());
    spawn_listening(&mut cmd, "python echo driver", Duration::from_secs(20))
}

/// `h2o ws --echo URL`, bounded to 60 s.
fn h2o_echo(url: &str) -> Output {
    h2o_echo_args(&[url])
}

/// `h2o ws --echo ARGS`, bounded to 60 s.
fn h2o_echo_args(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_h2o"))
        .args(["ws", "--echo", "--timeout", "20"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("h2o ws --echo timed out");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// The driver's result lines once `last` appears (≤10 s).
fn results(path: &Path, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if done(&text) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn echo_client_against_python_driver() {
    let dir = TempDir::new("ws-echo");
    let result = dir.path().join("result");
    let g = driver("scenario", &result);
    let o = h2o_echo(&format!("ws://{}/", g.addr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "h2o ws --echo failed: {err}");
    assert!(o.stdout.is_empty());
    assert!(
        err.contains(
            "echoed 3 text and 3 binary messages (300796 bytes); server closed: 1000 done"
        ),
        "{err}"
    );
    let text = results(&result, |t| t.contains("ALL OK") || t.contains("FAIL"));
    assert!(!text.contains("FAIL"), "{text}");
    assert!(text.contains("ALL OK"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ok: echo ")).count(),
        6,
        "{text}"
    );
}

#[test]
fn echo_client_closes_1002_on_a_reserved_opcode() {
    let dir = TempDir::new("ws-echo-bad");
    let result = dir.path().join("result");
    let g = driver("invalid", &result);
    let o = h2o_echo(&format!("ws://{}/", g.addr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the server broke the WebSocket protocol (reserved opcode); closed with 1002"),
        "{err}"
    );
    let text = results(&result, |t| {
        t.contains("client close") || t.contains("FAIL")
    });
    assert_eq!(text.trim(), "client close 1002");
}

/// RFC 8441: an HTTP/2 server built from the core (`Connection` +
/// `WsStream`) on a loopback socket accepts the extended CONNECT of
/// `h2o ws --echo --h2`, sends a text, a binary, a fragmented message and a
/// ping, checks the echoes byte-exact and in order and the pong, then closes
/// with 1000 and checks the client's close reply.
#[test]
fn echo_client_over_rfc8441() {
    use h2o::conn::{Config, Connection, Event as H2Event};
    use h2o::ws::h2::WsStream;
    use h2o::ws::{CloseCode, Event, Message, OpCode};
    use std::io::{Read, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || -> Result<Vec<String>, String> {
        let (mut sock, _) = listener.accept().map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let cfg = Config {
            enable_connect_protocol: true,
            ..Config::default()
        };
        let mut conn = Connection::server(cfg);
        let t0 = Instant::now();
        let mut ws: Option<WsStream> = None;
        let mut got: Vec<String> = Vec::new();
        let mut rbuf = vec![0u8; 1 << 16];
        let binary: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        while t0.elapsed() < Duration::from_secs(20) {
            let mut out = Vec::new();
            if let Some(s) = ws.as_mut() {
                s.flush(&mut conn).map_err(|e| e.to_string())?;
            }
            conn.write_to(t0.elapsed(), &mut out, 1 << 20);
            sock.write_all(&out).map_err(|e| e.to_string())?;
            let n = match sock.read(&mut rbuf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    0
                }
                Err(e) => return Err(e.to_string()),
            };
            conn.recv(t0.elapsed(), &rbuf[..n])
                .map_err(|e| e.to_string())?;
            while let Some(ev) = conn.poll_event() {
                match ev {
                    H2Event::Request {
                        stream_id, request, ..
                    } => {
                        let (mut s, _) =
                            WsStream::accept(&mut conn, stream_id, &request, Default::default())
                                .map_err(|e| format!("{e:?}"))?;
                        let w = s.websocket();
                        w.send_text("über text").unwrap();
                        w.send_binary(&binary).unwrap();
                        w.send_fragment(OpCode::Text, b"frag-", false).unwrap();
                        w.send_fragment(OpCode::Continuation, "\u{e9}-end".as_bytes(), true)
                            .unwrap();
                        w.send_ping(b"ping?").unwrap();
                        ws = Some(s);
                    }
                    H2Event::Data {
                        data, end_stream, ..
                    } => {
                        let Some(s) = ws.as_mut() else { continue };
                        s.on_data(&mut conn, &data, end_stream)
                            .map_err(|e| e.to_string())?;
                        while let Some(e) = s.poll_event() {
                            match e {
                                Event::Message(Message::Text(t)) => {
                                    got.push(format!("text {}", t.as_str()))
                                }
                                Event::Message(Message::Binary(b)) => got.push(format!(
                                    "binary {}",
                                    if b[..] == binary[..] {
                                        "same"
                                    } else {
                                        "differs"
                                    }
                                )),
                                Event::Pong(p) => {
                                    got.push(format!("pong {}", String::from_utf8_lossy(&p)))
                                }
                                Event::Close { code, .. } => {
                                    got.push(format!("close {}", code.0));
                                    s.flush(&mut conn).map_err(|e| e.to_string())?;
                                    let mut out = Vec::new();
                                    conn.write_to(t0.elapsed(), &mut out, 1 << 20);
                                    let _ = sock.write_all(&out);
                                    return Ok(got);
                                }
                                _ => {}
                            }
                            if got.len() == 4 {
                                s.websocket().close(CloseCode::NORMAL, "done").unwrap();
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Err(format!("no close from the client; got {got:?}"))
    });
    let o = h2o_echo_args(&["--h2", &format!("ws://{addr}/echo")]);
    let got = server.join().unwrap().unwrap();
    // The pong is sent as soon as the ping is read, so it may overtake the
    // echoes; the messages themselves come back in order.
    let pongs = got.iter().filter(|g| *g == "pong ping?").count();
    assert_eq!(pongs, 1, "{got:?}");
    let rest: Vec<&String> = got.iter().filter(|g| !g.starts_with("pong")).collect();
    assert_eq!(
        rest,
        vec![
            "text über text",
            "binary same",
            "text frag-\u{e9}-end",
            "close 1000",
        ]
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("echoed 2 text and 1 binary messages"), "{err}");
    assert!(err.contains("server closed: 1000 done"), "{err}");
}
