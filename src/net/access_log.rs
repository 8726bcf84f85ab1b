//! `h2o serve --access-log FILE|-`: one line per request, buffered per worker.
//!
//! Line format (space-separated, fixed fields):
//!
//! ```text
//! TIME PEER METHOD PATH STATUS BYTES DURATION_MS STREAM
//! 2026-11-30T21:07:38.123Z 127.0.0.1:51234 GET /small 200 12 0.081 1
//! ```
//!
//! TIME is when the line was written (UTC, RFC 3339, milliseconds); BYTES the
//! response body length; DURATION_MS for HTTP/2 runs from the request's
//! HEADERS to the stream's end (its last frame handed to the socket, or its
//! reset), for HTTP/1.1 (STREAM `-`) from the parsed request to the queued
//! response. The clocks are read once per connection turn, not per request:
//! HTTP/2 times have the resolution of the event loop's turns (requests read
//! and answered in one turn show 0.000). PATH is as requested, with bytes outside printable ASCII
//! (spaces included) percent-encoded so that fields never split.
//!
//! Each worker owns an [`AccessLog`]: lines are formatted straight into a
//! 64 KiB buffer written to the worker's own append-mode file descriptor (or
//! stdout) when full, once a second
//! by the worker's timer, when the worker has no connection left, and on drop.
//! Lines of different workers never interleave within a line (each flush is
//! whole lines, written with `O_APPEND`).

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::frame::StreamId;

/// Where access log lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessLogTarget {
    /// Standard output (`--access-log -`).
    Stdout,
    /// This file, created if missing and appended to.
    File(PathBuf),
}

impl AccessLogTarget {
    /// `-` is stdout, anything else a file path.
    pub fn parse(s: &str) -> AccessLogTarget {
        if s == "-" {
            AccessLogTarget::Stdout
        } else {
            AccessLogTarget::File(PathBuf::from(s))
        }
    }

    /// Opens the destination (each worker opens its own).
    pub fn open(&self) -> io::Result<AccessLog> {
        let w: Box<dyn Write> = match self {
            AccessLogTarget::Stdout => Box::new(io::stdout()),
            AccessLogTarget::File(p) => {
                Box::new(OpenOptions::new().create(true).append(true).open(p)?)
            }
        };
        Ok(AccessLog {
            out: w,
            buf: String::with_capacity(BUF_CAP),
            turn: Instant::now(),
            turn_wall: Duration::ZERO,
            sec: u64::MAX,
            stamp: String::new(),
        })
    }
}

/// One worker's access log writer.
pub struct AccessLog {
    out: Box<dyn Write>,
    /// Whole lines not written yet.
    buf: String,
    /// The clocks read once per connection turn ([`AccessLog::tick`]): a
    /// request's start, end and line time are those of the turns that read
    /// it and ended it (clock reads per request would cost more than the
    /// line itself).
    turn: Instant,
    turn_wall: Duration,
    /// The second `stamp` was formatted for (formatting the date once a second).
    sec: u64,
    stamp: String,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog").finish_non_exhaustive()
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Size of a worker's line buffer.
const BUF_CAP: usize = 64 << 10;

/// What one log line says about a request.
pub(crate) struct Entry<'a> {
    /// The peer as text (`-` when unknown), formatted once per connection.
    pub(crate) peer: &'a str,
    pub(crate) method: &'a http::Method,
    pub(crate) path: &'a str,
    pub(crate) status: u16,
    pub(crate) bytes: u64,
    pub(crate) duration: Duration,
    pub(crate) stream: Option<StreamId>,
}

impl AccessLog {
    /// Appends one line (buffered). Built with plain pushes rather than
    /// `format!` machinery: this runs once per request (see
    /// scripts/bench-access-log.sh for what it costs).
    pub(crate) fn write(&mut self, e: &Entry<'_>) {
        let now = self.turn_wall;
        if now.as_secs() != self.sec {
            self.sec = now.as_secs();
            self.stamp = format_second(self.sec);
        }
        let l = &mut self.buf;
        l.push_str(&self.stamp);
        l.push('.');
        push_padded3(l, u64::from(now.subsec_millis()));
        l.push_str("Z ");
        l.push_str(e.peer);
        l.push(' ');
        l.push_str(e.method.as_str());
        l.push(' ');
        escape_path(e.path, l);
        l.push(' ');
        push_u64(l, u64::from(e.status));
        l.push(' ');
        push_u64(l, e.bytes);
        l.push(' ');
        let us = e.duration.as_micros().min(u128::from(u64::MAX)) as u64;
        push_u64(l, us / 1000);
        l.push('.');
        push_padded3(l, us % 1000);
        l.push(' ');
        match e.stream {
            Some(id) => push_u64(l, u64::from(id)),
            None => l.push('-'),
        }
        l.push('\n');
        if self.buf.len() >= BUF_CAP - 4096 {
            self.flush();
        }
    }

    /// Reads the clocks for the connection turn about to run.
    pub(crate) fn tick(&mut self) {
        self.turn = Instant::now();
        self.turn_wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
    }

    /// The monotonic time of the current turn.
    pub(crate) fn turn(&self) -> Instant {
        self.turn
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) {
        if !self.buf.is_empty() {
            if let Err(err) = self.out.write_all(self.buf.as_bytes()) {
                report(&err);
            }
            let _ = self.out.flush();
            self.buf.clear();
        }
    }
}

/// Appends the decimal digits of `n`.
fn push_u64(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Appends `n` (< 1000) zero-padded to 3 digits.
fn push_padded3(out: &mut String, n: u64) {
    if n < 100 {
        out.push('0');
    }
    if n < 10 {
        out.push('0');
    }
    push_u64(out, n);
}

/// A write error is reported once per occurrence on stderr; requests go on.
fn report(e: &io::Error) {
    eprintln!("access log: {e}");
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix second (UTC).
fn format_second(secs: u64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(secs as i64) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            t.month() as u8,
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "0000-00-00T00:00:00".into(),
    }
}

/// Copies `path`, percent-encoding what could split or garble the line
/// (`%` stays: the path is already in URL form).
fn escape_path(path: &str, out: &mut String) {
    if path.bytes().all(|b| b.is_ascii_graphic()) {
        out.push_str(path);
        return;
    }
    for b in path.bytes() {
        if b.is_ascii_graphic() {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// An HTTP/2 request whose line waits for the stream's end.
struct Pending {
    start: Instant,
    method: http::Method,
    path: http::uri::PathAndQuery,
    status: u16,
    bytes: u64,
}

/// A connection's requests in flight (HTTP/2) and its peer.
pub(crate) struct ConnLog {
    /// The peer address as logged (`-` when unknown).
    pub(crate) peer: String,
    /// Few at a time (the concurrent stream limit): a scan beats hashing.
    pending: Vec<(StreamId, Pending)>,
}

impl ConnLog {
    /// A connection from `peer`.
    pub(crate) fn new(peer: Option<SocketAddr>) -> Box<ConnLog> {
        Box::new(ConnLog {
            peer: peer.map_or_else(|| "-".to_string(), |p| p.to_string()),
            pending: Vec::new(),
        })
    }

    /// The response to `req` on `id` is queued: remember it until the end.
    pub(crate) fn answered(
        &mut self,
        id: StreamId,
        req: &http::Request<()>,
        start: Instant,
        status: u16,
        bytes: u64,
    ) {
        let path = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
        self.pending.push((
            id,
            Pending {
                start,
                method: req.method().clone(),
                path,
                status,
                bytes,
            },
        ));
    }

    /// Stream `id` ended: its line goes to `log`.
    pub(crate) fn ended(&mut self, id: StreamId, log: &mut AccessLog) {
        if let Some(i) = self.pending.iter().position(|(s, _)| *s == id) {
            let (_, p) = self.pending.swap_remove(i);
            log.write(&Entry {
                peer: &self.peer,
                method: &p.method,
                path: p.path.as_str(),
                status: p.status,
                bytes: p.bytes,
                duration: log.turn().saturating_duration_since(p.start),
                stream: Some(id),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates_and_paths() {
        assert_eq!(format_second(0), "1970-01-01T00:00:00");
        assert_eq!(format_second(1_798_664_773), "2026-12-30T21:06:13");
        let mut s = String::new();
        escape_path("/a b/%41\u{e9}", &mut s);
        assert_eq!(s, "/a%20b/%41%C3%A9");
        let mut s = String::new();
        for n in [0, 7, 10, 12345, u64::MAX] {
            push_u64(&mut s, n);
            s.push(' ');
        }
        push_padded3(&mut s, 5);
        push_padded3(&mut s, 999);
        assert_eq!(s, format!("0 7 10 12345 {} 005999", u64::MAX));
    }
}
