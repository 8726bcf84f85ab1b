//! WebSocket hardening against `h2o serve --ws-echo` on loopback (issue 14):
//! - backpressure: a client that sends 64 MiB without reading the echo is
//!   stalled (RFC 8441: by HTTP/2 flow control, the server's manual release;
//!   HTTP/1.1 Upgrade: by TCP, the server stops reading) while the server's
//!   resident memory stays under a stated bound; once the client reads,
//!   everything is echoed byte-exact.
//! - strict echo: valid frames before a protocol error in the same read are
//!   answered, in order, before the close with the error's code.
//!
//! The RFC 8441 client is the crate's own core ([`Connection`] + [`WsStream`])
//! over a blocking socket; it keeps its own stream in manual release so that
//! "not reading" means granting the server no window for the echo.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2o::conn::{Config as H2Config, Connection, Event as H2Event};
use h2o::frame::StreamId;
use h2o::ws::frame::{parse_header, OpCode};
use h2o::ws::h2::WsStream;
use h2o::ws::{Config, Event, Message, Role, WebSocket};
use support::*;

/// Total bytes the backpressure tests send.
const TOTAL: usize = 64 << 20;
/// One message.
const MSG: usize = 64 << 10;
/// Stated bound on the server's resident memory while a 64 MiB sender is
/// stalled (the stall itself needs: RFC 8441 one stream window, at most
/// 16 MiB adaptive, + 1 MiB echo queue; HTTP/1.1 8 MiB output backlog).
const RSS_BOUND_KB: u64 = 48 << 10;

fn serve_echo(tag: &str) -> (TempDir, ServerGuard) {
    let dir = TempDir::new(tag);
    std::fs::write(dir.path().join("index.html"), b"<p>hi</p>\n").unwrap();
    let g = spawn_h2o_serve_with(dir.path(), &["--ws-echo", "/echo"]);
    (dir, g)
}

/// Message `k`: MSG bytes, a pattern that differs per message.
fn message(k: usize) -> Vec<u8> {
    (0..MSG).map(|i| (i * 7 + k * 13) as u8).collect()
}

/// A masked client frame with an explicit first byte.
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let key = [9u8, 8, 7, 6];
    let mut v = vec![first, 0x80 | payload.len() as u8];
    v.extend_from_slice(&key);
    let mut p = payload.to_vec();
    h2o::ws::apply_mask(&mut p, key, 0);
    v.extend_from_slice(&p);
    v
}

/// Splits unmasked server frames: `(opcode, payload)`; a partial tail is left.
fn frames(buf: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Ok(Some((h, n))) = parse_header(&buf[pos..]) {
        let end = pos + n + h.payload_len as usize;
        if end > buf.len() {
            break;
        }
        out.push((h.opcode, buf[pos + n..end].to_vec()));
        pos = end;
    }
    out
}

/// [text "a", ping "p", binary "b", then `bad`] in one write.
fn strict_input(bad: &[u8]) -> Vec<u8> {
    let mut v = masked(0x81, b"a");
    v.extend(masked(0x89, b"p"));
    v.extend(masked(0x82, b"b"));
    v.extend_from_slice(bad);
    v
}

/// The answers strict echo requires, in order, ending with close `code`.
fn assert_strict(got: &[(OpCode, Vec<u8>)], code: u16, what: &str) {
    let kinds: Vec<_> = got.iter().map(|(o, p)| (*o, p.clone())).collect();
    assert!(kinds.len() >= 4, "{what}: too few frames: {kinds:?}");
    assert_eq!(kinds[0], (OpCode::Text, b"a".to_vec()), "{what}");
    assert_eq!(kinds[1], (OpCode::Pong, b"p".to_vec()), "{what}");
    assert_eq!(kinds[2], (OpCode::Binary, b"b".to_vec()), "{what}");
    assert_eq!(kinds[3].0, OpCode::Close, "{what}: {kinds:?}");
    assert_eq!(
        u16::from_be_bytes([kinds[3].1[0], kinds[3].1[1]]),
        code,
        "{what}"
    );
    assert_eq!(kinds.len(), 4, "{what}: frames after the close: {kinds:?}");
}

/// Invalid frames and the close code each must get.
fn bad_frames() -> [(&'static str, Vec<u8>, u16); 3] {
    // A binary frame header announcing 32 MiB (over the 16 MiB frame limit).
    let mut too_big = vec![0x82, 0x80 | 127];
    too_big.extend_from_slice(&(32u64 << 20).to_be_bytes());
    too_big.extend_from_slice(&[1, 2, 3, 4]);
    [
        ("reserved opcode 3", masked(0x83, b"x"), 1002),
        ("invalid UTF-8", masked(0x81, b"\xff\xfe"), 1007),
        ("frame too big", too_big, 1009),
    ]
}

// ------------------------------------------------------------ HTTP/1.1

fn upgrade(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(
        b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1, "EOF in the 101 head");
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    s
}

#[test]
fn http1_strict_echo_before_protocol_error() {
    let (_d, g) = serve_echo("ws-strict1");
    for (what, bad, code) in bad_frames() {
        let mut s = upgrade(g.addr);
        s.write_all(&strict_input(&bad)).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        assert_strict(&frames(&got), code, what);
    }
}

#[test]
fn http1_sender_without_reading_is_stalled_with_bounded_memory() {
    let (_d, mut g) = serve_echo("ws-bp1");
    let pid = g.child.id();
    let base = rss_kb(pid);
    let s = upgrade(g.addr);
    let mut ws_sock = s.try_clone().unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let sent_w = sent.clone();
    // Writer: 64 MiB of binary messages; blocks when TCP stalls.
    let writer = std::thread::spawn(move || {
        let mut ws = WebSocket::new(Role::Client, Config::default());
        let mut buf = Vec::new();
        for k in 0..TOTAL / MSG {
            ws.send_binary(&message(k)).unwrap();
            buf.clear();
            ws.write_to(&mut buf);
            ws_sock.write_all(&buf).unwrap();
            sent_w.fetch_add(MSG as u64, Ordering::Relaxed);
        }
    });
    let (stalled_at, peak) = wait_stall(&sent, pid);
    eprintln!(
        "http1: sender stalled at {} KiB of {} KiB; server RSS {} KiB (baseline {base} KiB, peak {peak} KiB)",
        stalled_at >> 10,
        TOTAL >> 10,
        rss_kb(pid)
    );
    assert!(stalled_at < TOTAL as u64 / 2, "not stalled: {stalled_at}");
    assert!(peak < RSS_BOUND_KB, "server RSS {peak} KiB over the bound");
    // Now read: every message comes back byte-exact, in order.
    let mut rs = s;
    let mut ws = WebSocket::new(Role::Client, Config::default());
    let mut buf = vec![0u8; 1 << 16];
    let mut k = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while k < TOTAL / MSG {
        assert!(
            Instant::now() < deadline,
            "echo took too long ({k} messages)"
        );
        let n = rs.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {k} echoes");
        ws.recv(&buf[..n]).unwrap();
        while let Some(ev) = ws.poll_event() {
            match ev {
                Event::Message(Message::Binary(b)) => {
                    assert!(b == message(k), "message {k} differs");
                    k += 1;
                }
                e => panic!("{e:?}"),
            }
        }
    }
    writer.join().unwrap();
    assert!(g.alive());
}

/// Waits until `sent` stops moving for a second (bounded: 60 s); samples the
/// server's RSS meanwhile. Returns (bytes sent at the stall, peak RSS KiB).
fn wait_stall(sent: &AtomicU64, pid: u32) -> (u64, u64) {
    let start = Instant::now();
    let mut last = (sent.load(Ordering::Relaxed), Instant::now());
    let mut peak = 0;
    loop {
        std::thread::sleep(Duration::from_millis(50));
        peak = peak.max(rss_kb(pid));
        let now = sent.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(1) {
            return (now, peak);
        }
        assert!(start.elapsed() < Duration::from_secs(60), "never stalled");
        if now >= TOTAL as u64 {
            return (now, peak);
        }
    }
}

// ------------------------------------------------------------ RFC 8441

/// A minimal RFC 8441 client: the crate's core over a blocking socket.
struct H2Ws {
    sock: TcpStream,
    conn: Connection,
    start: Instant,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    ws: WsStream,
    id: StreamId,
    /// Raw DATA received on the WebSocket stream, and its END_STREAM.
    raw: Vec<u8>,
    ended: bool,
    /// Release the stream's DATA credit as it is taken ("reading").
    reading: bool,
}

impl H2Ws {
    fn connect(addr: SocketAddr) -> H2Ws {
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_nodelay(true).unwrap();
        let conn = Connection::client(H2Config {
            initial_window_size: 65_535,
            adaptive_window: false,
            ..H2Config::default()
        });
        let mut c = H2Ws {
            sock,
            conn,
            start: Instant::now(),
            rbuf: vec![0u8; 1 << 16],
            wbuf: Vec::new(),
            ws: WsStream::new(0, WebSocket::new(Role::Client, Config::default())),
            id: 0,
            raw: Vec::new(),
            ended: false,
            reading: true,
        };
        // The server's SETTINGS (ENABLE_CONNECT_PROTOCOL) first.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut settings = false;
        while !settings {
            assert!(Instant::now() < deadline, "no SETTINGS");
            c.flush();
            c.read_once(Duration::from_millis(200));
            while let Some(ev) = c.conn.poll_event() {
                settings |= matches!(ev, H2Event::Settings(_));
            }
        }
        let ws = WebSocket::new(Role::Client, Config::default());
        let uri = format!("http://{addr}/echo");
        c.ws = WsStream::connect(&mut c.conn, &uri, ws).unwrap();
        c.id = c.ws.stream_id();
        c.conn.set_manual_release(c.id).unwrap();
        let mut ok = false;
        while !ok {
            assert!(Instant::now() < deadline, "no CONNECT response");
            c.pump(Duration::from_millis(200), &mut |_| {});
            ok = c.ws.is_established();
        }
        c
    }

    fn flush(&mut self) {
        let _ = self.ws.flush(&mut self.conn);
        loop {
            self.wbuf.clear();
            self.conn
                .write_to(self.start.elapsed(), &mut self.wbuf, 1 << 20);
            if self.wbuf.is_empty() {
                return;
            }
            self.sock.write_all(&self.wbuf).unwrap();
        }
    }

    fn read_once(&mut self, wait: Duration) {
        self.sock.set_read_timeout(Some(wait)).unwrap();
        match self.sock.read(&mut self.rbuf) {
            Ok(0) => {}
            Ok(n) => {
                self.conn
                    .recv(self.start.elapsed(), &self.rbuf[..n])
                    .expect("server sent a protocol error");
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("read: {e}"),
        }
    }

    /// Flush, one read, dispatch: WebSocket events go to `on_event`.
    fn pump(&mut self, wait: Duration, on_event: &mut dyn FnMut(Event)) {
        self.flush();
        self.read_once(wait);
        while let Some(ev) = self.conn.poll_event() {
            match ev {
                H2Event::Response { response, .. } => {
                    self.ws.on_response(&response).expect("200 to CONNECT");
                }
                H2Event::Data {
                    stream_id,
                    data,
                    end_stream,
                } if stream_id == self.id => {
                    self.raw.extend_from_slice(&data);
                    self.ended |= end_stream;
                    let _ = self.ws.on_data(&mut self.conn, &data, end_stream);
                    while let Some(e) = self.ws.poll_event() {
                        on_event(e);
                    }
                }
                H2Event::Reset { .. } => panic!("stream reset: {ev:?}"),
                _ => {}
            }
        }
        if self.reading {
            let held = self.conn.held_capacity(self.id);
            self.conn.release_capacity(self.id, held);
        }
        self.flush();
    }
}

#[test]
fn rfc8441_strict_echo_before_protocol_error() {
    let (_d, g) = serve_echo("ws-strict2");
    for (what, bad, code) in bad_frames() {
        let mut c = H2Ws::connect(g.addr);
        // All four frames in one DATA frame: one read on the server.
        c.conn
            .send_data(c.id, Bytes::from(strict_input(&bad)), false)
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !c.ended {
            assert!(Instant::now() < deadline, "{what}: stream not ended");
            c.pump(Duration::from_millis(200), &mut |_| {});
        }
        assert_strict(&frames(&c.raw), code, what);
    }
}

#[test]
fn rfc8441_sender_without_reading_is_stalled_with_bounded_memory() {
    let (_d, mut g) = serve_echo("ws-bp2");
    let pid = g.child.id();
    let base = rss_kb(pid);
    let mut c = H2Ws::connect(g.addr);
    c.reading = false;
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kb(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let mut queued = 0usize; // bytes handed to the client core
    let mut k_sent = 0usize;
    let mut k_recv = 0usize;
    let on_event = |e: Event, k_recv: &mut usize| match e {
        Event::Message(Message::Binary(b)) => {
            assert!(b == message(*k_recv), "message {k_recv} differs");
            *k_recv += 1;
        }
        e => panic!("{e:?}"),
    };
    // Phase 1: send without granting the server any window for the echo.
    let start = Instant::now();
    let mut last = (0usize, Instant::now());
    let stalled_at = loop {
        assert!(start.elapsed() < Duration::from_secs(60), "never stalled");
        while k_sent < TOTAL / MSG && c.conn.queued_len(c.id).unwrap_or(0) < 1 << 20 {
            c.ws.websocket().send_binary(&message(k_sent)).unwrap();
            k_sent += 1;
            queued += MSG + 14;
        }
        c.pump(Duration::from_millis(20), &mut |e| on_event(e, &mut k_recv));
        let accepted = queued - c.conn.queued_len(c.id).unwrap_or(0);
        if accepted != last.0 {
            last = (accepted, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(1) {
            break accepted;
        }
    };
    let stalled_rss = peak.load(Ordering::Relaxed);
    eprintln!(
        "rfc8441: sender stalled at {} KiB of {} KiB (server window {} B); server RSS peak {stalled_rss} KiB (baseline {base} KiB)",
        stalled_at >> 10,
        TOTAL >> 10,
        c.conn.send_window(c.id).unwrap_or(0),
    );
    assert!(
        stalled_at < TOTAL / 2,
        "not stalled by flow control: {stalled_at}"
    );
    assert_eq!(c.conn.send_window(c.id), Some(0), "stalled by the window");
    assert!(
        stalled_rss < RSS_BOUND_KB,
        "server RSS {stalled_rss} KiB over the bound"
    );
    // Phase 2: read (release credit); everything echoes byte-exact, in order.
    c.reading = true;
    let deadline = Instant::now() + Duration::from_secs(120);
    while k_recv < TOTAL / MSG {
        assert!(
            Instant::now() < deadline,
            "echo took too long ({k_recv} messages)"
        );
        while k_sent < TOTAL / MSG && c.conn.queued_len(c.id).unwrap_or(0) < 1 << 20 {
            c.ws.websocket().send_binary(&message(k_sent)).unwrap();
            k_sent += 1;
        }
        c.pump(Duration::from_millis(20), &mut |e| on_event(e, &mut k_recv));
    }
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    eprintln!(
        "rfc8441: all {} MiB echoed; server RSS peak overall {} KiB",
        TOTAL >> 20,
        peak.load(Ordering::Relaxed)
    );
    assert!(g.alive());
}
