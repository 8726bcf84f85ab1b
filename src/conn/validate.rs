//! Field value validation (RFC 9113 §8.2.1) over whole byte strings, with
//! SIMD paths: SSE2 and AVX2 on x86_64 (AVX2 chosen at run time with
//! `is_x86_feature_detected!`), `simd128` on wasm32 when compiled with that
//! target feature, scalar elsewhere and for short inputs.
//!
//! [`value_is_valid`] answers "is every byte HTAB, 0x20..=0x7e or
//! 0x80..=0xff?": exactly the bytes `http::HeaderValue::from_bytes` accepts
//! (its predicate is `b >= 0x20 && b != 0x7f || b == b'\t'`), so no NUL, CR
//! or LF (RFC 9113 §8.2.1), no other control and no DEL. The decoder
//! (`conn::headers`) runs it on every received regular field value, then
//! builds the `HeaderValue` with `http`'s unchecked constructor instead of
//! letting `http` scan the value a second time. (Leading and trailing SP /
//! HTAB, also forbidden by §8.2.1, are checked there: two byte compares.)
//!
//! The vector kernels test 16 or 32 bytes at a time: a byte is bad when it
//! is ≤ 0x1f (unsigned `min` with 0x1f equals it) and not HTAB, or equals
//! 0x7f; the bad lanes are OR-ed together and tested once at the end. A tail
//! shorter than a vector is covered by one more, overlapping load ending at
//! the last byte.

/// Whether `http::HeaderValue` accepts byte `b` (HTAB, 0x20..=0x7e, 0x80..=0xff).
#[inline]
const fn byte_is_valid(b: u8) -> bool {
    (b >= 0x20 && b != 0x7f) || b == b'\t'
}

/// Every byte of `v` is HTAB, 0x20..=0x7e or 0x80..=0xff (scalar reference).
#[inline]
pub fn value_is_valid_scalar(v: &[u8]) -> bool {
    v.iter().all(|&b| byte_is_valid(b))
}

/// Every byte of `v` is HTAB, 0x20..=0x7e or 0x80..=0xff (what
/// `http::HeaderValue` accepts); vectorised where available.
#[inline]
pub fn value_is_valid(v: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if v.len() >= 16 {
            if v.len() >= 32 && x86::has_avx2() {
                return x86::avx2(v);
            }
            return x86::sse2(v);
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        if v.len() >= 16 {
            return wasm::simd128(v);
        }
    }
    value_is_valid_scalar(v)
}

/// The SSE2 kernel (inputs of at least 16 bytes; `None` on other targets or
/// shorter inputs). Exposed for tests and benches.
#[cfg(any(test, feature = "bench-internals"))]
#[doc(hidden)]
pub fn value_is_valid_sse2(v: &[u8]) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    {
        if v.len() >= 16 {
            return Some(x86::sse2(v));
        }
    }
    let _ = v;
    None
}

/// The AVX2 kernel (inputs of at least 32 bytes on a CPU with AVX2; `None`
/// otherwise). Exposed for tests and benches.
#[cfg(any(test, feature = "bench-internals"))]
#[doc(hidden)]
pub fn value_is_valid_avx2(v: &[u8]) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    {
        if v.len() >= 32 && x86::has_avx2() {
            return Some(x86::avx2(v));
        }
    }
    let _ = v;
    None
}

/// The wasm `simd128` kernel (inputs of at least 16 bytes when compiled with
/// that feature; `None` otherwise). Exposed for tests and benches.
#[cfg(any(test, feature = "bench-internals"))]
#[doc(hidden)]
pub fn value_is_valid_simd128(v: &[u8]) -> Option<bool> {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        if v.len() >= 16 {
            return Some(wasm::simd128(v));
        }
    }
    let _ = v;
    None
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)] // SIMD intrinsics
mod x86 {
    use core::arch::x86_64::*;
    use core::sync::atomic::{AtomicU8, Ordering};

    const UNKNOWN: u8 = 0;
    const NO: u8 = 1;
    const YES: u8 = 2;

    static AVX2: AtomicU8 = AtomicU8::new(UNKNOWN);

    /// AVX2 support, detected once and cached.
    #[inline]
    pub(super) fn has_avx2() -> bool {
        match AVX2.load(Ordering::Relaxed) {
            YES => true,
            NO => false,
            _ => {
                let yes = std::is_x86_feature_detected!("avx2");
                AVX2.store(if yes { YES } else { NO }, Ordering::Relaxed);
                yes
            }
        }
    }

    /// `v.len() >= 16` (checked by the callers; shorter inputs return the
    /// scalar answer).
    pub(super) fn sse2(v: &[u8]) -> bool {
        if v.len() < 16 {
            return super::value_is_valid_scalar(v);
        }
        // SAFETY: no memory access; SSE2 is baseline on x86_64. The block is
        // needed before Rust 1.87 (MSRV 1.85), where intrinsics are `unsafe fn`s.
        #[allow(unused_unsafe)]
        let (ctl, del, tab, mut bad) = unsafe {
            (
                _mm_set1_epi8(0x1f),
                _mm_set1_epi8(0x7f),
                _mm_set1_epi8(0x09),
                _mm_setzero_si128(),
            )
        };
        let check = |p: *const u8, bad: __m128i| -> __m128i {
            // SAFETY: every caller passes a pointer with 16 readable bytes
            // inside `v` (see below); the load is unaligned; SSE2 is baseline.
            #[allow(unused_unsafe)]
            unsafe {
                let x = _mm_loadu_si128(p as *const __m128i);
                // x <= 0x1f (unsigned) and not HTAB, or x == DEL.
                let control = _mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x);
                let control = _mm_andnot_si128(_mm_cmpeq_epi8(x, tab), control);
                _mm_or_si128(bad, _mm_or_si128(control, _mm_cmpeq_epi8(x, del)))
            }
        };
        let mut chunks = v.chunks_exact(16);
        for c in &mut chunks {
            bad = check(c.as_ptr(), bad);
        }
        if !chunks.remainder().is_empty() {
            // The last 16 bytes of `v` (len >= 16), overlapping the loop's.
            bad = check(v[v.len() - 16..].as_ptr(), bad);
        }
        // SAFETY: no memory access; SSE2 is baseline on x86_64.
        #[allow(unused_unsafe)]
        let mask = unsafe { _mm_movemask_epi8(bad) };
        mask == 0
    }

    /// `v.len() >= 32` and AVX2 detected (both checked by the callers).
    pub(super) fn avx2(v: &[u8]) -> bool {
        if v.len() < 32 || !has_avx2() {
            return sse2(v);
        }
        // SAFETY: AVX2 was detected at run time just above.
        unsafe { avx2_impl(v) }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn avx2_impl(v: &[u8]) -> bool {
        // SAFETY (whole function): AVX2 is enabled for it and only called
        // after detection; every load reads 32 bytes inside `v`: the chunks
        // are exactly 32 bytes and the tail load starts at len - 32 >= 0.
        unsafe {
            let ctl = _mm256_set1_epi8(0x1f);
            let del = _mm256_set1_epi8(0x7f);
            let tab = _mm256_set1_epi8(0x09);
            let mut bad = _mm256_setzero_si256();
            // A macro, not a closure: closures do not inherit `avx2`.
            macro_rules! check {
                ($p:expr) => {{
                    let x = _mm256_loadu_si256($p as *const __m256i);
                    let control = _mm256_cmpeq_epi8(_mm256_min_epu8(x, ctl), x);
                    let control = _mm256_andnot_si256(_mm256_cmpeq_epi8(x, tab), control);
                    bad = _mm256_or_si256(bad, _mm256_or_si256(control, _mm256_cmpeq_epi8(x, del)));
                }};
            }
            let mut chunks = v.chunks_exact(32);
            for c in &mut chunks {
                check!(c.as_ptr());
            }
            if !chunks.remainder().is_empty() {
                check!(v[v.len() - 32..].as_ptr());
            }
            _mm256_movemask_epi8(bad) == 0
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[allow(unsafe_code)] // SIMD intrinsics
mod wasm {
    use core::arch::wasm32::*;

    /// `v.len() >= 16` (checked by the callers).
    pub(super) fn simd128(v: &[u8]) -> bool {
        if v.len() < 16 {
            return super::value_is_valid_scalar(v);
        }
        let (ctl, del, tab) = (u8x16_splat(0x1f), u8x16_splat(0x7f), u8x16_splat(0x09));
        let mut bad = u8x16_splat(0);
        let check = |p: *const u8, bad: v128| -> v128 {
            // SAFETY: every caller passes a pointer with 16 readable bytes
            // inside `v`; `v128_load` has no alignment requirement.
            let x = unsafe { v128_load(p as *const v128) };
            // x <= 0x1f (unsigned) and not HTAB, or x == DEL.
            let control = v128_andnot(u8x16_le(x, ctl), i8x16_eq(x, tab));
            v128_or(bad, v128_or(control, i8x16_eq(x, del)))
        };
        let mut chunks = v.chunks_exact(16);
        for c in &mut chunks {
            bad = check(c.as_ptr(), bad);
        }
        if !chunks.remainder().is_empty() {
            bad = check(v[v.len() - 16..].as_ptr(), bad);
        }
        !v128_any_true(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_in_every_position_matches_scalar_and_http() {
        for b in 0..=255u8 {
            // The reference is `http`'s own predicate, byte by byte.
            assert_eq!(
                byte_is_valid(b),
                http::HeaderValue::from_bytes(&[b'a', b, b'a']).is_ok(),
                "byte {b:#x}"
            );
        }
        for len in [1usize, 15, 16, 17, 31, 32, 33, 47, 64, 100] {
            for pos in 0..len {
                for b in 0..=255u8 {
                    let mut v = vec![b'a'; len];
                    v[pos] = b;
                    let want = value_is_valid_scalar(&v);
                    assert_eq!(want, byte_is_valid(b));
                    assert_eq!(value_is_valid(&v), want, "len {len} pos {pos} byte {b:#x}");
                    if let Some(got) = value_is_valid_sse2(&v) {
                        assert_eq!(got, want, "sse2 len {len} pos {pos} byte {b:#x}");
                    }
                    if let Some(got) = value_is_valid_avx2(&v) {
                        assert_eq!(got, want, "avx2 len {len} pos {pos} byte {b:#x}");
                    }
                    if let Some(got) = value_is_valid_simd128(&v) {
                        assert_eq!(got, want, "simd128 len {len} pos {pos} byte {b:#x}");
                    }
                }
            }
        }
        assert!(value_is_valid(b""));
        assert!(!value_is_valid(b"a\r\nb"));
        assert!(value_is_valid(
            "caf\u{e9} na\u{ef}ve obs-text 0123456789".as_bytes()
        ));
        assert!(!value_is_valid(b"0123456789abcdef\x7f"));
        assert!(!value_is_valid(b"0123456789abcdef0123456789abcdef\x00"));
    }
}
