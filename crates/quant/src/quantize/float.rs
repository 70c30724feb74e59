//! F32, F16 and BF16 "quantization": element conversions as ggml performs them.

/// Writes f32 values little-endian.
pub fn f32_row(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.iter().zip(dst.chunks_exact_mut(4)) {
        y.copy_from_slice(&x.to_le_bytes());
    }
}

/// Rounds to IEEE half, nearest even (as F16C `vcvtps2ph` / `GGML_FP32_TO_FP16`).
pub fn f16_row(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.iter().zip(dst.chunks_exact_mut(2)) {
        y.copy_from_slice(&half::f16::from_f32(*x).to_bits().to_le_bytes());
    }
}

/// ggml's `ggml_compute_fp32_to_bf16`: NaN becomes a quiet NaN keeping the top bits, all
/// else rounds to nearest even (no subnormal flush).
pub fn bf16_bits(x: f32) -> u16 {
    let u = x.to_bits();
    if (u & 0x7fff_ffff) > 0x7f80_0000 {
        return ((u >> 16) | 64) as u16;
    }
    ((u as u64 + (0x7fff + ((u >> 16) & 1)) as u64) >> 16) as u16
}

/// Rounds to bfloat16 with [`bf16_bits`].
pub fn bf16_row(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.iter().zip(dst.chunks_exact_mut(2)) {
        y.copy_from_slice(&bf16_bits(*x).to_le_bytes());
    }
}
