//! `h2o bench` reports against `h2o serve` spawned here: `--json` (parses,
//! totals equal the text summary of the same run), `--rate` (holds the rate,
//! corrected latency above uncorrected when the server is paused), `--html`
//! (structure of the page and its SVG charts), the live view (on a
//! pseudo-terminal from util-linux `script`, absent with `--no-tui`).
//! Behaviour checks with small, bounded runs, not performance claims.

mod support;

use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{spawn_h2o_serve, TempDir};

/// The tests of this file run one at a time: the rate checks should not
/// share the two cores with another load run of this file.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn h2o(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_h2o"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run h2o")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The number before `key` on the text summary's `requests:` line.
fn text_count(out: &str, key: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with("requests: "))
        .unwrap_or_else(|| panic!("no requests line in {out}"));
    line.trim_start_matches("requests: ")
        .split(", ")
        .find_map(|part| {
            let (n, k) = part.split_once(' ')?;
            (k == key).then(|| n.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

fn read_json(path: &std::path::Path) -> Value {
    let s = std::fs::read_to_string(path).expect("JSON report written");
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("invalid JSON ({e}): {s}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("not an unsigned integer: {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn root_with_file() -> TempDir {
    let root = TempDir::new("bench-report");
    std::fs::write(root.path().join("s"), b"hello world\n").unwrap();
    root
}

/// Checks a latency summary object: percentiles non-decreasing, p50 ≤ p99 ≤ max.
fn check_latency(l: &Value, count: u64) {
    assert_eq!(u(&l["count"]), count, "{l}");
    assert!(u(&l["min"]) <= u(&l["p50"]), "{l}");
    assert!(u(&l["p50"]) <= u(&l["p99"]), "{l}");
    assert!(u(&l["p99"]) <= u(&l["max"]) + u(&l["max"]) / 500 + 1, "{l}");
    let pts = l["percentiles"].as_array().expect("percentiles array");
    assert!(pts.len() >= 10, "{l}");
    for w in pts.windows(2) {
        assert!(f(&w[0]["percentile"]) < f(&w[1]["percentile"]), "{l}");
        assert!(u(&w[0]["value"]) <= u(&w[1]["value"]), "{l}");
    }
    assert_eq!(f(&pts[pts.len() - 1]["percentile"]), 100.0, "{l}");
}

#[test]
fn json_totals_equal_the_text_summary() {
    let _serial = serial();
    let root = root_with_file();
    let server = spawn_h2o_serve(root.path());
    let dir = TempDir::new("bench-json");
    let json = dir.path().join("r.json");
    let o = h2o(&[
        "bench",
        &server.url("/s"),
        "-n",
        "3000",
        "-c",
        "2",
        "-m",
        "8",
        "-D",
        "60",
        "--no-tui",
        "--json",
        json.to_str().unwrap(),
    ]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    assert!(
        !out.contains('\x1b'),
        "--no-tui text has no escapes: {out:?}"
    );
    let j = read_json(&json);
    assert_eq!(j["schema"], 1);
    assert_eq!(j["mode"], "closed");
    assert!(out.contains("mode: closed loop"), "{out}");
    assert_eq!(j["config"]["url"], server.url("/s"));
    assert_eq!(u(&j["config"]["connections"]), 2);
    assert_eq!(u(&j["config"]["streams"]), 8);
    assert!(j["config"]["rate"].is_null());
    let t = &j["totals"];
    for key in ["total", "started", "done", "succeeded", "failed", "errored"] {
        let jkey = if key == "total" { "requests" } else { key };
        assert_eq!(u(&t[jkey]), text_count(&out, key), "{key}: {t} vs {out}");
    }
    assert_eq!(u(&t["done"]), 3000, "{t}");
    let status = format!(
        "status codes: {} 2xx, {} 3xx, {} 4xx, {} 5xx",
        u(&j["status"]["2xx"]),
        u(&j["status"]["3xx"]),
        u(&j["status"]["4xx"]),
        u(&j["status"]["5xx"])
    );
    assert!(out.contains(&status), "{status} in {out}");
    assert_eq!(u(&j["status"]["2xx"]), 3000);
    assert_eq!(u(&t["data_bytes"]), 3000 * 12);
    assert!(
        out.contains(&format!("({}) total", u(&t["bytes_in"]))),
        "{out}"
    );
    assert!(j["errors"].as_object().unwrap().is_empty(), "{j}");
    check_latency(&j["latency_us"], 3000);
    assert!(j["latency_uncorrected_us"].is_null());
    assert_eq!(u(&j["connect_us"]["count"]), 2);
    // The per-second series adds up to the requests done.
    let series = j["throughput"].as_array().unwrap();
    assert!(!series.is_empty());
    let sum: u64 = series.iter().map(|s| u(&s["done"])).sum();
    assert_eq!(sum, 3000, "{series:?}");
    for (i, s) in series.iter().enumerate() {
        assert_eq!(u(&s["t"]), i as u64);
    }

    // --json without FILE: stdout is the JSON alone, the text on stderr.
    let o = h2o(&[
        "bench",
        &server.url("/s"),
        "-n",
        "500",
        "-c",
        "1",
        "-m",
        "4",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let j: Value = serde_json::from_slice(&o.stdout).expect("stdout is one JSON document");
    assert_eq!(u(&j["totals"]["done"]), 500);
    assert_eq!(text_count(&text(&o.stderr), "done"), 500);
}

#[test]
fn rate_holds_and_reports_both_latencies() {
    let _serial = serial();
    let root = root_with_file();
    let server = spawn_h2o_serve(root.path());
    let dir = TempDir::new("bench-rate");
    let (json, html) = (dir.path().join("r.json"), dir.path().join("r.html"));
    let o = h2o(&[
        "bench",
        &server.url("/s"),
        "--rate",
        "2000",
        "-D",
        "3",
        "-c",
        "2",
        "-m",
        "16",
        "--no-tui",
        &format!("--json={}", json.display()),
        "--html",
        html.to_str().unwrap(),
    ]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    assert!(out.contains("mode: open loop at 2000 req/s"), "{out}");
    assert!(out.contains("latency (uncorrected): min "), "{out}");
    let j = read_json(&json);
    assert_eq!(j["mode"], "rate");
    assert_eq!(f(&j["config"]["rate"]), 2000.0);
    let t = &j["totals"];
    let done = u(&t["done"]);
    let achieved = done as f64 / f(&j["elapsed_s"]);
    assert!(
        (1900.0..=2100.0).contains(&achieved),
        "achieved {achieved:.1} req/s of 2000: {t}"
    );
    assert_eq!(u(&t["failed"]), 0, "{t}");
    check_latency(&j["latency_us"], done);
    check_latency(&j["latency_uncorrected_us"], done);
    // The corrected latency of a request includes its uncorrected one.
    assert!(u(&j["latency_us"]["p50"]) >= u(&j["latency_uncorrected_us"]["p50"]));
    check_html(&std::fs::read_to_string(&html).unwrap(), true);
}

/// Structural checks of an HTML report.
fn check_html(page: &str, rate: bool) {
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("Latency by percentile"), "latency chart");
    assert!(page.contains("Throughput over time"), "throughput chart");
    assert_eq!(page.matches("<svg").count(), 2, "two inline SVG charts");
    assert!(page.contains("99.9%"), "log percentile axis labels");
    // Every line series has points.
    let mut lines = 0;
    for part in page.split("<polyline").skip(1) {
        let pts = part
            .split_once("points=\"")
            .and_then(|(_, r)| r.split_once('"'))
            .map(|(p, _)| p)
            .expect("polyline points");
        assert!(pts.split_whitespace().count() >= 2, "points {pts:?}");
        lines += 1;
    }
    // latency (+ uncorrected), throughput (+ target rate)
    assert!(lines >= if rate { 4 } else { 2 }, "{lines} line series");
    assert_eq!(page.contains("uncorrected (from send)"), rate);
    // Self-contained: nothing fetched from the network.
    let lower = page.to_ascii_lowercase();
    for bad in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "url(http",
        "<script",
        "<link",
    ] {
        assert!(!lower.contains(bad), "page contains {bad}");
    }
}

#[test]
fn html_report_is_self_contained_with_two_charts() {
    let _serial = serial();
    let root = root_with_file();
    let server = spawn_h2o_serve(root.path());
    let dir = TempDir::new("bench-html");
    let html = dir.path().join("r.html");
    let o = h2o(&[
        "bench",
        &server.url("/s"),
        "-n",
        "2000",
        "-c",
        "2",
        "-m",
        "4",
        "--no-tui",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    check_html(&std::fs::read_to_string(&html).unwrap(), false);

    // Unwritable destination: a clear error, exit status not 0.
    let o = h2o(&[
        "bench",
        &server.url("/s"),
        "-n",
        "10",
        "--no-tui",
        "--html",
        dir.path().join("no/such/dir/r.html").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("cannot write"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn bad_rate_is_a_clear_error() {
    let _serial = serial();
    for r in ["0", "-5", "inf", "NaN", "1e-300"] {
        let o = h2o(&[
            "bench",
            "http://127.0.0.1:9/",
            &format!("--rate={r}"),
            "-n",
            "1",
        ]);
        assert!(!o.status.success());
        let err = text(&o.stderr);
        assert!(err.contains("--rate must be"), "{r}: {err}");
    }
}

#[test]
fn paused_server_raises_corrected_latency_only() {
    let _serial = serial();
    let root = root_with_file();
    let server = spawn_h2o_serve(root.path());
    let pid = server.child.id().to_string();
    let dir = TempDir::new("bench-pause");
    let json = dir.path().join("r.json");
    // 1000 req/s for 3 s over 2 x 4 stream slots: while the server is
    // stopped, the 8 requests in flight wait and the next ~300 cannot be
    // sent; their corrected latency counts that wait, the uncorrected does not.
    let mut bench = Command::new(env!("CARGO_BIN_EXE_h2o"))
        .args([
            "bench",
            &server.url("/s"),
            "--rate",
            "1000",
            "-D",
            "3",
            "-c",
            "2",
            "-m",
            "4",
            "--no-tui",
            "--json",
            json.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run h2o bench");
    std::thread::sleep(Duration::from_millis(1000));
    let sig = |s: &str| {
        let st = Command::new("kill").args([s, &pid]).status().expect("kill");
        assert!(st.success(), "kill {s}");
    };
    sig("-STOP");
    std::thread::sleep(Duration::from_millis(300));
    sig("-CONT");
    let limit = Instant::now() + Duration::from_secs(30);
    while bench.try_wait().unwrap().is_none() {
        if Instant::now() > limit {
            let _ = bench.kill();
            panic!("h2o bench did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = bench.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let j = read_json(&json);
    let done = u(&j["totals"]["done"]);
    assert!(done >= 2700, "{}", j["totals"]);
    let corrected = u(&j["latency_us"]["p99"]);
    let uncorrected = u(&j["latency_uncorrected_us"]["p99"]);
    assert!(
        corrected > uncorrected,
        "corrected p99 {corrected} us vs uncorrected {uncorrected} us"
    );
    // About 10% of the requests were due during the 300 ms pause: the
    // corrected p99 is of the order of the pause.
    assert!(
        corrected >= 100_000,
        "corrected p99 {corrected} us after a 300 ms pause"
    );
    assert!(
        u(&j["latency_us"]["max"]) >= 250_000,
        "corrected max after a 300 ms pause: {}",
        j["latency_us"]
    );
}

/// Runs `h2o bench ARGS` on a pseudo-terminal (util-linux `script`), returns
/// what the terminal received.
fn on_a_terminal(args: &str) -> String {
    let cmd = format!("{} bench {args}", env!("CARGO_BIN_EXE_h2o"));
    let o = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("util-linux `script` runs h2o bench on a pseudo-terminal");
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    out
}

#[test]
fn live_view_on_a_terminal_only() {
    let _serial = serial();
    let root = root_with_file();
    let server = spawn_h2o_serve(root.path());
    let url = server.url("/s");
    // 1.5 s at 2000 req/s: the view is redrawn several times.
    let out = on_a_terminal(&format!("{url} --rate 2000 -D 1.5 -c 2 -m 4"));
    let views: Vec<&str> = out
        .split(['\r', '\n'])
        .filter(|l| l.contains(" done, ") && l.contains(" errors, p50 "))
        .collect();
    assert!(views.len() >= 3, "live view lines: {views:?}\n{out:?}");
    assert!(
        views
            .iter()
            .any(|l| l.contains(" req/s, 0 errors, p50 ") && !l.contains("p50 -")),
        "{views:?}"
    );
    assert!(out.contains("\x1b["), "redrawn in place: {out:?}");
    // The summary follows, as without the view.
    assert!(out.contains("finished in "), "{out}");
    assert!(out.contains("mode: open loop at 2000 req/s"), "{out}");

    let out = on_a_terminal(&format!("{url} -n 2000 -c 2 -m 4 --no-tui"));
    assert!(!out.contains(" errors, p50 "), "--no-tui: {out:?}");
    assert!(!out.contains("\x1b["), "--no-tui: {out:?}");
    assert!(out.contains("requests: 2000 total"), "{out}");
}
