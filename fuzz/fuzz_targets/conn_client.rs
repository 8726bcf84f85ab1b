//! Client `Connection` (src/conn): after a valid server SETTINGS, arbitrary
//! peer bytes interleaved with application calls chosen by the input
//! (requests, request bodies, resets, PING, shutdown, timers, writes).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

use bytes::Bytes;
use core::time::Duration;
use h2o::conn::{Config, Connection};
use h2o::frame::{Frame, Settings};
use h2o::ErrorCode;

fuzz_target!(|data: &[u8]| {
    let mut c = common::Cursor::new(data);
    let cfg = Config {
        adaptive_window: c.byte() & 1 == 1,
        ..Config::default()
    };
    let mut cl = Connection::client(cfg);
    let mut now = Duration::ZERO;
    let mut out = Vec::new();
    cl.write_to(now, &mut out, 1 << 20);
    let mut hello = Vec::new();
    Frame::Settings {
        ack: false,
        settings: Settings {
            enable_connect_protocol: Some(1),
            ..Settings::default()
        },
    }
    .encode(&mut hello);
    cl.recv(now, &hello).expect("valid SETTINGS");
    let mut streams: Vec<u32> = Vec::new();
    let mut failed = false;
    while !c.is_empty() {
        match c.byte() % 10 {
            0..=3 => {
                let r = cl.recv(now, c.chunk());
                if failed {
                    assert!(r.is_err(), "recv succeeded after a connection error");
                }
                failed |= r.is_err();
            }
            4 => while cl.poll_event().is_some() {},
            5 => {
                let post = c.byte() & 1 == 1;
                let req = http::Request::builder()
                    .method(if post { "POST" } else { "GET" })
                    .uri("https://example.com/f")
                    .body(())
                    .unwrap();
                if let Ok(id) = cl.send_request(req, !post) {
                    streams.push(id);
                }
            }
            6 => {
                if !streams.is_empty() {
                    let id = streams[c.byte() as usize % streams.len()];
                    let n = c.u16() as usize;
                    let _ = cl.send_data(id, Bytes::from(vec![1u8; n]), c.byte() & 1 == 1);
                }
            }
            7 => {
                if !streams.is_empty() {
                    let id = streams[c.byte() as usize % streams.len()];
                    let _ = cl.reset(id, ErrorCode::CANCEL);
                }
            }
            8 => {
                match c.byte() % 3 {
                    0 => cl.ping([c.byte(); 8]),
                    1 => cl.shutdown(ErrorCode::NO_ERROR),
                    _ => cl.shutdown_graceful(now),
                }
                now += Duration::from_millis(c.u16() as u64);
                if cl.poll_timeout().is_some_and(|t| t <= now) {
                    cl.handle_timeout(now);
                }
            }
            _ => {
                out.clear();
                cl.write_to(now, &mut out, 1 + c.u16() as usize * 4);
            }
        }
        let _ = cl.is_closed();
    }
    while cl.poll_event().is_some() {}
});
