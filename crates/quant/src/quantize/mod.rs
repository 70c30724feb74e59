//! Weight quantization from f32, byte-identical to llama.cpp's reference quantizers
//! (`quantize_row_*_ref` and the no-imatrix paths of `quantize_*` in ggml-quants.c, b4748),
//! so `pine-quantize` writes the same files as `llama-quantize` without an importance matrix.
//!
//! Activation quantizers (Q8_0/Q8_1/Q8_K rows for the dot products) live in `activation`.

mod float;
mod helpers;
mod iq4;
mod kquants;
mod legacy;

pub use float::bf16_bits;
pub use helpers::nearest_int;

use crate::QuantError;
use pine_gguf::GgmlType;

/// An encoder for a run of whole blocks: `dst` holds exactly the blocks of `src`.
type RowFn = fn(&[f32], &mut [u8]);

/// The encoder for `ty`, or `None` when this crate cannot produce it.
fn row_fn(ty: GgmlType) -> Option<RowFn> {
    use GgmlType::*;
    Some(match ty {
        F32 => float::f32_row,
        F16 => float::f16_row,
        BF16 => float::bf16_row,
        Q4_0 => legacy::q4_0,
        Q4_1 => legacy::q4_1,
        Q5_0 => legacy::q5_0,
        Q5_1 => legacy::q5_1,
        Q8_0 => legacy::q8_0,
        Q2_K => kquants::q2_k,
        Q3_K => kquants::q3_k,
        Q4_K => kquants::q4_k,
        Q5_K => kquants::q5_k,
        Q6_K => kquants::q6_k,
        IQ4_NL => iq4::iq4_nl,
        IQ4_XS => iq4::iq4_xs,
        _ => return None,
    })
}

/// True when [`quantize_row`] can produce `ty` (the CLI lists the targets with it).
pub fn can_quantize(ty: GgmlType) -> bool {
    row_fn(ty).is_some()
}

/// Quantizes `src` (a whole number of `ty` blocks) into `dst`, which must be exactly the
/// encoded size. Errors instead of panicking on unsupported types or wrong lengths.
pub fn quantize_row(ty: GgmlType, src: &[f32], dst: &mut [u8]) -> Result<(), QuantError> {
    let f = row_fn(ty).ok_or(QuantError::Unsupported { ty, op: "quantize" })?;
    let n = src.len();
    if !n.is_multiple_of(ty.block_size()) {
        return Err(QuantError::NotBlockMultiple { ty, n });
    }
    let expected = n / ty.block_size() * ty.block_bytes();
    if dst.len() != expected {
        return Err(QuantError::RowLength {
            ty,
            what: "destination bytes",
            expected,
            got: dst.len(),
        });
    }
    f(src, dst);
    Ok(())
}

#[cfg(test)]
mod tests;
