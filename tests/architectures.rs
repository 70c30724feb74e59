//! Architectures beyond Llama on their tiny random fixtures (`tests/fixtures/tiny-<arch>/`,
//! made by each folder's make_fixtures.py): logits against llama.cpp's (its `llama-results`,
//! every position in one batch) on the CPU and on Vulkan, batch and token by token, and PINE's
//! exact order invariance.

mod common;

use std::path::PathBuf;

use pine::attention::{AttentionMode, Layout, TieRule};
use pine::backend::{Backend, CacheType, MatmulMode};
use pine::gguf::Gguf;
use pine::model::{Logits, Session};

/// The fixture folder of `arch`.
fn dir(arch: &str) -> PathBuf {
    let d = common::fixtures_root().join(format!("tiny-{arch}"));
    assert!(
        d.is_dir(),
        "{} not found (committed in tests/fixtures; set PINE_FIXTURES to another copy)",
        d.display()
    );
    d
}

/// llama.cpp's token ids and logits (`[n_tokens, n_vocab]`) from a `llama-results` file.
fn reference(path: &std::path::Path) -> (Vec<u32>, Vec<f32>) {
    let g = Gguf::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let data = |name: &str| g.tensor_data(g.tensor(name).unwrap()).to_vec();
    let tokens = data("tokens")
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes(b.try_into().unwrap()) as u32)
        .collect();
    let logits = data("logits")
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    (tokens, logits)
}

/// Every position's logits, all at once or token by token.
fn logits<B: Backend>(s: &mut Session<B>, tokens: &[u32], batch: bool) -> Vec<f32> {
    s.reset();
    match batch {
        true => s.prefill(tokens, Logits::All).unwrap(),
        false => tokens.iter().flat_map(|&t| s.decode(t).unwrap()).collect(),
    }
}

/// Max |Δ| bound and the share of rows whose argmax must agree, per weight type (the tiny
/// fixtures' tolerances: f16 cache with F32 weights 2e-3; quantized 6e-2).
fn bounds(variant: &str) -> f32 {
    match variant {
        "F32" => 2e-3,
        _ => 6e-2,
    }
}

fn check<B: Backend>(arch: &str, variant: &str, s: &mut Session<B>, on: &str) {
    let (tokens, want) = reference(&dir(arch).join(format!("logits.{variant}.gguf")));
    let n_vocab = s.model.params.n_vocab;
    assert_eq!(want.len(), tokens.len() * n_vocab);
    for batch in [true, false] {
        let got = logits(s, &tokens, batch);
        let diff = common::max_abs_diff(&got, &want);
        let argmax_same = got
            .chunks(n_vocab)
            .zip(want.chunks(n_vocab))
            .filter(|(a, b)| pine::model::argmax(a) == pine::model::argmax(b))
            .count();
        eprintln!(
            "{arch} {variant} {on} batch={batch}: max |Δ| {diff:.2e}, argmax {argmax_same}/{}",
            tokens.len()
        );
        assert!(
            diff <= bounds(variant),
            "{arch} {variant} {on} batch={batch}: {diff}"
        );
        assert!(
            argmax_same * 50 >= tokens.len() * 49,
            "{arch} {variant} {on}: argmax"
        );
    }
}

/// The fixtures here: a Llama 3.1-style file (rope_freqs scaling, tied output), Qwen2, Qwen3,
/// Phi-3 (fused tensors).
const ARCHS: [&str; 4] = ["llama3", "qwen2", "qwen3", "phi3"];

#[test]
fn architectures_match_llama_cpp_on_the_cpu() {
    for arch in ARCHS {
        for variant in ["F32", "Q8_0"] {
            let path = dir(arch).join(format!("tiny-{arch}.{variant}.gguf"));
            let mut s = common::session(&path, 2, MatmulMode::Native, CacheType::F16, 512);
            check(arch, variant, &mut s, "cpu");
        }
    }
}

#[test]
fn architectures_match_llama_cpp_on_vulkan() {
    for arch in ARCHS {
        for variant in ["F32", "Q8_0"] {
            let path = dir(arch).join(format!("tiny-{arch}.{variant}.gguf"));
            let Some(mut s) =
                common::vulkan_session(&path, MatmulMode::Native, CacheType::F16, 512)
            else {
                return;
            };
            check(arch, variant, &mut s, "vulkan");
        }
    }
}

/// PINE on each architecture: the last position's logits are the same bits in every order of
/// the segments, on the CPU.
#[test]
fn pine_is_order_invariant_on_every_architecture() {
    for arch in ARCHS {
        let path = dir(arch).join(format!("tiny-{arch}.Q8_0.gguf"));
        let mut s = common::session(&path, 2, MatmulMode::Native, CacheType::F16, 512);
        let segs: Vec<Vec<u32>> = vec![
            vec![40, 41, 42, 43],
            vec![50, 51, 52],
            vec![60, 61, 62, 63, 64],
        ];
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        let mut first: Option<Vec<f32>> = None;
        for o in orders {
            let layout = Layout {
                prefix: vec![1, 10, 11],
                segments: o.iter().map(|&i| segs[i].clone()).collect(),
                suffix: vec![20, 21],
            };
            let l = s
                .evaluate(
                    &layout,
                    AttentionMode::Pine(TieRule::ContentHash),
                    Logits::Last,
                )
                .unwrap();
            match &first {
                None => first = Some(l),
                Some(f) => assert!(
                    f.iter().zip(&l).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{arch}: order {o:?} changed the logits"
                ),
            }
        }
    }
}
