//! `h2o serve` static-file semantics and every DATA path (zero-copy from the
//! file's mapping, zero-copy `sendfile`, copy), checked with real clients (`nghttp`, `curl`, `h2load`): byte-exact
//! bodies around frame and window boundaries, ranges, conditional requests,
//! HEAD, worker threads and the idle timeout.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::{
    find_boundary, parse_multipart, random_bytes, require_bin, spawn_h2o_serve_with, ServerGuard,
    TempDir,
};

/// Sizes around the 16 KiB frame size and the 64 KiB zero-copy threshold.
const SIZES: [usize; 11] = [
    0,
    1,
    16_383,
    16_384,
    16_385,
    65_535,
    65_536,
    65_537,
    5 * 16_384 + 1,
    1 << 20,
    5 << 20,
];

fn docroot() -> TempDir {
    let d = TempDir::new("srvfiles");
    for (i, n) in SIZES.iter().enumerate() {
        std::fs::write(
            d.path().join(format!("f{n}.bin")),
            random_bytes(*n, 77 + i as u64),
        )
        .unwrap();
    }
    std::fs::write(d.path().join("a.txt"), b"hello world\n").unwrap();
    d
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn curl() -> Command {
    let mut c = Command::new(require_bin("curl", "curl"));
    c.args(["-sS", "--http2-prior-knowledge", "--max-time", "60"]);
    c
}

fn modes() -> [(&'static str, &'static [&'static str]); 3] {
    [
        ("zero-copy", &[]),
        ("sendfile", &["--sendfile"]),
        ("copy", &["--no-zero-copy"]),
    ]
}

fn check_downloads(server: &ServerGuard, root: &std::path::Path, mode: &str) {
    let nghttp = require_bin("nghttp", "nghttp2-client");
    for n in SIZES {
        let name = format!("f{n}.bin");
        let want = std::fs::read(root.join(&name)).unwrap();
        let o = run(Command::new(&nghttp)
            .args(["-t", "60"])
            .arg(server.url(&format!("/{name}"))));
        assert!(o.status.success(), "{mode} nghttp /{name}");
        assert!(
            o.stdout == want,
            "{mode} nghttp /{name}: {} bytes",
            o.stdout.len()
        );
        let o = run(curl().arg(server.url(&format!("/{name}"))));
        assert!(
            o.stdout == want,
            "{mode} curl /{name}: {} bytes",
            o.stdout.len()
        );
    }
    // Tiny windows: the big body leaves window by window.
    let name = format!("f{}.bin", 5 << 20);
    let o = run(Command::new(&nghttp)
        .args(["-t", "60", "-w", "12", "-W", "14"])
        .arg(server.url(&format!("/{name}"))));
    assert!(o.status.success(), "{mode} small windows");
    assert!(
        o.stdout == std::fs::read(root.join(&name)).unwrap(),
        "{mode}"
    );
    // Many streams at once on one connection, zero-copy and small files mixed.
    let mut cmd = Command::new(&nghttp);
    cmd.args(["-ns", "-t", "60"]);
    for n in SIZES {
        cmd.arg(server.url(&format!("/f{n}.bin")));
    }
    let o = run(&mut cmd);
    assert!(o.status.success(), "{mode} nghttp many streams");
}

#[test]
fn downloads_byte_exact_both_paths() {
    let root = docroot();
    for (mode, args) in modes() {
        let server = spawn_h2o_serve_with(root.path(), args);
        check_downloads(&server, root.path(), mode);
    }
}

fn head_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_ascii_lowercase()
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then(|| v.trim())
    })
}

#[test]
fn ranges_both_paths() {
    let root = docroot();
    let size = 5usize << 20;
    let big = std::fs::read(root.path().join(format!("f{size}.bin"))).unwrap();
    let out = TempDir::new("ranges-out");
    for (mode, args) in modes() {
        let server = spawn_h2o_serve_with(root.path(), args);
        let url = server.url(&format!("/f{size}.bin"));
        let cases: [(&str, usize, usize); 6] = [
            ("0-0", 0, 0),
            ("100-", 100, size - 1),
            ("-500", size - 500, size - 1),
            ("16380-16390", 16_380, 16_390),
            ("65536-200000", 65_536, 200_000),
            ("1-99999999", 1, size - 1),
        ];
        for (r, a, b) in cases {
            let body = out.path().join("body");
            let o = run(curl().args(["-D", "-", "-r", r, "-o"]).arg(&body).arg(&url));
            let head = head_of(&o);
            assert!(head.starts_with("http/2 206"), "{mode} {r}: {head}");
            assert_eq!(
                header(&head, "content-range"),
                Some(format!("bytes {a}-{b}/{size}").as_str()),
                "{mode} {r}"
            );
            assert_eq!(
                header(&head, "content-length"),
                Some((b - a + 1).to_string().as_str())
            );
            let got = std::fs::read(&body).unwrap();
            assert!(got == big[a..=b], "{mode} {r}: {} bytes", got.len());
        }
        // Unsatisfiable.
        let o = run(curl()
            .args(["-D", "-", "-o", "/dev/null", "-r", "6000000-"])
            .arg(&url));
        let head = head_of(&o);
        assert!(head.starts_with("http/2 416"), "{mode}: {head}");
        assert_eq!(
            header(&head, "content-range"),
            Some(format!("bytes */{size}").as_str())
        );
        // Multiple ranges that coalesce into one: a plain 206.
        let body = out.path().join("multi");
        let o = run(curl()
            .args(["-D", "-", "-r", "0-1,2-6,4-5", "-o"])
            .arg(&body)
            .arg(&url));
        let head = head_of(&o);
        assert!(head.starts_with("http/2 206"), "{mode}: {head}");
        assert_eq!(
            header(&head, "content-range"),
            Some(format!("bytes 0-6/{size}").as_str())
        );
        assert!(
            std::fs::read(&body).unwrap() == big[..7],
            "{mode} coalesced"
        );
        // Small (cached) file ranges.
        let o = run(curl().args(["-r", "6-10"]).arg(server.url("/a.txt")));
        assert_eq!(o.stdout, b"world");
    }
}

#[test]
fn validators_conditionals_head_errors() {
    let root = docroot();
    // A sibling of the docroot (both temporary): traversal must not reach it.
    let outside_dir = TempDir::new("srv-outside");
    let sibling = outside_dir.path().file_name().unwrap().to_str().unwrap();
    let outside = outside_dir.path().join("secret");
    std::fs::write(&outside, b"secret").unwrap();
    std::os::unix::fs::symlink(&outside, root.path().join("escape")).unwrap();
    let server = spawn_h2o_serve_with(root.path(), &[]);
    for path in ["/a.txt", &format!("/f{}.bin", 1 << 20)] {
        let url = server.url(path);
        let o = run(curl().arg("-I").arg(&url));
        let head = head_of(&o);
        assert!(head.starts_with("http/2 200"), "{head}");
        assert_eq!(header(&head, "accept-ranges"), Some("bytes"));
        let etag = header(&head, "etag").expect("etag").to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let lm = header(&head, "last-modified").expect("last-modified");
        assert!(lm.ends_with("gmt"), "{lm}");
        // Original case for the date (curl lowercased above only in our copy).
        let raw = String::from_utf8_lossy(&o.stdout).into_owned();
        let lm_raw = raw
            .lines()
            .find_map(|l| l.strip_prefix("last-modified: "))
            .unwrap()
            .trim()
            .to_string();
        let code = |extra: &[&str]| {
            let o = run(curl()
                .args(["-o", "/dev/null", "-w", "%{http_code}"])
                .args(extra)
                .arg(&url));
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        assert_eq!(code(&["-H", &format!("if-none-match: {etag}")]), "304");
        assert_eq!(
            code(&["-H", &format!("if-none-match: \"x\", W/{etag}")]),
            "304"
        );
        assert_eq!(code(&["-H", "if-none-match: \"nope\""]), "200");
        assert_eq!(
            code(&["-H", &format!("if-modified-since: {lm_raw}")]),
            "304"
        );
        assert_eq!(
            code(&["-H", "if-modified-since: Thu, 01 Jan 1970 00:00:00 GMT"]),
            "200"
        );
        // if-none-match wins over if-modified-since.
        assert_eq!(
            code(&[
                "-H",
                "if-none-match: \"nope\"",
                "-H",
                &format!("if-modified-since: {lm_raw}")
            ]),
            "200"
        );
        // if-range with a stale validator: whole body.
        assert_eq!(code(&["-r", "0-3", "-H", "if-range: \"old\""]), "200");
        assert_eq!(
            code(&["-r", "0-3", "-H", &format!("if-range: {etag}")]),
            "206"
        );
    }
    let code = |extra: &[&str], path: &str| {
        let o = run(curl()
            .args(["--path-as-is", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(extra)
            .arg(server.url(path)));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(code(&[], "/escape"), "404");
    assert_eq!(code(&[], "/missing"), "404");
    assert_eq!(code(&["-X", "POST"], "/a.txt"), "405");
    for p in [
        format!("/../{sibling}/secret"),
        format!("/%2e%2e/{sibling}/secret"),
        format!("/..%2f{sibling}%2fsecret"),
    ] {
        let c = code(&[], &p);
        assert!(c == "400" || c == "404", "{p}: {c}");
    }
}

#[test]
fn threads_and_h2load() {
    let h2load = require_bin("h2load", "nghttp2-client");
    let root = docroot();
    let server = spawn_h2o_serve_with(root.path(), &["--threads", "2"]);
    let n = 20_000;
    let o = run(Command::new(&h2load)
        .args(["-n", &n.to_string(), "-c", "8", "-m", "16", "-T", "60"])
        .arg(server.url("/a.txt"))
        .arg(server.url(&format!("/f{}.bin", 65_537))));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!("{n} succeeded, 0 failed, 0 errored")),
        "{text}"
    );
}

#[test]
fn idle_connections_are_closed() {
    let root = docroot();
    let server = spawn_h2o_serve_with(root.path(), &["--idle-timeout", "1"]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no close after {:?}: {e}", start.elapsed()),
        }
    }
    let t = start.elapsed();
    assert!(
        t >= Duration::from_millis(900) && t < Duration::from_secs(5),
        "{t:?}"
    );
    // SETTINGS, SETTINGS ACK, WINDOW_UPDATE ... and a GOAWAY (type 7) last.
    let mut i = 0;
    let mut last_type = None;
    while i + 9 <= got.len() {
        let len = u32::from_be_bytes([0, got[i], got[i + 1], got[i + 2]]) as usize;
        last_type = Some(got[i + 3]);
        i += 9 + len;
    }
    assert_eq!(last_type, Some(7), "GOAWAY before close");
}

#[test]
fn file_changes_show_despite_the_cache() {
    let root = TempDir::new("srvcache");
    let f = root.path().join("c.txt");
    std::fs::write(&f, b"first version\n").unwrap();
    let server = spawn_h2o_serve_with(root.path(), &[]);
    let url = server.url("/c.txt");
    assert_eq!(run(curl().arg(&url)).stdout, b"first version\n");
    // In place, other length (seen once the 10 ms re-check interval passed).
    std::fs::write(&f, b"2nd\n").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(run(curl().arg(&url)).stdout, b"2nd\n");
    // In place, same length (the mtime differs).
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&f, b"3rd\n").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(run(curl().arg(&url)).stdout, b"3rd\n");
    // Deleted: 404 once the cache entry expires (TTL 1 s).
    std::fs::remove_file(&f).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let o = run(curl()
        .args(["-o", "/dev/null", "-w", "%{http_code}"])
        .arg(&url));
    assert_eq!(o.stdout, b"404");
}

/// A peer that opens big windows, asks for a large file and never reads: the
/// socket fills up, and the idle timeout still ends the connection.
#[test]
fn stuck_reader_is_dropped_after_idle_timeout() {
    use h2o::frame::{Frame, Settings};
    let root = TempDir::new("srvstuck");
    let size = 48usize << 20;
    std::fs::write(root.path().join("huge.bin"), vec![7u8; size]).unwrap();
    let server = spawn_h2o_serve_with(root.path(), &["--idle-timeout", "1"]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    let mut buf = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    Frame::Settings {
        ack: false,
        settings: Settings {
            initial_window_size: Some(0x7fff_ffff),
            ..Settings::default()
        },
    }
    .encode(&mut buf);
    Frame::WindowUpdate {
        stream_id: 0,
        increment: 0x7fff_ffff - 65_535,
    }
    .encode(&mut buf);
    support::write_get(&mut buf, 1, "/huge.bin");
    s.write_all(&buf).unwrap();
    // Read nothing for a while: the server's socket buffer fills up.
    std::thread::sleep(Duration::from_secs(4));
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut total = 0usize;
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no close after {total} bytes: {e}"),
        }
    }
    assert!(total < size, "the whole body arrived: {total} bytes");
}

/// Checks a multipart response: 206, boundary, exact content-length, every
/// part byte-exact against `file`, the parts being `want`.
fn check_multipart(head: &str, body: &[u8], file: &[u8], want: &[(usize, usize)], what: &str) {
    assert!(
        head.starts_with("http/2 206") || head.starts_with("http/1.1 206"),
        "{what}: {head}"
    );
    let ct = header(head, "content-type").expect("content-type");
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{what}: {ct}"));
    assert!(header(head, "content-range").is_none(), "{what}");
    assert_eq!(
        header(head, "content-length"),
        Some(body.len().to_string().as_str()),
        "{what}: content-length"
    );
    let parts = parse_multipart(body, boundary);
    let got: Vec<(usize, usize)> = parts.iter().map(|p| (p.0, p.1)).collect();
    assert_eq!(got, want, "{what}: parts");
    for (a, b, size, bytes) in parts {
        assert_eq!(size, file.len(), "{what}");
        assert!(bytes == file[a..=b], "{what}: part {a}-{b} differs");
    }
}

/// Multipart byte ranges (RFC 9110 §14.6) with curl over h2c and HTTP/1.1,
/// and nghttp: both DATA paths, a large and a small (cached) file; ranges
/// sorted and coalesced; more than 16 → 200 whole file; HEAD has the same
/// head; a stale `if-range` → 200.
#[test]
fn multipart_ranges_byte_exact() {
    let root = docroot();
    let size = 5usize << 20;
    let big = std::fs::read(root.path().join(format!("f{size}.bin"))).unwrap();
    let small = b"hello world\n".to_vec();
    let out = TempDir::new("multi-out");
    let nghttp = require_bin("nghttp", "nghttp2-client");
    for (mode, args) in modes() {
        let server = spawn_h2o_serve_with(root.path(), args);
        let url = server.url(&format!("/f{size}.bin"));
        let cases: [(&str, &[(usize, usize)]); 4] = [
            ("0-9,100-199,50-120", &[(0, 9), (50, 199)]),
            (
                "5000000-,-10,16380-16390",
                &[(16_380, 16_390), (5_000_000, size - 1)],
            ),
            ("0-0,2-2,4-4", &[(0, 0), (2, 2), (4, 4)]),
            // Unsatisfiable members dropped; a range crossing the 64 KiB
            // zero-copy threshold and frame boundaries.
            (
                "9999999-,1-99999,200000-400000",
                &[(1, 99_999), (200_000, 400_000)],
            ),
        ];
        for proto in ["--http2-prior-knowledge", "--http1.1"] {
            for (r, want) in cases {
                let what = format!("{mode} {proto} {r}");
                let body = out.path().join("body");
                let mut c = Command::new(require_bin("curl", "curl"));
                c.args(["-sS", proto, "--max-time", "60", "-D", "-", "-r", r, "-o"])
                    .arg(&body)
                    .arg(&url);
                let head = head_of(&run(&mut c));
                check_multipart(&head, &std::fs::read(&body).unwrap(), &big, want, &what);
                // HEAD: the same head, no body.
                let mut c = Command::new(require_bin("curl", "curl"));
                c.args(["-sS", proto, "--max-time", "60", "-I", "-r", r])
                    .arg(&url);
                let h2 = head_of(&run(&mut c));
                assert!(h2.contains(" 206"), "{what} HEAD: {h2}");
                assert_eq!(
                    header(&h2, "content-length"),
                    header(&head, "content-length"),
                    "{what} HEAD"
                );
                assert!(header(&h2, "content-type")
                    .unwrap()
                    .starts_with("multipart/byteranges; boundary="));
            }
            // The small cached file (body from memory).
            let what = format!("{mode} {proto} small");
            let body = out.path().join("body");
            let mut c = Command::new(require_bin("curl", "curl"));
            c.args(["-sS", proto, "-D", "-", "-r", "0-4,6-,3-3", "-o"])
                .arg(&body)
                .arg(server.url("/a.txt"));
            let head = head_of(&run(&mut c));
            check_multipart(
                &head,
                &std::fs::read(&body).unwrap(),
                &small,
                &[(0, 4), (6, 11)],
                &what,
            );
            // The bound: 17 ranges → 200 whole file; 16 → multipart.
            let specs: Vec<String> = (0..17)
                .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
                .collect();
            let mut c = Command::new(require_bin("curl", "curl"));
            c.args(["-sS", proto, "-D", "-", "-r", &specs.join(","), "-o"])
                .arg(&body)
                .arg(&url);
            let head = head_of(&run(&mut c));
            assert!(head.contains(" 200"), "{mode} {proto} 17 ranges: {head}");
            assert!(
                std::fs::read(&body).unwrap() == big,
                "{mode} 17 ranges body"
            );
            let mut c = Command::new(require_bin("curl", "curl"));
            c.args(["-sS", proto, "-D", "-", "-r", &specs[..16].join(","), "-o"])
                .arg(&body)
                .arg(&url);
            let head = head_of(&run(&mut c));
            let want: Vec<(usize, usize)> = (0..16).map(|i| (i * 10, i * 10 + 1)).collect();
            check_multipart(
                &head,
                &std::fs::read(&body).unwrap(),
                &big,
                &want,
                "16 ranges",
            );
            // if-range with a stale validator: the whole file, 200.
            let mut c = Command::new(require_bin("curl", "curl"));
            c.args([
                "-sS",
                proto,
                "-D",
                "-",
                "-r",
                "0-1,5-6",
                "-H",
                "if-range: \"old\"",
                "-o",
            ])
            .arg(&body)
            .arg(&url);
            let head = head_of(&run(&mut c));
            assert!(head.contains(" 200"), "{mode} {proto} if-range: {head}");
            assert!(std::fs::read(&body).unwrap() == big, "{mode} if-range body");
        }
        // nghttp (HTTP/2): byte-exact parts.
        let o = run(Command::new(&nghttp)
            .args(["-t", "60", "-H", "range: bytes=0-9,100-199,50-120"])
            .arg(&url));
        assert!(o.status.success(), "{mode} nghttp");
        let boundary = find_boundary(&o.stdout).expect("nghttp body starts with a delimiter");
        let parts = parse_multipart(&o.stdout, &boundary);
        let got: Vec<(usize, usize)> = parts.iter().map(|p| (p.0, p.1)).collect();
        assert_eq!(got, [(0, 9), (50, 199)], "{mode} nghttp");
        for (a, b, _, bytes) in parts {
            assert!(bytes == big[a..=b], "{mode} nghttp part {a}-{b}");
        }
        // Parts larger than one 256 KiB copy chunk through 4 KiB windows.
        let o = run(Command::new(&nghttp)
            .args(["-t", "60", "-w", "12", "-W", "14"])
            .args(["-H", "range: bytes=3000000-3999999,0-1000000"])
            .arg(&url));
        assert!(o.status.success(), "{mode} nghttp small windows");
        let boundary = find_boundary(&o.stdout).expect("delimiter");
        let parts = parse_multipart(&o.stdout, &boundary);
        let got: Vec<(usize, usize)> = parts.iter().map(|p| (p.0, p.1)).collect();
        assert_eq!(got, [(0, 1_000_000), (3_000_000, 3_999_999)], "{mode}");
        for (a, b, _, bytes) in parts {
            assert!(bytes == big[a..=b], "{mode} nghttp small windows {a}-{b}");
        }
    }
}
