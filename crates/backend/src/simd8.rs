//! AVX2/FMA (and AVX-512) building blocks shared by the attention kernel and PINE's importance:
//! ggml's `expf` on eight lanes and the horizontal-sum tree of eight vectors at once. Each
//! computes exactly the operations of its scalar form (same operands, same roundings), so
//! callers get the same bits faster.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

/// Whether AVX2, FMA and F16C are present (detected once): the features every kernel here and
/// in the CPU attention needs.
pub(crate) fn available() -> bool {
    use std::sync::OnceLock;
    static A: OnceLock<bool> = OnceLock::new();
    *A.get_or_init(|| {
        is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
    })
}

/// [`crate::math::expf`] on eight lanes: the same fused polynomial, and `scale2`'s three cases
/// plus the out-of-range case computed side by side and blended.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn exp8(x: __m256) -> __m256 {
    let shift = _mm256_set1_ps(12_582_912.0);
    let z = _mm256_fmadd_ps(x, _mm256_set1_ps(f32::from_bits(0x3fb8_aa3b)), shift);
    let n = _mm256_sub_ps(z, shift);
    let neg_n = _mm256_xor_ps(n, _mm256_set1_ps(-0.0));
    let b = _mm256_fmadd_ps(
        neg_n,
        _mm256_set1_ps(f32::from_bits(0x35bf_be8e)),
        _mm256_fmadd_ps(neg_n, _mm256_set1_ps(f32::from_bits(0x3f31_7200)), x),
    );
    let u = _mm256_mul_ps(b, b);
    let j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(
            _mm256_fmadd_ps(c(0x3c07_2010), b, c(0x3d2b_9f17)),
            u,
            _mm256_fmadd_ps(c(0x3e2a_af33), b, c(0x3eff_fedb)),
        ),
        u,
        _mm256_fmadd_ps(c(0x3f7f_fff6), b, _mm256_set1_ps(1.0)),
    );
    let e = _mm256_cvtps_epi32(n);
    let normal = _mm256_mul_ps(j, pow(e));
    let big = _mm256_mul_ps(
        _mm256_mul_ps(j, pow(_mm256_set1_epi32(127))),
        pow(_mm256_sub_epi32(e, _mm256_set1_epi32(127))),
    );
    let small = _mm256_mul_ps(
        _mm256_mul_ps(j, pow(_mm256_add_epi32(e, _mm256_set1_epi32(126)))),
        pow(_mm256_set1_epi32(-126)),
    );
    let mut r = _mm256_blendv_ps(
        normal,
        big,
        _mm256_cmp_ps::<_CMP_GT_OQ>(n, _mm256_set1_ps(127.0)),
    );
    r = _mm256_blendv_ps(
        r,
        small,
        _mm256_cmp_ps::<_CMP_LT_OQ>(n, _mm256_set1_ps(-126.0)),
    );
    let abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0), n);
    let out = _mm256_blendv_ps(
        _mm256_setzero_ps(),
        _mm256_set1_ps(f32::INFINITY),
        _mm256_cmp_ps::<_CMP_GT_OQ>(n, _mm256_setzero_ps()),
    );
    _mm256_blendv_ps(
        r,
        out,
        _mm256_cmp_ps::<_CMP_GT_OQ>(abs_n, _mm256_set1_ps(192.0)),
    )
}

/// [`crate::math::expf`] on sixteen lanes: the same fused polynomial, `scale2` as one
/// `vscalefps` (j · 2^n rounded once, as `scale2` rounds once in each of its cases), and the
/// out-of-range case blended in, so NaN polynomials of infinite inputs never leak out.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn exp16(x: __m512) -> __m512 {
    let k = |bits: u32| _mm512_set1_ps(f32::from_bits(bits));
    let shift = _mm512_set1_ps(12_582_912.0);
    let z = _mm512_fmadd_ps(x, k(0x3fb8_aa3b), shift);
    let n = _mm512_sub_ps(z, shift);
    let neg_n = _mm512_sub_ps(_mm512_setzero_ps(), n);
    let b = _mm512_fmadd_ps(
        neg_n,
        k(0x35bf_be8e),
        _mm512_fmadd_ps(neg_n, k(0x3f31_7200), x),
    );
    let u = _mm512_mul_ps(b, b);
    let j = _mm512_fmadd_ps(
        _mm512_fmadd_ps(
            _mm512_fmadd_ps(k(0x3c07_2010), b, k(0x3d2b_9f17)),
            u,
            _mm512_fmadd_ps(k(0x3e2a_af33), b, k(0x3eff_fedb)),
        ),
        u,
        _mm512_fmadd_ps(k(0x3f7f_fff6), b, _mm512_set1_ps(1.0)),
    );
    let r = _mm512_scalef_ps(j, n);
    let abs_n = _mm512_abs_ps(n);
    let out_of_range = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(abs_n, _mm512_set1_ps(192.0));
    let positive = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(n, _mm512_setzero_ps());
    let edge = _mm512_mask_blend_ps(positive, _mm512_setzero_ps(), _mm512_set1_ps(f32::INFINITY));
    _mm512_mask_blend_ps(out_of_range, r, edge)
}

/// Eight horizontal sums at once: lane `i` of the result is `_mm512_reduce_add_ps`'s tree over
/// the eight lanes of `t[i]` (`((t0+t4)+(t2+t6))+((t1+t5)+(t3+t7))`), the same additions
/// [`crate::math`]'s and the attention's one-at-a-time reductions make.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn reduce8x8(t: &[__m256; 8]) -> __m256 {
    // Per vector: the upper half plus the lower half (four sums each), two vectors per register.
    let (a0, a1, a2, a3) = (
        half(t[0], t[1]),
        half(t[2], t[3]),
        half(t[4], t[5]),
        half(t[6], t[7]),
    );
    // Then elements 0+2 and 1+3 of each four.
    let (b0, b1) = (quarter(a0, a1), quarter(a2, a3));
    // Then the two remaining sums: lanes hold vectors 0, 2, 4, 6, 1, 3, 5, 7.
    let c = _mm256_add_ps(
        _mm256_shuffle_ps::<0x88>(b0, b1),
        _mm256_shuffle_ps::<0xDD>(b0, b1),
    );
    _mm256_permutevar8x32_ps(c, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

#[inline]
#[target_feature(enable = "avx2")]
fn c(bits: u32) -> __m256 {
    _mm256_set1_ps(f32::from_bits(bits))
}

/// `2^e` per lane for `e` in the normal exponent range.
#[inline]
#[target_feature(enable = "avx2")]
fn pow(e: __m256i) -> __m256 {
    _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
        e,
        _mm256_set1_epi32(127),
    )))
}

/// The upper halves of `a` and `b` plus their lower halves: `a`'s four sums, then `b`'s.
#[inline]
#[target_feature(enable = "avx2")]
fn half(a: __m256, b: __m256) -> __m256 {
    _mm256_add_ps(
        _mm256_permute2f128_ps::<0x31>(a, b),
        _mm256_permute2f128_ps::<0x20>(a, b),
    )
}

/// Per 128-bit lane: elements 0+2 and 1+3 of `a`, then of `b`.
#[inline]
#[target_feature(enable = "avx2")]
fn quarter(a: __m256, b: __m256) -> __m256 {
    _mm256_add_ps(
        _mm256_shuffle_ps::<0x44>(a, b),
        _mm256_shuffle_ps::<0xEE>(a, b),
    )
}

/// Whether AVX-512F is present (detected once), for the kernels that hold 16 lanes per
/// register.
pub(crate) fn avx512() -> bool {
    use std::sync::OnceLock;
    static A: OnceLock<bool> = OnceLock::new();
    *A.get_or_init(|| available() && is_x86_feature_detected!("avx512f"))
}
