//! Slots (several sequences batched through one model, as pine-serve runs them): a sequence's
//! logits are bit-identical whether it runs alone in a session, alone in a slot, or batched with
//! other slots' prompts and generated tokens; PINE layouts in a slot match a session's.

mod common;
#[cfg(feature = "vulkan")]
#[path = "common/vulkan.rs"]
mod vk;

use pine::attention::{AttentionMode, Layout, TieRule};
#[cfg(feature = "vulkan")]
use pine::backend::VulkanNumerics;
use pine::backend::{Backend, CacheType, CpuBackend, MatmulMode};
use pine::model::{argmax, Logits, Session, SlotWork, Slots, Transformer};
use pine::tokenizer::Tokenizer;

const PROMPTS: [&str; 4] = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea, there lived an old fisherman who",
    "1, 2, 3, 4,",
    "Water boils at",
];

fn tokenizer() -> Tokenizer {
    let file = pine::gguf::Gguf::open(common::smollm2_path()).unwrap();
    Tokenizer::from_gguf(&file).unwrap()
}

fn slots_on<B: Backend>(backend: B, n_slots: usize, n_ctx: usize) -> Slots<B> {
    let file = std::sync::Arc::new(pine::gguf::Gguf::open(common::smollm2_path()).unwrap());
    let model = Transformer::load(file, backend).unwrap();
    Slots::new(model, n_slots, n_ctx, CacheType::F16).unwrap()
}

fn slots(n_slots: usize, n_ctx: usize) -> Slots<CpuBackend> {
    slots_on(
        CpuBackend::new(2, MatmulMode::Native).unwrap(),
        n_slots,
        n_ctx,
    )
}

fn cpu_session() -> Session<CpuBackend> {
    common::session(
        &common::smollm2_path(),
        2,
        MatmulMode::Native,
        CacheType::F16,
        256,
    )
}

/// Greedy generation in a plain session: every step's logits.
fn solo_session<B: Backend>(mut s: Session<B>, prompt: &[u32], steps: usize) -> Vec<Vec<f32>> {
    let mut logits = s.prefill(prompt, Logits::Last).unwrap();
    let mut all = vec![logits.clone()];
    for _ in 0..steps {
        logits = s.decode(argmax(&logits)).unwrap();
        all.push(logits.clone());
    }
    all
}

#[test]
fn a_sequence_gives_the_same_bits_alone_or_batched_with_others() {
    check_batching(
        || CpuBackend::new(2, MatmulMode::Native).unwrap(),
        cpu_session,
        12,
    );
}

/// The same on Vulkan (lavapipe in CI: fewer steps, as it is slow there), in exact numerics
/// (the reference sessions' bits are the CPU's).
#[cfg(feature = "vulkan")]
#[test]
fn on_vulkan_too() {
    if vk::vulkan_backend(MatmulMode::Native, VulkanNumerics::Exact).is_none() {
        return;
    }
    let path = common::smollm2_path();
    check_batching(
        || vk::vulkan_backend(MatmulMode::Native, VulkanNumerics::Exact).unwrap(),
        || {
            vk::vulkan_session(
                &path,
                MatmulMode::Native,
                VulkanNumerics::Exact,
                CacheType::F16,
                256,
            )
            .unwrap()
        },
        3,
    );
}

fn check_batching<B: Backend>(
    backend: impl Fn() -> B,
    session: impl Fn() -> Session<B>,
    steps: usize,
) {
    let tok = tokenizer();
    let prompts: Vec<Vec<u32>> = PROMPTS
        .iter()
        .map(|p| tok.encode(p, true, false).unwrap())
        .collect();
    let reference: Vec<Vec<Vec<f32>>> = prompts
        .iter()
        .map(|p| solo_session(session(), p, steps))
        .collect();

    // Alone in slot 2 of 4 (a cache region that does not start at 0).
    let mut s = slots_on(backend(), 4, 256);
    let mut logits = s
        .step(&[SlotWork {
            slot: 2,
            ids: &prompts[0],
            logits: true,
        }])
        .unwrap();
    for (step, want) in reference[0].iter().enumerate() {
        assert!(logits[0] == *want, "alone in a slot: step {step} differs");
        let id = [argmax(&logits[0])];
        logits = s
            .step(&[SlotWork {
                slot: 2,
                ids: &id,
                logits: true,
            }])
            .unwrap();
    }

    // All four batched, starting at different steps (prompt chunks beside generated tokens),
    // in a different slot each, with a stale sequence in the slot first (truncated away).
    let mut s = slots_on(backend(), 4, 256);
    s.step(&[SlotWork {
        slot: 3,
        ids: &prompts[1],
        logits: false,
    }])
    .unwrap();
    s.truncate(3, 0);
    let slot_of = [3, 0, 2, 1];
    let mut done = [0usize; 4];
    let mut next: Vec<Option<u32>> = vec![None; 4];
    for round in 0..steps + 4 {
        let active: Vec<usize> = (0..4).filter(|&i| round >= i && done[i] <= steps).collect();
        let pending: Vec<Vec<u32>> = active
            .iter()
            .map(|&i| match next[i] {
                Some(id) => vec![id],
                None => prompts[i].clone(),
            })
            .collect();
        let work: Vec<SlotWork> = active
            .iter()
            .zip(&pending)
            .map(|(&i, ids)| SlotWork {
                slot: slot_of[i],
                ids,
                logits: true,
            })
            .collect();
        let out = s.step(&work).unwrap();
        for (&i, l) in active.iter().zip(&out) {
            assert!(
                l == &reference[i][done[i]],
                "prompt {i} step {} differs when batched",
                done[i]
            );
            next[i] = Some(argmax(l));
            done[i] += 1;
        }
    }
    assert!(done.iter().all(|&n| n == steps + 1));
}

#[test]
fn a_pine_layout_in_a_slot_matches_a_session_and_batches_beside_causal_slots() {
    let tok = tokenizer();
    let enc = |t: &str, bos| tok.encode(t, bos, false).unwrap();
    let layout = Layout {
        prefix: enc("Which fact is about a bridge?", true),
        segments: vec![
            enc("\nThe Larkspur Bridge opened in 1931.", false),
            enc("\nTomatoes are fruits.", false),
        ],
        suffix: enc("\nAnswer:", false),
    };
    let mode = AttentionMode::Pine(TieRule::ContentHash);
    let mut session = cpu_session();
    let mut want = session.evaluate(&layout, mode, Logits::Last).unwrap();

    let mut s = slots(2, 256);
    let causal = enc("Water boils at", true);
    let mut got = s.evaluate_layout(1, &layout, mode).unwrap();
    let mut other = s
        .step(&[SlotWork {
            slot: 0,
            ids: &causal,
            logits: true,
        }])
        .unwrap()
        .remove(0);
    for step in 0..6 {
        assert!(
            got == want,
            "PINE slot step {step} differs from the session"
        );
        let id = [argmax(&got)];
        let oid = [argmax(&other)];
        let out = s
            .step(&[
                SlotWork {
                    slot: 0,
                    ids: &oid,
                    logits: true,
                },
                SlotWork {
                    slot: 1,
                    ids: &id,
                    logits: true,
                },
            ])
            .unwrap();
        other = out[0].clone();
        got = out[1].clone();
        want = session.decode(id[0]).unwrap();
    }
    assert!(s.holds_layout(1));
    s.truncate(1, 5);
    assert!(!s.holds_layout(1) && s.tokens(1).is_empty());
}

#[test]
fn bad_work_is_an_error() {
    let mut s = slots(2, 8);
    let ids = [1u32; 9];
    let e = s
        .step(&[SlotWork {
            slot: 0,
            ids: &ids,
            logits: true,
        }])
        .unwrap_err();
    assert!(e.to_string().contains("do not fit"), "{e}");
    let e = s
        .step(&[SlotWork {
            slot: 2,
            ids: &ids[..1],
            logits: true,
        }])
        .unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
    let two = [SlotWork {
        slot: 1,
        ids: &ids[..1],
        logits: true,
    }; 2];
    assert!(s.step(&two).is_err());
    assert!(s
        .step(&[SlotWork {
            slot: 1,
            ids: &[],
            logits: true
        }])
        .is_err());
}
