//! Hostile-input cases: sizes and hyper-parameters. Every size derived from a file or a flag
//! is checked before anything is allocated by it; values a model cannot run with are refused
//! with the key named; chat templates run with fuel and an output limit.

use std::time::{Duration, Instant};

use pine::gguf::{Gguf, OwnedValue, ValueType};

use crate::common;
use crate::harness::{crafted, run, run_ids, run_with, tiny, Bin, Scratch};

#[test]
fn the_crafted_copy_runs() {
    let s = Scratch::new("sizes-copy");
    run_ids(&crafted(&s, "same.gguf", &[], &[]), &[]).succeeds();
}

#[test]
fn a_huge_block_count_is_refused_before_allocating() {
    let s = Scratch::new("sizes-blocks");
    let m = crafted(
        &s,
        "blocks.gguf",
        &[("llama.block_count", Some(OwnedValue::U32(33_554_434)))],
        &[],
    );
    run_ids(&m, &[]).fails_with(&["llama.block_count", "33554434"]);
    run(
        Bin::Bench,
        &["-m", m.to_str().unwrap(), "-p", "8", "-n", "1", "-r", "1"],
    )
    .fails_with(&["llama.block_count"]);
}

#[test]
fn a_nan_rms_epsilon_is_refused() {
    let s = Scratch::new("sizes-eps");
    let key = "llama.attention.layer_norm_rms_epsilon";
    for (name, v) in [
        ("nan", f32::NAN),
        ("neg", -1e-5),
        ("zero", 0.0),
        ("inf", f32::INFINITY),
    ] {
        let m = crafted(
            &s,
            &format!("{name}.gguf"),
            &[(key, Some(OwnedValue::F32(v)))],
            &[],
        );
        run_ids(&m, &[]).fails_with(&[key]);
    }
}

#[test]
fn bad_rope_and_context_values_are_refused() {
    let s = Scratch::new("sizes-rope");
    let cases = [
        ("llama.rope.freq_base", OwnedValue::F32(f32::NAN)),
        ("llama.rope.freq_base", OwnedValue::F32(0.0)),
        ("llama.context_length", OwnedValue::U32(0)),
        ("llama.attention.key_length", OwnedValue::U32(1 << 30)),
        ("llama.embedding_length", OwnedValue::U32(1 << 20)),
        ("llama.rope.dimension_count", OwnedValue::U32(3)),
    ];
    for (i, (key, v)) in cases.into_iter().enumerate() {
        let m = crafted(&s, &format!("c{i}.gguf"), &[(key, Some(v))], &[]);
        let r = run_ids(&m, &[]);
        r.fails_with(&[]);
        let low = r.stderr.to_lowercase();
        assert!(
            low.contains(key) || low.contains("head dimension") || low.contains("rope dimension"),
            "{key}: {}",
            r.stderr
        );
    }
}

#[test]
fn a_vocabulary_smaller_than_the_embedding_is_refused() {
    let s = Scratch::new("sizes-vocab");
    let g = Gguf::open(tiny()).unwrap();
    let short = |key: &'static str, ty: ValueType| {
        let Some(OwnedValue::Array(_, items)) = g.get(key).map(|v| OwnedValue::from_value(&v))
        else {
            panic!("{key} is an array")
        };
        (key, ty, items[..256].to_vec())
    };
    let arrays = [
        short("tokenizer.ggml.tokens", ValueType::String),
        short("tokenizer.ggml.scores", ValueType::F32),
        short("tokenizer.ggml.token_type", ValueType::I32),
    ];
    let edits: Vec<(&str, Option<OwnedValue>)> = arrays
        .into_iter()
        .map(|(k, ty, items)| (k, Some(OwnedValue::Array(ty, items))))
        .collect();
    let m = crafted(&s, "vocab.gguf", &edits, &[]);
    run_ids(&m, &[]).fails_with(&["tokenizer.ggml.tokens", "256", "token_embd"]);
}

#[test]
fn an_out_of_range_bos_falls_back_as_in_llama_cpp() {
    let s = Scratch::new("sizes-bos");
    let m = crafted(
        &s,
        "bos.gguf",
        &[(
            "tokenizer.ggml.bos_token_id",
            Some(OwnedValue::U32(1 << 30)),
        )],
        &[],
    );
    run(
        Bin::Run,
        &[
            m.to_str().unwrap(),
            "-p",
            "hello",
            "--raw",
            "-n",
            "1",
            "--temp",
            "0",
        ],
    )
    .succeeds();
}

#[test]
fn huge_contexts_are_refused_with_the_size() {
    let m = tiny();
    for c in ["1000000000", "4611686018427387904", "18446744073709551615"] {
        run_ids(&m, &["-c", c]).fails_with(&["KV cache", c, "memory"]);
    }
    let model = common::smollm2_path();
    run(
        Bin::Bench,
        &[
            "-m",
            model.to_str().unwrap(),
            "-p",
            "100000000",
            "-n",
            "1",
            "-r",
            "1",
        ],
    )
    .fails_with(&["KV cache", "memory"]);
}

/// A chat template that loops without end, with and without output: the render stops with an
/// error naming the template, quickly and without filling memory.
#[test]
fn endless_chat_templates_stop() {
    let s = Scratch::new("sizes-template");
    for (name, source) in [
        (
            "silent",
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        ),
        (
            "loud",
            "{% for a in range(100000) %}{% for b in range(100000) %}{{ 'x' * 100000 }}\
             {% endfor %}{% endfor %}",
        ),
    ] {
        let m = crafted(
            &s,
            &format!("{name}.gguf"),
            &[(
                "tokenizer.chat_template",
                Some(OwnedValue::String(source.into())),
            )],
            &[],
        );
        let t = Instant::now();
        run_with(
            Bin::Run,
            &[m.to_str().unwrap(), "-p", "hello", "-n", "1", "--temp", "0"],
            b"",
            &[],
            Duration::from_secs(30),
        )
        .fails_with(&["tokenizer.chat_template", "stopped"]);
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{name}: {:?}",
            t.elapsed()
        );
    }
}

#[test]
fn a_context_above_the_training_context_warns() {
    run_ids(&tiny(), &["-c", "1024"]).succeeds().mentions(&[
        "warning",
        "-c 1024",
        "training context of 512",
    ]);
}
