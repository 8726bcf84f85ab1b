//! HTTP/2 over TLS end to end through the native adapters and the CLI, on
//! 127.0.0.1 against real peers started here: `curl --http2` and `nghttp`
//! against `h2o serve --tls-cert`; `h2o get https://` (and the pooled
//! `Client`) against `h2o serve --tls-cert`, nginx (TLS + http2, TLS 1.3 and
//! 1.2-only servers, `$ssl_session_reused` in its access log) and the Debian
//! h2o server with TLS; resumption of the 2nd..Nth connection; refusal of
//! expired, wrong-host and unknown-CA certificates right after a valid one
//! was cached; every bad-input case with its one-line error and no panic.
//! A missing peer binary fails the test (scripts/test.sh installs them).
#![cfg(all(feature = "tls", feature = "native"))]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use h2o::net::pool::{Client, ClientConfig, ClientError};
use h2o::net::tls_io::TlsInfo;
use h2o::tls::{Alpn, ClientTls, HandshakeKind, Roots, TestCa, TlsError, TlsVersion};
use support::{
    find_boundary, free_port, parse_multipart, random_bytes, require_bin, spawn_h2o_web_server,
    spawn_listening_keep_stderr, spawn_nginx, ServerGuard, TempDir,
};

/// Body sizes checked byte for byte (record and frame boundaries around 16 KiB).
const SIZES: [usize; 9] = [0, 1, 12, 16_383, 16_384, 16_385, 65_536, 100_003, 1 << 20];

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

fn h2o() -> Command {
    Command::new(env!("CARGO_BIN_EXE_h2o"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a command with a hard time limit (a watchdog kills it after `limit`).
fn run(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(limit).is_err() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            return true;
        }
        false
    });
    let o = child.wait_with_output().unwrap();
    let _ = tx.send(());
    if watchdog.join().unwrap() {
        panic!("command timed out after {limit:?}: {}", stderr(&o));
    }
    o
}

/// A document root with `f{size}` files of deterministic bytes.
fn docroot(dir: &TempDir) -> PathBuf {
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    for (i, n) in SIZES.iter().enumerate() {
        std::fs::write(www.join(format!("f{n}")), random_bytes(*n, i as u64 + 7)).unwrap();
    }
    www
}

/// Writes a leaf for `names` signed by `ca`, valid `from..until` (relative
/// to now, in seconds), as `{tag}.pem` / `{tag}.key` in `dir`.
fn leaf(
    ca: &TestCa,
    dir: &Path,
    tag: &str,
    names: &[&str],
    from: i64,
    until: i64,
) -> (PathBuf, PathBuf) {
    let at = |d: i64| {
        let n = now().as_secs() as i64 + d;
        Duration::from_secs(n as u64)
    };
    let (cert, key) = ca.issue(names, at(from), at(until)).unwrap();
    let (c, k) = (
        dir.join(format!("{tag}.pem")),
        dir.join(format!("{tag}.key")),
    );
    std::fs::write(&c, cert).unwrap();
    std::fs::write(&k, key).unwrap();
    (c, k)
}

/// `h2o serve --tls-cert C --tls-key K` (stderr into `log`).
fn serve_tls(root: &Path, cert: &Path, key: &Path, log: &Path) -> ServerGuard {
    let mut cmd = h2o();
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--root"])
        .arg(root)
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    spawn_listening_keep_stderr(&mut cmd, "h2o serve --tls-cert", Duration::from_secs(10))
}

/// Waits (≤5 s) until `log` contains `needle`.
fn log_has(log: &Path, needle: &str) -> bool {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return true;
        }
        if start.elapsed() > Duration::from_secs(5) {
            eprintln!("log {}:\n{text}", log.display());
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A CA, a `localhost` leaf and a served docroot.
struct Setup {
    dir: TempDir,
    ca: TestCa,
    ca_file: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    www: PathBuf,
}

fn setup(tag: &str) -> Setup {
    let dir = TempDir::new(tag);
    let ca = TestCa::new("h2o tls_net CA").unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let (cert, key) = leaf(&ca, dir.path(), "localhost", &["localhost"], -3600, 86_400);
    let www = docroot(&dir);
    Setup {
        dir,
        ca,
        ca_file,
        cert,
        key,
        www,
    }
}

fn https(addr: SocketAddr, path: &str) -> String {
    format!("https://localhost:{}{path}", addr.port())
}

/// A client context trusting only `ca`.
fn client_tls(ca: &TestCa, versions: &[TlsVersion], alpn: &[Alpn]) -> Arc<ClientTls> {
    Arc::new(
        ClientTls::builder()
            .roots(Roots::None)
            .add_ca_pem(ca.cert_pem().as_bytes(), "test CA")
            .versions(versions)
            .alpn(alpn)
            .build()
            .unwrap(),
    )
}

/// A pool that closes idle connections after 50 ms (so each request after
/// a pause opens a new connection of the same pool).
fn pool(tls: Arc<ClientTls>) -> Client {
    Client::new(ClientConfig {
        tls: Some(tls),
        idle_timeout: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(20),
        breaker: None,
        ..ClientConfig::default()
    })
}

/// N requests from one pool, each on a new connection; returns each
/// connection's handshake kind (checking the body of `path`; ALPN `h2`).
fn pool_kinds(c: &Client, url: &str, want: &[u8], n: usize) -> Vec<HandshakeKind> {
    pool_kinds_alpn(c, url, want, n, Alpn::H2)
}

/// [`pool_kinds`] for a server that picks `alpn`.
fn pool_kinds_alpn(c: &Client, url: &str, want: &[u8], n: usize, alpn: Alpn) -> Vec<HandshakeKind> {
    let mut kinds = Vec::new();
    for _ in 0..n {
        let r = c.get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(r.status(), 200);
        assert!(r.body()[..] == *want, "body of {url} differs");
        let info = r
            .extensions()
            .get::<TlsInfo>()
            .expect("TlsInfo on a TLS response");
        assert_eq!(info.alpn, Some(alpn));
        kinds.push(info.handshake);
        // Let the idle timeout close the connection.
        let start = Instant::now();
        while c.pooled_connections(url) > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "idle connection kept"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    assert_eq!(c.connections_opened(), n as u64);
    kinds
}

fn assert_resumed_after_first(kinds: &[HandshakeKind], what: &str) {
    assert_eq!(kinds[0], HandshakeKind::Full, "{what}: first connection");
    for (i, k) in kinds.iter().enumerate().skip(1) {
        assert_eq!(*k, HandshakeKind::Resumed, "{what}: connection {}", i + 1);
    }
}

// ------------------------------------------------------- curl and nghttp

/// Multipart byte ranges over TLS (the copy path): curl on HTTP/2 and
/// HTTP/1.1, every part byte-exact, content-length exact.
#[test]
fn multipart_ranges_over_tls() {
    let curl = require_bin("curl", "curl");
    let s = setup("tlsnet-multi");
    let log = s.dir.path().join("serve.log");
    let srv = serve_tls(&s.www, &s.cert, &s.key, &log);
    let out = s.dir.path().join("body");
    for n in [100_003usize, 1 << 20] {
        let path = format!("/f{n}");
        let file = std::fs::read(s.www.join(&path[1..])).unwrap();
        for proto in ["--http2", "--http1.1"] {
            let o = run(
                Command::new(&curl)
                    .args([
                        "-sS",
                        proto,
                        "-D",
                        "-",
                        "-r",
                        "0-9,100-199,50-120,70000-",
                        "-o",
                    ])
                    .arg(&out)
                    .arg("--cacert")
                    .arg(&s.ca_file)
                    .arg(https(srv.addr, &path)),
                Duration::from_secs(20),
            );
            assert!(o.status.success(), "{proto} {path}: {}", stderr(&o));
            let head = String::from_utf8_lossy(&o.stdout).to_ascii_lowercase();
            assert!(head.contains(" 206"), "{proto} {path}: {head}");
            let body = std::fs::read(&out).unwrap();
            let cl = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .expect("content-length");
            assert_eq!(cl.trim(), body.len().to_string(), "{proto} {path}");
            let parts = parse_multipart(&body, &find_boundary(&body).expect("delimiter"));
            let got: Vec<(usize, usize)> = parts.iter().map(|p| (p.0, p.1)).collect();
            assert_eq!(got, [(0, 9), (50, 199), (70_000, n - 1)], "{proto} {path}");
            for (a, b, size, bytes) in parts {
                assert_eq!(size, n);
                assert!(bytes == file[a..=b], "{proto} {path}: part {a}-{b}");
            }
        }
    }
}

#[test]
fn curl_and_nghttp_against_serve_tls() {
    let curl = require_bin("curl", "curl");
    let nghttp = require_bin("nghttp", "nghttp2-client");
    let s = setup("tlsnet-curl");
    let log = s.dir.path().join("serve.log");
    let srv = serve_tls(&s.www, &s.cert, &s.key, &log);
    for n in SIZES {
        let path = format!("/f{n}");
        let want = std::fs::read(s.www.join(&path[1..])).unwrap();
        let o = run(
            Command::new(&curl)
                .args(["-sS", "--http2", "--fail", "--cacert"])
                .arg(&s.ca_file)
                .arg(https(srv.addr, &path)),
            Duration::from_secs(20),
        );
        assert!(o.status.success(), "curl {path}: {}", stderr(&o));
        assert!(
            o.stdout == want,
            "curl {path}: {} bytes, want {n}",
            o.stdout.len()
        );
        let o = run(
            Command::new(&nghttp).arg(https(srv.addr, &path)),
            Duration::from_secs(20),
        );
        assert!(o.status.success(), "nghttp {path}: {}", stderr(&o));
        assert!(
            o.stdout == want,
            "nghttp {path}: {} bytes, want {n}",
            o.stdout.len()
        );
    }
    let o = run(
        Command::new(&curl)
            .args(["-sS", "-v", "--http2", "-o", "/dev/null", "--cacert"])
            .arg(&s.ca_file)
            .arg(https(srv.addr, "/f12")),
        Duration::from_secs(20),
    );
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(e.contains("ALPN: server accepted h2"), "curl -v: {e}");
    assert!(e.contains("SSL certificate verify ok"), "curl -v: {e}");
    let o = run(
        Command::new(&nghttp)
            .args(["-v"])
            .arg(https(srv.addr, "/f12")),
        Duration::from_secs(20),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("The negotiated protocol: h2"),
        "nghttp -v: {out}"
    );
    // HTTP/1.1 over TLS (ALPN http/1.1, and no ALPN at all): every size
    // byte-exact over one keep-alive connection.
    for alpn in ["--http1.1", "--no-alpn"] {
        let mut cmd = Command::new(&curl);
        cmd.args([
            "-sS",
            "--http1.1",
            "--fail",
            "-w",
            "%{num_connects} %{http_version}\n",
        ])
        .args(["--cacert"])
        .arg(&s.ca_file);
        if alpn == "--no-alpn" {
            cmd.arg("--no-alpn");
        }
        for (i, n) in SIZES.iter().enumerate() {
            cmd.arg("-o")
                .arg(s.dir.path().join(format!("h1-{i}")))
                .arg(https(srv.addr, &format!("/f{n}")));
        }
        let o = run(&mut cmd, Duration::from_secs(30));
        assert!(o.status.success(), "curl {alpn}: {}", stderr(&o));
        let w = String::from_utf8_lossy(&o.stdout);
        let lines: Vec<&str> = w.lines().collect();
        assert_eq!(lines.len(), SIZES.len(), "{w}");
        assert_eq!(lines[0], "1 1.1", "curl {alpn}: {w}");
        for l in &lines[1..] {
            assert_eq!(*l, "0 1.1", "curl {alpn}: keep-alive: {w}");
        }
        for (i, n) in SIZES.iter().enumerate() {
            let got = std::fs::read(s.dir.path().join(format!("h1-{i}"))).unwrap();
            let want = std::fs::read(s.www.join(format!("f{n}"))).unwrap();
            assert!(
                got == want,
                "curl {alpn} /f{n}: {} bytes, want {n}",
                got.len()
            );
        }
    }
    let o = run(
        Command::new(&curl)
            .args(["-sS", "-v", "--http1.1", "-o", "/dev/null", "--cacert"])
            .arg(&s.ca_file)
            .arg(https(srv.addr, "/f12")),
        Duration::from_secs(20),
    );
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(e.contains("ALPN: server accepted http/1.1"), "curl -v: {e}");
    // h2load --h1 over TLS: keep-alive load, 0 errors (bounded: 2000 requests).
    let h2load = require_bin("h2load", "nghttp2-client");
    let o = run(
        Command::new(&h2load)
            .args(["--h1", "-n", "2000", "-c", "8"])
            .arg(https(srv.addr, "/f16384")),
        Duration::from_secs(60),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "h2load: {out}{}", stderr(&o));
    assert!(
        out.contains("2000 succeeded, 0 failed, 0 errored, 0 timeout"),
        "h2load --h1: {out}"
    );
    assert!(out.contains("2000 2xx"), "h2load --h1: {out}");
    assert!(
        out.contains("Application protocol: http/1.1"),
        "h2load --h1: {out}"
    );
}

// ------------------------------------------------------- h2o get / Client

#[test]
fn get_against_serve_tls_bytes_and_resumption() {
    let s = setup("tlsnet-get");
    let log = s.dir.path().join("serve.log");
    let srv = serve_tls(&s.www, &s.cert, &s.key, &log);
    // All sizes in one run (one multiplexed connection), byte-exact.
    let out = s.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut cmd = h2o();
    cmd.args(["get", "--cacert"]).arg(&s.ca_file);
    for n in SIZES {
        cmd.arg(https(srv.addr, &format!("/f{n}")));
    }
    for n in SIZES {
        cmd.arg("-o").arg(out.join(format!("f{n}")));
    }
    let o = run(&mut cmd, Duration::from_secs(30));
    assert!(o.status.success(), "h2o get: {}", stderr(&o));
    for n in SIZES {
        let got = std::fs::read(out.join(format!("f{n}"))).unwrap();
        let want = std::fs::read(s.www.join(format!("f{n}"))).unwrap();
        assert!(got == want, "h2o get /f{n}: {} bytes, want {n}", got.len());
    }
    // --connections N: one TLS context, the 2nd..Nth handshakes resumed.
    let o = run(
        h2o()
            .args(["get", "-v", "--connections", "4", "--cacert"])
            .arg(&s.ca_file)
            .arg(https(srv.addr, "/f1048576"))
            .arg("-o")
            .arg(out.join("seq")),
        Duration::from_secs(30),
    );
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    let kinds: Vec<&str> = e
        .lines()
        .filter(|l| l.starts_with("* TLSv1.3, ALPN h2"))
        .collect();
    assert_eq!(
        kinds,
        [
            "* TLSv1.3, ALPN h2, handshake full",
            "* TLSv1.3, ALPN h2, handshake resumed",
            "* TLSv1.3, ALPN h2, handshake resumed",
            "* TLSv1.3, ALPN h2, handshake resumed"
        ],
        "{e}"
    );
    assert!(
        std::fs::read(out.join("seq")).unwrap() == std::fs::read(s.www.join("f1048576")).unwrap()
    );
    // The pool API, TLS 1.3 and TLS 1.2: new connections of one pool resume.
    let want = std::fs::read(s.www.join("f65536")).unwrap();
    for v in [TlsVersion::Tls13, TlsVersion::Tls12] {
        let c = pool(client_tls(&s.ca, &[v], &[Alpn::H2]));
        let kinds = pool_kinds(&c, &https(srv.addr, "/f65536"), &want, 4);
        assert_resumed_after_first(&kinds, &format!("{v:?} against h2o serve"));
        let st = c.tls_stats();
        assert_eq!((st.full, st.resumed), (1, 3), "{v:?}: {st:?}");
    }
    // The validation cache: one miss, then hits for the full handshakes of
    // a fresh pool sharing the context (resumed ones verify nothing).
    let ctx = client_tls(&s.ca, &[TlsVersion::Tls13], &[Alpn::H2]);
    for _ in 0..3 {
        let c = Client::new(ClientConfig {
            tls: Some(ctx.clone()),
            ..ClientConfig::default()
        });
        c.get(&https(srv.addr, "/f12")).unwrap();
    }
    let vs = ctx.verify_stats();
    assert_eq!(vs.misses, 1, "{vs:?}");
}

/// nginx (Debian nginx 1.22: `listen … ssl http2`) with a TLS 1.3 and a TLS
/// 1.2-only HTTP/2 server and one HTTP/1.1-only TLS server.
struct Nginx {
    _guard: ServerGuard,
    tls13: SocketAddr,
    tls12: SocketAddr,
    http1: SocketAddr,
    access_log: PathBuf,
}

fn start_nginx(s: &Setup) -> Nginx {
    let (p13, p12, p1) = (free_port(), free_port(), free_port());
    let (cert, key) = (s.cert.display(), s.key.display());
    let log = s.dir.path().join("access.log");
    let server = |port: u16, http2: &str, protocols: &str| {
        format!(
            "server {{ listen 127.0.0.1:{port} ssl{http2}; server_name localhost;
               ssl_certificate {cert}; ssl_certificate_key {key};
               ssl_protocols {protocols}; root {www}; }}\n",
            www = s.www.display()
        )
    };
    let http = format!(
        "log_format reuse '$server_port $ssl_protocol $ssl_session_reused $server_protocol $request_uri $status';
           access_log {log} reuse;
           ssl_session_cache shared:h2o_tlsnet:1m; ssl_session_tickets on;
           {a}{b}{c}",
        log = log.display(),
        a = server(p13, " http2", "TLSv1.3"),
        b = server(p12, " http2", "TLSv1.2"),
        c = server(p1, "", "TLSv1.3 TLSv1.2"),
    );
    let guard = spawn_nginx(s.dir.path(), &http, &[p13, p12, p1], "nginx");
    let addr = |p: u16| -> SocketAddr { format!("127.0.0.1:{p}").parse().unwrap() };
    Nginx {
        tls13: guard.addr,
        _guard: guard,
        tls12: addr(p12),
        http1: addr(p1),
        access_log: log,
    }
}

/// nginx's `$ssl_session_reused` (`r` or `.`) of each logged request to `port`.
fn nginx_reused(log: &Path, port: u16, want: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let v: Vec<String> = text
            .lines()
            .filter(|l| l.split(' ').next() == Some(&port.to_string()))
            .map(|l| l.split(' ').nth(2).unwrap_or("").to_string())
            .collect();
        if v.len() >= want || start.elapsed() > Duration::from_secs(5) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn get_against_nginx_tls_resumption_both_sides() {
    let s = setup("tlsnet-nginx");
    let ng = start_nginx(&s);
    let want = std::fs::read(s.www.join("f1048576")).unwrap();
    for (addr, v, name) in [
        (ng.tls13, TlsVersion::Tls13, "TLSv1.3"),
        (ng.tls12, TlsVersion::Tls12, "TLSv1.2"),
    ] {
        // The CLI: byte-exact 1 MiB over 4 sequential connections.
        let out = s.dir.path().join(format!("nginx-{name}"));
        let o = run(
            h2o()
                .args(["get", "-v", "--connections", "4", "--cacert"])
                .arg(&s.ca_file)
                .arg(https(addr, "/f1048576"))
                .arg("-o")
                .arg(&out),
            Duration::from_secs(30),
        );
        let e = stderr(&o);
        assert!(o.status.success(), "{e}");
        assert!(
            std::fs::read(&out).unwrap() == want,
            "nginx {name}: body differs"
        );
        let lines: Vec<&str> = e.lines().filter(|l| l.contains(", handshake ")).collect();
        assert_eq!(lines.len(), 4, "{e}");
        assert_eq!(lines[0], format!("* {name}, ALPN h2, handshake full"));
        for l in &lines[1..] {
            assert_eq!(*l, format!("* {name}, ALPN h2, handshake resumed"));
        }
        // nginx saw the same: `.` then `r` for every later connection.
        let reused = nginx_reused(&ng.access_log, addr.port(), 4);
        assert_eq!(reused, [".", "r", "r", "r"], "nginx {name}");
        // The pool API: 2nd..Nth connection of one pool resumed.
        let c = pool(client_tls(&s.ca, &[v], &[Alpn::H2, Alpn::Http11]));
        let small = std::fs::read(s.www.join("f12")).unwrap();
        let kinds = pool_kinds(&c, &https(addr, "/f12"), &small, 3);
        assert_resumed_after_first(&kinds, &format!("nginx {name} pool"));
        let reused = nginx_reused(&ng.access_log, addr.port(), 7);
        assert_eq!(&reused[4..], [".", "r", "r"], "nginx {name} pool");
    }
    // An HTTP/1.1-only TLS server (nginx without http2): ALPN picks
    // http/1.1 and the client speaks HTTP/1.1 over the TLS session.
    // The CLI: byte-exact 1 MiB.
    let out = s.dir.path().join("nginx-http1");
    let o = run(
        h2o()
            .args(["get", "-v", "--cacert"])
            .arg(&s.ca_file)
            .arg(https(ng.http1, "/f1048576"))
            .arg("-o")
            .arg(&out),
        Duration::from_secs(30),
    );
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(
        std::fs::read(&out).unwrap() == want,
        "nginx http/1.1: body differs"
    );
    assert!(e.contains(", ALPN http/1.1, handshake full"), "{e}");
    // The pool API: keep-alive (5 requests, one connection) ...
    let c = Client::new(ClientConfig {
        tls: Some(client_tls(
            &s.ca,
            &[TlsVersion::Tls13],
            &[Alpn::H2, Alpn::Http11],
        )),
        breaker: None,
        ..ClientConfig::default()
    });
    let small = std::fs::read(s.www.join("f12")).unwrap();
    for path in ["/f12", "/f1048576", "/f12", "/f1048576", "/f12"] {
        let r = c.get(&https(ng.http1, path)).unwrap();
        assert_eq!(r.status(), 200);
        let body = if path == "/f12" { &small } else { &want };
        assert!(
            r.body()[..] == body[..],
            "nginx http/1.1 {path}: body differs"
        );
        let info = r.extensions().get::<TlsInfo>().expect("TlsInfo");
        assert_eq!(info.alpn, Some(Alpn::Http11));
    }
    assert_eq!(c.connections_opened(), 1, "keep-alive over TLS");
    // ... and resumption across the pool's HTTP/1.1 connections.
    let c = pool(client_tls(
        &s.ca,
        &[TlsVersion::Tls13],
        &[Alpn::H2, Alpn::Http11],
    ));
    let kinds = pool_kinds_alpn(&c, &https(ng.http1, "/f12"), &small, 3, Alpn::Http11);
    assert_resumed_after_first(&kinds, "nginx http/1.1 pool");
    let reused = nginx_reused(&ng.access_log, ng.http1.port(), 9);
    assert_eq!(reused.len(), 9, "nginx http/1.1 requests logged");
    assert_eq!(&reused[6..], [".", "r", "r"], "nginx http/1.1 pool");
    // Peer alert: a TLS 1.2-only client against the TLS 1.3-only server.
    let c = pool(client_tls(&s.ca, &[TlsVersion::Tls12], &[Alpn::H2]));
    let e = c.get(&https(ng.tls13, "/f12")).unwrap_err();
    match &e {
        ClientError::Tls(TlsError::PeerAlert(_)) => {}
        other => panic!("TLS 1.2 client vs TLS 1.3-only nginx: {other:?}"),
    }
    assert!(
        std::error::Error::source(&e).is_some(),
        "TlsError kept as source"
    );
    assert!(!e.to_string().contains('\n'));
}

#[test]
fn get_against_h2o_web_server_tls() {
    let s = setup("tlsnet-h2osrv");
    let ssl = format!(
        "  ssl:\n    certificate-file: {}\n    key-file: {}\n",
        s.cert.display(),
        s.key.display()
    );
    let srv = spawn_h2o_web_server(&s.www, s.dir.path(), &ssl, "", "h2o web server (TLS)");
    let out = s.dir.path().join("h2osrv-out");
    std::fs::create_dir_all(&out).unwrap();
    let mut cmd = h2o();
    cmd.args(["get", "-v", "--cacert"]).arg(&s.ca_file);
    for n in SIZES {
        cmd.arg(https(srv.addr, &format!("/f{n}")));
    }
    for n in SIZES {
        cmd.arg("-o").arg(out.join(format!("f{n}")));
    }
    let o = run(&mut cmd, Duration::from_secs(30));
    let e = stderr(&o);
    assert!(o.status.success(), "h2o get vs h2o server: {e}");
    assert!(e.contains(", ALPN h2, handshake full"), "{e}");
    for n in SIZES {
        let got = std::fs::read(out.join(format!("f{n}"))).unwrap();
        let want = std::fs::read(s.www.join(format!("f{n}"))).unwrap();
        assert!(
            got == want,
            "h2o server /f{n}: {} bytes, want {n}",
            got.len()
        );
    }
}

// ------------------------------------------------------- security

#[test]
fn bad_certificates_refused_even_after_a_valid_one_was_cached() {
    let s = setup("tlsnet-sec");
    let other_ca = TestCa::new("unknown CA").unwrap();
    let d = s.dir.path();
    let (ec, ek) = leaf(&s.ca, d, "expired", &["localhost"], -7200, -3600);
    let (wc, wk) = leaf(&s.ca, d, "wronghost", &["other.example"], -3600, 86_400);
    let (uc, uk) = leaf(&other_ca, d, "unknown", &["localhost"], -3600, 86_400);
    let (fc, fk) = leaf(&s.ca, d, "future", &["localhost"], 3600, 86_400);
    let good = serve_tls(&s.www, &s.cert, &s.key, &d.join("good.log"));
    let expired = serve_tls(&s.www, &ec, &ek, &d.join("expired.log"));
    let wrong = serve_tls(&s.www, &wc, &wk, &d.join("wrong.log"));
    let unknown = serve_tls(&s.www, &uc, &uk, &d.join("unknown.log"));
    let future = serve_tls(&s.www, &fc, &fk, &d.join("future.log"));
    // One pool (one context, one validation cache) for everything, all
    // under the same host name `localhost`.
    let ctx = client_tls(&s.ca, &[TlsVersion::Tls13, TlsVersion::Tls12], &[Alpn::H2]);
    let c = Client::new(ClientConfig {
        tls: Some(ctx.clone()),
        breaker: None,
        ..ClientConfig::default()
    });
    let url = |g: &ServerGuard| https(g.addr, "/f12");
    for round in 0..2 {
        c.get(&url(&good)).unwrap();
        assert!(ctx.verify_stats().entries >= 1, "valid chain cached");
        let e = c.get(&url(&expired)).unwrap_err();
        assert_eq!(e, ClientError::Tls(TlsError::CertExpired), "round {round}");
        let e = c.get(&url(&wrong)).unwrap_err();
        assert_eq!(
            e,
            ClientError::Tls(TlsError::WrongHost("localhost".into())),
            "round {round}"
        );
        let e = c.get(&url(&unknown)).unwrap_err();
        assert_eq!(
            e,
            ClientError::Tls(TlsError::UnknownIssuer),
            "round {round}"
        );
        let e = c.get(&url(&future)).unwrap_err();
        assert_eq!(
            e,
            ClientError::Tls(TlsError::CertNotYetValid),
            "round {round}"
        );
    }
    // Round 2 reused the pooled connection to the good server.
    assert_eq!((c.tls_stats().full, c.tls_stats().resumed), (1, 0));
    // The CLI, one line each.
    for (g, line) in [
        (&expired, "h2o: TLS: the server certificate has expired\n"),
        (
            &wrong,
            "h2o: TLS: the certificate is not valid for localhost\n",
        ),
        (
            &unknown,
            "h2o: TLS: the certificate is signed by an unknown CA\n",
        ),
        (
            &future,
            "h2o: TLS: the server certificate is not valid yet\n",
        ),
    ] {
        let o = run(
            h2o().args(["get", "--cacert"]).arg(&s.ca_file).arg(url(g)),
            Duration::from_secs(20),
        );
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(stderr(&o), line);
    }
    // Without --cacert the test CA is not trusted (no option turns
    // verification off).
    let o = run(h2o().args(["get"]).arg(url(&good)), Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "h2o: TLS: the certificate is signed by an unknown CA\n"
    );
    // The server saw our alert and logged it in one line.
    assert!(log_has(
        &d.join("unknown.log"),
        "the peer sent the alert UnknownCA; closing"
    ));
    assert!(log_has(
        &d.join("good.log"),
        "the peer sent the alert UnknownCA; closing"
    ));
}

// ------------------------------------------------------- bad input

fn serve_err(args: &[&str], root: &Path) -> String {
    let o = run(
        h2o()
            .args(["serve", "--addr", "127.0.0.1:0", "--root"])
            .arg(root)
            .args(args),
        Duration::from_secs(20),
    );
    assert!(!o.status.success(), "h2o serve {args:?} should fail");
    let e = stderr(&o);
    assert!(!e.contains("panicked"), "{e}");
    e
}

#[test]
fn serve_tls_config_errors_are_one_line() {
    let s = setup("tlsnet-cfg");
    let d = s.dir.path();
    let garbled = d.join("garbled.pem");
    std::fs::write(
        &garbled,
        "-----BEGIN CERTIFICATE-----\n%%%not base64%%%\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let (_, other_key) = leaf(&s.ca, d, "other", &["localhost"], -3600, 86_400);
    let p = |x: &Path| x.display().to_string();
    let missing = p(&d.join("missing.pem"));
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--tls-cert".into(), missing.clone(), "--tls-key".into(), p(&s.key)],
            format!("h2o: --tls-cert: cannot read {missing}: No such file or directory (os error 2)\n"),
        ),
        (
            vec!["--tls-cert".into(), p(&garbled), "--tls-key".into(), p(&s.key)],
            ": garbled PEM\n".to_string(),
        ),
        (
            vec!["--tls-cert".into(), p(&s.cert), "--tls-key".into(), p(&s.cert)],
            format!("h2o: --tls-cert: {}: no private key in PEM\n", p(&s.cert)),
        ),
        (
            vec!["--tls-cert".into(), p(&s.cert), "--tls-key".into(), p(&other_key)],
            "the private key does not match the certificate\n".into(),
        ),
        (
            vec!["--tls-sni".into(), "example.com".into()],
            "h2o: --tls-sni \"example.com\": expected NAME=CERT,KEY\n".into(),
        ),
        (
            vec!["--tls-sni".into(), format!("a.example={},{}", missing, p(&s.key))],
            format!("h2o: --tls-sni a.example: cannot read {missing}: No such file or directory (os error 2)\n"),
        ),
    ];
    for (args, want) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let e = serve_err(&a, &s.www);
        assert_eq!(e.lines().count(), 1, "{a:?}: {e}");
        assert!(e.starts_with("h2o: "), "{a:?}: {e:?}");
        assert!(e.ends_with(&want), "{a:?}: got {e:?}, want …{want:?}");
    }
    // clap refuses --tls-cert without --tls-key (its usage message).
    let e = serve_err(&["--tls-cert", &p(&s.cert)], &s.www);
    assert!(e.contains("--tls-key"), "{e}");
}

/// Reads until EOF/reset/timeout; true when the peer closed within `limit`.
fn closed_within(sock: &mut TcpStream, limit: Duration) -> bool {
    sock.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true, // reset
        }
    }
}

#[test]
fn wrong_protocols_on_each_port_close_with_a_log_line() {
    let s = setup("tlsnet-wrong");
    let d = s.dir.path();
    let log = d.join("tls.log");
    let mut tls = serve_tls(&s.www, &s.cert, &s.key, &log);
    // Plain HTTP/1.1 to the TLS port.
    let mut sock = TcpStream::connect(tls.addr).unwrap();
    sock.write_all(b"GET /f12 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert!(
        closed_within(&mut sock, Duration::from_secs(5)),
        "plain HTTP: not closed"
    );
    assert!(log_has(&log, "plain (non-TLS) bytes sent to the TLS port"));
    // An h2c preface to the TLS port.
    let mut sock = TcpStream::connect(tls.addr).unwrap();
    sock.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
    assert!(
        closed_within(&mut sock, Duration::from_secs(5)),
        "h2c preface: not closed"
    );
    assert!(log_has(&log, "h2c preface sent to the TLS port; closing"));
    // `h2o get http://` (h2c) to the TLS port: a one-line client error too.
    let o = run(
        h2o()
            .args(["get"])
            .arg(format!("http://127.0.0.1:{}/f12", tls.addr.port())),
        Duration::from_secs(20),
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    // A client offering only http/1.1 is served over HTTP/1.1.
    let c = pool(client_tls(&s.ca, &[TlsVersion::Tls13], &[Alpn::Http11]));
    let r = c.get(&https(tls.addr, "/f12")).unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.body()[..] == std::fs::read(s.www.join("f12")).unwrap()[..]);
    let info = r.extensions().get::<TlsInfo>().expect("TlsInfo");
    assert_eq!(info.alpn, Some(Alpn::Http11));
    // No ALPN overlap (openssl s_client offering only `bogus`): the
    // handshake fails with an alert and a log line.
    let openssl = require_bin("openssl", "openssl");
    let o = run(
        Command::new(&openssl)
            .args(["s_client", "-alpn", "bogus", "-connect"])
            .arg(tls.addr.to_string()),
        Duration::from_secs(20),
    );
    assert!(!o.status.success(), "s_client -alpn bogus succeeded");
    assert!(log_has(
        &log,
        "no common application protocol (ALPN) with the peer; closing"
    ));
    // A TCP connection that never sends anything is not a TLS failure.
    let idle = TcpStream::connect(tls.addr).unwrap();
    // The server is still alive and serving.
    let c = pool(client_tls(&s.ca, &[TlsVersion::Tls13], &[Alpn::H2]));
    assert_eq!(c.get(&https(tls.addr, "/f12")).unwrap().status(), 200);
    drop(idle);
    assert!(tls.alive());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("panicked"), "{text}");

    // TLS to the h2c port.
    let h2c_log = d.join("h2c.log");
    let mut cmd = h2o();
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--root"])
        .arg(&s.www)
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&h2c_log).unwrap());
    let mut h2c = spawn_listening_keep_stderr(&mut cmd, "h2o serve (h2c)", Duration::from_secs(10));
    let o = run(
        h2o()
            .args(["get", "--cacert"])
            .arg(&s.ca_file)
            .arg(https(h2c.addr, "/f12")),
        Duration::from_secs(20),
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "h2o: TLS: the peer does not speak TLS (plain bytes)\n"
    );
    assert!(log_has(
        &h2c_log,
        "TLS handshake sent to the cleartext port"
    ));
    assert!(h2c.alive());
}

#[test]
fn self_signed_serves_and_prints_the_ca_path() {
    let dir = TempDir::new("tlsnet-self");
    let www = docroot(&dir);
    let mut cmd = h2o();
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--self-signed", "--root"])
        .arg(&www)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    let srv =
        spawn_listening_keep_stderr(&mut cmd, "h2o serve --self-signed", Duration::from_secs(10));
    // The CA file is named after the port (the second stdout line says so).
    let ca = std::env::temp_dir().join(format!("h2o-self-signed-{}-ca.pem", srv.addr.port()));
    let start = Instant::now();
    while !ca.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no CA file {}",
            ca.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for host in ["localhost", "127.0.0.1"] {
        let o = run(
            h2o()
                .args(["get", "--cacert"])
                .arg(&ca)
                .arg(format!("https://{host}:{}/f16384", srv.addr.port())),
            Duration::from_secs(20),
        );
        assert!(o.status.success(), "{host}: {}", stderr(&o));
        assert!(o.stdout == std::fs::read(www.join("f16384")).unwrap());
    }
    let _ = std::fs::remove_file(&ca);
}

#[test]
fn bench_https_against_serve_tls() {
    let s = setup("tlsnet-bench");
    let log = s.dir.path().join("serve.log");
    let srv = serve_tls(&s.www, &s.cert, &s.key, &log);
    let o = run(
        h2o()
            .args([
                "bench", "-n", "2000", "-c", "4", "-m", "8", "-D", "20", "--cacert",
            ])
            .arg(&s.ca_file)
            .arg(https(srv.addr, "/f16385")),
        Duration::from_secs(60),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(out.contains("2000 done, 2000 succeeded, 0 failed"), "{out}");
    assert!(out.contains(&format!("({}) data", 2000 * 16_385)), "{out}");
    assert!(out.contains("TLS handshakes: 4 full, 0 resumed"), "{out}");
    // Unknown CA: the one-line TLS error as the connection error.
    let o = run(
        h2o()
            .args(["bench", "-n", "10", "-c", "1", "-m", "1"])
            .arg(https(srv.addr, "/f12")),
        Duration::from_secs(30),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success());
    assert!(
        out.contains("connection error: TLS: the certificate is signed by an unknown CA"),
        "{out}"
    );
}

#[test]
fn silent_and_half_handshake_connections_are_closed_by_the_idle_timeout() {
    let s = setup("tlsnet-idle");
    let log = s.dir.path().join("serve.log");
    let mut cmd = h2o();
    cmd.args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--idle-timeout",
        "0.5",
        "--root",
    ])
    .arg(&s.www)
    .arg("--tls-cert")
    .arg(&s.cert)
    .arg("--tls-key")
    .arg(&s.key)
    .stdin(Stdio::null())
    .stderr(std::fs::File::create(&log).unwrap());
    let mut srv =
        spawn_listening_keep_stderr(&mut cmd, "h2o serve --tls-cert", Duration::from_secs(10));
    // Nothing sent at all.
    let mut silent = TcpStream::connect(srv.addr).unwrap();
    // Half a ClientHello (a TLS record header promising more than is sent).
    let mut half = TcpStream::connect(srv.addr).unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .unwrap();
    let t0 = Instant::now();
    assert!(
        closed_within(&mut silent, Duration::from_secs(5)),
        "silent connection kept"
    );
    assert!(
        closed_within(&mut half, Duration::from_secs(5)),
        "half handshake kept"
    );
    assert!(t0.elapsed() < Duration::from_secs(4));
    // Still serving.
    let c = pool(client_tls(&s.ca, &[TlsVersion::Tls13], &[Alpn::H2]));
    assert_eq!(c.get(&https(srv.addr, "/f12")).unwrap().body().len(), 12);
    assert!(srv.alive());
}

#[test]
fn tls_sni_picks_the_certificate_per_name() {
    let curl = require_bin("curl", "curl");
    let s = setup("tlsnet-sni");
    let d = s.dir.path();
    let (oc, ok) = leaf(&s.ca, d, "other", &["other.example"], -3600, 86_400);
    let (wc, wk) = leaf(&s.ca, d, "wild", &["*.wild.example"], -3600, 86_400);
    let mut cmd = h2o();
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--root"])
        .arg(&s.www)
        .arg("--tls-cert")
        .arg(&s.cert)
        .arg("--tls-key")
        .arg(&s.key)
        .arg("--tls-sni")
        .arg(format!("other.example={},{}", oc.display(), ok.display()))
        .arg("--tls-sni")
        .arg(format!("*.wild.example={},{}", wc.display(), wk.display()))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    let srv = spawn_listening_keep_stderr(&mut cmd, "h2o serve --tls-sni", Duration::from_secs(10));
    let port = srv.addr.port();
    let want = std::fs::read(s.www.join("f16384")).unwrap();
    for (host, cn) in [
        ("localhost", "CN=localhost"),
        ("other.example", "CN=other.example"),
        ("a.wild.example", "CN=*.wild.example"),
    ] {
        // curl verifies the chain and the name against the CA: the right
        // certificate was picked for each SNI name.
        let o = run(
            Command::new(&curl)
                .args(["-sS", "-v", "--http2", "--fail", "--cacert"])
                .arg(&s.ca_file)
                .arg("--resolve")
                .arg(format!("{host}:{port}:127.0.0.1"))
                .arg(format!("https://{host}:{port}/f16384")),
            Duration::from_secs(20),
        );
        let e = stderr(&o);
        assert!(o.status.success(), "{host}: {e}");
        assert!(o.stdout == want, "{host}: body differs");
        assert!(e.contains(cn), "{host}: certificate {cn} expected: {e}");
    }
}
