//! `Precision::F32`: dequantized weights × f32 activations with f64 sums — slow, but free of
//! activation quantization, so tests and accuracy studies can compare against it.

use super::WeightView;
use crate::{dequantize_row, QuantError};
use rayon::prelude::*;

/// Output rows per task; each task dequantizes its rows once into a local buffer.
const CHUNK: usize = 32;

/// Runs the reference product; `validate` has checked every length.
pub(super) fn matmul(w: &WeightView, x: &[f32], n: usize, y: &mut [f32]) -> Result<(), QuantError> {
    let rb = w.row_bytes();
    let mut yt = vec![0.0f32; n * w.rows];
    yt.par_chunks_mut(CHUNK * n)
        .enumerate()
        .try_for_each(|(t, out)| {
            let mut wf = vec![0.0f32; w.cols];
            for (i, col) in out.chunks_exact_mut(n).enumerate() {
                let o = t * CHUNK + i;
                dequantize_row(w.ty, &w.data[o * rb..(o + 1) * rb], &mut wf)?;
                for (v, xr) in col.iter_mut().zip(x.chunks_exact(w.cols)) {
                    let s: f64 = wf
                        .iter()
                        .zip(xr)
                        .map(|(a, b)| f64::from(*a) * f64::from(*b))
                        .sum();
                    *v = s as f32;
                }
            }
            Ok(())
        })?;
    for (o, col) in yt.chunks_exact(n).enumerate() {
        for (r, v) in col.iter().enumerate() {
            y[r * w.rows + o] = *v;
        }
    }
    Ok(())
}
