//! llama.cpp's own tokenizer test suite (`tests/test-tokenizer-0` over `models/ggml-vocab-*`):
//! for every vocabulary in `tests/fixtures/llamacpp-vocab/`, each `.inp` string must encode to
//! the ids of its `.out` line (no BOS/EOS, no special-token parsing), and those ids' pieces must
//! join back to the string (after the space SentencePiece puts in front; llama.cpp's
//! whole-text decoding of them is checked in `detok.rs`).
//! Vocabularies of a `tokenizer.ggml.model` pine does not implement are listed in
//! [`EXPECTED_UNSUPPORTED`] and must be refused; every other one must match 100 %.

use std::path::{Path, PathBuf};

use pine_gguf::Gguf;

use crate::{Tokenizer, TokenizerError};

/// Vocabulary files whose tokenizer family pine does not implement: (file stem, model).
const EXPECTED_UNSUPPORTED: &[(&str, &str)] = &[("ggml-vocab-bert-bge", "bert")];

/// llama.cpp's separator between the strings of a `.inp` file.
const SEPARATOR: &str = "\n__ggml_vocab_test__\n";

/// The `llamacpp-vocab` directory: under `$PINE_FIXTURES` (the fixtures directory, or the
/// tiny-llama directory inside it), else the repository's `tests/fixtures`.
pub(super) fn vocab_dir() -> PathBuf {
    let dir = match std::env::var_os("PINE_FIXTURES") {
        Some(p) => {
            let p = PathBuf::from(p);
            if p.join("llamacpp-vocab").is_dir() {
                p.join("llamacpp-vocab")
            } else {
                p.join("../llamacpp-vocab")
            }
        }
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/llamacpp-vocab")
        }
    };
    assert!(
        dir.is_dir(),
        "llama.cpp vocabulary fixtures not found at {} (committed in the repository's \
         tests/fixtures/llamacpp-vocab; set PINE_FIXTURES to use another copy)",
        dir.display()
    );
    dir
}

/// The test strings of a `.inp` file, split as `test-tokenizer-0` splits them.
fn read_inputs(path: &Path) -> Vec<String> {
    let raw = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    let mut rest = raw.as_str();
    while !rest.is_empty() {
        match rest.find(SEPARATOR) {
            Some(i) => {
                out.push(rest[..i].to_string());
                rest = &rest[i + SEPARATOR.len()..];
            }
            None => {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

/// The expected ids of a `.out` file, one line per test string.
fn read_outputs(path: &Path) -> Vec<Vec<u32>> {
    let raw = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    raw.lines()
        .map(|l| {
            l.split_whitespace()
                .map(|t| {
                    t.parse()
                        .unwrap_or_else(|e| panic!("{}: {t:?}: {e}", path.display()))
                })
                .collect()
        })
        .collect()
}

/// The outcome for one vocabulary file.
struct Report {
    name: String,
    pre: String,
    encoded: usize,
    joined: usize,
    total: usize,
    failures: Vec<String>,
}

fn check_vocab(gguf: &Path) -> Result<Report, TokenizerError> {
    let name = gguf.file_stem().unwrap().to_string_lossy().into_owned();
    let g = Gguf::open(gguf).unwrap_or_else(|e| panic!("{}: {e}", gguf.display()));
    // SentencePiece encoding puts a space in front of the text.
    let prefix = if g.get_str("tokenizer.ggml.model").ok() == Some("llama") {
        " "
    } else {
        ""
    };
    let pre = g
        .get_str("tokenizer.ggml.pre")
        .map(str::to_string)
        .unwrap_or_else(|_| "—".to_string());
    let t = Tokenizer::from_gguf(&g)?;
    let inputs = read_inputs(&gguf.with_extension("gguf.inp"));
    let outputs = read_outputs(&gguf.with_extension("gguf.out"));
    assert_eq!(
        inputs.len(),
        outputs.len(),
        "{name}: .inp and .out differ in length"
    );
    let mut r = Report {
        name,
        pre,
        encoded: 0,
        joined: 0,
        total: inputs.len(),
        failures: Vec::new(),
    };
    for (text, want) in inputs.iter().zip(&outputs) {
        let got = t.encode(text, false, false)?;
        if &got == want {
            r.encoded += 1;
        } else {
            r.failures.push(format!(
                "{}: {text:?}: got {got:?}, llama.cpp {want:?}",
                r.name
            ));
        }
        let back = t.join_pieces(want, false);
        if text.is_empty() && back.is_empty() || back == format!("{prefix}{text}") {
            r.joined += 1;
        } else {
            r.failures
                .push(format!("{}: {text:?}: the pieces join to {back:?}", r.name));
        }
    }
    Ok(r)
}

#[test]
fn every_llama_cpp_test_vocabulary_matches() {
    let dir = vocab_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("ggml-vocab-") && n.ends_with(".gguf")
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no ggml-vocab-*.gguf in {}",
        dir.display()
    );

    let mut table = vec!["vocabulary | pre | encoded | pieces join back".to_string()];
    let mut failures = Vec::new();
    let mut unsupported_seen = Vec::new();
    for f in &files {
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        let expected_unsupported = EXPECTED_UNSUPPORTED.iter().find(|(s, _)| *s == stem);
        match (check_vocab(f), expected_unsupported) {
            (Ok(r), None) => {
                table.push(format!(
                    "{} | {} | {}/{} | {}/{}",
                    r.name, r.pre, r.encoded, r.total, r.joined, r.total
                ));
                failures.extend(r.failures);
            }
            (Ok(_), Some(_)) => failures.push(format!(
                "{stem}: listed as unsupported but pine builds it; test it instead"
            )),
            (Err(TokenizerError::UnsupportedModel(m)), Some((_, want))) => {
                assert_eq!(&m, want, "{stem}");
                table.push(format!("{stem} | — | unsupported model `{m}` (expected)"));
                unsupported_seen.push(stem);
            }
            (Err(e), _) => failures.push(format!("{stem}: {e}")),
        }
    }
    for (stem, _) in EXPECTED_UNSUPPORTED {
        assert!(
            unsupported_seen.iter().any(|s| s == stem),
            "{stem} is listed as unsupported but its file is not in {}",
            dir.display()
        );
    }
    println!("{}", table.join("\n"));
    assert!(
        failures.is_empty(),
        "{}\n\n{}",
        table.join("\n"),
        failures.join("\n")
    );
}
