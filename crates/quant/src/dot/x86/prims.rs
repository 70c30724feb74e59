//! AVX2 building blocks shared by the x86 kernels (the same tricks as ggml's x86 code).

use std::arch::x86_64::*;

/// Horizontal sum of eight f32 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn hsum_ps(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// Horizontal sum of eight i32 lanes (exact, wrapping like the lanes themselves).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn hsum_epi32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    let s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01));
    _mm_cvtsi128_si32(s)
}

/// Loads 16 packed nibble bytes at `p` as 32 bytes: low nibbles in bytes 0..16, high nibbles in
/// 16..32 — the element order of the 32-element blocks.
///
/// # Safety
/// `p` must be valid for reading 16 bytes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn nibbles32(p: *const u8) -> __m256i {
    let q = _mm_loadu_si128(p.cast());
    let m = _mm_set1_epi8(0x0f);
    _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m))
}

/// Expands the 32 bits at `p` (little-endian) to 32 bytes: 0xFF where the bit is set.
///
/// # Safety
/// `p` must be valid for reading 4 bytes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn bytes_from_bits32(p: *const u8) -> __m256i {
    let x = p.cast::<i32>().read_unaligned();
    let shuf = _mm256_set_epi64x(
        0x0303_0303_0303_0303,
        0x0202_0202_0202_0202,
        0x0101_0101_0101_0101,
        0,
    );
    let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(x), shuf);
    let bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe));
    _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1))
}

/// Unsigned × signed bytes, summed in groups of four into eight i32 (maddubs + madd). Exact as
/// long as each adjacent pair sum fits i16, which holds for |x| ≤ 128, |y| ≤ 127.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn mul_sum_us8_avx2(ux: __m256i, sy: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(ux, sy), _mm256_set1_epi16(1))
}

/// The same sums with one AVX-VNNI `vpdpbusd` (exact, no i16 intermediate).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avxvnni")]
pub(crate) fn mul_sum_us8_avxvnni(ux: __m256i, sy: __m256i) -> __m256i {
    _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), ux, sy)
}

/// The same sums with the AVX-512 VNNI (256-bit EVEX) `vpdpbusd`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
pub(crate) fn mul_sum_us8_avx512vnni(ux: __m256i, sy: __m256i) -> __m256i {
    _mm256_dpbusd_epi32(_mm256_setzero_si256(), ux, sy)
}

/// The f16 at byte offset `o` of `b`, widened with F16C (the `half` crate re-detects the CPU
/// on every call, which costs more than the whole block's integer work).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn f16_at(b: &[u8], o: usize) -> f32 {
    let bits = i32::from(u16::from_le_bytes([b[o], b[o + 1]]));
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits)))
}
