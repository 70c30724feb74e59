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
    /// Host memory for `what` (`bytes` long) could not be had: more than the machine has
    /// (`limit`, when known), or the allocator refused it.
    Memory {
        /// What was being allocated.
        what: String,
        /// Its size in bytes.
        bytes: u64,
        /// The machine's memory (RAM + swap) when that was the bound exceeded.
        limit: Option<u64>,
    },
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::Quant { op, source } => write!(f, "{op}: {source}"),
            BackendError::Tensor { name, what } => write!(f, "tensor '{name}': {what}"),
            BackendError::Plan(what) => write!(f, "attention plan: {what}"),
            BackendError::Device(what) => write!(f, "device: {what}"),
            BackendError::Memory { what, bytes, limit } => {
                let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
                match limit {
                    Some(l) => write!(
                        f,
                        "{what} needs {:.1} GiB, more than this machine's {:.1} GiB of memory",
                        gib(*bytes),
                        gib(*l)
                    ),
                    None => write!(
                        f,
                        "{what} needs {:.1} GiB, which could not be allocated",
                        gib(*bytes)
                    ),
                }
            }
        }
    }
}

impl std::error::Error for BackendError {}
