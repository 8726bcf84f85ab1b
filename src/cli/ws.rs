//! `h2o ws URL [--h2] [--echo]`: WebSocket client
//! ([`crate::net::ws_client::WsClient`]).
//!
//! Line mode: each stdin line is sent as one text message; each received
//! message is printed as one stdout line (binary payloads as lossy UTF-8). At
//! stdin EOF the client waits until as many messages came back as it sent (or
//! `--wait` seconds pass), then closes with 1000 and waits for the reply.
//!
//! Echo mode ([`echo`]): every message received is sent back as it came (text
//! as text, binary as binary, a fragmented message as one message) until the
//! server closes, so server-driven conformance suites and fuzzers can
//! exercise the client side. Pings are answered by the core; a protocol
//! violation by the server is answered with the close code the core chose
//! (1002, 1007 or 1009), like the server side does.

use std::io::{self, BufRead, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::net::ws_client::{WsClient, WsError};
use crate::ws::{CloseCode, Event, Message};

/// Options of `h2o ws`.
#[derive(Debug, Clone)]
pub struct WsOptions {
    /// Use RFC 8441 over HTTP/2 (h2c prior knowledge).
    pub h2: bool,
    /// Timeout of the connection and of each blocking step.
    pub timeout: Duration,
    /// After stdin EOF, wait at most this long for outstanding echoes.
    pub wait: Duration,
    /// Echo mode instead of line mode.
    pub echo: bool,
}

/// What an echo session did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EchoSummary {
    /// Text messages echoed.
    pub text: u64,
    /// Binary messages echoed.
    pub binary: u64,
    /// Payload bytes echoed.
    pub bytes: u64,
    /// The server's close code and reason.
    pub close: Option<(u16, String)>,
}

/// Echo mode: sends every received message back until the server closes.
/// `Ok`: the server closed (any code; our close reply went out). `Err`: the
/// server violated the protocol (we closed with the code in the message),
/// the transport failed, or nothing arrived for `opts.timeout`.
pub fn echo(url: &str, opts: &WsOptions) -> Result<EchoSummary, String> {
    let mut client =
        WsClient::connect_timeout(url, opts.h2, opts.timeout).map_err(|e| e.to_string())?;
    let mut sum = EchoSummary::default();
    loop {
        let ev = match client.recv_timeout(opts.timeout) {
            Ok(Some(ev)) => ev,
            Ok(None) => {
                return Err(format!(
                    "no frame from the server for {:.0} s",
                    opts.timeout.as_secs_f64()
                ))
            }
            Err(e) => return Err(echo_failure(&mut client, e)),
        };
        match ev {
            Event::Message(Message::Text(t)) => {
                sum.text += 1;
                sum.bytes += t.len() as u64;
                client.send_text(t.as_str()).map_err(|e| e.to_string())?;
            }
            Event::Message(Message::Binary(b)) => {
                sum.binary += 1;
                sum.bytes += b.len() as u64;
                client.send_binary(&b).map_err(|e| e.to_string())?;
            }
            Event::Close { code, reason } => {
                // The core queued the close reply; make sure it left.
                let _ = client.flush();
                sum.close = Some((code.0, reason.as_str().to_string()));
                return Ok(sum);
            }
            _ => {} // pings (answered by the core), pongs
        }
    }
}

/// Turns a receive error of echo mode into its message; on a protocol
/// violation by the server, sends the close frame the core queued first.
fn echo_failure(client: &mut WsClient, e: WsError) -> String {
    let err = match e {
        WsError::WebSocket(err) => Some(err),
        // RFC 8441: the stream's WebSocket failed or finished.
        WsError::WebSocketClosed => client.websocket().error(),
        _ => None,
    };
    match err {
        Some(err) => {
            let _ = client.flush();
            format!(
                "the server broke the WebSocket protocol ({}); closed with {}",
                err.message(),
                err.code()
            )
        }
        None => e.to_string(),
    }
}

/// Runs the client; returns an error line on failure.
pub fn run(url: &str, opts: &WsOptions) -> Result<(), String> {
    if opts.echo {
        let s = echo(url, opts)?;
        let (code, reason) = s.close.unwrap_or((1005, String::new()));
        eprintln!(
            "h2o ws --echo: echoed {} text and {} binary messages ({} bytes); server closed: {code} {reason}",
            s.text, s.binary, s.bytes
        );
        return Ok(());
    }
    let mut client =
        WsClient::connect_timeout(url, opts.h2, opts.timeout).map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel::<Option<String>>();
    std::thread::spawn(move || {
        let stdin = io::stdin();
        for line in stdin.lock().lines() {
            match line {
                Ok(l) => {
                    if tx.send(Some(l)).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = tx.send(None);
    });
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let (mut sent, mut received) = (0u64, 0u64);
    let mut eof_at: Option<Instant> = None;
    loop {
        // Send every line that is ready.
        while eof_at.is_none() {
            match rx.try_recv() {
                Ok(Some(line)) => {
                    client.send_text(&line).map_err(|e| e.to_string())?;
                    sent += 1;
                }
                Ok(None) | Err(mpsc::TryRecvError::Disconnected) => {
                    eof_at = Some(Instant::now());
                }
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        if let Some(t) = eof_at {
            if received >= sent || t.elapsed() >= opts.wait {
                break;
            }
        }
        match client
            .recv_timeout(Duration::from_millis(20))
            .map_err(|e| e.to_string())?
        {
            Some(Event::Message(m)) => {
                received += 1;
                let r = match m {
                    Message::Text(t) => writeln!(out, "{t}"),
                    Message::Binary(b) => writeln!(out, "{}", String::from_utf8_lossy(&b)),
                };
                r.and_then(|_| out.flush())
                    .map_err(|e| format!("cannot write output: {e}"))?;
            }
            Some(Event::Close { code, reason }) => {
                return Err(format!("server closed the WebSocket: {code} {reason}"));
            }
            Some(_) | None => {}
        }
    }
    client
        .close(CloseCode::NORMAL, "")
        .map_err(|e| e.to_string())?;
    Ok(())
}
