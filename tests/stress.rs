//! Mixed-frame load against `h2o serve`: a few parallel raw TCP connections
//! push thousands of streams crafted with our frame + HPACK encoders (GETs with
//! HEADERS+CONTINUATION, HEAD, POST+DATA, PING, SETTINGS, WINDOW_UPDATE,
//! PRIORITY, PRIORITY_UPDATE, unknown frame types), interleaved. Every
//! response (status, byte-exact body) and every PING/SETTINGS ACK is checked;
//! afterwards the server must still be alive and serve a fresh connection.

mod support;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2o::frame::{self, encode::write_header_block, Frame, FrameDecoder, PrioritySpec, Settings};
use h2o::hpack::{Decoder, Encoder, HeaderField};
use h2o::ErrorCode;

use support::{random_bytes, spawn_h2o_serve, TempDir};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Streams in flight per connection (the server advertises 100).
const IN_FLIGHT: usize = 64;

#[derive(Clone, Debug)]
struct Expect {
    status: u16,
    body: Arc<Vec<u8>>,
    /// A POST answered before its body arrived may be followed by RST_STREAM.
    post: bool,
}

#[derive(Default, Debug)]
struct Resp {
    status: Option<u16>,
    content_length: Option<u64>,
    body: Vec<u8>,
    done: bool,
}

struct Files {
    small: Arc<Vec<u8>>,
    mid: Arc<Vec<u8>>,
    big: Arc<Vec<u8>>,
    empty: Arc<Vec<u8>>,
    not_found: Arc<Vec<u8>>,
}

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[derive(Default)]
struct Shared {
    expect: HashMap<u32, Expect>,
    pings: HashSet<[u8; 8]>,
    settings_sent: usize,
}

/// Runs one connection with `streams` requests; returns (#responses checked, #pings, #settings acks).
fn run_connection(
    addr: SocketAddr,
    streams: usize,
    seed: u64,
    files: Arc<Files>,
    deadline: Instant,
) -> Result<(usize, usize, usize), String> {
    let sock = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    sock.set_nodelay(true).unwrap();
    let wsock = Arc::new(Mutex::new(sock.try_clone().unwrap()));
    let shared = Arc::new(Mutex::new(Shared::default()));
    let (slot_tx, slot_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();

    // The preface goes out before the reader may answer the server's SETTINGS.
    {
        let mut buf = PREFACE.to_vec();
        Frame::Settings {
            ack: false,
            settings: Settings {
                initial_window_size: Some(8 << 20),
                enable_push: Some(0),
                ..Settings::default()
            },
        }
        .encode(&mut buf);
        Frame::WindowUpdate {
            stream_id: 0,
            increment: (1 << 30),
        }
        .encode(&mut buf);
        shared.lock().unwrap().settings_sent += 1;
        wsock
            .lock()
            .unwrap()
            .write_all(&buf)
            .map_err(|e| format!("write preface: {e}"))?;
    }
    // ---- writer ----
    let w_shared = Arc::clone(&shared);
    let w_sock = Arc::clone(&wsock);
    let w_files = Arc::clone(&files);
    let writer = std::thread::spawn(move || -> Result<(), String> {
        let mut rng = seed;
        let mut enc = Encoder::default();
        let mut buf: Vec<u8> = Vec::with_capacity(64 << 10);
        let mut in_flight = 0usize;
        let mut last_sid = 0u32;
        let flush = |buf: &mut Vec<u8>| -> Result<(), String> {
            if !buf.is_empty() {
                w_sock
                    .lock()
                    .unwrap()
                    .write_all(buf)
                    .map_err(|e| format!("write: {e}"))?;
                buf.clear();
            }
            Ok(())
        };
        for i in 0..streams {
            while in_flight >= IN_FLIGHT {
                flush(&mut buf)?;
                slot_rx
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .map_err(|_| {
                        format!("writer: no response slot before deadline (stream #{i})")
                    })?;
                in_flight -= 1;
            }
            let sid = 2 * i as u32 + 1;
            last_sid = sid;
            let r = xorshift(&mut rng);
            let (method, path, expect) = match r % 16 {
                0..=6 => (
                    "GET",
                    "/small.txt",
                    Expect {
                        status: 200,
                        body: w_files.small.clone(),
                        post: false,
                    },
                ),
                7 | 8 => (
                    "GET",
                    "/mid.bin",
                    Expect {
                        status: 200,
                        body: w_files.mid.clone(),
                        post: false,
                    },
                ),
                9 => (
                    "GET",
                    "/big.bin",
                    Expect {
                        status: 200,
                        body: w_files.big.clone(),
                        post: false,
                    },
                ),
                10 => (
                    "GET",
                    "/empty",
                    Expect {
                        status: 200,
                        body: w_files.empty.clone(),
                        post: false,
                    },
                ),
                11 => (
                    "GET",
                    "/missing",
                    Expect {
                        status: 404,
                        body: w_files.not_found.clone(),
                        post: false,
                    },
                ),
                12 => (
                    "HEAD",
                    "/mid.bin",
                    Expect {
                        status: 200,
                        body: Arc::new(Vec::new()),
                        post: false,
                    },
                ),
                _ => (
                    "POST",
                    "/small.txt",
                    Expect {
                        status: 405,
                        body: Arc::new(Vec::new()),
                        post: true,
                    },
                ),
            };
            w_shared.lock().unwrap().expect.insert(sid, expect);
            let pad = "p".repeat((r >> 8) as usize % 200);
            let cookie = format!("id={i}; seed={seed}");
            let fields = [
                (":method", method),
                (":scheme", "http"),
                (":authority", "localhost"),
                (":path", path),
                ("user-agent", "h2o-stress"),
                ("x-pad", pad.as_str()),
                ("cookie", cookie.as_str()),
            ];
            let mut block = Vec::new();
            enc.encode(
                fields.iter().map(|(n, v)| HeaderField {
                    name: n.as_bytes(),
                    value: v.as_bytes(),
                    never_index: false,
                }),
                &mut block,
            );
            let post = method == "POST";
            let end_stream = !post;
            if (r >> 16) % 2 == 0 {
                // Small max frame size forces HEADERS + several CONTINUATIONs.
                let prio = ((r >> 20) % 4 == 0).then_some(PrioritySpec {
                    exclusive: false,
                    dependency: 0,
                    weight: 15,
                });
                write_header_block(
                    &mut buf,
                    sid,
                    &block,
                    end_stream,
                    prio,
                    16 + (r >> 24) as u32 % 48,
                );
            } else {
                // Hand-split: HEADERS with the first part, one CONTINUATION with the rest.
                let cut = block.len() / 2;
                Frame::Headers {
                    stream_id: sid,
                    end_stream,
                    end_headers: cut == block.len(),
                    priority: None,
                    block: Bytes::copy_from_slice(&block[..cut]),
                }
                .encode(&mut buf);
                if cut < block.len() {
                    Frame::Continuation {
                        stream_id: sid,
                        end_headers: true,
                        block: Bytes::copy_from_slice(&block[cut..]),
                    }
                    .encode(&mut buf);
                }
            }
            if post {
                let body = random_bytes(1 + (r >> 32) as usize % 48, r);
                Frame::Data {
                    stream_id: sid,
                    end_stream: true,
                    flow_len: body.len() as u32,
                    data: Bytes::from(body),
                }
                .encode(&mut buf);
            }
            in_flight += 1;
            // Interleaved control / extension frames.
            match (r >> 40) % 12 {
                0 => {
                    let data = ((seed << 32) | i as u64).to_be_bytes();
                    w_shared.lock().unwrap().pings.insert(data);
                    Frame::Ping { ack: false, data }.encode(&mut buf);
                }
                1 => {
                    w_shared.lock().unwrap().settings_sent += 1;
                    Frame::Settings {
                        ack: false,
                        settings: Settings {
                            initial_window_size: Some(8 << 20),
                            max_header_list_size: Some(1 << 20),
                            ..Settings::default()
                        },
                    }
                    .encode(&mut buf);
                }
                2 => Frame::WindowUpdate {
                    stream_id: 0,
                    increment: 1 + (r % 1000) as u32,
                }
                .encode(&mut buf),
                3 => Frame::WindowUpdate {
                    stream_id: sid,
                    increment: 1 + (r % 1000) as u32,
                }
                .encode(&mut buf),
                4 => Frame::Priority {
                    stream_id: sid,
                    spec: PrioritySpec {
                        exclusive: false,
                        dependency: 0,
                        weight: (r % 256) as u8,
                    },
                }
                .encode(&mut buf),
                5 => Frame::PriorityUpdate {
                    prioritized_id: sid,
                    field_value: Bytes::from_static(b"u=2, i"),
                }
                .encode(&mut buf),
                6 => Frame::Unknown {
                    ty: 0xfa,
                    flags: 0x5,
                    stream_id: 0,
                    payload: Bytes::from(random_bytes((r % 64) as usize, r)),
                }
                .encode(&mut buf),
                7 => Frame::Unknown {
                    ty: 0x21,
                    flags: 0,
                    stream_id: sid,
                    payload: Bytes::from(random_bytes((r % 32) as usize, r)),
                }
                .encode(&mut buf),
                _ => {}
            }
            if buf.len() > 16 << 10 || (r >> 50) % 8 == 0 {
                flush(&mut buf)?;
            }
        }
        flush(&mut buf)?;
        let _ = last_sid;
        // Wait for the reader to finish, then close politely.
        let _ = done_rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        Frame::GoAway {
            last_stream_id: 0,
            code: ErrorCode::NO_ERROR,
            debug: Bytes::new(),
        }
        .encode(&mut buf);
        let _ = flush(&mut buf);
        Ok(())
    });

    // ---- reader (this thread) ----
    let result = read_responses(sock, &wsock, &shared, streams, &slot_tx, deadline);
    let _ = done_tx.send(());
    let wres = writer.join().map_err(|_| "writer panicked".to_string())?;
    let r = result?;
    wres?;
    Ok(r)
}

fn read_responses(
    mut sock: TcpStream,
    wsock: &Arc<Mutex<TcpStream>>,
    shared: &Arc<Mutex<Shared>>,
    streams: usize,
    slot_tx: &mpsc::Sender<()>,
    deadline: Instant,
) -> Result<(usize, usize, usize), String> {
    let mut dec = FrameDecoder::new(frame::DEFAULT_MAX_FRAME_SIZE);
    let mut hdec = Decoder::default();
    let mut resps: HashMap<u32, Resp> = HashMap::new();
    let mut pending_block: Option<(u32, Vec<u8>, bool)> = None;
    let mut checked = 0usize;
    let mut pings = 0usize;
    let mut settings_acks = 0usize;
    let mut consumed = 0u64;
    let mut rbuf = vec![0u8; 128 << 10];
    let mut out = Vec::new();
    loop {
        let need_settings = shared.lock().unwrap().settings_sent;
        let pings_left = shared.lock().unwrap().pings.len();
        if checked == streams && settings_acks == need_settings && pings_left == 0 {
            return Ok((checked, pings, settings_acks));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "deadline: {checked}/{streams} responses, {settings_acks}/{need_settings} settings acks, {pings_left} pings unanswered"
            ));
        }
        sock.set_read_timeout(Some(left)).unwrap();
        let n = match sock.read(&mut rbuf) {
            Ok(0) => {
                return Err(format!(
                    "server closed the connection after {checked}/{streams} responses"
                ))
            }
            Ok(n) => n,
            Err(e) => return Err(format!("read: {e} after {checked}/{streams} responses")),
        };
        dec.push(&rbuf[..n]);
        for f in dec.frames() {
            let f = f.map_err(|e| format!("bad frame from server: {e}"))?;
            if let Some((sid, _, _)) = &pending_block {
                if !matches!(&f, Frame::Continuation { stream_id, .. } if stream_id == sid) {
                    return Err(format!("expected CONTINUATION on {sid}, got {f:?}"));
                }
            }
            let mut block_done: Option<(u32, Vec<u8>, bool)> = None;
            match f {
                Frame::Headers {
                    stream_id,
                    end_stream,
                    end_headers,
                    block,
                    ..
                } => {
                    if end_headers {
                        block_done = Some((stream_id, block.to_vec(), end_stream));
                    } else {
                        pending_block = Some((stream_id, block.to_vec(), end_stream));
                    }
                }
                Frame::Continuation {
                    end_headers, block, ..
                } => {
                    let (sid, mut b, es) = pending_block.take().ok_or("stray CONTINUATION")?;
                    b.extend_from_slice(&block);
                    if end_headers {
                        block_done = Some((sid, b, es));
                    } else {
                        pending_block = Some((sid, b, es));
                    }
                }
                Frame::Data {
                    stream_id,
                    end_stream,
                    data,
                    flow_len,
                } => {
                    consumed += flow_len as u64;
                    let r = resps
                        .get_mut(&stream_id)
                        .ok_or_else(|| format!("DATA on unknown stream {stream_id}"))?;
                    if r.status.is_none() || r.done {
                        return Err(format!("DATA on stream {stream_id} outside a response"));
                    }
                    r.body.extend_from_slice(&data);
                    if end_stream {
                        r.done = true;
                        finish(stream_id, &mut resps, shared, &mut checked, slot_tx)?;
                    }
                }
                Frame::Ping { ack: true, data } => {
                    if !shared.lock().unwrap().pings.remove(&data) {
                        return Err(format!("PING ACK with unknown payload {data:?}"));
                    }
                    pings += 1;
                }
                Frame::Ping { ack: false, data } => {
                    Frame::Ping { ack: true, data }.encode(&mut out);
                }
                Frame::Settings { ack: true, .. } => settings_acks += 1,
                Frame::Settings { ack: false, .. } => {
                    Frame::Settings {
                        ack: true,
                        settings: Settings::default(),
                    }
                    .encode(&mut out);
                }
                Frame::RstStream { stream_id, code } => {
                    let post_done = shared
                        .lock()
                        .unwrap()
                        .expect
                        .get(&stream_id)
                        .is_none_or(|e| e.post);
                    if !post_done {
                        return Err(format!("RST_STREAM {code} on stream {stream_id}"));
                    }
                }
                Frame::GoAway {
                    code,
                    debug,
                    last_stream_id,
                } => {
                    return Err(format!(
                        "GOAWAY {code} last={last_stream_id} {:?} after {checked}/{streams}",
                        String::from_utf8_lossy(&debug)
                    ));
                }
                _ => {}
            }
            if let Some((sid, block, end_stream)) = block_done {
                let mut status = None;
                let mut clen = None;
                let mut bad = None;
                hdec.decode(&block, |h| match h.name {
                    b":status" => {
                        status = std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|s| s.parse::<u16>().ok())
                    }
                    b"content-length" => {
                        clen = std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|s| s.parse::<u64>().ok())
                    }
                    n if n.starts_with(b":") => bad = Some(String::from_utf8_lossy(n).into_owned()),
                    _ => {}
                })
                .map_err(|e| format!("HPACK error on stream {sid}: {e}"))?;
                if let Some(b) = bad {
                    return Err(format!("unexpected pseudo-header {b} on stream {sid}"));
                }
                let r = resps.entry(sid).or_default();
                if r.status.is_some() {
                    return Err(format!("second header block on stream {sid}"));
                }
                r.status = Some(status.ok_or_else(|| format!("no :status on stream {sid}"))?);
                r.content_length = clen;
                if end_stream {
                    r.done = true;
                    finish(sid, &mut resps, shared, &mut checked, slot_tx)?;
                }
            }
        }
        if consumed > 256 << 20 {
            Frame::WindowUpdate {
                stream_id: 0,
                increment: consumed as u32,
            }
            .encode(&mut out);
            consumed = 0;
        }
        if !out.is_empty() {
            wsock
                .lock()
                .unwrap()
                .write_all(&out)
                .map_err(|e| format!("write: {e}"))?;
            out.clear();
        }
    }
}

fn finish(
    sid: u32,
    resps: &mut HashMap<u32, Resp>,
    shared: &Arc<Mutex<Shared>>,
    checked: &mut usize,
    slot_tx: &mpsc::Sender<()>,
) -> Result<(), String> {
    let r = resps.remove(&sid).unwrap();
    let e = shared
        .lock()
        .unwrap()
        .expect
        .get(&sid)
        .cloned()
        .ok_or_else(|| format!("response on unrequested stream {sid}"))?;
    if r.status != Some(e.status) {
        return Err(format!(
            "stream {sid}: status {:?}, expected {}",
            r.status, e.status
        ));
    }
    if r.body != *e.body {
        return Err(format!(
            "stream {sid}: body of {} bytes differs from the expected {} bytes",
            r.body.len(),
            e.body.len()
        ));
    }
    if e.status == 200
        && !e.post
        && !r.body.is_empty()
        && r.content_length != Some(e.body.len() as u64)
    {
        return Err(format!(
            "stream {sid}: content-length {:?}",
            r.content_length
        ));
    }
    *checked += 1;
    let _ = slot_tx.send(());
    Ok(())
}

#[test]
fn mixed_frame_load() {
    let dir = TempDir::new("stress");
    let small = b"hello world\n".to_vec();
    let mid = random_bytes(100 << 10, 7);
    let big = random_bytes(600 << 10, 11);
    std::fs::write(dir.path().join("small.txt"), &small).unwrap();
    std::fs::write(dir.path().join("mid.bin"), &mid).unwrap();
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    std::fs::write(dir.path().join("empty"), b"").unwrap();
    let files = Arc::new(Files {
        small: Arc::new(small.clone()),
        mid: Arc::new(mid),
        big: Arc::new(big),
        empty: Arc::new(Vec::new()),
        not_found: Arc::new(b"404 Not Found\n".to_vec()),
    });
    let mut server = spawn_h2o_serve(dir.path());
    let addr = server.addr;

    let (conns, per_conn) = if cfg!(debug_assertions) {
        (3, 600)
    } else {
        (4, 5000)
    };
    let start = Instant::now();
    let deadline = start + Duration::from_secs(20);
    let handles: Vec<_> = (0..conns)
        .map(|c| {
            let files = Arc::clone(&files);
            std::thread::spawn(move || {
                run_connection(
                    addr,
                    per_conn,
                    0x9e37_79b9 + c as u64 * 7919,
                    files,
                    deadline,
                )
            })
        })
        .collect();
    let mut total = (0, 0, 0);
    let mut errors = Vec::new();
    for (c, h) in handles.into_iter().enumerate() {
        match h.join().expect("connection thread panicked") {
            Ok((r, p, s)) => {
                total.0 += r;
                total.1 += p;
                total.2 += s;
            }
            Err(e) => errors.push(format!("connection {c}: {e}")),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "stress: {} responses, {} ping acks, {} settings acks over {conns} connections in {secs:.2} s ({:.0} req/s)",
        total.0,
        total.1,
        total.2,
        total.0 as f64 / secs
    );
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert_eq!(total.0, conns * per_conn);
    assert!(total.1 > 0 && total.2 >= conns);

    // Still alive, and serves a fresh connection.
    assert!(server.alive(), "server died under load");
    let fresh = run_connection(addr, 5, 42, files, Instant::now() + Duration::from_secs(10));
    assert_eq!(fresh.map(|r| r.0), Ok(5));
    assert!(server.alive());
    let _ = small;
}

#[test]
fn misbehaving_clients_do_not_hurt_the_server() {
    let dir = TempDir::new("stress-bad");
    let small = b"hello world\n".to_vec();
    let big = random_bytes(5 << 20, 5);
    std::fs::write(dir.path().join("small.txt"), &small).unwrap();
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    let mut server = spawn_h2o_serve(dir.path());
    let addr = server.addr;

    // Not the preface and not HTTP/1.1: a 400 answer, then the close.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"\x00\x01\x02 garbage\r\n\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .expect("server closes a garbage connection within 10 s");
    assert!(
        got.starts_with(b"HTTP/1.1 400 "),
        "{:?}",
        String::from_utf8_lossy(&got)
    );

    // Preface and half a frame, then gone.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(PREFACE).unwrap();
    s.write_all(&[0, 0, 40, 1, 4, 0, 0, 0, 1, 0x82]).unwrap();
    drop(s);

    // A 5 MiB download abandoned after the request, with an abortive close.
    let mut s = TcpStream::connect(addr).unwrap();
    let mut buf = PREFACE.to_vec();
    Frame::Settings {
        ack: false,
        settings: Settings::default(),
    }
    .encode(&mut buf);
    support::write_get(&mut buf, 1, "/big.bin");
    s.write_all(&buf).unwrap();
    let mut some = [0u8; 1024];
    let _ = s.read(&mut some);
    drop(s);

    // A connection that never sends anything stays open beside the others.
    let _idle = TcpStream::connect(addr).unwrap();

    std::thread::sleep(Duration::from_millis(200));
    assert!(server.alive(), "server died");
    let files = Arc::new(Files {
        small: Arc::new(small),
        mid: Arc::new(random_bytes(100 << 10, 7)),
        big: Arc::new(random_bytes(600 << 10, 11)),
        empty: Arc::new(Vec::new()),
        not_found: Arc::new(b"404 Not Found\n".to_vec()),
    });
    // Only small/missing/405 answers are checkable here (mid/big differ), so
    // write those files too.
    std::fs::write(dir.path().join("mid.bin"), &*files.mid).unwrap();
    std::fs::write(dir.path().join("big.bin"), &*files.big).unwrap();
    std::fs::write(dir.path().join("empty"), b"").unwrap();
    let fresh = run_connection(addr, 50, 7, files, Instant::now() + Duration::from_secs(20));
    assert_eq!(fresh.map(|r| r.0), Ok(50));
    assert!(server.alive());
}
