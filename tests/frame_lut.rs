//! The table-driven header validator (`frame::lut::check`) and the bench-only
//! generic one (`frame::generic::check`) give identical results for every type
//! byte × flags × length × stream id combination (RFC 9113 §4.2, §6).

use h2o::frame::{generic, lut, FrameHeader};

#[test]
fn lut_and_generic_agree_everywhere() {
    let lens: Vec<u32> = (0..=20)
        .chain([23, 24, 30, 36, 100, 16_383, 16_384, 16_385, (1 << 24) - 1])
        .collect();
    let sids = [0u32, 1, 2, 0x7fff_ffff];
    let mut checked = 0u64;
    let mut errors = 0u64;
    for max in [16_384u32, (1 << 24) - 1] {
        for ty in 0..=255u8 {
            for flags in 0..=255u8 {
                for &len in &lens {
                    for &stream_id in &sids {
                        let h = FrameHeader {
                            len,
                            ty,
                            flags,
                            stream_id,
                        };
                        let a = lut::check(&h, max);
                        let b = generic::check(&h, max);
                        assert_eq!(a, b, "{h:?} max {max}");
                        checked += 1;
                        errors += a.is_err() as u64;
                    }
                }
            }
        }
    }
    // Sanity: both outcomes were exercised in bulk.
    assert!(
        errors > 100_000 && checked - errors > 100_000,
        "{errors}/{checked}"
    );
}

#[test]
fn header_round_trip_all_fields() {
    for (len, ty, flags, sid) in [
        (0u32, 0u8, 0u8, 0u32),
        ((1 << 24) - 1, 0xff, 0xff, 0x7fff_ffff),
        (0x12_3456, 0x10, 0x25, 0x0102_0304),
    ] {
        let h = FrameHeader {
            len,
            ty,
            flags,
            stream_id: sid,
        };
        assert_eq!(FrameHeader::parse(&h.to_bytes()), h);
    }
    // The reserved bit is dropped on parse.
    let mut b = [0u8; 9];
    b[5] = 0x80;
    b[8] = 1;
    assert_eq!(FrameHeader::parse(&b).stream_id, 1);
}
