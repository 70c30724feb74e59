//! The CPU attention kernel: executes an [`AttentionPlan`] for one layer. Each (row, head) pair
//! rotates its pre-RoPE query once per distinct shift, scores the plan's key ranges in plan order,
//! takes one softmax over all of them and sums the values in the same order, so the result does
//! not depend on where keys sit in the cache.
//!
//! It computes like llama.cpp's x86 non-flash path, so logits follow llama.cpp's closely enough
//! that greedy text matches: with an f16 cache the query is rounded to f16 before the K·q product
//! and the probabilities before the ·V product; dots and value sums use tinyBLAS's 16-lane order,
//! the softmax ggml's `expf` and its chunked sum.

use half::f16;
use rayon::prelude::*;

use crate::backend::AttentionShape;
use crate::cpu::kv_cache::{LayerCache, Store};
use crate::math::exp_in_place;
use crate::plan::{AttentionPlan, QueryGroup};

/// Per-task buffers, reused across the (row, head) pairs one worker handles.
struct Scratch {
    q: Vec<f32>,
    scores: Vec<f32>,
    /// `LANES` partial sums of the output, lane `l` taking keys `l, l+16, …` (tinyBLAS order).
    acc: Vec<f32>,
}

/// Lanes of llama.cpp's AVX-512 tinyBLAS accumulators, whose summation order this kernel
/// follows: the K·q dots, the softmax sum and the ·V sums all group terms by index mod 16.
const LANES: usize = 16;

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
                acc: vec![0.0; LANES * hd],
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
    s.scores.iter_mut().for_each(|x| *x -= max);
    exp_in_place(&mut s.scores);
    // ggml sums the exponentials per 16-wide chunk (tree-reduced), chunks in f64.
    let mut sum = 0.0f64;
    for chunk in s.scores.chunks(LANES) {
        let mut lanes = [0.0f32; LANES];
        lanes[..chunk.len()].copy_from_slice(chunk);
        sum += reduce16(&lanes) as f64;
    }
    let inv = (1.0 / sum) as f32;
    s.acc.iter_mut().for_each(|a| *a = 0.0);
    let mut k = 0;
    for range in g.ranges(h) {
        for j in range.visible(own) {
            let at = j * stride + base;
            let p = s.scores[k] * inv;
            let lane = &mut s.acc[(k % LANES) * hd..][..hd];
            k += 1;
            match &layer.v {
                Store::F32(v) => fma_into(lane, p, &v[at..at + hd]),
                Store::F16(v) => fma_into_f16(lane, round_f16(p), &v[at..at + hd]),
            }
        }
    }
    reduce_lanes(&s.acc, out);
}

/// `_mm512_reduce_add_ps`'s tree over 16 lanes: halves, quarters, then pairs.
fn reduce16(v: &[f32; LANES]) -> f32 {
    let t3: [f32; 8] = std::array::from_fn(|i| v[i + 8] + v[i]);
    let t6: [f32; 4] = std::array::from_fn(|i| t3[i + 4] + t3[i]);
    (t6[0] + t6[2]) + (t6[1] + t6[3])
}

/// `out[d]` = the [`reduce16`] of the 16 lane sums `acc[l * hd + d]`.
fn reduce_lanes(acc: &[f32], out: &mut [f32]) {
    let hd = out.len();
    for (d, o) in out.iter_mut().enumerate() {
        let lanes: [f32; LANES] = std::array::from_fn(|l| acc[l * hd + d]);
        *o = reduce16(&lanes);
    }
}

/// `Σ a·b` as tinyBLAS computes it: lane `l` fuses the products `l, l+16, …` in order, then the
/// lanes are tree-reduced; any tail (dims not a multiple of 16) is added last, fused in order.
fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if simd::available() {
        // SAFETY: the features were detected.
        return unsafe { simd::dot(a, b) };
    }
    dot_generic(a, b.len(), |i| b[i])
}

/// [`dot_f32`] with f16 keys (widened exactly).
fn dot_f16(a: &[f32], b: &[f16]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if simd::available() {
        // SAFETY: the features were detected.
        return unsafe { simd::dot(a, b) };
    }
    dot_generic(a, b.len(), |i| b[i].to_f32())
}

fn dot_generic(a: &[f32], n: usize, b: impl Fn(usize) -> f32) -> f32 {
    let n = a.len().min(n);
    let main = n - n % LANES;
    let mut acc = [0.0f32; LANES];
    for i in (0..main).step_by(LANES) {
        for (l, s) in acc.iter_mut().enumerate() {
            *s = a[i + l].mul_add(b(i + l), *s);
        }
    }
    (main..n).fold(reduce16(&acc), |s, i| a[i].mul_add(b(i), s))
}

/// `lane += p·v`, fused per element (tinyBLAS's `fmadd`).
fn fma_into(lane: &mut [f32], p: f32, v: &[f32]) {
    for (a, &x) in lane.iter_mut().zip(v) {
        *a = p.mul_add(x, *a);
    }
}

/// [`fma_into`] with f16 values (widened exactly); the same operations on every CPU.
fn fma_into_f16(lane: &mut [f32], p: f32, v: &[f16]) {
    #[cfg(target_arch = "x86_64")]
    if simd::available() {
        // SAFETY: the features were detected.
        return unsafe { simd::fma_into_f16(lane, p, v) };
    }
    for (a, x) in lane.iter_mut().zip(v) {
        *a = p.mul_add(x.to_f32(), *a);
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

    /// Elements that widen to f32 eight at a time.
    pub(super) trait Wide: Copy {
        /// Eight elements at `p` as f32.
        ///
        /// # Safety
        /// `p` must be valid for eight elements; the CPU must have AVX2 and F16C.
        unsafe fn load8(p: *const Self) -> __m256;
        /// One element as f32.
        fn widen(self) -> f32;
    }

    impl Wide for f32 {
        #[inline(always)]
        unsafe fn load8(p: *const f32) -> __m256 {
            _mm256_loadu_ps(p)
        }
        fn widen(self) -> f32 {
            self
        }
    }

    impl Wide for f16 {
        #[inline(always)]
        unsafe fn load8(p: *const f16) -> __m256 {
            _mm256_cvtph_ps(_mm_loadu_si128(p.cast()))
        }
        fn widen(self) -> f32 {
            self.to_f32()
        }
    }

    /// tinyBLAS's 16-lane dot as two 8-lane halves, then `_mm512_reduce_add_ps`'s tree.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot<T: Wide>(a: &[f32], b: &[T]) -> f32 {
        let n = a.len().min(b.len());
        let main = n - n % super::LANES;
        let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for i in (0..main).step_by(super::LANES) {
            lo = _mm256_fmadd_ps(
                _mm256_loadu_ps(a.as_ptr().add(i)),
                T::load8(b.as_ptr().add(i)),
                lo,
            );
            hi = _mm256_fmadd_ps(
                _mm256_loadu_ps(a.as_ptr().add(i + 8)),
                T::load8(b.as_ptr().add(i + 8)),
                hi,
            );
        }
        // t3 = hi + lo; t6 = upper + lower quarter; then (t6[0]+t6[2]) + (t6[1]+t6[3]).
        let t3 = _mm256_add_ps(hi, lo);
        let t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
        let t8 = _mm_add_ps(t6, _mm_movehl_ps(t6, t6));
        let r = _mm_cvtss_f32(_mm_add_ss(t8, _mm_movehdup_ps(t8)));
        (main..n).fold(r, |s, i| a[i].mul_add(b[i].widen(), s))
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn fma_into_f16(lane: &mut [f32], p: f32, v: &[f16]) {
        let n = lane.len().min(v.len());
        let main = n - n % 8;
        let pv = _mm256_set1_ps(p);
        for i in (0..main).step_by(8) {
            let a = _mm256_loadu_ps(lane.as_ptr().add(i));
            let y = f16::load8(v.as_ptr().add(i));
            _mm256_storeu_ps(lane.as_mut_ptr().add(i), _mm256_fmadd_ps(pv, y, a));
        }
        for (a, x) in lane[main..n].iter_mut().zip(&v[main..n]) {
            *a = p.mul_add(x.widen(), *a);
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn round_f16(x: f32) -> f32 {
        let h = _mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm_set_ss(x));
        _mm_cvtss_f32(_mm_cvtph_ps(h))
    }
}
