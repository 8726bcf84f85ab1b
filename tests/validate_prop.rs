//! Property test: the SIMD field value scans (`conn::validate`: SSE2, AVX2,
//! simd128, and the dispatching `value_is_valid`) agree with the scalar
//! reference on arbitrary values (mostly visible ASCII and obs-text, with
//! rare bad bytes anywhere), and accept exactly what `http::HeaderValue`
//! accepts: the decoder builds received values with `http`'s unchecked
//! constructor after this scan, so the two predicates must be the same.

use h2o::conn::validate::{
    value_is_valid, value_is_valid_avx2, value_is_valid_scalar, value_is_valid_simd128,
    value_is_valid_sse2,
};
use proptest::prelude::*;

/// Mostly visible ASCII (what real values are), sometimes obs-text, HTAB
/// or any byte.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            20 => 0x20u8..0x7f,
            2 => 0x80u8..=0xff,
            1 => Just(b'\t'),
            1 => Just(0x7fu8),
            1 => any::<u8>(),
        ],
        0..200,
    )
}

fn check(v: &[u8]) -> Result<(), TestCaseError> {
    let want = value_is_valid_scalar(v);
    prop_assert_eq!(value_is_valid(v), want);
    if let Some(got) = value_is_valid_sse2(v) {
        prop_assert_eq!(got, want);
    }
    if let Some(got) = value_is_valid_avx2(v) {
        prop_assert_eq!(got, want);
    }
    if let Some(got) = value_is_valid_simd128(v) {
        prop_assert_eq!(got, want);
    }
    // Exactly `http`'s predicate: accepted ⇔ `HeaderValue::from_bytes` accepts.
    prop_assert_eq!(http::HeaderValue::from_bytes(v).is_ok(), want);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn simd_matches_scalar_and_http(v in value()) {
        check(&v)?;
    }

    #[test]
    fn arbitrary_bytes_match_scalar_and_http(v in prop::collection::vec(any::<u8>(), 0..100)) {
        check(&v)?;
    }
}
