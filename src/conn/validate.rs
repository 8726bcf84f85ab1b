//! Field value validation (RFC 9113 §8.2.1) over whole byte strings, with
//! SIMD paths: SSE2 and AVX2 on x86_64 (AVX2 chosen at run time with
//! `is_x86_feature_detected!`), `simd128` on wasm32 when compiled with that
//! target feature, scalar elsewhere and for short inputs.
//!
//! [`value_is_visible`] answers "is every byte HTAB or visible ASCII
//! (0x20..=0x7e)?". Such a value has no NUL, CR or LF (§8.2.1), is valid
//! UTF-8 and is accepted by `http::HeaderValue`, so a received value that
//! passes needs no second scan when it becomes a `HeaderValue`. Values with
//! other bytes (obs-text 0x80..=0xff, which `HeaderValue` also takes, or
//! controls and DEL, which it refuses) take the checked scalar path.
//!
//! The vector kernels test 16 or 32 bytes at a time with signed compares
//! (bytes ≥ 0x80 are negative, so one `> 0x1f` and one `< 0x7f` compare
//! bound the visible range) plus `== 0x09`; a tail shorter than a vector is
//! covered by one more, overlapping load ending at the last byte.

/// Every byte of `v` is HTAB or 0x20..=0x7e (scalar reference).
#[inline]
pub fn value_is_visible_scalar(v: &[u8]) -> bool {
    v.iter().all(|&b| (0x20..0x7f).contains(&b) || b == b'\t')
}

/// Every byte of `v` is HTAB or 0x20..=0x7e; vectorised where available.
#[inline]
pub fn value_is_visible(v: &[u8]) -> bool {
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
    value_is_visible_scalar(v)
}

/// The SSE2 kernel (inputs of at least 16 bytes; `None` on other targets or
/// shorter inputs). Exposed for tests and benches.
#[cfg(any(test, feature = "bench-internals"))]
#[doc(hidden)]
pub fn value_is_visible_sse2(v: &[u8]) -> Option<bool> {
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
pub fn value_is_visible_avx2(v: &[u8]) -> Option<bool> {
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
pub fn value_is_visible_simd128(v: &[u8]) -> Option<bool> {
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
            return super::value_is_visible_scalar(v);
        }
        // SAFETY: no memory access; SSE2 is baseline on x86_64. The block is
        // needed before Rust 1.87 (MSRV 1.85), where intrinsics are `unsafe fn`s.
        #[allow(unused_unsafe)]
        let (lo, hi, tab, mut acc) = unsafe {
            (
                _mm_set1_epi8(0x1f),
                _mm_set1_epi8(0x7f),
                _mm_set1_epi8(0x09),
                _mm_set1_epi8(-1),
            )
        };
        let check = |p: *const u8, acc: __m128i| -> __m128i {
            // SAFETY: every caller passes a pointer with 16 readable bytes
            // inside `v` (see below); the load is unaligned; SSE2 is baseline.
            #[allow(unused_unsafe)]
            unsafe {
                let x = _mm_loadu_si128(p as *const __m128i);
                let visible = _mm_and_si128(_mm_cmpgt_epi8(x, lo), _mm_cmplt_epi8(x, hi));
                _mm_and_si128(acc, _mm_or_si128(visible, _mm_cmpeq_epi8(x, tab)))
            }
        };
        let mut chunks = v.chunks_exact(16);
        for c in &mut chunks {
            acc = check(c.as_ptr(), acc);
        }
        if !chunks.remainder().is_empty() {
            // The last 16 bytes of `v` (len >= 16), overlapping the loop's.
            acc = check(v[v.len() - 16..].as_ptr(), acc);
        }
        // SAFETY: no memory access; SSE2 is baseline on x86_64.
        #[allow(unused_unsafe)]
        let mask = unsafe { _mm_movemask_epi8(acc) };
        mask == 0xffff
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
            let lo = _mm256_set1_epi8(0x1f);
            let hi = _mm256_set1_epi8(0x7f);
            let tab = _mm256_set1_epi8(0x09);
            let mut acc = _mm256_set1_epi8(-1);
            // A macro, not a closure: closures do not inherit `avx2`.
            macro_rules! check {
                ($p:expr) => {{
                    let x = _mm256_loadu_si256($p as *const __m256i);
                    let visible =
                        _mm256_and_si256(_mm256_cmpgt_epi8(x, lo), _mm256_cmpgt_epi8(hi, x));
                    acc =
                        _mm256_and_si256(acc, _mm256_or_si256(visible, _mm256_cmpeq_epi8(x, tab)));
                }};
            }
            let mut chunks = v.chunks_exact(32);
            for c in &mut chunks {
                check!(c.as_ptr());
            }
            if !chunks.remainder().is_empty() {
                check!(v[v.len() - 32..].as_ptr());
            }
            _mm256_movemask_epi8(acc) == -1
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
            return super::value_is_visible_scalar(v);
        }
        let (lo, hi, tab) = (i8x16_splat(0x1f), i8x16_splat(0x7f), i8x16_splat(0x09));
        let mut acc = i8x16_splat(-1);
        let check = |p: *const u8, acc: v128| -> v128 {
            // SAFETY: every caller passes a pointer with 16 readable bytes
            // inside `v`; `v128_load` has no alignment requirement.
            let x = unsafe { v128_load(p as *const v128) };
            let visible = v128_and(i8x16_gt(x, lo), i8x16_lt(x, hi));
            v128_and(acc, v128_or(visible, i8x16_eq(x, tab)))
        };
        let mut chunks = v.chunks_exact(16);
        for c in &mut chunks {
            acc = check(c.as_ptr(), acc);
        }
        if !chunks.remainder().is_empty() {
            acc = check(v[v.len() - 16..].as_ptr(), acc);
        }
        i8x16_all_true(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_in_every_position_matches_scalar() {
        for len in [16usize, 17, 31, 32, 33, 47, 64, 100] {
            for pos in 0..len {
                for b in 0..=255u8 {
                    let mut v = vec![b'a'; len];
                    v[pos] = b;
                    let want = value_is_visible_scalar(&v);
                    assert_eq!(want, b == b'\t' || (0x20..0x7f).contains(&b));
                    assert_eq!(
                        value_is_visible(&v),
                        want,
                        "len {len} pos {pos} byte {b:#x}"
                    );
                    if let Some(got) = value_is_visible_sse2(&v) {
                        assert_eq!(got, want, "sse2 len {len} pos {pos} byte {b:#x}");
                    }
                    if let Some(got) = value_is_visible_avx2(&v) {
                        assert_eq!(got, want, "avx2 len {len} pos {pos} byte {b:#x}");
                    }
                    if let Some(got) = value_is_visible_simd128(&v) {
                        assert_eq!(got, want, "simd128 len {len} pos {pos} byte {b:#x}");
                    }
                }
            }
        }
        assert!(value_is_visible(b""));
        assert!(!value_is_visible(b"a\r\nb"));
    }
}
