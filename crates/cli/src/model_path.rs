//! Where the default model lives, the one command that fetches it when it is missing, and the
//! check that an output path is not the model being read.

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

/// Fails when `output` exists and is the file `input` under any name (the same device and
/// inode: the same path, `./IN`, a hard link, a symbolic link to it), so that a tool never
/// writes over the file it reads (`pine-quantize IN OUT`, `pine-run MODEL --logits-out OUT`).
pub fn refuse_overwriting_input(input: &Path, output: &Path) -> Result<(), String> {
    let (Some(i), Some(o)) = (file_id(input), file_id(output)) else {
        return Ok(());
    };
    if i == o {
        return Err(format!(
            "the output {} is the input {} (the same file); refusing to overwrite the input",
            output.display(),
            input.display()
        ));
    }
    Ok(())
}

/// What identifies the file `path` leads to (links followed), if it exists.
#[cfg(unix)]
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}
