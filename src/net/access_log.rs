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
//! response. One clock (monotonic) is read once per connection turn, not per
//! request: HTTP/2 times have the resolution of the event loop's turns
//! (requests read and answered in one turn show 0.000), and TIME is that turn
//! clock tied to the wall clock again at every flush (at least once a second
//! under load), so it follows wall-clock steps within a second. PATH is as
//! requested, with bytes outside printable ASCII (spaces included)
//! percent-encoded so that fields never split.
//!
//! Each worker owns an [`AccessLog`]: lines are formatted in place (the time
//! field cached per millisecond, small numbers digit by digit) into a 64 KiB
//! buffer written to the worker's own append-mode file descriptor (or
//! stdout) when full, once a second
//! by the worker's timer, when the worker has no connection left, and on drop.
//! Lines of different workers never interleave within a line (each flush is
//! whole lines, written with `O_APPEND`).

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
        let mut log = AccessLog {
            out: w,
            buf: vec![0; BUF_CAP].into_boxed_slice(),
            len: 0,
            origin: Instant::now(),
            now_us: 0,
            anchor_us: 0,
            anchor_wall_us: 0,
            stamp_ms: u64::MAX,
            stamp: *b"0000-00-00T00:00:00.000Z ",
        };
        log.anchor();
        Ok(log)
    }
}

/// One worker's access log writer.
pub struct AccessLog {
    out: Box<dyn Write>,
    /// Whole lines not written yet: `buf[..len]` (`buf` is `BUF_CAP` long,
    /// so a line is formatted in place after one room check).
    buf: Box<[u8]>,
    len: usize,
    /// Monotonic origin of the microsecond clock below.
    origin: Instant,
    /// The current connection turn, µs since `origin`: read once per turn
    /// ([`AccessLog::tick`]); a request's start, end and line time are those
    /// of the turns that read it and ended it (clock reads per request would
    /// cost more than the line itself).
    now_us: u64,
    /// The wall clock (Unix µs) was `anchor_wall_us` at `anchor_us` (µs since
    /// `origin`): line times are derived from the monotonic turn clock and
    /// re-anchored to the wall clock at every flush (at least once a second),
    /// so a turn reads one clock, not two.
    anchor_us: u64,
    anchor_wall_us: u64,
    /// The Unix millisecond `stamp` holds (the date is formatted once a
    /// second, the milliseconds once a millisecond).
    stamp_ms: u64,
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ ` (the trailing space included).
    stamp: [u8; STAMP_LEN],
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

/// Length of the formatted time field and its separator.
const STAMP_LEN: usize = 25;

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
    /// Appends one line (buffered). Written byte by byte into the buffer's
    /// free space after one room check, small numbers digit by digit and the
    /// time field copied from a cache, rather than with `format!` machinery:
    /// this runs once per request (see scripts/bench-access-log.sh for what
    /// it costs).
    pub(crate) fn write(&mut self, e: &Entry<'_>) {
        let wall_ms = (self.anchor_wall_us + self.now_us).saturating_sub(self.anchor_us) / 1000;
        if wall_ms != self.stamp_ms {
            self.set_stamp(wall_ms);
        }
        // Room for the longest line these fields can make.
        let room = STAMP_LEN + e.peer.len() + e.method.as_str().len() + 3 * e.path.len() + 96;
        if self.len + room > BUF_CAP {
            self.flush();
        }
        if room > BUF_CAP {
            // A line longer than the buffer (a huge path): written alone.
            let mut line = vec![0; room];
            let n = format_line(&mut line, &self.stamp, e);
            if let Err(err) = self.out.write_all(&line[..n]) {
                report(&err);
            }
            return;
        }
        self.len += format_line(&mut self.buf[self.len..], &self.stamp, e);
        if self.len >= BUF_CAP - 4096 {
            self.flush();
        }
    }

    /// Formats the time field for Unix millisecond `ms`.
    fn set_stamp(&mut self, ms: u64) {
        if self.stamp_ms == u64::MAX || ms / 1000 != self.stamp_ms / 1000 {
            let date = format_second(ms / 1000);
            self.stamp[..19].copy_from_slice(date.as_bytes());
        }
        let m = ms % 1000;
        self.stamp[20] = b'0' + (m / 100) as u8;
        self.stamp[21] = b'0' + (m / 10 % 10) as u8;
        self.stamp[22] = b'0' + (m % 10) as u8;
        self.stamp_ms = ms;
    }

    /// Reads the (monotonic) clock for the connection turn about to run.
    pub(crate) fn tick(&mut self) {
        self.now_us = micros(self.origin.elapsed());
    }

    /// The current turn's time, µs on this log's monotonic clock.
    pub(crate) fn turn_us(&self) -> u64 {
        self.now_us
    }

    /// Ties the monotonic clock to the wall clock again.
    fn anchor(&mut self) {
        self.anchor_us = micros(self.origin.elapsed());
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.anchor_wall_us = micros(wall);
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) {
        if self.len > 0 {
            if let Err(err) = self.out.write_all(&self.buf[..self.len]) {
                report(&err);
            }
            let _ = self.out.flush();
            self.len = 0;
        }
        self.anchor();
    }
}

/// `d` in whole microseconds (saturating).
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Writes one line into `out` (long enough for it, see
/// [`AccessLog::write`]); returns its length.
fn format_line(out: &mut [u8], stamp: &[u8; STAMP_LEN], e: &Entry<'_>) -> usize {
    let mut c = Cursor { out, at: 0 };
    c.out[..STAMP_LEN].copy_from_slice(stamp);
    c.at = STAMP_LEN;
    c.put(e.peer.as_bytes());
    if *e.method == http::Method::GET {
        c.out[c.at..c.at + 5].copy_from_slice(b" GET ");
        c.at += 5;
    } else {
        c.byte(b' ');
        c.put(e.method.as_str().as_bytes());
        c.byte(b' ');
    }
    escape_path(e.path, &mut c);
    c.byte(b' ');
    if (100..1000).contains(&e.status) {
        // Always three digits (http::StatusCode): no digit counting.
        c.padded3(u32::from(e.status));
    } else {
        c.num(u64::from(e.status));
    }
    c.byte(b' ');
    c.num(e.bytes);
    c.byte(b' ');
    let d = e.duration;
    c.num(d.as_secs().saturating_mul(1000) + u64::from(d.subsec_millis()));
    c.byte(b'.');
    c.padded3(d.subsec_micros() % 1000);
    c.byte(b' ');
    match e.stream {
        Some(id) => c.num(u64::from(id)),
        None => c.byte(b'-'),
    }
    c.byte(b'\n');
    c.at
}

/// Writes forward into a slice known to be long enough.
struct Cursor<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Cursor<'_> {
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.out[self.at] = b;
        self.at += 1;
    }

    fn put(&mut self, s: &[u8]) {
        self.out[self.at..self.at + s.len()].copy_from_slice(s);
        self.at += s.len();
    }

    /// The decimal digits of `n`: below 10,000 (statuses, small sizes,
    /// durations, most stream ids) digit by digit, above by `itoa`.
    #[inline(always)]
    fn num(&mut self, n: u64) {
        if n >= 10_000 {
            self.put(itoa::Buffer::new().format(n).as_bytes());
            return;
        }
        let n = n as u32;
        if n >= 1000 {
            self.byte(b'0' + (n / 1000) as u8);
        }
        if n >= 100 {
            self.byte(b'0' + (n / 100 % 10) as u8);
        }
        if n >= 10 {
            self.byte(b'0' + (n / 10 % 10) as u8);
        }
        self.byte(b'0' + (n % 10) as u8);
    }

    /// `n` (< 1000) zero-padded to 3 digits.
    fn padded3(&mut self, n: u32) {
        let n = n % 1000;
        self.byte(b'0' + (n / 100) as u8);
        self.byte(b'0' + (n / 10 % 10) as u8);
        self.byte(b'0' + (n % 10) as u8);
    }
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
/// (`%` stays: the path is already in URL form). `out` has room for three
/// bytes per path byte.
fn escape_path(path: &str, out: &mut Cursor<'_>) {
    if path.bytes().all(|b| b.is_ascii_graphic()) {
        out.put(path.as_bytes());
        return;
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in path.bytes() {
        if b.is_ascii_graphic() {
            out.byte(b);
        } else {
            out.put(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

/// An HTTP/2 request whose line waits for the stream's end.
struct Pending {
    /// Start, µs on the log's clock ([`AccessLog::turn_us`]).
    start_us: u64,
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

    /// The response to `req` on `id` is queued (at `start_us`, see
    /// [`AccessLog::turn_us`]): remember it until the end.
    pub(crate) fn answered(
        &mut self,
        id: StreamId,
        req: &http::Request<()>,
        start_us: u64,
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
                start_us,
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
            let p = &self.pending[i].1;
            log.write(&Entry {
                peer: &self.peer,
                method: &p.method,
                path: p.path.as_str(),
                status: p.status,
                bytes: p.bytes,
                duration: Duration::from_micros(log.turn_us().saturating_sub(p.start_us)),
                stream: Some(id),
            });
            self.pending.swap_remove(i);
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
        let mut buf = [0u8; 256];
        let mut c = Cursor {
            out: &mut buf,
            at: 0,
        };
        escape_path("/a b/%41\u{e9}", &mut c);
        c.byte(b' ');
        for n in [
            0,
            7,
            10,
            99,
            100,
            404,
            999,
            1000,
            9999,
            10_000,
            12345,
            u64::MAX,
        ] {
            c.num(n);
            c.byte(b' ');
        }
        c.padded3(5);
        c.padded3(42);
        c.padded3(999);
        let at = c.at;
        let s = std::str::from_utf8(&buf[..at]).unwrap();
        let want = format!(
            "/a%20b/%41%C3%A9 0 7 10 99 100 404 999 1000 9999 10000 12345 {} 005042999",
            u64::MAX
        );
        assert_eq!(s, want);
    }

    #[test]
    fn time_field_is_cached_per_millisecond() {
        let mut log = AccessLogTarget::Stdout.open().unwrap();
        log.set_stamp(1_798_664_773_042);
        assert_eq!(&log.stamp, b"2026-12-30T21:06:13.042Z ");
        log.set_stamp(1_798_664_773_999);
        assert_eq!(&log.stamp, b"2026-12-30T21:06:13.999Z ");
        log.set_stamp(1_798_664_774_000);
        assert_eq!(&log.stamp, b"2026-12-30T21:06:14.000Z ");
        // The wall time of a line follows the monotonic turn clock.
        log.anchor_us = 5_000_000;
        log.anchor_wall_us = 1_798_664_773_000_000;
        log.now_us = 5_250_700;
        log.write(&Entry {
            peer: "127.0.0.1:9",
            method: &http::Method::POST,
            path: "/x y",
            status: 204,
            bytes: 0,
            duration: Duration::from_micros(1_234_567),
            stream: Some(3),
        });
        let line = String::from_utf8(log.buf[..log.len].to_vec()).unwrap();
        assert_eq!(
            line,
            "2026-12-30T21:06:13.250Z 127.0.0.1:9 POST /x%20y 204 0 1234.567 3\n"
        );
        log.len = 0;
    }
}
