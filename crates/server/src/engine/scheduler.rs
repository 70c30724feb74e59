//! The scheduler thread: admission into slots, one batched model step at a time, sampling and
//! streaming of every active request.

use std::time::Instant;

use pine::{token_logprob, StopMatcher, StopStep};
use pine_backend::Backend;
use pine_model::{Pick, Picked, Sampler, SamplerConfig, SlotWork, Slots};
use pine_tokenizer::{StreamDecoder, Tokenizer};
use tokio::sync::mpsc::UnboundedSender;

use super::api::{Event, FinishReason, Prompt, Request, Usage};
use super::{EngineConfig, Queued, Shared};

/// A request being served in a slot.
struct Active<'t> {
    tx: UnboundedSender<Event>,
    max_tokens: usize,
    ignore_eos: bool,
    logprobs: Option<usize>,
    sampler: Sampler,
    decoder: StreamDecoder<'t>,
    stop: StopMatcher,
    /// Prompt tokens still to evaluate (causal prompts, in chunks).
    pending: Vec<u32>,
    /// The sampled token to append at the next step.
    next: Option<u32>,
    usage: Usage,
    submitted: Instant,
    ttft_s: Option<f64>,
}

/// What one step did for the counters.
#[derive(Default)]
struct StepCounts {
    prompt_tokens: u64,
    cached_tokens: u64,
    generated: u64,
    finished: u64,
    cancelled: u64,
    prompt_seconds: f64,
    decode_seconds: f64,
}

pub(super) fn run<B: Backend>(
    mut slots: Slots<B>,
    tok: &Tokenizer,
    shared: &Shared,
    config: &EngineConfig,
) {
    let n_slots = slots.n_slots();
    let mut active: Vec<Option<Active<'_>>> = (0..n_slots).map(|_| None).collect();
    let mut counts = StepCounts::default();
    loop {
        // Publish the last step's counts, then take new requests into free slots (waiting while
        // there is nothing to do).
        let admitted = {
            let mut st = shared.lock();
            let s = &mut st.stats;
            s.prompt_tokens_evaluated += counts.prompt_tokens;
            s.prompt_tokens_cached += counts.cached_tokens;
            s.tokens_generated += counts.generated;
            s.requests_finished += counts.finished;
            s.requests_cancelled += counts.cancelled;
            s.prompt_seconds += counts.prompt_seconds;
            s.decode_seconds += counts.decode_seconds;
            counts = StepCounts::default();
            loop {
                let busy = active.iter().filter(|a| a.is_some()).count();
                st.stats.slots_busy = busy;
                st.stats.queue_depth = st.queue.len();
                shared.changed.notify_all();
                if st.stopped {
                    return;
                }
                if busy > 0 || !st.queue.is_empty() {
                    break;
                }
                st = shared.changed.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            let mut taken = Vec::new();
            let free = active.iter().filter(|a| a.is_none()).count();
            while taken.len() < free {
                match st.queue.pop_front() {
                    Some(q) => taken.push(q),
                    None => break,
                }
            }
            st.stats.slots_busy += taken.len();
            st.stats.queue_depth = st.queue.len();
            taken
        };
        for q in admitted {
            admit(q, &mut slots, &mut active, tok, &mut counts);
        }
        step(&mut slots, &mut active, tok, config, &mut counts);
    }
}

/// The free slot for `prompt`: the one whose cached tokens share the longest prefix with it
/// (ties: the lowest slot), or the emptiest one when none shares any; and the shared length.
fn choose_slot<B: Backend>(
    slots: &Slots<B>,
    active: &[Option<Active<'_>>],
    prompt: &Prompt,
) -> (usize, usize) {
    let free = (0..active.len()).filter(|&s| active[s].is_none());
    let common = |s: usize| match prompt {
        Prompt::Tokens(ids) if !slots.holds_layout(s) => slots
            .tokens(s)
            .iter()
            .zip(ids)
            .take_while(|(a, b)| a == b)
            .count(),
        _ => 0,
    };
    let best = free
        .map(|s| {
            (
                common(s),
                std::cmp::Reverse(slots.tokens(s).len()),
                std::cmp::Reverse(s),
            )
        })
        .max()
        .map(|(c, _, std::cmp::Reverse(s))| (s, c));
    best.expect("admission only with a free slot")
}

fn admit<'t, B: Backend>(
    q: Queued,
    slots: &mut Slots<B>,
    active: &mut [Option<Active<'t>>],
    tok: &'t Tokenizer,
    counts: &mut StepCounts,
) {
    let Queued {
        request,
        tx,
        submitted,
    } = q;
    let Request {
        prompt,
        max_tokens,
        sampling,
        stop,
        logprobs,
        ignore_eos,
    } = request;
    let (slot, common) = choose_slot(slots, active, &prompt);
    let mut a = Active {
        tx,
        max_tokens,
        ignore_eos,
        logprobs,
        sampler: Sampler::new(SamplerConfig {
            temperature: sampling.temperature,
            top_k: sampling.top_k,
            top_p: sampling.top_p,
            min_p: sampling.min_p,
            repeat_penalty: sampling.repeat_penalty,
            repeat_last_n: sampling.penalty_last_n,
            frequency_penalty: sampling.frequency_penalty,
            presence_penalty: sampling.presence_penalty,
            seed: sampling.seed,
        }),
        decoder: StreamDecoder::new(tok),
        stop: StopMatcher::new(stop),
        pending: Vec::new(),
        next: None,
        usage: Usage {
            prompt_tokens: prompt.len(),
            ..Usage::default()
        },
        submitted,
        ttft_s: None,
    };
    match prompt {
        Prompt::Tokens(ids) => {
            // At least the last prompt token is evaluated again: its logits start generation.
            let common = common.min(ids.len().saturating_sub(1));
            slots.truncate(slot, common);
            a.usage.cached_tokens = common;
            counts.cached_tokens += common as u64;
            a.pending = ids[common..].to_vec();
            if a.pending.is_empty() {
                let _ =
                    a.tx.send(Event::Error("empty prompt: nothing to evaluate".into()));
                counts.finished += 1;
                return;
            }
            active[slot] = Some(a);
        }
        Prompt::Layout { layout, mode } => {
            let t = Instant::now();
            let result = slots.evaluate_layout(slot, &layout, mode);
            counts.prompt_seconds += t.elapsed().as_secs_f64();
            counts.prompt_tokens += layout.len() as u64;
            match result {
                Ok(logits) => {
                    active[slot] = Some(a);
                    let picked = Picked::Logits(logits);
                    take_token(slot, tok, &picked, slots, active, counts);
                }
                Err(e) => {
                    slots.truncate(slot, 0);
                    let _ = a.tx.send(Event::Error(e.to_string()));
                    counts.finished += 1;
                }
            }
        }
    }
}

/// One model step over every active slot.
fn step<B: Backend>(
    slots: &mut Slots<B>,
    active: &mut [Option<Active<'_>>],
    tok: &Tokenizer,
    config: &EngineConfig,
    counts: &mut StepCounts,
) {
    // Requests whose client went away free their slots first.
    for a in active.iter_mut() {
        if a.as_ref().is_some_and(|a| a.tx.is_closed()) {
            *a = None;
            counts.cancelled += 1;
            counts.finished += 1;
        }
    }
    let mut budget = config.prefill_chunk.max(1);
    // (slot, tokens, whether this completes the prompt / is a decode token)
    let mut plan: Vec<(usize, Vec<u32>, bool)> = Vec::new();
    let mut prompt_rows = 0;
    for (s, a) in active.iter_mut().enumerate() {
        let Some(a) = a else { continue };
        if let Some(id) = a.next.take() {
            plan.push((s, vec![id], true));
        } else if !a.pending.is_empty() && budget > 0 {
            let n = a.pending.len().min(budget);
            budget -= n;
            prompt_rows += n;
            let chunk: Vec<u32> = a.pending.drain(..n).collect();
            let last = a.pending.is_empty();
            plan.push((s, chunk, last));
        }
    }
    if plan.is_empty() {
        return;
    }
    let work: Vec<SlotWork<'_>> = plan
        .iter()
        .map(|(s, ids, logits)| SlotWork {
            slot: *s,
            ids,
            logits: *logits,
        })
        .collect();
    let pick = pick_for(
        plan.iter()
            .filter(|p| p.2)
            .filter_map(|p| active[p.0].as_ref()),
    );
    let t = Instant::now();
    let result = slots.step_picking(&work, pick);
    let secs = t.elapsed().as_secs_f64();
    match prompt_rows {
        0 => counts.decode_seconds += secs,
        _ => counts.prompt_seconds += secs,
    }
    counts.prompt_tokens += prompt_rows as u64;
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            for (s, _, _) in &plan {
                if let Some(a) = active[*s].take() {
                    let _ = a.tx.send(Event::Error(e.to_string()));
                    counts.finished += 1;
                }
            }
            return;
        }
    };
    for ((s, _, wanted), picked) in plan.iter().zip(out) {
        if *wanted {
            take_token(*s, tok, &picked, slots, active, counts);
        }
    }
}

/// What a step asks of the logits of `sampling` requests: only the greedy token when every one
/// decodes greedily, only the top k (the largest k among them) when every one samples from its
/// top k, else the logits (log-probabilities, penalties, top-k off, or a mix). A GPU then reads
/// back a few bytes per request instead of the vocabulary's logits.
fn pick_for<'a, 'b: 'a>(sampling: impl Iterator<Item = &'a Active<'b>> + Clone) -> Pick {
    let plain = |a: &Active<'_>| a.logprobs.is_none();
    if sampling.clone().all(|a| plain(a) && a.sampler.is_greedy()) {
        return Pick::Argmax;
    }
    let ks: Option<Vec<usize>> = sampling
        .map(|a| plain(a).then(|| a.sampler.backend_top_k()).flatten())
        .collect();
    match ks.and_then(|ks| ks.into_iter().max()) {
        Some(k) => Pick::TopK(k),
        None => Pick::Logits,
    }
}

/// Samples the next token of the request in `slot` from what the step picked of its logits
/// ([`pick_for`]) and streams it; finishes the request at end of generation, a stop string,
/// its token limit or a full context.
fn take_token<B: Backend>(
    slot: usize,
    tok: &Tokenizer,
    picked: &Picked,
    slots: &Slots<B>,
    active: &mut [Option<Active<'_>>],
    counts: &mut StepCounts,
) {
    let Some(a) = active[slot].as_mut() else {
        return;
    };
    let (id, logits) = match picked {
        Picked::Logits(l) => (a.sampler.sample(l, slots.tokens(slot)), Some(l)),
        Picked::Token(id) => (*id, None),
        Picked::Top(top) => {
            // The step's k is the largest of its requests': this one's k best lead it.
            let k = a
                .sampler
                .backend_top_k()
                .unwrap_or(top.len())
                .min(top.len());
            (a.sampler.sample_top(&top[..k]), None)
        }
        Picked::Nothing => return,
    };
    if a.ttft_s.is_none() {
        a.ttft_s = Some(a.submitted.elapsed().as_secs_f64());
    }
    // (why it ends, whether a stop string cut the text)
    let finish = if tok.is_eog(id) && !a.ignore_eos {
        Some((FinishReason::Stop, false))
    } else {
        a.usage.completion_tokens += 1;
        counts.generated += 1;
        let logprob = a.logprobs.zip(logits).map(|(n, l)| token_logprob(l, id, n));
        let (text, stopped) = match a.stop.push(&a.decoder.push(id)) {
            StopStep::Text(t) => (t, false),
            StopStep::Stop { text, .. } => (text, true),
        };
        if a.tx.send(Event::Token { id, text, logprob }).is_err() {
            active[slot] = None;
            counts.cancelled += 1;
            counts.finished += 1;
            return;
        }
        if stopped {
            Some((FinishReason::Stop, true))
        } else if a.usage.completion_tokens >= a.max_tokens
            || slots.tokens(slot).len() >= slots.n_ctx()
        {
            Some((FinishReason::Length, false))
        } else {
            a.next = Some(id);
            None
        }
    };
    if let Some((reason, cut)) = finish {
        let Some(mut a) = active[slot].take() else {
            return;
        };
        // What is still held (an incomplete UTF-8 sequence, a partial stop string) is released
        // unless a stop string already ended the text.
        let text = match cut {
            true => String::new(),
            false => match a.stop.push(&a.decoder.finish()) {
                StopStep::Text(mut t) => {
                    t.push_str(&a.stop.finish());
                    t
                }
                StopStep::Stop { text, .. } => text,
            },
        };
        let _ = a.tx.send(Event::Done {
            text,
            finish_reason: reason,
            usage: a.usage,
            ttft_s: a.ttft_s.unwrap_or(0.0),
        });
        counts.finished += 1;
    }
}
