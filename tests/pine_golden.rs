//! Agreement with the official PINE implementation (PyTorch, fp32, weights dequantized to f32):
//! with `--f32-matmul`, an f32 cache and the official tie rule, pine's last-position logits match
//! the golden PINE and vanilla logits to ≤ 1e-3 max abs for every stored segment order.

mod common;

use pine::attention::{AttentionMode, Layout, TieRule};
use pine::backend::{CacheType, MatmulMode};
use pine::model::Logits;
use serde_json::Value;

const TOLERANCE: f32 = 1e-3;

#[test]
fn pine_and_vanilla_match_the_official_implementation() {
    let dir = common::fixtures_root().join("pine-golden");
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let mut s = common::session(
        &common::smollm2_path(),
        2,
        MatmulMode::F32,
        CacheType::F32,
        512,
    );
    let mut worst = 0.0f32;
    for case in cases["cases"].as_array().unwrap() {
        let t = &case["token_ids"];
        let segments: Vec<Vec<u32>> = t["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(common::ids)
            .collect();
        for p in case["permutations"].as_array().unwrap() {
            let perm: Vec<usize> = p["perm"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect();
            let layout = Layout {
                prefix: common::ids(&t["prefix"]),
                segments: perm.iter().map(|&i| segments[i].clone()).collect(),
                suffix: common::ids(&t["suffix"]),
            };
            for (mode, key) in [
                (AttentionMode::Pine(TieRule::InputOrder), "pine"),
                (AttentionMode::Causal, "vanilla"),
            ] {
                let got = s.evaluate(&layout, mode, Logits::Last).unwrap();
                let want =
                    common::read_f32(&dir.join(p[key]["last_logits"]["file"].as_str().unwrap()));
                let d = common::max_abs_diff(&got, &want);
                eprintln!("{} perm {perm:?} {key}: max|Δ| {d:.2e}", case["id"]);
                assert!(
                    d <= TOLERANCE,
                    "{} {perm:?} {key}: max|Δ| {d} > {TOLERANCE}",
                    case["id"]
                );
                assert_eq!(
                    pine::model::argmax(&got),
                    p[key]["last_logits"]["argmax"].as_u64().unwrap() as u32
                );
                worst = worst.max(d);
            }
        }
    }
    eprintln!("worst max|Δ| {worst:.2e}");
}
