//! The Vulkan backend resubmits the command buffer it recorded for a decode step when the next
//! step has the same shape (causal: one pass per step; PINE: one pass per layer, as the
//! planner reads each layer's importance table back), and resubmitting changes no bit of the
//! logits, in both numeric modes.

mod common;
#[path = "common/vulkan.rs"]
mod vk;

use pine::attention::{AttentionMode, Layout, TieRule};
use pine::backend::{CacheType, MatmulMode, VulkanNumerics};
use pine::model::Logits;
use pine::vulkan::ReplayStats;

const STEPS: [u32; 6] = [17, 3, 250, 8, 99, 42];

/// The logits of a prompt (plain, or a PINE layout) and of six decode steps after it, and the
/// replay counters of the decode steps alone.
fn decode(
    mode: AttentionMode,
    numerics: VulkanNumerics,
    replay: bool,
) -> Option<(Vec<Vec<f32>>, ReplayStats)> {
    let path = common::tiny_llama_dir().join("tiny-llama.Q4_K_M.gguf");
    let mut s = vk::vulkan_session(&path, MatmulMode::Native, numerics, CacheType::F16, 64)?;
    s.model.backend.set_replay(replay);
    let first = match mode {
        AttentionMode::Causal => s.prefill(&[1, 5, 9, 13], Logits::Last),
        _ => s.evaluate(
            &Layout {
                prefix: vec![1, 5],
                segments: vec![vec![30, 31, 32], vec![40, 41], vec![50, 51, 52, 53]],
                suffix: vec![60, 61],
            },
            mode,
            Logits::Last,
        ),
    };
    let mut out = vec![first.unwrap()];
    let before = s.model.backend.replay_stats();
    for t in STEPS {
        out.push(s.decode(t).unwrap());
    }
    let after = s.model.backend.replay_stats();
    let stats = ReplayStats {
        recorded: after.recorded - before.recorded,
        replayed: after.replayed - before.replayed,
    };
    Some((out, stats))
}

fn assert_same_bits(a: &[Vec<f32>], b: &[Vec<f32>], what: &str) {
    for (step, (x, y)) in a.iter().zip(b).enumerate() {
        let differ = x.iter().zip(y).filter(|(p, q)| p.to_bits() != q.to_bits());
        assert_eq!(differ.count(), 0, "{what}: step {step} differs with replay");
    }
}

/// Causal decode: from the fourth step on every step replays its pass; the logits are
/// bit-identical to recording every pass afresh.
#[test]
fn causal_decode_replays_its_command_buffer_with_identical_logits() {
    for numerics in [VulkanNumerics::Fast, VulkanNumerics::Exact] {
        causal_replays(numerics);
    }
}

fn causal_replays(numerics: VulkanNumerics) {
    let Some((fresh, none)) = decode(AttentionMode::Causal, numerics, false) else {
        return;
    };
    let (replayed, stats) = decode(AttentionMode::Causal, numerics, true).unwrap();
    assert_eq!(none.replayed, 0);
    // The first step also allocates the one-row activation buffers (zero-filled: a longer op
    // list); the second step's pass is the first of its shape, kept when the third records it
    // again, and replayed from the fourth step on.
    assert_eq!(
        stats,
        ReplayStats {
            recorded: 3,
            replayed: STEPS.len() as u64 - 3
        }
    );
    assert_same_bits(&fresh, &replayed, &format!("causal, {numerics:?}"));
}

/// PINE decode (per-head plans re-ranked every step, the shifts in the step data): the passes
/// of later steps replay, with bit-identical logits.
#[test]
fn pine_decode_replays_every_layer_pass_with_identical_logits() {
    for numerics in [VulkanNumerics::Fast, VulkanNumerics::Exact] {
        pine_replays(numerics);
    }
}

fn pine_replays(numerics: VulkanNumerics) {
    let mode = AttentionMode::Pine(TieRule::ContentHash);
    let Some((fresh, _)) = decode(mode, numerics, false) else {
        return;
    };
    let (replayed, stats) = decode(mode, numerics, true).unwrap();
    // tiny-llama has two layers: each step submits three passes (two end in reading back a
    // layer's importance table). As in the causal test only the first pass of the first step
    // allocates; a pass is kept the second time it is recorded, so from the third step on
    // every pass replays, and the third step's first pass (first seen in step two) records.
    let steps = STEPS.len() as u64;
    let per_step = (stats.recorded + stats.replayed) / steps;
    assert_eq!(per_step * steps, stats.recorded + stats.replayed);
    assert_eq!(per_step, 3);
    assert_eq!(stats.replayed, per_step * (steps - 2) - 1, "{stats:?}");
    assert_same_bits(&fresh, &replayed, &format!("pine, {numerics:?}"));
}
