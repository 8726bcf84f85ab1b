//! The small tools of the `h2o` binary: `h2o completions bash|zsh|fish`,
//! `h2o --version`, and the frame traces of `h2o get --trace` (against
//! nghttpd, compared with `nghttp -nv`) and `h2o serve --trace` (with curl).

mod support;

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{require_bin, spawn_listening_keep_stderr, spawn_nghttpd, TempDir};

fn h2o(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_h2o"))
        .args(args)
        .output()
        .expect("spawn h2o")
}

#[test]
fn completions_name_the_subcommands_and_bash_parses() {
    for shell in ["bash", "zsh", "fish"] {
        let out = h2o(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {out:?}");
        let text = String::from_utf8(out.stdout).expect("utf-8 script");
        assert!(text.len() > 500, "{shell}: script too short: {text}");
        for sub in ["serve", "get", "bench", "ws", "hpack", "completions"] {
            assert!(text.contains(sub), "{shell}: no {sub:?} in the script");
        }
        if shell == "bash" {
            let path = std::env::temp_dir().join(format!("h2o-compl-{}.bash", std::process::id()));
            std::fs::write(&path, &text).unwrap();
            let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
            let _ = std::fs::remove_file(&path);
            assert!(check.status.success(), "bash -n: {check:?}");
            // And it really registers a completion function for h2o.
            assert!(
                text.contains("complete -F"),
                "no `complete -F` in the bash script"
            );
        }
    }
    let bad = h2o(&["completions", "tcsh"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid value"));
}

#[test]
fn version_names_the_features() {
    let out = h2o(&["--version"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let want = format!("h2o {} (features: native", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&want), "{text}");
    // The default build has TLS.
    assert!(text.contains(" tls"), "{text}");
}

/// One frame line of a trace: (direction, type, flags, stream id, length).
type FrameLine = (String, String, u8, u32, u32);

/// Parses `[  0.001] send TYPE frame <length=N, flags=0xNN, stream_id=N>`
/// lines (the shape `nghttp -nv` and `h2o --trace` share), after an
/// optional connection prefix.
fn frame_lines(text: &str) -> Vec<FrameLine> {
    let mut v = Vec::new();
    for line in text.lines() {
        let Some((_, rest)) = line.split_once("] ") else {
            continue;
        };
        let mut it = rest.splitn(4, ' ');
        let (Some(dir), Some(ty), Some("frame"), Some(tail)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        let tail = tail.trim_start_matches('<');
        let inner = tail.split('>').next().unwrap();
        let mut len = 0;
        let mut flags = 0;
        let mut stream = 0;
        for kv in inner.split(", ") {
            match kv.split_once('=') {
                Some(("length", n)) => len = n.parse().unwrap(),
                Some(("flags", f)) => flags = u8::from_str_radix(&f[2..], 16).unwrap(),
                Some(("stream_id", n)) => stream = n.parse().unwrap(),
                _ => panic!("bad frame line {line:?}"),
            }
        }
        v.push((dir.to_string(), ty.to_string(), flags, stream, len));
    }
    v
}

/// The header lines (`name: value`) of the first received HEADERS block in
/// an `h2o --trace` output.
fn first_recv_headers(text: &str) -> Vec<String> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.contains("] recv HEADERS frame"));
    lines.next();
    lines
        .take_while(|l| l.starts_with("          "))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn get_trace_against_nghttpd_matches_nghttp_nv() {
    let nghttp = require_bin("nghttp", "nghttp2-client");
    let root = TempDir::new("trace-get");
    std::fs::write(root.path().join("small"), b"hello world\n").unwrap();
    let server = spawn_nghttpd(root.path(), &[]);
    let url = server.url("/small");

    let ours = h2o(&["get", "--trace", &url]);
    assert!(ours.status.success(), "{ours:?}");
    assert_eq!(ours.stdout, b"hello world\n");
    let trace = String::from_utf8(ours.stderr).unwrap();
    let theirs = Command::new(nghttp).arg("-nv").arg(&url).output().unwrap();
    assert!(theirs.status.success(), "{theirs:?}");
    let reference = String::from_utf8(theirs.stdout).unwrap();

    let a = frame_lines(&trace);
    let b = frame_lines(&reference);
    assert!(
        !a.is_empty() && !b.is_empty(),
        "ours:\n{trace}\nnghttp:\n{reference}"
    );
    // PING ACKs answer our client's own PING (a bandwidth probe nghttp does
    // not send) and may or may not arrive before the GOAWAY: not compared.
    let kinds = |v: &[FrameLine], dir: &str| -> BTreeSet<String> {
        v.iter()
            .filter(|f| f.0 == dir && !(dir == "recv" && f.1 == "PING"))
            .map(|f| format!("{} flags=0x{:02x}", f.1, f.2))
            .collect()
    };
    // What the server sent is the same for both clients: SETTINGS, its ACK,
    // HEADERS (END_HEADERS) and DATA (END_STREAM), with the same lengths.
    assert_eq!(
        kinds(&a, "recv"),
        kinds(&b, "recv"),
        "ours:\n{trace}\nnghttp:\n{reference}"
    );
    let lens = |v: &[FrameLine]| -> Vec<(String, u32)> {
        v.iter()
            .filter(|f| f.0 == "recv" && f.1 != "SETTINGS" && f.1 != "PING")
            .map(|f| (f.1.clone(), f.4))
            .collect()
    };
    assert_eq!(lens(&a), lens(&b));
    // Ours sent SETTINGS, its ACK, a connection WINDOW_UPDATE (its 16 MiB
    // window) and a GOAWAY at exit; every kind nghttp sent is among ours
    // except its RFC 7540 PRIORITY tree (we send no PRIORITY frames).
    let sent = kinds(&a, "send");
    for k in [
        "SETTINGS flags=0x00",
        "SETTINGS flags=0x01",
        "GOAWAY flags=0x00",
        "WINDOW_UPDATE flags=0x00",
    ] {
        assert!(sent.contains(k), "no {k} sent:\n{trace}");
    }
    let sent_types: BTreeSet<&str> = a
        .iter()
        .filter(|f| f.0 == "send")
        .map(|f| f.1.as_str())
        .collect();
    for f in b.iter().filter(|f| f.0 == "send" && f.1 != "PRIORITY") {
        assert!(
            sent_types.contains(f.1.as_str()),
            "nghttp sent {} and we did not:\n{trace}",
            f.1
        );
    }
    assert!(a
        .iter()
        .any(|f| f.0 == "send" && f.1 == "HEADERS" && f.2 & 0x5 == 0x5 && f.3 == 1));
    // One stream each, and the response is on it.
    let streams = |v: &[FrameLine]| -> BTreeSet<u32> {
        v.iter()
            .filter(|f| f.1 == "DATA" || f.1 == "HEADERS")
            .map(|f| f.3)
            .collect()
    };
    assert_eq!(streams(&a).len(), 1);
    assert_eq!(streams(&b).len(), 1);
    // The decoded response fields equal nghttp's (`recv (stream_id=N) name: value`).
    let ours_fields = first_recv_headers(&trace);
    let their_fields: Vec<String> = reference
        .lines()
        .filter_map(|l| {
            l.split_once(") ")
                .filter(|_| l.contains("] recv (stream_id="))
                .map(|x| x.1.to_string())
        })
        .collect();
    let names = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|l| l.split(": ").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&ours_fields), names(&their_fields), "{trace}");
    assert!(ours_fields.contains(&":status: 200".to_string()), "{trace}");
    assert!(
        ours_fields.contains(&"content-length: 12".to_string()),
        "{trace}"
    );
    // Our request fields are shown too, and the settings are decoded.
    assert!(trace.contains("          :path: /small\n"), "{trace}");
    assert!(
        trace.contains("[SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100]"),
        "{trace}"
    );
    assert!(trace.contains("(window_size_increment="), "{trace}");
    assert!(
        trace.contains("(last_stream_id=0, error_code=NO_ERROR(0x00)"),
        "{trace}"
    );
}

#[test]
fn get_without_trace_prints_no_frames() {
    let root = TempDir::new("trace-off");
    std::fs::write(root.path().join("small"), b"hi\n").unwrap();
    let server = spawn_nghttpd(root.path(), &[]);
    let out = h2o(&["get", &server.url("/small")]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_trace_shows_curl_request_headers() {
    let curl = require_bin("curl", "curl");
    let root = TempDir::new("trace-serve");
    std::fs::write(root.path().join("small"), b"hello world\n").unwrap();
    let log = root.path().join("stderr.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_h2o"));
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--trace", "--root"])
        .arg(root.path())
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let server =
        spawn_listening_keep_stderr(&mut cmd, "h2o serve --trace", Duration::from_secs(10));
    let base = format!("http://{}", server.addr);
    let out = Command::new(&curl)
        .args(["-s", "--http2-prior-knowledge", "-H", "x-trace-me: yes"])
        .arg(format!("{base}/small"))
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"hello world\n", "{out:?}");
    // HTTP/1.1 connections have no frames: nothing is traced for them.
    let out = Command::new(&curl)
        .arg("-s")
        .arg(format!("{base}/small"))
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"hello world\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if text.contains("send DATA frame") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let id = text.split(' ').next().unwrap();
    assert!(id.starts_with('c'), "{text}");
    for want in [
        "recv SETTINGS frame",
        "recv HEADERS frame",
        ":method: GET",
        ":path: /small",
        "x-trace-me: yes",
        "user-agent: curl/",
        "send SETTINGS frame",
        "send HEADERS frame",
        ":status: 200",
        "content-length: 12",
        "send DATA frame <length=12, flags=0x01, stream_id=1> ; END_STREAM",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
    // Every line carries the connection id; only one (h2) connection traced.
    assert!(
        text.lines().all(|l| l.starts_with(&format!("{id} "))),
        "{text}"
    );
    let frames = frame_lines(&text);
    assert!(frames.len() >= 6, "{text}");
}
