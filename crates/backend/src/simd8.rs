//! AVX2/FMA (and AVX-512) building blocks shared by the attention kernel and PINE's importance:
//! ggml's `expf` on eight lanes, the horizontal-sum tree of eight vectors at once, and 8-lane
//! dots several at a time. Each computes exactly the operations of its scalar form in
//! [`crate::math`] (same operands, same roundings), so callers get the same bits faster.

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

/// Eight dot products `q·b[p]` of `n` elements in [`crate::math`]'s fixed 8-lane order without
/// fused operations (lane l sums products l, l+8, … in order, then the tree, then the tail
/// summed in order), times `scale`. The rows `b[p]` are f32, or f16 when `F16`.
///
/// # Safety
/// AVX2 and F16C must be present; `q` and every row must be valid for `n` elements.
#[inline]
#[target_feature(enable = "avx2,f16c")]
pub(crate) unsafe fn dot8_pairs<const F16: bool>(
    q: *const f32,
    b: &[*const u8; 8],
    n: usize,
    scale: f32,
) -> __m256 {
    let main = n - n % 8;
    let mut acc = [_mm256_setzero_ps(); 8];
    for i in (0..main).step_by(8) {
        // SAFETY: i + 8 <= n.
        let x = unsafe { _mm256_loadu_ps(q.add(i)) };
        for p in 0..8 {
            // SAFETY: i + 8 <= n.
            let y = unsafe { key8::<F16>(b[p].add(i * key_bytes::<F16>())) };
            acc[p] = _mm256_add_ps(acc[p], _mm256_mul_ps(x, y));
        }
    }
    let tails: [f32; 8] = std::array::from_fn(|p| unsafe { tail_dot::<F16>(q, b[p], main, n) });
    let dots = _mm256_add_ps(
        reduce8x8(&acc),
        _mm256_setr_ps(
            tails[0], tails[1], tails[2], tails[3], tails[4], tails[5], tails[6], tails[7],
        ),
    );
    _mm256_mul_ps(dots, _mm256_set1_ps(scale))
}

/// `Σ q[i]·b[i]` for `i` in `from..n`, summed in order (the tail of the 8-lane dots).
///
/// # Safety
/// `q` and `b` must be valid for `n` elements.
#[inline]
unsafe fn tail_dot<const F16: bool>(q: *const f32, b: *const u8, from: usize, n: usize) -> f32 {
    (from..n)
        .map(|i| {
            // SAFETY: the caller's pointers are valid for n elements.
            unsafe {
                let y = if F16 {
                    half::f16::from_bits(b.cast::<u16>().add(i).read_unaligned()).to_f32()
                } else {
                    b.cast::<f32>().add(i).read_unaligned()
                };
                *q.add(i) * y
            }
        })
        .sum()
}

/// [`dot8_pairs`] for `G` queries against the same eight rows: each key chunk is loaded once
/// for all of them (the query heads sharing one KV head), and every (query, row) pair sees
/// exactly [`dot8_pairs`]'s operations. The 8·G accumulators need AVX-512's 32 registers.
///
/// # Safety
/// AVX2, F16C, AVX-512F and AVX-512VL must be present; every pointer valid for `n` elements.
#[inline]
#[target_feature(enable = "avx2,f16c,avx512f,avx512vl")]
pub(crate) unsafe fn dot8_pairs_multi<const G: usize, const F16: bool>(
    q: [*const f32; G],
    b: &[*const u8; 8],
    n: usize,
    scale: f32,
) -> [__m256; G] {
    let main = n - n % 8;
    let mut acc = [[_mm256_setzero_ps(); 8]; G];
    for i in (0..main).step_by(8) {
        // SAFETY: i + 8 <= n.
        let x: [__m256; G] = std::array::from_fn(|g| unsafe { _mm256_loadu_ps(q[g].add(i)) });
        for p in 0..8 {
            // SAFETY: i + 8 <= n.
            let y = unsafe { key8::<F16>(b[p].add(i * key_bytes::<F16>())) };
            for g in 0..G {
                acc[g][p] = _mm256_add_ps(acc[g][p], _mm256_mul_ps(x[g], y));
            }
        }
    }
    std::array::from_fn(|g| {
        // SAFETY: the caller's pointers are valid for n elements.
        let tails: [f32; 8] =
            std::array::from_fn(|p| unsafe { tail_dot::<F16>(q[g], b[p], main, n) });
        let dots = _mm256_add_ps(reduce8x8(&acc[g]), _mm256_loadu_ps(tails.as_ptr()));
        _mm256_mul_ps(dots, _mm256_set1_ps(scale))
    })
}

/// Whether AVX-512F is present (detected once), for the kernels that run two 8-lane sums per
/// 512-bit register.
pub(crate) fn avx512() -> bool {
    use std::sync::OnceLock;
    static A: OnceLock<bool> = OnceLock::new();
    *A.get_or_init(|| available() && is_x86_feature_detected!("avx512f"))
}

/// Eight elements of a key row at `p` (`F16`: half precision, widened exactly).
///
/// # Safety
/// `p` must be valid for eight elements of the row's type; AVX2 and F16C must be present.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn key8<const F16: bool>(p: *const u8) -> __m256 {
    // SAFETY: the caller's contract.
    unsafe {
        if F16 {
            _mm256_cvtph_ps(_mm_loadu_si128(p.cast()))
        } else {
            _mm256_loadu_ps(p.cast())
        }
    }
}

/// Bytes of one key element.
const fn key_bytes<const F16: bool>() -> usize {
    if F16 {
        2
    } else {
        4
    }
}

/// `out[u * 8 + p] = scale · q_p·row_u` for `count` rows of `n` elements (`n` a multiple of 8)
/// `width` elements apart, in [`dot8_pairs`]'s order, for the first `active` queries (the other
/// lanes get 0). `packed[(c * 8 + p) * 8..][..8]` holds elements `8c..8c + 8` of query p, so
/// one pass over each row serves all the queries. Rows are f32, or f16 when `F16`.
///
/// # Safety
/// AVX2 and F16C must be present; `packed` must hold `8 * n` elements, `rows` be valid for
/// `(count - 1) * width + n` elements and `out` hold `8 * count`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,f16c")]
pub(crate) unsafe fn dot8_queries_avx2<const F16: bool>(
    packed: &[f32],
    active: usize,
    n: usize,
    rows: *const u8,
    width: usize,
    count: usize,
    scale: f32,
    out: &mut [f32],
) {
    let active = active.min(8);
    for u in 0..count {
        let mut acc = [_mm256_setzero_ps(); 8];
        // SAFETY: the caller's contract.
        unsafe {
            let row = rows.add(u * width * key_bytes::<F16>());
            for c in 0..n / 8 {
                let k = key8::<F16>(row.add(8 * c * key_bytes::<F16>()));
                for (p, a) in acc.iter_mut().enumerate().take(active) {
                    let q = _mm256_loadu_ps(packed.as_ptr().add((c * 8 + p) * 8));
                    *a = _mm256_add_ps(*a, _mm256_mul_ps(q, k));
                }
            }
            let d = _mm256_mul_ps(reduce8x8(&acc), _mm256_set1_ps(scale));
            _mm256_storeu_ps(out.as_mut_ptr().add(u * 8), d);
        }
    }
}

/// [`dot8_queries_avx2`] with two queries per 512-bit register (the row's eight elements
/// broadcast to both halves): the same lane operations, half the instructions.
///
/// # Safety
/// As [`dot8_queries_avx2`], with AVX-512F present.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,f16c,avx512f")]
pub(crate) unsafe fn dot8_queries_avx512<const F16: bool>(
    packed: &[f32],
    active: usize,
    n: usize,
    rows: *const u8,
    width: usize,
    count: usize,
    scale: f32,
    out: &mut [f32],
) {
    let pairs = active.min(8).div_ceil(2);
    for u in 0..count {
        let mut acc = [_mm512_setzero_ps(); 4];
        // SAFETY: the caller's contract.
        unsafe {
            let row = rows.add(u * width * key_bytes::<F16>());
            for c in 0..n / 8 {
                let k = key8::<F16>(row.add(8 * c * key_bytes::<F16>()));
                let k = _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(k)));
                for (p, a) in acc.iter_mut().enumerate().take(pairs) {
                    let q = _mm512_loadu_ps(packed.as_ptr().add((c * 8 + 2 * p) * 8));
                    *a = _mm512_add_ps(*a, _mm512_mul_ps(q, k));
                }
            }
            let t: [__m256; 8] = std::array::from_fn(|i| {
                let a = _mm512_castps_pd(acc[i / 2]);
                if i % 2 == 0 {
                    _mm256_castpd_ps(_mm512_castpd512_pd256(a))
                } else {
                    _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(a))
                }
            });
            let d = _mm256_mul_ps(reduce8x8(&t), _mm256_set1_ps(scale));
            _mm256_storeu_ps(out.as_mut_ptr().add(u * 8), d);
        }
    }
}
