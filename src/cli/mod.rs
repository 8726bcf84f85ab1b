//! Command-line front end of the `h2o` binary (clap derive).
//!
//! - `h2o serve --addr ADDR --root DIR [--threads N] [--no-zero-copy] [--idle-timeout SECS]`:
//!   h2c static file server ([`crate::net::server`]);
//! - `h2o get URL [-o FILE] [-v] [--fail] [--timeout SECS]`: h2c client ([`crate::net::client`]);
//! - `h2o hpack inflate|deflate [FILE]`: HPACK story tool ([`hpack`]);
//! - `h2o ws URL [--h2]`: WebSocket client ([`ws`]); `h2o serve --ws-echo PATH`
//!   adds a WebSocket echo endpoint ([`crate::net::ws`]).

pub mod hpack;
pub mod ws;

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::net::{client, files::DocRoot, server};

/// The `h2o` command line.
#[derive(Debug, Parser)]
#[command(
    name = "h2o",
    version,
    about = "HTTP/2 engine: h2c file server, client and HPACK tools"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve files from a directory over HTTP/2 cleartext (prior knowledge, h2c).
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
        /// Copy file bodies through user space instead of sendfile(2).
        #[arg(long)]
        no_zero_copy: bool,
        /// Close connections idle for SECS seconds.
        #[arg(long, value_name = "SECS", default_value_t = 60.0)]
        idle_timeout: f64,
        /// Answer WebSocket handshakes on PATH (HTTP/1.1 Upgrade and RFC 8441
        /// extended CONNECT) by echoing every message.
        #[arg(long, value_name = "PATH")]
        ws_echo: Option<String>,
    },
    /// WebSocket client: sends stdin lines as text messages, prints each
    /// received message as a line, closes (1000) at EOF once the replies came.
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
    },
    /// Fetch a URL over HTTP/2 cleartext (prior knowledge) and print the body.
    ///
    /// Exit status: 0 when a response was received (any status), 1 on any failure.
    /// With --fail a status >= 400 is a failure too and no body is written.
    Get {
        /// http:// URL (https is not supported yet).
        url: String,
        /// Write the body to FILE instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// Print the request (`> `) and response (`< `) heads to stderr.
        #[arg(short, long)]
        verbose: bool,
        /// Fail (exit 1, no body) when the status is 400 or more, like `curl --fail`.
        #[arg(long)]
        fail: bool,
        /// Give up after SECS seconds (connect + whole response).
        #[arg(long, value_name = "SECS", default_value_t = 30.0)]
        timeout: f64,
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
            idle_timeout,
            ws_echo,
        } => {
            if threads == 0 {
                return Err("--threads must be at least 1".into());
            }
            if !(idle_timeout.is_finite() && idle_timeout > 0.0) {
                return Err("--idle-timeout must be a positive number of seconds".into());
            }
            let config = server::ServerConfig {
                threads,
                zero_copy: !no_zero_copy,
                idle_timeout: Duration::from_secs_f64(idle_timeout),
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
            let root = DocRoot::new(&root).map_err(|e| format!("root {}: {e}", root.display()))?;
            let listener = std::net::TcpListener::bind(addr.as_str())
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            let mut stdout = io::stdout();
            let _ = writeln!(stdout, "listening on {local}");
            let _ = stdout.flush();
            server::serve_with(listener, root, config).map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Get {
            url,
            output,
            verbose,
            fail,
            timeout,
        } => {
            if !(timeout.is_finite() && timeout > 0.0) {
                return Err("--timeout must be a positive number of seconds".into());
            }
            let opts = client::GetOptions {
                verbose,
                timeout: Duration::from_secs_f64(timeout),
                fail,
            };
            let mut log = io::stderr();
            match output {
                Some(path) => {
                    let f = std::fs::File::create(&path)
                        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                    let mut w = io::BufWriter::new(f);
                    client::get(&url, &opts, &mut w, &mut log).map_err(|e| e.to_string())?;
                    w.flush()
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                }
                None => {
                    let stdout = io::stdout();
                    let mut w = io::BufWriter::new(stdout.lock());
                    let res = client::get(&url, &opts, &mut w, &mut log);
                    let _ = w.flush();
                    res.map_err(|e| e.to_string())?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ws {
            url,
            h2,
            timeout,
            wait,
        } => {
            if !(timeout.is_finite() && timeout > 0.0 && wait.is_finite() && wait >= 0.0) {
                return Err("--timeout/--wait must be positive numbers of seconds".into());
            }
            let opts = ws::WsOptions {
                h2,
                timeout: Duration::from_secs_f64(timeout),
                wait: Duration::from_secs_f64(wait),
            };
            ws::run(&url, &opts)?;
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
