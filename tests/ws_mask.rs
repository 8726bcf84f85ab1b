//! WebSocket masking (RFC 6455 §5.3): every implementation against the
//! byte-by-byte reference, exhaustively for small inputs and by proptest.

use h2o::ws::mask::{
    apply_mask, extend_masked, extend_masked_avx2, mask_avx2, mask_neon, mask_reference,
    mask_scalar, mask_simd128, mask_sse2,
};
use proptest::prelude::*;

type Variant = fn(&mut [u8], [u8; 4], usize) -> bool;

fn variants() -> Vec<(&'static str, Variant)> {
    vec![
        ("scalar", |b, m, o| {
            mask_scalar(b, m, o);
            true
        }),
        ("apply_mask", |b, m, o| {
            apply_mask(b, m, o);
            true
        }),
        ("sse2", mask_sse2),
        ("avx2", mask_avx2),
        ("neon", mask_neon),
        ("simd128", mask_simd128),
    ]
}

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Every length 0..=1024 at every alignment 0..=63 and every mask offset 0..=3,
/// with guard bytes around the range that must stay untouched.
fn exhaustive(name: &str, f: Variant) {
    let pattern: Vec<u8> = (0..1024 + 64 + 64).map(|i| (i * 7 + 3) as u8).collect();
    let mut buf = pattern.clone();
    let mut want = pattern.clone();
    if !f(&mut buf[..0], MASK, 0) {
        eprintln!("{name}: not available on this CPU/target, skipped");
        return;
    }
    for len in 0..=1024usize {
        for align in 0..64usize {
            for off in 0..4usize {
                buf.copy_from_slice(&pattern);
                want.copy_from_slice(&pattern);
                mask_reference(&mut want[align..align + len], MASK, off);
                assert!(f(&mut buf[align..align + len], MASK, off));
                assert!(buf == want, "{name}: len {len} align {align} offset {off}");
            }
        }
    }
}

#[test]
fn reference_known_vector() {
    // RFC 6455 §5.7 masked "Hello".
    let mut b = *b"Hello";
    mask_reference(&mut b, MASK, 0);
    assert_eq!(b, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    // Offset rotates the key.
    let mut c = *b"ello";
    mask_reference(&mut c, MASK, 1);
    assert_eq!(c, [0x9f, 0x4d, 0x51, 0x58]);
}

#[test]
fn exhaustive_scalar() {
    exhaustive("scalar", variants()[0].1);
}

#[test]
fn exhaustive_apply_mask() {
    exhaustive("apply_mask", variants()[1].1);
}

#[test]
fn exhaustive_sse2() {
    exhaustive("sse2", mask_sse2);
}

#[test]
fn exhaustive_avx2() {
    exhaustive("avx2", mask_avx2);
}

#[test]
fn exhaustive_neon_simd128() {
    exhaustive("neon", mask_neon);
    exhaustive("simd128", mask_simd128);
}

#[test]
fn x86_64_has_sse2_path() {
    // On x86_64 the SSE2 path must really run (it is baseline).
    let ran = mask_sse2(&mut [0u8; 4], MASK, 0);
    assert_eq!(ran, cfg!(target_arch = "x86_64"));
}

#[test]
fn wasm_simd128_path_runs_when_enabled() {
    // Built for wasm32 with `+simd128` (scripts/test.sh runs this file on
    // wasm32-wasip2 under wasmtime that way), the simd128 path must really run
    // and agree with the reference; everywhere else it reports "not here".
    let enabled = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));
    let data: Vec<u8> = (0..4099u32).map(|i| (i * 13 + 1) as u8).collect();
    for off in 0..4 {
        let mut got = data.clone();
        let mut want = data.clone();
        mask_reference(&mut want, MASK, off);
        assert_eq!(mask_simd128(&mut got, MASK, off), enabled);
        if enabled {
            assert!(got == want, "simd128 offset {off}");
        } else {
            assert!(got == data, "simd128 must not touch the buffer when absent");
        }
    }
}

#[test]
fn masking_twice_is_identity_and_split_continues() {
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 31) as u8).collect();
    let mut whole = data.clone();
    apply_mask(&mut whole, MASK, 0);
    // Unmask in uneven pieces, continuing the offset.
    let mut pieces = whole.clone();
    let mut pos = 0;
    for step in [1usize, 3, 7, 64, 65, 1000, 3].iter().cycle() {
        if pos >= pieces.len() {
            break;
        }
        let end = (pos + step).min(pieces.len());
        apply_mask(&mut pieces[pos..end], MASK, pos);
        pos = end;
    }
    assert_eq!(pieces, data);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn prop_all_variants_match_reference(
        data in proptest::collection::vec(any::<u8>(), 0..=65536),
        mask in any::<[u8; 4]>(),
        offset in any::<usize>(),
        start in 0usize..64,
    ) {
        let start = start.min(data.len());
        let mut want = data.clone();
        mask_reference(&mut want[start..], mask, offset);
        for (name, f) in variants() {
            let mut got = data.clone();
            if f(&mut got[start..], mask, offset) {
                prop_assert!(got == want, "{}", name);
            } else {
                prop_assert!(got == data, "{} must not touch the buffer", name);
            }
        }
    }
}

/// `extend_masked` (and its AVX2 path forced at every length) against a plain
/// copy + the byte-by-byte reference: every length 0..=600 and 4096 + 0..=40,
/// every mask offset, after prefixes that shift the destination's alignment;
/// the prefix must stay untouched.
#[test]
fn extend_masked_matches_copy_then_reference() {
    let src: Vec<u8> = (0..5000u32).map(|i| (i * 13 + 5) as u8).collect();
    let lens = (0..=600usize).chain(4096..=4136);
    for len in lens {
        for offset in 0..4 {
            for prefix in [0usize, 1, 3, 17, 32] {
                let head: Vec<u8> = (0..prefix).map(|i| i as u8 ^ 0xAA).collect();
                let mut want = head.clone();
                want.extend_from_slice(&src[..len]);
                mask_reference(&mut want[prefix..], MASK, offset);
                let mut got = bytes::BytesMut::from(&head[..]);
                extend_masked(&mut got, &src[..len], MASK, offset);
                assert_eq!(
                    &got[..],
                    &want[..],
                    "extend_masked len {len} offset {offset}"
                );
                let mut got = bytes::BytesMut::from(&head[..]);
                if extend_masked_avx2(&mut got, &src[..len], MASK, offset) {
                    assert_eq!(&got[..], &want[..], "avx2 len {len} offset {offset}");
                }
            }
        }
    }
}
