//! Fuzz target `tokenizer`: any text encoded by every llama.cpp test vocabulary pine loads (two
//! SPM, eleven byte-level BPE pre-tokenizers) and the default model's byte-level BPE one, with
//! special-token parsing on and off, then decoded whole (`decode`, `detokenize`) and streamed.
//! Ids must be in the vocabulary, the streamed text must be the joined pieces; nothing may
//! panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pine_gguf::Gguf;
use pine_tokenizer::{StreamDecoder, Tokenizer};

/// The vocabularies pine loads among `$PINE_FIXTURES/llamacpp-vocab` (default: the
/// repository's `tests/fixtures`; vocabularies pine refuses, such as WordPiece, are left out) and the
/// default model's (`$PINE_MODEL`, default `models/`), which is byte-level BPE with special
/// tokens.
fn vocabularies() -> &'static [Tokenizer] {
    static V: OnceLock<Vec<Tokenizer>> = OnceLock::new();
    V.get_or_init(|| {
        let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let root = std::env::var_os("PINE_FIXTURES")
            .map(PathBuf::from)
            .unwrap_or_else(|| here.join("../tests/fixtures"));
        let dir = root.join("llamacpp-vocab");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (committed in the repository's tests/fixtures; set PINE_FIXTURES \
                     to another copy)",
                    dir.display()
                )
            })
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "gguf"))
            .collect();
        files.push(
            std::env::var_os("PINE_MODEL")
                .map(PathBuf::from)
                .unwrap_or_else(|| here.join("../models/SmolLM2-135M-Instruct.Q4_1.gguf")),
        );
        let v: Vec<Tokenizer> = files
            .iter()
            .filter_map(|p| Tokenizer::from_gguf(&Gguf::open(p).ok()?).ok())
            .collect();
        assert!(v.len() >= 2, "fewer than two vocabularies load from {files:?}");
        v
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for tok in vocabularies() {
        for special in [false, true] {
            let Ok(ids) = tok.encode(&text, special, special) else {
                continue;
            };
            assert!(ids.iter().all(|&i| (i as usize) < tok.n_vocab()));
            std::hint::black_box(tok.decode(&ids, special));
            std::hint::black_box(tok.detokenize(&ids, true, special));
            // Streaming yields exactly the joined pieces.
            let mut stream = StreamDecoder::with_special(tok, special);
            let mut streamed = String::new();
            for &id in &ids {
                streamed.push_str(&stream.push(id));
            }
            streamed.push_str(&stream.finish());
            assert_eq!(streamed, tok.join_pieces(&ids, special));
        }
    }
});
