//! Activation quantizers: turn an f32 activation row into the block format that llama.cpp pairs
//! with each weight type (Q8_0, Q8_1, Q8_K, F16, BF16), so the dot kernels see exactly the
//! integers llama.cpp's reference path would see.
//!
//! Quantized activations are plain byte buffers in the exact GGML block layout (little-endian,
//! packed, no padding): Q8_0 = `f16 d, i8 qs[32]` (34 B), Q8_1 = `f16 d, f16 s, i8 qs[32]`
//! (36 B), Q8_K = `f32 d, i8 qs[256], i16 bsums[16]` (292 B), F16/BF16 = 2 B per element. A GPU
//! backend can upload them unchanged, and the dot kernels read weights and activations the same
//! way.
//!
//! The rounding follows what llama.cpp's CPU backend runs on x86 (the platform its fixtures and
//! the benchmark peer were produced on): for Q8_0/Q8_1 its AVX path `quantize_row_q8_0/1`, which
//! multiplies by `127/amax` and rounds half to even, and for Q8_K `quantize_row_q8_K_ref`
//! (`nearest_int`, also half to even). This differs from ggml's `quantize_row_q8_0_ref`
//! (`1/(amax/127)` and `roundf`) in the last bit now and then; such a flip moves the tiny-llama
//! fixture logits by ~1e-2, so matching the path llama.cpp really runs matters. We use the same
//! rounding on every architecture so results do not depend on the CPU.

#[cfg(target_arch = "x86_64")]
use crate::activation_x86 as x86;
use crate::QuantError;
use half::f16;
use pine_gguf::{GgmlType, QK_K};

/// Elements per Q8_0 / Q8_1 block.
const QK8: usize = 32;

/// The activation type llama.cpp quantizes the input to for weights of type `w` (its
/// `vec_dot_type`), or `None` when no dot product exists for `w`.
pub fn activation_type(w: GgmlType) -> Option<GgmlType> {
    use GgmlType::*;
    Some(match w {
        Q4_0 | Q5_0 | Q8_0 | IQ4_NL => Q8_0,
        Q4_1 | Q5_1 => Q8_1,
        Q2_K | Q3_K | Q4_K | Q5_K | Q6_K | IQ4_XS | IQ3_S | IQ3_XXS | TQ1_0 | TQ2_0 => Q8_K,
        F32 => F32,
        F16 => F16,
        BF16 => BF16,
        _ => return None,
    })
}

/// Quantizes one activation row `x` into `out` in the GGML layout of `ty` (one of Q8_0, Q8_1,
/// Q8_K, F32, F16, BF16). This is the single entry point the matmul engine uses.
pub fn quantize_activation_row(ty: GgmlType, x: &[f32], out: &mut [u8]) -> Result<(), QuantError> {
    let n = x.len();
    if !n.is_multiple_of(ty.block_size()) {
        return Err(QuantError::NotBlockMultiple { ty, n });
    }
    let expected = n / ty.block_size() * ty.block_bytes();
    if out.len() != expected {
        return Err(QuantError::RowLength {
            ty,
            what: "activation bytes",
            expected,
            got: out.len(),
        });
    }
    match ty {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `available` checked the features; the lengths were checked above.
        GgmlType::Q8_0 if x86::available() => unsafe { x86::q8_0(x, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        GgmlType::Q8_1 if x86::available() => unsafe { x86::q8_1(x, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        GgmlType::Q8_K if x86::available() => unsafe { x86::q8_k(x, out) },
        GgmlType::Q8_0 => quantize_row_q8_0(x, out),
        GgmlType::Q8_1 => quantize_row_q8_1(x, out),
        GgmlType::Q8_K => quantize_row_q8_k(x, out),
        GgmlType::F32 => {
            for (o, v) in out.chunks_exact_mut(4).zip(x) {
                o.copy_from_slice(&v.to_le_bytes());
            }
        }
        GgmlType::F16 => convert_row_f16(x, out),
        GgmlType::BF16 => convert_row_bf16(x, out),
        _ => {
            return Err(QuantError::Unsupported {
                ty,
                op: "activation quantization",
            })
        }
    }
    Ok(())
}

/// The scale pair of a Q8_0/Q8_1 block as llama.cpp's x86 path computes it: `d = amax/127`
/// (stored) and `id = 127/amax` (applied).
fn q8_scales(xb: &[f32]) -> (f32, f32) {
    let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    (amax / 127.0, id)
}

/// Rounds half to even like `_mm256_round_ps(_MM_ROUND_NEAREST)`, for |v| < 2^22 (quantized
/// activations are within ±127.5): adding and removing 1.5·2^23 leaves the nearest integer.
/// Inline arithmetic, because `round_ties_even` is a libm call on baseline x86-64.
#[inline(always)]
fn round_half_even(v: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (v + MAGIC) - MAGIC
}

/// One block of 32 values quantized as Q8_0 (`q = round_half_even(x · 127/amax)` into `q`,
/// 32 bytes) with its scale `amax/127` kept in f32 (Q8_0 rounds it to f16), and `Σq`: the
/// activations of the packed k-quant kernels (`matmul::packed_k`). AVX-512 where present,
/// byte-identical to the plain form.
pub(crate) fn quantize_block32(x: &[f32], q: &mut [u8]) -> (f32, i32) {
    assert!(x.len() == QK8 && q.len() == QK8);
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        // SAFETY: `available` checked the features; 32 values and 32 bytes, asserted above.
        return unsafe { x86::block(x, q) };
    }
    let (d, id) = q8_scales(x);
    let mut sum = 0;
    for (o, v) in q.iter_mut().zip(x) {
        let v = round_half_even(v * id) as i8;
        sum += i32::from(v);
        *o = v as u8;
    }
    (d, sum)
}

/// llama.cpp's x86 `quantize_row_q8_0`: per 32 values, `d = amax/127`,
/// `q = round_half_even(x * 127/amax)`. `out` must hold `x.len()/32` blocks of 34 bytes
/// (checked by the caller).
fn quantize_row_q8_0(x: &[f32], out: &mut [u8]) {
    for (xb, ob) in x.chunks_exact(QK8).zip(out.chunks_exact_mut(34)) {
        let (d, id) = q8_scales(xb);
        ob[0..2].copy_from_slice(&f16::from_f32(d).to_le_bytes());
        for (q, v) in ob[2..].iter_mut().zip(xb) {
            *q = (round_half_even(v * id) as i8) as u8;
        }
    }
}

/// llama.cpp's x86 `quantize_row_q8_1`: Q8_0's scheme plus `s = d * sum(q)` for the
/// Q4_1/Q5_1 offset term.
fn quantize_row_q8_1(x: &[f32], out: &mut [u8]) {
    for (xb, ob) in x.chunks_exact(QK8).zip(out.chunks_exact_mut(36)) {
        let (d, id) = q8_scales(xb);
        let mut sum = 0i32;
        for (q, v) in ob[4..].iter_mut().zip(xb) {
            let qi = round_half_even(v * id) as i8;
            sum += i32::from(qi);
            *q = qi as u8;
        }
        ob[0..2].copy_from_slice(&f16::from_f32(d).to_le_bytes());
        ob[2..4].copy_from_slice(&f16::from_f32(sum as f32 * d).to_le_bytes());
    }
}

/// ggml's `nearest_int`: round half to even via the 1.5·2^23 trick (valid for |v| < 2^22).
fn nearest_int(v: f32) -> i32 {
    let t = v + 12_582_912.0;
    (t.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

/// ggml's `quantize_row_q8_K_ref`: per 256 values, scale by `-127/max` where `max` is the value
/// of largest magnitude (sign kept), clamp to 127, and store the 16-element sums `bsums` that
/// the k-quant kernels use for their min terms. An all-zero block gets `d = 0`, zero quants and
/// zero sums.
fn quantize_row_q8_k(x: &[f32], out: &mut [u8]) {
    let bytes = GgmlType::Q8_K.block_bytes();
    for (xb, ob) in x.chunks_exact(QK_K).zip(out.chunks_exact_mut(bytes)) {
        let (mut amax, mut max) = (0.0f32, 0.0f32);
        for &v in xb {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        ob.fill(0);
        if amax == 0.0 {
            continue;
        }
        let iscale = -127.0 / max;
        let (qs, bsums) = ob[4..].split_at_mut(QK_K);
        for (q, &v) in qs.iter_mut().zip(xb) {
            *q = (nearest_int(iscale * v).min(127) as i8) as u8;
        }
        for (j, s) in bsums.chunks_exact_mut(2).enumerate() {
            let sum: i32 = qs[j * 16..j * 16 + 16]
                .iter()
                .map(|&q| i32::from(q as i8))
                .sum();
            s.copy_from_slice(&(sum as i16).to_le_bytes());
        }
        ob[0..4].copy_from_slice(&(1.0 / iscale).to_le_bytes());
    }
}

/// f32 → IEEE half, round to nearest even (ggml's `GGML_FP32_TO_FP16`).
fn convert_row_f16(x: &[f32], out: &mut [u8]) {
    for (o, v) in out.chunks_exact_mut(2).zip(x) {
        o.copy_from_slice(&f16::from_f32(*v).to_le_bytes());
    }
}

/// ggml's `GGML_FP32_TO_BF16`: round to nearest even; NaNs are kept quiet.
pub fn f32_to_bf16_bits(v: f32) -> u16 {
    let u = v.to_bits();
    if (u & 0x7fff_ffff) > 0x7f80_0000 {
        return ((u >> 16) | 64) as u16;
    }
    ((u + (0x7fff + ((u >> 16) & 1))) >> 16) as u16
}

/// f32 → bfloat16 row, ggml's rounding.
fn convert_row_bf16(x: &[f32], out: &mut [u8]) {
    for (o, v) in out.chunks_exact_mut(2).zip(x) {
        o.copy_from_slice(&f32_to_bf16_bits(*v).to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX-512 Q8_0/Q8_1/Q8_K quantizers equal the plain forms byte for byte: random rows, exact
    /// ties (`id` = 1 with halves), all-zero blocks, tiny and huge magnitudes.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_q8_quantizers_equal_the_plain_forms() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        if !x86::available() {
            return;
        }
        let mut rng = StdRng::seed_from_u64(5);
        for blocks in [1usize, 3, 8, 18, 48] {
            let n = blocks * 32;
            for case in 0..6 {
                let x: Vec<f32> = match case {
                    0 => crate::testutil::random_activations(&mut rng, n),
                    1 => (0..n)
                        .map(|i| match i % 32 {
                            0 => 127.0,
                            k if k % 3 == 0 => 0.0,
                            _ => rng.gen_range(-127i32..127) as f32 + 0.5,
                        })
                        .collect(),
                    2 => (0..n).map(|i| if i < 32 { 0.0 } else { 1.0 }).collect(),
                    3 => (0..n).map(|_| rng.gen_range(-1e-30f32..1e-30)).collect(),
                    // ±amax both present: Q8_K takes the first one's sign.
                    5 => (0..n)
                        .map(|i| match (i + case) % 11 {
                            3 => -2.5,
                            7 => 2.5,
                            _ => rng.gen_range(-2.0..2.0),
                        })
                        .collect(),
                    _ => (0..n).map(|_| rng.gen_range(-1e30f32..1e30)).collect(),
                };
                let (mut want, mut got) = (vec![0u8; blocks * 34], vec![0u8; blocks * 34]);
                quantize_row_q8_0(&x, &mut want);
                // SAFETY: `available` holds; lengths match.
                unsafe { x86::q8_0(&x, &mut got) };
                assert_eq!(got, want, "q8_0 blocks={blocks} case={case}");
                let (mut want, mut got) = (vec![0u8; blocks * 36], vec![0u8; blocks * 36]);
                quantize_row_q8_1(&x, &mut want);
                // SAFETY: as above.
                unsafe { x86::q8_1(&x, &mut got) };
                assert_eq!(got, want, "q8_1 blocks={blocks} case={case}");
                for (b, xb) in x.chunks_exact(32).enumerate() {
                    let (mut qa, mut qb) = ([0u8; 32], [0u8; 32]);
                    let (d, id) = q8_scales(xb);
                    let mut sum = 0;
                    for (o, v) in qa.iter_mut().zip(xb) {
                        let v = round_half_even(v * id) as i8;
                        sum += i32::from(v);
                        *o = v as u8;
                    }
                    let got = quantize_block32(xb, &mut qb);
                    assert_eq!(
                        (got.0.to_bits(), got.1, qb),
                        (d.to_bits(), sum, qa),
                        "block32 {b}"
                    );
                }
                if blocks % 8 == 0 {
                    let (mut want, mut got) = (vec![0u8; n / 256 * 292], vec![0u8; n / 256 * 292]);
                    quantize_row_q8_k(&x, &mut want);
                    // SAFETY: as above.
                    unsafe { x86::q8_k(&x, &mut got) };
                    assert_eq!(got, want, "q8_k blocks={blocks} case={case}");
                }
            }
        }
    }

    #[test]
    fn q8_0_matches_hand_computed_block() {
        let mut x = [0.0f32; 32];
        x[0] = 1.27;
        x[1] = -0.5;
        let mut out = vec![0u8; 34];
        quantize_activation_row(GgmlType::Q8_0, &x, &mut out).unwrap();
        let d = f16::from_le_bytes([out[0], out[1]]).to_f32();
        assert!((d - 0.01).abs() < 1e-5);
        assert_eq!(out[2] as i8, 127);
        assert_eq!(out[3] as i8, -50);
    }

    #[test]
    fn q8_1_sum_is_d_times_quant_sum() {
        let x: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut out = vec![0u8; 72];
        quantize_activation_row(GgmlType::Q8_1, &x, &mut out).unwrap();
        for (b, xb) in out.chunks_exact(36).zip(x.chunks_exact(32)) {
            let d = xb.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0;
            let s = f16::from_le_bytes([b[2], b[3]]).to_f32();
            let sum: i32 = b[4..].iter().map(|&q| i32::from(q as i8)).sum();
            assert_eq!(s, f16::from_f32(sum as f32 * d).to_f32());
        }
    }

    #[test]
    fn q8_k_keeps_sign_of_max_and_sums() {
        let mut x: Vec<f32> = (0..256).map(|i| (i as f32 * 0.11).cos()).collect();
        x[7] = -3.0;
        let mut out = vec![0u8; 292];
        quantize_activation_row(GgmlType::Q8_K, &x, &mut out).unwrap();
        let d = f32::from_le_bytes(out[0..4].try_into().unwrap());
        assert_eq!(d, 1.0 / (-127.0 / -3.0));
        assert_eq!(out[4 + 7] as i8, -127);
        for j in 0..16 {
            let s = i16::from_le_bytes([out[260 + 2 * j], out[261 + 2 * j]]);
            let sum: i32 = out[4 + 16 * j..4 + 16 * j + 16]
                .iter()
                .map(|&q| i32::from(q as i8))
                .sum();
            assert_eq!(i32::from(s), sum);
        }
    }

    #[test]
    fn nearest_int_rounds_half_to_even() {
        assert_eq!(nearest_int(2.5), 2);
        assert_eq!(nearest_int(3.5), 4);
        assert_eq!(nearest_int(-2.5), -2);
    }

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(f32_to_bf16_bits(1.0), 0x3f80);
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3f80_8000)), 0x3f80);
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3f81_8000)), 0x3f82);
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let x = [0.0f32; 31];
        let mut out = vec![0u8; 34];
        assert!(quantize_activation_row(GgmlType::Q8_0, &x, &mut out).is_err());
        let x = [0.0f32; 32];
        assert!(quantize_activation_row(GgmlType::Q8_0, &x, &mut out[..33]).is_err());
        assert!(quantize_activation_row(GgmlType::Q4_0, &x, &mut out).is_err());
    }
}
