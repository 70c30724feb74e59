//! The packed kernels against their plain twin, bit for bit: the per-pair dot kernel for Q4_0
//! and Q4_1, `packed::block_order_plain` for Q5_0, Q8_0 and IQ4_NL (tail rows: the per-pair
//! kernel);
//! the twin against the exact sum of the dequantized operands.

use super::packed::{block_order_plain, Kind, GROUP};
use super::{matmul_packed, matmul_packed_many, MatmulScratch, PackedWeights};
use crate::activation::{activation_type, quantize_activation_row};
use crate::dot::kernels;
use crate::testutil::{pool, random_activations, random_row};
use crate::QuantError;
use pine_gguf::GgmlType;
use rand::{rngs::StdRng, Rng, SeedableRng};

const TYPES: [GgmlType; 5] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q8_0,
    GgmlType::IQ4_NL,
];

/// Packs `w`, multiplies `x` (n rows) with the kernels this CPU picks and (Q4_0, Q5_0) with every
/// 256-bit form it has, and checks every output against the twin.
fn check(scratch: &mut MatmulScratch, ty: GgmlType, rows: usize, cols: usize, w: &[u8], x: &[f32]) {
    let p = PackedWeights::pack(pool(), ty, rows, cols, w).unwrap();
    let n = x.len() / cols;
    let mut y = vec![f32::NAN; n * rows];
    matmul_packed(pool(), &p, x, n, &mut y, scratch).unwrap();
    check_outputs(ty, rows, cols, w, x, &y);
    #[cfg(target_arch = "x86_64")]
    for k in super::packed_avx2::all_forms(ty) {
        let mut y = vec![f32::NAN; n * rows];
        super::packed::matmul_packed_with([k], pool(), [&p], x, n, [&mut y], scratch).unwrap();
        check_outputs(ty, rows, cols, w, x, &y);
    }
}

/// Every output of `y` against the twin: Q5_0's, Q8_0's and IQ4_NL's full groups against the
/// block order, every other output against the per-pair kernel.
fn check_outputs(ty: GgmlType, rows: usize, cols: usize, w: &[u8], x: &[f32], y: &[f32]) {
    let n = x.len() / cols;
    let aty = activation_type(ty).unwrap();
    let per_pair = kernels().get(ty).unwrap();
    let full = rows / GROUP * GROUP;
    let dot = |o: usize, w: &[u8], a: &[u8]| match ty {
        GgmlType::Q5_0 | GgmlType::Q8_0 | GgmlType::IQ4_NL if o < full => {
            block_order_plain(&Kind::of(ty).unwrap(), w, a)
        }
        _ => per_pair(w, a),
    };
    let rb = w.len() / rows;
    let mut a = vec![0u8; cols / 32 * aty.block_bytes()];
    for r in 0..n {
        quantize_activation_row(aty, &x[r * cols..(r + 1) * cols], &mut a).unwrap();
        for o in 0..rows {
            let want = dot(o, &w[o * rb..(o + 1) * rb], &a);
            let got = y[r * rows + o];
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{ty} {rows}×{cols} n={n} r={r} o={o}"
            );
        }
    }
}

/// Random data: decode and every prefill remainder around the eight-row kernel, full groups and
/// tail rows, one-block and long rows.
#[test]
fn packed_equals_the_per_pair_kernel() {
    let mut scratch = MatmulScratch::new();
    for (t, ty) in TYPES.into_iter().enumerate() {
        if !PackedWeights::supported(ty) {
            continue;
        }
        for (i, &(rows, cols)) in [(16, 32), (17, 256), (33, 576), (48, 64), (97, 1536)]
            .iter()
            .enumerate()
        {
            for n in [1, 2, 3, 4, 5, 8, 9, 13, 16, 17, 23] {
                let mut rng = StdRng::seed_from_u64((100 * t + 10 * i + n) as u64);
                let w: Vec<u8> = (0..rows)
                    .flat_map(|_| random_row(&mut rng, ty, cols / 32))
                    .collect();
                let x = random_activations(&mut rng, n * cols);
                check(&mut scratch, ty, rows, cols, &w, &x);
            }
        }
    }
}

/// Extreme weights (all-ones, all-zero and 0x80 quant bytes: Q8_0 −1, 0 and −128) against
/// activations of ±max stress the integer sums and the seeds.
#[test]
fn packed_extreme_values_exact() {
    let mut scratch = MatmulScratch::new();
    for ty in TYPES {
        if !PackedWeights::supported(ty) {
            continue;
        }
        let (rows, cols) = (35, 256);
        let bb = ty.block_bytes();
        let mut w = vec![0u8; rows * cols / 32 * bb];
        for (k, b) in w.chunks_exact_mut(bb).enumerate() {
            let fill = [0xff, 0x00, 0x80][k % 3];
            b.fill(fill);
            b[0..2].copy_from_slice(&0x3c00u16.to_le_bytes());
            if ty == GgmlType::Q4_1 {
                b[2..4].copy_from_slice(&0xbc00u16.to_le_bytes());
            }
        }
        for n in [1, 6] {
            let x: Vec<f32> = (0..n * cols)
                .map(|i| if (i / 3) % 2 == 0 { 1.0 } else { -1.0 })
                .collect();
            check(&mut scratch, ty, rows, cols, &w, &x);
        }
    }
}

/// The block-order twin: Q4_0's equals its per-pair kernel bit for bit (the same order), and
/// Q4_0's, Q5_0's, Q8_0's and IQ4_NL's lie within rounding of the exact sum of dequantized weights times
/// dequantized Q8_0 activations.
#[test]
fn block_order_plain_is_exact_to_rounding() {
    let types = [
        GgmlType::Q4_0,
        GgmlType::Q5_0,
        GgmlType::Q8_0,
        GgmlType::IQ4_NL,
    ];
    for (t, ty) in types.into_iter().enumerate() {
        let kind = Kind::of(ty).unwrap();
        let (rows, cols) = (16, 1024);
        let nb = cols / 32;
        let mut rng = StdRng::seed_from_u64(70 + t as u64);
        let w: Vec<u8> = (0..rows)
            .flat_map(|_| random_row(&mut rng, ty, nb))
            .collect();
        let x = random_activations(&mut rng, cols);
        let mut a = vec![0u8; nb * 34];
        quantize_activation_row(GgmlType::Q8_0, &x, &mut a).unwrap();
        let mut av = vec![0.0f32; cols];
        crate::dequantize_row(GgmlType::Q8_0, &a, &mut av).unwrap();
        let rb = w.len() / rows;
        for o in 0..rows {
            let wr = &w[o * rb..(o + 1) * rb];
            let got = block_order_plain(&kind, wr, &a);
            if ty == GgmlType::Q4_0 {
                let per_pair = crate::dot::Kernels::scalar().get(ty).unwrap()(wr, &a);
                assert_eq!(got.to_bits(), per_pair.to_bits(), "{ty} row {o}");
            }
            let mut wv = vec![0.0f32; cols];
            crate::dequantize_row(ty, wr, &mut wv).unwrap();
            let prods = wv
                .iter()
                .zip(&av)
                .map(|(&w, &a)| f64::from(w) * f64::from(a));
            let exact: f64 = prods.clone().sum();
            let scale: f64 = prods.map(f64::abs).sum();
            let got = f64::from(got);
            assert!(
                (got - exact).abs() <= 1e-5 * scale + 1e-6,
                "{ty} row {o}: {got} against {exact} (Σ|·| {scale})"
            );
        }
    }
}

/// The dword sums of activation quants equal their plain form, extremes included.
#[test]
fn dword_sums_equal_the_plain_form() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut cases: Vec<Vec<u8>> = (0..64)
        .map(|_| (0..32).map(|_| rng.gen()).collect())
        .collect();
    cases.extend([vec![0x80; 32], vec![0x7f; 32], vec![0; 32], vec![0xff; 32]]);
    for qs in cases {
        assert_eq!(
            super::packed::dword_sums(&qs),
            super::packed::dword_sums_plain(&qs)
        );
    }
}

#[test]
fn bad_packs_and_shapes_are_errors() {
    let w = vec![0u8; 16 * 18];
    assert!(matches!(
        PackedWeights::pack(pool(), GgmlType::Q5_1, 16, 32, &w),
        Err(QuantError::Unsupported { .. })
    ));
    assert!(matches!(
        PackedWeights::pack(pool(), GgmlType::Q4_K, 16, 32, &w),
        Err(QuantError::NotBlockMultiple { .. })
    ));
    assert!(matches!(
        PackedWeights::pack(pool(), GgmlType::Q6_K, 16, 256, &w),
        Err(QuantError::Length { .. })
    ));
    assert!(matches!(
        PackedWeights::pack(pool(), GgmlType::Q4_0, 16, 33, &w),
        Err(QuantError::NotBlockMultiple { .. })
    ));
    assert!(matches!(
        PackedWeights::pack(pool(), GgmlType::Q4_0, 16, 32, &w[1..]),
        Err(QuantError::Length { .. })
    ));
    if PackedWeights::supported(GgmlType::Q4_0) {
        let p = PackedWeights::pack(pool(), GgmlType::Q4_0, 16, 32, &w).unwrap();
        let mut y = vec![0.0; 16];
        let err = matmul_packed(pool(), &p, &[0.0; 31], 1, &mut y, &mut MatmulScratch::new());
        assert!(matches!(err, Err(QuantError::Length { .. })));
    }
}

/// Several weights over one input (Q, K, V) give each weight's own product, bit for bit, in
/// decode and prefill; weights of different types are refused.
#[test]
fn many_products_equal_one_at_a_time() {
    let mut scratch = MatmulScratch::new();
    let cols = 576;
    for (t, ty) in TYPES.into_iter().enumerate() {
        if !PackedWeights::supported(ty) {
            continue;
        }
        let mut rng = StdRng::seed_from_u64(900 + t as u64);
        let ws: Vec<PackedWeights> = [64, 17, 33]
            .iter()
            .map(|&rows| {
                let w: Vec<u8> = (0..rows)
                    .flat_map(|_| random_row(&mut rng, ty, cols / 32))
                    .collect();
                PackedWeights::pack(pool(), ty, rows, cols, &w).unwrap()
            })
            .collect();
        for n in [1, 9, 40] {
            let x = random_activations(&mut rng, n * cols);
            let mut got: Vec<Vec<f32>> = ws.iter().map(|w| vec![f32::NAN; n * w.rows()]).collect();
            let [a, b, c] = &mut got[..] else {
                unreachable!("three outputs")
            };
            let (wa, wb, wc) = (&ws[0], &ws[1], &ws[2]);
            matmul_packed_many(pool(), [wa, wb, wc], &x, n, [a, b, c], &mut scratch).unwrap();
            for (w, g) in ws.iter().zip(&got) {
                let mut want = vec![0.0; n * w.rows()];
                matmul_packed(pool(), w, &x, n, &mut want, &mut scratch).unwrap();
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(g), bits(&want), "{ty} n={n} rows={}", w.rows());
            }
        }
    }
    let mixed: Vec<PackedWeights> = [GgmlType::Q4_0, GgmlType::Q8_0]
        .into_iter()
        .filter(|&ty| PackedWeights::supported(ty))
        .map(|ty| {
            let w = random_row(&mut StdRng::seed_from_u64(1), ty, 1).repeat(16);
            PackedWeights::pack(pool(), ty, 16, 32, &w).unwrap()
        })
        .collect();
    if let [a, b] = &mixed[..] {
        let (mut ya, mut yb) = (vec![0.0; 16], vec![0.0; 16]);
        let r = matmul_packed_many(
            pool(),
            [a, b],
            &[0.5; 32],
            1,
            [&mut ya, &mut yb],
            &mut scratch,
        );
        assert!(matches!(r, Err(QuantError::Unsupported { .. })), "{r:?}");
    }
}
