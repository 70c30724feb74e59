//! The one error type of `pine-quant`, shared by the block codecs and the dot/matmul kernels, so
//! callers handle a single type and every message names the ggml type involved.

use pine_gguf::GgmlType;
use std::fmt;

/// Why a quantization, dequantization or kernel call was refused. Callers get an error instead
/// of a panic because tensor types and sizes come from untrusted files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuantError {
    /// The operation `op` (e.g. `"dequantize"`) is not implemented for `ty`.
    Unsupported {
        /// The ggml type that was asked for.
        ty: GgmlType,
        /// The operation that lacks support for it.
        op: &'static str,
    },
    /// A buffer (`what`) had `got` bytes or elements where `expected` were required.
    Length {
        /// Which buffer or quantity was wrong, including the type name where useful.
        what: &'static str,
        /// The required length.
        expected: usize,
        /// The length that was passed.
        got: usize,
    },
    /// A row buffer for type `ty` had the wrong size; unlike `Length` the message names the type.
    RowLength {
        /// The ggml type of the row.
        ty: GgmlType,
        /// Which buffer was wrong (`"src bytes"`, `"dst elements"`, ...).
        what: &'static str,
        /// The required length.
        expected: usize,
        /// The length that was passed.
        got: usize,
    },
    /// A row length `n` is not a whole number of `ty`'s blocks.
    NotBlockMultiple {
        /// The ggml type whose block size was violated.
        ty: GgmlType,
        /// The element count passed.
        n: usize,
    },
}

impl fmt::Display for QuantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantError::Unsupported { ty, op } => write!(f, "{op} is not supported for type {ty}"),
            QuantError::Length {
                what,
                expected,
                got,
            } => write!(f, "wrong length for {what}: expected {expected}, got {got}"),
            QuantError::RowLength {
                ty,
                what,
                expected,
                got,
            } => write!(
                f,
                "wrong length of {what} for a {ty} row: expected {expected}, got {got}"
            ),
            QuantError::NotBlockMultiple { ty, n } => write!(
                f,
                "{n} elements is not a multiple of the {ty} block size {}",
                ty.block_size()
            ),
        }
    }
}

impl std::error::Error for QuantError {}
