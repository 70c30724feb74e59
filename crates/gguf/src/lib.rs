//! `pine-gguf`: reads GGUF v2/v3 files over a memory map without copying, validating every
//! header field, metadata value and tensor extent with checked arithmetic, and writes GGUF files.

pub mod types;

pub use types::{GgmlType, ALL_TYPES, QK_K};
