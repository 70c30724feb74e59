//! Element-wise CPU ops of the Llama graph, written as llama.cpp computes them (RMS sums in
//! f64 like ggml's `ggml_float`, SiLU as x / (1 + e^-x)).

use crate::math::silu_mul;

/// RMS-normalises `n` rows of `x` (row width = `w.len()`) and multiplies by `w`.
pub(crate) fn rms_norm(x: &[f32], w: &[f32], eps: f32, n: usize, out: &mut [f32]) {
    let d = w.len();
    for r in 0..n {
        let row = &x[r * d..(r + 1) * d];
        let sum: f64 = row.iter().map(|&v| (v * v) as f64).sum();
        let mean = (sum / d as f64) as f32;
        let scale = 1.0 / (mean + eps).sqrt();
        for ((o, &v), &g) in out[r * d..(r + 1) * d].iter_mut().zip(row).zip(w) {
            *o = v * scale * g;
        }
    }
}

/// `gate = silu(gate) * up`, with SiLU computed as llama.cpp's x86 build does (its vectorised
/// `ggml_v_expf`), so activations round the same way before the next quantized matmul.
pub(crate) fn swiglu(gate: &mut [f32], up: &[f32]) {
    silu_mul(gate, up);
}

/// `acc += x`.
pub(crate) fn add(acc: &mut [f32], x: &[f32]) {
    for (a, &b) in acc.iter_mut().zip(x) {
        *a += b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_norm_gives_unit_rms_rows() {
        let x = [3.0, 4.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
        let w = [1.0; 4];
        let mut out = [0.0; 8];
        rms_norm(&x, &w, 0.0, 2, &mut out);
        for r in out.chunks(4) {
            let ms: f32 = r.iter().map(|v| v * v).sum::<f32>() / 4.0;
            assert!((ms - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn swiglu_of_zero_gate_is_zero() {
        let mut g = [0.0, 2.0];
        swiglu(&mut g, &[5.0, 1.0]);
        assert_eq!(g[0], 0.0);
        assert!((g[1] - 2.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-6);
    }
}
