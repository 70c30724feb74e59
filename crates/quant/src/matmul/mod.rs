//! The CPU matmul engine: `y = x · Wᵀ` for a quantized weight matrix `W` (rows = output
//! features, each row one GGML row of `cols` elements) and `n` f32 activation rows.
//!
//! `Precision::Native` follows llama.cpp: each activation row is quantized once to the weight
//! type's dot partner and every output is one integer dot product. Decode (`n == 1`) is
//! bandwidth-bound, so output rows are split across the caller's [`Pool`] and each weight row
//! is streamed exactly once. Prefill (`n > 1`) tiles weight rows × activation rows so a weight
//! row is loaded once per tile and reused for every activation row of the tile.
//! `Precision::F32` dequantizes weights and uses f32 activations: a slow reference mode.
//! Q4_0 and Q4_1 weights can instead be repacked once ([`PackedWeights`], 16 rows interleaved)
//! for the kernels of [`matmul_packed`] (512-bit; Q4_0 also 256-bit), bit-identical to the
//! per-pair path; so can Q5_0 (512-bit and 256-bit) and Q8_0 (512-bit), both in Q4_0's block
//! order, and Q2_K,
//! Q3_K, Q4_K, Q5_K and Q6_K (512-bit and 256-bit), in float orders of their own.

mod native;
mod packed;
#[cfg(target_arch = "x86_64")]
mod packed_avx2;
#[cfg(target_arch = "x86_64")]
mod packed_avx512;
mod packed_k;
#[cfg(target_arch = "x86_64")]
mod packed_k_avx2;
#[cfg(target_arch = "x86_64")]
mod packed_k_avx512;
#[cfg(test)]
mod packed_k_tests;
#[cfg(test)]
mod packed_tests;
mod reference;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod tile_avx512;
#[cfg(target_arch = "x86_64")]
mod tile_x86;

use crate::activation::activation_type;
use crate::dot::kernels;
use crate::QuantError;
use pine_gguf::GgmlType;
use pine_pool::Pool;

pub use packed::{matmul_packed, matmul_packed_many, PackedWeights, GROUP};

/// A borrowed weight matrix: `rows` GGML rows of `cols` elements of type `ty`, packed back to
/// back in `data` (exactly as a GGUF tensor of shape `[cols, rows]` is stored).
#[derive(Clone, Copy, Debug)]
pub struct WeightView<'a> {
    /// The weight type.
    pub ty: GgmlType,
    /// Output features (number of weight rows).
    pub rows: usize,
    /// Input features: elements per weight row.
    pub cols: usize,
    /// The raw tensor bytes.
    pub data: &'a [u8],
}

impl WeightView<'_> {
    /// Bytes of one weight row.
    pub fn row_bytes(&self) -> usize {
        self.cols / self.ty.block_size() * self.ty.block_bytes()
    }
}

/// How the product is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// llama.cpp's scheme: activations quantized to the weight type's dot partner.
    Native,
    /// Dequantized weights × f32 activations, summed in f64: the reference for tests.
    F32,
}

/// Reusable buffers so that repeated calls (every decode step) allocate nothing once the
/// largest shape has been seen. One per calling thread; not shared.
#[derive(Debug, Default)]
pub struct MatmulScratch {
    /// Quantized activation rows, back to back.
    act: Vec<u8>,
    /// Prefill outputs in weight-row-major order (rows × n), transposed into `y` at the end.
    yt: Vec<f32>,
    /// Prefill activations packed into micro-kernel panels.
    panels: Vec<u8>,
    /// Per activation block, what the packed kernels need besides the quants.
    blocks: Vec<packed::ActBlock>,
    /// Per Q8_K activation block, what the packed k-quant kernels need besides the quants.
    kblocks: Vec<packed_k::KActBlock>,
    /// Outputs of a short prefill's tasks, each a run of weight groups for every activation
    /// row (`packed::matmul_packed_with`), task after task.
    by_group: Vec<f32>,
}

impl MatmulScratch {
    /// Empty scratch; buffers grow on first use.
    pub fn new() -> MatmulScratch {
        MatmulScratch::default()
    }
}

/// `y[r*rows + o] = Σ_k W[o,k] · x[r*cols + k]` for `r in 0..n`: `x` is `n × cols` row-major,
/// `y` is `n × rows`. Runs on `pool`. Every size is checked first: a mismatch
/// or an unsupported type is an error, never a panic.
pub fn matmul(
    pool: &Pool,
    w: &WeightView,
    x: &[f32],
    n: usize,
    y: &mut [f32],
    scratch: &mut MatmulScratch,
    precision: Precision,
) -> Result<(), QuantError> {
    validate(w, x, n, y)?;
    if n == 0 || w.rows == 0 {
        return Ok(());
    }
    match precision {
        Precision::Native => native::matmul(pool, w, x, n, y, scratch),
        Precision::F32 => reference::matmul(pool, w, x, n, y),
    }
}

/// Checks type support and every length against the shape.
fn validate(w: &WeightView, x: &[f32], n: usize, y: &[f32]) -> Result<(), QuantError> {
    let ty = w.ty;
    if kernels().get(ty).is_none() || activation_type(ty).is_none() {
        return Err(QuantError::Unsupported { ty, op: "matmul" });
    }
    if !w.cols.is_multiple_of(ty.block_size()) {
        return Err(QuantError::NotBlockMultiple { ty, n: w.cols });
    }
    check_len(
        "weight bytes",
        w.rows.checked_mul(w.row_bytes()),
        w.data.len(),
    )?;
    check_len(
        "activation elements (n × cols)",
        n.checked_mul(w.cols),
        x.len(),
    )?;
    check_len("output elements (n × rows)", n.checked_mul(w.rows), y.len())
}

/// `Ok` when `got` is the `expected` length (`None`: the expected length overflowed), else the
/// error naming `what`.
fn check_len(what: &'static str, expected: Option<usize>, got: usize) -> Result<(), QuantError> {
    match expected {
        Some(e) if e == got => Ok(()),
        _ => Err(QuantError::Length {
            what,
            expected: expected.unwrap_or(usize::MAX),
            got,
        }),
    }
}
