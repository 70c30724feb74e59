//! Conformance of the CPU forward pass: every tiny-llama quant variant, batch and token-by-token,
//! against llama.cpp's logits (cases and tolerances in `common/fixture_cases.rs`).

mod common;

use common::fixture_cases::{check_every_variant_with, Criteria};
use pine::backend::{CpuBackend, MatmulMode};
use pine::quant::matmul::PackedWeights;

/// llama.cpp's criteria (its float order, or the block order of packed Q5_0 and Q8_0: the
/// same exact integer sums with fewer roundings), except for files with matrices the packed
/// k-quant kernels run (their own order and activation rounding): those are held to llama.cpp's
/// accuracy.
#[test]
fn every_variant_matches_llama_cpp_batch_and_incremental() {
    let criteria_of = |file: &pine::gguf::Gguf| {
        let packed_k = file.tensors().iter().any(|t| {
            t.dims.len() == 2
                && matches!(
                    t.ty,
                    pine::gguf::GgmlType::Q2_K
                        | pine::gguf::GgmlType::Q3_K
                        | pine::gguf::GgmlType::Q4_K
                        | pine::gguf::GgmlType::Q5_K
                        | pine::gguf::GgmlType::Q6_K
                )
                && PackedWeights::supported(t.ty)
        });
        if packed_k {
            Criteria::Accuracy
        } else {
            Criteria::Exact
        }
    };
    check_every_variant_with(criteria_of, || {
        CpuBackend::new(2, MatmulMode::Native).unwrap()
    });
}
