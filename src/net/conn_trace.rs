//! `h2o serve --trace`: the server's per-connection [`FrameTracer`] glue.
//!
//! Owns a connection's tracer, its id (the `cN ` prefix of every line, unique
//! across workers) and the copy of the bytes read while the connection is
//! still being sniffed (h2c preface vs HTTP/1.1 vs raw WebSocket, done in
//! [`super::ws`]), which are traced once the connection turns out to be
//! HTTP/2. Lines go to stderr, one `write` per batch. The server holds an
//! `Option<Box<ConnTrace>>`: `None` (the default) costs one branch per turn.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::conn::{Chunk, PREFACE};
use crate::trace::{Direction, FrameTracer};

/// Connection ids of traced connections (all workers).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One traced server connection.
pub(crate) struct ConnTrace {
    tracer: FrameTracer,
    start: Instant,
    /// Bytes read before the connection was known to be HTTP/2.
    sniffed: Vec<u8>,
    out: String,
}

impl ConnTrace {
    /// A tracer for a freshly accepted connection.
    pub(crate) fn new() -> Box<ConnTrace> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Box::new(ConnTrace {
            tracer: FrameTracer::server().with_prefix(format!("c{id} ")),
            start: Instant::now(),
            sniffed: Vec::new(),
            out: String::new(),
        })
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn emit(&mut self) {
        if !self.out.is_empty() {
            let _ = io::stderr().lock().write_all(self.out.as_bytes());
            self.out.clear();
        }
    }

    /// Plaintext received from the peer (HTTP/2 frames).
    pub(crate) fn recv(&mut self, data: &[u8]) {
        let now = self.now();
        self.tracer.feed(Direction::Recv, now, data, &mut self.out);
        self.emit();
    }

    /// Output chunks taken from the core, before encryption.
    pub(crate) fn sent(&mut self, chunks: &[Chunk]) {
        let now = self.now();
        for c in chunks {
            match c {
                Chunk::Bytes(b) => self.tracer.feed(Direction::Send, now, b, &mut self.out),
                Chunk::External { len, .. } => {
                    self.tracer
                        .feed_opaque(Direction::Send, now, *len as usize, &mut self.out)
                }
            }
        }
        self.emit();
    }

    /// A reader that copies what it reads for [`ConnTrace::sniff_done`].
    pub(crate) fn tee<'a, R: Read>(&'a mut self, inner: &'a mut R) -> Tee<'a, R> {
        Tee {
            inner,
            copy: &mut self.sniffed,
        }
    }

    /// After a sniffing turn: `h2` when the connection is now HTTP/2 (the
    /// sniffed bytes are traced). Returns false when the connection will
    /// never be HTTP/2 (the caller drops the tracer).
    pub(crate) fn sniff_done(&mut self, h2: bool) -> bool {
        if h2 {
            let bytes = std::mem::take(&mut self.sniffed);
            self.recv(&bytes);
            return true;
        }
        let n = self.sniffed.len().min(PREFACE.len());
        self.sniffed[..n] == PREFACE[..n]
    }
}

/// A reader copying everything read through it.
pub(crate) struct Tee<'a, R> {
    inner: &'a mut R,
    copy: &'a mut Vec<u8>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}
