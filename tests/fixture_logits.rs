//! Conformance of the CPU forward pass: every tiny-llama quant variant, batch and token-by-token,
//! against llama.cpp's logits (cases and tolerances in `common/fixture_cases.rs`).

mod common;

use pine::backend::{CpuBackend, MatmulMode};

#[test]
fn every_variant_matches_llama_cpp_batch_and_incremental() {
    common::fixture_cases::check_every_variant(common::fixture_cases::Criteria::Exact, || {
        CpuBackend::new(2, MatmulMode::Native).unwrap()
    });
}
