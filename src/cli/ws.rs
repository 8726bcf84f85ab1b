//! `h2o ws URL [--h2]`: line-oriented WebSocket client
//! ([`crate::net::ws_client::WsClient`]).
//!
//! Each stdin line is sent as one text message; each received message is
//! printed as one stdout line (binary payloads as lossy UTF-8). At stdin EOF
//! the client waits until as many messages came back as it sent (or
//! `--wait` seconds pass), then closes with 1000 and waits for the reply.

use std::io::{self, BufRead, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::net::ws_client::WsClient;
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
}

/// Runs the client; returns an error line on failure.
pub fn run(url: &str, opts: &WsOptions) -> Result<(), String> {
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
