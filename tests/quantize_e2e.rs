//! End-to-end checks of the `pine-quantize` binary on the tiny-llama fixtures: quantizing the F32
//! fixture to the uniform Q8_0 and Q4_0 must reproduce llama-quantize's bytes for every tensor
//! llama-quantize gave the same type (its normal mix stores some tensors, e.g. Q4_0's
//! `output.weight`, as another type); quantizing it to the k-quant mixtures (Q4_K_M … Q2_K) must
//! give every tensor llama-quantize's type and bytes, and `--pure` Q4_K_M / Q2_K every matrix
//! llama-quantize `--pure`'s; all metadata must be copied, checked through `pine-inspect --json`.
//!
//! Inputs: `PINE_FIXTURES` (the fixtures directory, default the repository's `tests/fixtures`).
//! A missing fixture is a failure that says how to get it, never a silent skip.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use pine::gguf::Gguf;
use serde_json::Value as Json;

/// A fresh output path under the system temp directory, unique to this test run.
fn temp_out(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pine-quantize-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs `pine-quantize IN OUT ARGS... --threads 2` (ARGS: TYPE and flags), which must succeed.
fn quantize(input: &Path, output: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_pine-quantize"))
        .arg(input)
        .arg(output)
        .args(args)
        .args(["--threads", "2"])
        .output()
        .expect("pine-quantize runs");
    assert!(
        out.status.success(),
        "pine-quantize {} {args:?} failed: {}",
        input.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `pine-inspect --json FILE`, which must succeed.
fn inspect_json(path: &Path) -> Json {
    let out = Command::new(env!("CARGO_BIN_EXE_pine-inspect"))
        .arg("--json")
        .arg(path)
        .output()
        .expect("pine-inspect runs");
    assert!(
        out.status.success(),
        "pine-inspect --json {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("pine-inspect prints JSON")
}

/// The manifest entry of fixture `file`.
fn manifest_entry(dir: &Path, file: &str) -> Json {
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let manifest: Json = serde_json::from_str(&text).unwrap();
    manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == file)
        .unwrap_or_else(|| panic!("{file} not in manifest.json"))
        .clone()
}

/// Which tensor types `pine-quantize` must produce.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Every matrix in this type (like `llama-quantize --pure`), other tensors F32.
    Uniform(&'static str),
    /// llama-quantize's mixture: exactly the fixture's type for every tensor.
    Mixture,
}

/// Quantizes the F32 fixture with `pine-quantize … ARGS` and compares the result with
/// llama-quantize's `tiny-llama.<variant>.gguf`.
fn check_against_llama_quantize(variant: &str, args: &[&str], kind: Kind) {
    let dir = common::tiny_llama_dir();
    let src = dir.join("tiny-llama.F32.gguf");
    let fixture = format!("tiny-llama.{variant}.gguf");
    let out = temp_out(&fixture);
    quantize(&src, &out, args);

    // (a) Tensor bytes equal llama-quantize's wherever it chose the same type.
    let entry = manifest_entry(&dir, &fixture);
    let ours = Gguf::open(&out).unwrap();
    let theirs = Gguf::open(dir.join(&fixture)).unwrap();
    let source = Gguf::open(&src).unwrap();
    assert_eq!(ours.tensors().len(), source.tensors().len());
    let mut compared = 0;
    for t in ours.tensors() {
        let theirs_ty = entry["tensor_types"][&t.name].as_str().unwrap();
        let want_ty = match kind {
            Kind::Mixture => theirs_ty,
            Kind::Uniform(ty) if t.dims.len() >= 2 => ty,
            Kind::Uniform(_) => "F32",
        };
        assert_eq!(t.ty.name(), want_ty, "{}: type", t.name);
        if theirs_ty != t.ty.name() {
            continue;
        }
        let other = theirs.tensor(&t.name).unwrap();
        assert_eq!(t.dims, other.dims, "{}: dims", t.name);
        assert!(
            ours.tensor_data(t) == theirs.tensor_data(other),
            "{fixture}: {} ({}) differs from llama-quantize's",
            t.name,
            t.ty
        );
        compared += 1;
    }
    let wanted = match kind {
        Kind::Mixture => source.tensors().len(),
        Kind::Uniform(_) => 20,
    };
    assert!(
        compared >= wanted,
        "{fixture}: only {compared} tensors compared"
    );

    // (b) Metadata copied; general.file_type is llama.cpp's number for the type.
    let src_json = inspect_json(&src);
    let out_json = inspect_json(&out);
    let (src_md, out_md) = (&src_json["metadata"], &out_json["metadata"]);
    for (key, value) in src_md.as_object().unwrap() {
        if key != "general.file_type" {
            assert_eq!(&out_md[key], value, "metadata {key}");
        }
    }
    assert_eq!(out_md["general.file_type"], entry["general_file_type"]);
    assert_eq!(out_md["general.quantization_version"], 2);
    std::fs::remove_file(&out).unwrap();
}

#[test]
fn q8_0_matches_llama_quantize() {
    check_against_llama_quantize("Q8_0", &["Q8_0"], Kind::Uniform("Q8_0"));
}

#[test]
fn q4_0_matches_llama_quantize() {
    check_against_llama_quantize("Q4_0", &["Q4_0"], Kind::Uniform("Q4_0"));
}

/// `llama-quantize --pure … Q4_K` (Q4_K is its alias of Q4_K_M) is `pine-quantize Q4_K_M --pure`.
#[test]
fn pure_q4_k_m_matches_llama_quantize_pure() {
    let args = ["Q4_K_M", "--pure"];
    check_against_llama_quantize("pure-Q4_K", &args, Kind::Uniform("Q4_K"));
}

#[test]
fn k_quant_mixtures_match_llama_quantize() {
    for ty in [
        "Q4_K_M", "Q4_K_S", "Q5_K_M", "Q5_K_S", "Q6_K", "Q3_K_M", "Q2_K",
    ] {
        check_against_llama_quantize(ty, &[ty], Kind::Mixture);
    }
}

/// `llama-quantize --pure … Q2_K`: every matrix in Q2_K, `token_embd` and `output` included.
#[test]
fn pure_q2_k_matches_llama_quantize_pure() {
    check_against_llama_quantize("pure-Q2_K", &["Q2_K", "--pure"], Kind::Uniform("Q2_K"));
}

#[test]
fn errors_exit_1_naming_the_file() {
    let missing = temp_out("no-such-input.gguf");
    let out = Command::new(env!("CARGO_BIN_EXE_pine-quantize"))
        .arg(&missing)
        .arg(temp_out("never.gguf"))
        .arg("Q8_0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-input.gguf"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
