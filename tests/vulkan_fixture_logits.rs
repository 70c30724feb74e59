//! Conformance of the Vulkan forward pass (lavapipe in CI): every tiny-llama quant variant,
//! batch and token-by-token, against llama.cpp's logits, with llama.cpp's activation rounding
//! (native mode). The bounds are the CPU's, except that the argmax may differ on near-ties where
//! the k-quant matmuls sum in another order: see `common/fixture_cases.rs`.

mod common;

use pine::backend::MatmulMode;

#[test]
fn every_variant_matches_llama_cpp_on_vulkan() {
    if common::vulkan_backend(MatmulMode::Native).is_none() {
        return;
    }
    common::fixture_cases::check_every_variant(common::fixture_cases::Criteria::OtherOrder, || {
        common::vulkan_backend(MatmulMode::Native).unwrap()
    });
}
