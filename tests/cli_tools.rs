//! The small tools of the `h2o` binary: `h2o completions bash|zsh|fish`,
//! `h2o --version`, and the frame traces of `h2o get --trace` (against
//! nghttpd, compared with `nghttp -nv`) and `h2o serve --trace` (with curl),
//! and `h2o serve --access-log` under h2load load and for HTTP/1.1.

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

/// One parsed access log line.
#[derive(Debug)]
struct LogLine {
    peer: std::net::SocketAddr,
    method: String,
    path: String,
    status: u16,
    bytes: u64,
    ms: f64,
    stream: Option<u32>,
}

fn parse_log_line(l: &str) -> LogLine {
    let f: Vec<&str> = l.split(' ').collect();
    assert_eq!(f.len(), 8, "{l:?}");
    // 2026-11-30T21:07:38.123Z
    let t = f[0];
    assert!(
        t.len() == 24 && t.ends_with('Z') && &t[10..11] == "T" && &t[19..20] == ".",
        "{l:?}"
    );
    assert!(t[..4].parse::<u32>().unwrap() >= 2024, "{l:?}");
    LogLine {
        peer: f[1].parse().unwrap(),
        method: f[2].into(),
        path: f[3].into(),
        status: f[4].parse().unwrap(),
        bytes: f[5].parse().unwrap(),
        ms: f[6].parse().unwrap(),
        stream: (f[7] != "-").then(|| f[7].parse().unwrap()),
    }
}

/// Reads the log until it has `n` lines (the server flushes at least once a
/// second), at most 10 s.
fn log_lines(path: &std::path::Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(String::from).collect();
        if lines.len() >= n || Instant::now() > deadline {
            // A little longer: more lines than expected would show up too.
            std::thread::sleep(Duration::from_millis(1200));
            let text = std::fs::read_to_string(path).unwrap_or_default();
            return text.lines().map(String::from).collect();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn access_log_has_one_line_per_request_under_h2load() {
    let h2load = require_bin("h2load", "nghttp2-client");
    let curl = require_bin("curl", "curl");
    let root = TempDir::new("access-log");
    std::fs::write(root.path().join("small"), b"hello world\n").unwrap();
    let log = root.path().join("access.log");
    let log_arg = log.to_str().unwrap();
    let server =
        support::spawn_h2o_serve_with(root.path(), &["--threads", "2", "--access-log", log_arg]);
    let out = Command::new(h2load)
        .args(["-n", "2000", "-c", "4", "-m", "10"])
        .arg(server.url("/small"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2000 succeeded"), "{text}");
    let lines = log_lines(&log, 2000);
    assert_eq!(lines.len(), 2000, "expected one line per request");
    let mut per_conn: std::collections::HashMap<std::net::SocketAddr, BTreeSet<u32>> =
        Default::default();
    for l in &lines {
        let e = parse_log_line(l);
        assert_eq!(
            (e.method.as_str(), e.path.as_str()),
            ("GET", "/small"),
            "{l}"
        );
        assert_eq!((e.status, e.bytes), (200, 12), "{l}");
        assert!(e.ms >= 0.0 && e.ms < 60_000.0, "{l}");
        assert!(e.peer.ip().is_loopback(), "{l}");
        let id = e.stream.expect("HTTP/2 lines carry the stream id");
        assert!(id % 2 == 1, "{l}");
        assert!(
            per_conn.entry(e.peer).or_default().insert(id),
            "stream logged twice: {l}"
        );
    }
    assert_eq!(per_conn.len(), 4, "4 connections");
    assert!(
        per_conn.values().all(|s| s.len() == 500),
        "500 requests per connection"
    );

    // HTTP/1.1 (stream "-"), a 404 with a space in the path, and a HEAD.
    // Truncate (the workers keep their append-mode descriptors).
    std::fs::write(&log, b"").unwrap();
    for args in [
        vec!["-s", "-o", "/dev/null", "--http1.1"],
        vec!["-s", "-o", "/dev/null", "--http2-prior-knowledge"],
    ] {
        let st = Command::new(&curl)
            .args(&args)
            .arg(server.url("/no%20such"))
            .status()
            .unwrap();
        assert!(st.success());
    }
    let st = Command::new(&curl)
        .args(["-s", "-o", "/dev/null", "-I"])
        .arg(server.url("/small"))
        .status()
        .unwrap();
    assert!(st.success());
    let lines = log_lines(&log, 3);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let e: Vec<LogLine> = lines.iter().map(|l| parse_log_line(l)).collect();
    let mut seen: Vec<(String, String, u16, u64, Option<u32>)> = e
        .into_iter()
        .map(|e| (e.method, e.path, e.status, e.bytes, e.stream))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("GET".into(), "/no%20such".into(), 404, 14, None),
            ("GET".into(), "/no%20such".into(), 404, 14, Some(1)),
            ("HEAD".into(), "/small".into(), 200, 0, None),
        ]
    );
}

#[test]
fn access_log_bad_path_is_a_clear_error() {
    let root = TempDir::new("access-log-bad");
    let out = h2o(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--root",
        root.path().to_str().unwrap(),
        "--access-log",
        "/nonexistent-dir/x.log",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("h2o: --access-log: "), "{err}");
    assert!(err.contains("No such file or directory"), "{err}");
}
