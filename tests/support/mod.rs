//! Shared helpers of the native integration tests: temp dirs, deterministic
//! random files, spawning `h2o serve` and external servers with guards that
//! kill them on drop, and locating external binaries.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, empty directory.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "h2o-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    /// Path of the directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// A child process killed (and reaped) on drop.
pub struct ServerGuard {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it is, for messages.
    pub name: String,
}

impl ServerGuard {
    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
    /// `http://ADDR` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `h2o serve --addr 127.0.0.1:0 --root ROOT` and waits (≤10 s) for its
/// `listening on ADDR` line.
pub fn spawn_h2o_serve(root: &Path) -> ServerGuard {
    spawn_h2o_serve_with(root, &[])
}

/// Like [`spawn_h2o_serve`] with extra `h2o serve` arguments.
pub fn spawn_h2o_serve_with(root: &Path, extra: &[&str]) -> ServerGuard {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_h2o"));
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--root"])
        .arg(root)
        .args(extra)
        .stdin(Stdio::null());
    spawn_listening(&mut cmd, "h2o serve", Duration::from_secs(10))
}

/// Spawns `cmd` (stdout piped to us, stderr inherited; the caller sets stdin)
/// and waits up to `limit` for its first line, `listening on ADDR`. Later
/// output is drained so the process never blocks on a full pipe.
pub fn spawn_listening(cmd: &mut Command, name: &str, limit: Duration) -> ServerGuard {
    spawn_listening_keep_stderr(cmd.stderr(Stdio::inherit()), name, limit)
}

/// Like [`spawn_listening`], leaving stderr as the caller set it (e.g. a
/// log file the test reads).
pub fn spawn_listening_keep_stderr(cmd: &mut Command, name: &str, limit: Duration) -> ServerGuard {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        let _ = r.read_line(&mut line);
        let _ = tx.send(line);
        let mut sink = String::new();
        while r.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    let mut guard = ServerGuard {
        child,
        addr: "0.0.0.0:0".parse().unwrap(),
        name: name.into(),
    };
    let line = rx
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{name} did not print `listening on ADDR` within {limit:?}"));
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from {name}: {line:?}"));
    guard.addr = addr.parse().expect("listening address");
    guard
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts TCP connections on `addr` (panics after `limit`).
pub fn wait_port(guard: &mut ServerGuard, limit: Duration) {
    let start = Instant::now();
    loop {
        if TcpStream::connect_timeout(&guard.addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        if !guard.alive() {
            panic!("{} exited before listening on {}", guard.name, guard.addr);
        }
        if start.elapsed() > limit {
            panic!(
                "{} not listening on {} after {limit:?}",
                guard.name, guard.addr
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Finds an external binary on PATH (or /usr/sbin, /sbin); panics naming the
/// Debian package that provides it.
pub fn require_bin(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from));
    for d in dirs {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` not found: install the Debian package `{package}` (scripts/test.sh does)");
}

/// Appends a HEADERS frame (END_STREAM) carrying `GET http://x{path}` on
/// `stream_id`, encoded with a fresh HPACK context (for raw-socket tests).
pub fn write_get(buf: &mut Vec<u8>, stream_id: u32, path: &str) {
    let mut block = Vec::new();
    h2o::hpack::Encoder::default().encode(
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "x"),
            (":path", path),
        ]
        .iter()
        .map(|(n, v)| h2o::hpack::HeaderField {
            name: n.as_bytes(),
            value: v.as_bytes(),
            never_index: false,
        }),
        &mut block,
    );
    h2o::frame::encode::write_header_block(buf, stream_id, &block, true, None, 16_384);
}

/// The h2o web server (Debian `h2o`) serving `root` on a free loopback port,
/// its config and error log in `conf_dir`; waits (≤10 s) for the port.
/// `listen_extra` is YAML under `listen:` (an `ssl:` block, indented two
/// spaces), `path_extra` under the `/` path (indented eight).
pub fn spawn_h2o_web_server(
    root: &Path,
    conf_dir: &Path,
    listen_extra: &str,
    path_extra: &str,
    name: &str,
) -> ServerGuard {
    let bin = require_bin("h2o", "h2o");
    let port = free_port();
    // As root the h2o server insists on `user`; `root` keeps the temp files readable.
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let conf = format!(
        "listen:\n  host: 127.0.0.1\n  port: {port}\n{listen_extra}{}error-log: {}\nhosts:\n  default:\n    paths:\n      /:\n        file.dir: {}\n{path_extra}",
        if is_root { "user: root\n" } else { "" },
        conf_dir.join("h2o-error.log").display(),
        root.display()
    );
    let conf_path = conf_dir.join("h2o.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn h2o server");
    let mut server = ServerGuard {
        child,
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
        name: name.into(),
    };
    wait_port(&mut server, Duration::from_secs(10));
    server
}

/// nginx (Debian `nginx`) in the foreground, its config, logs and temp files
/// in `dir`. `http` is the body of the `http {}` block (servers, logs, TLS
/// session settings). Waits (≤10 s) until every port of `ports` accepts; the
/// guard's `addr` is the first.
pub fn spawn_nginx(dir: &Path, http: &str, ports: &[u16], name: &str) -> ServerGuard {
    let bin = require_bin("nginx", "nginx");
    let d = dir.display();
    let conf = format!(
        "daemon off; master_process off; worker_processes 1;
         pid {d}/nginx.pid; error_log {d}/error.log warn;
         events {{ worker_connections 128; }}
         http {{
           client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
           uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
           {http}
         }}\n"
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new(bin)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn nginx");
    let mut guard = ServerGuard {
        child,
        addr: format!("127.0.0.1:{}", ports[0]).parse().unwrap(),
        name: name.into(),
    };
    wait_port(&mut guard, Duration::from_secs(10));
    for &p in &ports[1..] {
        let addr: SocketAddr = format!("127.0.0.1:{p}").parse().unwrap();
        let start = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{name}: port {p} not up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    guard
}

/// nghttpd (Debian `nghttp2-server`) serving `root` over h2c on a free
/// loopback port, with `extra` arguments; waits (≤10 s) for the port.
pub fn spawn_nghttpd(root: &Path, extra: &[&str]) -> ServerGuard {
    let nghttpd = require_bin("nghttpd", "nghttp2-server");
    let port = free_port();
    let child = Command::new(nghttpd)
        .arg("--no-tls")
        .args(extra)
        .arg("-d")
        .arg(root)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn nghttpd");
    let mut server = ServerGuard {
        child,
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
        name: "nghttpd".into(),
    };
    wait_port(&mut server, Duration::from_secs(10));
    server
}

/// Parses a `multipart/byteranges` body strictly by the part lengths:
/// returns each part's `(content-range start, end, size, bytes)`.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Vec<(usize, usize, usize, Vec<u8>)> {
    let mut parts = Vec::new();
    let mut pos = 0;
    let delim = format!("--{boundary}");
    loop {
        // CRLF before every delimiter but the first.
        if pos > 0 {
            assert_eq!(&body[pos..pos + 2], b"\r\n", "CRLF before delimiter");
            pos += 2;
        }
        assert!(
            body[pos..].starts_with(delim.as_bytes()),
            "delimiter at {pos}"
        );
        pos += delim.len();
        if body[pos..].starts_with(b"--") {
            assert_eq!(&body[pos..], b"--\r\n", "closing delimiter");
            return parts;
        }
        assert_eq!(&body[pos..pos + 2], b"\r\n");
        pos += 2;
        let end = pos
            + body[pos..]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("part headers end");
        let heads = String::from_utf8(body[pos..end].to_vec()).unwrap();
        pos = end + 4;
        let cr = heads
            .lines()
            .find_map(|l| l.strip_prefix("content-range: bytes "))
            .unwrap_or_else(|| panic!("no content-range in {heads:?}"));
        assert!(
            heads.lines().any(|l| l.starts_with("content-type: ")),
            "{heads}"
        );
        let (range, size) = cr.split_once('/').unwrap();
        let (a, b) = range.split_once('-').unwrap();
        let (a, b, size): (usize, usize, usize) = (
            a.parse().unwrap(),
            b.parse().unwrap(),
            size.parse().unwrap(),
        );
        parts.push((a, b, size, body[pos..pos + b - a + 1].to_vec()));
        pos += b - a + 1;
    }
}

/// The boundary of a multipart body (its first line is `--boundary`).
pub fn find_boundary(body: &[u8]) -> Option<String> {
    let line = body.split(|&b| b == b'\r').next()?;
    String::from_utf8(line.strip_prefix(b"--")?.to_vec()).ok()
}

/// A field of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`, ...); 0 when the
/// process is gone.
pub fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let key = format!("{field}:");
    s.lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Resident set size of `pid` (KiB).
pub fn rss_kb(pid: u32) -> u64 {
    proc_status_kb(pid, "VmRSS")
}

/// The WebSocket peers' directory (`tests/ws`: Python and Node scripts).
pub fn ws_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ws")
}

/// Fails clearly when Python `websockets` is missing.
pub fn require_python_websockets() {
    let ok = Command::new("python3")
        .args(["-c", "import websockets"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 with `websockets` is required: pip install websockets (scripts/test.sh does)"
    );
}
