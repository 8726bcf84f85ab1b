//! Blocking HTTP/2 cleartext (h2c, prior knowledge) static file server.
//!
//! One thread per TCP connection drives one [`Connection`]: read into a
//! buffer → [`Connection::recv`] → handle events → [`Connection::write_to`]
//! → one `write_all` per loop turn, so every turn's frames leave in a single
//! write (batching). Large files are fed to [`Connection::send_data`] chunk by
//! chunk as [`Event::SendReady`] arrives. All HTTP/2 is spoken by the core;
//! this module only moves bytes and maps files ([`super::files`]) to responses.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::files::{DocRoot, Lookup};
use crate::conn::{Config, Connection, Event};
use crate::error::ErrorCode;
use crate::frame::StreamId;

/// Size of one `send_data` chunk for files larger than that.
pub const FILE_CHUNK: usize = 256 << 10;
/// Soft cap of one `write_to` batch.
const WRITE_BATCH: usize = 256 << 10;
/// Size of the socket read buffer.
const READ_BUF: usize = 64 << 10;

/// A file body being streamed out in chunks.
struct Body {
    file: File,
    remaining: u64,
}

/// Accepts connections forever, one thread per connection.
pub fn serve(listener: TcpListener, root: DocRoot) -> io::Result<()> {
    let root = Arc::new(root);
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let root = Arc::clone(&root);
        std::thread::spawn(move || {
            if let Err(e) = serve_connection(stream, &root) {
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                ) {
                    eprintln!("connection: {e}");
                }
            }
        });
    }
    Ok(())
}

/// Serves one h2c connection until the peer closes it or the connection ends.
pub fn serve_connection(mut sock: TcpStream, root: &DocRoot) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let origin = Instant::now();
    let mut conn = Connection::server(Config::default());
    let mut bodies: HashMap<StreamId, Body> = HashMap::new();
    let mut rbuf = vec![0u8; READ_BUF];
    let mut out = Vec::with_capacity(WRITE_BATCH + (64 << 10));
    let mut failed = false;
    loop {
        // Events first, then one batched write; repeat while that makes progress
        // (writing can unblock streams and produce SendReady events).
        let mut progressed = false;
        while let Some(ev) = conn.poll_event() {
            progressed = true;
            handle_event(&mut conn, &mut bodies, root, ev);
        }
        out.clear();
        conn.write_to(&mut out, WRITE_BATCH);
        if !out.is_empty() {
            sock.write_all(&out)?;
            progressed = true;
        }
        if conn.is_closed() || (failed && !conn.wants_write()) {
            return Ok(());
        }
        if progressed {
            continue;
        }
        // Nothing to do but wait for the peer (or a timer).
        let now = origin.elapsed();
        let timeout = conn.poll_timeout().map(|t| {
            t.saturating_sub(now)
                .max(std::time::Duration::from_millis(1))
        });
        sock.set_read_timeout(timeout)?;
        match sock.read(&mut rbuf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                if conn.recv(&rbuf[..n]).is_err() {
                    // GOAWAY is queued; drain it and close.
                    failed = true;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                conn.handle_timeout(origin.elapsed());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn handle_event(
    conn: &mut Connection,
    bodies: &mut HashMap<StreamId, Body>,
    root: &DocRoot,
    ev: Event,
) {
    match ev {
        Event::Request {
            stream_id, request, ..
        } => respond(conn, bodies, root, stream_id, &request),
        Event::SendReady { stream_id } => feed(conn, bodies, stream_id),
        Event::Reset { stream_id, .. } | Event::Closed { stream_id } => {
            bodies.remove(&stream_id);
        }
        // Request bodies are ignored (only GET/HEAD are served); the rest is
        // connection housekeeping the core already did.
        _ => {}
    }
}

fn simple(status: u16, body: &'static str) -> (http::Response<()>, &'static str) {
    let resp = http::Response::builder()
        .status(status)
        .header("server", "h2o")
        .header("content-type", "text/plain; charset=utf-8")
        .header("content-length", body.len())
        .body(())
        .expect("static response head");
    (resp, body)
}

fn respond(
    conn: &mut Connection,
    bodies: &mut HashMap<StreamId, Body>,
    root: &DocRoot,
    stream_id: StreamId,
    request: &http::Request<()>,
) {
    let head = request.method() == http::Method::HEAD;
    if request.method() != http::Method::GET && !head {
        let resp = http::Response::builder()
            .status(405)
            .header("server", "h2o")
            .header("allow", "GET, HEAD")
            .header("content-length", 0)
            .body(())
            .expect("static response head");
        let _ = conn.send_response(stream_id, resp, true);
        return;
    }
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let (resp, body) = match root.lookup(path) {
        Lookup::Found {
            file,
            len,
            content_type,
        } => {
            let resp = http::Response::builder()
                .status(200)
                .header("server", "h2o")
                .header("content-type", content_type)
                .header("content-length", len)
                .body(())
                .expect("response head");
            if head || len == 0 {
                let _ = conn.send_response(stream_id, resp, true);
                return;
            }
            if conn.send_response(stream_id, resp, false).is_ok() {
                bodies.insert(
                    stream_id,
                    Body {
                        file,
                        remaining: len,
                    },
                );
                feed(conn, bodies, stream_id);
            }
            return;
        }
        Lookup::NotFound => simple(404, "404 Not Found\n"),
        Lookup::BadRequest => simple(400, "400 Bad Request\n"),
    };
    if head {
        let _ = conn.send_response(stream_id, resp, true);
    } else if conn.send_response(stream_id, resp, false).is_ok() {
        let _ = conn.send_data(stream_id, Bytes::from_static(body.as_bytes()), true);
    }
}

/// Queues the next chunk of a streamed file body.
fn feed(conn: &mut Connection, bodies: &mut HashMap<StreamId, Body>, stream_id: StreamId) {
    let Some(body) = bodies.get_mut(&stream_id) else {
        return;
    };
    let want = body.remaining.min(FILE_CHUNK as u64) as usize;
    let mut chunk = vec![0u8; want];
    let ok = body.file.read_exact(&mut chunk).is_ok();
    if !ok {
        // The file shrank or failed under us: the promised length cannot be met.
        bodies.remove(&stream_id);
        let _ = conn.reset(stream_id, ErrorCode::INTERNAL_ERROR);
        return;
    }
    body.remaining -= want as u64;
    let last = body.remaining == 0;
    if last {
        bodies.remove(&stream_id);
    }
    if conn.send_data(stream_id, Bytes::from(chunk), last).is_err() {
        bodies.remove(&stream_id);
    }
}
