//! End-to-end checks of the `pine-inspect` binary: on every tiny-llama fixture its `--json`
//! tensor table must match the fixture manifest (names and ggml types as llama-quantize wrote
//! them), on the SmolLM2 model it must show the known type mix, and on broken or missing files
//! it must fail with exit code 1 and a message naming the file, never a panic.
//!
//! Inputs: `PINE_FIXTURES` (the fixtures directory, default the repository's `tests/fixtures`) and `PINE_MODEL`
//! (default `<repo>/models/SmolLM2-135M-Instruct.Q4_1.gguf`, fetched by `models/fetch.sh`).
//! A missing input is a failure that says how to get it, never a silent skip.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as Json;

/// How to get the tiny-llama fixtures, for a failure when one is missing.
const FIXTURES_HOW: &str = "the fixtures are committed in the repository's tests/fixtures/tiny-llama; \
                            set PINE_FIXTURES to a directory holding tiny-llama/ to use another copy";

fn fixtures_dir() -> PathBuf {
    common::fixtures_root().join("tiny-llama")
}

fn model_path() -> PathBuf {
    std::env::var_os("PINE_MODEL").map_or_else(
        || common::repo_root().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
        PathBuf::from,
    )
}

/// Fails with instructions when an input file is absent.
fn require(path: &Path, how: &str) {
    assert!(path.is_file(), "{} is missing: {how}", path.display());
}

fn run_inspect(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pine-inspect"))
        .args(args)
        .output()
        .expect("pine-inspect runs")
}

/// `pine-inspect --json FILE`, which must succeed and print one JSON document.
fn inspect_json(path: &Path) -> Json {
    let out = run_inspect(&["--json".as_ref(), path.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "pine-inspect --json {} failed: {stderr}",
        path.display()
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("pine-inspect --json {}: bad JSON: {e}", path.display()))
}

/// name → ggml type name, from the `tensors` array of the JSON report.
fn tensor_types(doc: &Json) -> BTreeMap<String, String> {
    doc["tensors"]
        .as_array()
        .expect("a tensors array")
        .iter()
        .map(|t| {
            let name = t["name"].as_str().expect("tensor name").to_string();
            let ty = t["type"].as_str().expect("tensor type").to_string();
            (name, ty)
        })
        .collect()
}

#[test]
fn fixtures_match_the_manifest() {
    let dir = fixtures_dir();
    let how = FIXTURES_HOW;
    let manifest_path = dir.join("manifest.json");
    require(&manifest_path, how);
    let manifest: Json =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).expect("manifest JSON");
    let files = manifest["files"].as_array().expect("manifest lists files");
    assert_eq!(files.len(), 24, "the manifest lists the 24 fixture files");
    for entry in files {
        let name = entry["file"].as_str().expect("file name");
        let path = dir.join(name);
        require(&path, how);
        let doc = inspect_json(&path);
        let want: BTreeMap<String, String> =
            serde_json::from_value(entry["tensor_types"].clone()).expect("tensor_types map");
        assert_eq!(tensor_types(&doc), want, "{name}: tensor names and types");
        if let Some(ft) = entry["general_file_type"].as_u64() {
            assert_eq!(
                doc["metadata"]["general.file_type"], ft,
                "{name}: file type"
            );
        }
        assert_eq!(doc["metadata"]["general.architecture"], "llama", "{name}");
        assert_eq!(
            doc["metadata"]["tokenizer.ggml.tokens"]["len"], 512,
            "{name}"
        );
    }
}

#[test]
fn smollm2_has_q8_embeddings_q4_1_matrices_and_f32_norms() {
    let path = model_path();
    require(
        &path,
        "run models/fetch.sh (or set PINE_MODEL to SmolLM2-135M-Instruct.Q4_1.gguf)",
    );
    let doc = inspect_json(&path);
    let types = tensor_types(&doc);
    assert_eq!(types.len(), 272);
    assert_eq!(types["token_embd.weight"], "Q8_0");
    let count = |ty: &str| types.values().filter(|t| *t == ty).count();
    assert_eq!(count("Q4_1"), 210, "7 matrices in each of 30 layers");
    assert_eq!(
        count("F32"),
        61,
        "2 norms in each of 30 layers + output_norm"
    );
    for t in doc["tensors"].as_array().unwrap() {
        let dims = t["shape"].as_array().unwrap().len();
        match t["type"].as_str().unwrap() {
            "F32" => assert_eq!(dims, 1, "{t}"),
            _ => assert_eq!(dims, 2, "{t}"),
        }
    }
    let md = &doc["metadata"];
    assert_eq!(md["llama.block_count"], 30);
    assert_eq!(md["tokenizer.ggml.tokens"]["type"], "array");
    assert_eq!(md["tokenizer.ggml.tokens"]["len"], 49152);
    assert_eq!(md["tokenizer.ggml.tokens"]["head"][0], "<|endoftext|>");
}

#[test]
fn text_mode_lists_every_tensor() {
    let dir = fixtures_dir();
    let path = dir.join("tiny-llama.Q4_K_M.gguf");
    require(&path, FIXTURES_HOW);
    let out = run_inspect(&[path.as_os_str()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("GGUF v3"), "{text}");
    assert!(
        text.contains("tokenizer.ggml.tokens = [string × 512]"),
        "{text}"
    );
    assert!(text.contains("21 tensors"), "{text}");
}

#[test]
fn broken_and_missing_files_fail_with_the_file_name() {
    let src = fixtures_dir().join("tiny-llama.Q4_0.gguf");
    require(&src, FIXTURES_HOW);
    let bytes = std::fs::read(&src).unwrap();
    let dir = std::env::temp_dir().join(format!("pine-inspect-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        ("truncated.gguf", bytes[..bytes.len() / 2].to_vec()),
        ("header-only.gguf", bytes[..1000].to_vec()),
        ("not-gguf.gguf", b"hello world, not a model".to_vec()),
    ];
    let mut paths: Vec<PathBuf> = cases
        .iter()
        .map(|(name, b)| {
            let p = dir.join(name);
            std::fs::write(&p, b).unwrap();
            p
        })
        .collect();
    paths.push(dir.join("does-not-exist.gguf"));
    for p in &paths {
        for json in [false, true] {
            let mut args = vec![p.as_os_str()];
            if json {
                args.push("--json".as_ref());
            }
            let out = run_inspect(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{}: {stderr}", p.display());
            assert!(stderr.contains(&p.display().to_string()), "{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            assert!(out.stdout.is_empty());
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
