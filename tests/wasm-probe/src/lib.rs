//! Portability probe: one exported function that runs a full HTTP/2
//! request/response over [`h2o::pair::Pair`] (client and server connections of
//! the sans-IO core joined in memory), so the whole core is linked into the
//! wasm module that `scripts/wasm-check.sh` inspects (it must import nothing
//! from `env`).

use bytes::Bytes;
use h2o::pair::Pair;
use h2o::Event;

/// Runs GET / answered with a `len`-byte body; returns the number of body
/// bytes the client received, or `u32::MAX` on any failure.
#[no_mangle]
pub extern "C" fn h2o_probe(len: u32) -> u32 {
    let mut p = Pair::connected();
    let req = match http::Request::get("http://probe.local/").body(()) {
        Ok(r) => r,
        Err(_) => return u32::MAX,
    };
    let Ok(sid) = p.client.send_request(req, true) else {
        return u32::MAX;
    };
    p.drive();
    let got_request = p
        .server_events
        .drain(..)
        .any(|ev| matches!(ev, Event::Request { stream_id, .. } if stream_id == sid));
    if !got_request {
        return u32::MAX;
    }
    let resp = match http::Response::builder().status(200).body(()) {
        Ok(r) => r,
        Err(_) => return u32::MAX,
    };
    let body = Bytes::from(vec![0x5a; len as usize]);
    if p.server.send_response(sid, resp, false).is_err()
        || p.server.send_data(sid, body, true).is_err()
    {
        return u32::MAX;
    }
    p.drive();
    if !p.client_errors.is_empty() || !p.server_errors.is_empty() {
        return u32::MAX;
    }
    let mut received = 0u32;
    let mut ended = false;
    for ev in p.client_events.drain(..) {
        match ev {
            Event::Data {
                data, end_stream, ..
            } => {
                received += data.len() as u32;
                ended |= end_stream;
            }
            Event::Reset { .. } | Event::GoAway { .. } => return u32::MAX,
            _ => {}
        }
    }
    if ended {
        received
    } else {
        u32::MAX
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn probe_round_trips_natively() {
        assert_eq!(super::h2o_probe(0), 0);
        assert_eq!(super::h2o_probe(100_000), 100_000);
    }
}
