//! `h2o get` with several URLs / `--connections`, and `h2o bench` against
//! `h2o serve` and in embedded mode (small, bounded request counts).

mod support;

use std::process::{Command, Output};

use support::{random_bytes, spawn_h2o_serve, TempDir};

fn h2o(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_h2o"))
        .args(args)
        .output()
        .expect("run h2o")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn get_several_urls_in_order() {
    let root = TempDir::new("cli-multi");
    std::fs::write(root.path().join("a.txt"), b"AAA\n").unwrap();
    std::fs::write(root.path().join("b.txt"), b"BBB\n").unwrap();
    let big = random_bytes(1_500_000, 9);
    std::fs::write(root.path().join("big.bin"), &big).unwrap();
    let server = spawn_h2o_serve(root.path());

    let (a, b) = (server.url("/a.txt"), server.url("/b.txt"));
    let o = h2o(&["get", &b, &a, &b]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(o.stdout, b"BBB\nAAA\nBBB\n");

    // -o once per URL.
    let (fa, fb) = (root.path().join("oa"), root.path().join("ob"));
    let big_url = server.url("/big.bin");
    let o = h2o(&[
        "get",
        "-o",
        fa.to_str().unwrap(),
        "-o",
        fb.to_str().unwrap(),
        &a,
        &big_url,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty());
    assert_eq!(std::fs::read(&fa).unwrap(), b"AAA\n");
    assert!(std::fs::read(&fb).unwrap() == big);

    // -o count must match.
    let o = h2o(&["get", "-o", fa.to_str().unwrap(), &a, &b]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("-o must be given once per URL"));

    // One failing URL among several: the others are printed, exit 1, the
    // failure named by URL.
    let o = h2o(&["get", "--fail", &a, &server.url("/missing"), &b]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(o.stdout, b"AAA\nBBB\n");
    let e = text(&o.stderr);
    assert!(e.contains("/missing") && e.contains("404"), "{e}");
}

#[test]
fn get_sequential_connections() {
    let root = TempDir::new("cli-conns");
    std::fs::write(root.path().join("x"), b"x!\n").unwrap();
    let server = spawn_h2o_serve(root.path());
    let o = h2o(&["get", "-v", "--connections", "3", &server.url("/x")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(o.stdout, b"x!\n");
    let e = text(&o.stderr);
    for i in 1..=3 {
        assert!(
            e.contains(&format!("* connection {i}/3: status 200")),
            "{e}"
        );
    }
}

fn count(out: &str, key: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with("requests:"))
        .unwrap_or_else(|| panic!("no requests line in {out}"));
    let part = line
        .split(',')
        .find(|p| p.trim().ends_with(key))
        .unwrap_or_else(|| panic!("no {key} in {line}"));
    part.trim()
        .trim_start_matches("requests:")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn bench_against_h2o_serve() {
    let root = TempDir::new("cli-bench");
    std::fs::write(root.path().join("s"), b"hello world\n").unwrap();
    let server = spawn_h2o_serve(root.path());
    let o = h2o(&[
        "bench",
        &server.url("/s"),
        "-n",
        "3000",
        "-c",
        "3",
        "-m",
        "10",
        "-t",
        "2",
        "-D",
        "60",
    ]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    for (k, v) in [
        ("total", 3000),
        ("started", 3000),
        ("done", 3000),
        ("succeeded", 3000),
        ("failed", 0),
        ("errored", 0),
    ] {
        assert_eq!(count(&out, k), v, "{k} in {out}");
    }
    assert!(
        out.contains("status codes: 3000 2xx, 0 3xx, 0 4xx, 0 5xx"),
        "{out}"
    );
    assert!(out.contains("(36000) data"), "{out}");
    assert!(out.contains("latency: min "), "{out}");

    // 404s are done but failed (HTTP-level), not errored.
    let o = h2o(&[
        "bench",
        &server.url("/nope"),
        "-n",
        "50",
        "-c",
        "1",
        "-m",
        "5",
    ]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(count(&out, "failed"), 50, "{out}");
    assert_eq!(count(&out, "errored"), 0, "{out}");
    assert!(out.contains("50 4xx"), "{out}");
}

#[test]
fn bench_embedded_server() {
    let o = h2o(&["bench", "-n", "2000"]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    assert!(out.contains("embedded server: http://127.0.0.1:"), "{out}");
    assert_eq!(count(&out, "succeeded"), 2000, "{out}");
    assert!(out.contains("finished in "), "{out}");

    let o = h2o(&["bench", "-n", "20", "-c", "2", "-m", "2", "--path", "/64k"]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(out.contains(&format!("({}) data", 20 * 65536)), "{out}");
}

#[test]
fn bench_reports_unreachable_server() {
    let port = support::free_port();
    let o = h2o(&["bench", &format!("http://127.0.0.1:{port}/"), "-n", "10"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).contains("connection error: cannot connect"));
}
