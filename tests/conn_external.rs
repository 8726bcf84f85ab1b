//! Adapter-supplied DATA payloads: `Connection::send_data_external` +
//! `Connection::write_chunks_ext` (zero-copy send path). The test plays the
//! adapter: it replaces every `Chunk::External` with the body bytes it names and
//! checks frame headers, frame sizes, flow control and END_STREAM on a real
//! client connection.

mod common;

use bytes::Bytes;
use common::*;
use h2o::conn::{Chunk, Config, Event, UserError};
use h2o::pair::Pair;

/// Moves bytes both ways until quiet; the server side writes with
/// `write_chunks_ext`, external chunks are filled from `bodies[stream]`.
/// Returns the largest external chunk seen and the number of them.
fn pump(p: &mut Pair, bodies: &[(u32, Vec<u8>)], limit: usize) -> (u32, usize) {
    let mut max_len = 0;
    let mut count = 0;
    for _ in 0..100_000 {
        let mut moved = false;
        let mut buf = Vec::new();
        if p.client.write_to(p.now, &mut buf, 1 << 20) > 0 {
            moved = true;
            p.server.recv(p.now, &buf).unwrap();
        }
        let mut chunks = Vec::new();
        if p.server.write_chunks_ext(p.now, &mut chunks, limit) > 0 {
            moved = true;
            let mut wire: Vec<u8> = Vec::new();
            for ch in &chunks {
                match ch {
                    Chunk::Bytes(b) => wire.extend_from_slice(b),
                    Chunk::External {
                        stream_id,
                        offset_in_body,
                        len,
                    } => {
                        // The frame header is the tail of what precedes.
                        let h = &wire[wire.len() - 9..];
                        let flen = u32::from_be_bytes([0, h[0], h[1], h[2]]);
                        assert_eq!(flen, *len, "header length");
                        assert_eq!(h[3], 0, "DATA frame type");
                        let sid = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
                        assert_eq!(sid, *stream_id);
                        let body = &bodies.iter().find(|(s, _)| s == stream_id).unwrap().1;
                        let o = *offset_in_body as usize;
                        wire.extend_from_slice(&body[o..o + *len as usize]);
                        max_len = max_len.max(*len);
                        count += 1;
                    }
                }
            }
            assert_eq!(
                chunks.iter().map(Chunk::len).sum::<usize>(),
                wire.len(),
                "chunk lengths"
            );
            p.client.recv(p.now, &wire).unwrap();
        }
        p.poll_events();
        if !moved && !p.client.wants_write() && !p.server.wants_write() {
            return (max_len, count);
        }
    }
    panic!("pump did not settle");
}

fn start(p: &mut Pair, path: &str) -> u32 {
    let id = p.client.send_request(get(path), true).unwrap();
    p.drive();
    let ids = request_ids(&p.server_events);
    assert!(ids.contains(&id));
    p.server.send_response(id, ok(), false).unwrap();
    id
}

#[test]
fn external_body_arrives_byte_exact_within_windows() {
    let mut p = connected();
    let id = start(&mut p, "/big");
    // Larger than the client's stream window (1 MiB): needs WINDOW_UPDATEs.
    let body = pattern(3 << 20 | 17).to_vec();
    p.server
        .send_data_external(id, body.len() as u64, true)
        .unwrap();
    assert_eq!(p.server.queued_len(id), Some(body.len()));
    let (max_len, count) = pump(&mut p, &[(id, body.clone())], 256 << 10);
    assert!(max_len <= 16_384, "frame larger than max frame size");
    assert!(count >= body.len() / 16_384);
    let (got, end) = body_of(&p.client_events, id);
    assert!(end, "END_STREAM");
    assert_eq!(got, body);
    assert!(closed(&p.client_events, id));
}

#[test]
fn bytes_then_external_then_trailers_keep_order() {
    let mut p = connected();
    let id = start(&mut p, "/mix");
    let head = pattern(20_000);
    let ext = pattern(50_001).slice(1..).to_vec();
    p.server.send_data(id, head.clone(), false).unwrap();
    p.server
        .send_data_external(id, ext.len() as u64, false)
        .unwrap();
    // Bytes after pending external data would reorder the body: refused.
    assert!(matches!(
        p.server.send_data(id, Bytes::from_static(b"x"), false),
        Err(UserError::ExternalDataPending)
    ));
    let mut t = http::HeaderMap::new();
    t.insert("x-t", "1".parse().unwrap());
    p.server.send_trailers(id, t).unwrap();
    pump(&mut p, &[(id, ext.clone())], 1 << 20);
    let (got, _) = body_of(&p.client_events, id);
    let mut want = head.to_vec();
    want.extend_from_slice(&ext);
    assert_eq!(got, want);
    assert!(p
        .client_events
        .iter()
        .any(|e| matches!(e, Event::Trailers { stream_id, .. } if *stream_id == id)));
    assert!(closed(&p.client_events, id));
}

#[test]
fn small_windows_and_many_streams() {
    // 16 KiB stream windows on the client: every external frame fits them.
    let client = Config {
        initial_window_size: 16_384,
        connection_window_size: 65_535,
        ..Config::default()
    };
    let mut p = Pair::new(client, Config::default());
    p.drive();
    let mut bodies = Vec::new();
    for i in 0..5usize {
        let id = start(&mut p, &format!("/s{i}"));
        let body = pattern(1 + i * 40_000).to_vec();
        p.server
            .send_data_external(id, body.len() as u64, true)
            .unwrap();
        bodies.push((id, body));
    }
    pump(&mut p, &bodies, 30_000);
    for (id, body) in &bodies {
        let (got, end) = body_of(&p.client_events, *id);
        assert!(end);
        assert_eq!(&got, body, "stream {id}");
    }
}

#[test]
fn write_to_does_not_emit_external_data() {
    let mut p = connected();
    let id = start(&mut p, "/x");
    p.server.send_data_external(id, 100, true).unwrap();
    let mut out = Vec::new();
    p.server.write_to(p.now, &mut out, 1 << 20);
    // Only the HEADERS frame: the external payload needs write_chunks_ext.
    assert!(!out.is_empty());
    let mut again = Vec::new();
    p.server.write_to(p.now, &mut again, 1 << 20);
    assert!(again.is_empty());
    let mut chunks = Vec::new();
    assert_eq!(
        p.server.write_chunks_ext(p.now, &mut chunks, 1 << 20),
        9 + 100
    );
    assert_eq!(
        chunks.last(),
        Some(&Chunk::External {
            stream_id: id,
            offset_in_body: 0,
            len: 100
        })
    );
    // Unknown stream and closed send side are refused.
    assert_eq!(
        p.server.send_data_external(99, 1, true),
        Err(UserError::UnknownStream)
    );
}

#[test]
fn zero_length_external_end_stream() {
    let mut p = connected();
    let id = start(&mut p, "/empty");
    p.server.send_data_external(id, 0, true).unwrap();
    pump(&mut p, &[(id, Vec::new())], 1 << 20);
    let (got, end) = body_of(&p.client_events, id);
    assert!(end && got.is_empty());
}
