//! AVX2/FMA/F16C forms of the attention kernel's loops (see `attention.rs` for the plain forms
//! they must equal bit for bit). Scores take eight keys per pass and reduce them together; value
//! sums keep each of tinyBLAS's 16 lanes in registers over its keys; f16 keys and values widen in
//! registers. Every addition and fused multiply-add is the one the plain form makes.

use half::f16;
use std::arch::x86_64::*;

use crate::simd8::reduce8x8;

/// Cache elements that widen to f32 eight at a time.
pub(super) trait Wide: Copy {
    /// Eight elements at `p` as f32.
    ///
    /// # Safety
    /// `p` must be valid for eight elements; the CPU must have AVX2 and F16C.
    unsafe fn load8(p: *const Self) -> __m256;
}

impl Wide for f32 {
    #[inline(always)]
    unsafe fn load8(p: *const f32) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe { _mm256_loadu_ps(p) }
    }
}

impl Wide for f16 {
    #[inline(always)]
    unsafe fn load8(p: *const f16) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
    }
}

/// Appends `scale · q·k[at..at + q.len()]` for every offset in `at`, each dot in tinyBLAS's
/// 16-lane order (two 8-lane halves, then `_mm512_reduce_add_ps`'s tree).
///
/// # Safety
/// AVX2, FMA and F16C must be present, `q.len()` a multiple of 16, and every `at + q.len()` at
/// most `k.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn score<T: Wide>(
    q: &[f32],
    k: &[T],
    at: &[usize],
    scale: f32,
    out: &mut Vec<f32>,
) {
    let n = q.len();
    let (q, k) = (q.as_ptr(), k.as_ptr());
    let mut blocks = at.chunks_exact(8);
    for b in &mut blocks {
        let mut t = [_mm256_setzero_ps(); 8];
        for half in 0..2 {
            let mut lo = [_mm256_setzero_ps(); 4];
            let mut hi = [_mm256_setzero_ps(); 4];
            for i in (0..n).step_by(16) {
                // SAFETY: i + 16 <= n, and every key holds n elements (the caller's contract).
                unsafe {
                    let (ql, qh) = (_mm256_loadu_ps(q.add(i)), _mm256_loadu_ps(q.add(i + 8)));
                    for j in 0..4 {
                        let p = k.add(b[half * 4 + j] + i);
                        lo[j] = _mm256_fmadd_ps(ql, T::load8(p), lo[j]);
                        hi[j] = _mm256_fmadd_ps(qh, T::load8(p.add(8)), hi[j]);
                    }
                }
            }
            for j in 0..4 {
                t[half * 4 + j] = _mm256_add_ps(hi[j], lo[j]);
            }
        }
        let d = _mm256_mul_ps(reduce8x8(&t), _mm256_set1_ps(scale));
        let mut lanes = [0.0f32; 8];
        // SAFETY: `lanes` holds eight elements.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), d) };
        out.extend_from_slice(&lanes);
    }
    for &a in blocks.remainder() {
        let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for i in (0..n).step_by(16) {
            // SAFETY: as above.
            unsafe {
                lo = _mm256_fmadd_ps(_mm256_loadu_ps(q.add(i)), T::load8(k.add(a + i)), lo);
                hi = _mm256_fmadd_ps(
                    _mm256_loadu_ps(q.add(i + 8)),
                    T::load8(k.add(a + i + 8)),
                    hi,
                );
            }
        }
        let t3 = _mm256_add_ps(hi, lo);
        let t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
        let t8 = _mm_add_ps(t6, _mm_movehl_ps(t6, t6));
        out.push(_mm_cvtss_f32(_mm_add_ss(t8, _mm_movehdup_ps(t8))) * scale);
    }
}

/// `out[d] = Σ_k p[k] · v[at[k] + d]` in tinyBLAS's order: lane `l` fuses the terms of keys
/// `l, l+16, …` in order, then the 16 lanes are tree-reduced. `acc` (`16 * out.len()`) holds the
/// lane sums between the two steps.
///
/// # Safety
/// AVX2, FMA and F16C must be present, `out.len()` a multiple of 16, `acc.len() >= 16 *
/// out.len()`, `p.len() == at.len()` and every `at + out.len()` at most `v.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn value_sum<T: Wide>(
    p: &[f32],
    at: &[usize],
    v: &[T],
    acc: &mut [f32],
    out: &mut [f32],
) {
    let hd = out.len();
    for d0 in (0..hd).step_by(64) {
        // SAFETY: the caller's contract; blocks of 64 or 16 columns tile the head.
        unsafe {
            if d0 + 64 <= hd {
                lanes::<T, 8>(p, at, v, d0, hd, acc);
            } else {
                for d in (d0..hd).step_by(16) {
                    lanes::<T, 2>(p, at, v, d, hd, acc);
                }
            }
        }
    }
    for d in (0..hd).step_by(8) {
        // SAFETY: lane l's columns d..d + 8 lie inside `acc`, and d + 8 <= hd.
        unsafe {
            let x: [__m256; 16] =
                std::array::from_fn(|l| _mm256_loadu_ps(acc.as_ptr().add(l * hd + d)));
            let t3: [__m256; 8] = std::array::from_fn(|i| _mm256_add_ps(x[i + 8], x[i]));
            let t6: [__m256; 4] = std::array::from_fn(|i| _mm256_add_ps(t3[i + 4], t3[i]));
            let r = _mm256_add_ps(_mm256_add_ps(t6[0], t6[2]), _mm256_add_ps(t6[1], t6[3]));
            _mm256_storeu_ps(out.as_mut_ptr().add(d), r);
        }
    }
}

/// The 16 lane sums of columns `d0..d0 + 8 * W`, each lane's registers kept over all its keys.
///
/// # Safety
/// As [`value_sum`], with `d0 + 8 * W <= hd`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn lanes<T: Wide, const W: usize>(
    p: &[f32],
    at: &[usize],
    v: &[T],
    d0: usize,
    hd: usize,
    acc: &mut [f32],
) {
    for l in 0..16 {
        let mut a = [_mm256_setzero_ps(); W];
        for k in (l..p.len()).step_by(16) {
            let pv = _mm256_set1_ps(p[k]);
            // SAFETY: the caller's contract.
            unsafe {
                let row = v.as_ptr().add(at[k] + d0);
                for (c, x) in a.iter_mut().enumerate() {
                    *x = _mm256_fmadd_ps(pv, T::load8(row.add(8 * c)), *x);
                }
            }
        }
        for (c, x) in a.iter().enumerate() {
            // SAFETY: l * hd + d0 + 8 * W <= 16 * hd <= acc.len().
            unsafe { _mm256_storeu_ps(acc.as_mut_ptr().add(l * hd + d0 + 8 * c), *x) };
        }
    }
}

/// Rounds every element to f16 and back with F16C (round to nearest even).
///
/// # Safety
/// AVX2 and F16C must be present.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn round_f16(xs: &mut [f32]) {
    let mut chunks = xs.chunks_exact_mut(8);
    for c in &mut chunks {
        // SAFETY: the chunk holds eight elements.
        unsafe {
            let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm256_loadu_ps(c.as_ptr()));
            _mm256_storeu_ps(c.as_mut_ptr(), _mm256_cvtph_ps(h));
        }
    }
    for x in chunks.into_remainder() {
        let h = _mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm_set_ss(*x));
        *x = _mm_cvtss_f32(_mm_cvtph_ps(h));
    }
}

/// The largest element (−∞ for none), eight lanes at a time.
///
/// # Safety
/// AVX2 must be present.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn max(xs: &[f32]) -> f32 {
    let mut chunks = xs.chunks_exact(8);
    let mut m = _mm256_set1_ps(f32::NEG_INFINITY);
    for c in &mut chunks {
        // SAFETY: the chunk holds eight elements.
        m = _mm256_max_ps(m, unsafe { _mm256_loadu_ps(c.as_ptr()) });
    }
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` holds eight elements.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), m) };
    lanes
        .iter()
        .chain(chunks.remainder())
        .copied()
        .fold(f32::NEG_INFINITY, f32::max)
}
