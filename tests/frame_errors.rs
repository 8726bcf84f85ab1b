//! Every frame-level error path of RFC 9113 §4.2/§6 and RFC 9218 §7.1, through
//! `FrameDecoder::frames()` (and, for each, the bench-only generic path).

use h2o::error::{Error, ErrorCode};
use h2o::frame::{Frame, FrameDecoder, PrioritySpec, Settings};

const PROTO: ErrorCode = ErrorCode::PROTOCOL_ERROR;
const SIZE: ErrorCode = ErrorCode::FRAME_SIZE_ERROR;

/// Builds a raw frame by hand (no encoder involved).
fn raw(ty: u8, flags: u8, sid: u32, payload: &[u8]) -> Vec<u8> {
    let l = (payload.len() as u32).to_be_bytes();
    let mut v = vec![l[1], l[2], l[3], ty, flags];
    v.extend_from_slice(&sid.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn ping_ok() -> Vec<u8> {
    raw(0x6, 0, 0, &[1, 2, 3, 4, 5, 6, 7, 8])
}

fn decode_all(bytes: &[u8], generic: bool) -> Vec<Result<Frame, Error>> {
    let mut d = FrameDecoder::default();
    d.push(bytes);
    if generic {
        h2o::frame::generic::frames(&mut d).collect()
    } else {
        d.frames().collect()
    }
}

/// Decodes `bad` followed by a valid PING, on both validator paths.
fn run(bad: &[u8]) -> Vec<Result<Frame, Error>> {
    let mut all = bad.to_vec();
    all.extend(ping_ok());
    let a = decode_all(&all, false);
    let b = decode_all(&all, true);
    assert_eq!(a, b, "LUT and generic paths disagree");
    a
}

/// Asserts a connection error is the only item (the following PING is not yielded).
fn expect_conn(bad: &[u8], code: ErrorCode) {
    let out = run(bad);
    assert_eq!(out.len(), 1, "poisoned after connection error: {out:?}");
    match out[0] {
        Err(Error::Connection { code: c, .. }) => assert_eq!(c, code, "{out:?}"),
        ref other => panic!("expected connection error {code:?}, got {other:?}"),
    }
}

/// Asserts a stream error on `sid`, after which the PING is still yielded.
fn expect_stream(bad: &[u8], sid: u32, code: ErrorCode) {
    let out = run(bad);
    assert_eq!(out.len(), 2, "{out:?}");
    match out[0] {
        Err(Error::Stream {
            stream_id, code: c, ..
        }) => {
            assert_eq!((stream_id, c), (sid, code));
        }
        ref other => panic!("expected stream error, got {other:?}"),
    }
    assert!(matches!(out[1], Ok(Frame::Ping { .. })));
}

fn expect_ok(frame: &[u8]) -> Frame {
    let mut out = run(frame);
    assert_eq!(out.len(), 2, "{out:?}");
    out.remove(0).expect("valid frame")
}

#[test]
fn oversize_frame_is_connection_error_before_payload_arrives() {
    // Only the header of a 16385-byte DATA frame: no need to wait for the payload.
    let mut hdr = raw(0x0, 0, 1, &[]);
    hdr[0..3].copy_from_slice(&[0x00, 0x40, 0x01]);
    let mut d2 = FrameDecoder::new(16_384);
    d2.push(&ping_ok());
    d2.push(&hdr);
    let out: Vec<_> = d2.frames().collect();
    assert_eq!(out.len(), 2);
    assert!(matches!(out[0], Ok(Frame::Ping { .. })));
    assert_eq!(out[1], Err(Error::conn(SIZE, h2o::frame::lut::R_TOO_LARGE)));
    assert!(d2.is_poisoned());
    // Exactly at the limit is fine; unknown types are limited too.
    expect_ok(&raw(0x0, 0, 1, &[0; 16_384]));
    expect_conn(&raw(0xfa, 0, 0, &[0; 16_385]), SIZE);
    // A raised limit accepts larger frames.
    let mut d3 = FrameDecoder::new(16_384);
    d3.set_max_frame_size(20_000);
    d3.push(&raw(0x0, 0, 1, &[7; 16_385]));
    assert!(matches!(d3.frames().next(), Some(Ok(Frame::Data { .. }))));
}

#[test]
fn stream_frames_on_stream_zero() {
    for (ty, payload) in [
        (0x0u8, vec![]),
        (0x1, vec![]),
        (0x2, vec![0, 0, 0, 1, 16]),
        (0x3, vec![0, 0, 0, 8]),
        (0x5, vec![0, 0, 0, 2]),
        (0x9, vec![]),
    ] {
        expect_conn(&raw(ty, 0, 0, &payload), PROTO);
    }
}

#[test]
fn connection_frames_on_a_stream() {
    expect_conn(&raw(0x4, 0, 1, &[]), PROTO);
    expect_conn(&raw(0x6, 0, 1, &[0; 8]), PROTO);
    expect_conn(&raw(0x7, 0, 3, &[0; 8]), PROTO);
    expect_conn(&raw(0x10, 0, 5, &[0, 0, 0, 1]), PROTO);
    // The reserved bit of the stream id is ignored: 0x8000_0000 is stream 0.
    expect_ok(&raw(0x6, 0, 0x8000_0000, &[0; 8]));
}

#[test]
fn settings_size_errors() {
    expect_conn(&raw(0x4, 0, 0, &[0; 5]), SIZE);
    expect_conn(&raw(0x4, 0, 0, &[0; 7]), SIZE);
    expect_conn(&raw(0x4, 0x1, 0, &[0, 3, 0, 0, 0, 1]), SIZE); // ACK with payload
    let f = expect_ok(&raw(0x4, 0x1, 0, &[]));
    assert_eq!(
        f,
        Frame::Settings {
            ack: true,
            settings: Settings::default()
        }
    );
}

#[test]
fn fixed_size_frames() {
    expect_conn(&raw(0x6, 0, 0, &[0; 7]), SIZE);
    expect_conn(&raw(0x6, 0, 0, &[0; 9]), SIZE);
    expect_conn(&raw(0x8, 0, 0, &[0, 0, 1]), SIZE);
    expect_conn(&raw(0x8, 0, 1, &[0, 0, 0, 0, 1]), SIZE);
    expect_conn(&raw(0x3, 0, 1, &[0, 0, 8]), SIZE);
    expect_conn(&raw(0x3, 0, 1, &[0, 0, 0, 0, 8]), SIZE);
    // PRIORITY with the wrong size is only a stream error.
    expect_stream(&raw(0x2, 0, 3, &[0, 0, 0, 1]), 3, SIZE);
    expect_stream(&raw(0x2, 0, 3, &[0, 0, 0, 1, 0, 0]), 3, SIZE);
    expect_conn(&raw(0x7, 0, 0, &[0; 7]), SIZE);
}

#[test]
fn window_update_zero_increment() {
    expect_stream(&raw(0x8, 0, 5, &[0, 0, 0, 0]), 5, PROTO);
    expect_conn(&raw(0x8, 0, 0, &[0, 0, 0, 0]), PROTO);
    // Only the reserved bit set: increment is still 0.
    expect_stream(&raw(0x8, 0, 5, &[0x80, 0, 0, 0]), 5, PROTO);
    let f = expect_ok(&raw(0x8, 0, 5, &[0xff, 0xff, 0xff, 0xff]));
    assert_eq!(
        f,
        Frame::WindowUpdate {
            stream_id: 5,
            increment: (1 << 31) - 1
        }
    );
}

#[test]
fn self_dependency() {
    expect_stream(&raw(0x2, 0, 3, &[0, 0, 0, 3, 10]), 3, PROTO);
    expect_stream(&raw(0x2, 0, 3, &[0x80, 0, 0, 3, 10]), 3, PROTO);
    // HEADERS: the frame is delivered (its field block must still be decoded,
    // RFC 9113 §4.3), immediately followed by the stream error.
    let out = run(&raw(0x1, 0x24, 7, &[0, 0, 0, 7, 15, 0x82]));
    assert_eq!(out.len(), 3, "{out:?}");
    match &out[0] {
        Ok(Frame::Headers {
            stream_id: 7,
            priority: Some(p),
            block,
            ..
        }) => {
            assert_eq!(p.dependency, 7);
            assert_eq!(&block[..], &[0x82]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        out[1],
        Err(Error::Stream {
            stream_id: 7,
            code: PROTO,
            ..
        })
    ));
    assert!(matches!(out[2], Ok(Frame::Ping { .. })));
}

#[test]
fn padding_errors() {
    // DATA: pad length >= payload length.
    expect_conn(&raw(0x0, 0x8, 1, &[5, 0, 0, 0, 0]), PROTO);
    expect_conn(&raw(0x0, 0x8, 1, &[255, 0, 0, 0, 0]), PROTO);
    expect_conn(&raw(0x0, 0x8, 1, &[1]), PROTO);
    // Largest valid padding: empty data, but flow control counts everything.
    let f = expect_ok(&raw(0x0, 0x9, 1, &[4, 0, 0, 0, 0]));
    assert_eq!(
        f,
        Frame::Data {
            stream_id: 1,
            end_stream: true,
            data: bytes::Bytes::new(),
            flow_len: 5
        }
    );
    // PADDED with no room for the pad length itself.
    expect_conn(&raw(0x0, 0x8, 1, &[]), SIZE);
    expect_conn(&raw(0x1, 0x8, 1, &[]), SIZE);
    expect_conn(&raw(0x5, 0x8, 1, &[0, 0, 0, 2]), SIZE);
    // HEADERS: padding may not eat into the block's fixed fields.
    expect_conn(&raw(0x1, 0x8, 1, &[4, 0x82, 0, 0]), PROTO);
    expect_ok(&raw(0x1, 0x8, 1, &[3, 0x82, 0, 0]));
    let f = expect_ok(&raw(0x1, 0x8, 1, &[2, 0x82, 0, 0]));
    assert!(matches!(f, Frame::Headers { ref block, .. } if block[..] == [0x82]));
    expect_conn(&raw(0x1, 0x28, 1, &[2, 0, 0, 0, 0, 0, 0]), PROTO);
    expect_conn(&raw(0x1, 0x20, 1, &[0, 0, 0, 0]), SIZE);
    let f = expect_ok(&raw(0x1, 0x28, 1, &[1, 0, 0, 0, 3, 9, 0]));
    assert_eq!(
        f,
        Frame::Headers {
            stream_id: 1,
            end_stream: false,
            end_headers: false,
            priority: Some(PrioritySpec {
                exclusive: false,
                dependency: 3,
                weight: 9
            }),
            block: bytes::Bytes::new()
        }
    );
    // PUSH_PROMISE: padding may not eat into the promised stream id.
    expect_conn(&raw(0x5, 0x8, 1, &[1, 0, 0, 0, 2]), PROTO);
    expect_ok(&raw(0x5, 0x8, 1, &[1, 0, 0, 0, 2, 0]));
}

#[test]
fn short_frames() {
    expect_conn(&raw(0x7, 0, 0, &[0; 4]), SIZE);
    expect_conn(&raw(0x5, 0x4, 1, &[0, 0, 2]), SIZE);
    expect_conn(&raw(0x10, 0, 0, &[0, 0, 1]), SIZE);
    expect_conn(&raw(0x10, 0, 0, &[0, 0, 0, 0, b'u']), PROTO);
    let f = expect_ok(&raw(0x10, 0, 0, &[0, 0, 0, 9, b'u', b'=', b'1']));
    assert_eq!(
        f,
        Frame::PriorityUpdate {
            prioritized_id: 9,
            field_value: bytes::Bytes::from_static(b"u=1")
        }
    );
}

fn setting(id: u16, v: u32) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&v.to_be_bytes());
    raw(0x4, 0, 0, &p)
}

#[test]
fn settings_values() {
    expect_conn(&setting(0x2, 2), PROTO);
    expect_conn(&setting(0x4, 1 << 31), ErrorCode::FLOW_CONTROL_ERROR);
    expect_conn(&setting(0x5, 16_383), PROTO);
    expect_conn(&setting(0x5, 1 << 24), PROTO);
    expect_conn(&setting(0x8, 2), PROTO);
    expect_conn(&setting(0x9, 7), PROTO);
    for (id, v) in [
        (0x2, 0),
        (0x2, 1),
        (0x4, (1 << 31) - 1),
        (0x5, 16_384),
        (0x5, (1 << 24) - 1),
        (0x8, 1),
        (0x9, 1),
        (0x1, u32::MAX),
        (0x3, 0),
        (0x6, u32::MAX),
    ] {
        let f = expect_ok(&setting(id, v));
        let Frame::Settings {
            ack: false,
            settings,
        } = f
        else {
            panic!("{f:?}")
        };
        let id = h2o::frame::SettingId::from_u16(id).unwrap();
        assert_eq!(settings.get(id), Some(v));
        assert_eq!(settings.iter().count(), 1);
    }
    // Unknown ids are ignored (even with "invalid" values); repeated ids keep the last.
    let mut p = Vec::new();
    for (id, v) in [(0x7u16, 99u32), (0x3, 10), (0xffff, 5), (0x3, 20)] {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    let f = expect_ok(&raw(0x4, 0, 0, &p));
    let want = Settings {
        max_concurrent_streams: Some(20),
        ..Settings::default()
    };
    assert_eq!(
        f,
        Frame::Settings {
            ack: false,
            settings: want
        }
    );
}

#[test]
fn undefined_flags_are_ignored_and_unknown_types_pass() {
    let f = expect_ok(&raw(0x6, 0xfe, 0, &[0; 8]));
    assert_eq!(
        f,
        Frame::Ping {
            ack: false,
            data: [0; 8]
        }
    );
    let f = expect_ok(&raw(0x9, 0xfb, 3, &[1, 2]));
    assert!(matches!(
        f,
        Frame::Continuation {
            end_headers: false,
            ..
        }
    ));
    let f = expect_ok(&raw(0xfa, 0xa5, 9, &[1, 2, 3]));
    assert_eq!(
        f,
        Frame::Unknown {
            ty: 0xfa,
            flags: 0xa5,
            stream_id: 9,
            payload: bytes::Bytes::from_static(&[1, 2, 3])
        }
    );
}

#[test]
fn poisoned_decoder_yields_nothing_more() {
    let mut d = FrameDecoder::default();
    let mut bytes = ping_ok();
    bytes.extend(raw(0x6, 0, 0, &[0; 3]));
    bytes.extend(ping_ok());
    d.push(&bytes);
    let mut it = d.frames();
    assert!(matches!(it.next(), Some(Ok(Frame::Ping { .. }))));
    assert!(matches!(it.next(), Some(Err(Error::Connection { .. }))));
    assert_eq!(it.next(), None);
    assert_eq!(it.next(), None);
    assert!(d.is_poisoned());
    d.push(&ping_ok());
    assert_eq!(d.frames().count(), 0);
    assert_eq!(d.buffered(), 0);
}

#[test]
fn stream_errors_do_not_stop_iteration() {
    let mut bytes = raw(0x8, 0, 5, &[0, 0, 0, 0]);
    bytes.extend(raw(0x2, 0, 3, &[0, 0, 0, 3, 1]));
    bytes.extend(raw(0x2, 0, 3, &[0, 0]));
    bytes.extend(ping_ok());
    let out = run(&bytes);
    assert_eq!(out.len(), 5, "{out:?}");
    assert!(out[..3]
        .iter()
        .all(|r| matches!(r, Err(Error::Stream { .. }))));
    assert!(out[3..].iter().all(|r| matches!(r, Ok(Frame::Ping { .. }))));
}
