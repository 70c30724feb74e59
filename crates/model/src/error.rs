//! Model-level errors: what is wrong with the file, the input or the request.

use std::fmt;

/// Why loading or running a model failed.
#[derive(Debug)]
pub enum ModelError {
    /// The file could not be read or a metadata key is missing/invalid.
    Gguf(pine_gguf::GgufError),
    /// A backend operation failed.
    Backend(pine_backend::BackendError),
    /// The model uses something pine does not implement.
    Unsupported(String),
    /// The file's values are inconsistent.
    Invalid(String),
    /// A tensor the graph needs is absent.
    MissingTensor(String),
    /// The attention planner could not build a plan.
    Plan(String),
    /// The request does not fit (context full, bad token id, ...).
    Request(String),
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::Gguf(e) => write!(f, "{e}"),
            ModelError::Backend(e) => write!(f, "{e}"),
            ModelError::Unsupported(w) => write!(f, "unsupported: {w}"),
            ModelError::Invalid(w) => write!(f, "invalid model: {w}"),
            ModelError::MissingTensor(n) => write!(f, "tensor '{n}' is missing"),
            ModelError::Plan(w) => write!(f, "attention plan: {w}"),
            ModelError::Request(w) => write!(f, "{w}"),
        }
    }
}

impl std::error::Error for ModelError {}

impl From<pine_gguf::GgufError> for ModelError {
    fn from(e: pine_gguf::GgufError) -> Self {
        ModelError::Gguf(e)
    }
}

impl From<pine_backend::BackendError> for ModelError {
    fn from(e: pine_backend::BackendError) -> Self {
        ModelError::Backend(e)
    }
}
