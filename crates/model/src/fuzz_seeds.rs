//! Seed files for the `model` fuzz target (`fuzz/run.sh model`): micro models of every family
//! pine runs, valid and small enough for libFuzzer's input limit, so mutations start from a file
//! that loads.

use pine_gguf::{GgmlType, GgufWriter, OwnedValue, ValueType};

/// A micro model of family `arch` (`llama`, `qwen2`: biases, `qwen3`: Q/K norms, `phi3`:
/// fused tensors, `gemma2`/`gemma3`: Gemma's block): `layers` blocks, 32 wide, 4/2 heads of 8, ffn 64,
/// a 16-token vocabulary, F32 weights from a fixed generator; `tied` leaves out `output.weight`.
fn micro(arch: &str, layers: u32, tied: bool) -> Vec<u8> {
    let (e, ff, vocab, kv) = (32u64, 64u64, 16u64, 16u64);
    let mut w = GgufWriter::new();
    let set = |w: &mut GgufWriter, k: &str, v: OwnedValue| w.set(k, v).unwrap();
    set(
        &mut w,
        "general.architecture",
        OwnedValue::String(arch.into()),
    );
    for (k, v) in [
        ("block_count", layers),
        ("embedding_length", e as u32),
        ("feed_forward_length", ff as u32),
        ("attention.head_count", 4),
        ("attention.head_count_kv", 2),
        ("context_length", 64),
    ] {
        set(&mut w, &format!("{arch}.{k}"), OwnedValue::U32(v));
    }
    set(
        &mut w,
        &format!("{arch}.attention.layer_norm_rms_epsilon"),
        OwnedValue::F32(1e-5),
    );
    set(
        &mut w,
        &format!("{arch}.rope.freq_base"),
        OwnedValue::F32(10000.0),
    );
    let tokens = (0..vocab)
        .map(|i| OwnedValue::String(format!("t{i}")))
        .collect();
    set(
        &mut w,
        "tokenizer.ggml.tokens",
        OwnedValue::Array(ValueType::String, tokens),
    );
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut tensor = |w: &mut GgufWriter, name: &str, dims: &[u64], norm: bool| {
        let n: u64 = dims.iter().product();
        let data = (0..n)
            .flat_map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let r = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                (if norm { 1.0 + 0.1 * r } else { 0.1 * r }).to_le_bytes()
            })
            .collect();
        w.add_tensor(name, GgmlType::F32, dims, data).unwrap();
    };
    tensor(&mut w, "token_embd.weight", &[e, vocab], false);
    for l in 0..layers {
        let n = |s: &str| format!("blk.{l}.{s}.weight");
        let b = |s: &str| format!("blk.{l}.{s}.bias");
        tensor(&mut w, &n("attn_norm"), &[e], true);
        if arch == "phi3" {
            tensor(&mut w, &n("attn_qkv"), &[e, e + 2 * kv], false);
        } else {
            tensor(&mut w, &n("attn_q"), &[e, e], false);
            tensor(&mut w, &n("attn_k"), &[e, kv], false);
            tensor(&mut w, &n("attn_v"), &[e, kv], false);
        }
        if arch == "qwen2" {
            tensor(&mut w, &b("attn_q"), &[e], false);
            tensor(&mut w, &b("attn_k"), &[kv], false);
            tensor(&mut w, &b("attn_v"), &[kv], false);
        }
        if arch == "qwen3" || arch == "gemma3" {
            tensor(&mut w, &n("attn_q_norm"), &[8], true);
            tensor(&mut w, &n("attn_k_norm"), &[8], true);
        }
        tensor(&mut w, &n("attn_output"), &[e, e], false);
        if arch.starts_with("gemma") {
            tensor(&mut w, &n("post_attention_norm"), &[e], true);
            tensor(&mut w, &n("post_ffw_norm"), &[e], true);
        }
        tensor(&mut w, &n("ffn_norm"), &[e], true);
        if arch == "phi3" {
            tensor(&mut w, &n("ffn_up"), &[e, 2 * ff], false);
        } else {
            tensor(&mut w, &n("ffn_gate"), &[e, ff], false);
            tensor(&mut w, &n("ffn_up"), &[e, ff], false);
        }
        tensor(&mut w, &n("ffn_down"), &[ff, e], false);
    }
    tensor(&mut w, "output_norm.weight", &[e], true);
    if !tied {
        tensor(&mut w, "output.weight", &[e, vocab], false);
    }
    w.to_bytes().unwrap()
}

/// Every seed: each family untied with one block, tied with two.
fn seeds() -> Vec<(String, Vec<u8>)> {
    ["llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3"]
        .iter()
        .flat_map(|a| {
            [
                (format!("micro-{a}-1.gguf"), micro(a, 1, false)),
                (format!("micro-{a}-2-tied.gguf"), micro(a, 2, true)),
            ]
        })
        .collect()
}

/// Writes the seeds into `$PINE_FUZZ_SEEDS` (ignored: not a check).
#[test]
#[ignore = "writes fuzz seeds; run by fuzz/run.sh"]
fn write_fuzz_seeds() {
    let dir = std::env::var("PINE_FUZZ_SEEDS").expect("set PINE_FUZZ_SEEDS to a directory");
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in seeds() {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// The seeds load and run one token on the CPU.
#[test]
fn micro_models_run() {
    use std::sync::Arc;
    for (name, bytes) in seeds() {
        let g = Arc::new(pine_gguf::Gguf::from_bytes(bytes).unwrap());
        let be = pine_backend::CpuBackend::new(1, pine_backend::MatmulMode::Native).unwrap();
        let model = crate::Transformer::load(g, be).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut s = crate::Session::new(model, 16, pine_backend::CacheType::F16).unwrap();
        let logits = s.prefill(&[1, 2], crate::Logits::Last).unwrap();
        assert!(logits.len() == 16 && logits.iter().all(|x| x.is_finite()));
    }
}
