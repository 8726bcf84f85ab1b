//! Command-line front end of the `h2o` binary (clap derive).
//!
//! - `h2o serve --addr ADDR --root DIR [--threads N] [--no-zero-copy | --sendfile] [--idle-timeout SECS]
//!   [--stall-timeout SECS] [--shutdown-timeout SECS] [--trace] [--access-log FILE|-]
//!   [--tls-cert FILE --tls-key FILE] [--tls-sni NAME=CERT,KEY]... [--self-signed]`:
//!   h2c + HTTP/1.1, or HTTP/2-over-TLS static file server ([`crate::net::server`]);
//!   SIGTERM/SIGINT stop it gracefully (exit 0 after the drain; a second
//!   signal exits at once with status 1);
//! - `h2o get URL... [-o FILE]... [-v] [--fail] [--timeout SECS] [--connections N] [--http1.1] [--cacert FILE] [--trace]`:
//!   h2c (or HTTP/1.1) / HTTP/2-over-TLS client ([`crate::net::pool::Client`]);
//! - `h2o bench [URL] [-n N] [-c C] [-m M] [-t T] [-D SECS] [--rate R] [--path P] [--cacert FILE]
//!   [--no-tui] [--json [FILE]] [--html FILE]`: load generator ([`crate::net::bench`]), against
//!   the embedded server when no URL is given;
//! - `h2o hpack inflate|deflate [FILE]`: HPACK story tool ([`hpack`]);
//! - `h2o ws URL [--h2] [--echo]`: WebSocket client, line or echo mode ([`ws`]); `h2o serve --ws-echo PATH`
//!   adds a WebSocket echo endpoint ([`crate::net::ws`]);
//! - `h2o completions bash|zsh|fish`: shell completion script (`clap_complete`);
//!   `h2o --version` names the build's enabled features.

pub mod hpack;
pub mod ws;

use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};

use crate::net::{bench, files::DocRoot, server};

mod get;

/// The `h2o` command line.
#[derive(Debug, Parser)]
#[command(
    name = "h2o",
    version = version(),
    about = "HTTP/2 engine: h2c / TLS file server, client and HPACK tools"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `h2o --version`: the crate version and the cargo features this binary was
/// built with (`native` always, since the binary needs it).
pub fn version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let features = [
            ("native", cfg!(feature = "native")),
            ("tls", cfg!(feature = "tls")),
            ("js", cfg!(feature = "js")),
            ("bench-internals", cfg!(feature = "bench-internals")),
        ];
        let on: Vec<&str> = features.iter().filter(|f| f.1).map(|f| f.0).collect();
        format!("{} (features: {})", env!("CARGO_PKG_VERSION"), on.join(" "))
    })
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve files from a directory over HTTP/2 cleartext (prior knowledge, h2c),
    /// or over TLS (ALPN h2, or HTTP/1.1 for clients that pick http/1.1 or no
    /// ALPN) with --tls-cert/--tls-key or --self-signed.
    Serve {
        /// Address to listen on (port 0 picks a free port; the bound address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Document root.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Worker threads, each an epoll loop serving many connections (use the
        /// number of cores to use them all).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Copy file bodies through user-space buffers instead of sending them
        /// from a read-only mapping of the file.
        #[arg(long)]
        no_zero_copy: bool,
        /// Send large file bodies with sendfile(2), one call per DATA frame,
        /// instead of vectored writes over the file's mapping.
        #[arg(long, conflicts_with = "no_zero_copy")]
        sendfile: bool,
        /// Close connections idle for SECS seconds.
        #[arg(long, value_name = "SECS", default_value_t = 60.0)]
        idle_timeout: f64,
        /// Close connections whose output made no progress for SECS seconds
        /// (the peer does not read, or keeps its flow-control windows at 0).
        #[arg(long, value_name = "SECS", default_value_t = 30.0)]
        stall_timeout: f64,
        /// On SIGTERM/SIGINT: stop accepting, let in-flight responses finish
        /// for at most SECS seconds, then close the rest and exit 0.
        #[arg(long, value_name = "SECS", default_value_t = 10.0)]
        shutdown_timeout: f64,
        /// Answer WebSocket handshakes on PATH (HTTP/1.1 Upgrade and RFC 8441
        /// extended CONNECT) by echoing every message.
        #[arg(long, value_name = "PATH")]
        ws_echo: Option<String>,
        /// Serve HTTP/2 over TLS (ALPN h2; HTTP/1.1 for http/1.1 or no-ALPN clients) with this PEM certificate chain
        /// (leaf first); needs --tls-key.
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key of --tls-cert.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Certificate for one SNI name: NAME=CERT,KEY (PEM files; repeatable;
        /// NAME may be *.example.com). Clients asking for another name get --tls-cert.
        #[arg(long, value_name = "NAME=CERT,KEY")]
        tls_sni: Vec<String>,
        /// Serve TLS with a fresh self-signed CA and a leaf for localhost,
        /// 127.0.0.1 and ::1; the CA certificate is written to a file whose
        /// path is printed (give it to clients: --cacert).
        #[arg(long, conflicts_with = "tls_cert")]
        self_signed: bool,
        /// Print every HTTP/2 frame sent and received to stderr, one line
        /// each prefixed with a connection id (`c1 [  0.001] recv HEADERS
        /// frame ...`), with decoded headers, settings and error codes.
        #[arg(long)]
        trace: bool,
        /// Write one line per request to FILE (appended; `-`: stdout):
        /// `TIME PEER METHOD PATH STATUS BYTES DURATION_MS STREAM`, buffered
        /// per worker and flushed at least once a second.
        #[arg(long, value_name = "FILE|-")]
        access_log: Option<String>,
    },
    /// WebSocket client: sends stdin lines as text messages, prints each
    /// received message as a line, closes (1000) at EOF once the replies came.
    /// With --echo, sends every received message back instead, until the
    /// server closes.
    Ws {
        /// `ws://HOST[:PORT]/PATH` URL.
        url: String,
        /// Use RFC 8441 (extended CONNECT) over HTTP/2 cleartext.
        #[arg(long)]
        h2: bool,
        /// Give up connecting / on a blocking step after SECS seconds.
        #[arg(long, value_name = "SECS", default_value_t = 30.0)]
        timeout: f64,
        /// After stdin EOF, wait at most SECS seconds for outstanding replies.
        #[arg(long, value_name = "SECS", default_value_t = 5.0)]
        wait: f64,
        /// Echo every received message back (text as text, binary as binary,
        /// fragments reassembled) until the server closes; stdin is not read.
        /// A protocol error by the server is answered with close code 1002
        /// (1007 bad UTF-8, 1009 too big) and exit status 1. --timeout is
        /// then the longest wait for the server's next frame.
        #[arg(long)]
        echo: bool,
    },
    /// Fetch URLs over HTTP/2 (h2c prior knowledge for http://, or HTTP/1.1
    /// with --http1.1; TLS with ALPN h2 for https://, HTTP/1.1 over TLS when the
    /// server picks http/1.1 or no ALPN) and print the bodies.
    ///
    /// Several URLs are fetched concurrently (one multiplexed connection per
    /// origin) and printed in the order given. Exit status: 0 when every URL got
    /// a response (any status), 1 on any failure. With --fail a status >= 400 is
    /// a failure too and no body is written for it.
    Get {
        /// http:// or https:// URLs.
        #[arg(required = true, value_name = "URL")]
        urls: Vec<String>,
        /// Write the body to FILE instead of stdout; repeat once per URL
        /// (the i-th -o is the i-th URL's file).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Vec<PathBuf>,
        /// Print the request (`> `) and response (`< `) heads (and per-connection timing) to stderr.
        #[arg(short, long)]
        verbose: bool,
        /// Fail (exit 1, no body) when the status is 400 or more, like `curl --fail`.
        #[arg(long)]
        fail: bool,
        /// Give up after SECS seconds (connect + whole response).
        #[arg(long, value_name = "SECS", default_value_t = 30.0)]
        timeout: f64,
        /// Fetch the first URL N times, each over a new connection, one after
        /// the other (the last body is written; -v prints each one's timing).
        #[arg(long, value_name = "N")]
        connections: Option<usize>,
        /// Speak HTTP/1.1 (keep-alive; concurrent URLs of one origin use
        /// several connections) instead of h2c, like `curl --http1.1`.
        #[arg(long = "http1.1")]
        http1: bool,
        /// Also trust the CA certificate(s) in this PEM file for https://
        /// (besides the system roots; verification is always on).
        #[arg(long, value_name = "FILE")]
        cacert: Option<PathBuf>,
        /// Print every HTTP/2 frame sent and received to stderr, one line
        /// each with the decoded headers, settings, window increments and
        /// error codes (like `nghttp -nv`).
        #[arg(long, conflicts_with = "http1")]
        trace: bool,
    },
    /// h2load-style load generator (C connections x M concurrent streams).
    ///
    /// Without URL, starts the embedded file server on a free loopback port
    /// (files /small 12 B, /1k, /64k, /1m) and loads --path there.
    Bench {
        /// http:// or https:// URL to load (default: the embedded server).
        url: Option<String>,
        /// Total number of requests.
        #[arg(short = 'n', long = "requests", default_value_t = 200_000)]
        requests: u64,
        /// Number of connections.
        #[arg(short = 'c', long = "clients", default_value_t = 10)]
        clients: usize,
        /// Concurrent streams per connection.
        #[arg(short = 'm', long = "max-concurrent-streams", default_value_t = 32)]
        streams: usize,
        /// Client threads (connections are spread over them).
        #[arg(short = 't', long = "threads", default_value_t = 1)]
        threads: usize,
        /// Stop starting requests after SECS seconds (0: no cap).
        #[arg(
            short = 'D',
            long = "duration",
            value_name = "SECS",
            default_value_t = 10.0
        )]
        duration: f64,
        /// Path loaded on the embedded server.
        #[arg(long, default_value = "/small")]
        path: String,
        /// Also trust the CA certificate(s) in this PEM file for https://.
        #[arg(long, value_name = "FILE")]
        cacert: Option<PathBuf>,
        /// Open loop: start R requests per second in total (as wrk2), whether
        /// or not earlier ones finished; latency counts from each request's
        /// intended start (coordinated-omission corrected). -c x -m bounds the
        /// requests in flight; -n and -D still cap the run.
        #[arg(long, value_name = "R")]
        rate: Option<f64>,
        /// Print plain text only, without the live view on a terminal.
        #[arg(long)]
        no_tui: bool,
        /// Write the result as JSON to FILE, or to stdout without FILE (the
        /// text summary then goes to stderr). Give the URL before --json, or
        /// write --json=FILE.
        #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
        json: Option<PathBuf>,
        /// Write a self-contained HTML report with SVG charts to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Latency relay for tests: forwards TCP connections to ADDR, delaying
    /// each chunk by --delay-ms each way, paced to --rate-mbit. Prints
    /// "listening on ADDR".
    #[command(hide = true)]
    Relay {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// Address to forward to.
        #[arg(long)]
        to: String,
        /// One-way delay in milliseconds.
        #[arg(long, default_value_t = 25)]
        delay_ms: u64,
        /// Bottleneck rate in Mbit/s (0 = unlimited).
        #[arg(long, default_value_t = 200.0)]
        rate_mbit: f64,
    },
    /// Print a shell completion script to stdout, e.g.
    /// `h2o completions bash > /etc/bash_completion.d/h2o` or
    /// `source <(h2o completions bash)`.
    Completions {
        /// Shell to generate for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// HPACK story tools (hpack-test-case JSON format).
    Hpack {
        /// Direction.
        #[command(subcommand)]
        command: HpackCommand,
    },
}

/// `h2o hpack` subcommands.
#[derive(Debug, Subcommand)]
pub enum HpackCommand {
    /// Decode each case's `wire` into `headers` (like nghttp2's inflatehd).
    Inflate {
        /// Story file (stdin when absent).
        file: Option<PathBuf>,
    },
    /// Encode each case's `headers` into `wire` (like nghttp2's deflatehd).
    Deflate {
        /// Story file (stdin when absent).
        file: Option<PathBuf>,
    },
}

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("h2o: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Serve {
            addr,
            root,
            threads,
            no_zero_copy,
            sendfile,
            idle_timeout,
            stall_timeout,
            shutdown_timeout,
            ws_echo,
            tls_cert,
            tls_key,
            tls_sni,
            self_signed,
            trace,
            access_log,
        } => {
            if threads == 0 {
                return Err("--threads must be at least 1".into());
            }
            for (flag, v) in [
                ("--idle-timeout", idle_timeout),
                ("--stall-timeout", stall_timeout),
                ("--shutdown-timeout", shutdown_timeout),
            ] {
                if !(v.is_finite() && v > 0.0 && v < 1e9) {
                    return Err(format!("{flag} must be a positive number of seconds"));
                }
            }
            let config = server::ServerConfig {
                threads,
                zero_copy: !no_zero_copy,
                sendfile,
                idle_timeout: Duration::from_secs_f64(idle_timeout),
                stall_timeout: Duration::from_secs_f64(stall_timeout),
                shutdown_timeout: Duration::from_secs_f64(shutdown_timeout),
                trace,
                access_log: access_log.as_deref().map(server::AccessLogTarget::parse),
                ..Default::default()
            };
            let mut config = config;
            if let Some(path) = ws_echo {
                if !path.starts_with('/') {
                    return Err("--ws-echo PATH must start with /".into());
                }
                config.ws = crate::net::ws::WsConfig::echo(&path);
                config.conn.enable_connect_protocol = true;
            }
            if let Some(t) = &config.access_log {
                // Fail now with a clear message rather than in every worker.
                t.open().map_err(|e| format!("--access-log: {e}"))?;
            }
            let root = DocRoot::new(&root).map_err(|e| format!("root {}: {e}", root.display()))?;
            let tls_opts = TlsServeOptions {
                cert: tls_cert,
                key: tls_key,
                sni: tls_sni,
                self_signed,
            };
            let tls = tls_server(&tls_opts)?;
            let listener = std::net::TcpListener::bind(addr.as_str())
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            let note = install_tls(&mut config, tls, local)?;
            // Before "listening on": a signal sent right after it stops gracefully.
            let stop = server::StopHandle::new();
            stop_on_signals(stop.clone())?;
            let mut stdout = io::stdout();
            let _ = writeln!(stdout, "listening on {local}");
            if let Some(note) = note {
                let _ = writeln!(stdout, "{note}");
            }
            let _ = stdout.flush();
            server::serve_until(listener, root, config, stop).map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Get {
            urls,
            output,
            verbose,
            fail,
            timeout,
            connections,
            http1,
            cacert,
            trace,
        } => {
            if !(timeout.is_finite() && timeout > 0.0) {
                return Err("--timeout must be a positive number of seconds".into());
            }
            let opts = get::Options {
                verbose,
                fail,
                timeout: Duration::from_secs_f64(timeout),
                connections,
                http1,
                cacert,
                trace,
            };
            get::run(&urls, &output, &opts)
        }
        Command::Bench {
            url,
            requests,
            clients,
            streams,
            threads,
            duration,
            path,
            cacert,
            rate,
            no_tui,
            json,
            html,
        } => {
            if !(duration.is_finite() && duration >= 0.0) {
                return Err("--duration must be a number of seconds >= 0".into());
            }
            let json_stdout = json.as_deref() == Some(std::path::Path::new("-"));
            let live =
                !no_tui && !json_stdout && io::stdout().is_terminal() && io::stderr().is_terminal();
            let cfg = bench::BenchConfig {
                url: String::new(),
                requests,
                connections: clients,
                streams,
                threads,
                duration: (duration > 0.0).then(|| Duration::from_secs_f64(duration)),
                progress: live,
                rate,
                #[cfg(feature = "tls")]
                tls: None,
            };
            let mut cfg = cfg;
            bench_tls(&mut cfg, url.as_deref(), cacert)?;
            let out = BenchOutputs {
                json: json.filter(|_| !json_stdout),
                json_stdout,
                html,
            };
            run_bench(cfg, url, &path, &out)
        }
        Command::Relay {
            listen,
            to,
            delay_ms,
            rate_mbit,
        } => {
            use std::net::ToSocketAddrs;
            let to = to
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| format!("cannot resolve {to}"))?;
            let listener = std::net::TcpListener::bind(listen.as_str())
                .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            let mut stdout = io::stdout();
            let _ = writeln!(stdout, "listening on {local}");
            let _ = stdout.flush();
            let cfg = crate::net::relay::RelayConfig::new(delay_ms, rate_mbit);
            crate::net::relay::run(listener, to, cfg).map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ws {
            url,
            h2,
            timeout,
            wait,
            echo,
        } => {
            if !(timeout.is_finite() && timeout > 0.0 && wait.is_finite() && wait >= 0.0) {
                return Err("--timeout/--wait must be positive numbers of seconds".into());
            }
            let opts = ws::WsOptions {
                h2,
                timeout: Duration::from_secs_f64(timeout),
                wait: Duration::from_secs_f64(wait),
                echo,
            };
            ws::run(&url, &opts)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "h2o", &mut out);
            let mut stdout = io::stdout();
            stdout
                .write_all(&out)
                .and_then(|_| stdout.flush())
                .map_err(|e| format!("cannot write output: {e}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Hpack { command } => {
            let (file, mode) = match command {
                HpackCommand::Inflate { file } => (file, hpack::Mode::Inflate),
                HpackCommand::Deflate { file } => (file, hpack::Mode::Deflate),
            };
            let input = match file {
                Some(p) => std::fs::read_to_string(&p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?,
                None => {
                    let mut s = String::new();
                    io::stdin()
                        .read_to_string(&mut s)
                        .map_err(|e| format!("cannot read stdin: {e}"))?;
                    s
                }
            };
            let out = hpack::run_story(&input, mode).map_err(|e| e.to_string())?;
            let mut stdout = io::stdout();
            stdout
                .write_all(out.as_bytes())
                .and_then(|_| stdout.flush())
                .map_err(|e| format!("cannot write output: {e}"))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// SIGTERM/SIGINT: the first stops the server gracefully through `stop`;
/// a second one exits at once (status 1).
fn stop_on_signals(stop: server::StopHandle) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if stop.is_stopped() {
                eprintln!("h2o serve: signal {sig} again; exiting now");
                std::process::exit(1);
            }
            eprintln!("h2o serve: signal {sig}; stopping (draining connections)");
            stop.stop();
        }
    });
    Ok(())
}

/// The TLS options of `h2o serve`.
struct TlsServeOptions {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    sni: Vec<String>,
    self_signed: bool,
}

impl TlsServeOptions {
    fn any(&self) -> bool {
        self.cert.is_some() || self.key.is_some() || !self.sni.is_empty() || self.self_signed
    }
}

/// What `tls_server` built: the context, and a self-signed CA to write out.
#[cfg(feature = "tls")]
type TlsSetup = Option<(crate::tls::ServerTls, Option<String>)>;
#[cfg(not(feature = "tls"))]
type TlsSetup = Option<std::convert::Infallible>;

/// Builds the server TLS context from the options (`None`: h2c). Every
/// configuration error is one line.
#[cfg(feature = "tls")]
fn tls_server(o: &TlsServeOptions) -> Result<TlsSetup, String> {
    use crate::tls::{Alpn, CertChain, SelfSigned, ServerTls};
    if !o.any() {
        return Ok(None);
    }
    // ALPN: h2 preferred, http/1.1 (or a client without ALPN) is served by
    // the HTTP/1.1 path (src/net/tls_io.rs `server_protocol`).
    let mut b = ServerTls::builder().alpn(&[Alpn::H2, Alpn::Http11]);
    let mut ca = None;
    if o.self_signed {
        let names = ["localhost", "127.0.0.1", "::1"];
        let s = SelfSigned::generate(&names, crate::net::tls_io::wall_clock(), 365)
            .map_err(|e| format!("--self-signed: {e}"))?;
        ca = Some(s.ca_pem.clone());
        b = b.cert(s.chain);
    }
    match (&o.cert, &o.key) {
        (Some(c), Some(k)) => {
            let chain = CertChain::from_files(c, k).map_err(|e| format!("--tls-cert: {e}"))?;
            b = b.cert(chain);
        }
        (None, None) => {}
        _ => return Err("--tls-cert and --tls-key go together".into()),
    }
    for spec in &o.sni {
        let (name, files) = spec
            .split_once('=')
            .ok_or_else(|| format!("--tls-sni {spec:?}: expected NAME=CERT,KEY"))?;
        let (c, k) = files
            .split_once(',')
            .ok_or_else(|| format!("--tls-sni {spec:?}: expected NAME=CERT,KEY"))?;
        if name.is_empty() || c.is_empty() || k.is_empty() {
            return Err(format!("--tls-sni {spec:?}: expected NAME=CERT,KEY"));
        }
        let chain = CertChain::from_files(std::path::Path::new(c), std::path::Path::new(k))
            .map_err(|e| format!("--tls-sni {name}: {e}"))?;
        b = b.sni_cert(name, chain);
    }
    let ctx = b.build().map_err(|e| format!("TLS: {e}"))?;
    Ok(Some((ctx, ca)))
}

#[cfg(not(feature = "tls"))]
fn tls_server(o: &TlsServeOptions) -> Result<TlsSetup, String> {
    if o.any() {
        return Err("this h2o was built without TLS (feature `tls`)".into());
    }
    Ok(None)
}

/// Puts the TLS context into the server configuration; writes a
/// self-signed CA next to the temp dir and returns the line saying where.
#[cfg(feature = "tls")]
fn install_tls(
    config: &mut server::ServerConfig,
    tls: TlsSetup,
    local: std::net::SocketAddr,
) -> Result<Option<String>, String> {
    let Some((ctx, ca)) = tls else {
        return Ok(None);
    };
    config.tls = Some(ctx);
    let Some(ca) = ca else {
        return Ok(Some("TLS: HTTP/2 over TLS (ALPN h2)".into()));
    };
    let path = std::env::temp_dir().join(format!("h2o-self-signed-{}-ca.pem", local.port()));
    std::fs::write(&path, ca).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Some(format!(
        "TLS: self-signed; CA certificate written to {} (clients: --cacert {})",
        path.display(),
        path.display()
    )))
}

#[cfg(not(feature = "tls"))]
fn install_tls(
    _config: &mut server::ServerConfig,
    _tls: TlsSetup,
    _local: std::net::SocketAddr,
) -> Result<Option<String>, String> {
    Ok(None)
}

/// `h2o bench --cacert FILE`: the TLS context of an `https://` run.
#[cfg(feature = "tls")]
fn bench_tls(
    cfg: &mut bench::BenchConfig,
    url: Option<&str>,
    cacert: Option<PathBuf>,
) -> Result<(), String> {
    if !url.is_some_and(|u| u.starts_with("https://")) {
        return match cacert {
            Some(_) => Err("--cacert is only used with https:// URLs".into()),
            None => Ok(()),
        };
    }
    let mut b = crate::tls::ClientTls::builder();
    if let Some(p) = &cacert {
        b = b.add_ca_file(p);
    }
    cfg.tls = Some(std::sync::Arc::new(
        b.build().map_err(|e| format!("TLS: {e}"))?,
    ));
    Ok(())
}

#[cfg(not(feature = "tls"))]
fn bench_tls(
    _cfg: &mut bench::BenchConfig,
    _url: Option<&str>,
    cacert: Option<PathBuf>,
) -> Result<(), String> {
    match cacert {
        Some(_) => Err("this h2o was built without TLS (feature `tls`)".into()),
        None => Ok(()),
    }
}

/// Where `h2o bench` writes its reports besides the text summary.
struct BenchOutputs {
    /// JSON to this file.
    json: Option<PathBuf>,
    /// JSON to stdout (the text goes to stderr).
    json_stdout: bool,
    /// HTML report to this file.
    html: Option<PathBuf>,
}

fn run_bench(
    mut cfg: bench::BenchConfig,
    url: Option<String>,
    path: &str,
    out: &BenchOutputs,
) -> Result<ExitCode, String> {
    // Text goes to stdout, or to stderr when stdout carries the JSON.
    let mut text: Box<dyn Write> = if out.json_stdout {
        Box::new(io::stderr())
    } else {
        Box::new(io::stdout())
    };
    let _root;
    match url {
        Some(u) => cfg.url = u,
        None => {
            let (addr, root) = bench::start_embedded()?;
            _root = root;
            let path = if path.starts_with('/') {
                path.to_string()
            } else {
                format!("/{path}")
            };
            cfg.url = format!("http://{addr}{path}");
            let _ = writeln!(
                text,
                "embedded server: http://{addr} (files /small /1k /64k /1m)"
            );
        }
    }
    let dur = cfg.duration.map_or("no time cap".to_string(), |d| {
        format!("{} s cap", d.as_secs_f64())
    });
    let rate = cfg
        .rate
        .map_or(String::new(), |r| format!(", open loop at {r} req/s"));
    let _ = writeln!(
        text,
        "h2o bench {}: {} requests, {} connections x {} streams, {} threads, {dur}{rate}",
        cfg.url, cfg.requests, cfg.connections, cfg.streams, cfg.threads
    );
    let _ = text.flush();
    let rep = bench::run(&cfg)?;
    let _ = write!(text, "{rep}");
    let _ = text.flush();
    if out.json_stdout {
        let mut o = io::stdout().lock();
        o.write_all(rep.to_json().as_bytes())
            .and_then(|_| o.flush())
            .map_err(|e| format!("cannot write the JSON report: {e}"))?;
    }
    if let Some(f) = &out.json {
        std::fs::write(f, rep.to_json())
            .map_err(|e| format!("cannot write {}: {e}", f.display()))?;
    }
    if let Some(f) = &out.html {
        let page = bench::html::page(&rep)?;
        std::fs::write(f, page).map_err(|e| format!("cannot write {}: {e}", f.display()))?;
    }
    if rep.succeeded == 0 || rep.failed > 0 {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
