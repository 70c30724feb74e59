//! The packed k-quant kernels (512-bit and every 256-bit form this CPU has) against their plain
//! twin (bit for bit) and the twin against the
//! exact sum of the dequantized operands.

use super::packed::GROUP;
use super::packed_k::{self, KActBlock, KKind};
use super::{matmul_packed, MatmulScratch, PackedWeights};
use crate::activation::quantize_activation_row;
use crate::dequantize_row;
use crate::dot::kernels;
use crate::testutil::{pool, random_activations, random_row};
use pine_gguf::{GgmlType, QK_K};
use rand::{rngs::StdRng, Rng, SeedableRng};

const TYPES: [GgmlType; 6] = [
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::Q3_K,
    GgmlType::Q2_K,
    GgmlType::IQ4_XS,
];

/// The kernels' activation blocks of `x` (`cols` wide) and its Q8_K rows (the tail rows').
fn quantize(x: &[f32], cols: usize) -> (Vec<Vec<u8>>, Vec<Vec<KActBlock>>) {
    let nb = cols / QK_K;
    x.chunks_exact(cols)
        .map(|xr| {
            let mut a = vec![0u8; nb * 292];
            quantize_activation_row(GgmlType::Q8_K, xr, &mut a).unwrap();
            let mut e = vec![KActBlock::default(); nb];
            packed_k::act_blocks(xr, &mut e);
            (a, e)
        })
        .unzip()
}

/// The plain twin's outputs (`n × rows`; tail rows from the per-pair kernel, as the engine).
fn plain(ty: GgmlType, rows: usize, cols: usize, w: &[u8], x: &[f32]) -> Vec<f32> {
    let kk = KKind::of(ty).unwrap();
    let nb = cols / QK_K;
    let rb = nb * kk.wb;
    let (acts, extras) = quantize(x, cols);
    let n = acts.len();
    let mut y = vec![0.0f32; n * rows];
    let mut group = vec![0u8; nb * kk.group_block()];
    for g in 0..rows / GROUP {
        packed_k::pack_group(
            &kk,
            &w[g * GROUP * rb..(g + 1) * GROUP * rb],
            rb,
            &mut group,
        );
        let e: Vec<&[KActBlock]> = extras.iter().map(|e| &e[..]).collect();
        let mut out = vec![[0.0f32; GROUP]; n];
        packed_k::group_plain(&kk, &group, nb, &e, &mut out);
        for (j, o) in out.iter().enumerate() {
            y[j * rows + g * GROUP..j * rows + (g + 1) * GROUP].copy_from_slice(o);
        }
    }
    let dot = kernels().get(ty).unwrap();
    for o in rows / GROUP * GROUP..rows {
        for (j, a) in acts.iter().enumerate() {
            y[j * rows + o] = dot(&w[o * rb..(o + 1) * rb], a);
        }
    }
    y
}

/// Packs `w` and checks every output of the kernels against the plain twin, bit for bit.
fn check(scratch: &mut MatmulScratch, ty: GgmlType, rows: usize, cols: usize, w: &[u8], x: &[f32]) {
    let p = PackedWeights::pack(pool(), ty, rows, cols, w).unwrap();
    let n = x.len() / cols;
    let mut y = vec![f32::NAN; n * rows];
    matmul_packed(pool(), &p, x, n, &mut y, scratch).unwrap();
    let want = plain(ty, rows, cols, w, x);
    same(&y, &want, &format!("{ty} {rows}×{cols} n={n}"));
    #[cfg(target_arch = "x86_64")]
    for k in super::packed_k_avx2::all_forms(ty) {
        let mut y = vec![f32::NAN; n * rows];
        super::packed::matmul_packed_with([k], pool(), [&p], x, n, [&mut y], scratch).unwrap();
        same(&y, &want, &format!("{ty} {rows}×{cols} n={n}, 256-bit"));
    }
}

/// `got` equals `want` bit for bit.
fn same(got: &[f32], want: &[f32], what: &str) {
    for (i, (g, e)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            g.to_bits(),
            e.to_bits(),
            "{what} output {i}: {g} against {e}"
        );
    }
}

/// Random data: decode and every prefill remainder around the eight-row kernel, the tile path,
/// full groups and tail rows, one and several superblocks.
#[test]
fn packed_k_equals_the_plain_twin() {
    let mut scratch = MatmulScratch::new();
    for (t, ty) in TYPES.into_iter().enumerate() {
        if !PackedWeights::supported(ty) {
            eprintln!("no packed kernels for {ty} on this CPU");
            continue;
        }
        for (i, &(rows, cols)) in [(16, 256), (17, 512), (48, 768), (35, 2048)]
            .iter()
            .enumerate()
        {
            // 2–19 rows: tasks of groups taking every row (the tile path from 16); 131 rows:
            // tasks of 24, through the tile path (the last one, 11, around it).
            for n in [1, 2, 7, 8, 9, 16, 19, 131] {
                let mut rng = StdRng::seed_from_u64((100 * t + 10 * i + n) as u64);
                let w: Vec<u8> = (0..rows)
                    .flat_map(|_| random_row(&mut rng, ty, cols / QK_K))
                    .collect();
                let x = random_activations(&mut rng, n * cols);
                check(&mut scratch, ty, rows, cols, &w, &x);
            }
        }
    }
}

/// A short prefill of a tall weight: its tasks take runs of groups and every row, and their
/// outputs (with the tail rows') are gathered across the pool rather than on one thread.
#[test]
fn short_prefills_of_tall_weights_equal_the_plain_twin() {
    let mut scratch = MatmulScratch::new();
    let (rows, cols) = (2063, 256);
    for ty in [GgmlType::Q4_K, GgmlType::Q6_K] {
        if !PackedWeights::supported(ty) {
            continue;
        }
        for n in [33, 40] {
            let mut rng = StdRng::seed_from_u64(n as u64);
            let w: Vec<u8> = (0..rows)
                .flat_map(|_| random_row(&mut rng, ty, cols / QK_K))
                .collect();
            let x = random_activations(&mut rng, n * cols);
            check(&mut scratch, ty, rows, cols, &w, &x);
        }
    }
}

/// The 512-bit tile path against its twins: the conversion byte for byte against
/// `packed_k::tile_plain`, the tile kernel bit for bit against `packed_k::group_plain`.
#[cfg(target_arch = "x86_64")]
#[test]
fn tiles_equal_the_plain_twins() {
    use packed_k::TileLine;
    for (t, ty) in TYPES.into_iter().enumerate() {
        let Some(tk) = super::packed_k_avx512::detect(ty).and_then(|k| k.tile) else {
            eprintln!("no tile kernels for {ty} on this CPU");
            continue;
        };
        let kk = KKind::of(ty).unwrap();
        for nb in [1, 3] {
            let cols = nb * QK_K;
            let rb = nb * kk.wb;
            let mut rng = StdRng::seed_from_u64(40 + 10 * t as u64 + nb as u64);
            let w: Vec<u8> = (0..GROUP)
                .flat_map(|_| random_row(&mut rng, ty, nb))
                .collect();
            let mut group = vec![0u8; nb * kk.group_block()];
            packed_k::pack_group(&kk, &w, rb, &mut group);
            let mut want = vec![TileLine::default(); nb * kk.tile_lines()];
            packed_k::tile_plain(&kk, &group, nb, &mut want);
            let mut tile = vec![TileLine([0x5a; 64]); nb * kk.tile_lines()];
            (tk.convert)(&group, nb, &mut tile);
            for (i, (g, e)) in tile.iter().zip(&want).enumerate() {
                assert_eq!(g.0, e.0, "{ty} nb={nb} tile line {i}");
            }
            let x = random_activations(&mut rng, 8 * cols);
            let (_, extras) = quantize(&x, cols);
            let e: Vec<&[KActBlock]> = extras.iter().map(|e| &e[..]).collect();
            let mut out = vec![[0.0f32; GROUP]; 8];
            packed_k::group_plain(&kk, &group, nb, &e, &mut out);
            let flat: Vec<KActBlock> = extras.concat();
            let acts = super::packed::Acts {
                act: &[],
                blocks: &[],
                kblocks: &flat,
            };
            let mut y = vec![f32::NAN; 8 * GROUP];
            (tk.eight)(&tile, nb, acts, &mut y, GROUP, &group);
            same(&y, &out.concat(), &format!("{ty} nb={nb} tile kernel"));
        }
    }
}

/// Every quant and scale bit set (or clear), activations of ±max: the integer sums at their
/// extremes, Q6_K's negative scales, the seeds and the mins.
#[test]
fn packed_k_extremes() {
    let mut scratch = MatmulScratch::new();
    for ty in TYPES {
        if !PackedWeights::supported(ty) {
            continue;
        }
        let (rows, cols) = (32, 512);
        for fill in [0xffu8, 0x00, 0x80, 0x7f] {
            let mut rng = StdRng::seed_from_u64(u64::from(fill));
            let mut w: Vec<u8> = (0..rows)
                .flat_map(|_| random_row(&mut rng, ty, cols / QK_K))
                .collect();
            // Keep each block's f16 scales (random_row made them sane); set everything else.
            let scales = crate::testutil::scale_offsets(ty);
            for blk in w.chunks_exact_mut(ty.block_bytes()) {
                for (o, b) in blk.iter_mut().enumerate() {
                    if !scales.iter().any(|&s| o == s || o == s + 1) {
                        *b = fill;
                    }
                }
            }
            for sign in [1.0f32, -1.0] {
                let x: Vec<f32> = (0..3 * cols)
                    .map(|i| if i % 3 == 0 { sign } else { -sign * 0.5 })
                    .collect();
                check(&mut scratch, ty, rows, cols, &w, &x);
            }
        }
    }
}

/// The plain twin against the exact sum of dequantized weights times dequantized Q8_K
/// activations: it only rounds in its float steps.
#[test]
fn packed_k_plain_twin_is_accurate() {
    for (t, ty) in TYPES.into_iter().enumerate() {
        let (rows, cols, n) = (16, 1024, 3);
        let mut rng = StdRng::seed_from_u64(7 + t as u64);
        let w: Vec<u8> = (0..rows)
            .flat_map(|_| random_row(&mut rng, ty, cols / QK_K))
            .collect();
        let x = random_activations(&mut rng, n * cols);
        let y = plain(ty, rows, cols, &w, &x);
        let (_, extras) = quantize(&x, cols);
        let rb = w.len() / rows;
        for (j, e) in extras.iter().enumerate() {
            let av: Vec<f64> = (0..cols)
                .map(|i| {
                    let blk = &e[i / QK_K];
                    let k = i % QK_K;
                    f64::from(blk.d[k / 32]) * f64::from(blk.qs[k])
                })
                .collect();
            for o in 0..rows {
                let mut wv = vec![0.0f32; cols];
                dequantize_row(ty, &w[o * rb..(o + 1) * rb], &mut wv).unwrap();
                let exact: f64 = wv.iter().zip(&av).map(|(&w, a)| f64::from(w) * a).sum();
                let scale: f64 = wv
                    .iter()
                    .zip(&av)
                    .map(|(&w, a)| (f64::from(w) * a).abs())
                    .sum();
                let got = f64::from(y[j * rows + o]);
                assert!(
                    (got - exact).abs() <= 1e-5 * scale + 1e-6,
                    "{ty} row {o} act {j}: {got} against {exact} (Σ|·| {scale})"
                );
            }
        }
    }
}

/// k-quants of different types share one quantized input in `matmul_packed_many` (Q4_K_M's
/// Q/K in Q4_K beside V in Q6_K), each product bit-equal to its own matmul; a 32-element type
/// beside them is refused.
#[test]
fn mixed_k_quants_share_the_input() {
    use super::matmul_packed_many;
    if !TYPES.iter().all(|&t| PackedWeights::supported(t)) {
        return;
    }
    let cols = 512;
    let mut rng = StdRng::seed_from_u64(31);
    let packed: Vec<PackedWeights> = TYPES
        .iter()
        .zip([48, 16, 33, 17, 32])
        .map(|(&ty, rows)| {
            let w: Vec<u8> = (0..rows)
                .flat_map(|_| random_row(&mut rng, ty, cols / QK_K))
                .collect();
            PackedWeights::pack(pool(), ty, rows, cols, &w).unwrap()
        })
        .collect();
    let mut scratch = MatmulScratch::new();
    for n in [1, 9] {
        let x = random_activations(&mut rng, n * cols);
        let alone: Vec<Vec<f32>> = packed
            .iter()
            .map(|p| {
                let mut y = vec![0.0; n * p.rows()];
                matmul_packed(pool(), p, &x, n, &mut y, &mut scratch).unwrap();
                y
            })
            .collect();
        let mut ys: Vec<Vec<f32>> = packed
            .iter()
            .map(|p| vec![f32::NAN; n * p.rows()])
            .collect();
        if let ([a, b, c, d, e], [ya, yb, yc, yd, ye]) = (&packed[..], &mut ys[..]) {
            let (ws, ys) = ([a, b, c, d, e], [&mut ya[..], yb, yc, yd, ye]);
            matmul_packed_many(pool(), ws, &x, n, ys, &mut scratch).unwrap();
        }
        for (y, want) in ys.iter().zip(&alone) {
            same(y, want, &format!("mixed n={n}"));
        }
    }
    let mut w = vec![0u8; 16 * cols / 32 * 18];
    rng.fill(&mut w[..]);
    let q4_0 = PackedWeights::pack(pool(), GgmlType::Q4_0, 16, cols, &w).unwrap();
    let x = random_activations(&mut rng, cols);
    let (mut ya, mut yb) = (vec![0.0; packed[0].rows()], vec![0.0; 16]);
    let r = matmul_packed_many(
        pool(),
        [&packed[0], &q4_0],
        &x,
        1,
        [&mut ya, &mut yb],
        &mut scratch,
    );
    assert!(r.is_err());
}
