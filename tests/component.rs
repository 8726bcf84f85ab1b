//! The WASI components (issue 9) against real peers on 127.0.0.1:
//! - the library component `h2o-core.wasm`, loaded by a Python host
//!   (tests/component/host.py, PyPI `wasmtime`) that supplies the TCP socket
//!   and drives full HTTP/2 exchanges through the exports, against `h2o serve`
//!   and `nghttpd`; plus HPACK/WebSocket checks through the exports;
//! - the command `h2o-get.wasm` under the `wasmtime` CLI against `h2o serve`
//!   and `nghttpd` (byte-exact bodies of 0 B, 1 B, 16 KiB ± 1, 1 MiB; 20 URLs
//!   at once) and every error case (bad URL, refused, reset, closed,
//!   timeout, HTTP error with --fail, usage);
//! - `h2o-get.wasm https://` (TLS inside the component) against nginx with
//!   TLS + HTTP/2 and rcgen certificates (the same byte-exact set, `--cacert`
//!   through a preopened directory, `-v` handshake line) and each TLS failure
//!   (unknown CA, wrong host, expired, no ALPN overlap, no ALPN at all
//!   (`openssl s_server`), alert, plain HTTP/2
//!   server on the port, unreadable `--cacert`).
//!
//! They need `scripts/build-component.sh`, `wasmtime` (48.0.8) and PyPI
//! `wasmtime` (50.0.1), so they are `#[ignore]`d in a plain `cargo test` and
//! run by scripts/test.sh with `--ignored` after installing those. A missing
//! piece FAILS them with a message saying what to run.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{free_port, random_bytes, require_bin, ServerGuard, TempDir};

const NEEDS: &str =
    "needs scripts/build-component.sh, wasmtime and PyPI wasmtime (scripts/test.sh)";

fn component(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/component")
        .join(name);
    assert!(
        p.is_file(),
        "{} missing: run scripts/build-component.sh",
        p.display()
    );
    p
}

fn wasmtime() -> PathBuf {
    if let Some(home) = std::env::var_os("HOME") {
        let p = PathBuf::from(home).join(".cargo/bin/wasmtime");
        if p.is_file() {
            return p;
        }
    }
    require_bin(
        "wasmtime",
        "(cargo install wasmtime-cli --version 48.0.8 --locked)",
    )
}

/// Runs a command with a 120 s bound.
fn run(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("{cmd:?} still running after 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `wasmtime run -S inherit-network=y --dir OUT::/out h2o-get.wasm ARGS`.
fn h2o_get_wasm(out_dir: Option<&Path>, args: &[&str]) -> Output {
    let dirs: Vec<(&Path, &str)> = out_dir.map(|d| (d, "/out")).into_iter().collect();
    h2o_get_wasm_dirs(&dirs, args)
}

/// `wasmtime run -S inherit-network=y [--dir HOST::GUEST]... h2o-get.wasm ARGS`.
fn h2o_get_wasm_dirs(dirs: &[(&Path, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(wasmtime());
    cmd.args(["run", "-S", "inherit-network=y"]);
    for (host, guest) in dirs {
        cmd.arg("--dir").arg(format!("{}::{guest}", host.display()));
    }
    cmd.arg(component("h2o-get.wasm")).args(args);
    run(&mut cmd)
}

/// Files served in these tests: name and content.
fn docroot(tag: &str) -> (TempDir, Vec<(String, Vec<u8>)>) {
    let dir = TempDir::new(tag);
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("one".into(), b"x".to_vec()),
        ("k16m1".into(), random_bytes(16 * 1024 - 1, 1)),
        ("k16".into(), random_bytes(16 * 1024, 2)),
        ("k16p1".into(), random_bytes(16 * 1024 + 1, 3)),
        ("m1".into(), random_bytes(1 << 20, 4)),
    ];
    for i in 0..20 {
        files.push((
            format!("multi{i}"),
            random_bytes(1000 + i * 3001, 10 + i as u64),
        ));
    }
    for (name, data) in &files {
        std::fs::write(dir.path().join(name), data).unwrap();
    }
    (dir, files)
}

fn spawn_nghttpd(root: &Path) -> ServerGuard {
    support::spawn_nghttpd(root, &[])
}

fn spawn_h2o(root: &Path) -> ServerGuard {
    support::spawn_h2o_serve(root)
}

// ------------------------------------------------------------ library component

fn host(args: &[&str]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/component/host.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).arg(component("h2o-core.wasm")).args(args);
    run(&mut cmd)
}

#[test]
#[ignore = "needs scripts/build-component.sh, wasmtime and PyPI wasmtime (scripts/test.sh)"]
fn library_hpack_and_websocket_through_exports() {
    let _ = NEEDS;
    let o = host(&["selftest"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for line in [
        "none of wasi:sockets/clocks/filesystem",
        "hpack: round trip and invalid index OK",
        "websocket mask: matches the reference",
        "websocket codec: messages, fragments, ping/pong, limit 1009 OK",
        "websocket close handshake OK",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
}

fn library_get(server: &ServerGuard, files: &[(String, Vec<u8>)]) {
    let out = TempDir::new("host-out");
    let addr = server.addr.to_string();
    let mut args: Vec<String> = vec!["get".into(), addr];
    for (name, _) in files {
        args.push(format!("/{name}"));
        args.push(out.path().join(name).display().to_string());
    }
    args.push("/no-such-file".into());
    args.push(out.path().join("missing").display().to_string());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = host(&argv);
    assert!(o.status.success(), "{}: {}", server.name, stderr(&o));
    let listing = String::from_utf8_lossy(&o.stdout);
    for (name, data) in files {
        let got = std::fs::read(out.path().join(name)).unwrap();
        assert!(got == *data, "{}: /{name} differs", server.name);
        assert!(
            listing.contains(&format!("/{name} 200 {}\n", data.len())),
            "{}: {listing}",
            server.name
        );
    }
    assert!(listing.contains("/no-such-file 404 "), "{listing}");
}

#[test]
#[ignore = "needs scripts/build-component.sh, wasmtime and PyPI wasmtime (scripts/test.sh)"]
fn library_component_get_from_h2o_serve() {
    let (root, files) = docroot("lib-h2o");
    let server = spawn_h2o(root.path());
    library_get(&server, &files);
}

#[test]
#[ignore = "needs scripts/build-component.sh, wasmtime and PyPI wasmtime (scripts/test.sh)"]
fn library_component_get_from_nghttpd() {
    let (root, files) = docroot("lib-nghttpd");
    let server = spawn_nghttpd(root.path());
    library_get(&server, &files);
}

// ------------------------------------------------------------ h2o-get.wasm

fn get_byte_exact(server: &ServerGuard, files: &[(String, Vec<u8>)]) {
    let base = server.url("");
    get_byte_exact_from(&server.name, &base, None, files);
    // -v prints the heads to stderr, the body still goes to stdout.
    let o = h2o_get_wasm(None, &["-v", &server.url("/one")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, b"x");
    let e = stderr(&o);
    assert!(e.contains("> GET ") && e.contains("< :status: 200"), "{e}");
}

/// The byte-exact set from `base` (`http[s]://HOST:PORT`); `ca`: a host
/// directory holding `ca.pem`, preopened as `/certs` and given as
/// `--cacert /certs/ca.pem`.
fn get_byte_exact_from(name: &str, base: &str, ca: Option<&Path>, files: &[(String, Vec<u8>)]) {
    let ca_args: Vec<&str> = match ca {
        Some(_) => vec!["--cacert", "/certs/ca.pem"],
        None => Vec::new(),
    };
    // Each size alone to stdout.
    for (file, data) in files.iter().filter(|(n, _)| !n.starts_with("multi")) {
        let url = format!("{base}/{file}");
        let mut args = ca_args.clone();
        args.push(&url);
        let dirs: Vec<(&Path, &str)> = ca.map(|d| (d, "/certs")).into_iter().collect();
        let o = h2o_get_wasm_dirs(&dirs, &args);
        assert!(o.status.success(), "{name} /{file}: {}", stderr(&o));
        assert!(o.stdout == *data, "{name} /{file}: body differs");
        assert!(o.stderr.is_empty(), "{}", stderr(&o));
    }
    // 20 URLs at once (one connection), each to its -o file.
    let out = TempDir::new("wasm-out");
    let multi: Vec<&(String, Vec<u8>)> = files
        .iter()
        .filter(|(n, _)| n.starts_with("multi"))
        .collect();
    assert_eq!(multi.len(), 20);
    let mut args: Vec<String> = ca_args.iter().map(|s| s.to_string()).collect();
    for (file, _) in &multi {
        args.push("-o".into());
        args.push(format!("/out/{file}"));
        args.push(format!("{base}/{file}"));
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut dirs: Vec<(&Path, &str)> = vec![(out.path(), "/out")];
    dirs.extend(ca.map(|d| (d, "/certs")));
    let o = h2o_get_wasm_dirs(&dirs, &argv);
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    for (file, data) in &multi {
        let got = std::fs::read(out.path().join(file)).unwrap();
        assert!(got == *data, "{name}: /{file} differs");
    }
}

#[test]
#[ignore = "needs scripts/build-component.sh, wasmtime and PyPI wasmtime (scripts/test.sh)"]
fn wasm_get_from_h2o_serve() {
    let (root, files) = docroot("wasm-h2o");
    let server = spawn_h2o(root.path());
    get_byte_exact(&server, &files);
}

#[test]
#[ignore = "needs scripts/build-component.sh, wasmtime and PyPI wasmtime (scripts/test.sh)"]
fn wasm_get_from_nghttpd() {
    let (root, files) = docroot("wasm-nghttpd");
    let server = spawn_nghttpd(root.path());
    get_byte_exact(&server, &files);
}

#[test]
#[ignore = "needs scripts/build-component.sh, wasmtime and PyPI wasmtime (scripts/test.sh)"]
fn wasm_get_is_a_wasi_cli_command() {
    // World h2o:core/command: exports wasi:cli/run, imports only WASI 0.2
    // interfaces of wasi:cli/command (sockets among them).
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/component/host.py");
    let o = run(Command::new("python3")
        .arg(script)
        .arg(component("h2o-get.wasm"))
        .arg("world"));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let exports: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .collect();
    assert_eq!(exports.len(), 1, "{out}");
    assert!(exports[0].starts_with("wasi:cli/run@0.2."), "{out}");
    let imports: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("import "))
        .collect();
    for i in &imports {
        let pkg = i.split('/').next().unwrap();
        assert!(
            [
                "wasi:cli",
                "wasi:io",
                "wasi:clocks",
                "wasi:filesystem",
                "wasi:random",
                "wasi:sockets"
            ]
            .contains(&pkg)
                && i.contains("@0.2."),
            "unexpected import {i}"
        );
    }
    assert!(
        imports.iter().any(|i| i.starts_with("wasi:sockets/tcp@")),
        "{out}"
    );
}

/// A peer on 127.0.0.1 made with the core itself: answers the preface and
/// then resets every request stream with REFUSED_STREAM.
fn resetting_peer() -> (String, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut conn = h2o::Connection::server(h2o::Config::default());
        let mut buf = vec![0u8; 65536];
        let mut out = Vec::new();
        let mut reset = false;
        for _ in 0..1000 {
            while let Some(ev) = conn.poll_event() {
                if let h2o::Event::Request { stream_id, .. } = ev {
                    conn.reset(stream_id, h2o::ErrorCode::REFUSED_STREAM)
                        .unwrap();
                    reset = true;
                }
            }
            out.clear();
            conn.write_to(Duration::ZERO, &mut out, 1 << 20);
            if s.write_all(&out).is_err() {
                return;
            }
            if reset && out.is_empty() {
                // Keep the connection open until the client goes away.
                let _ = s.read(&mut buf);
                return;
            }
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if conn.recv(Duration::ZERO, &buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
    });
    (addr, t)
}

fn assert_fails(o: &Output, code: i32, url: &str, needle: &str) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{url}: {e}");
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 1, "one error line expected: {e}");
    assert!(
        lines[0].starts_with(&format!("h2o-get: {url}: ")) && lines[0].contains(needle),
        "{url}: expected {needle:?} in {e}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
#[ignore = "needs scripts/build-component.sh, wasmtime and PyPI wasmtime (scripts/test.sh)"]
fn wasm_get_error_cases() {
    // Bad URLs.
    let o = h2o_get_wasm(None, &["not a url"]);
    assert_fails(&o, 1, "not a url", "invalid URL");
    let o = h2o_get_wasm(None, &["ftp://127.0.0.1/x"]);
    assert_fails(&o, 1, "ftp://127.0.0.1/x", "unsupported scheme ftp://");
    // Refused: nothing listens on the port.
    let url = format!("http://127.0.0.1:{}/", free_port());
    let o = h2o_get_wasm(None, &[&url]);
    assert_fails(&o, 1, &url, "cannot connect to");

    // Reset: the peer refuses the stream.
    let (addr, t) = resetting_peer();
    let url = format!("http://{addr}/x");
    let o = h2o_get_wasm(None, &[&url]);
    assert_fails(&o, 1, &url, "stream reset by the server: REFUSED_STREAM");
    t.join().unwrap();

    // Closed: the peer accepts, reads the request until the client is quiet
    // (so the close is a FIN, not a reset for unread data) and closes
    // without a word.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", l.local_addr().unwrap());
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut b = [0u8; 4096];
        while matches!(s.read(&mut b), Ok(n) if n > 0) {}
    });
    let o = h2o_get_wasm(None, &[&url]);
    assert_fails(&o, 1, &url, "connection closed by the server");
    t.join().unwrap();

    // Timeout: the peer accepts and never answers.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", l.local_addr().unwrap());
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut b = [0u8; 4096];
        while matches!(s.read(&mut b), Ok(n) if n > 0) {}
    });
    let start = Instant::now();
    let o = h2o_get_wasm(None, &["--timeout", "1", &url]);
    assert_fails(&o, 1, &url, "timed out after 1s");
    assert!(start.elapsed() < Duration::from_secs(30));
    t.join().unwrap();

    // HTTP error status with --fail; without it the body is printed.
    let (root, _) = docroot("wasm-err");
    let server = spawn_h2o(root.path());
    let url = server.url("/no-such-file");
    let o = h2o_get_wasm(None, &["--fail", &url]);
    assert_fails(&o, 1, &url, "server returned HTTP status 404");
    let o = h2o_get_wasm(None, &[&url]);
    assert!(o.status.success(), "{}", stderr(&o));

    // One bad URL among good ones: the good bodies are printed, exit 1.
    let good = server.url("/one");
    let o = h2o_get_wasm(None, &[&good, "http://", &good]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(o.stdout, b"xx");
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));

    // Usage errors exit 1 too (WASI 0.2 exit: success or failure only).
    let o = h2o_get_wasm(None, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("h2o-get: no URL given"),
        "{}",
        stderr(&o)
    );
}

// ------------------------------------------------------------ h2o-get.wasm https://

/// The https:// tests need the TLS layer (feature `tls`, on by default).
#[cfg(feature = "tls")]
mod https {
    use super::*;

    /// Wall-clock time since the Unix epoch (certificate validity).
    fn unix_now() -> Duration {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
    }

    /// nginx (Debian 1.22) with TLS over one docroot, one port per case; the CA
    /// PEM is `certs/ca.pem` under the returned directory.
    struct TlsNginx {
        _guard: ServerGuard,
        _dir: TempDir,
        /// `certs/` with `ca.pem` (preopened as `/certs`).
        certs: PathBuf,
        /// The leaf for 127.0.0.1 and localhost: certificate and key PEM files.
        good_leaf: (PathBuf, PathBuf),
        /// TLS + HTTP/2, a leaf for 127.0.0.1 and localhost.
        good: u16,
        /// The leaf is for `example.com` only.
        wrong_host: u16,
        /// The leaf expired yesterday.
        expired: u16,
        /// TLS without `http2`: ALPN offers http/1.1 only.
        no_h2: u16,
        /// TLS 1.2 with one cipher suite rustls does not implement (AES128-SHA):
        /// nginx answers the ClientHello with a handshake_failure alert.
        alert: u16,
    }

    fn start_tls_nginx(www: &Path) -> TlsNginx {
        let dir = TempDir::new("wasm-tls-nginx");
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        let ca = h2o::tls::TestCa::new("h2o-get.wasm test CA").unwrap();
        std::fs::write(certs.join("ca.pem"), ca.cert_pem()).unwrap();
        let now = unix_now();
        let day = Duration::from_secs(86_400);
        let leaf = |tag: &str, names: &[&str], from: Duration, until: Duration| {
            let (cert, key) = ca.issue(names, from, until).unwrap();
            let (c, k) = (
                dir.path().join(format!("{tag}.crt")),
                dir.path().join(format!("{tag}.key")),
            );
            std::fs::write(&c, cert).unwrap();
            std::fs::write(&k, key).unwrap();
            (c, k)
        };
        let good = leaf("good", &["127.0.0.1", "localhost"], now - day, now + day);
        let wrong = leaf("wrong", &["example.com"], now - day, now + day);
        let expired = leaf("expired", &["127.0.0.1"], now - 10 * day, now - day);
        let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
        let server = |port: u16, listen: &str, (c, k): &(PathBuf, PathBuf), extra: &str| {
            format!(
                "server {{ listen 127.0.0.1:{port} {listen}; server_name localhost;
               ssl_certificate {}; ssl_certificate_key {};
               {extra}
               root {}; }}\n",
                c.display(),
                k.display(),
                www.display()
            )
        };
        // Explicit in every server: with only the `alert` server setting it,
        // nginx 1.22 negotiated TLS 1.2 on the other ports too (observed).
        const V13: &str = "ssl_protocols TLSv1.2 TLSv1.3;";
        let http = format!(
            "access_log off;
           {}{}{}{}{}",
            server(ports[0], "ssl http2", &good, V13),
            server(ports[1], "ssl http2", &wrong, V13),
            server(ports[2], "ssl http2", &expired, V13),
            server(ports[3], "ssl", &good, V13),
            server(
                ports[4],
                "ssl http2",
                &good,
                "ssl_protocols TLSv1.2; ssl_ciphers AES128-SHA;"
            ),
        );
        let guard = support::spawn_nginx(dir.path(), &http, &ports, "nginx (TLS)");
        TlsNginx {
            _guard: guard,
            _dir: dir,
            certs,
            good_leaf: good.clone(),
            good: ports[0],
            wrong_host: ports[1],
            expired: ports[2],
            no_h2: ports[3],
            alert: ports[4],
        }
    }

    #[test]
    #[ignore = "needs scripts/build-component.sh, wasmtime and PyPI wasmtime (scripts/test.sh)"]
    fn wasm_get_https_from_nginx() {
        let (root, files) = docroot("wasm-tls");
        let nginx = start_tls_nginx(root.path());
        let base = format!("https://127.0.0.1:{}", nginx.good);
        get_byte_exact_from("nginx (TLS)", &base, Some(&nginx.certs), &files);
        // The same files from our own server over TLS (the nginx test leaf).
        let leaf = nginx.certs.parent().unwrap();
        let (crt, key) = (leaf.join("good.crt"), leaf.join("good.key"));
        let ours = support::spawn_h2o_serve_with(
            root.path(),
            &[
                "--tls-cert",
                crt.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
            ],
        );
        let ours_base = format!("https://127.0.0.1:{}", ours.addr.port());
        get_byte_exact_from(
            "h2o serve --tls-cert",
            &ours_base,
            Some(&nginx.certs),
            &files,
        );
        // -v: the handshake (kind, version, ALPN) and the heads on stderr.
        let url = format!("{base}/one");
        let o = h2o_get_wasm_dirs(
            &[(&nginx.certs, "/certs")],
            &["-v", "--cacert", "/certs/ca.pem", &url],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(o.stdout, b"x");
        let e = stderr(&o);
        assert!(
            e.contains("* TLSv1.3 full handshake, ALPN h2\n") && e.contains("< :status: 200"),
            "{e}"
        );
        // An http:// and an https:// origin in one run.
        let (plain_root, _) = docroot("wasm-tls-plain");
        let plain = spawn_h2o(plain_root.path());
        let o = h2o_get_wasm_dirs(
            &[(&nginx.certs, "/certs")],
            &["--cacert", "/certs/ca.pem", &url, &plain.url("/one")],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(o.stdout, b"xx");
    }

    #[test]
    #[ignore = "needs scripts/build-component.sh, wasmtime and PyPI wasmtime (scripts/test.sh)"]
    fn wasm_get_https_error_cases() {
        let (root, _) = docroot("wasm-tls-err");
        let nginx = start_tls_nginx(root.path());
        let certs: &[(&Path, &str)] = &[(&nginx.certs, "/certs")];
        let url = |port: u16| format!("https://127.0.0.1:{port}/one");

        // Unknown CA: the built-in Mozilla roots do not know the test CA.
        let u = url(nginx.good);
        let o = h2o_get_wasm(None, &[&u]);
        assert_fails(&o, 1, &u, "TLS: the certificate is signed by an unknown CA");

        // Wrong host, expired: the test CA is trusted, the leaf is not right.
        let u = url(nginx.wrong_host);
        let o = h2o_get_wasm_dirs(certs, &["--cacert", "/certs/ca.pem", &u]);
        assert_fails(&o, 1, &u, "TLS: the certificate is not valid for 127.0.0.1");
        let u = url(nginx.expired);
        let o = h2o_get_wasm_dirs(certs, &["--cacert", "/certs/ca.pem", &u]);
        assert_fails(&o, 1, &u, "TLS: the server certificate has expired");

        // The server speaks only http/1.1: no common ALPN protocol (nginx sends
        // no_application_protocol; h2o-get offers h2 alone).
        let u = url(nginx.no_h2);
        let o = h2o_get_wasm_dirs(certs, &["--cacert", "/certs/ca.pem", &u]);
        assert_fails(
            &o,
            1,
            &u,
            "TLS: no common application protocol (ALPN) with the peer",
        );

        // A fatal alert from the peer (no shared cipher suite).
        let u = url(nginx.alert);
        let o = h2o_get_wasm_dirs(certs, &["--cacert", "/certs/ca.pem", &u]);
        assert_fails(&o, 1, &u, "TLS: the peer sent the alert HandshakeFailure");

        // A TLS server without ALPN (openssl s_server without -alpn): the
        // handshake completes but h2 was not negotiated.
        let openssl = require_bin("openssl", "openssl");
        let port = free_port();
        let child = Command::new(openssl)
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&nginx.good_leaf.0)
            .arg("-key")
            .arg(&nginx.good_leaf.1)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn openssl s_server");
        let mut s_server = ServerGuard {
            child,
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            name: "openssl s_server".into(),
        };
        support::wait_port(&mut s_server, Duration::from_secs(10));
        let u = url(port);
        let o = h2o_get_wasm_dirs(certs, &["--cacert", "/certs/ca.pem", &u]);
        assert_fails(&o, 1, &u, "TLS: the peer did not negotiate h2 (no ALPN)");
        drop(s_server);

        // A plain (h2c) HTTP/2 server on the port.
        let plain = spawn_h2o(root.path());
        let u = format!("https://{}/one", plain.addr);
        let o = h2o_get_wasm(None, &[&u]);
        assert_fails(&o, 1, &u, "TLS: the peer does not speak TLS");

        // --cacert outside any preopened directory, and a file without a
        // certificate: one line naming --cacert, exit 1.
        let u = url(nginx.good);
        let o = h2o_get_wasm(None, &["--cacert", "/certs/ca.pem", &u]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(
            e.starts_with("h2o-get: --cacert: cannot read /certs/ca.pem: "),
            "{e}"
        );
        std::fs::write(nginx.certs.join("junk.pem"), "not a certificate\n").unwrap();
        let o = h2o_get_wasm_dirs(certs, &["--cacert", "/certs/junk.pem", &u]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.starts_with("h2o-get: --cacert: "), "{e}");
    }
}
