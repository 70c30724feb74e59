//! The CPU attention kernel: executes an [`AttentionPlan`] for one layer. Each (row, head) pair
//! rotates its pre-RoPE query once per distinct shift, scores the plan's key ranges in plan order,
//! takes one softmax over all of them and sums the values in the same order, so the result does
//! not depend on where keys sit in the cache.
//!
//! With an f16 cache it rounds like llama.cpp's non-flash path: the query is rounded to f16
//! before the K·q product and the probabilities to f16 before the ·V product.

use half::f16;
use rayon::prelude::*;

use crate::backend::AttentionShape;
use crate::cpu::kv_cache::{LayerCache, Store};
use crate::plan::{AttentionPlan, QueryGroup};

/// Per-task buffers, reused across the (row, head) pairs one worker handles.
struct Scratch {
    q: Vec<f32>,
    scores: Vec<f32>,
    acc: Vec<f32>,
}

/// Runs `plan` for queries `q` (`[rows, n_heads * head_dim]`, pre-RoPE) into `out`.
pub(crate) fn attend(
    layer: &LayerCache,
    shape: &AttentionShape,
    q: &[f32],
    plan: &AttentionPlan,
    out: &mut [f32],
) {
    let hd = shape.head_dim;
    let nh = shape.n_heads;
    let group_size = nh / shape.n_kv_heads;
    let mut owner = Vec::new();
    for (gi, g) in plan.groups.iter().enumerate() {
        for (li, r) in g.rows.clone().enumerate() {
            if owner.len() <= r {
                owner.resize(r + 1, (0, 0));
            }
            owner[r] = (gi, li);
        }
    }
    let max_keys = plan
        .groups
        .iter()
        .map(|g| {
            (0..nh)
                .map(|h| g.ranges(h).iter().map(|r| r.keys.len()).sum::<usize>())
                .max()
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0);
    let scale = 1.0 / (hd as f32).sqrt();
    out[..owner.len() * nh * hd]
        .par_chunks_mut(hd)
        .enumerate()
        .for_each_init(
            || Scratch {
                q: vec![0.0; hd],
                scores: Vec::with_capacity(max_keys),
                acc: vec![0.0; hd],
            },
            |s, (i, o)| {
                let (row, h) = (i / nh, i % nh);
                let (gi, li) = owner[row];
                let qh = &q[(row * nh + h) * hd..][..hd];
                head(
                    layer,
                    shape,
                    &plan.groups[gi],
                    li,
                    h,
                    h / group_size,
                    qh,
                    scale,
                    s,
                    o,
                );
            },
        );
}

#[allow(clippy::too_many_arguments)]
fn head(
    layer: &LayerCache,
    shape: &AttentionShape,
    g: &QueryGroup,
    li: usize,
    h: usize,
    kvh: usize,
    q_raw: &[f32],
    scale: f32,
    s: &mut Scratch,
    out: &mut [f32],
) {
    let hd = shape.head_dim;
    let stride = shape.n_kv_heads * hd;
    let base = kvh * hd;
    let pos = g.positions[li];
    let own = g.cache_index[li];
    s.scores.clear();
    let mut rotated_for = None;
    for range in g.ranges(h) {
        let shift = range.shift;
        if rotated_for != Some(shift) {
            s.q.copy_from_slice(q_raw);
            shape.rope.rotate(&mut s.q, pos + shift);
            if let Store::F16(_) = layer.k {
                for x in s.q.iter_mut() {
                    *x = round_f16(*x);
                }
            }
            rotated_for = Some(shift);
        }
        for j in range.visible(own) {
            let at = j * stride + base;
            let d = match &layer.k {
                Store::F32(k) => dot_f32(&s.q, &k[at..at + hd]),
                Store::F16(k) => dot_f16(&s.q, &k[at..at + hd]),
            };
            s.scores.push(d * scale);
        }
    }
    let max = s.scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f64;
    for x in s.scores.iter_mut() {
        *x = (*x - max).exp();
        sum += *x as f64;
    }
    let inv = (1.0 / sum) as f32;
    s.acc.iter_mut().for_each(|a| *a = 0.0);
    let mut k = 0;
    for range in g.ranges(h) {
        for j in range.visible(own) {
            let at = j * stride + base;
            let p = s.scores[k] * inv;
            k += 1;
            match &layer.v {
                Store::F32(v) => axpy(&mut s.acc, p, &v[at..at + hd]),
                Store::F16(v) => axpy_f16(&mut s.acc, round_f16(p), &v[at..at + hd]),
            }
        }
    }
    out.copy_from_slice(&s.acc);
}

/// `Σ a·b` in a fixed order that does not depend on the CPU: eight lanes (lane `l` takes
/// elements `l, l+8, …`) each accumulated with one fused multiply-add per element, the lanes
/// summed pairwise `((0+4)+(2+6))+((1+5)+(3+7))`, then a sequential tail. The AVX2/FMA path
/// computes exactly the same operations.
fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if simd::available() {
        // SAFETY: the features were detected.
        return unsafe { simd::dot_f32(a, b) };
    }
    let n = a.len().min(b.len());
    let main = n - n % 8;
    let mut acc = [0.0f32; 8];
    for i in (0..main).step_by(8) {
        for l in 0..8 {
            acc[l] = a[i + l].mul_add(b[i + l], acc[l]);
        }
    }
    reduce8(&acc) + tail_dot(&a[main..n], &b[main..n])
}

/// [`dot_f32`] with f16 keys (widened exactly).
fn dot_f16(a: &[f32], b: &[f16]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if simd::available() {
        // SAFETY: the features were detected.
        return unsafe { simd::dot_f16(a, b) };
    }
    let n = a.len().min(b.len());
    let main = n - n % 8;
    let mut acc = [0.0f32; 8];
    for i in (0..main).step_by(8) {
        for l in 0..8 {
            acc[l] = a[i + l].mul_add(b[i + l].to_f32(), acc[l]);
        }
    }
    let bt: Vec<f32> = b[main..n].iter().map(|x| x.to_f32()).collect();
    reduce8(&acc) + tail_dot(&a[main..n], &bt)
}

/// The lane sum of [`dot_f32`].
fn reduce8(v: &[f32; 8]) -> f32 {
    ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
}

/// Sequential tail of fewer than eight products.
fn tail_dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0f32, |s, (x, y)| x.mul_add(*y, s))
}

/// `acc += p·v` element by element (a product, then a sum: two roundings per element).
fn axpy(acc: &mut [f32], p: f32, v: &[f32]) {
    for (a, &x) in acc.iter_mut().zip(v) {
        *a += p * x;
    }
}

/// [`axpy`] with f16 values (widened exactly); the same operations on every CPU.
fn axpy_f16(acc: &mut [f32], p: f32, v: &[f16]) {
    #[cfg(target_arch = "x86_64")]
    if simd::available() {
        // SAFETY: the features were detected.
        return unsafe { simd::axpy_f16(acc, p, v) };
    }
    for (a, x) in acc.iter_mut().zip(v) {
        *a += p * x.to_f32();
    }
}

/// `x` rounded to f16 and back (round to nearest even, like `half` and F16C).
fn round_f16(x: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if simd::available() {
        // SAFETY: the features were detected.
        return unsafe { simd::round_f16(x) };
    }
    f16::from_f32(x).to_f32()
}

/// AVX2/FMA/F16C versions of the helpers above, operation for operation the same.
#[cfg(target_arch = "x86_64")]
mod simd {
    use half::f16;
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    /// Whether AVX2, FMA and F16C are present (detected once).
    pub(super) fn available() -> bool {
        static A: OnceLock<bool> = OnceLock::new();
        *A.get_or_init(|| {
            is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("f16c")
        })
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn reduce(v: __m256) -> f32 {
        // ((0+4)+(2+6)) + ((1+5)+(3+7)), as `super::reduce8`.
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let main = n - n % 8;
        let mut acc = _mm256_setzero_ps();
        for i in (0..main).step_by(8) {
            let x = _mm256_loadu_ps(a.as_ptr().add(i));
            let y = _mm256_loadu_ps(b.as_ptr().add(i));
            acc = _mm256_fmadd_ps(x, y, acc);
        }
        reduce(acc) + super::tail_dot(&a[main..n], &b[main..n])
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_f16(a: &[f32], b: &[f16]) -> f32 {
        let n = a.len().min(b.len());
        let main = n - n % 8;
        let mut acc = _mm256_setzero_ps();
        for i in (0..main).step_by(8) {
            let x = _mm256_loadu_ps(a.as_ptr().add(i));
            let y = _mm256_cvtph_ps(_mm_loadu_si128(b.as_ptr().add(i).cast()));
            acc = _mm256_fmadd_ps(x, y, acc);
        }
        let mut tail = 0.0f32;
        for (x, y) in a[main..n].iter().zip(&b[main..n]) {
            tail = x.mul_add(round_bits(*y), tail);
        }
        reduce(acc) + tail
    }

    /// An f16 widened with F16C.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn round_bits(h: f16) -> f32 {
        _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(h.to_bits()))))
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn axpy_f16(acc: &mut [f32], p: f32, v: &[f16]) {
        let n = acc.len().min(v.len());
        let main = n - n % 8;
        let pv = _mm256_set1_ps(p);
        for i in (0..main).step_by(8) {
            let a = _mm256_loadu_ps(acc.as_ptr().add(i));
            let y = _mm256_cvtph_ps(_mm_loadu_si128(v.as_ptr().add(i).cast()));
            _mm256_storeu_ps(
                acc.as_mut_ptr().add(i),
                _mm256_add_ps(a, _mm256_mul_ps(pv, y)),
            );
        }
        for (a, x) in acc[main..n].iter_mut().zip(&v[main..n]) {
            *a += p * round_bits(*x);
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn round_f16(x: f32) -> f32 {
        let h = _mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm_set_ss(x));
        _mm_cvtss_f32(_mm_cvtph_ps(h))
    }
}
