//! Property test: the SIMD field value scans (`conn::validate`: SSE2, AVX2,
//! simd128, and the dispatching `value_is_visible`) agree with the scalar
//! reference on arbitrary values, mostly visible ASCII with rare bad bytes
//! anywhere; a value the scan passes is one `http::HeaderValue` accepts.

use h2o::conn::validate::{
    value_is_visible, value_is_visible_avx2, value_is_visible_scalar, value_is_visible_simd128,
    value_is_visible_sse2,
};
use proptest::prelude::*;

/// Mostly visible ASCII (what real values are), sometimes any byte.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            20 => 0x20u8..0x7f,
            1 => Just(b'\t'),
            1 => any::<u8>(),
        ],
        0..200,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn simd_matches_scalar(v in value()) {
        let want = value_is_visible_scalar(&v);
        prop_assert_eq!(value_is_visible(&v), want);
        if let Some(got) = value_is_visible_sse2(&v) {
            prop_assert_eq!(got, want);
        }
        if let Some(got) = value_is_visible_avx2(&v) {
            prop_assert_eq!(got, want);
        }
        if let Some(got) = value_is_visible_simd128(&v) {
            prop_assert_eq!(got, want);
        }
        // Whatever the scan says, the stored value is what `http` accepts.
        let ok = http::HeaderValue::from_bytes(&v).is_ok();
        if want {
            prop_assert!(ok);
        }
    }
}
