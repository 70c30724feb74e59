//! AVX-512 forms of the attention kernel's score and value-sum loops: the operations of the AVX2
//! forms (`attention_x86.rs`) lane for lane, with the 16 tinyBLAS lanes in one register instead
//! of two, so half the instructions, and a KV head's query heads served by each widened key.
//! Equal bit for bit to the plain forms in `attention.rs`.

use half::f16;
use std::arch::x86_64::*;

use crate::simd8::reduce8x8;

/// Cache elements that widen to f32 sixteen at a time.
pub(super) trait Wide16: Copy {
    /// Sixteen elements at `p` as f32.
    ///
    /// # Safety
    /// `p` must be valid for sixteen elements; the CPU must have AVX-512 F.
    unsafe fn load16(p: *const Self) -> __m512;
}

impl Wide16 for f32 {
    #[inline(always)]
    unsafe fn load16(p: *const f32) -> __m512 {
        // SAFETY: the caller's contract.
        unsafe { _mm512_loadu_ps(p) }
    }
}

impl Wide16 for f16 {
    #[inline(always)]
    unsafe fn load16(p: *const f16) -> __m512 {
        // SAFETY: the caller's contract.
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) }
    }
}

/// The upper eight lanes plus the lower eight: the first step of the 16-lane tree.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn fold_halves(v: __m512) -> __m256 {
    let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    _mm256_add_ps(hi, _mm512_castps512_ps256(v))
}

/// `attention_x86::score` for `M` queries over the same keys (the query heads of one KV head;
/// `M = 1` for one), each dot's 16 tinyBLAS lanes in one register: each key's widened elements
/// serve all `M` queries, and every query's scores are those it gets alone.
///
/// # Safety
/// `simd8::avx512()`; every `q[m].len()` the same multiple of 16, and every `at + q[m].len()`
/// at most `k.len()`.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn score_multi<T: Wide16, const M: usize>(
    q: [&[f32]; M],
    k: &[T],
    at: &[usize],
    scale: f32,
    mut out: [&mut Vec<f32>; M],
) {
    let n = q[0].len();
    let k = k.as_ptr();
    let mut blocks = at.chunks_exact(8);
    for b in &mut blocks {
        let b: &[usize; 8] = b.try_into().expect("chunks of eight");
        // SAFETY: the caller's contract.
        unsafe { block8(&q, k, n, b, scale, &mut out, 8) };
    }
    let rest = blocks.remainder();
    if rest.len() >= 3 {
        // A short tail runs as a block padded with its last key: every dot is independent and
        // reduced by the same tree, so the kept scores are the ones the one-key path gives.
        let b: [usize; 8] = std::array::from_fn(|j| rest[j.min(rest.len() - 1)]);
        // SAFETY: as above; the padding repeats a valid key.
        unsafe { block8(&q, k, n, &b, scale, &mut out, rest.len()) };
        return;
    }
    for &a in rest {
        let mut acc = [_mm512_setzero_ps(); M];
        for i in (0..n).step_by(16) {
            // SAFETY: i + 16 <= n for every query, and every key holds n elements.
            unsafe {
                let kv = T::load16(k.add(a + i));
                for m in 0..M {
                    acc[m] = _mm512_fmadd_ps(_mm512_loadu_ps(q[m].as_ptr().add(i)), kv, acc[m]);
                }
            }
        }
        for (a, o) in acc.iter().zip(out.iter_mut()) {
            let t3 = fold_halves(*a);
            let t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
            let t8 = _mm_add_ps(t6, _mm_movehl_ps(t6, t6));
            o.push(_mm_cvtss_f32(_mm_add_ss(t8, _mm_movehdup_ps(t8))) * scale);
        }
    }
}

/// The scores of the eight keys at offsets `b` for the `M` queries (`n` dimensions each), the
/// first `keep` appended to each query's `out`.
///
/// # Safety
/// As [`score_multi`], for the keys of `b`.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn block8<T: Wide16, const M: usize>(
    q: &[&[f32]; M],
    k: *const T,
    n: usize,
    b: &[usize; 8],
    scale: f32,
    out: &mut [&mut Vec<f32>; M],
    keep: usize,
) {
    // Four keys at a time: 4·M accumulators stay in registers (eight at a time spilled them
    // for three heads, doubling the block's cost); each dot's chain is unchanged.
    let mut halves = [[_mm256_setzero_ps(); 8]; M];
    for j0 in (0..8).step_by(4) {
        let mut acc = [[_mm512_setzero_ps(); 4]; M];
        for i in (0..n).step_by(16) {
            // SAFETY: i + 16 <= n for every query, and every key holds n elements.
            unsafe {
                let kv: [__m512; 4] = std::array::from_fn(|j| T::load16(k.add(b[j0 + j] + i)));
                for m in 0..M {
                    let qv = _mm512_loadu_ps(q[m].as_ptr().add(i));
                    for j in 0..4 {
                        acc[m][j] = _mm512_fmadd_ps(qv, kv[j], acc[m][j]);
                    }
                }
            }
        }
        for (h, a) in halves.iter_mut().zip(&acc) {
            for j in 0..4 {
                h[j0 + j] = fold_halves(a[j]);
            }
        }
    }
    for (t, o) in halves.iter().zip(out.iter_mut()) {
        let d = _mm256_mul_ps(reduce8x8(t), _mm256_set1_ps(scale));
        debug_assert!(keep <= 8);
        // All eight lanes stored past the end, the first `keep` kept (a store of a fixed size
        // rather than a copy call per block).
        o.reserve(8);
        // SAFETY: the reserve leaves room for eight elements past `len`; `keep <= 8` of them
        // are written and kept.
        unsafe {
            _mm256_storeu_ps(o.as_mut_ptr().add(o.len()), d);
            o.set_len(o.len() + keep);
        }
    }
}

/// `attention_x86::value_sum` for `M` probability rows over the same keys (`M = 1` for one),
/// sixteen columns per register: each value row's widened elements serve all `M`, and every
/// output is the one it gets alone. `acc[m]` holds row m's 16 lane sums; `out` the `M` outputs.
///
/// # Safety
/// `simd8::avx512()`, `out.len() / M` a multiple of 16, every `acc[m].len() >= 16 * out.len() /
/// M`, every `p[m].len() == at.len()` and every `at + out.len() / M` at most `v.len()`.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn value_sum_multi<T: Wide16, const M: usize>(
    p: [&[f32]; M],
    at: &[usize],
    v: &[T],
    mut acc: [&mut [f32]; M],
    out: &mut [f32],
) {
    let hd = out.len() / M;
    for d0 in (0..hd).step_by(64) {
        // SAFETY: the caller's contract; blocks of 64 or 16 columns tile the head.
        unsafe {
            if d0 + 64 <= hd {
                lanes_multi::<T, 4, M>(p, at, v, d0, hd, &mut acc);
            } else {
                for d in (d0..hd).step_by(16) {
                    lanes_multi::<T, 1, M>(p, at, v, d, hd, &mut acc);
                }
            }
        }
    }
    for (a, o) in acc.iter().zip(out.chunks_exact_mut(hd)) {
        for d in (0..hd).step_by(16) {
            // SAFETY: lane l's columns d..d + 16 lie inside `a`, and d + 16 <= hd.
            unsafe {
                let x: [__m512; 16] =
                    std::array::from_fn(|l| _mm512_loadu_ps(a.as_ptr().add(l * hd + d)));
                let t3: [__m512; 8] = std::array::from_fn(|i| _mm512_add_ps(x[i + 8], x[i]));
                let t6: [__m512; 4] = std::array::from_fn(|i| _mm512_add_ps(t3[i + 4], t3[i]));
                let r = _mm512_add_ps(_mm512_add_ps(t6[0], t6[2]), _mm512_add_ps(t6[1], t6[3]));
                _mm512_storeu_ps(o.as_mut_ptr().add(d), r);
            }
        }
    }
}

/// The 16 lane sums of columns `d0..d0 + 16 * W` of `M` probability rows, each lane's
/// registers kept over its keys.
///
/// # Safety
/// As [`value_sum_multi`], with `d0 + 16 * W <= hd`.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn lanes_multi<T: Wide16, const W: usize, const M: usize>(
    p: [&[f32]; M],
    at: &[usize],
    v: &[T],
    d0: usize,
    hd: usize,
    acc: &mut [&mut [f32]; M],
) {
    for l in 0..16 {
        let mut a = [[_mm512_setzero_ps(); M]; W];
        for k in (l..at.len()).step_by(16) {
            let pv: [__m512; M] = std::array::from_fn(|m| _mm512_set1_ps(p[m][k]));
            // SAFETY: the caller's contract.
            unsafe {
                let row = v.as_ptr().add(at[k] + d0);
                for (c, ac) in a.iter_mut().enumerate() {
                    let x = T::load16(row.add(16 * c));
                    for (am, pm) in ac.iter_mut().zip(&pv) {
                        *am = _mm512_fmadd_ps(*pm, x, *am);
                    }
                }
            }
        }
        for (c, ac) in a.iter().enumerate() {
            for (x, accm) in ac.iter().zip(acc.iter_mut()) {
                // SAFETY: l * hd + d0 + 16 * W <= 16 * hd <= accm.len().
                unsafe { _mm512_storeu_ps(accm.as_mut_ptr().add(l * hd + d0 + 16 * c), *x) };
            }
        }
    }
}

/// The scores of the 16 keys of one block (`batch_keys`: element `d` of the block's key `j` at
/// `blk + 16d + j`) for `M` queries, times `scale`, into `out[m]`. Lane `l` of each vector is
/// the chain the one-key path fuses in its lane `l` (dimensions `l, l + 16, …`, in order from
/// 0), and the lanes are added in `_mm512_reduce_add_ps`'s tree, so every score has that path's
/// bits without a horizontal reduction; each widened block row serves all `M` queries.
///
/// # Safety
/// `simd8::avx512()`; every `q[m].len()` the same multiple of 16 and `blk` valid for `16 ·
/// q[0].len()` elements.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn block16<T: Wide16, const M: usize>(
    q: [&[f32]; M],
    blk: *const T,
    scale: f32,
    out: &mut [[f32; 16]; M],
) {
    let hd = q[0].len();
    let mut t6 = [[_mm512_setzero_ps(); M]; 4];
    for (i, t) in t6.iter_mut().enumerate() {
        // Lanes i, i + 4, i + 8 and i + 12, whose sum is the tree's t6[i].
        let mut lanes = [[_mm512_setzero_ps(); M]; 4];
        // The four lanes' chains side by side, each in its own order (dimensions from
        // `i + 4j` up by 16): one lane's chain at a time waited on the FMA latency.
        for d0 in (0..hd).step_by(16) {
            for (j, a) in lanes.iter_mut().enumerate() {
                let d = d0 + i + 4 * j;
                // SAFETY: hd is a multiple of 16, so d < hd: the block's row d and every
                // query's element d exist.
                unsafe {
                    let kv = T::load16(blk.add(16 * d));
                    for m in 0..M {
                        let qd = _mm512_set1_ps(*q[m].as_ptr().add(d));
                        a[m] = _mm512_fmadd_ps(qd, kv, a[m]);
                    }
                }
            }
        }
        // t3[i] = lane i+8 + lane i; t3[i+4] = lane i+12 + lane i+4; t6[i] = t3[i+4] + t3[i].
        for m in 0..M {
            let hi = _mm512_add_ps(lanes[3][m], lanes[1][m]);
            let lo = _mm512_add_ps(lanes[2][m], lanes[0][m]);
            t[m] = _mm512_add_ps(hi, lo);
        }
    }
    for (m, o) in out.iter_mut().enumerate() {
        let r = _mm512_add_ps(
            _mm512_add_ps(t6[0][m], t6[2][m]),
            _mm512_add_ps(t6[1][m], t6[3][m]),
        );
        // SAFETY: `o` holds 16 elements.
        unsafe { _mm512_storeu_ps(o.as_mut_ptr(), _mm512_mul_ps(r, _mm512_set1_ps(scale))) };
    }
}

/// The largest score (−∞ for none), four 16-lane maxima side by side: one chain of `vmaxps`
/// waited four cycles per sixteen scores.
#[target_feature(enable = "avx512f")]
pub(super) fn max(xs: &[f32]) -> f32 {
    let mut m = [_mm512_set1_ps(f32::NEG_INFINITY); 4];
    let mut chunks = xs.chunks_exact(64);
    for c in &mut chunks {
        for (k, mk) in m.iter_mut().enumerate() {
            // SAFETY: the chunk holds 64 elements.
            *mk = _mm512_max_ps(*mk, unsafe { _mm512_loadu_ps(c.as_ptr().add(16 * k)) });
        }
    }
    let rest = chunks.remainder();
    for (k, part) in rest.chunks(16).enumerate() {
        let mask: __mmask16 = if part.len() == 16 {
            !0
        } else {
            (1 << part.len()) - 1
        };
        let neg = _mm512_set1_ps(f32::NEG_INFINITY);
        // SAFETY: the mask reads only the part's elements.
        let v = unsafe { _mm512_mask_loadu_ps(neg, mask, part.as_ptr()) };
        m[k] = _mm512_max_ps(m[k], v);
    }
    let m = _mm512_max_ps(_mm512_max_ps(m[0], m[1]), _mm512_max_ps(m[2], m[3]));
    _mm512_reduce_max_ps(m)
}

/// `x -= max` for every score: [`super::attention::softmax`]'s first step, sixteen at a time.
#[target_feature(enable = "avx512f")]
pub(super) fn sub_max(xs: &mut [f32], max: f32) {
    let m = _mm512_set1_ps(max);
    let mut chunks = xs.chunks_exact_mut(16);
    for c in &mut chunks {
        // SAFETY: the chunk holds sixteen elements.
        unsafe {
            _mm512_storeu_ps(
                c.as_mut_ptr(),
                _mm512_sub_ps(_mm512_loadu_ps(c.as_ptr()), m),
            )
        };
    }
    chunks.into_remainder().iter_mut().for_each(|x| *x -= max);
}

/// The softmax's sum: each 16-wide chunk (the last zero-padded) reduced by
/// `_mm512_reduce_add_ps`'s tree, the chunks added in f64, as
/// [`super::attention::softmax`]; then every element times the sum's inverse.
#[target_feature(enable = "avx512f,avx2")]
pub(super) fn normalize(xs: &mut [f32]) {
    let n = xs.len();
    let mut sum = 0.0f64;
    for at in (0..n).step_by(16) {
        let mask: __mmask16 = if n - at >= 16 {
            !0
        } else {
            (1 << (n - at)) - 1
        };
        // SAFETY: the mask reads only elements below n; the rest are zeros.
        let v = unsafe { _mm512_maskz_loadu_ps(mask, xs.as_ptr().add(at)) };
        let t3 = fold_halves(v);
        let t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
        let t8 = _mm_add_ps(t6, _mm_movehl_ps(t6, t6));
        sum += _mm_cvtss_f32(_mm_add_ss(t8, _mm_movehdup_ps(t8))) as f64;
    }
    let inv = _mm512_set1_ps((1.0 / sum) as f32);
    for at in (0..n).step_by(16) {
        let mask: __mmask16 = if n - at >= 16 {
            !0
        } else {
            (1 << (n - at)) - 1
        };
        // SAFETY: the mask reads and writes only elements below n.
        unsafe {
            let p = xs.as_mut_ptr().add(at);
            _mm512_mask_storeu_ps(p, mask, _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, p), inv));
        }
    }
}
