//! Round-trip error bounds on random data and known values; byte-exactness against
//! llama-quantize is checked by `tests/fixture_quantize.rs`.

use super::*;
use crate::dequant::dequantize_row;
use rand::{rngs::StdRng, Rng, SeedableRng};
use GgmlType::*;

fn gaussian(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            // Box–Muller: enough for test data.
            let u: f32 = rng.gen_range(1e-7..1.0);
            let v: f32 = rng.gen();
            (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        })
        .collect()
}

fn round_trip(ty: GgmlType, x: &[f32]) -> Vec<f32> {
    let mut q = vec![0u8; x.len() / ty.block_size() * ty.block_bytes()];
    quantize_row(ty, x, &mut q).unwrap();
    let mut y = vec![0f32; x.len()];
    dequantize_row(ty, &q, &mut y).unwrap();
    y
}

fn rmse(a: &[f32], b: &[f32]) -> f32 {
    let s: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    (s / a.len() as f32).sqrt()
}

#[test]
fn round_trip_errors_are_within_format_bounds() {
    let x = gaussian(4096, 7);
    // Relative RMSE bounds for unit Gaussian data (measured values are ~70–90% of these).
    let bounds = [
        (F32, 0.0),
        (F16, 3e-4),
        (BF16, 3e-3),
        (Q8_0, 0.01),
        (Q6_K, 0.025),
        (Q5_K, 0.045),
        (Q5_0, 0.06),
        (Q5_1, 0.06),
        (Q4_K, 0.09),
        (IQ4_NL, 0.11),
        (IQ4_XS, 0.11),
        (Q4_0, 0.12),
        (Q4_1, 0.12),
        (Q3_K, 0.18),
        (Q2_K, 0.36),
    ];
    for (ty, bound) in bounds {
        let e = rmse(&x, &round_trip(ty, &x));
        assert!(e <= bound, "{ty}: rmse {e} > {bound}");
    }
}

#[test]
fn exact_values_survive() {
    // Values already on the Q8_0 grid with a power-of-two scale come back exactly.
    let x: Vec<f32> = (0..32).map(|i| (i as f32 - 16.0) * 0.125).collect();
    let mut x = x;
    x[0] = -127.0 * 0.125; // the block max sets d = 0.125
    assert_eq!(round_trip(Q8_0, &x), x);
    let zeros = vec![0f32; 256];
    for ty in [
        Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS,
    ] {
        assert!(round_trip(ty, &zeros).iter().all(|v| *v == 0.0), "{ty}");
    }
}

#[test]
fn q4_0_known_block() {
    // max = -8 gives d = 1, so q = trunc(x + 8.5).
    let mut x = [0f32; 32];
    x[0] = -8.0;
    x[1] = 7.0;
    x[16] = 3.4;
    let mut q = [0u8; 18];
    quantize_row(Q4_0, &x, &mut q).unwrap();
    assert_eq!(u16::from_le_bytes([q[0], q[1]]), 0x3c00);
    assert_eq!(q[2], 11 << 4);
    assert_eq!(q[3], 15 | (8 << 4));
}

#[test]
fn bf16_rounding_matches_ggml() {
    assert_eq!(bf16_bits(1.0), 0x3f80);
    assert_eq!(bf16_bits(f32::from_bits(0x3f80_8000)), 0x3f80); // tie to even
    assert_eq!(bf16_bits(f32::from_bits(0x3f81_8000)), 0x3f82);
    assert_eq!(bf16_bits(f32::from_bits(0x7f80_0001)), 0x7fc0); // NaN forced quiet
}

#[test]
fn errors_name_the_type() {
    let e = quantize_row(IQ3_S, &[0.0; 256], &mut [0u8; 110]).unwrap_err();
    assert!(e.to_string().contains("IQ3_S"), "{e}");
    let e = quantize_row(Q4_K, &[0.0; 256], &mut [0u8; 143]).unwrap_err();
    assert!(e.to_string().contains("Q4_K"), "{e}");
    let e = quantize_row(Q4_0, &[0.0; 31], &mut [0u8; 18]).unwrap_err();
    assert!(matches!(
        e,
        QuantError::NotBlockMultiple { ty: Q4_0, n: 31 }
    ));
}
