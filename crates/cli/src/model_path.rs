//! Where the default model lives, and the one command that fetches it when it is missing.

use std::path::{Path, PathBuf};

/// File name of pine's default model.
pub const DEFAULT_MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The model to use: the one given, else `$PINE_MODEL`, else `models/<default>` under the
/// current directory or the source checkout. Errors say how to fetch the default model.
pub fn resolve(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(format!("model file {} not found", p.display()))
        };
    }
    let candidates = [
        std::env::var_os("PINE_MODEL").map(PathBuf::from),
        Some(Path::new("models").join(DEFAULT_MODEL)),
        Some(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../models")
                .join(DEFAULT_MODEL),
        ),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "default model {DEFAULT_MODEL} not found; fetch it with: ./models/fetch.sh (or pass MODEL.gguf)"
            )
        })
}
