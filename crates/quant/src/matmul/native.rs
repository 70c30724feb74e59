//! The llama.cpp-style path: quantize activations once, then integer dot products, split
//! across the rayon pool (decode: by output rows; prefill: by tiles of output rows).

use super::{MatmulScratch, WeightView};
use crate::activation::{activation_type, quantize_activation_row};
use crate::dot::{kernels, DotFn};
use crate::QuantError;
use rayon::prelude::*;

/// Weight rows per prefill tile: their bytes stay in L1/L2 while every activation row of the
/// tile passes over them.
const TILE_ROWS: usize = 16;
/// Activation rows per prefill tile: quantized rows reused across the tile's weight rows.
const TILE_ACTS: usize = 64;

/// The dot kernel for weights of type `ty` in a product with `n` activation rows. llama.cpp
/// sums batched BF16 products in another order than single rows; pine follows it.
pub(super) fn row_kernel(ty: pine_gguf::GgmlType, n: usize) -> Result<DotFn, QuantError> {
    match (ty, n) {
        (pine_gguf::GgmlType::BF16, 2..) => Ok(crate::dot::bf16_order::bf16_batch),
        _ => kernels()
            .get(ty)
            .ok_or(QuantError::Unsupported { ty, op: "matmul" }),
    }
}

/// Runs the native product; `validate` has checked every length.
pub(super) fn matmul(
    w: &WeightView,
    x: &[f32],
    n: usize,
    y: &mut [f32],
    scratch: &mut MatmulScratch,
) -> Result<(), QuantError> {
    let aty = activation_type(w.ty).ok_or(QuantError::Unsupported {
        ty: w.ty,
        op: "matmul",
    })?;
    let f = row_kernel(w.ty, n)?;
    let arow = w.cols / aty.block_size() * aty.block_bytes();
    scratch.act.resize(n * arow, 0);
    let act = &mut scratch.act[..n * arow];
    if n == 1 {
        quantize_activation_row(aty, x, act)?;
        decode(w, f, act, y);
        return Ok(());
    }
    act.par_chunks_mut(arow)
        .zip(x.par_chunks(w.cols))
        .try_for_each(|(a, xr)| quantize_activation_row(aty, xr, a))?;
    scratch.yt.resize(n * w.rows, 0.0);
    prefill(w, f, act, arow, n, &mut scratch.yt[..n * w.rows]);
    for (o, col) in scratch.yt[..n * w.rows].chunks_exact(n).enumerate() {
        for (r, v) in col.iter().enumerate() {
            y[r * w.rows + o] = *v;
        }
    }
    Ok(())
}

/// One activation row: every weight row streamed once, output rows split in chunks sized for
/// a few chunks per thread (work stealing evens out uneven cores).
fn decode(w: &WeightView, f: DotFn, act: &[u8], y: &mut [f32]) {
    let rb = w.row_bytes();
    let chunk = (w.rows / (rayon::current_num_threads() * 4)).clamp(8, 4096);
    y.par_chunks_mut(chunk).enumerate().for_each(|(c, ys)| {
        let base = c * chunk;
        for (i, yo) in ys.iter_mut().enumerate() {
            let o = base + i;
            *yo = f(&w.data[o * rb..(o + 1) * rb], act);
        }
    });
}

/// Many activation rows: `yt` is rows × n (weight-row-major). Each task owns `TILE_ROWS`
/// weight rows and walks the activation rows in groups of `TILE_ACTS`.
fn prefill(w: &WeightView, f: DotFn, act: &[u8], arow: usize, n: usize, yt: &mut [f32]) {
    let rb = w.row_bytes();
    yt.par_chunks_mut(TILE_ROWS * n)
        .enumerate()
        .for_each(|(t, out)| {
            let o0 = t * TILE_ROWS;
            let nrows = out.len() / n;
            for r0 in (0..n).step_by(TILE_ACTS) {
                let r1 = (r0 + TILE_ACTS).min(n);
                for i in 0..nrows {
                    let wr = &w.data[(o0 + i) * rb..(o0 + i + 1) * rb];
                    let dst = &mut out[i * n + r0..i * n + r1];
                    for (d, a) in dst
                        .iter_mut()
                        .zip(act[r0 * arow..r1 * arow].chunks_exact(arow))
                    {
                        *d = f(wr, a);
                    }
                }
            }
        });
}
