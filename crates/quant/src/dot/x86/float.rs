//! AVX2/FMA/F16C kernels for F32·F32 and F16·F16 (BF16 follows llama.cpp's orders in
//! `dot::bf16_order`): four 8-lane f32 FMA accumulators,
//! so results differ from the f64-summed scalar reference by f32 rounding (tests allow 1e-5 of
//! the sum of |products|).

use crate::dot::x86::prims::hsum_ps;
use std::arch::x86_64::*;

/// Shared loop over 32 elements per step; `load(p, i)` widens 8 elements at element `i` to f32.
#[inline(always)]
unsafe fn run(
    w: &[u8],
    a: &[u8],
    esize: usize,
    load: impl Fn(*const u8) -> __m256,
    scalar: fn(&[u8], &[u8]) -> f32,
) -> f32 {
    let n = (w.len() / esize).min(a.len() / esize);
    let main = n - n % 32;
    let (wp, ap) = (w.as_ptr(), a.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    for i in (0..main).step_by(32) {
        for (k, s) in acc.iter_mut().enumerate() {
            let o = (i + 8 * k) * esize;
            *s = _mm256_fmadd_ps(load(wp.add(o)), load(ap.add(o)), *s);
        }
    }
    let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    hsum_ps(v) + scalar(&w[main * esize..n * esize], &a[main * esize..n * esize])
}

/// F32 · F32.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn f32_f32(w: &[u8], a: &[u8]) -> f32 {
    let load = |p: *const u8| _mm256_loadu_ps(p.cast());
    run(w, a, 4, load, crate::dot::scalar::float::f32_f32)
}

/// F16 · F16, widened with F16C.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn f16_f16(w: &[u8], a: &[u8]) -> f32 {
    let load = |p: *const u8| _mm256_cvtph_ps(_mm_loadu_si128(p.cast()));
    run(w, a, 2, load, crate::dot::scalar::float::f16_f16)
}
