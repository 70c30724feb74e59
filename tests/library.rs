//! The library API on the test model: generation with stop strings, logprobs, cancellation
//! and limits; a chat's cache re-use; layouts and the judge; errors with their sources.

mod common;

use std::error::Error as _;

use pine::{
    AttentionMode, BackendKind, CancelToken, FinishReason, GenerateOptions, Model, Prompt,
    SegmentedPrompt, TieRule,
};

fn load() -> Model {
    Model::builder(common::smollm2_path())
        .backend(BackendKind::Cpu)
        .context_size(512)
        .load()
        .unwrap()
}

const FRANCE: &str = "The capital of France is";

#[test]
fn stop_strings_end_the_text_before_them_and_pieces_join_to_the_text() {
    let mut model = load();
    let opts = GenerateOptions::new()
        .max_tokens(32)
        .greedy()
        .stop("\n\nThe United");
    let mut joined = String::new();
    let done = model
        .generate_with(FRANCE, &opts, |p| joined.push_str(&p.text))
        .unwrap();
    assert_eq!(done.text, " Paris.");
    assert_eq!(joined, done.text);
    assert_eq!(done.finish_reason, FinishReason::Stop { index: 0 });
    // Without the stop string: llama.cpp's greedy text, ended by the limit.
    let done = model
        .generate_with(
            FRANCE,
            &GenerateOptions::new().max_tokens(32).greedy(),
            |_| {},
        )
        .unwrap();
    assert_eq!(done.text, common::FRANCE_GREEDY_32);
    assert_eq!(done.finish_reason, FinishReason::Length);
    assert_eq!(done.tokens.len(), 32);
    // The same prompt again re-uses the cache.
    assert!(done.cached_tokens > 0 && done.cached_tokens < done.prompt_tokens);
    // A stop string whose start appears ("\n\nThe") holds those pieces back, then lets them go.
    let opts = GenerateOptions::new()
        .max_tokens(32)
        .greedy()
        .stop("\n\nThe Frog");
    let mut pieces = 0;
    let done = model.generate_with(FRANCE, &opts, |_| pieces += 1).unwrap();
    assert_eq!(done.text, common::FRANCE_GREEDY_32);
    assert_eq!((pieces, done.finish_reason), (32, FinishReason::Length));
}

#[test]
fn frequency_and_presence_penalties_reach_the_sampler() {
    let mut model = load();
    for opts in [
        GenerateOptions::new().frequency_penalty(1.0),
        GenerateOptions::new().presence_penalty(2.0),
    ] {
        let opts = opts.max_tokens(32).greedy();
        let done = model.generate_with(FRANCE, &opts, |_| {}).unwrap();
        // The greedy text repeats a sentence; penalised, it does not.
        assert_ne!(done.text, common::FRANCE_GREEDY_32);
    }
}

#[test]
fn logprobs_are_the_log_softmax_of_the_raw_logits() {
    let mut model = load();
    let opts = GenerateOptions::new().max_tokens(4).greedy().logprobs(3);
    let done = model.generate_with(FRANCE, &opts, |_| {}).unwrap();
    assert_eq!(done.logprobs.len(), 4);
    for (lp, &id) in done.logprobs.iter().zip(&done.tokens) {
        // Greedy: the chosen token is the most likely one.
        assert_eq!(lp.id, id);
        assert_eq!(lp.top.len(), 3);
        assert_eq!(lp.top[0].id, id);
        assert_eq!(lp.top[0].logprob, lp.logprob);
        assert!(lp.logprob <= 0.0 && lp.top[1].logprob <= lp.top[0].logprob);
    }
    let layout = pine::Layout::plain(model.tokenizer().encode(FRANCE, true, true).unwrap());
    let logits = model
        .evaluate(&layout, AttentionMode::Causal)
        .unwrap()
        .to_vec();
    let first = &done.logprobs[0];
    assert_eq!(pine::logprobs_of(&logits, &[first.id])[0], first.logprob);
}

#[test]
fn cancellation_and_limits_end_a_generation() {
    let mut model = load();
    let cancel = CancelToken::new();
    let opts = GenerateOptions::new().greedy().cancel(cancel.clone());
    let mut generation = model.generate(FRANCE, &opts).unwrap();
    assert!(generation.next().unwrap().is_ok());
    cancel.cancel();
    assert!(generation.next().is_none());
    assert_eq!(generation.finish_reason(), Some(FinishReason::Cancelled));
    drop(generation);
    let opts = GenerateOptions::new().max_tokens(0);
    let mut generation = model.generate(FRANCE, &opts).unwrap();
    assert!(generation.next().is_none());
    assert_eq!(generation.finish_reason(), Some(FinishReason::Length));
}

#[test]
fn a_chat_reuses_its_cache_and_answers_as_a_fresh_model_would() {
    let opts = GenerateOptions::new().max_tokens(8).greedy();
    let mut chat = pine::Chat::new(load()).unwrap().system("Be brief.");
    let first = chat.send_with("Hi!", &opts, |_| {}).unwrap();
    let second = chat.send_with("Name a colour.", &opts, |_| {}).unwrap();
    assert!(second.cached_tokens > 10, "{second:?}");
    // A message longer than the context is refused and left out of the conversation.
    let long = "Tell me a long story about dragons. ".repeat(80);
    match chat.send(long, &opts) {
        Err(pine::Error::PromptTooLong { tokens, n_ctx }) => assert!(tokens > n_ctx),
        other => panic!("{:?}", other.err()),
    }
    let roles: Vec<&str> = chat.messages().iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user", "assistant"]);
    assert_eq!(chat.messages()[2].content, first.text);
    // The same conversation rendered on a fresh model gives the same reply.
    let model = load();
    let ids = pine::prompt::chat_tokens(
        model.tokenizer(),
        model.chat_template().unwrap(),
        &chat.messages()[..4],
    )
    .unwrap();
    let mut model = model;
    let fresh = model.generate_with(ids, &opts, |_| {}).unwrap();
    assert_eq!(fresh.text, second.text);
}

#[test]
fn a_pine_layout_is_evaluated_the_same_in_any_segment_order() {
    let mut model = load();
    let docs = ["Cats purr.", "Dogs bark loudly.", "Cows moo in fields."];
    let prompt = SegmentedPrompt::new(docs)
        .text("Facts:")
        .question("Which animal barks?");
    let layout = model.layout(&prompt).unwrap();
    assert_eq!(layout.segments.len(), 3);
    let mode = AttentionMode::Pine(TieRule::ContentHash);
    let a = model.evaluate(&layout, mode).unwrap().to_vec();
    let mut reversed = layout.clone();
    reversed.segments.reverse();
    let b = model.evaluate(&reversed, mode).unwrap().to_vec();
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    // Generation continues from the evaluated layout.
    let opts = GenerateOptions::new().max_tokens(3).greedy();
    let done = model
        .generate_with(Prompt::Continue, &opts, |_| {})
        .unwrap();
    assert_eq!(done.tokens.len(), 3);
}

/// Greedy generation and top-k sampling without log-probabilities select on the backend (a
/// GPU reads back one id or k pairs, not the logits): the same tokens as the path that reads
/// the logits (asked for log-probabilities), and a later `Continue` starts from the same
/// logits.
#[test]
fn generation_selecting_on_the_backend_matches_the_logits_path() {
    for sampled in [false, true] {
        let on_backend = generate_twice(sampled, false);
        let with_logits = generate_twice(sampled, true);
        assert_eq!(on_backend.0.len(), 6);
        assert_eq!(on_backend, with_logits, "sampled: {sampled}");
    }
}

/// Six tokens of FRANCE and more from `Prompt::Continue`, greedy or sampled (seeded, hot, with
/// top-k 40 and top-p 0.95), with or without log-probabilities.
fn generate_twice(sampled: bool, logprobs: bool) -> (Vec<u32>, Vec<u32>) {
    let mut model = load();
    let mut opts = GenerateOptions::new().max_tokens(6);
    opts = match sampled {
        true => opts.sampling(pine::SamplerConfig {
            temperature: 1.5,
            top_p: 0.95,
            seed: 7,
            ..Default::default()
        }),
        false => opts.greedy(),
    };
    if logprobs {
        opts = opts.logprobs(1);
    }
    let first = model.generate_with(FRANCE, &opts, |_| {}).unwrap().tokens;
    let more = model
        .generate_with(Prompt::Continue, &opts, |_| {})
        .unwrap()
        .tokens;
    (first, more)
}

#[test]
fn errors_name_the_problem_and_keep_their_source() {
    let e = Model::load("/nonexistent/model.gguf").err().unwrap();
    assert!(matches!(e, pine::Error::Open { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with("/nonexistent/model.gguf: "),
        "{e}"
    );
    assert!(e.source().is_some());
    let mut model = load();
    let e = model
        .generate(vec![u32::MAX], &GenerateOptions::new())
        .err()
        .unwrap();
    assert!(e.to_string().contains("outside the vocabulary"), "{e}");
    let e = model
        .generate(Vec::<u32>::new(), &GenerateOptions::new())
        .err()
        .unwrap();
    assert!(matches!(e, pine::Error::Request(_)), "{e:?}");
}

#[test]
fn the_judge_is_order_invariant_under_pine_and_not_under_causal_attention() {
    let mut model = load();
    let (q, a, b) = (
        "Is the sky blue?",
        "Yes, on a clear day.",
        "No, it is green.",
    );
    let flip = |opts: &pine::JudgeOptions, model: &mut Model| {
        let ab = model.judge(q, a, b, opts).unwrap();
        let ba = model.judge(q, b, a, opts).unwrap();
        (ab.logprob_a.to_bits(), ab.logprob_b.to_bits())
            == (ba.logprob_b.to_bits(), ba.logprob_a.to_bits())
    };
    assert!(flip(&pine::JudgeOptions::new(), &mut model));
    let digits = pine::JudgeOptions::new().labels(pine::Labels::Digits);
    assert!(flip(&digits, &mut model));
    let causal = pine::JudgeOptions::new().mode(AttentionMode::Causal);
    assert!(
        !flip(&causal, &mut model),
        "causal attention sees the order"
    );
}

#[test]
fn judge_scores_of_a_list_are_the_same_in_every_order_under_pine() {
    let mut model = load();
    let answers = ["Paris.", "Rome.", "Berlin."];
    let q = "What is the capital of France?";
    let opts = pine::JudgeOptions::new().labels(pine::Labels::Digits);
    let first = model.judge_scores(q, &answers, &[0, 1, 2], &opts).unwrap();
    for order in [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
        let s = model.judge_scores(q, &answers, &order, &opts).unwrap();
        assert_eq!(
            s.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            first.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            "{order:?}"
        );
    }
    let e = model
        .judge_scores(q, &answers, &[0, 0, 1], &opts)
        .unwrap_err();
    assert!(e.to_string().contains("not a permutation"), "{e}");
    let one = model
        .judge_scores(q, &answers[..1], &[0], &opts)
        .unwrap_err();
    assert!(one.to_string().contains("not 1"), "{one}");
}

#[test]
fn evaluate_tokens_reuses_the_cached_prefix() {
    let mut model = load();
    let ids = model.tokenizer().encode(FRANCE, true, false).unwrap();
    let fresh = model.evaluate_tokens(&ids).unwrap().to_vec();
    let mut longer = ids.clone();
    longer.extend(model.tokenizer().encode(" Paris", false, false).unwrap());
    model.evaluate_tokens(&longer).unwrap();
    assert_eq!(&model.cached_tokens()[..ids.len()], &ids[..]);
    // Back to the shorter prompt: only its last token is evaluated again.
    let again = model.evaluate_tokens(&ids).unwrap();
    let top = |l: &[f32]| (0..l.len()).max_by(|&a, &b| l[a].total_cmp(&l[b])).unwrap();
    assert_eq!(top(again), top(&fresh));
}

#[test]
fn greedy_batch_answers_as_generate_does_alone() {
    let mut model = load();
    let prompt = |docs: [&str; 3]| {
        SegmentedPrompt::new(docs)
            .text("Facts:")
            .question("Question: what is the capital of France?")
    };
    let a = model
        .layout(&prompt([
            "Paris is in France.",
            "Rome is in Italy.",
            "Bern is Swiss.",
        ]))
        .unwrap();
    let b = model
        .layout(&prompt([
            "Bern is Swiss.",
            "Paris is in France.",
            "Rome is in Italy.",
        ]))
        .unwrap();
    let pine = AttentionMode::Pine(TieRule::ContentHash);
    // Two causal prompts sharing an opening, one sharing a slot's earlier tokens, and PINE.
    let batches = [
        vec![
            (a.clone(), AttentionMode::Causal),
            (b.clone(), AttentionMode::Causal),
            (a.clone(), pine),
        ],
        vec![(b.clone(), pine), (a.clone(), AttentionMode::Causal)],
    ];
    let opts = GenerateOptions::new().max_tokens(24).greedy().stop(".");
    let parts = Model::builder(common::smollm2_path())
        .backend(BackendKind::Cpu)
        .load_parts()
        .unwrap();
    let mut slots = pine::model::Slots::new(parts.weights, 3, 512, pine::CacheType::F16).unwrap();
    for prompts in &batches {
        let got = pine::greedy_batch(&mut slots, &parts.tokenizer, prompts, 24, ".").unwrap();
        for ((layout, mode), got) in prompts.iter().zip(&got) {
            let want = match mode {
                AttentionMode::Causal => model.generate_with(layout.tokens(), &opts, |_| {}),
                &mode => model.generate_with(Prompt::Layout(layout.clone(), mode), &opts, |_| {}),
            }
            .unwrap();
            assert_eq!(got.text, want.text, "{mode:?}");
            assert_eq!(got.finish_reason, want.finish_reason);
            assert_eq!(got.prompt_tokens, want.prompt_tokens);
            assert!(!got.text.is_empty());
        }
    }
    // Slot 1 held `b` and now `a`: their common opening was re-used.
    let again = pine::greedy_batch(
        &mut slots,
        &parts.tokenizer,
        &[
            (a.clone(), AttentionMode::Causal),
            (a, AttentionMode::Causal),
        ],
        4,
        "",
    )
    .unwrap();
    assert_eq!(again[0].cached_tokens, 0); // slot 0 held a PINE layout
    assert_eq!(again[1].cached_tokens, again[1].prompt_tokens - 1);
    assert_eq!(again[0].text, again[1].text);
}

/// Exact Vulkan numerics asked of the CPU backend are a request error (as a device index is),
/// found before the model loads.
#[cfg(feature = "vulkan")]
#[test]
fn exact_vulkan_numerics_need_a_backend_that_can_be_vulkan() {
    let e = Model::builder(common::smollm2_path())
        .backend(BackendKind::Cpu)
        .vulkan_numerics(pine::VulkanNumerics::Exact)
        .load()
        .err()
        .unwrap();
    assert!(matches!(e, pine::Error::Request(_)), "{e:?}");
    assert!(e.to_string().contains("exact Vulkan numerics"), "{e}");
}
