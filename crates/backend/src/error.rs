//! Backend errors: kernel refusals and resource limits, with the tensor or operation named.

use std::fmt;

/// Why a backend operation failed.
#[derive(Debug)]
pub enum BackendError {
    /// A quantized kernel refused its input (type unsupported, wrong length).
    Quant {
        op: String,
        source: pine_quant::QuantError,
    },
    /// A tensor cannot be used as the operation needs (shape, type).
    Tensor { name: String, what: String },
    /// The attention plan or cache use is inconsistent.
    Plan(String),
    /// A compute device failed (out of memory, device lost), with the device's message.
    Device(String),
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::Quant { op, source } => write!(f, "{op}: {source}"),
            BackendError::Tensor { name, what } => write!(f, "tensor '{name}': {what}"),
            BackendError::Plan(what) => write!(f, "attention plan: {what}"),
            BackendError::Device(what) => write!(f, "device: {what}"),
        }
    }
}

impl std::error::Error for BackendError {}
