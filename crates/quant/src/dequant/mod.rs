//! Dequantization of GGML rows and tensors to f32, bit-exact with llama.cpp's
//! `dequantize_row_*` (ggml-quants.c, build b4748).
//!
//! Used where a weight is needed in f32 (token-embedding rows, reference paths, tests); the
//! matmul kernels work on the quantized blocks directly.

mod float;
mod iquants;
mod kquants;
mod legacy;
mod ternary;

use crate::QuantError;
use pine_gguf::GgmlType;
use rayon::prelude::*;

/// A decoder for a run of whole blocks: `src` holds exactly the blocks of `dst`.
type RowFn = fn(&[u8], &mut [f32]);

/// The decoder for `ty`, or `None` when this crate cannot dequantize it.
fn row_fn(ty: GgmlType) -> Option<RowFn> {
    use GgmlType::*;
    Some(match ty {
        F32 => float::f32_row,
        F16 => float::f16_row,
        BF16 => float::bf16_row,
        Q4_0 => legacy::q4_0_row,
        Q4_1 => legacy::q4_1_row,
        Q5_0 => legacy::q5_0_row,
        Q5_1 => legacy::q5_1_row,
        Q8_0 => legacy::q8_0_row,
        Q8_1 => legacy::q8_1_row,
        Q2_K => kquants::q2_k_row,
        Q3_K => kquants::q3_k_row,
        Q4_K => kquants::q4_k_row,
        Q5_K => kquants::q5_k_row,
        Q6_K => kquants::q6_k_row,
        Q8_K => kquants::q8_k_row,
        IQ4_NL => iquants::iq4_nl_row,
        IQ4_XS => iquants::iq4_xs_row,
        IQ3_XXS => iquants::iq3_xxs_row,
        IQ3_S => iquants::iq3_s_row,
        TQ1_0 => ternary::tq1_0_row,
        TQ2_0 => ternary::tq2_0_row,
        _ => return None,
    })
}

/// True when [`dequantize_row`] supports `ty`, so callers can check before loading a model.
pub fn can_dequantize(ty: GgmlType) -> bool {
    row_fn(ty).is_some()
}

/// Checks that `src` is exactly the encoding of `n` elements of `ty` and returns the decoder.
fn checked(ty: GgmlType, src_len: usize, n: usize) -> Result<RowFn, QuantError> {
    let f = row_fn(ty).ok_or(QuantError::Unsupported {
        ty,
        op: "dequantize",
    })?;
    if !n.is_multiple_of(ty.block_size()) {
        return Err(QuantError::NotBlockMultiple { ty, n });
    }
    let expected = n / ty.block_size() * ty.block_bytes();
    if src_len != expected {
        return Err(QuantError::RowLength {
            ty,
            what: "source bytes",
            expected,
            got: src_len,
        });
    }
    Ok(f)
}

/// Decodes `dst.len()` elements of type `ty` from `src`, which must be exactly their encoded
/// bytes. Errors (never panics) on an unsupported type or mismatched lengths, because type
/// and sizes come from files.
pub fn dequantize_row(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), QuantError> {
    let f = checked(ty, src.len(), dst.len())?;
    f(src, dst);
    Ok(())
}

/// Elements per parallel task in [`dequantize_tensor`]: large enough to amortize scheduling,
/// a multiple of every block size (256).
const CHUNK_ELEMS: usize = 1 << 16;

/// Like [`dequantize_row`] for a whole tensor (rows are consecutive whole blocks), splitting
/// the work across rayon's thread pool. Output is identical to the single-threaded decode.
pub fn dequantize_tensor(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), QuantError> {
    let f = checked(ty, src.len(), dst.len())?;
    let src_chunk = CHUNK_ELEMS / ty.block_size() * ty.block_bytes();
    dst.par_chunks_mut(CHUNK_ELEMS)
        .zip(src.par_chunks(src_chunk))
        .for_each(|(d, s)| f(s, d));
    Ok(())
}

#[cfg(test)]
mod tests;
