//! The sans-IO TLS layer against real TLS servers on 127.0.0.1, started here:
//! nginx (Debian `nginx`, HTTP/2 over TLS, a TLS 1.3 and a TLS 1.2-only
//! server, access log with `$ssl_session_reused`) and `openssl s_server`
//! (`-alpn h2,http/1.1 -www`, whose status page says `New,` or `Reused,`).
//! The layer is driven over a std `TcpStream` by the pump in this file.
//! A missing peer binary fails the test (scripts/test.sh installs them).
#![cfg(all(feature = "tls", feature = "native"))]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use h2o::tls::{Alpn, ClientTls, HandshakeKind, Roots, TestCa, TlsH2, TlsPipe, TlsVersion};
use h2o::{Config, Event};
use support::{free_port, random_bytes, require_bin, spawn_nginx, wait_port, ServerGuard, TempDir};

/// Wall-clock time for the layer's `now` parameter.
fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

/// A CA and a `localhost` leaf valid around now, written to `dir`.
struct Certs {
    ca: TestCa,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
}

fn certs(dir: &TempDir) -> Certs {
    let ca = TestCa::new("h2o test CA").unwrap();
    let n = now();
    let (cert, key) = ca
        .issue(
            &["localhost"],
            n - Duration::from_secs(3600),
            n + Duration::from_secs(86_400),
        )
        .unwrap();
    let c = dir.path().join("cert.pem");
    let k = dir.path().join("key.pem");
    std::fs::write(&c, cert).unwrap();
    std::fs::write(&k, key).unwrap();
    Certs {
        ca,
        cert: c,
        key: k,
    }
}

fn client(ca: &TestCa, version: Option<TlsVersion>, alpn: &[Alpn]) -> ClientTls {
    let mut b = ClientTls::builder()
        .roots(Roots::None)
        .add_ca_pem(ca.cert_pem().as_bytes(), "test CA")
        .alpn(alpn);
    if let Some(v) = version {
        b = b.versions(&[v]);
    }
    b.build().unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads what is there (`None`: nothing yet; `Some(0)`: EOF).
fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> Option<usize> {
    match s.read(buf) {
        Ok(n) => Some(n),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            None
        }
        Err(e) => panic!("read: {e}"),
    }
}

/// One HTTP/2-over-TLS GET through `TlsH2`: (status, body, handshake kind,
/// ALPN, version).
fn h2_get(
    ctx: &ClientTls,
    addr: SocketAddr,
    path: &str,
) -> (
    u16,
    Vec<u8>,
    HandshakeKind,
    Option<Alpn>,
    Option<TlsVersion>,
) {
    let mut sock = connect(addr);
    let pipe = TlsPipe::client(ctx, "localhost", now()).unwrap();
    let mut h = TlsH2::new(pipe, Config::default(), now());
    let req = http::Request::get(format!("https://localhost{path}"))
        .body(())
        .unwrap();
    let id = h.connection().send_request(req, true).unwrap();
    let (mut status, mut body, mut done) = (0, Vec::new(), false);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 64 << 10];
    while !done {
        assert!(Instant::now() < deadline, "GET {path} timed out");
        let mut out = Vec::new();
        h.write_tls(now(), &mut out, 1 << 20).unwrap();
        sock.write_all(&out).unwrap();
        match read_some(&mut sock, &mut buf) {
            Some(0) => panic!("EOF before the response ended"),
            Some(n) => h.recv(now(), &buf[..n]).unwrap(),
            None => {}
        }
        while let Some(ev) = h.connection().poll_event() {
            match ev {
                Event::Response {
                    stream_id,
                    response,
                    end_stream,
                } if stream_id == id => {
                    if response.status().as_u16() >= 200 {
                        status = response.status().as_u16();
                    }
                    done |= end_stream;
                }
                Event::Data {
                    stream_id,
                    data,
                    end_stream,
                } if stream_id == id => {
                    body.extend_from_slice(&data);
                    done |= end_stream;
                }
                Event::Reset {
                    stream_id, code, ..
                } if stream_id == id => panic!("reset {code:?}"),
                _ => {}
            }
        }
    }
    let kind = h.tls().handshake_kind().unwrap();
    let (alpn, version) = (h.tls().alpn(), h.tls().version());
    h.connection().shutdown(h2o::ErrorCode::NO_ERROR);
    h.close();
    let mut out = Vec::new();
    let _ = h.write_tls(now(), &mut out, 1 << 20);
    let _ = sock.write_all(&out);
    (status, body, kind, alpn, version)
}

/// Handshake, then `request` as plaintext, then everything the server sends
/// until it closes (bounded). Returns (response bytes, pipe).
fn pipe_exchange(ctx: &ClientTls, addr: SocketAddr, request: &[u8]) -> (Vec<u8>, TlsPipe) {
    let mut sock = connect(addr);
    let mut pipe = TlsPipe::client(ctx, "localhost", now()).unwrap();
    let mut sent = 0;
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        assert!(Instant::now() < deadline, "exchange timed out");
        if !pipe.is_handshaking() && sent < request.len() {
            sent += pipe.send(&request[sent..]);
        }
        let mut out = Vec::new();
        pipe.write_tls(&mut out);
        if !out.is_empty() {
            sock.write_all(&out).unwrap();
        }
        if pipe.peer_closed() {
            break;
        }
        match read_some(&mut sock, &mut buf) {
            Some(0) => break,
            Some(n) => {
                pipe.recv(now(), &buf[..n], &mut got).unwrap();
            }
            None => {
                if request.is_empty() && !pipe.is_handshaking() {
                    break;
                }
            }
        }
    }
    (got, pipe)
}

/// nginx with a TLS 1.3 and a TLS 1.2-only HTTP/2 server over `www`.
struct Nginx {
    _guard: ServerGuard,
    tls13: SocketAddr,
    tls12: SocketAddr,
    access_log: std::path::PathBuf,
}

fn start_nginx(dir: &TempDir, certs: &Certs, www: &std::path::Path) -> Nginx {
    let (p13, p12) = (free_port(), free_port());
    let (cert, key) = (certs.cert.display(), certs.key.display());
    let log = dir.path().join("access.log");
    let server = |port: u16, protocols: &str| {
        format!(
            "server {{ listen 127.0.0.1:{port} ssl http2; server_name localhost;
               ssl_certificate {cert}; ssl_certificate_key {key};
               ssl_protocols {protocols}; root {www}; }}\n",
            www = www.display()
        )
    };
    let http = format!(
        "log_format reuse '$ssl_protocol $ssl_session_reused $server_protocol $request_uri $status';
           access_log {log} reuse;
           ssl_session_cache shared:h2o_test:1m; ssl_session_tickets on;
           {s13}{s12}",
        log = log.display(),
        s13 = server(p13, "TLSv1.3"),
        s12 = server(p12, "TLSv1.2"),
    );
    let guard = spawn_nginx(dir.path(), &http, &[p13, p12], "nginx");
    let tls12: SocketAddr = format!("127.0.0.1:{p12}").parse().unwrap();
    let tls13 = guard.addr;
    Nginx {
        _guard: guard,
        tls13,
        tls12,
        access_log: log,
    }
}

/// The access-log lines for `uri` (waits up to 5 s for `want` of them).
fn log_lines(path: &std::path::Path, uri: &str, want: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| l.split(' ').nth(3) == Some(uri))
            .map(String::from)
            .collect();
        if lines.len() >= want || start.elapsed() > Duration::from_secs(5) {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn nginx_h2_get_and_resumption_tls13_and_tls12() {
    let dir = TempDir::new("tls-nginx");
    let certs = certs(&dir);
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let body = random_bytes(300_000, 8);
    std::fs::write(www.join("file.bin"), &body).unwrap();
    let nginx = start_nginx(&dir, &certs, &www);
    const N: usize = 5;
    for (addr, version, proto, uri) in [
        (nginx.tls13, TlsVersion::Tls13, "TLSv1.3", "/file.bin?v13"),
        (nginx.tls12, TlsVersion::Tls12, "TLSv1.2", "/file.bin?v12"),
    ] {
        // One client context = one pool: its session store is shared.
        let ctx = client(&certs.ca, Some(version), &[Alpn::H2, Alpn::Http11]);
        for i in 0..N {
            let (status, got, kind, alpn, v) = h2_get(&ctx, addr, uri);
            assert_eq!(status, 200, "{proto} connection {i}");
            assert!(
                got == body,
                "{proto} connection {i}: body differs ({} bytes)",
                got.len()
            );
            assert_eq!(alpn, Some(Alpn::H2));
            assert_eq!(v, Some(version));
            let want = if i == 0 {
                HandshakeKind::Full
            } else {
                HandshakeKind::Resumed
            };
            assert_eq!(kind, want, "{proto} connection {i}: our handshake kind");
        }
        let lines = log_lines(&nginx.access_log, uri, N);
        assert_eq!(lines.len(), N, "nginx logged {lines:?}");
        for (i, l) in lines.iter().enumerate() {
            eprintln!("nginx access log: {l}");
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f[0], proto, "{l}");
            assert_eq!(f[2], "HTTP/2.0", "{l}");
            assert_eq!(f[4], "200", "{l}");
            let reused = if i == 0 { "." } else { "r" };
            assert_eq!(
                f[1], reused,
                "nginx's $ssl_session_reused of connection {i}: {l}"
            );
        }
    }
    // The validation cache: full handshakes only verify once per chain.
    let ctx = ClientTls::builder()
        .roots(Roots::None)
        .add_ca_pem(certs.ca.cert_pem().as_bytes(), "ca")
        .session_store(0)
        .build()
        .unwrap();
    for _ in 0..3 {
        let (status, got, kind, _, _) = h2_get(&ctx, nginx.tls13, "/file.bin");
        assert_eq!((status, kind), (200, HandshakeKind::Full));
        assert!(got == body);
    }
    let s = ctx.verify_stats();
    assert_eq!((s.misses, s.hits), (1, 2));
    // Another CA: refused by our layer.
    let stranger = TestCa::new("stranger").unwrap();
    let ctx = client(&stranger, None, &[Alpn::H2]);
    let mut sock = connect(nginx.tls13);
    let mut pipe = TlsPipe::client(&ctx, "localhost", now()).unwrap();
    let mut out = Vec::new();
    pipe.write_tls(&mut out);
    sock.write_all(&out).unwrap();
    let mut buf = vec![0u8; 16 << 10];
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        assert!(Instant::now() < deadline, "no verdict");
        if let Some(n) = read_some(&mut sock, &mut buf) {
            assert!(n > 0, "EOF before the certificate");
            if let Err(e) = pipe.recv(now(), &buf[..n], &mut Vec::new()) {
                break e;
            }
        }
    };
    assert_eq!(err, h2o::tls::TlsError::UnknownIssuer);
}

fn start_s_server(dir: &TempDir, certs: &Certs) -> ServerGuard {
    let bin = require_bin("openssl", "openssl");
    let port = free_port();
    let child = Command::new(bin)
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-alpn",
            "h2,http/1.1",
            "-accept",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&certs.cert)
        .arg("-key")
        .arg(&certs.key)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn openssl s_server");
    let mut guard = ServerGuard {
        child,
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
        name: "openssl s_server".into(),
    };
    wait_port(&mut guard, Duration::from_secs(10));
    guard
}

#[test]
fn openssl_s_server_alpn_and_resumption() {
    let dir = TempDir::new("tls-s_server");
    let certs = certs(&dir);
    let server = start_s_server(&dir, &certs);
    // ALPN: h2 preferred, http/1.1 when only that is offered.
    let ctx = client(&certs.ca, None, &[Alpn::H2, Alpn::Http11]);
    let (_, pipe) = pipe_exchange(&ctx, server.addr, b"");
    assert_eq!(pipe.alpn(), Some(Alpn::H2));
    assert_eq!(pipe.version(), Some(TlsVersion::Tls13));
    for (version, tag) in [
        (TlsVersion::Tls13, "TLSv1.3"),
        (TlsVersion::Tls12, "TLSv1.2"),
    ] {
        let ctx = client(&certs.ca, Some(version), &[Alpn::Http11]);
        for i in 0..4 {
            let (page, pipe) = pipe_exchange(
                &ctx,
                server.addr,
                b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
            );
            let page = String::from_utf8_lossy(&page);
            assert!(page.starts_with("HTTP/1.0 200 ok"), "{tag} {i}: {page}");
            assert_eq!(pipe.alpn(), Some(Alpn::Http11));
            assert_eq!(pipe.version(), Some(version));
            let (ours, theirs) = if i == 0 {
                (HandshakeKind::Full, format!("New, {tag}"))
            } else {
                (HandshakeKind::Resumed, format!("Reused, {tag}"))
            };
            assert_eq!(pipe.handshake_kind(), Some(ours), "{tag} connection {i}");
            let line = page
                .lines()
                .find(|l| l.contains("New,") || l.contains("Reused,"));
            eprintln!("s_server page ({tag} connection {i}): {line:?}");
            assert!(
                page.contains(&theirs),
                "{tag} connection {i}: s_server says\n{page}"
            );
        }
    }
}
