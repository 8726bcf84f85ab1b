//! Blocking one-request HTTP/2 cleartext (h2c, prior knowledge) client used by
//! `h2o get`.
//!
//! Drives one client [`Connection`] over a std `TcpStream`: queue the request,
//! then loop write → read → `recv` → events until the response ends, failing
//! with one [`ClientError`] (the same type as the pooled client's) on
//! connect/DNS errors, non-HTTP/2 peers, resets, GOAWAY, early close or timeout.
//! Also home of [`Url`], the `http://` URL parser all native clients share.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

pub use super::error::ClientError;
use super::{tcp, CLIENT_READ_BUF, WBUF_CAP, WRITE_CHUNK};
use crate::conn::{Config, Connection, Event};
use crate::error::ErrorCode;

fn err<T>(msg: impl Into<String>) -> Result<T, ClientError> {
    Err(ClientError::InvalidRequest(msg.into()))
}

/// [`ClientError::Handshake`] reason: the peer answered in HTTP/1.x.
pub(crate) const NOT_H2C_HTTP1: &str =
    "server does not speak HTTP/2 with prior knowledge (got an HTTP/1.x reply)";
/// [`ClientError::Handshake`] reason: the peer closed before any HTTP/2 byte.
pub(crate) const NOT_H2C_CLOSED: &str =
    "connection closed by the server without an HTTP/2 response (not an h2c server?)";

/// A parsed `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port (80 when absent).
    pub port: u16,
    /// `:authority` value as written in the URL.
    pub authority: String,
    /// `:path` value (path and query; `/` when empty).
    pub path: String,
}

impl Url {
    /// Parses an absolute `http://` or `https://` URL; the flag is true for
    /// `https://` (default port 443).
    pub fn parse_any(s: &str) -> Result<(Url, bool), ClientError> {
        match s.strip_prefix("https://") {
            Some(rest) => {
                let mut u = Url::parse(&format!("http://{rest}"))?;
                let explicit = u
                    .authority
                    .rsplit_once(':')
                    .is_some_and(|(_, p)| !p.contains(']'));
                if !explicit {
                    u.port = 443;
                }
                Ok((u, true))
            }
            None => Ok((Url::parse(s)?, false)),
        }
    }

    /// Parses an absolute `http://` URL; `https://` is refused here (the
    /// pooled client takes it through [`Url::parse_any`]).
    pub fn parse(s: &str) -> Result<Url, ClientError> {
        let rest = if let Some(r) = s.strip_prefix("http://") {
            r
        } else if s.starts_with("https://") {
            return err("TLS not supported yet: use an http:// URL (h2c with prior knowledge)");
        } else {
            return err(format!(
                "unsupported URL {s:?}: expected http://HOST[:PORT]/PATH"
            ));
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = path.split('#').next().unwrap_or("/");
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        if authority.is_empty() || authority.contains('@') {
            return err(format!("invalid URL {s:?}: bad host"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or_else(|| {
                ClientError::InvalidRequest(format!("invalid URL {s:?}: bad IPv6 host"))
            })?;
            let port = match &v6[end + 1..] {
                "" => None,
                p => Some(p.strip_prefix(':').unwrap_or("x")),
            };
            (v6[..end].to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        let port = match port {
            None => 80,
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| ClientError::InvalidRequest(format!("invalid URL {s:?}: bad port")))?,
        };
        if host.is_empty() {
            return err(format!("invalid URL {s:?}: empty host"));
        }
        Ok(Url {
            host,
            port,
            authority: authority.to_string(),
            path,
        })
    }
}

/// Options of one fetch.
#[derive(Debug, Clone)]
pub struct GetOptions {
    /// Print request/response heads to the log writer (`> ` / `< ` prefixed lines).
    pub verbose: bool,
    /// Deadline for the whole fetch (connect, request, response).
    pub timeout: Duration,
    /// Treat a status ≥ 400 as a failure (like `curl --fail`): no body is
    /// written and the result is [`ClientError::Status`].
    pub fail: bool,
}

impl Default for GetOptions {
    fn default() -> Self {
        GetOptions {
            verbose: false,
            timeout: Duration::from_secs(30),
            fail: false,
        }
    }
}

/// What a successful fetch returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Final response status.
    pub status: u16,
    /// Body bytes written to the output.
    pub body_len: u64,
}

/// Fetches `url` with GET, writing the body to `out` and (when verbose) the
/// heads to `log`. Any failure is one [`ClientError`].
pub fn get(
    url: &str,
    opts: &GetOptions,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<Fetched, ClientError> {
    let url = Url::parse(url)?;
    let start = Instant::now();
    let deadline = start + opts.timeout;
    let mut sock = tcp::connect(&url.host, url.port, deadline)?;

    let mut conn = Connection::client(Config::default());
    let uri = format!("http://{}{}", url.authority, url.path);
    let request = http::Request::get(uri.as_str())
        .header("user-agent", concat!("h2o/", env!("CARGO_PKG_VERSION")))
        .header("accept", "*/*")
        .body(())
        .map_err(|e| ClientError::InvalidRequest(format!("invalid request: {e}")))?;
    if opts.verbose {
        let _ = writeln!(log, "> :method: GET");
        let _ = writeln!(log, "> :scheme: http");
        let _ = writeln!(log, "> :authority: {}", url.authority);
        let _ = writeln!(log, "> :path: {}", url.path);
        for (k, v) in request.headers() {
            let _ = writeln!(log, "> {}: {}", k, String::from_utf8_lossy(v.as_bytes()));
        }
    }
    let sid = conn
        .send_request(request, true)
        .map_err(|e| ClientError::InvalidRequest(format!("cannot send request: {e}")))?;

    let mut status: Option<u16> = None;
    let mut body_len = 0u64;
    let mut done = false;
    let mut rbuf = vec![0u8; CLIENT_READ_BUF];
    let mut wbuf = Vec::with_capacity(16 << 10);
    let mut first_bytes = true;
    while !done {
        wbuf.clear();
        conn.write_to(start.elapsed(), &mut wbuf, WRITE_CHUNK);
        if !wbuf.is_empty() {
            sock.write_all(&wbuf)
                .map_err(|e| ClientError::io("write failed", e))?;
        }
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::Response {
                    stream_id,
                    response,
                    end_stream,
                } if stream_id == sid => {
                    let code = response.status().as_u16();
                    if opts.verbose {
                        let _ = writeln!(log, "< :status: {code}");
                        for (k, v) in response.headers() {
                            let _ =
                                writeln!(log, "< {}: {}", k, String::from_utf8_lossy(v.as_bytes()));
                        }
                    }
                    if response.status().is_informational() {
                        continue;
                    }
                    if opts.fail && code >= 400 {
                        return Err(ClientError::Status(code));
                    }
                    status = Some(code);
                    done |= end_stream;
                }
                Event::Data {
                    stream_id,
                    data,
                    end_stream,
                } if stream_id == sid => {
                    out.write_all(&data)
                        .map_err(|e| ClientError::io("cannot write output", e))?;
                    body_len += data.len() as u64;
                    done |= end_stream;
                }
                Event::Trailers {
                    stream_id,
                    trailers,
                } if stream_id == sid => {
                    if opts.verbose {
                        for (k, v) in &trailers {
                            let _ =
                                writeln!(log, "< {}: {}", k, String::from_utf8_lossy(v.as_bytes()));
                        }
                    }
                    done = true;
                }
                Event::Reset {
                    stream_id,
                    code,
                    remote,
                } if stream_id == sid => {
                    return Err(if remote {
                        ClientError::Reset(code)
                    } else {
                        ClientError::ResetLocally(code)
                    });
                }
                Event::Closed { stream_id } if stream_id == sid => done = true,
                Event::GoAway {
                    last_stream_id,
                    code,
                    debug,
                } if last_stream_id < sid || code != ErrorCode::NO_ERROR => {
                    return Err(ClientError::GoAway {
                        code,
                        last_stream_id,
                        debug: String::from_utf8_lossy(&debug).into_owned(),
                    });
                }
                _ => {}
            }
        }
        if done {
            break;
        }
        // More output only counts if the last turn could write something
        // (otherwise it is waiting on the peer's flow-control window).
        if !wbuf.is_empty() && conn.wants_write() {
            continue;
        }
        if conn.is_closed() {
            return Err(ClientError::Closed(
                "connection closed before the response completed",
            ));
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ClientError::Timeout("request"));
        }
        let mut wait = deadline - now;
        if let Some(t) = conn.poll_timeout() {
            wait = wait.min(t.saturating_sub(start.elapsed()));
        }
        let _ = sock.set_read_timeout(Some(wait.max(Duration::from_millis(1))));
        match sock.read(&mut rbuf) {
            Ok(0) => {
                if first_bytes {
                    return Err(ClientError::Handshake {
                        reason: NOT_H2C_CLOSED,
                        source: None,
                    });
                }
                return Err(ClientError::Closed(
                    "connection closed by the server before the response completed",
                ));
            }
            Ok(n) => {
                let data = &rbuf[..n];
                let not_h2 = first_bytes && data.starts_with(b"HTTP/");
                first_bytes = false;
                if not_h2 {
                    return Err(ClientError::Handshake {
                        reason: NOT_H2C_HTTP1,
                        source: None,
                    });
                }
                if let Err(e) = conn.recv(start.elapsed(), data) {
                    return Err(ClientError::Protocol(e));
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                conn.handle_timeout(start.elapsed());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ClientError::io("read failed", e)),
        }
    }
    // Polite close; errors here do not matter any more.
    conn.shutdown(ErrorCode::NO_ERROR);
    wbuf.clear();
    conn.write_to(start.elapsed(), &mut wbuf, WBUF_CAP);
    let _ = sock.write_all(&wbuf);
    match status {
        Some(status) => Ok(Fetched { status, body_len }),
        None => Err(ClientError::NoResponse),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parse() {
        let u = Url::parse("http://example.com:8080/a/b?x=1#frag").unwrap();
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, 8080);
        assert_eq!(u.authority, "example.com:8080");
        assert_eq!(u.path, "/a/b?x=1");
        let u = Url::parse("http://[::1]:9/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        let u = Url::parse("http://h").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        let u = Url::parse("http://h?q").unwrap();
        assert_eq!(u.path, "/?q");
        assert!(Url::parse("https://h/")
            .unwrap_err()
            .to_string()
            .contains("TLS not supported yet"));
        assert!(Url::parse("ftp://h/").is_err());
        assert!(Url::parse("http://h:99999/").is_err());
        assert!(Url::parse("http:///x").is_err());
    }
}
