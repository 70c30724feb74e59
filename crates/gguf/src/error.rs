//! Errors of the GGUF reader and writer. Every variant says what was wrong and where, so a user
//! with a broken file learns which key, tensor or byte offset to look at.

use std::fmt;
use std::path::PathBuf;

/// Why a GGUF file could not be read, a key could not be returned, or a file could not be written.
#[derive(Debug)]
pub enum GgufError {
    /// The file could not be opened, mapped or written.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The bytes are not a valid GGUF file: `what` happened at byte `offset`.
    Malformed { offset: u64, what: String },
    /// A tensor's description is invalid (type, dims, offset, size or overlap).
    Tensor { name: String, what: String },
    /// A metadata key that a caller needs is absent.
    MissingKey { key: String },
    /// A metadata key holds a value of another type than the caller needs.
    WrongType {
        key: String,
        expected: &'static str,
        found: String,
    },
    /// A value cannot be written (writer-side validation).
    Invalid { what: String },
    /// An output path holds something that must not be replaced: `what` it is (a symbolic
    /// link, a directory, a socket, ...). See [`crate::output`].
    Refused { path: PathBuf, what: String },
}

impl GgufError {
    pub(crate) fn malformed(offset: u64, what: impl Into<String>) -> GgufError {
        GgufError::Malformed {
            offset,
            what: what.into(),
        }
    }

    pub(crate) fn tensor(name: &str, what: impl Into<String>) -> GgufError {
        GgufError::Tensor {
            name: name.to_string(),
            what: what.into(),
        }
    }
}

impl fmt::Display for GgufError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GgufError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            GgufError::Malformed { offset, what } => {
                write!(f, "malformed GGUF at byte offset {offset}: {what}")
            }
            GgufError::Tensor { name, what } => write!(f, "tensor '{name}': {what}"),
            GgufError::MissingKey { key } => write!(f, "metadata key '{key}' is missing"),
            GgufError::WrongType {
                key,
                expected,
                found,
            } => write!(f, "metadata key '{key}' holds {found}, expected {expected}"),
            GgufError::Invalid { what } => write!(f, "cannot write GGUF: {what}"),
            GgufError::Refused { path, what } => write!(
                f,
                "refusing to replace {}: it is {what} (outputs replace only regular files, \
                 or are written in place into a character device or FIFO)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for GgufError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GgufError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
