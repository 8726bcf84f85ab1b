//! `h2o ws --echo` driven by a Python `websockets` server
//! (tests/ws/py_echo_driver.py): text, binary, fragmented messages and a
//! ping are echoed byte-exact and in order and the server's close 1000 is
//! answered; a frame with a reserved opcode is answered with close 1002 and
//! exit status 1. `scripts/test.sh` installs `websockets`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{spawn_listening, ServerGuard, TempDir};

fn ws_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ws")
}

fn require_python_websockets() {
    let ok = Command::new("python3")
        .args(["-c", "import websockets"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 with `websockets` is required: pip install websockets (scripts/test.sh does)"
    );
}

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
    let mut child = Command::new(env!("CARGO_BIN_EXE_h2o"))
        .args(["ws", "--echo", "--timeout", "20", url])
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
