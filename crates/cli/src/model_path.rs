//! Where the default model lives, the one command that fetches it when it is missing, and the
//! checks and messages every tool shares for the files it is given, and the check that an
//! output path is not the model being read.

use std::path::{Path, PathBuf};

use pine_gguf::GgufError;

/// File name of pine's default model.
pub const DEFAULT_MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The model to use: the one given, else `$PINE_MODEL`, else `models/<default>` under the
/// current directory or the source checkout. Errors say how to fetch the default model.
pub fn resolve(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return check_file(p, "a GGUF file")
            .map(|()| p.to_path_buf())
            .map_err(|e| format!("model {e}"));
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

/// Checks that `path` is a regular file (symbolic links followed) before anything opens it, so
/// a directory, FIFO or device is named as such instead of blocking or failing with an
/// unrelated system error: `Err("P not found")`, `Err("P is a directory, not EXPECTED")`, ….
pub fn check_file(path: &Path, expected: &str) -> Result<(), String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("{} not found", path.display()))
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if meta.is_file() {
        return Ok(());
    }
    Err(format!(
        "{} is {}, not {expected}",
        path.display(),
        pine_gguf::describe_file_type(&meta.file_type())
    ))
}

/// The message for a GGUF error of the file at `path`, naming the file exactly once (an I/O
/// error already carries the path; the others do not).
pub fn gguf_error(path: &Path, e: &GgufError) -> String {
    match e {
        GgufError::Io { source, .. } => format!("{}: {source}", path.display()),
        e => format!("{}: {e}", path.display()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_files_are_named_by_kind() {
        let dir = std::env::temp_dir();
        let e = check_file(&dir, "a GGUF file").unwrap_err();
        assert!(e.ends_with("is a directory, not a GGUF file"), "{e}");
        let e = check_file(Path::new("/dev/null"), "a GGUF file").unwrap_err();
        assert!(e.contains("a character device"), "{e}");
        let e = check_file(Path::new("/no/such/file.gguf"), "a GGUF file").unwrap_err();
        assert_eq!(e, "/no/such/file.gguf not found");
    }
}
