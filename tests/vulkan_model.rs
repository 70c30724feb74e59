//! SmolLM2 on the Vulkan backend (lavapipe in CI) against the CPU backend and the official PINE
//! code: greedy text, logits, PINE's permutation invariance and its golden logits.

mod common;
#[path = "common/vulkan.rs"]
mod vk;

use pine::attention::{AttentionMode, Layout, TieRule};
use pine::backend::{Backend, CacheType, MatmulMode, VulkanNumerics};
use pine::model::{argmax, Logits, Session};
use pine::tokenizer::Tokenizer;

fn tokenizer() -> Tokenizer {
    let file = pine::gguf::Gguf::open(common::smollm2_path()).unwrap();
    Tokenizer::from_gguf(&file).unwrap()
}

/// Prompt logits, then `n` greedy tokens.
fn greedy<B: Backend>(s: &mut Session<B>, prompt: &[u32], n: usize) -> (Vec<f32>, Vec<u32>) {
    let first = s.prefill(prompt, Logits::Last).unwrap();
    let mut logits = first.clone();
    let mut out = Vec::new();
    for _ in 0..n {
        let t = argmax(&logits);
        out.push(t);
        logits = s.decode(t).unwrap();
    }
    (first, out)
}

/// Vulkan (native mode, f16 cache, exact numerics) follows the CPU: last-prompt logits within
/// 5e-2 and the same 32 greedy tokens for "The capital of France is".
#[test]
fn greedy_text_and_logits_match_the_cpu() {
    let path = common::smollm2_path();
    let Some(mut vk) = vk::vulkan_session(
        &path,
        MatmulMode::Native,
        VulkanNumerics::Exact,
        CacheType::F16,
        256,
    ) else {
        return;
    };
    let mut cpu = common::session(&path, 2, MatmulMode::Native, CacheType::F16, 256);
    let tok = tokenizer();
    let prompt = tok.encode("The capital of France is", false, true).unwrap();
    let (lv, tv) = greedy(&mut vk, &prompt, 32);
    let (lc, tc) = greedy(&mut cpu, &prompt, 32);
    let d = common::max_abs_diff(&lv, &lc);
    eprintln!("vulkan vs cpu prompt logits: max|Δ| {d:.2e}");
    eprintln!("vulkan text: {:?}", tok.decode(&tv, false));
    assert!(d <= 5e-2, "max|Δ| {d} > 5e-2");
    assert_eq!(tok.decode(&tv, false), tok.decode(&tc, false));
}

/// In reference mode (f32 matmul, f32 cache, the official tie rule, exact numerics) Vulkan's
/// PINE logits match
/// the CPU's (≤ 1e-3) and the official implementation's (≤ 1e-3) for every golden case and
/// segment order. (Vanilla attention is plain causal, which the greedy test covers; lavapipe
/// runs at well under a GFLOP/s, so each evaluation here costs tens of seconds.)
#[test]
fn pine_matches_the_official_code_and_the_cpu() {
    let path = common::smollm2_path();
    let Some(mut vk) = vk::vulkan_session(
        &path,
        MatmulMode::F32,
        VulkanNumerics::Exact,
        CacheType::F32,
        512,
    ) else {
        return;
    };
    let mut cpu = common::session(&path, 2, MatmulMode::F32, CacheType::F32, 512);
    let mode = AttentionMode::Pine(TieRule::InputOrder);
    for run in common::golden_runs() {
        let got = vk.evaluate(&run.layout, mode, Logits::Last).unwrap();
        let on_cpu = cpu.evaluate(&run.layout, mode, Logits::Last).unwrap();
        let d_official = common::max_abs_diff(&got, &run.pine.0);
        let d_cpu = common::max_abs_diff(&got, &on_cpu);
        eprintln!(
            "{}: vulkan vs official {d_official:.2e}, vs cpu {d_cpu:.2e}",
            run.name
        );
        assert!(d_official <= 1e-3, "{}: vs official {d_official}", run.name);
        assert!(d_cpu <= 1e-3, "{}: vs cpu {d_cpu}", run.name);
    }
}

/// PINE on Vulkan (native mode, f16 cache, exact numerics): the last logits of every order of
/// three segments of unequal length are the same bits (as on the CPU: neither the plan nor the
/// reduction order depends on the segments' order), and so is the greedy continuation.
#[test]
fn pine_is_permutation_invariant_on_vulkan() {
    permutation_invariant(VulkanNumerics::Exact);
}

/// The same in fast numerics (the default): they change the float operations, not the plan or
/// the reduction order, neither of which depends on the segments' order.
#[test]
fn pine_is_permutation_invariant_on_vulkan_in_fast_numerics() {
    permutation_invariant(VulkanNumerics::Fast);
}

fn permutation_invariant(numerics: VulkanNumerics) {
    let path = common::smollm2_path();
    let Some(mut vk) = vk::vulkan_session(&path, MatmulMode::Native, numerics, CacheType::F16, 512)
    else {
        return;
    };
    let tok = tokenizer();
    let enc = |s: &str| tok.encode(s, false, true).unwrap();
    let docs = [
        enc("\nThe Larkspur Bridge opened in 1931."),
        enc("\nTomatoes are fruits."),
        enc("\nThe library keeps old maps drawn by local sailors."),
    ];
    let prefix = enc("<|im_start|>user\nWhich fact is about a bridge?");
    let suffix = enc("<|im_end|>\n<|im_start|>assistant\n");
    let mut first: Option<(Vec<f32>, Vec<u32>)> = None;
    for perm in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let layout = Layout {
            prefix: prefix.clone(),
            segments: perm.iter().map(|&i| docs[i].clone()).collect(),
            suffix: suffix.clone(),
        };
        let logits = vk
            .evaluate(
                &layout,
                AttentionMode::Pine(TieRule::ContentHash),
                Logits::Last,
            )
            .unwrap();
        let mut next = logits.clone();
        let mut text = Vec::new();
        for _ in 0..8 {
            let t = argmax(&next);
            text.push(t);
            next = vk.decode(t).unwrap();
        }
        match &first {
            None => first = Some((logits, text)),
            Some((l0, t0)) => {
                let d = common::max_abs_diff(&logits, l0);
                let same_bits = logits
                    .iter()
                    .zip(l0)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                eprintln!(
                    "{numerics:?} {perm:?}: max|Δ| vs first order {d:.2e}, same bits: {same_bits}"
                );
                assert!(
                    same_bits,
                    "{numerics:?} {perm:?}: max|Δ| {d}, not the same bits"
                );
                assert_eq!(&text, t0, "{perm:?}: greedy continuation differs");
            }
        }
    }
}
