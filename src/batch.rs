//! [`greedy_batch`]: greedy answers to several prompts at once over [`Slots`]. The causal
//! prompts' work — their prefill, then one generated token each per step — runs as one batch
//! through the model; PINE and anchor prompts run in their slots' own caches. A slot's rows do
//! not depend on the other rows of their batch, so every answer is the one
//! [`Model::generate`](crate::Model::generate) gives alone with
//! [`GenerateOptions::greedy`](crate::GenerateOptions::greedy).

use pine_attention::{AttentionMode, Layout};
use pine_backend::Backend;
use pine_model::{argmax, SlotWork, Slots};
use pine_tokenizer::{StreamDecoder, Tokenizer};

use crate::error::{Error, Result};
use crate::generate::FinishReason;
use crate::stop::{StopMatcher, StopStep};

/// One prompt's greedy answer from [`greedy_batch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchAnswer {
    /// The generated text (without the stop string).
    pub text: String,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Tokens of a causal prompt re-used from what its slot held (not evaluated again).
    pub cached_tokens: usize,
}

/// One sequence being generated.
struct Sequence<'t> {
    decoder: StreamDecoder<'t>,
    stop: StopMatcher,
    text: String,
    generated: usize,
    /// The logits the next token is chosen from.
    logits: Vec<f32>,
    /// The token to append to the slot before the next choice.
    next: Option<u32>,
    finish: Option<FinishReason>,
}

impl Sequence<'_> {
    /// Passes decoded text through the stop matcher; true when a stop string ended it.
    fn feed(&mut self, text: &str) -> bool {
        match self.stop.push(text) {
            StopStep::Text(t) => {
                self.text.push_str(&t);
                false
            }
            StopStep::Stop { text, index } => {
                self.text.push_str(&text);
                self.finish = Some(FinishReason::Stop { index });
                true
            }
        }
    }

    /// Ends the sequence: an unfinished character and held text come out, unless they
    /// complete a stop string.
    fn end(&mut self, reason: FinishReason) {
        let tail = self.decoder.finish();
        if !tail.is_empty() && self.feed(&tail) {
            return;
        }
        let held = self.stop.finish();
        self.text.push_str(&held);
        self.finish = Some(reason);
    }
}

/// Generates greedily from each of `prompts` (prompt `i` in slot `i`, so there must be no more
/// prompts than slots) until an end-of-generation token, the `stop` string (not included in
/// the text; empty for none), `max_tokens` generated tokens or a full slot, and returns the
/// answers in order. A causal prompt's tokens re-use the common prefix of what its slot held
/// (empty the slots with [`Slots::truncate`] to evaluate every prompt whole); a PINE or anchor
/// prompt is evaluated whole in its slot.
pub fn greedy_batch<B: Backend>(
    slots: &mut Slots<B>,
    tokenizer: &Tokenizer,
    prompts: &[(Layout, AttentionMode)],
    max_tokens: usize,
    stop: &str,
) -> Result<Vec<BatchAnswer>> {
    if prompts.len() > slots.n_slots() {
        return Err(Error::Request(format!(
            "{} prompts for {} slots",
            prompts.len(),
            slots.n_slots()
        )));
    }
    let mut cached = vec![0; prompts.len()];
    let mut causal = Vec::new();
    for (slot, (layout, mode)) in prompts.iter().enumerate() {
        if *mode == AttentionMode::Causal {
            let ids = layout.tokens();
            if ids.is_empty() {
                return Err(Error::Request("empty prompt: nothing to evaluate".into()));
            }
            let held = if slots.holds_layout(slot) {
                &[][..]
            } else {
                slots.tokens(slot)
            };
            let common = held.iter().zip(&ids).take_while(|(a, b)| a == b).count();
            // At least the last token is evaluated again: its logits start the generation.
            cached[slot] = common.min(ids.len() - 1);
            slots.truncate(slot, cached[slot]);
            causal.push((slot, ids));
        }
    }
    let work: Vec<SlotWork<'_>> = causal
        .iter()
        .map(|(slot, ids)| SlotWork {
            slot: *slot,
            ids: &ids[cached[*slot]..],
            logits: true,
        })
        .collect();
    let mut logits = vec![Vec::new(); prompts.len()];
    for (w, l) in work.iter().zip(slots.step(&work)?) {
        logits[w.slot] = l;
    }
    for (slot, (layout, mode)) in prompts.iter().enumerate() {
        if *mode != AttentionMode::Causal {
            logits[slot] = slots.evaluate_layout(slot, layout, *mode)?;
        }
    }
    let mut seqs: Vec<Sequence<'_>> = logits
        .into_iter()
        .map(|logits| Sequence {
            decoder: StreamDecoder::new(tokenizer),
            stop: StopMatcher::new([stop]),
            text: String::new(),
            generated: 0,
            logits,
            next: None,
            finish: None,
        })
        .collect();
    loop {
        for (slot, s) in seqs.iter_mut().enumerate() {
            if s.finish.is_some() {
                continue;
            }
            if s.generated >= max_tokens {
                s.end(FinishReason::Length);
                continue;
            }
            let id = argmax(&s.logits);
            if tokenizer.is_eog(id) {
                s.end(FinishReason::EndOfGeneration);
                continue;
            }
            s.generated += 1;
            let text = s.decoder.push(id);
            if s.feed(&text) {
                continue;
            }
            if s.generated >= max_tokens {
                s.end(FinishReason::Length);
            } else if slots.tokens(slot).len() >= slots.n_ctx() {
                s.end(FinishReason::ContextFull);
            } else {
                s.next = Some(id);
            }
        }
        let ids: Vec<(usize, [u32; 1])> = seqs
            .iter_mut()
            .enumerate()
            .filter_map(|(slot, s)| s.next.take().map(|id| (slot, [id])))
            .collect();
        if ids.is_empty() {
            break;
        }
        let work: Vec<SlotWork<'_>> = ids
            .iter()
            .map(|(slot, id)| SlotWork {
                slot: *slot,
                ids: id,
                logits: true,
            })
            .collect();
        for (w, l) in work.iter().zip(slots.step(&work)?) {
            seqs[w.slot].logits = l;
        }
    }
    Ok(seqs
        .into_iter()
        .zip(prompts)
        .zip(cached)
        .map(|((s, (layout, _)), cached_tokens)| BatchAnswer {
            text: s.text,
            finish_reason: s.finish.expect("every sequence has finished"),
            prompt_tokens: layout.len(),
            cached_tokens,
        })
        .collect())
}
