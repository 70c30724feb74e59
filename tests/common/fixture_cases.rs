//! The tiny-llama conformance cases (every quant variant, batch and token-by-token, against
//! llama.cpp's logits) run on any backend.
//!
//! [`Criteria::Exact`] (the CPU backend, which copies llama.cpp's x86 float order): F32 + f32
//! cache ≤ 1e-4; F32/F16/BF16 + f16 cache ≤ 2e-3; quantized ≤ 6e-2 with argmax equal on ≥ 98 %
//! of rows.
//!
//! [`Criteria::Accuracy`] (the CPU's packed k-quant kernels, which sum in an order of their own
//! and round the activations per 32 values instead of llama.cpp's per 256): [`Criteria::OtherOrder`]'s
//! bounds, and on top the mean KL divergence of the logits from the f32 reference (weights
//! dequantized to f32, f32 activations and cache) no larger than llama.cpp's: not llama.cpp's
//! bits, at least its accuracy.
//!
//! [`Criteria::OtherOrder`] (a GPU model with a matmul that sums in another order than the
//! CPU's, or a device without the f64 that makes the float operations exact): llama.cpp
//! re-rounds the activations before every matmul, so float-order noise of 1e-7 flips some
//! roundings and grows to 1–2e-2 on this random model (the fixture README measures exactly
//! that). The same max-abs bounds apply; the argmax may differ only on near-ties: on at most a
//! tenth of the rows (rounded up) and only where llama.cpp's top-2 gap is below that noise
//! level, 2e-2 (well inside the 6e-2 bound).
//!
//! [`Criteria::Fast`] (the Vulkan backend's fast numerics: native fma and division, f32 sums,
//! so another float order in every operation): [`Criteria::OtherOrder`]'s argmax rule and
//! bounds, except that BF16 gets the quantized bound: llama.cpp rounds the activations of a
//! BF16 matmul to bf16 (steps of 2⁻⁸, eight times F16's), so float-order noise flips those
//! roundings as it flips the quantized types' (about 3.5e-3 on this model), which the 2e-3 of
//! the unrounded F32/F16 paths does not allow for. Accuracy: the mean KL divergence from the
//! f32 reference over every case no larger than llama.cpp's, and each case's within 5 % of
//! llama.cpp's (or under 1e-12 nats, f32 rounding noise). Per case the two differ by about
//! ±2 % either way (order noise, not accuracy), so the strict per-case comparison of
//! [`Criteria::Accuracy`] would be a coin toss; the mean over the suite is not.

use std::sync::Arc;

use pine::backend::{Backend, CacheType};
use pine::gguf::Gguf;
use pine::model::{argmax, Logits, Session, Transformer};
use serde_json::Value;

#[derive(Clone)]
struct Case {
    variant: String,
    model: String,
    logits: String,
    tokens: String,
    mode: String,
    kv: String,
}

fn cases() -> (Value, Vec<Case>) {
    let dir = super::tiny_llama_dir();
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

/// [`Criteria::Fast`]'s bound: [`tolerance`], with BF16 (activations re-rounded to bf16) held
/// to the quantized types' bound (see the module docs).
fn fast_tolerance(variant: &str, kv: &str) -> f32 {
    match variant {
        "BF16" => tolerance("Q8_0", kv),
        _ => tolerance(variant, kv),
    }
}

/// [`Criteria::Fast`]'s per-case KL bound: within 5 % of llama.cpp's, or f32 rounding noise.
fn fast_kl_ok(pine: f64, llama_cpp: f64) -> bool {
    pine <= 1.05 * llama_cpp || pine < 1e-12
}

fn run<B: Backend>(backend: B, file: Arc<Gguf>, case: &Case, tokens: &[u32]) -> Vec<f32> {
    let model = Transformer::load(file, backend).unwrap();
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

/// The case's logits from the CPU's f32 reference: weights dequantized to f32, f32 activations,
/// f32 cache.
fn run_reference(file: Arc<Gguf>, case: &Case, tokens: &[u32]) -> Vec<f32> {
    let backend = pine::backend::CpuBackend::new(2, pine::backend::MatmulMode::F32).unwrap();
    let reference = Case {
        kv: "f32".into(),
        ..case.clone()
    };
    run(backend, file, &reference, tokens)
}

/// The mean over rows of KL(reference ‖ test), in nats (`n_vocab` logits a row).
pub fn mean_kl(reference: &[f32], test: &[f32], n_vocab: usize) -> f64 {
    let log_softmax = |x: &[f32]| {
        let m = x
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let z = x
            .iter()
            .map(|&v| (f64::from(v) - m).exp())
            .sum::<f64>()
            .ln();
        x.iter()
            .map(|&v| f64::from(v) - m - z)
            .collect::<Vec<f64>>()
    };
    let rows: Vec<f64> = reference
        .chunks_exact(n_vocab)
        .zip(test.chunks_exact(n_vocab))
        .map(|(r, t)| {
            let (lp, lq) = (log_softmax(r), log_softmax(t));
            lp.iter().zip(&lq).map(|(p, q)| p.exp() * (p - q)).sum()
        })
        .collect();
    rows.iter().sum::<f64>() / rows.len() as f64
}

/// How closely a backend must follow llama.cpp (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Criteria {
    /// llama.cpp's own float order (the CPU backend).
    Exact,
    /// Another summation order (GPU backends).
    OtherOrder,
    /// Another order and activation rounding, at least llama.cpp's accuracy (the CPU's packed
    /// k-quants).
    Accuracy,
    /// Another order in every float operation, llama.cpp's accuracy over the suite (the Vulkan
    /// backend's fast numerics).
    Fast,
}

/// Runs every case on a backend from `make` and fails listing the cases out of tolerance.
pub fn check_every_variant<B: Backend>(criteria: Criteria, make: impl Fn() -> B) {
    check_every_variant_with(|_| criteria, make);
}

/// [`check_every_variant`] with the criteria chosen per model file by `criteria_of`.
pub fn check_every_variant_with<B: Backend>(
    criteria_of: impl Fn(&Gguf) -> Criteria,
    make: impl Fn() -> B,
) {
    let (m, cases) = cases();
    let dir = super::tiny_llama_dir();
    let mut failures = Vec::new();
    // Mean KL from the f32 reference over the [`Criteria::Fast`] cases: pine's, llama.cpp's.
    let (mut kl_pine, mut kl_llama, mut kl_cases) = (0.0, 0.0, 0usize);
    for case in &cases {
        let tokens: Vec<u32> = m["token_sequences"][&case.tokens]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let (shape, want) = super::read_npy_f32(&dir.join(&case.logits));
        let file = Arc::new(Gguf::open(dir.join(&case.model)).unwrap());
        let criteria = criteria_of(&file);
        let got = run(make(), Arc::clone(&file), case, &tokens);
        assert_eq!(got.len(), want.len(), "{}", case.logits);
        let n_vocab = shape[1];
        let max_abs = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let rows = shape[0];
        let mut agree = 0;
        let mut widest_flip = 0.0f32;
        for r in 0..rows {
            let (g, w) = (
                &got[r * n_vocab..][..n_vocab],
                &want[r * n_vocab..][..n_vocab],
            );
            let (ag, aw) = (argmax(g) as usize, argmax(w) as usize);
            if ag == aw {
                agree += 1;
            } else {
                widest_flip = widest_flip.max(w[aw] - w[ag]);
            }
        }
        let (tol, ok) = match criteria {
            Criteria::Exact => {
                let tol = tolerance(&case.variant, &case.kv);
                (tol, max_abs <= tol && agree * 100 >= rows * 98)
            }
            Criteria::OtherOrder | Criteria::Accuracy | Criteria::Fast => {
                let tol = if criteria == Criteria::Fast {
                    fast_tolerance(&case.variant, &case.kv)
                } else {
                    tolerance(&case.variant, &case.kv)
                };
                let near_ties = widest_flip < 2e-2;
                (
                    tol,
                    max_abs <= tol && rows - agree <= rows.div_ceil(10) && near_ties,
                )
            }
        };
        let ok = match criteria {
            Criteria::Accuracy if ok => {
                let (kg, kw) = kl_pair(&file, case, &tokens, &got, &want, n_vocab);
                kg <= kw
            }
            Criteria::Fast => {
                let (kg, kw) = kl_pair(&file, case, &tokens, &got, &want, n_vocab);
                kl_pine += kg;
                kl_llama += kw;
                kl_cases += 1;
                ok && fast_kl_ok(kg, kw)
            }
            _ => ok,
        };
        eprintln!(
            "{:<40} max|Δ| {max_abs:.2e} (tol {tol:.0e}), argmax {agree}/{rows} \
             (widest flipped gap {widest_flip:.1e}) {}{}",
            case.logits,
            if ok { "ok" } else { "FAIL" },
            match criteria {
                Criteria::Exact => "",
                Criteria::OtherOrder => " (other-order criteria)",
                Criteria::Accuracy => " (accuracy criteria)",
                Criteria::Fast => " (fast-numerics criteria)",
            }
        );
        if !ok {
            failures.push(case.logits.clone());
        }
    }
    if kl_cases > 0 {
        let (kg, kw) = (kl_pine / kl_cases as f64, kl_llama / kl_cases as f64);
        eprintln!(
            "mean KL from the f32 reference over {kl_cases} cases: pine {kg:.4e}, llama.cpp \
             {kw:.4e} (ratio {:.4})",
            kg / kw
        );
        if kg > kw {
            failures.push(format!(
                "the mean KL over the suite, {kg:.4e}, exceeds llama.cpp's {kw:.4e}"
            ));
        }
    }
    assert!(failures.is_empty(), "out of tolerance: {failures:?}");
}

/// The mean KL from the f32 reference of pine's logits `got` and llama.cpp's `want`, printed.
fn kl_pair(
    file: &Arc<Gguf>,
    case: &Case,
    tokens: &[u32],
    got: &[f32],
    want: &[f32],
    n_vocab: usize,
) -> (f64, f64) {
    let reference = run_reference(Arc::clone(file), case, tokens);
    let (kg, kw) = (
        mean_kl(&reference, got, n_vocab),
        mean_kl(&reference, want, n_vocab),
    );
    eprintln!(
        "{:<40} KL from the f32 reference: pine {kg:.3e}, llama.cpp {kw:.3e}",
        case.logits
    );
    (kg, kw)
}
