//! Random test data shared by the dot and matmul tests: weight rows of any type with sane
//! scales, and activation rows.

use half::f16;
use pine_gguf::GgmlType;
use rand::{rngs::StdRng, Rng};

/// Byte offsets of the f16 scale fields of one block of `ty` (overwritten with sane values so
/// random bytes never make NaN or huge scales).
pub(crate) fn scale_offsets(ty: GgmlType) -> &'static [usize] {
    use GgmlType::*;
    match ty {
        Q4_1 | Q5_1 | Q4_K | Q5_K => &[0, 2],
        Q4_0 | Q5_0 | Q8_0 | IQ4_NL | IQ4_XS | IQ3_XXS | IQ3_S => &[0],
        Q2_K => &[80, 82],
        Q3_K => &[108],
        Q6_K => &[208],
        TQ1_0 => &[52],
        TQ2_0 => &[64],
        _ => &[],
    }
}

/// A row of `blocks` random blocks of `ty`; float types get values in [-1, 1).
pub(crate) fn random_row(rng: &mut StdRng, ty: GgmlType, blocks: usize) -> Vec<u8> {
    let mut row = vec![0u8; blocks * ty.block_bytes()];
    match ty {
        GgmlType::F32 => {
            for c in row.chunks_exact_mut(4) {
                c.copy_from_slice(&rng.gen_range(-1.0f32..1.0).to_le_bytes());
            }
        }
        GgmlType::F16 => {
            for c in row.chunks_exact_mut(2) {
                c.copy_from_slice(&f16::from_f32(rng.gen_range(-1.0..1.0)).to_le_bytes());
            }
        }
        GgmlType::BF16 => {
            for c in row.chunks_exact_mut(2) {
                let b = crate::activation::f32_to_bf16_bits(rng.gen_range(-1.0..1.0));
                c.copy_from_slice(&b.to_le_bytes());
            }
        }
        _ => {
            rng.fill(&mut row[..]);
            for b in row.chunks_exact_mut(ty.block_bytes()) {
                for &o in scale_offsets(ty) {
                    let v = f16::from_f32(rng.gen_range(-0.05f32..0.05));
                    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    row
}

/// `n` random activations, roughly normal-ish with a few outliers like real hidden states.
pub(crate) fn random_activations(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let v: f32 = rng.gen_range(-1.0..1.0);
            if rng.gen_range(0..50) == 0 {
                v * 20.0
            } else {
                v
            }
        })
        .collect()
}

/// A two-thread pool shared by the tests, so the parallel paths (task splits, several
/// participants) are exercised.
pub(crate) fn pool() -> &'static pine_pool::Pool {
    static POOL: std::sync::OnceLock<pine_pool::Pool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| pine_pool::Pool::new(2).expect("two test threads"))
}
