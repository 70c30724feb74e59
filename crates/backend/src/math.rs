//! Scalar math shared by the CPU kernels and the attention plugins, written so results are
//! reproducible bit for bit and match llama.cpp's x86 build where it matters.

/// ggml's vectorised `expf` (an Arm optimized-routines polynomial, ≤ 1.5 ulp), evaluated with
/// the same fused operations one lane at a time.
pub fn expf(x: f32) -> f32 {
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

/// f32 dot product in eight interleaved lanes (lane l sums elements l, l+8, …), then the lanes
/// pairwise: a fixed order, so results are reproducible, and one that compilers vectorise.
pub fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7])) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expf_is_within_two_ulp_of_exp() {
        for i in -2000..2000 {
            let x = i as f32 * 0.04321;
            let (a, b) = (expf(x), x.exp());
            assert!(((a - b) / b).abs() < 2.5e-7, "{x}: {a} vs {b}");
        }
        assert_eq!(expf(-200.0), 0.0);
        assert_eq!(expf(200.0), f32::INFINITY);
    }

    #[test]
    fn dot8_matches_a_plain_sum() {
        for n in [0, 3, 8, 64, 70] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.7).cos()).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| (x * y) as f64).sum();
            assert!((dot8(&a, &b) as f64 - want).abs() < 1e-5);
        }
    }
}
