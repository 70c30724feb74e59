//! `pine-gguf`: reads GGUF v2/v3 files over a memory map without copying, validating every
//! header field, metadata value and tensor extent with checked arithmetic, and writes GGUF files
//! (through [`OutputFile`], which never replaces or follows anything but a regular file).

mod cursor;
pub mod error;
pub mod output;
pub mod reader;
#[cfg(test)]
mod reader_tests;
pub mod types;
pub mod value;
pub mod writer;

pub use error::GgufError;
pub use output::{describe_file_type, OutputFile};
pub use reader::{Gguf, TensorInfo};
pub use types::{GgmlType, ALL_TYPES, QK_K};
pub use value::{Array, Value, ValueType};
pub use writer::{GgufWriter, OwnedValue};
