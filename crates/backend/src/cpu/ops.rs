//! Element-wise CPU ops of the Llama graph, written as llama.cpp computes them (RMS sums in
//! f64 like ggml's `ggml_float`, SiLU as x / (1 + e^-x)). A prefill batch's rows are split
//! across the pool: each element's arithmetic is the same wherever it runs, so the bits are too.

use pine_pool::Pool;

use crate::math::{gelu_mul, silu_mul};

/// Elements below which an op runs on the calling thread alone: waking the pool costs more than
/// a decode step's single row saves.
const PARALLEL_MIN: usize = 16 * 1024;

/// The part length (a multiple of `unit`) that splits `len` elements into a few parts per
/// thread, or `len` itself when the op is too small to share (KV stores split so too).
pub(crate) fn part_len(pool: &Pool, len: usize, unit: usize) -> usize {
    if len < PARALLEL_MIN || pool.threads() == 1 {
        return len.max(1);
    }
    let units = len.div_ceil(unit.max(1));
    units.div_ceil(pool.threads() * 2) * unit.max(1)
}

/// RMS-normalises `n` rows of `x` (row width = `w.len()`) and multiplies by `w`.
pub(crate) fn rms_norm(pool: &Pool, x: &[f32], w: &[f32], eps: f32, n: usize, out: &mut [f32]) {
    let d = w.len();
    let len = n * d;
    let part = part_len(pool, len, d);
    pool.chunks_mut(&mut out[..len], part, |c, o| {
        rms_rows(&x[c * part..][..o.len()], w, eps, o);
    });
}

/// Rows interleaved in [`rms_rows`]: each row's f64 sum is one dependent chain of adds, so
/// several rows side by side keep the adder busy.
const RMS_ROWS: usize = 4;

/// [`rms_norm`] of the whole rows in `x` (one part of a batch), each row's sum in element order.
fn rms_rows(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let d = w.len();
    for (xs, os) in x.chunks(RMS_ROWS * d).zip(out.chunks_mut(RMS_ROWS * d)) {
        let sums: [f64; RMS_ROWS] = match xs.len() / d {
            RMS_ROWS => square_sums(std::array::from_fn(|r| &xs[r * d..][..d])),
            m => std::array::from_fn(|r| square_sums([&xs[r.min(m - 1) * d..][..d]])[0]),
        };
        for ((row, o), &sum) in xs.chunks(d).zip(os.chunks_mut(d)).zip(&sums) {
            let mean = (sum / d as f64) as f32;
            let scale = 1.0 / (mean + eps).sqrt();
            for ((o, &v), &g) in o.iter_mut().zip(row).zip(w) {
                *o = v * scale * g;
            }
        }
    }
}

/// `Σ (v·v as f64)` of each of `R` equally long rows, element by element.
fn square_sums<const R: usize>(rows: [&[f32]; R]) -> [f64; R] {
    let mut sums = [0f64; R];
    for i in 0..rows[0].len() {
        for (s, row) in sums.iter_mut().zip(&rows) {
            let v = row[i];
            *s += (v * v) as f64;
        }
    }
    sums
}

/// `gate = silu(gate) * up`, with SiLU computed as llama.cpp's x86 build does (its vectorised
/// `ggml_v_expf`), so activations round the same way before the next quantized matmul.
pub(crate) fn swiglu(pool: &Pool, gate: &mut [f32], up: &[f32]) {
    let part = part_len(pool, gate.len(), 64);
    pool.chunks_mut(gate, part, |c, g| silu_mul(g, &up[c * part..][..g.len()]));
}

/// `gate = gelu(gate) * up` ([`crate::Backend::geglu`]).
pub(crate) fn geglu(pool: &Pool, gate: &mut [f32], up: &[f32]) {
    let part = part_len(pool, gate.len(), 64);
    pool.chunks_mut(gate, part, |c, g| gelu_mul(g, &up[c * part..][..g.len()]));
}

/// `x *= s`.
pub(crate) fn scale(pool: &Pool, x: &mut [f32], s: f32) {
    let part = part_len(pool, x.len(), 64);
    pool.chunks_mut(x, part, |_, a| a.iter_mut().for_each(|v| *v *= s));
}

/// `acc += x`.
pub(crate) fn add(pool: &Pool, acc: &mut [f32], x: &[f32]) {
    let part = part_len(pool, acc.len(), 64);
    pool.chunks_mut(acc, part, |c, a| {
        for (a, &b) in a.iter_mut().zip(&x[c * part..]) {
            *a += b;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pools() -> [Pool; 2] {
        [Pool::new(1).unwrap(), Pool::new(2).unwrap()]
    }

    /// Deterministic values of both signs and several magnitudes.
    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let h = (i as u32 ^ seed).wrapping_mul(2_654_435_761);
                (h >> 8) as f32 / (1 << 24) as f32 * 8.0 - 4.0
            })
            .collect()
    }

    #[test]
    fn rms_norm_gives_unit_rms_rows() {
        let x = [3.0, 4.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
        let w = [1.0; 4];
        let mut out = [0.0; 8];
        rms_norm(&Pool::new(1).unwrap(), &x, &w, 0.0, 2, &mut out);
        for r in out.chunks(4) {
            let ms: f32 = r.iter().map(|v| v * v).sum::<f32>() / 4.0;
            assert!((ms - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn rms_norm_matches_row_by_row_sums_on_any_pool() {
        let (d, n) = (576, 67);
        let (x, w) = (values(n * d, 1), values(d, 2));
        let mut want = vec![0.0; n * d];
        for (row, o) in x.chunks(d).zip(want.chunks_mut(d)) {
            let sum: f64 = row.iter().map(|&v| (v * v) as f64).sum();
            let scale = 1.0 / ((sum / d as f64) as f32 + 1e-5).sqrt();
            for ((o, &v), &g) in o.iter_mut().zip(row).zip(&w) {
                *o = v * scale * g;
            }
        }
        for pool in pools() {
            let mut got = vec![0.0; n * d];
            rms_norm(&pool, &x, &w, 1e-5, n, &mut got);
            assert!(got
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn swiglu_of_zero_gate_is_zero() {
        let mut g = [0.0, 2.0];
        swiglu(&Pool::new(1).unwrap(), &mut g, &[5.0, 1.0]);
        assert_eq!(g[0], 0.0);
        assert!((g[1] - 2.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-6);
    }

    #[test]
    fn split_ops_equal_the_whole_ones() {
        let n = 1536 * 40 + 7;
        let (g0, up) = (values(n, 3), values(n, 4));
        let mut want = g0.clone();
        silu_mul(&mut want, &up);
        let mut sum = g0.clone();
        for (a, b) in sum.iter_mut().zip(&up) {
            *a += b;
        }
        for pool in pools() {
            let mut g = g0.clone();
            swiglu(&pool, &mut g, &up);
            assert!(g.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()));
            let mut acc = g0.clone();
            add(&pool, &mut acc, &up);
            assert_eq!(acc, sum);
        }
    }
}
