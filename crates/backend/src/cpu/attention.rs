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
                    *x = f16::from_f32(*x).to_f32();
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
                Store::F16(v) => axpy_f16(&mut s.acc, f16::from_f32(p).to_f32(), &v[at..at + hd]),
            }
        }
    }
    out.copy_from_slice(&s.acc);
}

fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn dot_f16(a: &[f32], b: &[f16]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y.to_f32()).sum()
}

fn axpy(acc: &mut [f32], p: f32, v: &[f32]) {
    for (a, &x) in acc.iter_mut().zip(v) {
        *a += p * x;
    }
}

fn axpy_f16(acc: &mut [f32], p: f32, v: &[f16]) {
    for (a, x) in acc.iter_mut().zip(v) {
        *a += p * x.to_f32();
    }
}
