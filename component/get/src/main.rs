//! `h2o-get.wasm`: a `wasi:cli/run` command that fetches `http://` URLs over
//! HTTP/2 with prior knowledge (h2c) and `https://` URLs over HTTP/2 over TLS
//! (ALPN `h2`), using the sans-IO core of H2O and its sans-IO TLS layer
//! (rustls + ring, compiled into the component).
//!
//! ```text
//! wasmtime run -S inherit-network=y [--dir D] h2o-get.wasm [-o FILE]... [-v] [--fail]
//!     [--timeout SECS] [--cacert FILE] URL...
//! ```
//!
//! Owns only the I/O loop and the command line: the socket layer ([`sock`])
//! is `wasi:sockets` (name lookup, connect, the socket's `wasi:io` streams)
//! through the `wasi` crate, every wait a `wasi:io/poll` of the socket with a
//! `wasi:clocks` timer for the core's next timeout and the `--timeout`
//! deadline; the clocks of the core are `Instant` and `SystemTime` (TLS needs
//! calendar time for certificate validity). Host names need
//! `-S allow-ip-name-lookup=y`; IP literals need no lookup. Trust: the Mozilla roots compiled in (webpki-roots), or
//! only the CAs of `--cacert FILE` (read through a preopened directory);
//! no option turns certificate verification off. URLs of one origin share one connection
//! (their requests are multiplexed); origins are fetched one after another.
//! Bodies are printed in the order given (or written to the `-o` files).
//! Each failure prints one line `h2o-get: URL: reason` to stderr and the exit
//! code is 1; a usage error prints `h2o-get: reason` and the usage, exit 1
//! (WASI 0.2's `wasi:cli/exit` knows only success and failure). A TLS
//! failure (unknown CA, wrong host, expired certificate, no common ALPN
//! protocol, a peer alert, a peer that does not speak TLS) is such a line,
//! worded by the TLS layer.
//!
//! Every call into the core's connection API and the TLS layer is in
//! [`Fetch`].

mod sock;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use h2o::tls::{Alpn, ClientTls, HandshakeKind, Roots, TlsH2, TlsPipe, TlsVersion};
use h2o::{Config, Connection, ErrorCode, Event};
use sock::{ConnectError, Read, Sock, SockError};

const USAGE: &str =
    "usage: h2o-get [-o FILE]... [-v] [--fail] [--timeout SECS] [--cacert FILE] URL...
  fetches http:// URLs over HTTP/2 (h2c, prior knowledge) and https:// URLs
  over HTTP/2 over TLS (ALPN h2), and prints the bodies
  -o FILE        write the body of the matching URL to FILE (once per URL)
  -v             print request and response heads (and the TLS handshake) to stderr
  --fail         a status >= 400 is a failure
  --timeout SECS connect + whole-exchange deadline per origin (default 30)
  --cacert FILE  trust only the CA certificates of this PEM file (default:
                 the Mozilla roots built in); FILE must be in a --dir
run with: wasmtime run -S inherit-network=y [-S allow-ip-name-lookup=y] [--dir DIR]
          h2o-get.wasm ... (host names need allow-ip-name-lookup)";

/// Command-line options.
#[derive(Debug)]
struct Options {
    urls: Vec<String>,
    outputs: Vec<PathBuf>,
    verbose: bool,
    fail: bool,
    timeout: Duration,
    cacert: Option<PathBuf>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        urls: Vec::new(),
        outputs: Vec::new(),
        verbose: false,
        fail: false,
        timeout: Duration::from_secs(30),
        cacert: None,
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "-o" | "--output" => {
                let f = args.next().ok_or("-o needs a file name")?;
                o.outputs.push(PathBuf::from(f));
            }
            "-v" | "--verbose" => o.verbose = true,
            "--fail" => o.fail = true,
            "--timeout" => {
                let s = args.next().ok_or("--timeout needs a number of seconds")?;
                let secs: f64 = s
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite() && *v > 0.0)
                    .ok_or_else(|| format!("invalid --timeout {s:?}"))?;
                o.timeout = Duration::from_secs_f64(secs);
            }
            "--cacert" => {
                let f = args.next().ok_or("--cacert needs a file name")?;
                o.cacert = Some(PathBuf::from(f));
            }
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            _ => o.urls.push(a),
        }
    }
    if o.urls.is_empty() {
        return Err("no URL given".into());
    }
    if !o.outputs.is_empty() && o.outputs.len() != o.urls.len() {
        return Err(format!(
            "-o must be given once per URL ({} URLs, {} -o)",
            o.urls.len(),
            o.outputs.len()
        ));
    }
    Ok(o)
}

/// Where to connect: one connection per origin.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    /// `https://` (TLS, ALPN h2) rather than `http://` (h2c).
    tls: bool,
    /// The host as in the URL, without IPv6 brackets (the TLS server name).
    host: String,
    /// The port to connect to.
    port: u16,
    /// `host:port` as in the URL (IPv6 in brackets), for messages.
    addr: String,
}

/// A parsed `http://` or `https://` URL.
#[derive(Debug)]
struct Target {
    origin: Origin,
    uri: http::Uri,
}

fn parse_url(url: &str) -> Result<Target, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
    let (tls, port) = match uri.scheme_str() {
        Some("http") => (false, 80),
        Some("https") => (true, 443),
        Some(s) => {
            return Err(format!(
                "unsupported scheme {s}:// (only http:// and https://)"
            ))
        }
        None => return Err("invalid URL: no scheme (expected http[s]://HOST[:PORT]/PATH)".into()),
    };
    let auth = uri
        .authority()
        .filter(|a| !a.host().is_empty())
        .ok_or("invalid URL: no host")?;
    let host = auth.host();
    let port = auth.port_u16().unwrap_or(port);
    let origin = Origin {
        tls,
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port,
        addr: format!("{host}:{port}"),
    };
    let uri = if uri.path_and_query().is_none() {
        http::Uri::builder()
            .scheme(if tls { "https" } else { "http" })
            .authority(auth.as_str())
            .path_and_query("/")
            .build()
            .map_err(|e| format!("invalid URL: {e}"))?
    } else {
        uri
    };
    Ok(Target { origin, uri })
}

/// One response as received.
#[derive(Default)]
struct Reply {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    trailers: Vec<(String, Vec<u8>)>,
    done: bool,
}

/// The protocol stack of one connection: the core alone (h2c) or the TLS
/// layer's composition of a TLS pipe with the core.
enum Link {
    Plain(Box<Connection>),
    Tls(Box<TlsH2>),
}

/// One connection to one origin fetching several URLs at once. Every call
/// into the core's `Connection` API and the TLS layer is in this impl.
struct Fetch {
    link: Link,
    /// Calendar time at `start` (TLS needs it for certificate validity).
    epoch: Duration,
    start: Instant,
    /// (stream id, index into `replies`) of the requests sent.
    streams: Vec<(u32, usize)>,
    /// Whether the TLS handshake outcome was reported (`-v`).
    told_handshake: bool,
}

impl Fetch {
    /// A connection for `origin`; `tls` is the client context for https.
    fn new(origin: &Origin, tls: Option<&ClientTls>) -> Result<Fetch, String> {
        let start = Instant::now();
        // Time since the Unix epoch, advanced by the monotonic clock so the
        // core's timers never see time go backwards.
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| "the system clock is before 1970".to_owned())?;
        let link = match (origin.tls, tls) {
            (false, _) => Link::Plain(Box::new(Connection::client(Config::default()))),
            (true, Some(ctx)) => {
                let pipe = TlsPipe::client(ctx, &origin.host, epoch).map_err(|e| e.to_string())?;
                Link::Tls(Box::new(TlsH2::new(pipe, Config::default(), epoch)))
            }
            (true, None) => return Err("no TLS context".into()),
        };
        Ok(Fetch {
            link,
            epoch,
            start,
            streams: Vec::new(),
            told_handshake: false,
        })
    }

    fn now(&self) -> Duration {
        self.epoch + self.start.elapsed()
    }

    fn conn(&mut self) -> &mut Connection {
        match &mut self.link {
            Link::Plain(c) => c,
            Link::Tls(t) => t.connection(),
        }
    }

    /// Once the TLS handshake is over: its kind, version and ALPN, for `-v`.
    fn handshake_line(&mut self) -> Option<String> {
        let Link::Tls(t) = &self.link else {
            return None;
        };
        let p = t.tls();
        if self.told_handshake || p.is_handshaking() {
            return None;
        }
        self.told_handshake = true;
        let kind = match p.handshake_kind() {
            Some(HandshakeKind::Full) => "full handshake",
            Some(HandshakeKind::FullWithHelloRetryRequest) => "full handshake (HelloRetryRequest)",
            Some(HandshakeKind::Resumed) => "resumed handshake",
            None => "handshake",
        };
        let version = match p.version() {
            Some(TlsVersion::Tls13) => "TLSv1.3",
            Some(TlsVersion::Tls12) => "TLSv1.2",
            None => "TLS",
        };
        let alpn = p.alpn().map_or("none".to_owned(), |a| a.to_string());
        Some(format!("* {version} {kind}, ALPN {alpn}"))
    }

    fn send(&mut self, uri: &http::Uri, idx: usize) -> Result<(), String> {
        let req = http::Request::get(uri.clone())
            .header("user-agent", "h2o-get.wasm/0.1")
            .body(())
            .map_err(|e| format!("invalid request: {e}"))?;
        let id = self
            .conn()
            .send_request(req, true)
            .map_err(|e| format!("cannot send request: {e}"))?;
        self.streams.push((id, idx));
        Ok(())
    }

    /// Puts the bytes for the peer into `buf` (cleared first). On an error
    /// `buf` still holds what is worth sending (e.g. a TLS alert).
    fn output(&mut self, buf: &mut Vec<u8>) -> Result<(), String> {
        buf.clear();
        let now = self.now();
        match &mut self.link {
            Link::Plain(c) => {
                c.write_to(now, buf, 256 << 10);
                Ok(())
            }
            Link::Tls(t) => t
                .write_tls(now, buf, 256 << 10)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }

    fn input(&mut self, data: &[u8]) -> Result<(), String> {
        let now = self.now();
        match &mut self.link {
            Link::Plain(c) => c
                .recv(now, data)
                .map(|_| ())
                .map_err(|e| format!("protocol error: {e}")),
            Link::Tls(t) => t.recv(now, data).map_err(|e| e.to_string()),
        }
    }

    /// Time until the core's next timer, if it has one.
    fn until_timer(&mut self) -> Option<Duration> {
        let now = self.now();
        self.conn().poll_timeout().map(|t| t.saturating_sub(now))
    }

    fn tick(&mut self) {
        let now = self.now();
        if self.conn().poll_timeout().is_some_and(|t| t <= now) {
            match &mut self.link {
                Link::Plain(c) => c.handle_timeout(now),
                Link::Tls(t) => t.handle_timeout(now),
            }
        }
    }

    /// Applies the queued events to `replies`; per-URL failures go to `errors`.
    fn events(&mut self, replies: &mut [Reply], errors: &mut [Option<String>]) {
        while let Some(ev) = self.conn().poll_event() {
            let slot = |id: u32| self.streams.iter().find(|(s, _)| *s == id).map(|&(_, i)| i);
            match ev {
                Event::Response {
                    stream_id,
                    response,
                    end_stream,
                } => {
                    let Some(i) = slot(stream_id) else { continue };
                    if response.status().is_informational() {
                        continue;
                    }
                    let r = &mut replies[i];
                    r.status = response.status().as_u16();
                    r.headers = response
                        .headers()
                        .iter()
                        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                        .collect();
                    r.done |= end_stream;
                }
                Event::Data {
                    stream_id,
                    data,
                    end_stream,
                } => {
                    if let Some(i) = slot(stream_id) {
                        replies[i].body.extend_from_slice(&data);
                        replies[i].done |= end_stream;
                    }
                }
                Event::Trailers {
                    stream_id,
                    trailers,
                } => {
                    if let Some(i) = slot(stream_id) {
                        replies[i].trailers = trailers
                            .iter()
                            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                            .collect();
                        replies[i].done = true;
                    }
                }
                Event::Reset {
                    stream_id,
                    code,
                    remote,
                } => {
                    if let Some(i) = slot(stream_id) {
                        let by = if remote {
                            "by the server"
                        } else {
                            "(protocol error)"
                        };
                        errors[i] = Some(format!("stream reset {by}: {code}"));
                    }
                }
                Event::GoAway {
                    last_stream_id,
                    code,
                    ..
                } => {
                    for &(s, i) in &self.streams {
                        if s > last_stream_id && !replies[i].done && errors[i].is_none() {
                            errors[i] = Some(format!("refused by GOAWAY ({code})"));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Queues GOAWAY (and, over TLS, close_notify after it).
    fn finish(&mut self, out: &mut Vec<u8>) {
        self.conn().shutdown(ErrorCode::NO_ERROR);
        let _ = self.output(out);
        let now = self.now();
        if let Link::Tls(t) = &mut self.link {
            t.close();
            let _ = t.write_tls(now, out, 1 << 10);
        }
    }
}

/// Fetches `targets` (URLs of one origin) over one connection.
fn fetch_origin(
    target: &Origin,
    tls: Option<&ClientTls>,
    targets: &[(usize, http::Uri)],
    opts: &Options,
    replies: &mut [Reply],
    errors: &mut [Option<String>],
) {
    let deadline = Instant::now() + opts.timeout;
    let origin = target.addr.as_str();
    let timed_out = format!("timed out after {:?}", opts.timeout);
    let sock = match Sock::connect(&target.host, target.port, deadline) {
        Ok(s) => s,
        Err(e) => {
            let msg = match e {
                ConnectError::Resolve(e) => format!("cannot resolve {}: {e}", target.host),
                ConnectError::Connect(SockError::Timeout) => {
                    format!("cannot connect to {origin}: {timed_out}")
                }
                ConnectError::Connect(SockError::Closed) => {
                    format!("cannot connect to {origin}: connection closed")
                }
                ConnectError::Connect(SockError::Failed(e)) => {
                    format!("cannot connect to {origin}: {e}")
                }
            };
            return fail_pending(targets, replies, errors, &msg);
        }
    };
    // The one-line reason for a failed read or write.
    let io_error = |op: &str, e: SockError| match e {
        SockError::Timeout => timed_out.clone(),
        SockError::Closed if op == "read from" => {
            "connection closed by the server before the response ended".to_owned()
        }
        SockError::Closed => format!("{op} {origin} failed: connection closed"),
        SockError::Failed(e) => format!("{op} {origin} failed: {e}"),
    };

    let mut f = match Fetch::new(target, tls) {
        Ok(f) => f,
        Err(e) => return fail_pending(targets, replies, errors, &e),
    };
    for (i, uri) in targets {
        if opts.verbose {
            eprintln!("> GET {uri}");
        }
        if let Err(e) = f.send(uri, *i) {
            errors[*i] = Some(e);
        }
    }
    let mut out = Vec::with_capacity(64 << 10);
    let pending = |replies: &[Reply], errors: &[Option<String>]| {
        targets
            .iter()
            .any(|(i, _)| !replies[*i].done && errors[*i].is_none())
    };
    while pending(replies, errors) {
        f.tick();
        loop {
            let r = f.output(&mut out);
            if !out.is_empty() {
                if let Err(e) = sock.write_all(&out, deadline) {
                    return fail_pending(targets, replies, errors, &io_error("write to", e));
                }
            }
            if let Err(e) = r {
                return fail_pending(targets, replies, errors, &e);
            }
            if out.is_empty() {
                break;
            }
        }
        f.events(replies, errors);
        if !pending(replies, errors) {
            break;
        }
        // Wait for the peer until the core's next timer (or the deadline).
        let wait = f.until_timer().unwrap_or(Duration::MAX);
        match sock.read(wait, deadline) {
            Ok(Read::Idle) => {}
            Ok(Read::Data(data)) => {
                if let Err(e) = f.input(&data) {
                    // The GOAWAY (or TLS alert) is queued: send it, then
                    // give up on this origin.
                    let _ = f.output(&mut out);
                    let _ = sock.write_all(&out, deadline);
                    f.events(replies, errors);
                    return fail_pending(targets, replies, errors, &e);
                }
                if opts.verbose {
                    if let Some(line) = f.handshake_line() {
                        eprintln!("{line}");
                    }
                }
                f.events(replies, errors);
            }
            Err(e) => {
                f.events(replies, errors);
                return fail_pending(targets, replies, errors, &io_error("read from", e));
            }
        }
    }
    f.finish(&mut out);
    let _ = sock.write_all(&out, deadline);
    sock.shutdown();
}

/// Marks every URL of `targets` that has neither a complete reply nor an
/// error yet as failed with `msg`.
fn fail_pending(
    targets: &[(usize, http::Uri)],
    replies: &[Reply],
    errors: &mut [Option<String>],
    msg: &str,
) {
    for (i, _) in targets {
        if errors[*i].is_none() && !replies[*i].done {
            errors[*i] = Some(msg.to_owned());
        }
    }
}

fn log_reply(r: &Reply) {
    let mut e = io::stderr().lock();
    let _ = writeln!(e, "< :status: {}", r.status);
    for (n, v) in &r.headers {
        let _ = writeln!(e, "< {n}: {}", String::from_utf8_lossy(v));
    }
    for (n, v) in &r.trailers {
        let _ = writeln!(e, "< {n}: {}", String::from_utf8_lossy(v));
    }
}

/// The TLS client context: ALPN `h2` only (this command speaks nothing
/// else), the Mozilla roots built in, or only the CAs of `--cacert`.
fn client_tls(opts: &Options) -> Result<ClientTls, String> {
    let b = ClientTls::builder().alpn(&[Alpn::H2]);
    match &opts.cacert {
        Some(p) => b.roots(Roots::None).add_ca_file(p).build(),
        None => b.roots(Roots::Webpki).build(),
    }
    .map_err(|e| match &opts.cacert {
        Some(_) => format!("--cacert: {e}"),
        None => e.to_string(),
    })
}

fn run(opts: &Options) -> ExitCode {
    let n = opts.urls.len();
    let mut replies: Vec<Reply> = (0..n).map(|_| Reply::default()).collect();
    let mut errors: Vec<Option<String>> = vec![None; n];
    // Origins in order of first appearance, each with its URLs.
    let mut origins: Vec<(Origin, Vec<(usize, http::Uri)>)> = Vec::new();
    for (i, url) in opts.urls.iter().enumerate() {
        match parse_url(url) {
            Ok(t) => match origins.iter_mut().find(|(o, _)| *o == t.origin) {
                Some((_, v)) => v.push((i, t.uri)),
                None => origins.push((t.origin, vec![(i, t.uri)])),
            },
            Err(e) => errors[i] = Some(e),
        }
    }
    // One TLS context for all https origins (webpki-roots or --cacert).
    let tls = if origins.iter().any(|(o, _)| o.tls) {
        match client_tls(opts) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("h2o-get: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    for (origin, targets) in &origins {
        fetch_origin(
            origin,
            tls.as_ref(),
            targets,
            opts,
            &mut replies,
            &mut errors,
        );
    }
    let mut failed = false;
    let mut stdout = io::stdout().lock();
    for i in 0..n {
        let r = &replies[i];
        let res = match errors[i].take() {
            Some(e) => Err(e),
            None => {
                if opts.verbose {
                    log_reply(r);
                }
                if opts.fail && r.status >= 400 {
                    Err(format!("server returned HTTP status {}", r.status))
                } else {
                    match opts.outputs.get(i) {
                        Some(p) => std::fs::write(p, &r.body)
                            .map_err(|e| format!("cannot write {}: {e}", p.display())),
                        None => stdout
                            .write_all(&r.body)
                            .and_then(|_| stdout.flush())
                            .map_err(|e| format!("cannot write output: {e}")),
                    }
                }
            }
        };
        if let Err(e) = res {
            failed = true;
            eprintln!("h2o-get: {}: {e}", opts.urls[i]);
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("h2o-get: {e}\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    run(&opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("http://127.0.0.1:8080/a?b").unwrap();
        assert_eq!(t.origin.addr, "127.0.0.1:8080");
        assert!(!t.origin.tls);
        assert_eq!(t.uri.path_and_query().unwrap().as_str(), "/a?b");
        let t = parse_url("http://example.com").unwrap();
        assert_eq!(t.origin.addr, "example.com:80");
        assert_eq!(t.uri.path(), "/");
        let t = parse_url("https://[::1]").unwrap();
        assert!(t.origin.tls);
        assert_eq!(t.origin.host, "::1");
        assert_eq!(t.origin.addr, "[::1]:443");
        assert_eq!(t.uri.to_string(), "https://[::1]/");
        let t = parse_url("https://localhost:8443/x").unwrap();
        assert_eq!(t.origin.addr, "localhost:8443");
        assert_ne!(
            t.origin,
            parse_url("http://localhost:8443/").unwrap().origin
        );
        assert!(parse_url("ftp://x/")
            .unwrap_err()
            .contains("unsupported scheme"));
        assert!(parse_url("no url").unwrap_err().contains("invalid URL"));
        assert!(parse_url("/path").unwrap_err().contains("no scheme"));
    }

    #[test]
    fn args() {
        let a = |v: &[&str]| parse_args(v.iter().map(|s| s.to_string()));
        assert!(a(&[]).unwrap_err().contains("no URL"));
        assert!(a(&["-o", "f", "u1", "u2"])
            .unwrap_err()
            .contains("once per URL"));
        assert!(a(&["--timeout", "x", "u"])
            .unwrap_err()
            .contains("--timeout"));
        assert!(a(&["--bogus", "u"]).unwrap_err().contains("unknown option"));
        assert!(a(&["u", "--cacert"]).unwrap_err().contains("--cacert"));
        let o = a(&["-v", "--timeout", "2.5", "--cacert", "/c/ca.pem", "u"]).unwrap();
        assert_eq!(o.cacert, Some(PathBuf::from("/c/ca.pem")));
        assert!(o.verbose);
        assert_eq!(o.timeout, Duration::from_millis(2500));
    }
}
