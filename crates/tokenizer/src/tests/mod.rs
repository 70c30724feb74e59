//! Tests against real GGUF files: the SmolLM2 model (byte-level BPE), the tiny-llama fixture
//! (SentencePiece) and llama.cpp's tokenizer test vocabularies, whose expected ids and
//! detokenized texts come from llama.cpp itself, and llama.cpp's word cuts for every
//! pre-tokenizer.

mod detok;
mod llamacpp_vocab;
mod pre_splits;
mod smollm;
mod synthetic;
mod tiny_llama;

use std::path::PathBuf;

use pine_gguf::Gguf;

/// The SmolLM2 model: `$PINE_MODEL`, else `models/SmolLM2-135M-Instruct.Q4_1.gguf` in the
/// repository. Missing is a failure, not a skip: the tokenizer tests are meaningless without it.
pub(crate) fn smollm2() -> Gguf {
    let path = std::env::var_os("PINE_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    assert!(
        path.is_file(),
        "model not found at {}: run ./models/fetch.sh (or set PINE_MODEL)",
        path.display()
    );
    Gguf::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The tiny-llama fixture directory: `$PINE_FIXTURES` (the tiny-llama directory itself, or
/// the fixtures directory above it), else the repository's own `tests/fixtures/tiny-llama`.
pub(crate) fn tiny_llama_dir() -> PathBuf {
    let dir = match std::env::var_os("PINE_FIXTURES") {
        Some(p) => {
            let p = PathBuf::from(p);
            if p.join("tiny-llama/manifest.json").is_file() {
                p.join("tiny-llama")
            } else {
                p
            }
        }
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-llama"),
    };
    assert!(
        dir.join("manifest.json").is_file() && dir.join("tiny-llama.F32.gguf").is_file(),
        "tiny-llama fixtures not found at {}: they are committed in the repository's \
         tests/fixtures/tiny-llama (made by its make_fixtures.py and llama.cpp); set \
         PINE_FIXTURES to use another copy",
        dir.display()
    );
    dir
}
