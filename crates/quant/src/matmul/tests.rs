//! The engine against per-row dot products (exact) and against a dequantize-then-f32 reference.

use super::{matmul, MatmulScratch, Precision, WeightView};
use crate::activation::{activation_type, quantize_activation_row};
use crate::dequantize_row;
use crate::testutil::pool;
use crate::testutil::{random_activations, random_row};
use pine_gguf::GgmlType;
use rand::{rngs::StdRng, SeedableRng};

const TYPES: [GgmlType; 19] = {
    use GgmlType::*;
    [
        Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS, IQ3_XXS, IQ3_S,
        TQ1_0, TQ2_0, F32, F16, BF16,
    ]
};

/// Random weights of `rows × cols` and activations of `n × cols`.
fn setup(ty: GgmlType, rows: usize, cols: usize, n: usize, seed: u64) -> (Vec<u8>, Vec<f32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let blocks = cols / ty.block_size();
    let w: Vec<u8> = (0..rows)
        .flat_map(|_| random_row(&mut rng, ty, blocks))
        .collect();
    (w, random_activations(&mut rng, n * cols))
}

/// Shapes covering decode, tails of the prefill tiles (16 rows × 64 acts) and one-row cases.
const SHAPES: [(usize, usize, usize); 6] = [
    (1, 1, 256),
    (17, 1, 512),
    (33, 3, 256),
    (5, 70, 256),
    (40, 2, 768),
    (3, 65, 512),
];

/// Runs the engine on `rows × cols` weights and `n` activation rows of `ty` and checks every
/// output bit for bit against the per-pair dot kernel.
fn check_exact(
    scratch: &mut MatmulScratch,
    ty: GgmlType,
    rows: usize,
    n: usize,
    cols: usize,
    seed: u64,
) {
    let aty = activation_type(ty).unwrap();
    let (w, x) = setup(ty, rows, cols, n, seed);
    let view = WeightView {
        ty,
        rows,
        cols,
        data: &w,
    };
    let mut y = vec![0.0f32; n * rows];
    matmul(pool(), &view, &x, n, &mut y, scratch, Precision::Native).unwrap();
    let f = super::native::row_kernel(ty, n).unwrap();
    let rb = view.row_bytes();
    let mut a = vec![0u8; cols / aty.block_size() * aty.block_bytes()];
    for r in 0..n {
        quantize_activation_row(aty, &x[r * cols..(r + 1) * cols], &mut a).unwrap();
        for o in 0..rows {
            let want = f(&w[o * rb..(o + 1) * rb], &a);
            assert_eq!(
                y[r * rows + o].to_bits(),
                want.to_bits(),
                "{ty} rows={rows} n={n} cols={cols} r={r} o={o}"
            );
        }
    }
}

#[test]
fn native_equals_dot_per_row_exactly() {
    let mut scratch = MatmulScratch::new();
    for ty in TYPES {
        for (i, &(rows, n, cols)) in SHAPES.iter().enumerate() {
            check_exact(&mut scratch, ty, rows, n, cols, i as u64);
        }
    }
}

/// The prefill micro-kernels (several weight rows × several activation rows per call) against
/// the per-pair kernel: every batch size around the panel width, weight-row counts around the
/// kernel height and the task chunking, one-block and long rows.
#[test]
fn tiled_prefill_equals_dot_per_row_exactly() {
    use GgmlType::*;
    let mut scratch = MatmulScratch::new();
    let ns = [1, 2, 3, 4, 5, 6, 7, 8, 9, 64, 65];
    for ty in [Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL] {
        for (i, &n) in ns.iter().enumerate() {
            for (j, &(rows, cols)) in [(1, 32), (4, 64), (7, 576), (50, 256), (97, 1536)]
                .iter()
                .enumerate()
            {
                if n >= 64 && rows > 50 {
                    continue;
                }
                check_exact(&mut scratch, ty, rows, n, cols, (100 * i + j) as u64);
            }
        }
        check_exact(&mut scratch, ty, 97, 64, 1536, 7);
    }
}

/// Extreme activations (all ±max, so every quant is ±127) and extreme weights stress the
/// integer sums (Q8_0 with −128 bytes, the lane offsets).
#[test]
fn tiled_prefill_extreme_values_exact() {
    use GgmlType::*;
    let mut scratch = MatmulScratch::new();
    for ty in [Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL] {
        let (rows, n, cols) = (6, 5, 256);
        let bb = ty.block_bytes();
        let mut w = vec![0u8; rows * cols / 32 * bb];
        for (k, b) in w.chunks_exact_mut(bb).enumerate() {
            // A positive f16 scale (1.0) and min, then all-ones or all-zeros quant bytes
            // (Q8_0: −1 or 0; with 0x80 patterns below).
            b[0..2].copy_from_slice(&0x3c00u16.to_le_bytes());
            let fill = match k % 3 {
                0 => 0xff,
                1 => 0x00,
                _ => 0x80,
            };
            for v in b[2..].iter_mut() {
                *v = fill;
            }
            if matches!(ty, Q4_1 | Q5_1) {
                b[2..4].copy_from_slice(&0xbc00u16.to_le_bytes());
            }
        }
        let x: Vec<f32> = (0..n * cols)
            .map(|i| if (i / 3) % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let view = WeightView {
            ty,
            rows,
            cols,
            data: &w,
        };
        let mut y = vec![0.0f32; n * rows];
        matmul(
            pool(),
            &view,
            &x,
            n,
            &mut y,
            &mut scratch,
            Precision::Native,
        )
        .unwrap();
        let aty = activation_type(ty).unwrap();
        let f = super::native::row_kernel(ty, n).unwrap();
        let rb = view.row_bytes();
        let mut a = vec![0u8; cols / 32 * aty.block_bytes()];
        for r in 0..n {
            quantize_activation_row(aty, &x[r * cols..(r + 1) * cols], &mut a).unwrap();
            for o in 0..rows {
                let want = f(&w[o * rb..(o + 1) * rb], &a);
                assert_eq!(
                    y[r * rows + o].to_bits(),
                    want.to_bits(),
                    "{ty} r={r} o={o}"
                );
            }
        }
    }
}

/// Bound on the activation-quantization error of one output: rounding to a block's grid moves
/// each activation by at most half a step, amax/254 (Q8_0/Q8_1/Q8_K); f16/bf16 move it by a
/// relative 2^-9 / 2^-8, far less. Uses amax/200 for margin.
fn quantization_bound(wf: &[f32], xr: &[f32], block: usize) -> f32 {
    xr.chunks(block)
        .zip(wf.chunks(block))
        .map(|(xb, wb)| {
            let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            wb.iter().map(|v| v.abs()).sum::<f32>() * amax / 200.0
        })
        .sum()
}

/// The F32 mode equals a naive dequantize-then-dot loop; Native stays within the activation
/// quantization bound of it.
#[test]
fn native_and_f32_track_the_naive_reference() {
    let mut scratch = MatmulScratch::new();
    for ty in TYPES {
        let (rows, n, cols) = (9, 4, 512);
        let (w, x) = setup(ty, rows, cols, n, 99);
        let view = WeightView {
            ty,
            rows,
            cols,
            data: &w,
        };
        let (mut yn, mut yf) = (vec![0.0f32; n * rows], vec![0.0f32; n * rows]);
        matmul(
            pool(),
            &view,
            &x,
            n,
            &mut yn,
            &mut scratch,
            Precision::Native,
        )
        .unwrap();
        matmul(pool(), &view, &x, n, &mut yf, &mut scratch, Precision::F32).unwrap();
        let rb = view.row_bytes();
        let block = activation_type(ty).unwrap().block_size().max(32);
        let mut wf = vec![0.0f32; cols];
        for o in 0..rows {
            dequantize_row(ty, &w[o * rb..(o + 1) * rb], &mut wf).unwrap();
            for r in 0..n {
                let xr = &x[r * cols..(r + 1) * cols];
                let exact: f64 = wf
                    .iter()
                    .zip(xr)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum();
                let mag: f32 = wf.iter().zip(xr).map(|(a, b)| (a * b).abs()).sum();
                let (f, nat) = (yf[r * rows + o], yn[r * rows + o]);
                assert!(
                    (f64::from(f) - exact).abs() <= 1e-6 * f64::from(mag) + 1e-30,
                    "{ty}"
                );
                let bound = quantization_bound(&wf, xr, block);
                assert!(
                    (nat - f).abs() <= bound,
                    "{ty}: native {nat} f32 {f} bound {bound}"
                );
            }
        }
    }
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let mut s = MatmulScratch::new();
    let w = vec![0u8; 18 * 2];
    let view = WeightView {
        ty: GgmlType::Q4_0,
        rows: 2,
        cols: 32,
        data: &w,
    };
    let x = vec![0.0f32; 32];
    let mut y = vec![0.0f32; 2];
    assert!(matmul(pool(), &view, &x, 1, &mut y, &mut s, Precision::Native).is_ok());
    assert!(matmul(pool(), &view, &x, 2, &mut y, &mut s, Precision::Native).is_err());
    assert!(matmul(pool(), &view, &x, 1, &mut y[..1], &mut s, Precision::Native).is_err());
    let short = WeightView {
        data: &w[..20],
        ..view
    };
    assert!(matmul(pool(), &short, &x, 1, &mut y, &mut s, Precision::Native).is_err());
    let odd = WeightView { cols: 31, ..view };
    assert!(matmul(pool(), &odd, &x[..31], 1, &mut y, &mut s, Precision::F32).is_err());
    let unsupported = WeightView {
        ty: GgmlType::IQ2_XXS,
        ..view
    };
    assert!(matmul(
        pool(),
        &unsupported,
        &x,
        1,
        &mut y,
        &mut s,
        Precision::Native
    )
    .is_err());
    let huge = WeightView {
        rows: usize::MAX,
        ..view
    };
    assert!(matmul(pool(), &huge, &x, 1, &mut y, &mut s, Precision::Native).is_err());
}

/// Activations that every partner format represents exactly (small integers, each 32-block
/// holding a ±127) make Native equal the f32 reference up to float rounding: this pins the
/// integer decoding of every weight type against the dequantizers.
#[test]
fn exactly_representable_activations_match_f32() {
    let mut scratch = MatmulScratch::new();
    for ty in TYPES {
        let (rows, n, cols) = (7, 2, 512);
        let (w, _) = setup(ty, rows, cols, 0, 5);
        let x: Vec<f32> = (0..n * cols)
            .map(|i| match i % 32 {
                0 => 127.0,
                k => ((k * 7 + i / 32) % 17) as f32 - 8.0,
            })
            .collect();
        let view = WeightView {
            ty,
            rows,
            cols,
            data: &w,
        };
        let (mut yn, mut yf) = (vec![0.0f32; n * rows], vec![0.0f32; n * rows]);
        matmul(
            pool(),
            &view,
            &x,
            n,
            &mut yn,
            &mut scratch,
            Precision::Native,
        )
        .unwrap();
        matmul(pool(), &view, &x, n, &mut yf, &mut scratch, Precision::F32).unwrap();
        let rb = view.row_bytes();
        let mut wf = vec![0.0f32; cols];
        for o in 0..rows {
            dequantize_row(ty, &w[o * rb..(o + 1) * rb], &mut wf).unwrap();
            for r in 0..n {
                let xr = &x[r * cols..(r + 1) * cols];
                let mag: f32 = wf.iter().zip(xr).map(|(a, b)| (a * b).abs()).sum();
                let (f, nat) = (yf[r * rows + o], yn[r * rows + o]);
                assert!(
                    (nat - f).abs() <= 1e-5 * mag,
                    "{ty}: native {nat} f32 {f} mag {mag}"
                );
            }
        }
    }
}
