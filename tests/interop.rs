//! Interoperability with real HTTP/2 peers from Debian packages:
//! `nghttp`/`curl`/`h2load` against `h2o serve`, and `h2o get` against
//! `nghttpd` and the h2o web server. A missing binary FAILS the test with the
//! package to install (scripts/test.sh installs them).

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{
    random_bytes, require_bin, spawn_h2o_serve, spawn_h2o_web_server, spawn_nghttpd, ServerGuard,
    TempDir,
};

/// The standard body set: 0 B, 12 B, 100 KiB, 5 MiB random.
const FILES: [(&str, usize); 4] = [
    ("empty.bin", 0),
    ("small.txt", 12),
    ("mid.bin", 100 << 10),
    ("big.bin", 5 << 20),
];

fn make_docroot(tag: &str) -> TempDir {
    let d = TempDir::new(tag);
    for (i, (name, len)) in FILES.iter().enumerate() {
        let body = if *name == "small.txt" {
            b"hello world\n".to_vec()
        } else {
            random_bytes(*len, 1000 + i as u64)
        };
        assert_eq!(body.len(), *len);
        std::fs::write(d.path().join(name), body).unwrap();
    }
    // 50 distinct files for the many-streams runs.
    for i in 0..50u64 {
        let len = (i as usize * 7919) % (40 << 10);
        std::fs::write(d.path().join(format!("f{i:02}.bin")), random_bytes(len, i)).unwrap();
    }
    d
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_same(got: &[u8], file: &Path) {
    let want = std::fs::read(file).unwrap();
    assert!(
        got == want.as_slice(),
        "{}: got {} bytes, expected {} bytes (content differs)",
        file.display(),
        got.len(),
        want.len()
    );
}

// ---------------------------------------------------------------- nghttp

#[test]
fn nghttp_fetches_each_file_byte_exact() {
    let nghttp = require_bin("nghttp", "nghttp2-client");
    let root = make_docroot("nghttp1");
    let server = spawn_h2o_serve(root.path());
    for (name, _) in FILES {
        let o = run(Command::new(&nghttp)
            .args(["-t", "30"])
            .arg(server.url(&format!("/{name}"))));
        assert!(o.status.success(), "nghttp /{name}: {}", stderr(&o));
        assert_same(&o.stdout, &root.path().join(name));
    }
    // Tiny flow-control windows (4 KiB stream, 16 KiB connection): the 5 MiB
    // body leaves in many window-sized pieces as WINDOW_UPDATEs arrive.
    let o = run(Command::new(&nghttp)
        .args(["-t", "60", "-w", "12", "-W", "14"])
        .arg(server.url("/big.bin")));
    assert!(o.status.success(), "nghttp -w 12 -W 14: {}", stderr(&o));
    assert_same(&o.stdout, &root.path().join("big.bin"));
}

/// Parses `nghttp -s` statistics rows: (code, path).
fn nghttp_stats(out: &str) -> Vec<(u16, String)> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in out.lines() {
        if line.starts_with("id ") && line.contains("request path") {
            in_table = true;
            continue;
        }
        if in_table {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() >= 7 {
                rows.push((cols[4].parse().unwrap_or(0), cols[6].to_string()));
            }
        }
    }
    rows
}

#[test]
fn nghttp_many_streams_on_one_connection() {
    let nghttp = require_bin("nghttp", "nghttp2-client");
    let root = make_docroot("nghttp2");
    let server = spawn_h2o_serve(root.path());
    // 50 distinct URIs + 404s in one connection.
    let mut cmd = Command::new(&nghttp);
    cmd.args(["-ns", "-t", "60"]);
    for i in 0..50 {
        cmd.arg(server.url(&format!("/f{i:02}.bin")));
    }
    cmd.arg(server.url("/missing-a"))
        .arg(server.url("/big.bin"));
    let o = run(&mut cmd);
    assert!(o.status.success(), "nghttp: {}", stderr(&o));
    let rows = nghttp_stats(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(rows.len(), 52, "stats rows: {rows:?}");
    for (code, path) in &rows {
        let want = if path.starts_with("/missing") {
            404
        } else {
            200
        };
        assert_eq!(*code, want, "{path}");
    }
    // The same URIs many times (-m) on one connection.
    let o = run(Command::new(&nghttp)
        .args(["-ns", "-t", "60", "-m", "100"])
        .arg(server.url("/small.txt"))
        .arg(server.url("/mid.bin")));
    assert!(o.status.success(), "nghttp -m: {}", stderr(&o));
    let rows = nghttp_stats(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(rows.len(), 200);
    assert!(rows.iter().all(|(c, _)| *c == 200), "{rows:?}");
}

/// nghttp decodes every response head of a run of requests for the same
/// files on one connection: after the first few, `h2o serve` re-emits a
/// file's head block without encoding it (`send_response_shared`), so this
/// checks those bytes against a real HPACK decoder. Each stream carries the
/// seven fields, with the length and etag of its own file.
#[test]
fn nghttp_decodes_repeated_shared_heads() {
    use std::collections::{BTreeMap, BTreeSet};
    let nghttp = require_bin("nghttp", "nghttp2-client");
    let root = make_docroot("nghttp3");
    let server = spawn_h2o_serve(root.path());
    let o = run(Command::new(&nghttp)
        .args(["-nv", "-t", "60", "-m", "40"])
        .arg(server.url("/small.txt"))
        .arg(server.url("/mid.bin")));
    assert!(o.status.success(), "nghttp -nv -m: {}", stderr(&o));
    // "[  0.010] recv (stream_id=21) content-length: 12"
    let mut streams: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let Some(rest) = line.split_once("recv (stream_id=").map(|(_, r)| r) else {
            continue;
        };
        let Some((id, field)) = rest.split_once(") ") else {
            continue;
        };
        let Some((name, value)) = field.split_once(": ") else {
            continue;
        };
        if name.starts_with(':') || name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
            streams
                .entry(id.parse().unwrap())
                .or_default()
                .insert(name.to_string(), value.to_string());
        }
    }
    assert_eq!(streams.len(), 80, "streams with fields: {}", streams.len());
    let mut pairs = BTreeSet::new();
    for (id, f) in &streams {
        assert_eq!(f.len(), 7, "stream {id}: {f:?}");
        assert_eq!(f[":status"], "200", "stream {id}");
        assert_eq!(f["server"], "h2o");
        assert_eq!(f["accept-ranges"], "bytes");
        assert!(f.contains_key("last-modified") && f.contains_key("content-type"));
        pairs.insert((f["content-length"].clone(), f["etag"].clone()));
    }
    // Two files: two (length, etag) pairs, each length the file's own.
    let lens: BTreeSet<_> = pairs.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    assert_eq!(lens, BTreeSet::from(["102400", "12"]));
}

// ---------------------------------------------------------------- curl

fn curl() -> Command {
    let mut c = Command::new(require_bin("curl", "curl"));
    c.args(["-sS", "--http2-prior-knowledge", "--max-time", "60"]);
    c
}

#[test]
fn curl_fetches_byte_exact_head_404_405() {
    let root = make_docroot("curl1");
    let server = spawn_h2o_serve(root.path());
    for (name, _) in FILES {
        let o = run(curl().arg(server.url(&format!("/{name}"))));
        assert!(o.status.success(), "curl /{name}: {}", stderr(&o));
        assert_same(&o.stdout, &root.path().join(name));
    }
    // HEAD: status, content-length, no body.
    let o = run(curl().arg("-I").arg(server.url("/mid.bin")));
    assert!(o.status.success(), "curl -I: {}", stderr(&o));
    let head = String::from_utf8_lossy(&o.stdout).to_ascii_lowercase();
    assert!(head.starts_with("http/2 200"), "{head}");
    assert!(
        head.contains(&format!("content-length: {}", 100 << 10)),
        "{head}"
    );
    assert!(
        head.contains("content-type: application/octet-stream"),
        "{head}"
    );
    // 404 and 405.
    let o = run(curl()
        .args(["-o", "/dev/null", "-w", "%{http_code} %{http_version}"])
        .arg(server.url("/nope")));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "404 2");
    let o = run(curl()
        .args(["-i", "-X", "POST", "-d", "x=1"])
        .arg(server.url("/small.txt")));
    let resp = String::from_utf8_lossy(&o.stdout).to_ascii_lowercase();
    assert!(resp.starts_with("http/2 405"), "{resp}");
    assert!(resp.contains("allow: get, head"), "{resp}");
    let o = run(curl()
        .args(["-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE"])
        .arg(server.url("/small.txt")));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "405");
    // Traversal attempts never escape the root.
    for p in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
    ] {
        let o = run(curl()
            .args(["--path-as-is", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(server.url(p)));
        let code = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(code == "400" || code == "404", "{p}: {code}");
    }
}

/// curl 7.88 (Debian bookworm) cannot reuse a prior-knowledge h2c connection
/// for a second transfer ("Error in the HTTP2 framing layer", against nghttpd
/// too), so `--parallel-immediate` gives each transfer its own connection: 54
/// concurrent connections here; many streams per connection are covered by the
/// nghttp and h2load tests.
#[test]
fn curl_parallel_connections_byte_exact() {
    let root = make_docroot("curl2");
    let server = spawn_h2o_serve(root.path());
    let out = TempDir::new("curl2-out");
    let mut cmd = curl();
    cmd.args([
        "--parallel",
        "--parallel-immediate",
        "--parallel-max",
        "60",
        "-w",
        "%{http_code}\n",
    ]);
    for i in 0..50 {
        cmd.arg("-o").arg(out.path().join(format!("f{i:02}.bin")));
        cmd.arg(server.url(&format!("/f{i:02}.bin")));
    }
    for (name, _) in FILES {
        cmd.arg("-o").arg(out.path().join(name));
        cmd.arg(server.url(&format!("/{name}")));
    }
    let o = run(&mut cmd);
    assert!(o.status.success(), "curl --parallel: {}", stderr(&o));
    let codes = String::from_utf8_lossy(&o.stdout);
    assert_eq!(codes.lines().filter(|l| *l == "200").count(), 54, "{codes}");
    for i in 0..50 {
        let name = format!("f{i:02}.bin");
        assert_same(
            &std::fs::read(out.path().join(&name)).unwrap_or_default(),
            &root.path().join(&name),
        );
    }
    for (name, _) in FILES {
        // curl creates no file for an empty body.
        let got = std::fs::read(out.path().join(name)).unwrap_or_default();
        assert_same(&got, &root.path().join(name));
    }
}

// ---------------------------------------------------------------- h2o get vs real servers

fn h2o_get(url: &str, out: &Path) -> Output {
    run(Command::new(env!("CARGO_BIN_EXE_h2o"))
        .args(["get", "--timeout", "60", "-o"])
        .arg(out)
        .arg(url))
}

fn check_get_against(server: &ServerGuard, root: &Path) {
    let out = TempDir::new("get-out");
    for (name, _) in FILES {
        let dst = out.path().join(name);
        let o = h2o_get(&server.url(&format!("/{name}")), &dst);
        assert!(
            o.status.success(),
            "h2o get /{name} from {}: {}",
            server.name,
            stderr(&o)
        );
        assert_same(&std::fs::read(&dst).unwrap(), &root.join(name));
    }
    // 404: a response, so exit 0 without --fail, 1 with it.
    let o = h2o_get(&server.url("/no-such-file"), &out.path().join("x"));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(Command::new(env!("CARGO_BIN_EXE_h2o"))
        .args(["get", "--fail"])
        .arg(server.url("/no-such-file")));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("404"), "{}", stderr(&o));
}

#[test]
fn h2o_get_from_nghttpd() {
    let root = make_docroot("nghttpd");
    let server = spawn_nghttpd(root.path(), &["--trailer", "x-trailer: yes"]);
    check_get_against(&server, root.path());
    // Trailers end the response and show up with -v.
    let o = run(Command::new(env!("CARGO_BIN_EXE_h2o"))
        .args(["get", "-v"])
        .arg(server.url("/small.txt")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, b"hello world\n");
    assert!(stderr(&o).contains("< x-trailer: yes"), "{}", stderr(&o));
}

#[test]
fn h2o_get_from_h2o_web_server() {
    let root = make_docroot("h2osrv");
    let conf_dir = TempDir::new("h2osrv-conf");
    let server = spawn_h2o_web_server(root.path(), conf_dir.path(), "", "", "h2o web server");
    check_get_against(&server, root.path());
}

// ---------------------------------------------------------------- h2load

#[test]
fn h2load_many_requests() {
    let h2load = require_bin("h2load", "nghttp2-client");
    let root = make_docroot("h2load");
    let server = spawn_h2o_serve(root.path());
    // Debug builds are ~20x slower: the full count runs under `cargo test --release`.
    let n: u32 = if cfg!(debug_assertions) {
        20_000
    } else {
        200_000
    };
    let o = run(Command::new(h2load)
        .args(["-n", &n.to_string(), "-c", "10", "-m", "32", "-T", "60"])
        .arg(server.url("/small.txt")));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "h2load failed: {}\n{text}", stderr(&o));
    let want = format!("{n} succeeded, 0 failed, 0 errored");
    let requests = text
        .lines()
        .find(|l| l.starts_with("requests:"))
        .unwrap_or("");
    assert!(
        requests.contains(&want),
        "h2load summary lacks {want:?}:\n{text}"
    );
    if let Some(l) = text.lines().find(|l| l.starts_with("finished in")) {
        eprintln!("h2load: {l}");
    }
    let codes = text
        .lines()
        .find(|l| l.starts_with("status codes:"))
        .unwrap_or("");
    assert!(codes.contains(&format!("{n} 2xx")), "{codes}");
}
