//! Huffman coding of HPACK string literals (RFC 7541 §5.2, Appendix B).
//!
//! Both directions are table driven; the tables live in the generated
//! `table.rs` (see `gen.rs` for how they are built and laid out):
//! - encoding shifts `code << len` into a `u64` accumulator and flushes 32 bits
//!   at a time;
//! - decoding is a finite-state machine over the 256 internal nodes of the
//!   Huffman tree that consumes one whole octet per lookup and emits up to two
//!   symbols. Padding longer than 7 bits, padding that is not all ones, and a
//!   decoded EOS are errors (§5.2).

// The generator is public API only for the table regeneration test.
#[cfg(feature = "bench-internals")]
pub mod gen;
#[cfg(not(feature = "bench-internals"))]
#[allow(dead_code)]
mod gen;
mod table;

use super::DecodeError;
use gen::{ACCEPT, COUNT_SHIFT, FAIL, SYM1_SHIFT, SYM2_SHIFT};
use table::{DECODE, ENCODE};

/// Number of bytes the Huffman encoding of `src` takes.
#[inline]
pub fn encoded_len(src: &[u8]) -> usize {
    let bits: u64 = src.iter().map(|&b| ENCODE[b as usize] & 0xff).sum();
    bits.div_ceil(8) as usize
}

/// Appends the Huffman encoding of `src` to `out` (padded with EOS-prefix ones).
#[inline]
pub fn encode(src: &[u8], out: &mut Vec<u8>) {
    encode_bounded::<false>(src, out, usize::MAX);
}

/// Appends the Huffman encoding of `src` to `out` if it is strictly shorter
/// than `limit` bytes and returns its length; otherwise leaves `out` as it was
/// (giving up as soon as the output reaches `limit`). One pass instead of
/// [`encoded_len`] followed by [`encode`].
#[inline]
pub(crate) fn encode_shorter(src: &[u8], out: &mut Vec<u8>, limit: usize) -> Option<usize> {
    encode_bounded::<true>(src, out, limit)
}

#[inline(always)]
fn encode_bounded<const BOUNDED: bool>(
    src: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Option<usize> {
    let start = out.len();
    out.reserve(if BOUNDED { limit } else { src.len() });
    // Invariant: fewer than 32 pending bits in `acc` between steps. A step adds
    // at most 32 bits (four symbols whose codes total ≤ 32 bits, the common
    // case for text, or a single symbol of ≤ 30 bits), so nothing is lost.
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    macro_rules! flush {
        () => {
            if bits >= 32 {
                bits -= 32;
                out.extend_from_slice(&((acc >> bits) as u32).to_be_bytes());
                if BOUNDED && out.len() - start >= limit {
                    out.truncate(start);
                    return None;
                }
            }
        };
    }
    let mut quads = src.chunks_exact(4);
    for q in &mut quads {
        let (e0, e1, e2, e3) = (
            ENCODE[q[0] as usize],
            ENCODE[q[1] as usize],
            ENCODE[q[2] as usize],
            ENCODE[q[3] as usize],
        );
        let (l1, l2, l3) = ((e1 & 0xff) as u32, (e2 & 0xff) as u32, (e3 & 0xff) as u32);
        let total = (e0 & 0xff) as u32 + l1 + l2 + l3;
        if total <= 32 {
            let code = ((((e0 >> 8) << l1 | (e1 >> 8)) << l2 | (e2 >> 8)) << l3) | (e3 >> 8);
            acc = (acc << total) | code;
            bits += total;
            flush!();
        } else {
            // Long codes: one symbol at a time (entries reloaded, which keeps
            // the fast path free of spills).
            for &b in q {
                let e = ENCODE[b as usize];
                let len = (e & 0xff) as u32;
                acc = (acc << len) | (e >> 8);
                bits += len;
                flush!();
            }
        }
    }
    for &b in quads.remainder() {
        let e = ENCODE[b as usize];
        let len = (e & 0xff) as u32;
        acc = (acc << len) | (e >> 8);
        bits += len;
        flush!();
    }
    if bits > 0 {
        let pad = (8 - bits % 8) % 8;
        acc = (acc << pad) | ((1u64 << pad) - 1);
        bits += pad;
        while bits > 0 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    let n = out.len() - start;
    if BOUNDED && n >= limit {
        out.truncate(start);
        return None;
    }
    Some(n)
}

/// Appends the decoding of `src` to `out`.
pub fn decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let start = out.len();
    out.resize(start + max_decoded_len(src.len()), 0);
    match decode_into(src, &mut out[start..]) {
        Ok(n) => {
            out.truncate(start + n);
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Size of the scratch space [`decode_into`] needs for `encoded_len` input bytes
/// (each octet emits at most two symbols).
#[inline]
pub(crate) fn max_decoded_len(encoded_len: usize) -> usize {
    encoded_len * 2
}

/// Decodes `src` into the start of `dst`, which must hold at least
/// [`max_decoded_len`]`(src.len())` bytes; returns the decoded length.
#[inline]
pub(crate) fn decode_into(src: &[u8], dst: &mut [u8]) -> Result<usize, DecodeError> {
    if dst.len() < max_decoded_len(src.len()) {
        return Err(DecodeError::StringTooLong);
    }
    let mut state: u8 = 0;
    let mut n = 0usize;
    // OR of all entries: a failed entry has no symbols and state 0, so carrying
    // on is harmless and the FAIL check leaves the loop.
    let mut flags: u32 = 0;
    let mut last = ACCEPT;
    for &b in src {
        let e = DECODE[(state as usize) << 8 | b as usize];
        dst[n] = (e >> SYM1_SHIFT) as u8;
        dst[n + 1] = (e >> SYM2_SHIFT) as u8;
        n += ((e >> COUNT_SHIFT) & 3) as usize;
        state = e as u8;
        flags |= e;
        last = e;
    }
    if flags & FAIL != 0 || last & ACCEPT == 0 {
        return Err(DecodeError::InvalidHuffman);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // RFC 7541 C.4 / C.6 string literals.
    const RFC: &[(&str, &str)] = &[
        ("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"),
        ("no-cache", "a8eb10649cbf"),
        ("custom-key", "25a849e95ba97d7f"),
        ("custom-value", "25a849e95bb8e8b4bf"),
        ("302", "6402"),
        ("private", "aec3771a4b"),
        ("Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"),
        ("https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"),
        ("gzip", "9bd9ab"),
        (
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
        ),
    ];

    #[test]
    fn rfc_examples() {
        for &(plain, coded) in RFC {
            let coded = hex(coded);
            let mut out = Vec::new();
            encode(plain.as_bytes(), &mut out);
            assert_eq!(out, coded, "encode {plain}");
            assert_eq!(encoded_len(plain.as_bytes()), coded.len());
            let mut dec = Vec::new();
            decode(&coded, &mut dec).unwrap();
            assert_eq!(dec, plain.as_bytes());
        }
    }

    #[test]
    fn all_symbols_round_trip() {
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        let mut enc = Vec::new();
        encode(&all, &mut enc);
        assert_eq!(enc.len(), encoded_len(&all));
        let mut dec = Vec::new();
        decode(&enc, &mut dec).unwrap();
        assert_eq!(dec, all);
    }

    #[test]
    fn encode_shorter_gives_up_when_not_shorter() {
        let mut out = vec![7];
        assert_eq!(encode_shorter(b"www.example.com", &mut out, 15), Some(12));
        assert_eq!(out.len(), 13);
        // "307": 3 bytes either way.
        assert_eq!(encode_shorter(b"307", &mut out, 3), None);
        assert_eq!(out.len(), 13);
        // Rare symbols, early exit.
        assert_eq!(encode_shorter(&[0u8; 64], &mut out, 64), None);
        assert_eq!(out.len(), 13);
    }

    #[test]
    fn empty() {
        let mut out = Vec::new();
        encode(b"", &mut out);
        assert!(out.is_empty());
        assert_eq!(encoded_len(b""), 0);
        decode(b"", &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn padding_rules() {
        // 'a' = 00011 (5 bits) + 3 ones of padding: valid.
        let mut out = Vec::new();
        decode(&[0b0001_1111], &mut out).unwrap();
        assert_eq!(out, b"a");
        // Padding not all ones.
        assert_eq!(
            decode(&[0b0001_1110], &mut out),
            Err(DecodeError::InvalidHuffman)
        );
        // 'a' + a whole extra octet of ones: padding of 11 bits.
        assert_eq!(
            decode(&[0b0001_1111, 0xff], &mut out),
            Err(DecodeError::InvalidHuffman)
        );
        // A lone 0xff: 8 bits of padding.
        assert_eq!(decode(&[0xff], &mut out), Err(DecodeError::InvalidHuffman));
        // EOS (30 ones) + padding: explicit EOS is an error.
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff], &mut out),
            Err(DecodeError::InvalidHuffman)
        );
        // Truncated in the middle of a long code that is not all ones.
        assert_eq!(decode(&[0xfe], &mut out), Err(DecodeError::InvalidHuffman));
        // Failure keeps `out` unchanged.
        assert!(out.starts_with(b"a") && out.len() == 1);
    }

    #[test]
    fn eos_in_the_middle_is_rejected() {
        // EOS (30 ones) followed by '0' (00000) and padding.
        let bits: u64 = (0x3fff_ffffu64 << 5) << 5 | 0b11111; // 40 bits
        let bytes = &bits.to_be_bytes()[3..];
        let mut out = Vec::new();
        assert_eq!(decode(bytes, &mut out), Err(DecodeError::InvalidHuffman));
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut enc = Vec::new();
            encode(&data, &mut enc);
            prop_assert_eq!(enc.len(), encoded_len(&data));
            let mut dec = Vec::new();
            decode(&enc, &mut dec).unwrap();
            prop_assert_eq!(dec, data);
        }

        #[test]
        fn arbitrary_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut dec = Vec::new();
            if decode(&data, &mut dec).is_ok() {
                // Whatever decodes must re-encode to the same bytes (canonical padding).
                let mut enc = Vec::new();
                encode(&dec, &mut enc);
                prop_assert_eq!(enc, data);
            }
        }
    }
}
