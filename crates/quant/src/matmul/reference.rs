//! `Precision::F32`: dequantized weights × f32 activations with f64 sums — slow, but free of
//! activation quantization, so tests and accuracy studies can compare against it.

use std::sync::Mutex;

use pine_pool::Pool;

use super::WeightView;
use crate::{dequantize_row, QuantError};

/// Output rows per task; each task dequantizes its rows once into a local buffer.
const CHUNK: usize = 32;

/// Runs the reference product; `validate` has checked every length.
pub(super) fn matmul(
    pool: &Pool,
    w: &WeightView,
    x: &[f32],
    n: usize,
    y: &mut [f32],
) -> Result<(), QuantError> {
    let rb = w.row_bytes();
    let mut yt = vec![0.0f32; n * w.rows];
    let failed = Mutex::new(None);
    pool.chunks_mut_init(
        &mut yt,
        CHUNK * n,
        || vec![0.0f32; w.cols],
        |wf, t, out| {
            for (i, col) in out.chunks_exact_mut(n).enumerate() {
                let o = t * CHUNK + i;
                if let Err(e) = dequantize_row(w.ty, &w.data[o * rb..(o + 1) * rb], wf) {
                    *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    return;
                }
                for (v, xr) in col.iter_mut().zip(x.chunks_exact(w.cols)) {
                    let s: f64 = wf
                        .iter()
                        .zip(xr)
                        .map(|(a, b)| f64::from(*a) * f64::from(*b))
                        .sum();
                    *v = s as f32;
                }
            }
        },
    );
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    for (o, col) in yt.chunks_exact(n).enumerate() {
        for (r, v) in col.iter().enumerate() {
            y[r * w.rows + o] = *v;
        }
    }
    Ok(())
}
