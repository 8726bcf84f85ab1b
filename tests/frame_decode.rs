//! Round trips of every frame type, batch decoding across every split point,
//! zero-copy payloads and the encoder helpers (RFC 9113 §4, §6; RFC 9218 §7.1).

use bytes::Bytes;
use h2o::error::{Error, ErrorCode};
use h2o::frame::{
    encode, write_data_header, write_header_block, Frame, FrameDecoder, FrameHeader, PrioritySpec,
    Settings, FRAME_HEADER_LEN,
};

fn decode(bytes: &[u8]) -> Vec<Result<Frame, Error>> {
    let mut d = FrameDecoder::default();
    d.push(bytes);
    let out: Vec<_> = d.frames().collect();
    assert_eq!(d.buffered(), 0);
    out
}

fn settings_all() -> Settings {
    Settings {
        header_table_size: Some(4096),
        enable_push: Some(0),
        max_concurrent_streams: Some(100),
        initial_window_size: Some(65_535),
        max_frame_size: Some(16_384),
        max_header_list_size: Some(8192),
        enable_connect_protocol: Some(1),
        no_rfc7540_priorities: Some(1),
        hpack_preset: Some(1),
    }
}

/// One of every frame type (no padding), as they decode.
fn every_frame() -> Vec<Frame> {
    vec![
        Frame::Data {
            stream_id: 1,
            end_stream: false,
            data: Bytes::from_static(b"hello"),
            flow_len: 5,
        },
        Frame::Data {
            stream_id: 3,
            end_stream: true,
            data: Bytes::new(),
            flow_len: 0,
        },
        Frame::Headers {
            stream_id: 1,
            end_stream: true,
            end_headers: true,
            priority: None,
            block: Bytes::from_static(&[0x82, 0x86, 0x84]),
        },
        Frame::Headers {
            stream_id: 5,
            end_stream: false,
            end_headers: false,
            priority: Some(PrioritySpec {
                exclusive: true,
                dependency: 3,
                weight: 200,
            }),
            block: Bytes::from_static(&[0x82]),
        },
        Frame::Priority {
            stream_id: 7,
            spec: PrioritySpec {
                exclusive: false,
                dependency: 0,
                weight: 15,
            },
        },
        Frame::RstStream {
            stream_id: 9,
            code: ErrorCode::CANCEL,
        },
        Frame::RstStream {
            stream_id: 9,
            code: ErrorCode(0xdead_beef),
        },
        Frame::Settings {
            ack: false,
            settings: settings_all(),
        },
        Frame::Settings {
            ack: false,
            settings: Settings::default(),
        },
        Frame::Settings {
            ack: true,
            settings: Settings::default(),
        },
        Frame::PushPromise {
            stream_id: 1,
            end_headers: true,
            promised_id: 2,
            block: Bytes::from_static(&[0x82, 0x87]),
        },
        Frame::Ping {
            ack: true,
            data: *b"12345678",
        },
        Frame::GoAway {
            last_stream_id: 11,
            code: ErrorCode::ENHANCE_YOUR_CALM,
            debug: Bytes::from_static(b"calm down"),
        },
        Frame::GoAway {
            last_stream_id: 0,
            code: ErrorCode::NO_ERROR,
            debug: Bytes::new(),
        },
        Frame::WindowUpdate {
            stream_id: 0,
            increment: 1,
        },
        Frame::WindowUpdate {
            stream_id: 3,
            increment: (1 << 31) - 1,
        },
        Frame::Continuation {
            stream_id: 5,
            end_headers: true,
            block: Bytes::from_static(&[0x84]),
        },
        Frame::PriorityUpdate {
            prioritized_id: 5,
            field_value: Bytes::from_static(b"u=1, i"),
        },
        Frame::Unknown {
            ty: 0xfa,
            flags: 0xff,
            stream_id: 0x7fff_ffff,
            payload: Bytes::from_static(b"ext"),
        },
    ]
}

#[test]
fn every_type_round_trips() {
    for f in every_frame() {
        let mut out = Vec::new();
        f.encode(&mut out);
        let h = FrameHeader::parse(out[..9].try_into().unwrap());
        assert_eq!(h.len as usize, out.len() - FRAME_HEADER_LEN, "{f:?}");
        assert_eq!(decode(&out), vec![Ok(f.clone())]);
    }
}

#[test]
fn padded_round_trips() {
    for pad in [0u8, 1, 7, 255] {
        for f in every_frame() {
            let mut out = Vec::new();
            f.encode_padded(pad, &mut out);
            let mut want = f.clone();
            match &mut want {
                Frame::Data { flow_len, .. } => *flow_len += 1 + pad as u32,
                Frame::Headers { .. } | Frame::PushPromise { .. } => {}
                _ => {
                    // Non-paddable types encode exactly as `encode` does.
                    let mut plain = Vec::new();
                    f.encode(&mut plain);
                    assert_eq!(out, plain);
                }
            }
            assert_eq!(decode(&out), vec![Ok(want)], "pad {pad}");
        }
    }
}

#[test]
fn fast_paths_match_frame_encode() {
    let mut a = Vec::new();
    let mut b = Vec::new();
    encode::write_settings(&mut a, &settings_all());
    Frame::Settings {
        ack: false,
        settings: settings_all(),
    }
    .encode(&mut b);
    encode::write_settings_ack(&mut a);
    Frame::Settings {
        ack: true,
        settings: settings_all(),
    }
    .encode(&mut b);
    encode::write_window_update(&mut a, 3, 77);
    Frame::WindowUpdate {
        stream_id: 3,
        increment: 77,
    }
    .encode(&mut b);
    encode::write_ping(&mut a, false, b"abcdefgh");
    Frame::Ping {
        ack: false,
        data: *b"abcdefgh",
    }
    .encode(&mut b);
    encode::write_rst_stream(&mut a, 5, ErrorCode::REFUSED_STREAM);
    Frame::RstStream {
        stream_id: 5,
        code: ErrorCode::REFUSED_STREAM,
    }
    .encode(&mut b);
    encode::write_goaway(&mut a, 7, ErrorCode::PROTOCOL_ERROR, b"bad");
    Frame::GoAway {
        last_stream_id: 7,
        code: ErrorCode::PROTOCOL_ERROR,
        debug: Bytes::from_static(b"bad"),
    }
    .encode(&mut b);
    encode::write_data(&mut a, 1, b"xyz", true);
    Frame::Data {
        stream_id: 1,
        end_stream: true,
        data: Bytes::from_static(b"xyz"),
        flow_len: 3,
    }
    .encode(&mut b);
    assert_eq!(a, b);
}

#[test]
fn settings_written_in_id_order_only_present() {
    let s = Settings {
        no_rfc7540_priorities: Some(1),
        header_table_size: Some(0),
        max_frame_size: Some(20_000),
        ..Settings::default()
    };
    let mut out = Vec::new();
    encode::write_settings(&mut out, &s);
    assert_eq!(
        out,
        [
            0, 0, 18, 0x4, 0, 0, 0, 0, 0, //
            0, 1, 0, 0, 0, 0, //
            0, 5, 0, 0, 0x4e, 0x20, //
            0, 9, 0, 0, 0, 1,
        ]
    );
}

#[test]
fn data_header_only() {
    let mut out = Vec::new();
    write_data_header(&mut out, 3, 70_000, true);
    assert_eq!(out, [0x01, 0x11, 0x70, 0x0, 0x1, 0, 0, 0, 3]);
}

fn header_block_frames(block: &[u8], end_stream: bool, prio: Option<PrioritySpec>, max: u32) {
    let mut out = Vec::new();
    write_header_block(&mut out, 9, block, end_stream, prio, max);
    let frames: Vec<Frame> = decode(&out).into_iter().map(Result::unwrap).collect();
    let mut joined = Vec::new();
    let n = frames.len();
    for (i, f) in frames.iter().enumerate() {
        let last = i + 1 == n;
        match f {
            Frame::Headers {
                stream_id: 9,
                end_stream: es,
                end_headers,
                priority,
                block,
            } if i == 0 => {
                assert_eq!(*es, end_stream);
                assert_eq!(*end_headers, last);
                assert_eq!(*priority, prio);
                assert!(block.len() + if prio.is_some() { 5 } else { 0 } <= max as usize);
                joined.extend_from_slice(block);
            }
            Frame::Continuation {
                stream_id: 9,
                end_headers,
                block,
            } if i > 0 => {
                assert_eq!(*end_headers, last);
                assert!(block.len() <= max as usize && !block.is_empty());
                joined.extend_from_slice(block);
            }
            other => panic!("unexpected {other:?} at {i}"),
        }
    }
    assert_eq!(joined, block);
    let expect_frames = if block.is_empty() {
        1
    } else {
        let first = max as usize - if prio.is_some() { 5 } else { 0 };
        1 + block.len().saturating_sub(first).div_ceil(max as usize)
    };
    assert_eq!(n, expect_frames, "block {} max {max}", block.len());
}

#[test]
fn header_block_split() {
    let block: Vec<u8> = (0..100u8).collect();
    let prio = Some(PrioritySpec {
        exclusive: false,
        dependency: 1,
        weight: 3,
    });
    for len in [0, 1, 9, 10, 11, 15, 16, 20, 21, 99, 100] {
        for max in [10u32, 16, 16_384] {
            for p in [None, prio] {
                for es in [false, true] {
                    header_block_frames(&block[..len], es, p, max);
                }
            }
        }
    }
}

/// The mixed sequence of the batch test, encoded, with the frames it decodes to.
fn mixed(big: bool) -> (Vec<u8>, Vec<Frame>) {
    let mut out = Vec::new();
    let mut want = Vec::new();
    fn add(f: Frame, pad: Option<u8>, out: &mut Vec<u8>, want: &mut Vec<Frame>) {
        let mut w = f.clone();
        match pad {
            Some(p) => {
                f.encode_padded(p, out);
                if let Frame::Data { flow_len, .. } = &mut w {
                    *flow_len += 1 + p as u32;
                }
            }
            None => f.encode(out),
        }
        want.push(w);
    }
    let data = |sid, s: &'static [u8], es| Frame::Data {
        stream_id: sid,
        end_stream: es,
        data: Bytes::from_static(s),
        flow_len: s.len() as u32,
    };
    add(
        Frame::Settings {
            ack: false,
            settings: settings_all(),
        },
        None,
        &mut out,
        &mut want,
    );
    add(data(1, b"plain data", false), None, &mut out, &mut want);
    add(data(1, b"padded data", true), Some(6), &mut out, &mut want);
    if big {
        // HEADERS + CONTINUATION via the block splitter.
        let block: Vec<u8> = (0..40u8).collect();
        write_header_block(&mut out, 3, &block, false, None, 16);
        want.push(Frame::Headers {
            stream_id: 3,
            end_stream: false,
            end_headers: false,
            priority: None,
            block: Bytes::copy_from_slice(&block[..16]),
        });
        want.push(Frame::Continuation {
            stream_id: 3,
            end_headers: false,
            block: Bytes::copy_from_slice(&block[16..32]),
        });
        want.push(Frame::Continuation {
            stream_id: 3,
            end_headers: true,
            block: Bytes::copy_from_slice(&block[32..]),
        });
        add(
            Frame::Ping {
                ack: false,
                data: *b"pingpong",
            },
            None,
            &mut out,
            &mut want,
        );
        add(
            Frame::Priority {
                stream_id: 3,
                spec: PrioritySpec {
                    exclusive: true,
                    dependency: 1,
                    weight: 31,
                },
            },
            None,
            &mut out,
            &mut want,
        );
        add(
            Frame::RstStream {
                stream_id: 3,
                code: ErrorCode::CANCEL,
            },
            None,
            &mut out,
            &mut want,
        );
        add(
            Frame::PushPromise {
                stream_id: 1,
                end_headers: true,
                promised_id: 4,
                block: Bytes::from_static(&[0x82, 0x84]),
            },
            Some(3),
            &mut out,
            &mut want,
        );
        add(
            Frame::PriorityUpdate {
                prioritized_id: 1,
                field_value: Bytes::from_static(b"u=0"),
            },
            None,
            &mut out,
            &mut want,
        );
        add(
            Frame::Headers {
                stream_id: 5,
                end_stream: true,
                end_headers: true,
                priority: Some(PrioritySpec {
                    exclusive: false,
                    dependency: 3,
                    weight: 7,
                }),
                block: Bytes::from_static(&[0x82, 0x86]),
            },
            Some(2),
            &mut out,
            &mut want,
        );
    }
    add(
        Frame::WindowUpdate {
            stream_id: 0,
            increment: 65_535,
        },
        None,
        &mut out,
        &mut want,
    );
    add(
        Frame::Unknown {
            ty: 0xfa,
            flags: 0x3,
            stream_id: 1,
            payload: Bytes::from_static(b"??"),
        },
        None,
        &mut out,
        &mut want,
    );
    add(
        Frame::GoAway {
            last_stream_id: 5,
            code: ErrorCode::NO_ERROR,
            debug: Bytes::from_static(b"bye"),
        },
        None,
        &mut out,
        &mut want,
    );
    (out, want)
}

fn ok_frames(d: &mut FrameDecoder) -> Vec<Frame> {
    d.frames().map(|r| r.expect("valid frame")).collect()
}

#[test]
fn batch_decode_every_two_way_split() {
    let (bytes, want) = mixed(true);
    assert_eq!(
        decode(&bytes)
            .into_iter()
            .map(Result::unwrap)
            .collect::<Vec<_>>(),
        want
    );
    for i in 0..=bytes.len() {
        let mut d = FrameDecoder::default();
        d.push(&bytes[..i]);
        let mut got = ok_frames(&mut d);
        d.push(&bytes[i..]);
        got.extend(ok_frames(&mut d));
        assert_eq!(got, want, "split at {i}");
        assert_eq!(d.buffered(), 0);
    }
}

#[test]
fn batch_decode_every_three_way_split() {
    let (bytes, want) = mixed(false);
    for i in 0..=bytes.len() {
        for j in i..=bytes.len() {
            let mut d = FrameDecoder::default();
            let mut got = Vec::new();
            for part in [&bytes[..i], &bytes[i..j], &bytes[j..]] {
                d.push(part);
                got.extend(ok_frames(&mut d));
            }
            assert_eq!(got, want, "split at {i}, {j}");
        }
    }
}

#[test]
fn byte_at_a_time() {
    let (bytes, want) = mixed(true);
    let mut d = FrameDecoder::default();
    let mut got = Vec::new();
    for b in &bytes {
        d.push(std::slice::from_ref(b));
        got.extend(ok_frames(&mut d));
    }
    assert_eq!(got, want);
}

#[test]
fn partial_frame_stays_buffered() {
    let (bytes, _) = mixed(false);
    let mut d = FrameDecoder::default();
    d.push(&bytes[..bytes.len() - 1]);
    let n = d.frames().count();
    assert_eq!(n, mixed(false).1.len() - 1);
    // The GOAWAY (9 + 8 + 3 bytes) lacks its last byte.
    assert_eq!(d.buffered(), 19);
}

#[test]
fn dropping_the_iterator_early_loses_nothing() {
    let (bytes, want) = mixed(true);
    let mut d = FrameDecoder::default();
    d.push(&bytes);
    let first = d.frames().next().unwrap().unwrap();
    assert_eq!(first, want[0]);
    assert!(d.buffered() > 0);
    let mut got = vec![first];
    got.extend(ok_frames(&mut d));
    assert_eq!(got, want);
}

#[test]
fn payloads_are_zero_copy_slices_of_one_buffer() {
    let mut out = Vec::new();
    encode::write_data(&mut out, 1, &[1; 100], false);
    encode::write_data(&mut out, 3, &[2; 50], false);
    write_header_block(&mut out, 5, &[3; 30], true, None, 16_384);
    Frame::Data {
        stream_id: 1,
        end_stream: false,
        data: Bytes::from_static(&[4; 20]),
        flow_len: 20,
    }
    .encode_padded(10, &mut out);
    let mut d = FrameDecoder::default();
    d.push(&out);
    let frames = ok_frames(&mut d);
    let ptr = |f: &Frame| match f {
        Frame::Data { data, .. } => (data.as_ptr() as usize, data.len()),
        Frame::Headers { block, .. } => (block.as_ptr() as usize, block.len()),
        other => panic!("{other:?}"),
    };
    let (p0, l0) = ptr(&frames[0]);
    let (p1, l1) = ptr(&frames[1]);
    let (p2, l2) = ptr(&frames[2]);
    let (p3, l3) = ptr(&frames[3]);
    // Each payload starts right after the previous one plus a 9-byte header
    // (plus the pad length byte for the padded frame): one shared allocation.
    assert_eq!(p1, p0 + l0 + 9);
    assert_eq!(p2, p1 + l1 + 9);
    assert_eq!(p3, p2 + l2 + 9 + 1);
    assert_eq!((l0, l1, l2, l3), (100, 50, 30, 20));
}

#[test]
fn frames_and_generic_frames_agree() {
    let (bytes, _) = mixed(true);
    let mut a = FrameDecoder::default();
    let mut b = FrameDecoder::default();
    a.push(&bytes);
    b.push(&bytes);
    let x: Vec<_> = a.frames().collect();
    let y: Vec<_> = h2o::frame::generic::frames(&mut b).collect();
    assert_eq!(x, y);
}
