//! Agreement with the official PINE implementation (PyTorch, fp32, weights dequantized to f32):
//! with `--f32-matmul`, an f32 cache and the official tie rule, pine's last-position logits match
//! the golden PINE and vanilla logits to ≤ 1e-3 max abs for every stored segment order.

mod common;

use pine::attention::{AttentionMode, TieRule};
use pine::backend::{CacheType, MatmulMode};
use pine::model::Logits;

const TOLERANCE: f32 = 1e-3;

#[test]
fn pine_and_vanilla_match_the_official_implementation() {
    let mut s = common::session(
        &common::smollm2_path(),
        2,
        MatmulMode::F32,
        CacheType::F32,
        512,
    );
    let mut worst = 0.0f32;
    for run in common::golden_runs() {
        for (mode, key, (want, argmax)) in [
            (AttentionMode::Pine(TieRule::InputOrder), "pine", &run.pine),
            (AttentionMode::Causal, "vanilla", &run.vanilla),
        ] {
            let got = s.evaluate(&run.layout, mode, Logits::Last).unwrap();
            let d = common::max_abs_diff(&got, want);
            eprintln!("{} {key}: max|Δ| {d:.2e}", run.name);
            assert!(
                d <= TOLERANCE,
                "{} {key}: max|Δ| {d} > {TOLERANCE}",
                run.name
            );
            assert_eq!(pine::model::argmax(&got), *argmax);
            worst = worst.max(d);
        }
    }
    eprintln!("worst max|Δ| {worst:.2e}");
}
