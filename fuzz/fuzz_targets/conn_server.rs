//! Server `Connection` (src/conn): after a valid client preface and
//! SETTINGS, arbitrary peer bytes interleaved with application calls chosen
//! by the input (responses, DATA, trailers, resets, PING, graceful and
//! immediate shutdown, timers, writes with small limits, manual release of
//! DATA credit). Checks that no call panics and that an ended connection
//! stays ended.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

use bytes::Bytes;
use core::time::Duration;
use h2o::conn::{Config, Connection, Event, PREFACE};
use h2o::frame::{Frame, Settings};
use h2o::ErrorCode;

fuzz_target!(|data: &[u8]| {
    let mut c = common::Cursor::new(data);
    let cfg = Config {
        max_concurrent_streams: 1 + c.byte() as u32 % 8,
        initial_window_size: 65_535 + (c.u16() as u32) * 16,
        adaptive_window: c.byte() & 1 == 1,
        ..Config::default()
    };
    let mut s = Connection::server(cfg);
    let mut now = Duration::ZERO;
    let mut hello = PREFACE.to_vec();
    Frame::Settings {
        ack: false,
        settings: Settings::default(),
    }
    .encode(&mut hello);
    s.recv(now, &hello).expect("valid preface");
    let mut out = Vec::new();
    let mut streams: Vec<u32> = Vec::new();
    let mut failed = false;
    while !c.is_empty() {
        match c.byte() % 12 {
            0..=3 => {
                let r = s.recv(now, c.chunk());
                if failed {
                    assert!(r.is_err(), "recv succeeded after a connection error");
                }
                failed |= r.is_err();
            }
            4 => {
                while let Some(ev) = s.poll_event() {
                    match ev {
                        Event::Request { stream_id, .. } => {
                            streams.push(stream_id);
                            // Manual release of DATA credit (RFC 8441 echo).
                            if c.byte() & 1 == 1 {
                                let _ = s.set_manual_release(stream_id);
                            }
                        }
                        Event::Data { stream_id, .. } => {
                            s.release_capacity(stream_id, c.u16() as usize);
                        }
                        _ => {}
                    }
                }
            }
            5 => {
                if let Some(&id) = pick(&mut c, &streams) {
                    let resp = http::Response::builder()
                        .status(if c.byte() & 1 == 0 { 200 } else { 103 })
                        .header("x-f", "1")
                        .body(())
                        .unwrap();
                    let _ = s.send_response(id, resp, c.byte() & 1 == 1);
                }
            }
            6 => {
                if let Some(&id) = pick(&mut c, &streams) {
                    let n = c.u16() as usize;
                    let _ = s.send_data(id, Bytes::from(vec![7u8; n]), c.byte() & 1 == 1);
                }
            }
            7 => {
                if let Some(&id) = pick(&mut c, &streams) {
                    if c.byte() & 1 == 0 {
                        let _ = s.reset(id, ErrorCode(c.byte() as u32 % 14));
                    } else {
                        let mut t = http::HeaderMap::new();
                        t.insert("x-t", http::HeaderValue::from_static("2"));
                        let _ = s.send_trailers(id, t);
                    }
                }
            }
            8 => match c.byte() % 4 {
                0 => s.ping([c.byte(); 8]),
                1 => s.shutdown_graceful(now),
                2 => s.shutdown(ErrorCode::NO_ERROR),
                _ => s.shutdown(ErrorCode::INTERNAL_ERROR),
            },
            9 => {
                now += Duration::from_millis(c.u16() as u64);
                if s.poll_timeout().is_some_and(|t| t <= now) {
                    s.handle_timeout(now);
                }
            }
            _ => {
                out.clear();
                let limit = 1 + c.u16() as usize * 4;
                s.write_to(now, &mut out, limit);
            }
        }
        let _ = s.is_closed();
        let _ = s.wants_write();
    }
    // Draining always terminates.
    for _ in 0..10_000 {
        out.clear();
        if s.write_to(now, &mut out, 1 << 20) == 0 {
            break;
        }
    }
});

fn pick<'a>(c: &mut common::Cursor<'_>, v: &'a [u32]) -> Option<&'a u32> {
    if v.is_empty() {
        None
    } else {
        v.get(c.byte() as usize % v.len())
    }
}
