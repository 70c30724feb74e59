//! SIMD kernels against their scalar twins on random data.

use super::{dot, kernels, Kernels};
use crate::activation::{activation_type, quantize_activation_row};
use crate::testutil::{random_activations, random_row, scale_offsets};
use half::f16;
use pine_gguf::GgmlType;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Every type with a dot product.
const TYPES: [GgmlType; 19] = {
    use GgmlType::*;
    [
        Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS, IQ3_XXS, IQ3_S,
        TQ1_0, TQ2_0, F32, F16, BF16,
    ]
};

/// Quantizes random activations for `ty` covering `blocks` weight blocks.
fn act_row(rng: &mut StdRng, ty: GgmlType, blocks: usize) -> Vec<u8> {
    let aty = activation_type(ty).unwrap();
    let n = blocks * ty.block_size();
    let x = random_activations(rng, n);
    let mut a = vec![0u8; n / aty.block_size() * aty.block_bytes()];
    quantize_activation_row(aty, &x, &mut a).unwrap();
    a
}

/// Relative tolerance of float-accumulation differences, against the sum of |block results|.
const REL_TOL: f32 = 1e-5;

#[test]
fn simd_matches_scalar_within_rounding() {
    let (k, s) = (kernels(), Kernels::scalar());
    let mut rng = StdRng::seed_from_u64(7);
    for ty in TYPES {
        let (fast, slow) = (k.get(ty).unwrap(), s.get(ty).unwrap());
        let per_block = ty.block_size().max(1);
        for elems in [32usize, 256, 288, 512, 576, 1536, 2048 + 256] {
            if elems % per_block != 0 {
                continue;
            }
            let blocks = elems / per_block;
            let w = random_row(&mut rng, ty, blocks);
            let a = act_row(&mut rng, ty, blocks);
            let (got, want) = (fast(&w, &a), slow(&w, &a));
            // Magnitude: sum of the per-block scalar results (per 32 elements for floats).
            let (wb, ab) = (w.len() / blocks, a.len() / blocks);
            let step = if per_block == 1 { 32 } else { 1 };
            let mag: f32 = (0..blocks)
                .step_by(step)
                .map(|b| {
                    let e = (b + step).min(blocks);
                    slow(&w[b * wb..e * wb], &a[b * ab..e * ab]).abs()
                })
                .sum();
            assert!(
                (got - want).abs() <= REL_TOL * mag + 1e-30,
                "{ty} ({}) n={elems}: simd {got} scalar {want} mag {mag}",
                k.isa(ty).unwrap()
            );
        }
    }
}

/// With power-of-two scales every float step is exact, so any kernel whose integer sums are
/// right must equal the scalar reference bit for bit (the 32-element types).
#[test]
fn legacy_integer_sums_are_bit_identical() {
    use GgmlType::*;
    let (k, s) = (kernels(), Kernels::scalar());
    let mut rng = StdRng::seed_from_u64(11);
    for ty in [Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL] {
        for blocks in [1usize, 2, 3, 8] {
            let mut w = random_row(&mut rng, ty, blocks);
            for b in w.chunks_exact_mut(ty.block_bytes()) {
                for &o in scale_offsets(ty) {
                    let v = f16::from_f32([0.5f32, 1.0, 2.0][rng.gen_range(0..3)]);
                    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
                }
            }
            let mut a = act_row(&mut rng, ty, blocks);
            let ab = a.len() / blocks;
            for b in a.chunks_exact_mut(ab) {
                b[0..2].copy_from_slice(&f16::from_f32(1.0).to_le_bytes());
                if ab == 36 {
                    b[2..4].copy_from_slice(&f16::from_f32(4.0).to_le_bytes());
                }
            }
            let (got, want) = (k.get(ty).unwrap()(&w, &a), s.get(ty).unwrap()(&w, &a));
            assert_eq!(got.to_bits(), want.to_bits(), "{ty} blocks={blocks}");
        }
    }
}

/// Q4_0 follows the block order in every kernel, and IQ4_XS the scalar order, so any
/// scalar/SIMD pair gives the same bits on arbitrary data, not only on power-of-two scales.
#[test]
fn block_order_kernels_equal_scalar_bit_for_bit() {
    use GgmlType::*;
    let (k, s) = (kernels(), Kernels::scalar());
    let mut rng = StdRng::seed_from_u64(13);
    for ty in [Q4_0, IQ4_XS] {
        for blocks in [1usize, 2, 7, 18, 48] {
            for _ in 0..8 {
                let w = random_row(&mut rng, ty, blocks);
                let a = act_row(&mut rng, ty, blocks);
                let (got, want) = (k.get(ty).unwrap()(&w, &a), s.get(ty).unwrap()(&w, &a));
                assert_eq!(got.to_bits(), want.to_bits(), "{ty} blocks={blocks}");
            }
        }
    }
}

#[test]
fn checked_dot_validates_lengths() {
    let w = vec![0u8; 18 * 2];
    let a = vec![0u8; 34 * 2];
    assert_eq!(dot(GgmlType::Q4_0, &w, &a).unwrap(), 0.0);
    assert!(dot(GgmlType::Q4_0, &w[..35], &a).is_err());
    assert!(dot(GgmlType::Q4_0, &w, &a[..34]).is_err());
    assert!(dot(GgmlType::IQ2_XXS, &w, &a).is_err());
}

/// A hand-checkable case: Q8_0 weights all 1 with d = 1 against activations all 1.
#[test]
fn q8_0_of_ones_is_the_length() {
    let mut w = vec![1u8; 34];
    w[0..2].copy_from_slice(&f16::from_f32(1.0).to_le_bytes());
    let x = vec![1.0f32; 32];
    let mut a = vec![0u8; 34];
    quantize_activation_row(GgmlType::Q8_0, &x, &mut a).unwrap();
    let v = dot(GgmlType::Q8_0, &w, &a).unwrap();
    assert!((v - 32.0).abs() < 0.05, "{v}");
}
