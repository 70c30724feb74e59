//! Scalar references for the float types (F32·F32, F16·F16, BF16·BF16): products in f32,
//! summed in f64 like ggml's generic `ggml_vec_dot_{f32,f16,bf16}`.

use half::f16;

/// F32 · F32.
pub(crate) fn f32_f32(w: &[u8], a: &[u8]) -> f32 {
    let mut sum = 0.0f64;
    for (x, y) in w.chunks_exact(4).zip(a.chunks_exact(4)) {
        let p = f32::from_le_bytes([x[0], x[1], x[2], x[3]])
            * f32::from_le_bytes([y[0], y[1], y[2], y[3]]);
        sum += f64::from(p);
    }
    sum as f32
}

/// F16 · F16.
pub(crate) fn f16_f16(w: &[u8], a: &[u8]) -> f32 {
    let h = |b: &[u8]| f16::from_le_bytes([b[0], b[1]]).to_f32();
    let mut sum = 0.0f64;
    for (x, y) in w.chunks_exact(2).zip(a.chunks_exact(2)) {
        sum += f64::from(h(x) * h(y));
    }
    sum as f32
}
