//! Conformance of the Vulkan forward pass (lavapipe in CI): every tiny-llama quant variant,
//! batch and token-by-token, against llama.cpp's logits, with llama.cpp's activation rounding
//! (native mode). A variant whose every matrix the device multiplies exactly as the CPU does
//! (`VulkanBackend::matches_cpu`: the integer block types and BF16, on a device with f64) is
//! held to the CPU's criteria; the others (F32, F16, and the types dequantized at load: IQ3_S,
//! IQ3_XXS, TQ1_0, TQ2_0) sum in another order, and the argmax may differ on near-ties: see
//! `common/fixture_cases.rs`.

mod common;
#[path = "common/vulkan.rs"]
mod vk;

use common::fixture_cases::{check_every_variant_with, Criteria};
use pine::backend::MatmulMode;

#[test]
fn every_variant_matches_llama_cpp_on_vulkan() {
    let Some(probe) = vk::vulkan_backend(MatmulMode::Native) else {
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
        vk::vulkan_backend(MatmulMode::Native).unwrap()
    });
}
