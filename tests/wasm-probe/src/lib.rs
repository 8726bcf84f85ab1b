//! Portability probe: one exported function that runs a full HTTP/2
//! request/response between an in-memory client and server built from the
//! sans-IO core, so the whole core is linked into the wasm module that
//! `scripts/wasm-check.sh` inspects (it must import nothing from `env`).

use core::time::Duration;

use bytes::Bytes;
use h2o::{Config, Connection, Event};

/// Moves all pending output of `from` into `to`; false on a protocol error.
fn shuttle(from: &mut Connection, to: &mut Connection, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    from.write_to(buf, usize::MAX);
    buf.is_empty() || to.recv(buf).is_ok()
}

/// Runs GET / with a `len`-byte response body; returns the number of body
/// bytes the client received, or `u32::MAX` on any failure.
#[no_mangle]
pub extern "C" fn h2o_probe(len: u32) -> u32 {
    let mut client = Connection::client(Config::default());
    let mut server = Connection::server(Config::default());
    let req = match http::Request::get("http://probe.local/").body(()) {
        Ok(r) => r,
        Err(_) => return u32::MAX,
    };
    if client.send_request(req, true).is_err() {
        return u32::MAX;
    }
    let body = Bytes::from(vec![0x5a; len as usize]);
    let mut received = 0u32;
    let mut buf = Vec::new();
    for _ in 0..10_000 {
        if !shuttle(&mut client, &mut server, &mut buf)
            || !shuttle(&mut server, &mut client, &mut buf)
        {
            return u32::MAX;
        }
        client.handle_timeout(Duration::ZERO);
        while let Some(ev) = server.poll_event() {
            if let Event::Request { stream_id, .. } = ev {
                let resp = match http::Response::builder().status(200).body(()) {
                    Ok(r) => r,
                    Err(_) => return u32::MAX,
                };
                if server.send_response(stream_id, resp, false).is_err()
                    || server.send_data(stream_id, body.clone(), true).is_err()
                {
                    return u32::MAX;
                }
            }
        }
        while let Some(ev) = client.poll_event() {
            match ev {
                Event::Data {
                    data, end_stream, ..
                } => {
                    received += data.len() as u32;
                    if end_stream {
                        return received;
                    }
                }
                Event::Response {
                    end_stream: true, ..
                } => return received,
                Event::Reset { .. } | Event::GoAway { .. } => return u32::MAX,
                _ => {}
            }
        }
    }
    u32::MAX
}
