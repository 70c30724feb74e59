//! Quantization.
use crate::QuantError;
use pine_gguf::GgmlType;
/// Quantizes one row.
pub fn quantize_row(ty: GgmlType, _src: &[f32], _dst: &mut [u8]) -> Result<(), QuantError> {
    Err(QuantError::Unsupported { ty, op: "quantize" })
}
