//! Heap allocations per request/response exchange on a warmed-up connection pair,
//! counted by a wrapping `#[global_allocator]` and attributed to the client or the
//! server connection (the application's own `http` values are counted apart).
//! Run with `--nocapture` to see the figures; with `ALLOC_TRACE=1` every
//! counted allocation of the first 300 measured exchanges is printed to stderr
//! with its backtrace (to find where a new one comes from).
//!
//! Setup: 10,000 GET exchanges after 1,100 of warm-up (the memory of closed
//! stream ids grows on demand up to 1,024 entries), 10 request fields (4
//! pseudo, 5 standard, 1 custom), a response with 3 fields and a 1000-byte
//! body; both writers (`write_to`, `write_chunks`); the application either
//! gives received heads' maps back with `Connection::recycle_headers` or drops
//! them. Also: 64 KiB bodies in 16 KiB frames, bursts of 100 concurrent
//! streams, and what `trim` / `release_idle_memory` free.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use h2o::conn::{Config, Connection, Event};

struct Counting;

thread_local! {
    /// Counted allocations of this thread (tests run in parallel threads).
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}
static TRACE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
}

thread_local! {
    static TRACING: Cell<bool> = const { Cell::new(false) };
}

thread_local! {
    /// Bytes allocated and not yet freed by this thread (always tracked).
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn live(delta: isize) {
    let _ = LIVE.try_with(|l| l.set(l.get() + delta));
}

fn count() {
    if ENABLED.try_with(|e| e.get()).unwrap_or(false) {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        if TRACE.load(Ordering::Relaxed) && !TRACING.with(|t| t.replace(true)) {
            ENABLED.with(|e| e.set(false));
            eprintln!("ALLOC {}", std::backtrace::Backtrace::force_capture());
            ENABLED.with(|e| e.set(true));
            TRACING.with(|t| t.set(false));
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so all of `GlobalAlloc`'s contracts are upheld by `System`; the
// extra work is a relaxed atomic increment and a const thread-local read, which
// never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        live(layout.size() as isize);
        // SAFETY: forwarded contract (layout has non-zero size per caller).
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        live(layout.size() as isize);
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        live(-(layout.size() as isize));
        // SAFETY: `ptr` was allocated by `System` with `layout` (we always forward).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        live(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded contract; `ptr` came from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made while running `f` on this thread.
fn counted<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCS.with(|n| n.get());
    ENABLED.with(|e| e.set(true));
    let r = f();
    ENABLED.with(|e| e.set(false));
    (r, ALLOCS.with(|n| n.get()) - before)
}

#[derive(Default, Debug)]
struct Tally {
    client: usize,
    server: usize,
    app: usize,
}

/// Output buffers reused across hops.
struct Bufs {
    flat: Vec<u8>,
    chunks: Vec<Bytes>,
    /// Use `write_chunks` (vectored) instead of `write_to`.
    vectored: bool,
}

fn hop(from: &mut Connection, to: &mut Connection, b: &mut Bufs) -> (usize, usize) {
    b.flat.clear();
    if b.vectored {
        let (_, a) = counted(|| from.write_chunks(Duration::ZERO, &mut b.chunks, usize::MAX));
        let (_, r) = counted(|| {
            for c in b.chunks.drain(..) {
                to.recv(Duration::ZERO, &c).unwrap();
            }
        });
        return (a, r);
    }
    let (_, a) = counted(|| from.write_to(Duration::ZERO, &mut b.flat, usize::MAX));
    let (_, r) = counted(|| {
        if !b.flat.is_empty() {
            to.recv(Duration::ZERO, &b.flat).unwrap();
        }
    });
    (a, r)
}

/// A GET with 10 fields: the four pseudo-headers, five standard fields and a
/// custom one (interned per connection after its first appearance).
fn request() -> http::Request<()> {
    http::Request::builder()
        .method("GET")
        .uri("https://example.com/index.html")
        .header("user-agent", "h2o-alloc-test/1.0")
        .header("accept", "text/html,application/xhtml+xml")
        .header("accept-encoding", "gzip, deflate, br")
        .header("accept-language", "en-US,en;q=0.9")
        .header("cookie", "session=0123456789abcdef")
        .header("x-client-trace", "alloc-test")
        .body(())
        .unwrap()
}

fn exchange(
    c: &mut Connection,
    s: &mut Connection,
    buf: &mut Bufs,
    body: &Bytes,
    t: &mut Tally,
    recycle: bool,
) {
    let (req, a) = counted(request);
    t.app += a;
    assert_eq!(req.headers().len() + 4, 10);
    let (id, a) = counted(|| c.send_request(req, true).unwrap());
    t.client += a;
    let (a, b) = hop(c, s, buf);
    t.client += a;
    t.server += b;
    let (ev, a) = counted(|| s.poll_event());
    t.server += a;
    let Some(Event::Request {
        stream_id, request, ..
    }) = ev
    else {
        panic!("{ev:?}")
    };
    assert_eq!(stream_id, id);
    assert_eq!(request.headers().len(), 6);
    assert_eq!(request.headers()["x-client-trace"], "alloc-test");
    let ((), a) = counted(|| {
        if recycle {
            s.recycle_headers(request.into_parts().0.headers);
        } else {
            drop(request);
        }
    });
    t.app += a;
    let (resp, a) = counted(|| {
        http::Response::builder()
            .status(200)
            .header("content-type", "text/html")
            .header("server", "h2o")
            .header("cache-control", "max-age=60")
            .body(())
            .unwrap()
    });
    t.app += a;
    let (_, a) = counted(|| {
        s.send_response(id, resp, false).unwrap();
        s.send_data(id, body.clone(), true).unwrap();
    });
    t.server += a;
    let (a, b) = hop(s, c, buf);
    t.server += a;
    t.client += b;
    let (_, a) = counted(|| {
        let mut n = 0;
        while let Some(e) = c.poll_event() {
            n += 1;
            match e {
                Event::Response { response, .. } if recycle => {
                    c.recycle_headers(response.into_parts().0.headers)
                }
                e => drop(e),
            }
        }
        assert!(n >= 3, "response, data, closed");
        while let Some(e) = s.poll_event() {
            drop(e);
        }
    });
    t.client += a;
    // Any WINDOW_UPDATEs.
    let (a, b) = hop(c, s, buf);
    t.client += a;
    t.server += b;
    let (a, b) = hop(s, c, buf);
    t.server += a;
    t.client += b;
}

fn measure(vectored: bool, recycle: bool) -> Tally {
    let mut buf = Bufs {
        flat: Vec::with_capacity(1 << 16),
        chunks: Vec::with_capacity(64),
        vectored,
    };
    let (mut c, mut s) = connected(&mut buf);
    let body = Bytes::from_static(&[b'x'; 1000]);
    let mut warm = Tally::default();
    for _ in 0..1100 {
        exchange(&mut c, &mut s, &mut buf, &body, &mut warm, recycle);
    }
    let mut t = Tally::default();
    TRACE.store(std::env::var_os("ALLOC_TRACE").is_some(), Ordering::Relaxed);
    for i in 0..N {
        if i == 300 {
            TRACE.store(false, Ordering::Relaxed);
        }
        exchange(&mut c, &mut s, &mut buf, &body, &mut t, recycle);
    }
    t
}

const N: usize = 10_000;

fn per(x: usize) -> f64 {
    x as f64 / N as f64
}

#[test]
fn allocations_per_exchange() {
    for recycle in [true, false] {
        for vectored in [false, true] {
            let t = measure(vectored, recycle);
            println!(
                "allocations per GET exchange (10 request fields, 3 response fields, 1000-byte body, {}, {}): client conn {:.3}, server conn {:.3}, application http values {:.2}",
                if vectored { "write_chunks" } else { "write_to" },
                if recycle { "heads recycled" } else { "heads dropped" },
                per(t.client),
                per(t.server),
                per(t.app)
            );
            // Exact counts. With `recycle_headers`, none. Without, each
            // received head's `HeaderMap` costs its two arrays (indices and
            // entries), which `http` allocates on the first insert; the map
            // is the application's from then on.
            let expect = if recycle { 0 } else { 2 * N };
            assert_eq!(t.client, expect, "client");
            assert_eq!(t.server, expect, "server");
        }
    }
}

/// Bytes this thread holds allocated.
fn live_bytes() -> isize {
    LIVE.with(|l| l.get())
}

/// After a burst of 100 concurrent streams, an idle connection shrinks its
/// burst-sized tables (`trim`) and gives its buffers back
/// (`release_idle_memory`), refuses to while a stream is open, and keeps
/// working afterwards.
#[test]
fn idle_connection_releases_burst_buffers() {
    let mut buf = Bufs {
        flat: Vec::with_capacity(1 << 16),
        chunks: Vec::with_capacity(64),
        vectored: false,
    };
    let (mut c, mut s) = connected(&mut buf);
    let body = Bytes::from_static(&[b'x'; 1000]);
    // The burst: 100 requests in one write, 100 responses in one write.
    let ids: Vec<u32> = (0..100)
        .map(|_| c.send_request(request(), true).unwrap())
        .collect();
    hop(&mut c, &mut s, &mut buf);
    let mut got = 0;
    while let Some(e) = s.poll_event() {
        if let Event::Request { stream_id, .. } = e {
            s.send_response(stream_id, http::Response::new(()), false)
                .unwrap();
            s.send_data(stream_id, body.clone(), true).unwrap();
            got += 1;
        }
    }
    assert_eq!(got, ids.len());
    hop(&mut s, &mut c, &mut buf);
    while c.poll_event().is_some() {}
    for _ in 0..2 {
        hop(&mut c, &mut s, &mut buf);
        hop(&mut s, &mut c, &mut buf);
        while c.poll_event().is_some() {}
        while s.poll_event().is_some() {}
    }
    assert_eq!((c.open_streams(), s.open_streams()), (0, 0));

    // Trimming between bursts: the stream table and event queue shrink to
    // room for 16; a second trim has nothing to do.
    let before = live_bytes();
    s.trim(16);
    let server_trimmed = before - live_bytes();
    let before = live_bytes();
    s.trim(16);
    assert_eq!(live_bytes(), before, "second trim");
    let before = live_bytes();
    c.trim(16);
    let client_trimmed = before - live_bytes();
    println!("trimmed after a 100-stream burst: server {server_trimmed} bytes, client {client_trimmed} bytes");
    // 100 events (about 240 B each on 64-bit targets) and 100 stream
    // entries; wasm32's smaller pointers make both smaller (27.9 KiB seen).
    let want = if cfg!(target_pointer_width = "64") {
        32 << 10
    } else {
        24 << 10
    };
    assert!(
        server_trimmed >= want,
        "server trimmed {server_trimmed}, want at least {want}"
    );

    let before = live_bytes();
    assert!(s.release_idle_memory(), "server idle");
    let server_freed = before - live_bytes();
    let before = live_bytes();
    assert!(c.release_idle_memory(), "client idle");
    let client_freed = before - live_bytes();
    println!("released after a 100-stream burst: server {server_freed} bytes, client {client_freed} bytes");
    // The rest: receive buffer, output scratch, pooled queues and maps.
    assert!(server_freed >= 8 << 10, "server freed {server_freed}");
    assert!(client_freed >= 8 << 10, "client freed {client_freed}");
    // Nothing left to free: a second call frees nothing.
    let before = live_bytes();
    assert!(s.release_idle_memory());
    assert_eq!(live_bytes(), before);

    // A stream in flight: nothing is released.
    let id = c.send_request(request(), true).unwrap();
    assert!(!c.release_idle_memory(), "client has an open stream");
    hop(&mut c, &mut s, &mut buf);
    assert!(!s.release_idle_memory(), "server has an event waiting");
    // And the connection still works after the release.
    let Some(Event::Request { stream_id, .. }) = s.poll_event() else {
        panic!("request after release")
    };
    assert_eq!(stream_id, id);
    assert!(!s.release_idle_memory(), "server has an open stream");
    s.send_response(stream_id, http::Response::new(()), false)
        .unwrap();
    s.send_data(stream_id, body.clone(), true).unwrap();
    hop(&mut s, &mut c, &mut buf);
    let mut data = 0;
    while let Some(e) = c.poll_event() {
        if let Event::Data { data: d, .. } = e {
            data += d.len();
        }
    }
    assert_eq!(data, body.len());
}

/// One burst of 100 requests answered with 1000-byte bodies; the server's
/// allocations (received heads' maps given back, so those are pooled).
fn burst(c: &mut Connection, s: &mut Connection, buf: &mut Bufs, body: &Bytes) -> usize {
    let mut n = 0;
    for _ in 0..100 {
        c.send_request(request(), true).unwrap();
    }
    let (_, b) = hop(c, s, buf);
    n += b;
    let (_, a) = counted(|| {
        while let Some(e) = s.poll_event() {
            if let Event::Request {
                stream_id, request, ..
            } = e
            {
                s.recycle_headers(request.into_parts().0.headers);
                s.send_response(stream_id, http::Response::new(()), false)
                    .unwrap();
                s.send_data(stream_id, body.clone(), true).unwrap();
            }
        }
    });
    n += a;
    for _ in 0..3 {
        let (a, _) = hop(s, c, buf);
        n += a;
        while let Some(e) = c.poll_event() {
            if let Event::Response { response, .. } = e {
                c.recycle_headers(response.into_parts().0.headers);
            }
        }
        let (_, b) = hop(c, s, buf);
        n += b;
        let (_, a) = counted(|| while s.poll_event().is_some() {});
        n += a;
    }
    assert_eq!((c.open_streams(), s.open_streams()), (0, 0));
    n
}

/// What trimming costs: server allocations per burst of 100 streams, with
/// and without `trim(16)` between bursts.
#[test]
fn trim_cost_per_burst() {
    let mut buf = Bufs {
        flat: Vec::with_capacity(1 << 16),
        chunks: Vec::with_capacity(64),
        vectored: false,
    };
    let (mut c, mut s) = connected(&mut buf);
    let body = Bytes::from_static(&[b'x'; 1000]);
    // Warm-up: the closed-id ring fills, pools fill.
    for _ in 0..12 {
        burst(&mut c, &mut s, &mut buf, &body);
    }
    let plain: usize = (0..5).map(|_| burst(&mut c, &mut s, &mut buf, &body)).sum();
    let trimmed: usize = (0..5)
        .map(|_| {
            let (_, t) = counted(|| s.trim(16));
            t + burst(&mut c, &mut s, &mut buf, &body)
        })
        .sum();
    println!(
        "server allocations per burst of 100 streams: {:.1} without trim, {:.1} with trim(16) between bursts",
        plain as f64 / 5.0,
        trimmed as f64 / 5.0
    );
    assert!(
        trimmed <= plain + 5 * 16,
        "trim costs more than 16 allocations per burst: {plain} vs {trimmed}"
    );
}

/// A connected pair with the SETTINGS exchange done.
fn connected(buf: &mut Bufs) -> (Connection, Connection) {
    let mut c = Connection::client(Config::default());
    let mut s = Connection::server(Config::default());
    for _ in 0..4 {
        hop(&mut c, &mut s, buf);
        hop(&mut s, &mut c, buf);
    }
    while c.poll_event().is_some() {}
    while s.poll_event().is_some() {}
    (c, s)
}

/// One GET answered with `chunks` (one `send_data` each, the last ending the
/// stream); heads recycled. Returns the DATA frames the client received.
fn data_exchange(
    c: &mut Connection,
    s: &mut Connection,
    buf: &mut Bufs,
    chunks: &[Bytes],
    t: &mut Tally,
) -> usize {
    let req = request();
    let (id, a) = counted(|| c.send_request(req, true).unwrap());
    t.client += a;
    let (a, b) = hop(c, s, buf);
    t.client += a;
    t.server += b;
    let (_, a) = counted(|| {
        let Some(Event::Request { request, .. }) = s.poll_event() else {
            panic!("request")
        };
        s.recycle_headers(request.into_parts().0.headers);
    });
    t.server += a;
    let resp = http::Response::new(());
    let (_, a) = counted(|| {
        s.send_response(id, resp, false).unwrap();
        for (i, d) in chunks.iter().enumerate() {
            s.send_data(id, d.clone(), i + 1 == chunks.len()).unwrap();
        }
    });
    t.server += a;
    let want: usize = chunks.iter().map(|d| d.len()).sum();
    let (mut got, mut frames) = (0, 0);
    // Until the body is in (a window may need a WINDOW_UPDATE round).
    for _ in 0..8 {
        let (a, b) = hop(s, c, buf);
        t.server += a;
        t.client += b;
        let (_, a) = counted(|| {
            while let Some(e) = c.poll_event() {
                match e {
                    Event::Response { response, .. } => {
                        c.recycle_headers(response.into_parts().0.headers)
                    }
                    Event::Data { data, .. } => {
                        got += data.len();
                        frames += 1;
                    }
                    e => drop(e),
                }
            }
        });
        t.client += a;
        let (a, b) = hop(c, s, buf);
        t.client += a;
        t.server += b;
        let (_, a) = counted(|| while s.poll_event().is_some() {});
        t.server += a;
        if got == want && c.open_streams() == 0 && s.open_streams() == 0 {
            break;
        }
    }
    assert_eq!(got, want, "body");
    frames
}

/// DATA-heavy exchanges: a 64 KiB response body leaving in 16 KiB frames
/// (the default SETTINGS_MAX_FRAME_SIZE), queued as one `send_data` or as
/// four of 16 KiB; 1,000 exchanges after 1,100 of warm-up, both writers.
#[test]
fn allocations_per_data_frame() {
    const K: usize = 1_000;
    let whole = Bytes::from(vec![b'x'; 64 << 10]);
    let quarters: Vec<Bytes> = (0..4)
        .map(|i| whole.slice(i * (16 << 10)..(i + 1) * (16 << 10)))
        .collect();
    for vectored in [false, true] {
        for (name, chunks) in [
            ("one send_data", vec![whole.clone()]),
            ("four", quarters.clone()),
        ] {
            let mut buf = Bufs {
                flat: Vec::with_capacity(1 << 17),
                chunks: Vec::with_capacity(64),
                vectored,
            };
            let (mut c, mut s) = connected(&mut buf);
            let mut warm = Tally::default();
            // The memory of closed stream ids grows up to 1,024 entries.
            for _ in 0..1_100 {
                data_exchange(&mut c, &mut s, &mut buf, &chunks, &mut warm);
            }
            let mut t = Tally::default();
            let mut frames = 0;
            TRACE.store(std::env::var_os("ALLOC_TRACE").is_some(), Ordering::Relaxed);
            for _ in 0..K {
                frames += data_exchange(&mut c, &mut s, &mut buf, &chunks, &mut t);
                TRACE.store(false, Ordering::Relaxed);
            }
            println!(
                "allocations per 64 KiB exchange ({name}, {}): {} DATA frames each, client conn {:.3}, server conn {:.3}",
                if vectored { "write_chunks" } else { "write_to" },
                frames / K,
                t.client as f64 / K as f64,
                t.server as f64 / K as f64,
            );
            assert_eq!(frames, 4 * K, "16 KiB frames");
            // Exact counts. `write_to` hands the receiver the whole 64 KiB
            // in one `recv`: none. `write_chunks` (fed to `recv` chunk by
            // chunk: frame header, then payload) makes the client's frame
            // decoder grow its receive buffer while the payloads of earlier
            // DATA frames, not yet taken as events, still share it: 6 new
            // buffers and 3 shared-buffer headers per 64 KiB body.
            let client = if vectored { 9 * K } else { 0 };
            assert_eq!((t.client, t.server), (client, 0), "{name}");
        }
    }
}

/// Bursts of 100 concurrent streams (the server's default
/// MAX_CONCURRENT_STREAMS), each a GET answered with a 1000-byte body, heads
/// recycled: 20 bursts after 12 of warm-up; client and server counted.
#[test]
fn allocations_with_100_concurrent_streams() {
    let mut buf = Bufs {
        flat: Vec::with_capacity(1 << 18),
        chunks: Vec::with_capacity(256),
        vectored: false,
    };
    let (mut c, mut s) = connected(&mut buf);
    let body = Bytes::from_static(&[b'x'; 1000]);
    let mut burst = |t: &mut Tally| {
        // The application's own request values are not counted.
        let mut reqs: Vec<_> = (0..100).map(|_| request()).collect();
        let (_, a) = counted(|| {
            for req in reqs.drain(..) {
                c.send_request(req, true).unwrap();
            }
        });
        t.client += a;
        assert_eq!(c.open_streams(), 100);
        let (a, b) = hop(&mut c, &mut s, &mut buf);
        t.client += a;
        t.server += b;
        let (_, a) = counted(|| {
            while let Some(e) = s.poll_event() {
                if let Event::Request {
                    stream_id, request, ..
                } = e
                {
                    s.recycle_headers(request.into_parts().0.headers);
                    s.send_response(stream_id, http::Response::new(()), false)
                        .unwrap();
                    s.send_data(stream_id, body.clone(), true).unwrap();
                }
            }
        });
        t.server += a;
        assert_eq!(s.open_streams(), 100);
        for _ in 0..3 {
            let (a, b) = hop(&mut s, &mut c, &mut buf);
            t.server += a;
            t.client += b;
            let (_, a) = counted(|| {
                while let Some(e) = c.poll_event() {
                    if let Event::Response { response, .. } = e {
                        c.recycle_headers(response.into_parts().0.headers);
                    }
                }
            });
            t.client += a;
            let (a, b) = hop(&mut c, &mut s, &mut buf);
            t.client += a;
            t.server += b;
            let (_, a) = counted(|| while s.poll_event().is_some() {});
            t.server += a;
        }
        assert_eq!((c.open_streams(), s.open_streams()), (0, 0));
    };
    let mut warm = Tally::default();
    for _ in 0..12 {
        burst(&mut warm);
    }
    let mut t = Tally::default();
    TRACE.store(std::env::var_os("ALLOC_TRACE").is_some(), Ordering::Relaxed);
    for _ in 0..20 {
        burst(&mut t);
        TRACE.store(false, Ordering::Relaxed);
    }
    println!(
        "allocations per burst of 100 concurrent streams: client conn {:.1}, server conn {:.1}",
        t.client as f64 / 20.0,
        t.server as f64 / 20.0
    );
    // Exact counts (the pair is deterministic). The client: none. The
    // server, over the 20 bursts: the received heads' `HeaderMap`s beyond the
    // 32 the header-map pool keeps (68 maps per burst, their two arrays each:
    // 136 × 20) and 109 new chunks of the shared value store (a chunk and its
    // shared header each: 218; about 5.5 per burst, as chunk boundaries do not
    // fall on burst boundaries), which cannot be reclaimed while 100 requests'
    // values are alive. The streams themselves (slab slots, DATA queues)
    // allocate nothing.
    assert_eq!((t.client, t.server), (0, 136 * 20 + 218));
}
