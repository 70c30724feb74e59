//! The engine behind pine-serve on SmolLM2 (CPU): continuous batching gives every greedy
//! request the tokens it gets alone, stop strings, limits, prefix reuse, cancellation, queue
//! and context refusals, PINE requests, and draining.

mod common;

use std::sync::Arc;

use pine_attention::{AttentionMode, Layout, TieRule};
use pine_backend::{CacheType, CpuBackend, MatmulMode};
use pine_model::{AnyBackend, Slots, Transformer};
use pine_server::engine::{
    Engine, EngineConfig, Event, FinishReason, Handle, Prompt, Rejected, Request, Sampling, Usage,
};
use pine_tokenizer::Tokenizer;
use tokio::sync::mpsc::UnboundedReceiver;

fn engine(n_slots: usize, n_ctx: usize, config: EngineConfig) -> (Engine, Arc<Tokenizer>) {
    let file = Arc::new(pine_gguf::Gguf::open(common::model()).unwrap());
    let tok = Arc::new(Tokenizer::from_gguf(&file).unwrap());
    let model = Transformer::load(file, CpuBackend::new(2, MatmulMode::Native).unwrap()).unwrap();
    let slots = Slots::new(model, n_slots, n_ctx, CacheType::F16).unwrap();
    (Engine::start(slots, Arc::clone(&tok), config), tok)
}

fn greedy() -> Sampling {
    Sampling {
        temperature: 0.0,
        top_k: 40,
        top_p: 1.0,
        min_p: 0.0,
        repeat_penalty: 1.0,
        penalty_last_n: 64,
        frequency_penalty: 0.0,
        presence_penalty: 0.0,
        seed: 1,
    }
}

fn request(prompt: Vec<u32>, max_tokens: usize) -> Request {
    Request {
        prompt: Prompt::Tokens(prompt),
        max_tokens,
        sampling: greedy(),
        stop: Vec::new(),
        logprobs: None,
        ignore_eos: false,
    }
}

/// A finished request: its token ids, its text and how it ended.
#[derive(Debug, PartialEq)]
struct Output {
    ids: Vec<u32>,
    text: String,
    reason: FinishReason,
    usage: Usage,
}

fn collect(mut rx: UnboundedReceiver<Event>) -> Output {
    let (mut ids, mut text) = (Vec::new(), String::new());
    while let Some(e) = rx.blocking_recv() {
        match e {
            Event::Token { id, text: t, .. } => {
                ids.push(id);
                text.push_str(&t);
            }
            Event::Done {
                text: t,
                finish_reason,
                usage,
                ..
            } => {
                text.push_str(&t);
                return Output {
                    ids,
                    text,
                    reason: finish_reason,
                    usage,
                };
            }
            Event::Error(e) => panic!("request failed: {e}"),
            e => panic!("unexpected event {e:?}"),
        }
    }
    panic!("the engine closed the stream without Done")
}

fn run(h: &Handle, r: Request) -> Output {
    collect(h.submit(r).unwrap())
}

fn wait_idle(h: &Handle) {
    for _ in 0..500 {
        let s = h.stats();
        if s.slots_busy == 0 && s.queue_depth == 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the engine did not become idle: {:?}", h.stats());
}

const PROMPTS: [&str; 8] = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea, there lived an old fisherman who",
    "1, 2, 3, 4,",
    "Water boils at",
    "The best way to learn a language is",
    "def fibonacci(n):",
    "Q: What colour is the sky?\nA:",
    "In 1969, the first humans",
];

#[test]
fn eight_concurrent_greedy_requests_get_their_solo_tokens() {
    let (e, tok) = engine(8, 256, EngineConfig::default());
    let h = e.handle();
    let prompts: Vec<Vec<u32>> = PROMPTS
        .iter()
        .map(|p| tok.encode(p, true, false).unwrap())
        .collect();
    // Solo, one at a time (each lands in a fresh slot or re-uses none of another's prefix).
    let solo: Vec<Output> = prompts
        .iter()
        .map(|p| run(&h, request(p.clone(), 24)))
        .collect();
    // All at once, with different lengths so prompts prefill beside others' decoding.
    let rxs: Vec<_> = prompts
        .iter()
        .enumerate()
        .map(|(i, p)| h.submit(request(p.clone(), 16 + i)).unwrap())
        .collect();
    for (i, rx) in rxs.into_iter().enumerate() {
        let got = collect(rx);
        let n = got.ids.len();
        assert_eq!(
            got.ids[..],
            solo[i].ids[..n],
            "prompt {i}: batched tokens differ from solo"
        );
        assert!(n == 16 + i || got.reason == FinishReason::Stop);
        assert_eq!(got.usage.prompt_tokens, prompts[i].len());
    }
    wait_idle(&h);
    let s = h.stats();
    assert_eq!(s.requests_total, 16);
    assert_eq!(s.requests_finished, 16);
    assert_eq!(s.slots_total, 8);
}

/// Without log-probabilities a step asks the model only for each request's greedy token or top
/// k (`Pick::Argmax`, `Pick::TopK`: on a GPU a few bytes read back instead of the logits); with
/// them, for the logits. Greedy and seeded sampling give the same tokens either way, also with
/// requests of different top-k sharing steps.
#[test]
fn picking_the_token_on_the_backend_gives_the_logits_paths_tokens() {
    let (e, tok) = engine(3, 256, EngineConfig::default());
    let h = e.handle();
    let p = tok
        .encode("Once upon a time, there was a", true, false)
        .unwrap();
    let req = |temperature: f32, top_k: usize, logprobs: Option<usize>| {
        let mut r = request(p.clone(), 12);
        r.sampling = Sampling {
            temperature,
            top_k,
            seed: 9,
            ..greedy()
        };
        r.logprobs = logprobs;
        r
    };
    for (temperature, top_k) in [(0.0, 40), (1.3, 40), (1.3, 5)] {
        let picked = run(&h, req(temperature, top_k, None));
        let from_logits = run(&h, req(temperature, top_k, Some(1)));
        assert_eq!(
            picked.ids, from_logits.ids,
            "temperature {temperature}, top-k {top_k}"
        );
    }
    // Top-k 5 and 40 side by side: each step selects the top 40, and the top-5 request draws
    // from its first five.
    let solo = run(&h, req(1.3, 5, None)).ids;
    let rx5 = h.submit(req(1.3, 5, None)).unwrap();
    let rx40 = h.submit(req(1.3, 40, None)).unwrap();
    assert_eq!(collect(rx5).ids, solo);
    assert_eq!(collect(rx40).ids, run(&h, req(1.3, 40, Some(1))).ids);
}

#[test]
fn stop_strings_limits_prefix_reuse_and_logprobs() {
    let (e, tok) = engine(2, 256, EngineConfig::default());
    let h = e.handle();
    let p = tok
        .encode("Once upon a time, there was a", true, false)
        .unwrap();
    let full = run(&h, request(p.clone(), 20));
    assert_eq!(full.reason, FinishReason::Length);
    assert_eq!(full.ids.len(), 20);
    // The text is the generated tokens' pieces, as they were streamed.
    assert_eq!(full.text, tok.join_pieces(&full.ids, false));

    // A stop string from the middle of that text: the text ends right before it.
    let cut = full
        .text
        .char_indices()
        .nth(full.text.chars().count() / 2)
        .unwrap()
        .0;
    let stop: String = full.text[cut..].chars().take(3).collect();
    let before = &full.text[..full.text.find(&stop).unwrap()];
    let mut r = request(p.clone(), 20);
    r.stop = vec!["never appears".into(), stop.clone()];
    let stopped = run(&h, r);
    assert_eq!(stopped.reason, FinishReason::Stop);
    assert_eq!(stopped.text, before, "stop {stop:?}");

    // The same prompt again re-uses the slot's cache (all but the last prompt token) and
    // gives the same tokens; a longer prompt re-uses the common prefix.
    let again = run(&h, request(p.clone(), 20));
    assert_eq!(again.ids, full.ids);
    assert_eq!(again.usage.cached_tokens, p.len() - 1);
    let mut longer = p.clone();
    longer.extend_from_slice(&full.ids[..5]);
    let cont = run(&h, request(longer.clone(), 10));
    assert!(cont.usage.cached_tokens >= p.len(), "{:?}", cont.usage);
    assert_eq!(cont.ids[..], full.ids[5..15]);

    // Log-probabilities: the greedy token is the most likely one.
    let mut r = request(p, 3);
    r.logprobs = Some(4);
    let mut rx = h.submit(r).unwrap();
    let mut n = 0;
    while let Some(Event::Token { id, logprob, .. }) = rx.blocking_recv() {
        let lp = logprob.expect("logprobs asked for");
        assert_eq!(lp.top.len(), 4);
        assert_eq!(lp.top[0].id, id);
        assert!(lp.logprob <= 0.0 && lp.top.windows(2).all(|w| w[0].logprob >= w[1].logprob));
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn refusals_cancellation_and_draining() {
    let config = EngineConfig {
        max_queue: 1,
        prefill_chunk: 64,
    };
    let (e, tok) = engine(1, 128, config);
    let h = e.handle();
    let p = tok
        .encode("Once upon a time, there was a", true, false)
        .unwrap();
    // Prompt + max_tokens over the slot's context.
    match h.submit(request(p.clone(), 128)) {
        Err(Rejected::TooLong {
            prompt,
            max_tokens: 128,
            n_ctx: 128,
        }) => assert_eq!(prompt, p.len()),
        other => panic!("expected TooLong, got {other:?}", other = other.map(|_| ())),
    }
    // One request generating, one queued, the third refused.
    let mut first = h.submit(request(p.clone(), 80)).unwrap();
    assert!(matches!(first.blocking_recv(), Some(Event::Token { .. })));
    let second = h.submit(request(p.clone(), 4)).unwrap();
    assert!(matches!(
        h.submit(request(p.clone(), 4)),
        Err(Rejected::QueueFull)
    ));
    // The first client goes away: its slot is freed and the queued request runs.
    drop(first);
    let out = collect(second);
    assert_eq!(out.ids.len(), 4);
    wait_idle(&h);
    let s = h.stats();
    assert_eq!(s.requests_cancelled, 1);
    assert_eq!(s.requests_rejected, 2);
    // Draining: in-flight work finishes, new work is refused.
    let rx = h.submit(request(p.clone(), 8)).unwrap();
    let h2 = h.clone();
    let drain = std::thread::spawn(move || h2.drain());
    assert_eq!(collect(rx).ids.len(), 8);
    drain.join().unwrap();
    assert!(matches!(
        h.submit(request(p, 1)),
        Err(Rejected::ShuttingDown)
    ));
}

#[test]
fn pine_requests_do_not_depend_on_segment_order() {
    let (e, tok) = engine(3, 256, EngineConfig::default());
    let h = e.handle();
    let enc = |t: &str, bos| tok.encode(t, bos, false).unwrap();
    let docs = [
        enc("\nThe Larkspur Bridge opened in 1931.", false),
        enc("\nTomatoes are fruits.", false),
        enc("\nMount Arden is 2,104 metres high.", false),
    ];
    let layout = |order: [usize; 3]| Layout {
        prefix: enc("Facts:", true),
        segments: order.iter().map(|&i| docs[i].clone()).collect(),
        suffix: enc("\nWhen did the bridge open? Answer:", false),
    };
    let mut outs = Vec::new();
    // Each PINE request runs beside a causal one.
    for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0]] {
        let mut r = request(Vec::new(), 12);
        r.prompt = Prompt::Layout {
            layout: layout(order),
            mode: AttentionMode::Pine(TieRule::ContentHash),
        };
        let side = h.submit(request(enc("Water boils at", true), 12)).unwrap();
        outs.push(run(&h, r));
        collect(side);
    }
    assert!(!outs[0].ids.is_empty());
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[0], outs[2]);
}

#[test]
fn the_server_backend_can_run_on_the_engine_thread() {
    fn send<T: Send>() {}
    send::<Slots<AnyBackend>>();
}
