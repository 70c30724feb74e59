//! Conformance of the whole forward pass: every tiny-llama quant variant, batch and
//! token-by-token, against llama.cpp's logits, with the tolerances:
//! F32 + f32 cache ≤ 1e-4; F32/F16/BF16 + f16 cache ≤ 2e-3; quantized ≤ 6e-2 with argmax equal
//! on ≥ 98 % of rows.

mod common;

use std::sync::Arc;

use pine::backend::{CacheType, CpuBackend, MatmulMode};
use pine::gguf::Gguf;
use pine::model::{argmax, Llama, Logits, Session};
use serde_json::Value;

struct Case {
    variant: String,
    model: String,
    logits: String,
    tokens: String,
    mode: String,
    kv: String,
}

fn cases() -> (Value, Vec<Case>) {
    let dir = common::tiny_llama_dir();
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for f in m["files"].as_array().unwrap() {
        for l in f["logits"].as_array().unwrap() {
            out.push(Case {
                variant: f["variant"].as_str().unwrap().to_string(),
                model: f["file"].as_str().unwrap().to_string(),
                logits: l["file"].as_str().unwrap().to_string(),
                tokens: l["tokens"].as_str().unwrap().to_string(),
                mode: l["mode"].as_str().unwrap().to_string(),
                kv: l["kv_cache_type"].as_str().unwrap().to_string(),
            });
        }
    }
    (m, out)
}

fn tolerance(variant: &str, kv: &str) -> f32 {
    match (variant, kv) {
        ("F32", "f32") => 1e-4,
        ("F32" | "F16" | "BF16", _) => 2e-3,
        _ => 6e-2,
    }
}

fn run(case: &Case, tokens: &[u32]) -> Vec<f32> {
    let dir = common::tiny_llama_dir();
    let file = Arc::new(Gguf::open(dir.join(&case.model)).unwrap());
    let backend = CpuBackend::new(2, MatmulMode::Native).unwrap();
    let model = Llama::load(file, backend).unwrap();
    let cache = if case.kv == "f32" {
        CacheType::F32
    } else {
        CacheType::F16
    };
    let mut s = Session::new(model, 512, cache).unwrap();
    if case.mode == "batch" {
        s.prefill(tokens, Logits::All).unwrap()
    } else {
        tokens.iter().flat_map(|&t| s.decode(t).unwrap()).collect()
    }
}

#[test]
fn every_variant_matches_llama_cpp_batch_and_incremental() {
    let (m, cases) = cases();
    let dir = common::tiny_llama_dir();
    let mut failures = Vec::new();
    for case in &cases {
        let tokens: Vec<u32> = m["token_sequences"][&case.tokens]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let (shape, want) = common::read_npy_f32(&dir.join(&case.logits));
        let got = run(case, &tokens);
        assert_eq!(got.len(), want.len(), "{}", case.logits);
        let n_vocab = shape[1];
        let max_abs = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let rows = shape[0];
        let agree = (0..rows)
            .filter(|&r| {
                argmax(&got[r * n_vocab..][..n_vocab]) == argmax(&want[r * n_vocab..][..n_vocab])
            })
            .count();
        let tol = tolerance(&case.variant, &case.kv);
        let ok = max_abs <= tol && agree * 100 >= rows * 98;
        eprintln!(
            "{:<40} max|Δ| {max_abs:.2e} (tol {tol:.0e}), argmax {agree}/{rows} {}",
            case.logits,
            if ok { "ok" } else { "FAIL" }
        );
        if !ok {
            failures.push(case.logits.clone());
        }
    }
    assert!(failures.is_empty(), "out of tolerance: {failures:?}");
}
