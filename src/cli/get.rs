//! `h2o get`: fetches URLs with the pooled [`Client`] (concurrently, one
//! multiplexed connection per origin), prints bodies in the order given, shows
//! a progress bar for bodies over 1 MiB when stderr is a terminal, and with
//! `--connections N` fetches the first URL over N fresh connections in turn.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::net::pool::{Client, ClientConfig, ClientError, ResponseHandle, Trailers};

/// Options of `h2o get`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Print heads (and timing) to stderr.
    pub verbose: bool,
    /// A status >= 400 is a failure.
    pub fail: bool,
    /// Connect + whole-response deadline per URL.
    pub timeout: Duration,
    /// Sequential fresh connections to the first URL.
    pub connections: Option<usize>,
    /// Speak HTTP/1.1 instead of h2c (`--http1.1`).
    pub http1: bool,
    /// Extra CA certificates (PEM) trusted for `https://` besides the system roots.
    pub cacert: Option<PathBuf>,
    /// Print every HTTP/2 frame to stderr (`--trace`).
    pub trace: bool,
}

const BAR_THRESHOLD: u64 = 1 << 20;
/// How long the connections get to send their GOAWAY at exit.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

/// The TLS context shared by every client of one `h2o get` run (so the
/// `--connections` loop resumes sessions). Built only for `https://` URLs.
#[cfg(feature = "tls")]
type Tls = Option<std::sync::Arc<crate::tls::ClientTls>>;
#[cfg(not(feature = "tls"))]
type Tls = Option<std::convert::Infallible>;

#[cfg(feature = "tls")]
fn tls_context(urls: &[String], opts: &Options) -> Result<Tls, String> {
    if !urls.iter().any(|u| u.starts_with("https://")) {
        if opts.cacert.is_some() {
            return Err("--cacert is only used with https:// URLs".into());
        }
        return Ok(None);
    }
    let mut b = crate::tls::ClientTls::builder();
    if let Some(p) = &opts.cacert {
        b = b.add_ca_file(p);
    }
    let t = b.build().map_err(|e| format!("TLS: {e}"))?;
    Ok(Some(std::sync::Arc::new(t)))
}

#[cfg(not(feature = "tls"))]
fn tls_context(_urls: &[String], opts: &Options) -> Result<Tls, String> {
    if opts.cacert.is_some() {
        return Err("this h2o was built without TLS (feature `tls`)".into());
    }
    Ok(None)
}

fn client(opts: &Options, tls: &Tls) -> Client {
    #[cfg(not(feature = "tls"))]
    let _ = tls;
    Client::new(ClientConfig {
        connect_timeout: opts.timeout,
        request_timeout: opts.timeout,
        breaker: None,
        http1: opts.http1,
        trace: opts.trace,
        #[cfg(feature = "tls")]
        tls: tls.clone(),
        ..ClientConfig::default()
    })
}

/// `-v`: what the connection's TLS handshake negotiated.
fn log_tls(log: &mut dyn Write, resp: &http::Response<Bytes>) {
    #[cfg(feature = "tls")]
    if let Some(i) = resp.extensions().get::<crate::net::tls_io::TlsInfo>() {
        let v = match i.version {
            Some(crate::tls::TlsVersion::Tls13) => "TLSv1.3",
            Some(crate::tls::TlsVersion::Tls12) => "TLSv1.2",
            None => "TLS",
        };
        let alpn = i.alpn.map_or("-".to_string(), |a| a.to_string());
        let _ = writeln!(log, "* {v}, ALPN {alpn}, handshake {}", i.kind_str());
    }
    #[cfg(not(feature = "tls"))]
    let _ = (log, resp);
}

fn log_request(log: &mut dyn Write, req: &http::Request<Bytes>) {
    let uri = req.uri();
    let _ = writeln!(log, "> :method: {}", req.method());
    let _ = writeln!(log, "> :scheme: {}", uri.scheme_str().unwrap_or("http"));
    let _ = writeln!(
        log,
        "> :authority: {}",
        uri.authority().map_or("", |a| a.as_str())
    );
    let _ = writeln!(
        log,
        "> :path: {}",
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    for (k, v) in req.headers() {
        let _ = writeln!(log, "> {}: {}", k, String::from_utf8_lossy(v.as_bytes()));
    }
}

fn log_response(log: &mut dyn Write, resp: &http::Response<Bytes>) {
    let _ = writeln!(log, "< :status: {}", resp.status().as_u16());
    for (k, v) in resp.headers() {
        let _ = writeln!(log, "< {}: {}", k, String::from_utf8_lossy(v.as_bytes()));
    }
    if let Some(Trailers(t)) = resp.extensions().get::<Trailers>() {
        for (k, v) in t {
            let _ = writeln!(log, "< {}: {}", k, String::from_utf8_lossy(v.as_bytes()));
        }
    }
}

/// Waits for `h`, drawing a progress bar once more than 1 MiB arrived (tty only).
fn wait_with_bar(mut h: ResponseHandle) -> Result<http::Response<Bytes>, ClientError> {
    let tty = io::stderr().is_terminal();
    let mut bar: Option<indicatif::ProgressBar> = None;
    loop {
        if let Some(r) = h.poll(Duration::from_millis(100)) {
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            return r;
        }
        if !tty {
            continue;
        }
        let (got, len) = h.progress();
        if bar.is_none() && (got > BAR_THRESHOLD || len.is_some_and(|l| l > BAR_THRESHOLD)) {
            let b = match len {
                Some(l) => indicatif::ProgressBar::new(l),
                None => indicatif::ProgressBar::new_spinner(),
            };
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.set_message(h.uri().path().to_string());
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(got);
        }
    }
}

fn write_body(path: Option<&PathBuf>, body: &[u8]) -> Result<(), String> {
    match path {
        Some(p) => {
            std::fs::write(p, body).map_err(|e| format!("cannot write {}: {e}", p.display()))
        }
        None => {
            let mut out = io::stdout().lock();
            out.write_all(body)
                .and_then(|_| out.flush())
                .map_err(|e| format!("cannot write output: {e}"))
        }
    }
}

/// Checks `--fail`, logs and writes one response.
fn deliver(
    resp: http::Response<Bytes>,
    path: Option<&PathBuf>,
    opts: &Options,
) -> Result<(), String> {
    if opts.verbose {
        log_tls(&mut io::stderr(), &resp);
        log_response(&mut io::stderr(), &resp);
    }
    let code = resp.status().as_u16();
    if opts.fail && code >= 400 {
        return Err(format!("server returned HTTP status {code}"));
    }
    write_body(path, resp.body())
}

/// Runs `h2o get`.
pub fn run(urls: &[String], outputs: &[PathBuf], opts: &Options) -> Result<ExitCode, String> {
    if !outputs.is_empty() && outputs.len() != urls.len() {
        return Err(format!(
            "-o must be given once per URL ({} URLs, {} -o)",
            urls.len(),
            outputs.len()
        ));
    }
    let tls = tls_context(urls, opts)?;
    if let Some(n) = opts.connections {
        return sequential(&urls[0], outputs.first(), n, opts, &tls);
    }
    let c = client(opts, &tls);
    // Start everything first so requests to one origin share a connection.
    let handles: Vec<Result<ResponseHandle, ClientError>> = urls
        .iter()
        .map(|u| {
            let req = c.get_request(u)?;
            if opts.verbose {
                log_request(&mut io::stderr(), &req);
            }
            c.send(req)
        })
        .collect();
    let many = urls.len() > 1;
    let mut failed = false;
    for (i, h) in handles.into_iter().enumerate() {
        let res = h
            .and_then(wait_with_bar)
            .map_err(|e| e.to_string())
            .and_then(|resp| deliver(resp, outputs.get(i), opts));
        if let Err(e) = res {
            failed = true;
            if many {
                eprintln!("h2o: {}: {e}", urls[i]);
            } else {
                eprintln!("h2o: {e}");
            }
        }
    }
    // Say goodbye (GOAWAY) before the process ends; bounded.
    c.shutdown(SHUTDOWN_WAIT);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--connections N`: N fetches of `url`, each on a new connection.
fn sequential(
    url: &str,
    path: Option<&PathBuf>,
    n: usize,
    opts: &Options,
    tls: &Tls,
) -> Result<ExitCode, String> {
    if n == 0 {
        return Err("--connections must be at least 1".into());
    }
    let mut last = None;
    for i in 1..=n {
        let c = client(opts, tls);
        let req = c.get_request(url).map_err(|e| e.to_string())?;
        if opts.verbose && i == 1 {
            log_request(&mut io::stderr(), &req);
        }
        let t0 = Instant::now();
        let resp = c
            .send(req)
            .and_then(wait_with_bar)
            .map_err(|e| e.to_string())?;
        c.shutdown(SHUTDOWN_WAIT);
        if opts.verbose {
            eprintln!(
                "* connection {i}/{n}: status {}, {} bytes in {:.2} ms (connect + request)",
                resp.status().as_u16(),
                resp.body().len(),
                t0.elapsed().as_secs_f64() * 1e3
            );
            if i < n {
                log_tls(&mut io::stderr(), &resp);
            }
        }
        last = Some(resp);
    }
    match last {
        Some(resp) => deliver(resp, path, opts).map(|()| ExitCode::SUCCESS),
        None => Err("no response".into()),
    }
}
