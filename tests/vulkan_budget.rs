//! The Vulkan decode budgets (issue 16), held with the backend's counters on any device
//! (lavapipe in CI): per greedy token at most 10 dispatches per layer (the embedding, the head
//! and the argmax included, except for the two-layer fixtures), one submission and one fence wait, and at most 4 KiB read back;
//! and greedy decoding with the argmax on the device gives the tokens the host's argmax picks
//! from the same logits.

mod common;
#[path = "common/vulkan.rs"]
mod vk;

use pine::backend::{CacheType, MatmulMode, VulkanNumerics};
use pine::model::{argmax, Logits};
use pine::vulkan::VkCounters;

/// Tokens decoded after the warm-up (a decode pass is kept for resubmission the second time
/// it is recorded, and budgets hold for resubmitted passes as for recorded ones).
const STEPS: u64 = 3;

/// The counters of `STEPS` greedy decodes of `path` after a short prompt and two warm-up
/// decodes, and the model's layer count; `None` without a device.
fn decode_counters(
    path: &std::path::Path,
    numerics: VulkanNumerics,
) -> Option<(VkCounters, usize)> {
    let mut s = vk::vulkan_session(path, MatmulMode::Native, numerics, CacheType::F16, 64)?;
    let mut t = argmax(&s.prefill(&[1, 5, 9, 13], Logits::Last).unwrap());
    for _ in 0..2 {
        t = s.decode_greedy(t).unwrap();
    }
    let before = s.model.backend.counters();
    for _ in 0..STEPS {
        t = s.decode_greedy(t).unwrap();
    }
    let c = s.model.backend.counters().since(&before);
    Some((c, s.model.params.n_layers))
}

/// The dispatches of a greedy token outside the layers: the embedding, the head's fused norm
/// and matmul, and the argmax.
const HEAD_DISPATCHES: u64 = 4;

/// Asserts every budget of `path`'s decode; the per-layer dispatches count the head's share
/// with `with_head` (a many-layer model) and leave it out otherwise (the two-layer fixtures,
/// whose head would dominate).
fn assert_budgets(path: &std::path::Path, numerics: VulkanNumerics, with_head: bool) {
    let Some((c, layers)) = decode_counters(path, numerics) else {
        return;
    };
    let name = path.file_name().unwrap().to_string_lossy();
    let head = if with_head {
        0
    } else {
        HEAD_DISPATCHES * STEPS
    };
    let per_layer_dispatches =
        c.dispatches.saturating_sub(head) as f64 / (STEPS as f64 * layers as f64);
    eprintln!(
        "{name} ({numerics}): per token {:.1} dispatches ({per_layer_dispatches:.2} per layer), \
         {:.1} barriers, {} submits, {} waits, {} bytes read back",
        c.dispatches as f64 / STEPS as f64,
        c.barriers as f64 / STEPS as f64,
        c.submits / STEPS,
        c.fence_waits / STEPS,
        c.readback_bytes / STEPS,
    );
    assert_eq!(c.submits, STEPS, "{name}: one submission per token");
    assert_eq!(c.fence_waits, STEPS, "{name}: one fence wait per token");
    assert!(
        c.readback_bytes <= 4096 * STEPS,
        "{name}: {} bytes read back per token",
        c.readback_bytes / STEPS
    );
    assert!(
        per_layer_dispatches <= 10.0,
        "{name} ({numerics}): {per_layer_dispatches:.2} dispatches per layer"
    );
}

/// SmolLM2 (Q4_1, and Q4_0 where `models/` has it) meets every budget in both numeric modes.
#[test]
fn smollm2_decode_meets_the_budgets() {
    let q4_1 = common::smollm2_path();
    let q4_0 = q4_1.with_file_name("SmolLM2-135M-Instruct.Q4_0.gguf");
    for numerics in [VulkanNumerics::Fast, VulkanNumerics::Exact] {
        assert_budgets(&q4_1, numerics, true);
        if q4_0.is_file() {
            assert_budgets(&q4_0, numerics, true);
        } else {
            eprintln!("skipping {}: not found", q4_0.display());
        }
    }
}

/// The tiny fixtures meet the budgets too, the per-layer one without the head's dispatches
/// (two layers only): among them Q4_K_M's mix, whose second layer has a Q6_K `attn_v` beside
/// Q4_K Q and K (two dispatches for the three) and whose o-projection takes Q8_K activations,
/// rounded by the attention's workgroups together (`attention.comp`).
#[test]
fn tiny_llama_decode_meets_the_budgets() {
    let dir = common::tiny_llama_dir();
    for numerics in [VulkanNumerics::Fast, VulkanNumerics::Exact] {
        for file in ["tiny-llama.Q4_0.gguf", "tiny-llama.Q4_K_M.gguf"] {
            assert_budgets(&dir.join(file), numerics, false);
        }
    }
}

/// Greedy decoding with the argmax on the device picks, token after token, the host argmax of
/// the logits the same backend computes (and those logits can still be read afterwards); and, in exact numerics on Q4_0 (whose logits are the
/// CPU's bits), the tokens the CPU backend's greedy decoding picks. (The CPU runs Q4_K through
/// packed kernels of another float order where it has AVX2, so Q4_K_M is compared within
/// Vulkan only.)
#[test]
fn device_greedy_tokens_are_the_host_argmax_of_the_logits() {
    let dir = common::tiny_llama_dir();
    for file in ["tiny-llama.Q4_0.gguf", "tiny-llama.Q4_K_M.gguf"] {
        let path = dir.join(file);
        let open = || {
            vk::vulkan_session(
                &path,
                MatmulMode::Native,
                VulkanNumerics::Exact,
                CacheType::F16,
                64,
            )
        };
        let (Some(mut dev), Some(mut host)) = (open(), open()) else {
            return;
        };
        let mut cpu = common::session(&path, 1, MatmulMode::Native, CacheType::F16, 64);
        let prompt = [1, 5, 9, 13];
        let first = argmax(&dev.prefill(&prompt, Logits::Last).unwrap());
        host.prefill(&prompt, Logits::Last).unwrap();
        cpu.prefill(&prompt, Logits::Last).unwrap();
        let (mut a, mut b, mut c) = (first, first, first);
        for step in 0..6 {
            a = dev.decode_greedy(a).unwrap();
            let logits = host.decode(b).unwrap();
            b = argmax(&logits);
            c = cpu.decode_greedy(c).unwrap();
            assert_eq!(a, b, "{file}: step {step}: device argmax vs host argmax");
            // The logits the device chose from, read back afterwards, are those `decode`
            // returns.
            let behind = dev.picked_logits().unwrap().expect("a greedy step ran");
            assert!(
                behind
                    .iter()
                    .map(|v| v.to_bits())
                    .eq(logits.iter().map(|v| v.to_bits())),
                "{file}: step {step}: the greedy step's logits"
            );
            if file.contains("Q4_0") {
                assert_eq!(a, c, "{file}: step {step}: Vulkan vs CPU greedy token");
            }
        }
    }
}

/// Top-k sampling's selection on the device (`Session::decode_top_k`, `top_k.comp`) keeps, step
/// after step, exactly what the host's selection keeps of the logits the same backend
/// computes (ids and value bits, in order), reading back 8 bytes per candidate.
#[test]
fn device_top_k_is_the_host_selection_of_the_logits() {
    let path = common::tiny_llama_dir().join("tiny-llama.Q4_K_M.gguf");
    let open = || {
        vk::vulkan_session(
            &path,
            MatmulMode::Native,
            VulkanNumerics::Fast,
            CacheType::F16,
            64,
        )
    };
    let (Some(mut dev), Some(mut host)) = (open(), open()) else {
        return;
    };
    let prompt = [1, 5, 9, 13];
    let mut t = argmax(&dev.prefill(&prompt, Logits::Last).unwrap());
    host.prefill(&prompt, Logits::Last).unwrap();
    for (step, k) in [1, 40, 256, 7].into_iter().enumerate() {
        let before = dev.model.backend.counters();
        let got = dev.decode_top_k(t, k).unwrap();
        let read = dev.model.backend.counters().since(&before).readback_bytes;
        let logits = host.decode(t).unwrap();
        let mut want: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as u32, v))
            .collect();
        pine::backend::math::keep_top(&mut want, k);
        let bits = |c: &[(u32, f32)]| -> Vec<(u32, u32)> {
            c.iter().map(|&(i, v)| (i, v.to_bits())).collect()
        };
        assert_eq!(bits(&got), bits(&want), "step {step}, k {k}");
        assert_eq!(read, 8 * k as u64, "step {step}: bytes read back");
        t = got[got.len() / 2].0;
    }
}

/// A server's step over several slots picks on the device (`Slots::step_picking`: the greedy
/// token, or each row's top k from `top_k.comp`'s one workgroup per row) exactly what the
/// logits of the same step give on the host.
#[test]
fn slots_pick_on_the_device_what_their_logits_give() {
    use pine::model::{Pick, Picked, SlotWork, Slots};
    let path = common::tiny_llama_dir().join("tiny-llama.Q4_K_M.gguf");
    let open = || {
        let file = std::sync::Arc::new(pine::gguf::Gguf::open(&path).unwrap());
        let backend = vk::vulkan_backend(MatmulMode::Native, VulkanNumerics::Fast)?;
        let model = pine::model::Transformer::load(file, backend).unwrap();
        Some(Slots::new(model, 2, 64, CacheType::F16).unwrap())
    };
    let (Some(mut dev), Some(mut host)) = (open(), open()) else {
        return;
    };
    let mut ids: [Vec<u32>; 2] = [vec![1, 5, 9], vec![1, 7, 11, 13]];
    for (step, pick) in [Pick::TopK(40), Pick::Argmax, Pick::TopK(3), Pick::TopK(256)]
        .into_iter()
        .enumerate()
    {
        let work: Vec<SlotWork<'_>> = ids
            .iter()
            .enumerate()
            .map(|(slot, ids)| SlotWork {
                slot,
                ids,
                logits: true,
            })
            .collect();
        let got = dev.step_picking(&work, pick).unwrap();
        let logits = host.step(&work).unwrap();
        let mut next = [0u32; 2];
        for (slot, (g, l)) in got.iter().zip(&logits).enumerate() {
            let want = match pick {
                Pick::Argmax => Picked::Token(argmax(l)),
                Pick::TopK(k) => {
                    let mut top: Vec<(u32, f32)> =
                        l.iter().enumerate().map(|(i, &v)| (i as u32, v)).collect();
                    pine::backend::math::keep_top(&mut top, k);
                    Picked::Top(top)
                }
                Pick::Logits => unreachable!(),
            };
            assert_eq!(g, &want, "step {step}, slot {slot}");
            next[slot] = argmax(l);
        }
        ids = next.map(|t| vec![t]);
    }
}
