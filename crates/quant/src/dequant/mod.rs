//! Dequantization.
use crate::QuantError;
use pine_gguf::GgmlType;
/// Dequantizes one row.
pub fn dequantize_row(ty: GgmlType, _src: &[u8], _dst: &mut [f32]) -> Result<(), QuantError> {
    Err(QuantError::Unsupported { ty, op: "dequantize" })
}
/// Dequantizes a tensor.
pub fn dequantize_tensor(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), QuantError> {
    dequantize_row(ty, src, dst)
}
