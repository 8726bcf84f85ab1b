//! WebSocket codec (src/ws/conn), both roles: arbitrary peer bytes in
//! arbitrary chunks interleaved with sends, pings, closes and writes chosen by
//! the input. Checks that an error is sticky and that the codec's own
//! output parses back in a codec of the other role.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

use h2o::ws::{CloseCode, Config, Role, WebSocket};

fuzz_target!(|data: &[u8]| {
    let mut c = common::Cursor::new(data);
    let role = if c.byte() & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let cfg = Config {
        max_frame_size: 1 + c.u16() as usize * 16,
        max_message_size: 1 + c.u16() as usize * 64,
        auto_pong: c.byte() & 1 == 0,
        ..Config::default()
    };
    let other = if role == Role::Server {
        Role::Client
    } else {
        Role::Server
    };
    let mut ws = WebSocket::new(role, cfg);
    // The peer of our own output: it must always accept what we write.
    let mut peer = WebSocket::new(other, Config::default());
    let mut failed = false;
    let mut out = Vec::new();
    while !c.is_empty() {
        match c.byte() % 8 {
            0..=2 => {
                let r = ws.recv(c.chunk());
                if failed {
                    assert!(r.is_err());
                }
                failed |= r.is_err();
                while ws.poll_event().is_some() {}
            }
            3 => {
                let b = c.chunk();
                match std::str::from_utf8(b) {
                    Ok(t) => drop(ws.send_text(t)),
                    Err(_) => drop(ws.send_binary(b)),
                }
            }
            4 => {
                let n = c.byte() as usize % 130;
                let b = c.take(n);
                let _ = ws.send_ping(b);
            }
            5 => {
                let code = CloseCode(1000 + c.byte() as u16 % 16);
                let _ = ws.close(code, "bye");
            }
            _ => {
                out.clear();
                ws.write_to(&mut out);
                peer.recv(&out).expect("the peer accepts our own output");
                while peer.poll_event().is_some() {}
            }
        }
        let _ = ws.is_closed();
    }
});
