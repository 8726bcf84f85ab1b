//! WebSocket payload masking (RFC 6455 §5.3).
//!
//! Masking and unmasking are the same operation: byte `i` of the frame payload is
//! XORed with `mask[i % 4]`. [`apply_mask`] works in place; it takes the
//! position of `buf[0]` within the frame payload so a payload that arrives in
//! pieces can be unmasked piece by piece. [`extend_masked`] appends a masked
//! copy to a buffer in one pass (AVX2 on x86_64: load, XOR, store into the
//! buffer's spare capacity), for a receiver that must copy the payload anyway.
//!
//! Implementations:
//! - scalar: 8 bytes at a time through `u64` (any target);
//! - x86_64: SSE2 and AVX2, chosen at run time with `is_x86_feature_detected!`
//!   and cached in an atomic (no AVX-512 variant: the development machine has
//!   no AVX-512 to test it on, and the crate's MSRV 1.85 predates its intrinsics);
//! - aarch64: NEON (always present on aarch64, chosen at compile time);
//! - wasm32: `simd128` when the crate is compiled with `target_feature = "simd128"`.
//!
//! `unsafe` in this module is limited to the SIMD intrinsics (raw-pointer
//! loads/stores and calling `#[target_feature]` functions after detection),
//! and, for [`extend_masked`], marking the spare bytes the AVX2 copy wrote as
//! initialized.

use bytes::BytesMut;

/// Rotates `mask` so that index 0 of the result applies to payload position `offset`.
#[inline]
fn rotate(mask: [u8; 4], offset: usize) -> [u8; 4] {
    let r = offset & 3;
    [
        mask[r],
        mask[(r + 1) & 3],
        mask[(r + 2) & 3],
        mask[(r + 3) & 3],
    ]
}

/// Masks or unmasks `buf` in place.
///
/// `offset` is the position of `buf[0]` within the frame payload: byte `i` of
/// `buf` is XORed with `mask[(offset + i) % 4]`. Any length and any alignment
/// are accepted. The fastest implementation available on this CPU is used.
#[inline]
pub fn apply_mask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let m = rotate(mask, offset);
    // Below ~128 bytes the (autovectorized) scalar loop beats the call into a
    // `#[target_feature]` function plus head/tail handling.
    if buf.len() < 128 {
        scalar(buf, m);
        return;
    }
    dispatch(buf, m);
}

/// Appends `src` to `dst`, masked: byte `i` of `src` is XORed with
/// `mask[(offset + i) % 4]` (as [`apply_mask`] would do after a plain copy).
/// On x86_64 with AVX2 the copy and the XOR are one pass; elsewhere it is a
/// copy followed by [`apply_mask`].
pub fn extend_masked(dst: &mut BytesMut, src: &[u8], mask: [u8; 4], offset: usize) {
    #[cfg(target_arch = "x86_64")]
    if src.len() >= 128 && x86::level() == x86::AVX2 {
        x86::extend_avx2(dst, src, rotate(mask, offset));
        return;
    }
    let start = dst.len();
    dst.extend_from_slice(src);
    apply_mask(&mut dst[start..], mask, offset);
}

/// Scalar masking with an already-rotated mask (`m[0]` applies to `buf[0]`).
#[inline]
fn scalar(buf: &mut [u8], m: [u8; 4]) {
    let m64 = u64::from_ne_bytes([m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let v = u64::from_ne_bytes(w) ^ m64;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    // The remainder starts at a multiple of 8, so its mask phase is 0 again.
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= m[i & 3];
    }
}

/// Masks `buf` with the portable scalar implementation (exposed for tests/benches).
#[cfg(any(test, feature = "bench-internals"))]
#[doc(hidden)]
pub fn mask_scalar(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    scalar(buf, rotate(mask, offset));
}

/// Byte-by-byte reference implementation (exposed for tests).
#[cfg(any(test, feature = "bench-internals"))]
#[doc(hidden)]
pub fn mask_reference(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= mask[(offset + i) & 3];
    }
}

/// Splits off a scalar-handled head so that the rest of `buf` starts at an
/// `align`-byte boundary; returns the remaining slice and its rotated mask.
#[allow(dead_code)]
#[inline]
fn align_head(buf: &mut [u8], m: [u8; 4], align: usize) -> (&mut [u8], [u8; 4]) {
    // Aligning only pays off when the vector loop is long.
    if buf.len() < 512 {
        return (buf, m);
    }
    let head = buf.as_ptr().align_offset(align).min(buf.len());
    let (h, rest) = buf.split_at_mut(head);
    scalar(h, m);
    (rest, rotate(m, head))
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)] // SIMD intrinsics
mod x86 {
    use super::{align_head, rotate, scalar};
    use core::arch::x86_64::*;
    use core::sync::atomic::{AtomicU8, Ordering};

    pub(super) const UNKNOWN: u8 = 0;
    pub(super) const SSE2: u8 = 1;
    pub(super) const AVX2: u8 = 2;

    static LEVEL: AtomicU8 = AtomicU8::new(UNKNOWN);

    /// The best implementation this CPU supports (detected once, then cached).
    #[inline]
    pub(super) fn level() -> u8 {
        let l = LEVEL.load(Ordering::Relaxed);
        if l != UNKNOWN {
            return l;
        }
        let l = if std::is_x86_feature_detected!("avx2") {
            AVX2
        } else {
            SSE2
        };
        LEVEL.store(l, Ordering::Relaxed);
        l
    }

    pub(super) fn has_avx2() -> bool {
        std::is_x86_feature_detected!("avx2")
    }

    /// SSE2 masking with a rotated mask. SSE2 is part of the x86_64 baseline.
    pub(super) fn sse2(buf: &mut [u8], m: [u8; 4]) {
        let (buf, m) = align_head(buf, m, 16);
        let mut chunks = buf.chunks_exact_mut(64);
        // SAFETY: no memory access; SSE2 is baseline on x86_64. The block is
        // needed before Rust 1.87 (MSRV 1.85), where intrinsics are `unsafe fn`s.
        #[allow(unused_unsafe)]
        let v = unsafe { _mm_set1_epi32(i32::from_ne_bytes(m)) };
        for c in &mut chunks {
            let p = c.as_mut_ptr() as *mut __m128i;
            // SAFETY: `c` is exactly 64 bytes, so the four 16-byte unaligned
            // loads/stores at p..p+4 stay inside it; SSE2 is baseline on x86_64.
            unsafe {
                let a = _mm_loadu_si128(p);
                let b = _mm_loadu_si128(p.add(1));
                let cc = _mm_loadu_si128(p.add(2));
                let d = _mm_loadu_si128(p.add(3));
                _mm_storeu_si128(p, _mm_xor_si128(a, v));
                _mm_storeu_si128(p.add(1), _mm_xor_si128(b, v));
                _mm_storeu_si128(p.add(2), _mm_xor_si128(cc, v));
                _mm_storeu_si128(p.add(3), _mm_xor_si128(d, v));
            }
        }
        let mut rest = chunks.into_remainder().chunks_exact_mut(16);
        for c in &mut rest {
            let p = c.as_mut_ptr() as *mut __m128i;
            // SAFETY: `c` is exactly 16 bytes; unaligned load/store; SSE2 baseline.
            unsafe { _mm_storeu_si128(p, _mm_xor_si128(_mm_loadu_si128(p), v)) };
        }
        // 64- and 16-byte steps keep the mask phase at 0.
        scalar(rest.into_remainder(), m);
    }

    /// AVX2 body. Callers must have checked that the CPU supports AVX2.
    ///
    /// For `len >= 32` there is no scalar head or tail: the first and last 32
    /// bytes are loaded (unmasked) before the main loop, the main loop runs on
    /// 32-byte-aligned addresses, and afterwards the head and tail vectors are
    /// XORed and stored over their ranges. Bytes covered twice receive the same
    /// value (original XOR mask) both times, so the overlap is harmless.
    #[target_feature(enable = "avx2")]
    unsafe fn avx2_impl(buf: &mut [u8], m: [u8; 4]) {
        let len = buf.len();
        if len < 32 {
            scalar(buf, m);
            return;
        }
        let splat32 = |m: [u8; 4]| {
            // The block is needed before Rust 1.87 (MSRV 1.85), where intrinsics
            // are `unsafe fn`s; later compilers consider it unused.
            #[allow(unused_unsafe)]
            // SAFETY: no memory access; AVX2 is enabled on the enclosing fn.
            unsafe {
                _mm256_set1_epi32(i32::from_ne_bytes(m))
            }
        };
        let v_head = splat32(m);
        let v_tail = splat32(rotate(m, len - 32));
        let head_ptr = buf.as_mut_ptr() as *mut __m256i;
        let tail_ptr = buf[len - 32..].as_mut_ptr() as *mut __m256i;
        // SAFETY: len >= 32, so both 32-byte unaligned loads are inside `buf`.
        let (head, tail) = unsafe { (_mm256_loadu_si256(head_ptr), _mm256_loadu_si256(tail_ptr)) };
        // The aligned body starts within the first 32 bytes (start < 32 <= len).
        let start = buf.as_ptr().align_offset(32).min(32);
        let v = splat32(rotate(m, start));
        let body = &mut buf[start..];
        let mut chunks = body.chunks_exact_mut(128);
        for c in &mut chunks {
            let p = c.as_mut_ptr() as *mut __m256i;
            // SAFETY: `c` is exactly 128 bytes, so the four 32-byte unaligned
            // loads/stores at p..p+4 stay inside it; AVX2 is enabled on this fn.
            unsafe {
                let a = _mm256_loadu_si256(p);
                let b = _mm256_loadu_si256(p.add(1));
                let cc = _mm256_loadu_si256(p.add(2));
                let d = _mm256_loadu_si256(p.add(3));
                _mm256_storeu_si256(p, _mm256_xor_si256(a, v));
                _mm256_storeu_si256(p.add(1), _mm256_xor_si256(b, v));
                _mm256_storeu_si256(p.add(2), _mm256_xor_si256(cc, v));
                _mm256_storeu_si256(p.add(3), _mm256_xor_si256(d, v));
            }
        }
        for c in chunks.into_remainder().chunks_exact_mut(32) {
            let p = c.as_mut_ptr() as *mut __m256i;
            // SAFETY: `c` is exactly 32 bytes; unaligned load/store; AVX2 enabled.
            unsafe { _mm256_storeu_si256(p, _mm256_xor_si256(_mm256_loadu_si256(p), v)) };
        }
        // The body's < 32-byte remainder lies in the last 32 bytes, bytes before
        // `start` in the first 32: both rewritten from their original values here.
        let head_ptr = buf.as_mut_ptr() as *mut __m256i;
        let tail_ptr = buf[len - 32..].as_mut_ptr() as *mut __m256i;
        // SAFETY: len >= 32, so both 32-byte unaligned stores are inside `buf`.
        unsafe {
            _mm256_storeu_si256(head_ptr, _mm256_xor_si256(head, v_head));
            _mm256_storeu_si256(tail_ptr, _mm256_xor_si256(tail, v_tail));
        }
    }

    /// AVX2 masked copy of `src` to `dst` (`src.len()` bytes), rotated mask.
    ///
    /// # Safety
    /// The CPU supports AVX2; `dst` is valid for `src.len()` byte writes and
    /// does not overlap `src`.
    #[target_feature(enable = "avx2")]
    unsafe fn copy_avx2_impl(src: &[u8], dst: *mut u8, m: [u8; 4]) {
        let len = src.len();
        // The block is needed before Rust 1.87 (MSRV 1.85), where intrinsics
        // are `unsafe fn`s; later compilers consider it unused.
        #[allow(unused_unsafe)]
        // SAFETY: no memory access; AVX2 is enabled on this fn.
        let v = unsafe { _mm256_set1_epi32(i32::from_ne_bytes(m)) };
        let sp = src.as_ptr();
        let mut i = 0;
        while i + 128 <= len {
            // SAFETY: i + 128 <= len: the four 32-byte unaligned loads are in
            // `src`, the stores in the `len` bytes `dst` is valid for (the
            // caller's contract); AVX2 is enabled on this fn.
            unsafe {
                let s = sp.add(i) as *const __m256i;
                let d = dst.add(i) as *mut __m256i;
                let a = _mm256_loadu_si256(s);
                let b = _mm256_loadu_si256(s.add(1));
                let c = _mm256_loadu_si256(s.add(2));
                let e = _mm256_loadu_si256(s.add(3));
                _mm256_storeu_si256(d, _mm256_xor_si256(a, v));
                _mm256_storeu_si256(d.add(1), _mm256_xor_si256(b, v));
                _mm256_storeu_si256(d.add(2), _mm256_xor_si256(c, v));
                _mm256_storeu_si256(d.add(3), _mm256_xor_si256(e, v));
            }
            i += 128;
        }
        while i + 32 <= len {
            // SAFETY: i + 32 <= len: one unaligned load in `src`, one store in
            // `dst`'s `len` bytes; AVX2 is enabled on this fn.
            unsafe {
                let a = _mm256_loadu_si256(sp.add(i) as *const __m256i);
                _mm256_storeu_si256(dst.add(i) as *mut __m256i, _mm256_xor_si256(a, v));
            }
            i += 32;
        }
        // Steps of 32 keep the mask phase at 0.
        while i < len {
            // SAFETY: i < len: inside `dst`'s `len` bytes.
            unsafe { dst.add(i).write(src[i] ^ m[i & 3]) };
            i += 1;
        }
    }

    /// Appends `src` to `dst` masked with the rotated mask `m` in one AVX2
    /// pass; the caller must have verified AVX2 support.
    pub(super) fn extend_avx2(dst: &mut super::BytesMut, src: &[u8], m: [u8; 4]) {
        debug_assert!(has_avx2());
        let len = dst.len();
        dst.reserve(src.len());
        let spare = dst.spare_capacity_mut();
        assert!(spare.len() >= src.len(), "reserve gave room");
        // `spare` is `dst`'s own spare capacity, nothing else references it
        // while `dst` is borrowed mutably, so it cannot overlap `src`.
        // SAFETY: AVX2 was detected (`level()`); `spare` holds at least
        // `src.len()` bytes (checked above) and does not overlap `src`.
        unsafe { copy_avx2_impl(src, spare.as_mut_ptr().cast::<u8>(), m) };
        // SAFETY: copy_avx2_impl wrote all `src.len()` spare bytes.
        unsafe { dst.set_len(len + src.len()) };
    }

    /// AVX2 masking; the caller must have verified AVX2 support.
    pub(super) fn avx2(buf: &mut [u8], m: [u8; 4]) {
        debug_assert!(has_avx2());
        // SAFETY: only reached after `is_x86_feature_detected!("avx2")` (via
        // `level()` or `has_avx2()`), so the target feature is present.
        unsafe { avx2_impl(buf, m) }
    }
}

#[cfg(target_arch = "aarch64")]
#[allow(unsafe_code)] // SIMD intrinsics
mod neon {
    use super::scalar;
    use core::arch::aarch64::*;

    /// NEON masking with a rotated mask. NEON is mandatory on aarch64.
    pub(super) fn neon(buf: &mut [u8], m: [u8; 4]) {
        // SAFETY: no memory access; NEON is baseline on aarch64. The block is
        // needed before Rust 1.87 (MSRV 1.85), where intrinsics are `unsafe fn`s.
        #[allow(unused_unsafe)]
        let v = unsafe { vreinterpretq_u8_u32(vdupq_n_u32(u32::from_ne_bytes(m))) };
        let mut chunks = buf.chunks_exact_mut(64);
        for c in &mut chunks {
            let p = c.as_mut_ptr();
            // SAFETY: `c` is exactly 64 bytes: four 16-byte loads/stores at
            // p, p+16, p+32, p+48 stay inside it; vld1q/vst1q allow any alignment.
            unsafe {
                let a = vld1q_u8(p);
                let b = vld1q_u8(p.add(16));
                let cc = vld1q_u8(p.add(32));
                let d = vld1q_u8(p.add(48));
                vst1q_u8(p, veorq_u8(a, v));
                vst1q_u8(p.add(16), veorq_u8(b, v));
                vst1q_u8(p.add(32), veorq_u8(cc, v));
                vst1q_u8(p.add(48), veorq_u8(d, v));
            }
        }
        let mut rest = chunks.into_remainder().chunks_exact_mut(16);
        for c in &mut rest {
            let p = c.as_mut_ptr();
            // SAFETY: `c` is exactly 16 bytes; vld1q/vst1q allow any alignment.
            unsafe { vst1q_u8(p, veorq_u8(vld1q_u8(p), v)) };
        }
        scalar(rest.into_remainder(), m);
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[allow(unsafe_code)] // SIMD intrinsics
mod wasm {
    use super::scalar;
    use core::arch::wasm32::*;

    /// simd128 masking with a rotated mask (compiled only with `+simd128`).
    pub(super) fn simd128(buf: &mut [u8], m: [u8; 4]) {
        let v = u32x4_splat(u32::from_ne_bytes(m));
        let mut chunks = buf.chunks_exact_mut(64);
        for c in &mut chunks {
            let p = c.as_mut_ptr() as *mut v128;
            // SAFETY: `c` is exactly 64 bytes: four 16-byte loads/stores at
            // p..p+4 stay inside it; v128_load/store allow any alignment.
            unsafe {
                let a = v128_load(p);
                let b = v128_load(p.add(1));
                let cc = v128_load(p.add(2));
                let d = v128_load(p.add(3));
                v128_store(p, v128_xor(a, v));
                v128_store(p.add(1), v128_xor(b, v));
                v128_store(p.add(2), v128_xor(cc, v));
                v128_store(p.add(3), v128_xor(d, v));
            }
        }
        let mut rest = chunks.into_remainder().chunks_exact_mut(16);
        for c in &mut rest {
            let p = c.as_mut_ptr() as *mut v128;
            // SAFETY: `c` is exactly 16 bytes; v128_load/store allow any alignment.
            unsafe { v128_store(p, v128_xor(v128_load(p), v)) };
        }
        scalar(rest.into_remainder(), m);
    }
}

/// Runs the best implementation for this target/CPU with a rotated mask.
#[inline]
fn dispatch(buf: &mut [u8], m: [u8; 4]) {
    #[cfg(target_arch = "x86_64")]
    {
        match x86::level() {
            x86::AVX2 => x86::avx2(buf, m),
            _ => x86::sse2(buf, m),
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        neon::neon(buf, m)
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        wasm::simd128(buf, m)
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        scalar(buf, m)
    }
}

/// SSE2 masking if available (always on x86_64); returns `false` and leaves
/// `buf` untouched on other targets. Exposed for tests/benches.
#[cfg(any(test, feature = "bench-internals"))]
#[doc(hidden)]
pub fn mask_sse2(buf: &mut [u8], mask: [u8; 4], offset: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        x86::sse2(buf, rotate(mask, offset));
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (buf, mask, offset);
        false
    }
}

/// AVX2 masking if this CPU supports it; returns `false` and leaves `buf`
/// untouched otherwise. Exposed for tests/benches.
#[cfg(any(test, feature = "bench-internals"))]
#[doc(hidden)]
pub fn mask_avx2(buf: &mut [u8], mask: [u8; 4], offset: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if x86::has_avx2() {
            x86::avx2(buf, rotate(mask, offset));
            return true;
        }
        false
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (buf, mask, offset);
        false
    }
}

/// [`extend_masked`] forced onto its AVX2 path if this CPU supports AVX2
/// (any length); returns `false` and leaves `dst` untouched otherwise.
/// Exposed for tests/benches.
#[cfg(any(test, feature = "bench-internals"))]
#[doc(hidden)]
pub fn extend_masked_avx2(dst: &mut BytesMut, src: &[u8], mask: [u8; 4], offset: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if x86::has_avx2() {
            x86::extend_avx2(dst, src, rotate(mask, offset));
            return true;
        }
        false
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (dst, src, mask, offset);
        false
    }
}

/// NEON masking on aarch64; returns `false` and leaves `buf` untouched on
/// other targets. Exposed for tests/benches.
#[cfg(any(test, feature = "bench-internals"))]
#[doc(hidden)]
pub fn mask_neon(buf: &mut [u8], mask: [u8; 4], offset: usize) -> bool {
    #[cfg(target_arch = "aarch64")]
    {
        neon::neon(buf, rotate(mask, offset));
        true
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        let _ = (buf, mask, offset);
        false
    }
}

/// wasm `simd128` masking when compiled with that target feature; returns
/// `false` and leaves `buf` untouched otherwise. Exposed for tests/benches.
#[cfg(any(test, feature = "bench-internals"))]
#[doc(hidden)]
pub fn mask_simd128(buf: &mut [u8], mask: [u8; 4], offset: usize) -> bool {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        wasm::simd128(buf, rotate(mask, offset));
        true
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let _ = (buf, mask, offset);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_matches_offset() {
        let m = [1, 2, 3, 4];
        assert_eq!(rotate(m, 0), [1, 2, 3, 4]);
        assert_eq!(rotate(m, 1), [2, 3, 4, 1]);
        assert_eq!(rotate(m, 6), [3, 4, 1, 2]);
    }

    #[test]
    fn known_vector() {
        // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
        let mut b = *b"Hello";
        apply_mask(&mut b, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(b, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }
}
