//! Element-wise CPU ops of the Llama graph, written as llama.cpp computes them (RMS sums in
//! f64 like ggml's `ggml_float`, SiLU as x / (1 + e^-x)).

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
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + ggml_expf(-*g)) * u;
    }
}

/// ggml's vectorised `expf` (an Arm optimized-routines polynomial, ≤ 1.5 ulp), evaluated with
/// the same fused operations one lane at a time.
pub(crate) fn ggml_expf(x: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 0x1.8p23
    let z = x.mul_add(f32::from_bits(0x3fb8_aa3b), SHIFT); // log2(e)
    let n = z - SHIFT;
    let b = (-n).mul_add(
        f32::from_bits(0x35bf_be8e),
        (-n).mul_add(f32::from_bits(0x3f31_7200), x),
    );
    if n.abs() > 192.0 {
        return if n > 0.0 { f32::INFINITY } else { 0.0 };
    }
    let u = b * b;
    let c5 = f32::from_bits(0x3c07_2010);
    let c4 = f32::from_bits(0x3d2b_9f17);
    let c3 = f32::from_bits(0x3e2a_af33);
    let c2 = f32::from_bits(0x3eff_fedb);
    let c1 = f32::from_bits(0x3f7f_fff6);
    let j = c5
        .mul_add(b, c4)
        .mul_add(u, c3.mul_add(b, c2))
        .mul_add(u, c1.mul_add(b, 1.0));
    j * 2f32.powi(n as i32)
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
    fn ggml_expf_is_within_two_ulp_of_exp() {
        for i in -2000..2000 {
            let x = i as f32 * 0.04321;
            let (a, b) = (ggml_expf(x), x.exp());
            assert!(((a - b) / b).abs() < 2.5e-7, "{x}: {a} vs {b}");
        }
        assert_eq!(ggml_expf(-200.0), 0.0);
        assert_eq!(ggml_expf(200.0), f32::INFINITY);
    }

    #[test]
    fn swiglu_of_zero_gate_is_zero() {
        let mut g = [0.0, 2.0];
        swiglu(&mut g, &[5.0, 1.0]);
        assert_eq!(g[0], 0.0);
        assert!((g[1] - 2.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-6);
    }
}
