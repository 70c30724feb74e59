//! Conformance of the CPU forward pass: every tiny-llama quant variant, batch and token-by-token,
//! against llama.cpp's logits (cases and tolerances in `common/fixture_cases.rs`).

mod common;

use common::fixture_cases::{check_every_variant_with, cpu_criteria};
use pine::backend::{CpuBackend, MatmulMode};

#[test]
fn every_variant_matches_llama_cpp_batch_and_incremental() {
    check_every_variant_with(cpu_criteria, || {
        CpuBackend::new(2, MatmulMode::Native).unwrap()
    });
}
