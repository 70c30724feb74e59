//! Conformance of the Vulkan forward pass (lavapipe in CI): every tiny-llama quant variant,
//! batch and token-by-token, against llama.cpp's logits, with llama.cpp's activation rounding
//! (native mode), in both numeric modes.
//!
//! Exact numerics: a variant whose every matrix the device multiplies exactly as the CPU does
//! (`VulkanBackend::matches_cpu`: the integer block types and BF16, on a device with f64) is
//! held to the CPU's criteria; the others (F32, F16, and the types dequantized at load: IQ3_S,
//! IQ3_XXS, TQ1_0, TQ2_0) sum in another order, and the argmax may differ on near-ties: see
//! `common/fixture_cases.rs`.
//!
//! Fast numerics (the default: native fma and division, f32 sums, no f64): every variant is
//! held to `Criteria::Fast`, the other-order bounds (BF16 with the quantized types', as its
//! activations are re-rounded to bf16) and llama.cpp's accuracy: the mean KL divergence from
//! the f32 reference over the suite no larger than llama.cpp's, each case's within 5 %.

mod common;
#[path = "common/vulkan.rs"]
mod vk;

use std::sync::Arc;

use common::fixture_cases::{check_every_variant_with, Criteria};
use pine::attention::{AttentionMode, Layout, TieRule};
use pine::backend::{CacheType, MatmulMode, VulkanNumerics};
use pine::model::{Logits, Session, Transformer};

#[test]
fn every_variant_matches_llama_cpp_on_vulkan() {
    let Some(probe) = vk::vulkan_backend(MatmulMode::Native, VulkanNumerics::Exact) else {
        return;
    };
    let criteria_of = |file: &pine::gguf::Gguf| {
        let exact = file
            .tensors()
            .iter()
            .filter(|t| t.dims.len() == 2)
            .all(|t| probe.matches_cpu(t.ty));
        if exact {
            Criteria::Exact
        } else {
            Criteria::OtherOrder
        }
    };
    check_every_variant_with(criteria_of, || {
        vk::vulkan_backend(MatmulMode::Native, VulkanNumerics::Exact).unwrap()
    });
}

#[test]
fn every_variant_is_as_accurate_as_llama_cpp_on_vulkan_in_fast_numerics() {
    if vk::vulkan_backend(MatmulMode::Native, VulkanNumerics::Fast).is_none() {
        return;
    }
    check_every_variant_with(
        |_| Criteria::Fast,
        || vk::vulkan_backend(MatmulMode::Native, VulkanNumerics::Fast).unwrap(),
    );
}

/// The shaders a model loads in a batch, decode steps and a PINE evaluation (importance, region
/// keys) of each variant here: the integer kernels (Q4_K_M: Q8_K and Q8_0/Q8_1 partners),
/// Q8_0, BF16 and the float matmul (F16).
fn shaders_loaded(numerics: VulkanNumerics) -> Option<Vec<&'static str>> {
    let dir = common::tiny_llama_dir();
    let mut all = Vec::new();
    for variant in ["Q4_K_M", "Q8_0", "BF16", "F16"] {
        let file = Arc::new(
            pine::gguf::Gguf::open(dir.join(format!("tiny-llama.{variant}.gguf"))).unwrap(),
        );
        let backend = vk::vulkan_backend(MatmulMode::Native, numerics)?;
        let model = Transformer::load(file, backend).unwrap();
        let mut s = Session::new(model, 64, CacheType::F16).unwrap();
        s.prefill(&[1, 5, 9, 13], Logits::Last).unwrap();
        s.decode(17).unwrap();
        s.reset();
        let layout = Layout {
            prefix: vec![1, 5],
            segments: vec![vec![30, 31, 32], vec![40, 41], vec![50, 51, 52, 53]],
            suffix: vec![60, 61],
        };
        s.evaluate(
            &layout,
            AttentionMode::Pine(TieRule::ContentHash),
            Logits::Last,
        )
        .unwrap();
        s.decode(3).unwrap();
        all.extend(s.model.backend.loaded_shaders());
    }
    all.sort_unstable();
    all.dedup();
    Some(all)
}

/// Issue #16's audit, at run time: a model running in fast numerics loads no `_f64` build (and
/// so never the fma probe's choice between them), while exact numerics on a device with f64
/// load them, so the check is not vacuous.
#[test]
fn fast_numerics_load_no_f64_shader() {
    let Some(fast) = shaders_loaded(VulkanNumerics::Fast) else {
        return;
    };
    eprintln!("fast numerics loaded {fast:?}");
    // The float shaders with f64 builds, as native mode runs them: the norm and SwiGLU fused
    // with the activation rounding, the attention also with its output's.
    for needed in [
        "rms_norm_quant_q8_0_int",
        "swiglu_quant_q8_0_int",
        "attention_f16",
        "attention_f16_quant_q8_0_int",
        "attention_f16_quant_q8_k_int",
        "pine_importance_f16",
    ] {
        assert!(fast.contains(&needed), "{needed} not loaded: {fast:?}");
    }
    let f64_builds: Vec<_> = fast.iter().filter(|n| n.contains("_f64")).collect();
    assert!(f64_builds.is_empty(), "fast numerics loaded {f64_builds:?}");
    assert!(
        !fast.contains(&"fma_probe"),
        "fast numerics ran the fma probe"
    );
    let exact = shaders_loaded(VulkanNumerics::Exact).expect("the same device");
    let fp64 = vk::vulkan_backend(MatmulMode::Native, VulkanNumerics::Exact)
        .expect("the same device")
        .device()
        .fp64;
    assert_eq!(
        exact.iter().any(|n| n.contains("_f64")),
        fp64,
        "exact numerics loaded {exact:?}"
    );
}
