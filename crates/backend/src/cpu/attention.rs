//! The CPU attention kernel: executes an [`AttentionPlan`] for one layer. Each (row, head) pair
//! rotates its pre-RoPE query once per distinct shift, scores the plan's key ranges in plan order,
//! takes one softmax over all of them and sums the values in the same order, so the result does
//! not depend on where keys sit in the cache.
//!
//! It computes like llama.cpp's x86 non-flash path, so logits follow llama.cpp's closely enough
//! that greedy text matches: with an f16 cache the query is rounded to f16 before the K·q product
//! and the probabilities before the ·V product; dots and value sums use tinyBLAS's 16-lane order,
//! the softmax ggml's `expf` and its chunked sum. The loops run as AVX-512 or AVX2 kernels
//! (`attention_avx512.rs`, `attention_x86.rs`) where the CPU has them, equal bit for bit to the
//! plain forms here.

use half::f16;
use pine_pool::Pool;

use crate::backend::AttentionShape;
use crate::cpu::kv_cache::{LayerCache, Store};
use crate::math::exp_in_place;
use crate::plan::{AttentionPlan, QueryGroup};

#[cfg(target_arch = "x86_64")]
use super::attention_avx512 as x512;
#[cfg(target_arch = "x86_64")]
use super::attention_x86 as x86;

/// Per-task buffers, reused across the (row, head) pairs one worker handles.
struct Scratch {
    q: Vec<f32>,
    scores: Vec<f32>,
    /// Element offset in the cache of each scored key, in score order.
    at: Vec<usize>,
    /// `LANES` partial sums of the output, lane `l` taking keys `l, l+16, …` (tinyBLAS order).
    acc: Vec<f32>,
}

/// Lanes of llama.cpp's AVX-512 tinyBLAS accumulators, whose summation order this kernel
/// follows: the K·q dots, the softmax sum and the ·V sums all group terms by index mod 16.
const LANES: usize = 16;

/// Runs `plan` for queries `q` (`[rows, n_heads * head_dim]`, pre-RoPE) into `out`.
pub(crate) fn attend(
    pool: &Pool,
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
    pool.chunks_mut_init(
        &mut out[..owner.len() * nh * hd],
        hd,
        || Scratch {
            q: vec![0.0; hd],
            scores: Vec::with_capacity(max_keys),
            at: Vec::with_capacity(max_keys),
            acc: vec![0.0; LANES * hd],
        },
        |s, i, o| {
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
    let f16 = matches!(layer.k, Store::F16(_));
    s.scores.clear();
    s.at.clear();
    let mut rotated_for = None;
    for range in g.ranges(h) {
        let keys = range.visible(own);
        if keys.is_empty() {
            continue;
        }
        if rotated_for != Some(range.shift) {
            s.q.copy_from_slice(q_raw);
            shape.rope.rotate(&mut s.q, pos + range.shift);
            if f16 {
                round_f16(&mut s.q);
            }
            rotated_for = Some(range.shift);
        }
        let from = s.at.len();
        s.at.extend(keys.map(|j| j * stride + base));
        score(&layer.k, &s.q, &s.at[from..], scale, &mut s.scores);
    }
    let max = max(&s.scores);
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
    s.scores.iter_mut().for_each(|x| *x *= inv);
    if f16 {
        round_f16(&mut s.scores);
    }
    value_sum(&layer.v, &s.scores, &s.at, &mut s.acc, out);
}

/// Whether the AVX2 forms apply to heads of `hd` dimensions.
fn simd_for(hd: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    return hd.is_multiple_of(LANES) && crate::simd8::available();
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// Appends `scale · q·k` for the keys at element offsets `at` of `k`, tinyBLAS's dot order.
pub(super) fn score(k: &Store, q: &[f32], at: &[usize], scale: f32, out: &mut Vec<f32>) {
    let len = match k {
        Store::F16(k) => k.len(),
        Store::F32(k) => k.len(),
    };
    assert!(at.iter().all(|&a| a + q.len() <= len));
    #[cfg(target_arch = "x86_64")]
    if simd_for(q.len()) {
        // SAFETY: the features were detected, q.len() % 16 == 0 and the keys lie inside `k`.
        return unsafe {
            match (crate::simd8::avx512(), k) {
                (true, Store::F16(k)) => x512::score(q, k, at, scale, out),
                (true, Store::F32(k)) => x512::score(q, k, at, scale, out),
                (false, Store::F16(k)) => x86::score(q, k, at, scale, out),
                (false, Store::F32(k)) => x86::score(q, k, at, scale, out),
            }
        };
    }
    score_scalar(k, q, at, scale, out);
}

/// The plain form of [`score`], one dot at a time.
pub(super) fn score_scalar(k: &Store, q: &[f32], at: &[usize], scale: f32, out: &mut Vec<f32>) {
    for &a in at {
        let d = match k {
            Store::F32(k) => dot_generic(q, |i| k[a + i]),
            Store::F16(k) => dot_generic(q, |i| k[a + i].to_f32()),
        };
        out.push(d * scale);
    }
}

/// `Σ a·b` as tinyBLAS computes it: lane `l` fuses the products `l, l+16, …` in order, then the
/// lanes are tree-reduced; any tail (dims not a multiple of 16) is added last, fused in order.
fn dot_generic(a: &[f32], b: impl Fn(usize) -> f32) -> f32 {
    let n = a.len();
    let main = n - n % LANES;
    let mut acc = [0.0f32; LANES];
    for i in (0..main).step_by(LANES) {
        for (l, s) in acc.iter_mut().enumerate() {
            *s = a[i + l].mul_add(b(i + l), *s);
        }
    }
    (main..n).fold(reduce16(&acc), |s, i| a[i].mul_add(b(i), s))
}

/// `out = Σ_k p[k] · v[at[k]..]` in tinyBLAS's order (lane `k mod 16` fuses key k's terms,
/// then the lanes are tree-reduced); `acc` holds `16 * out.len()` lane sums.
pub(super) fn value_sum(v: &Store, p: &[f32], at: &[usize], acc: &mut [f32], out: &mut [f32]) {
    let len = match v {
        Store::F16(v) => v.len(),
        Store::F32(v) => v.len(),
    };
    let hd = out.len();
    assert!(p.len() == at.len() && acc.len() >= LANES * hd);
    assert!(at.iter().all(|&a| a + hd <= len));
    #[cfg(target_arch = "x86_64")]
    if simd_for(hd) {
        // SAFETY: the features were detected and the lengths checked just above.
        return unsafe {
            match (crate::simd8::avx512(), v) {
                (true, Store::F16(v)) => x512::value_sum(p, at, v, acc, out),
                (true, Store::F32(v)) => x512::value_sum(p, at, v, acc, out),
                (false, Store::F16(v)) => x86::value_sum(p, at, v, acc, out),
                (false, Store::F32(v)) => x86::value_sum(p, at, v, acc, out),
            }
        };
    }
    value_sum_scalar(v, p, at, acc, out);
}

/// The plain form of [`value_sum`], one key at a time.
pub(super) fn value_sum_scalar(
    v: &Store,
    p: &[f32],
    at: &[usize],
    acc: &mut [f32],
    out: &mut [f32],
) {
    let hd = out.len();
    acc.iter_mut().for_each(|a| *a = 0.0);
    for (k, (&p, &a)) in p.iter().zip(at).enumerate() {
        let lane = &mut acc[(k % LANES) * hd..][..hd];
        match v {
            Store::F32(v) => {
                for (x, &y) in lane.iter_mut().zip(&v[a..a + hd]) {
                    *x = p.mul_add(y, *x);
                }
            }
            Store::F16(v) => {
                for (x, y) in lane.iter_mut().zip(&v[a..a + hd]) {
                    *x = p.mul_add(y.to_f32(), *x);
                }
            }
        }
    }
    for (d, o) in out.iter_mut().enumerate() {
        let lanes: [f32; LANES] = std::array::from_fn(|l| acc[l * hd + d]);
        *o = reduce16(&lanes);
    }
}

/// `_mm512_reduce_add_ps`'s tree over 16 lanes: halves, quarters, then pairs.
fn reduce16(v: &[f32; LANES]) -> f32 {
    let t3: [f32; 8] = std::array::from_fn(|i| v[i + 8] + v[i]);
    let t6: [f32; 4] = std::array::from_fn(|i| t3[i + 4] + t3[i]);
    (t6[0] + t6[2]) + (t6[1] + t6[3])
}

/// Every element rounded to f16 and back (round to nearest even, like `half` and F16C).
pub(super) fn round_f16(xs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::available() {
        // SAFETY: the features were detected.
        return unsafe { x86::round_f16(xs) };
    }
    round_f16_scalar(xs);
}

/// The plain form of [`round_f16`].
pub(super) fn round_f16_scalar(xs: &mut [f32]) {
    xs.iter_mut().for_each(|x| *x = f16::from_f32(*x).to_f32());
}

/// The largest score (−∞ for none). Which of +0 and −0 a tie between them yields may differ
/// from [`max_scalar`]; the softmax subtracts the maximum, and `x − (+0)` and `x − (−0)` differ
/// only for x = −0, where both exponentials are exactly 1, so the results never do.
pub(super) fn max(xs: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::available() {
        // SAFETY: the features were detected.
        return unsafe { x86::max(xs) };
    }
    max_scalar(xs)
}

/// The plain form of [`max`].
pub(super) fn max_scalar(xs: &[f32]) -> f32 {
    xs.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}
