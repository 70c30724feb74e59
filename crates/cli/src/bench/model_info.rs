//! What the report says about a model file, computed like llama-bench: size is the sum of the
//! tensor bytes (not the file size), params the sum of tensor elements, and the type column the
//! weight type holding most parameters (llama-bench prints the file type, e.g. Q4_1, which
//! pine files converted by other tools do not always declare).

use std::collections::HashMap;
use std::path::Path;

use pine_gguf::Gguf;

/// A model's size, parameter count and dominant weight type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    /// Short name for the table (the file stem).
    pub name: String,
    /// Bytes of tensor data.
    pub size_bytes: u64,
    /// Parameters (tensor elements).
    pub n_params: u64,
    /// Name of the type with the most elements among multi-row (matrix) tensors.
    pub dominant_type: String,
}

/// Reads the model's [`ModelInfo`] from its tensor table.
pub fn model_info(path: &Path, file: &Gguf) -> ModelInfo {
    let mut per_type: HashMap<&'static str, u64> = HashMap::new();
    let (mut size_bytes, mut n_params) = (0u64, 0u64);
    for t in file.tensors() {
        size_bytes += t.n_bytes;
        n_params += t.n_elements();
        if t.n_rows() > 1 {
            *per_type.entry(t.ty.name()).or_default() += t.n_elements();
        }
    }
    let dominant_type = per_type
        .into_iter()
        .max_by_key(|&(name, n)| (n, std::cmp::Reverse(name)))
        .map(|(name, _)| name.to_string())
        .unwrap_or_else(|| "?".into());
    ModelInfo {
        name: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string()),
        size_bytes,
        n_params,
        dominant_type,
    }
}
