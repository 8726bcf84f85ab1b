//! Heap allocations and bytes allocated per GET exchange, in memory, ours vs
//! the `h2` crate driven the same way: one client and one server connection,
//! 10,000 sequential exchanges after 1,100 of warm-up, a request with 10 fields
//! (as in tests/alloc.rs), a response with 3 fields and a 1000-byte body.
//! Everything on the measuring thread is counted: both connections and the
//! application's own `http` values (for `h2` also its tokio tasks and the
//! in-memory duplex pipe; a current-thread runtime keeps them on this thread).
//!
//! Also the native server in this process under h2load (whole process
//! counted, per request), when h2load is installed.
//!
//! `cargo bench --bench alloc` prints the figures (no timing: counts only).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use h2o::conn::{Config, Connection, Event};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
}

/// Count allocations on every thread (the native server run).
static COUNT_ALL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn count(size: usize) {
    if COUNT_ALL.load(Ordering::Relaxed) || ENABLED.try_with(|e| e.get()).unwrap_or(false) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(size, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `GlobalAlloc`'s contracts are upheld by `System`; the extra
// work (relaxed atomics, a const thread-local) never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: forwarded contract; `ptr` came from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Past the closed-stream memory's growth (up to 1,024 ids, on demand).
const WARM: usize = 1100;
const N: usize = 10_000;

fn request(uri: &str) -> http::Request<()> {
    http::Request::builder()
        .method("GET")
        .uri(uri)
        .header("user-agent", "h2o-alloc-test/1.0")
        .header("accept", "text/html,application/xhtml+xml")
        .header("accept-encoding", "gzip, deflate, br")
        .header("accept-language", "en-US,en;q=0.9")
        .header("cookie", "session=0123456789abcdef")
        .header("x-client-trace", "alloc-test")
        .body(())
        .unwrap()
}

fn response() -> http::Response<()> {
    http::Response::builder()
        .status(200)
        .header("content-type", "text/html")
        .header("server", "h2o")
        .header("cache-control", "max-age=60")
        .body(())
        .unwrap()
}

/// (allocations, bytes) while `f` runs.
fn measured(f: impl FnOnce()) -> (usize, usize) {
    let (a, b) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    ENABLED.with(|e| e.set(true));
    f();
    ENABLED.with(|e| e.set(false));
    (
        ALLOCS.load(Ordering::Relaxed) - a,
        BYTES.load(Ordering::Relaxed) - b,
    )
}

fn hop(from: &mut Connection, to: &mut Connection, buf: &mut Vec<u8>) {
    buf.clear();
    if from.write_to(Duration::ZERO, buf, usize::MAX) > 0 {
        to.recv(Duration::ZERO, buf).unwrap();
    }
}

/// One exchange on our pair; `recycle`: received heads' maps go back.
fn ours_exchange(
    c: &mut Connection,
    s: &mut Connection,
    buf: &mut Vec<u8>,
    body: &Bytes,
    recycle: bool,
) {
    let id = c
        .send_request(request("https://example.com/index.html"), true)
        .unwrap();
    hop(c, s, buf);
    while let Some(e) = s.poll_event() {
        if let Event::Request {
            stream_id, request, ..
        } = e
        {
            assert_eq!(stream_id, id);
            if recycle {
                s.recycle_headers(request.into_parts().0.headers);
            }
            s.send_response(id, response(), false).unwrap();
            s.send_data(id, body.clone(), true).unwrap();
        }
    }
    hop(s, c, buf);
    let mut got = 0;
    while let Some(e) = c.poll_event() {
        match e {
            Event::Response { response, .. } if recycle => {
                c.recycle_headers(response.into_parts().0.headers)
            }
            Event::Data { data, .. } => got += data.len(),
            _ => {}
        }
    }
    assert_eq!(got, body.len());
    while s.poll_event().is_some() {}
    hop(c, s, buf);
    hop(s, c, buf);
}

fn ours(recycle: bool) -> (usize, usize) {
    let mut c = Connection::client(Config::default());
    let mut s = Connection::server(Config::default());
    let mut buf = Vec::with_capacity(1 << 16);
    for _ in 0..4 {
        hop(&mut c, &mut s, &mut buf);
        hop(&mut s, &mut c, &mut buf);
    }
    while c.poll_event().is_some() {}
    while s.poll_event().is_some() {}
    let body = Bytes::from_static(&[b'x'; 1000]);
    for _ in 0..WARM {
        ours_exchange(&mut c, &mut s, &mut buf, &body, recycle);
    }
    measured(|| {
        for _ in 0..N {
            ours_exchange(&mut c, &mut s, &mut buf, &body, recycle);
        }
    })
}

fn h2_run() -> (usize, usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let (ci, si) = tokio::io::duplex(1 << 16);
        let body = Bytes::from_static(&[b'x'; 1000]);
        tokio::spawn(async move {
            let mut conn = h2::server::handshake(si).await.unwrap();
            while let Some(r) = conn.accept().await {
                let (_req, mut respond) = r.unwrap();
                let mut send = respond.send_response(response(), false).unwrap();
                send.send_data(body.clone(), true).unwrap();
            }
        });
        let (client, conn) = h2::client::handshake(ci).await.unwrap();
        tokio::spawn(async move {
            conn.await.unwrap();
        });
        let mut client = client.ready().await.unwrap();
        async fn one(client: &mut h2::client::SendRequest<Bytes>) {
            let (resp, _) = client
                .send_request(request("https://example.com/index.html"), true)
                .unwrap();
            let resp = resp.await.unwrap();
            let mut body = resp.into_body();
            let mut got = 0;
            while let Some(d) = body.data().await {
                let d = d.unwrap();
                got += d.len();
                body.flow_control().release_capacity(d.len()).unwrap();
            }
            assert_eq!(got, 1000);
        }
        for _ in 0..WARM {
            one(&mut client).await;
        }
        let (a, b) = (
            ALLOCS.load(Ordering::Relaxed),
            BYTES.load(Ordering::Relaxed),
        );
        ENABLED.with(|e| e.set(true));
        for _ in 0..N {
            client = client.ready().await.unwrap();
            one(&mut client).await;
        }
        ENABLED.with(|e| e.set(false));
        (
            ALLOCS.load(Ordering::Relaxed) - a,
            BYTES.load(Ordering::Relaxed) - b,
        )
    })
}

/// The native server (`h2o::net::server::serve`, one worker) in this process
/// under `h2load -n <n> -c 1 -m 10` for a 12-byte file: allocations and bytes
/// per request in the whole process while h2load runs (h2load is another
/// process; this thread only waits). `None` without h2load.
fn native_server(n: usize) -> Option<(f64, f64)> {
    use std::process::{Command, Stdio};
    let h2load = ["/usr/bin/h2load", "/usr/local/bin/h2load"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())?;
    let dir = std::env::temp_dir().join(format!("h2o-alloc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("small.txt"), b"hello world\n").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/small.txt", listener.local_addr().unwrap());
    let root = h2o::net::files::DocRoot::new(&dir).unwrap();
    std::thread::spawn(move || h2o::net::server::serve(listener, root));
    let log = dir.join("h2load.log");
    let run = |n: usize, count: bool| {
        let out = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(h2load)
            .args(["-n", &n.to_string(), "-c", "1", "-m", "10", &url])
            .stdout(Stdio::from(out))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (a, b) = (
            ALLOCS.load(Ordering::Relaxed),
            BYTES.load(Ordering::Relaxed),
        );
        COUNT_ALL.store(count, Ordering::Relaxed);
        let ok = child.wait().unwrap().success();
        COUNT_ALL.store(false, Ordering::Relaxed);
        let (a, b) = (
            ALLOCS.load(Ordering::Relaxed) - a,
            BYTES.load(Ordering::Relaxed) - b,
        );
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            ok && text.contains(&format!("{n} succeeded")),
            "h2load: {text}"
        );
        (a, b)
    };
    run(1000, false);
    let (a, b) = run(n, true);
    let _ = std::fs::remove_dir_all(&dir);
    Some((a as f64 / n as f64, b as f64 / n as f64))
}

fn main() {
    // `cargo bench` passes `--bench`; any other harness flag is ignored.
    let per = |(a, b): (usize, usize)| (a as f64 / N as f64, b as f64 / N as f64);
    let rows = [
        ("h2o, heads recycled", per(ours(true))),
        ("h2o, heads dropped", per(ours(false))),
        ("h2 0.4", per(h2_run())),
    ];
    println!("per GET exchange, {N} exchanges, both ends + application http values:");
    for (name, (a, b)) in rows {
        println!("  {name:<22} {a:>8.2} allocations {b:>10.0} bytes");
    }
    match native_server(N) {
        Some((a, b)) => println!(
            "native server (h2o::net::server, 1 worker) per request under h2load -n {N} -c 1 -m 10, 12 B file, whole process: {a:.2} allocations {b:.0} bytes"
        ),
        None => println!("native server: h2load not found, skipped"),
    }
}
