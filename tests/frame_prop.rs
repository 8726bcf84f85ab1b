//! Property tests: arbitrary frames of every variant survive
//! encode → push in random chunks → `frames()` unchanged (RFC 9113 §4, §6).

use bytes::Bytes;
use h2o::error::ErrorCode;
use h2o::frame::{Frame, FrameDecoder, FrameType, PrioritySpec, Settings};
use proptest::prelude::*;

fn sid() -> impl Strategy<Value = u32> {
    1..=0x7fff_ffffu32
}

fn payload(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn opt<S: Strategy<Value = u32>>(s: S) -> impl Strategy<Value = Option<u32>> {
    prop::option::of(s)
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        (opt(any::<u32>()), opt(0..=1u32), opt(any::<u32>())),
        (
            opt(0..=0x7fff_ffffu32),
            opt(16_384..=16_777_215u32),
            opt(any::<u32>()),
        ),
        (opt(0..=1u32), opt(0..=1u32), opt(any::<u32>())),
    )
        .prop_map(|((a, b, c), (d, e, f), (g, h, i))| Settings {
            header_table_size: a,
            enable_push: b,
            max_concurrent_streams: c,
            initial_window_size: d,
            max_frame_size: e,
            max_header_list_size: f,
            enable_connect_protocol: g,
            no_rfc7540_priorities: h,
            hpack_preset: i,
        })
}

/// A priority spec that does not name `own` (that would be a stream error).
fn spec_for(own: u32, exclusive: bool, dep: u32, weight: u8) -> PrioritySpec {
    PrioritySpec {
        exclusive,
        dependency: if dep == own { dep ^ 1 } else { dep },
        weight,
    }
}

/// Every variant, restricted to frames that decode without error.
fn frame() -> impl Strategy<Value = Frame> {
    let dep = 0..=0x7fff_ffffu32;
    prop_oneof![
        (sid(), any::<bool>(), payload(300)).prop_map(|(stream_id, end_stream, data)| {
            Frame::Data {
                stream_id,
                end_stream,
                flow_len: data.len() as u32,
                data,
            }
        }),
        (
            sid(),
            any::<(bool, bool)>(),
            prop::option::of((any::<bool>(), dep.clone(), any::<u8>())),
            payload(200)
        )
            .prop_map(|(stream_id, (end_stream, end_headers), p, block)| {
                Frame::Headers {
                    stream_id,
                    end_stream,
                    end_headers,
                    priority: p.map(|(e, d, w)| spec_for(stream_id, e, d, w)),
                    block,
                }
            }),
        (sid(), any::<bool>(), dep, any::<u8>()).prop_map(|(stream_id, e, d, w)| {
            Frame::Priority {
                stream_id,
                spec: spec_for(stream_id, e, d, w),
            }
        }),
        (sid(), any::<u32>()).prop_map(|(stream_id, c)| Frame::RstStream {
            stream_id,
            code: ErrorCode(c),
        }),
        settings().prop_map(|settings| Frame::Settings {
            ack: false,
            settings
        }),
        Just(Frame::Settings {
            ack: true,
            settings: Settings::default()
        }),
        (sid(), any::<bool>(), 0..=0x7fff_ffffu32, payload(200)).prop_map(
            |(stream_id, end_headers, promised_id, block)| Frame::PushPromise {
                stream_id,
                end_headers,
                promised_id,
                block,
            }
        ),
        (any::<bool>(), any::<[u8; 8]>()).prop_map(|(ack, data)| Frame::Ping { ack, data }),
        (0..=0x7fff_ffffu32, any::<u32>(), payload(100)).prop_map(|(l, c, debug)| {
            Frame::GoAway {
                last_stream_id: l,
                code: ErrorCode(c),
                debug,
            }
        }),
        (0..=0x7fff_ffffu32, 1..=0x7fff_ffffu32).prop_map(|(stream_id, increment)| {
            Frame::WindowUpdate {
                stream_id,
                increment,
            }
        }),
        (sid(), any::<bool>(), payload(200)).prop_map(|(stream_id, end_headers, block)| {
            Frame::Continuation {
                stream_id,
                end_headers,
                block,
            }
        }),
        (sid(), payload(50)).prop_map(|(prioritized_id, field_value)| {
            Frame::PriorityUpdate {
                prioritized_id,
                field_value,
            }
        }),
        (
            any::<u8>().prop_filter("extension type", |t| FrameType::from_u8(*t).is_none()),
            any::<u8>(),
            0..=0x7fff_ffffu32,
            payload(100)
        )
            .prop_map(|(ty, flags, stream_id, payload)| Frame::Unknown {
                ty,
                flags,
                stream_id,
                payload,
            }),
    ]
}

/// Encodes (DATA/HEADERS/PUSH_PROMISE optionally padded) and returns what decodes back.
fn encode(f: &Frame, pad: Option<u8>, out: &mut Vec<u8>) -> Frame {
    let mut want = f.clone();
    match pad {
        Some(p) => {
            f.encode_padded(p, out);
            if let Frame::Data { flow_len, .. } = &mut want {
                *flow_len += 1 + p as u32;
            }
        }
        None => f.encode(out),
    }
    want
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip_in_random_chunks(
        frames in prop::collection::vec((frame(), prop::option::of(any::<u8>())), 1..30),
        cuts in prop::collection::vec(0..4000usize, 0..12),
    ) {
        let mut wire = Vec::new();
        let want: Vec<Frame> = frames.iter().map(|(f, p)| encode(f, *p, &mut wire)).collect();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (wire.len() + 1)).collect();
        cuts.push(wire.len());
        cuts.sort_unstable();
        let mut d = FrameDecoder::default();
        let mut got = Vec::new();
        let mut at = 0;
        for c in cuts {
            d.push(&wire[at..c]);
            at = c;
            for r in d.frames() {
                got.push(r.map_err(|e| TestCaseError::fail(format!("{e}")))?);
            }
        }
        prop_assert_eq!(d.buffered(), 0);
        prop_assert_eq!(got, want);
    }

    /// Valid frames with a few corrupted bytes (mostly in headers, where the rules
    /// are): never a panic, and both validator paths give the same items.
    #[test]
    fn corrupted_frames_never_panic(
        frames in prop::collection::vec((frame(), prop::option::of(any::<u8>())), 1..12),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut wire = Vec::new();
        for (f, p) in &frames {
            encode(f, *p, &mut wire);
        }
        for (i, v) in flips {
            let i = i.index(wire.len());
            wire[i] = v;
        }
        let cut = cut.index(wire.len() + 1);
        let mut a = FrameDecoder::default();
        let mut b = FrameDecoder::default();
        for part in [&wire[..cut], &wire[cut..]] {
            a.push(part);
            b.push(part);
            let x: Vec<_> = a.frames().collect();
            let y: Vec<_> = h2o::frame::generic::frames(&mut b).collect();
            prop_assert_eq!(x, y);
        }
    }
}
