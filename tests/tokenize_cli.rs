//! End-to-end checks of the `pine-tokenize` binary on llama.cpp's vocabulary-only test files
//! (`tests/fixtures/llamacpp-vocab`, no tensors): `--ids --no-bos` prints the ids llama.cpp
//! expects (its `.out` files), the default output lists each token with its piece, BOS is added
//! when the vocabulary asks for it, and a missing or unsupported file fails with exit code 1
//! and a message naming it.
//!
//! Input: `PINE_FIXTURES` (default the repository's `tests/fixtures`); a missing input is a
//! failure that says how to get it, never a silent skip.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

fn vocab(name: &str) -> PathBuf {
    let p = common::fixtures_root()
        .join("llamacpp-vocab")
        .join(format!("ggml-vocab-{name}.gguf"));
    assert!(
        p.is_file(),
        "{} is missing: it is committed in the repository's tests/fixtures/llamacpp-vocab; set \
         PINE_FIXTURES to a directory holding llamacpp-vocab/ to use another copy",
        p.display()
    );
    p
}

fn tokenize(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pine-tokenize"))
        .args(args)
        .output()
        .expect("pine-tokenize runs")
}

fn stdout_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "pine-tokenize failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

/// The first `n` test strings of a vocabulary's `.inp` file and their `.out` ids.
fn cases(name: &str, n: usize) -> Vec<(String, String)> {
    let base = vocab(name);
    let inp = std::fs::read_to_string(base.with_extension("gguf.inp")).unwrap();
    let out = std::fs::read_to_string(base.with_extension("gguf.out")).unwrap();
    inp.split("\n__ggml_vocab_test__\n")
        .zip(out.lines())
        .filter(|(text, _)| !text.is_empty())
        .take(n)
        .map(|(t, o)| {
            let ids: Vec<&str> = o.split_whitespace().collect();
            (t.to_string(), format!("[{}]", ids.join(", ")))
        })
        .collect()
}

#[test]
fn ids_match_llama_cpp_on_vocabulary_only_files() {
    for name in ["llama-bpe", "qwen2", "deepseek-llm", "llama-spm"] {
        let path = vocab(name);
        for (text, want) in cases(name, 6) {
            let out = tokenize(&[
                path.as_os_str(),
                "-p".as_ref(),
                text.as_ref(),
                "--ids".as_ref(),
                "--no-bos".as_ref(),
            ]);
            assert_eq!(stdout_ok(&out).trim_end(), want, "{name}: {text:?}");
        }
    }
}

#[test]
fn lists_pieces_and_adds_bos_as_the_vocabulary_asks() {
    // llama-spm asks for BOS (id 1, `<s>`); SentencePiece adds its leading space.
    let spm = vocab("llama-spm");
    let out = stdout_ok(&tokenize(&[
        spm.as_os_str(),
        "-p".as_ref(),
        "Hello".as_ref(),
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"     1 -> '<s>'"), "{out}");
    assert!(lines[1..].iter().all(|l| l.contains(" -> '")), "{out}");
    let pieces: String = lines[1..]
        .iter()
        .map(|l| l.split_once(" -> '").unwrap().1.trim_end_matches('\''))
        .collect();
    assert_eq!(pieces, " Hello");

    // Special-token text stays text unless --parse-special.
    let plain = stdout_ok(&tokenize(&[
        spm.as_os_str(),
        "-p".as_ref(),
        "<s>".as_ref(),
        "--ids".as_ref(),
        "--no-bos".as_ref(),
    ]));
    let parsed = stdout_ok(&tokenize(&[
        spm.as_os_str(),
        "-p".as_ref(),
        "<s>".as_ref(),
        "--ids".as_ref(),
        "--no-bos".as_ref(),
        "--parse-special".as_ref(),
    ]));
    assert_eq!(parsed.trim_end(), "[1]");
    assert_ne!(plain, parsed);

    // qwen2 asks for no BOS: the ids are the same with and without --no-bos.
    let qwen = vocab("qwen2");
    let with = tokenize(&[
        qwen.as_os_str(),
        "-p".as_ref(),
        "Hi".as_ref(),
        "--ids".as_ref(),
    ]);
    let without = tokenize(&[
        qwen.as_os_str(),
        "-p".as_ref(),
        "Hi".as_ref(),
        "--ids".as_ref(),
        "--no-bos".as_ref(),
    ]);
    assert_eq!(stdout_ok(&with), stdout_ok(&without));
}

#[test]
fn failures_name_the_file() {
    let missing = common::fixtures_root().join("llamacpp-vocab/no-such-vocab.gguf");
    let bert = vocab("bert-bge");
    for (path, what) in [
        (&missing, "not found"),
        (&bert, "unsupported tokenizer model `bert`"),
    ] {
        let out = tokenize(&[path.as_os_str(), "-p".as_ref(), "x".as_ref()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
        assert!(stderr.contains(what), "{stderr}");
    }
}
