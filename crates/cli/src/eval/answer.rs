//! Greedy answers to segmented prompts, `--batch` of them at a time over [`Slots`]
//! ([`pine::greedy_batch`]): causal prompts decode together in one forward per step, each
//! re-using the common prefix of what its slot held before; PINE and anchor evaluate their
//! layouts. The answers are those of one prompt at a time.

use std::path::PathBuf;

use pine::model::{AnyBackend, Slots};
use pine::prompt::{chat_layout, raw_layout};
use pine::tokenizer::{ChatTemplate, Tokenizer};
use pine::{CacheType, Layout, SegmentedPrompt};

use super::args::CommonArgs;
use super::cost::Cost;
use super::{progress, Mode};

/// Per item, per order: the answer's text and whether it was generated (not copied).
pub type Outputs = Vec<Vec<(String, bool)>>;

/// The model as the generation tasks use it: its tokenizer and template, and the slots.
pub struct Answerer {
    /// The model file.
    pub path: PathBuf,
    /// The backend, in words.
    pub backend: String,
    tokenizer: Tokenizer,
    template: Option<ChatTemplate>,
    slots: Slots<AnyBackend>,
}

impl Answerer {
    /// Loads the model the flags name with `batch` slots of the context size.
    pub fn load(common: &CommonArgs, batch: usize) -> Result<Answerer, String> {
        let (builder, path) = super::builder(common)?;
        let parts = builder.load_parts().map_err(|e| e.to_string())?;
        let backend = parts.weights.backend.describe();
        super::loaded(&path, &parts.weights.params.arch, &backend);
        let slots = Slots::new(
            parts.weights,
            batch,
            common.ctx_size,
            CacheType::from(common.cache_type),
        )
        .map_err(|e| format!("--batch {batch}, -c/--ctx-size {}: {e}", common.ctx_size))?;
        Ok(Answerer {
            path,
            backend,
            tokenizer: parts.tokenizer,
            template: parts.template,
            slots,
        })
    }

    /// The layout of a segmented prompt, through the chat template when the model has one.
    pub fn layout(&self, prompt: &SegmentedPrompt) -> pine::Result<Layout> {
        match &self.template {
            Some(t) => chat_layout(&self.tokenizer, t, prompt),
            None => raw_layout(&self.tokenizer, prompt),
        }
    }

    /// Greedy answers (up to `max_tokens`, ending at `stop`) to every order of every item in
    /// `mode`: `layouts[i][k]` is item `i` in order `k`. Order 0, and every order when the mode
    /// runs every order, are generated; the others copy order 0's answer. Returns each
    /// answer's text and whether it was generated, and the cost (with `--no-prefix-cache` every
    /// prompt starts from an empty slot).
    pub fn answer_orders(
        &mut self,
        task: &str,
        layouts: &[Vec<Layout>],
        mode: Mode,
        common: &CommonArgs,
        max_tokens: usize,
        stop: &str,
    ) -> Result<(Outputs, Cost), String> {
        let every = mode.runs_every_order(common.all_orders);
        // (item, order) of every generated answer.
        let todo: Vec<(usize, usize)> = layouts
            .iter()
            .enumerate()
            .flat_map(|(i, orders)| {
                let n = if every { orders.len() } else { 1 };
                (0..n).map(move |k| (i, k))
            })
            .collect();
        let bar = progress::bar(task, todo.len());
        bar.set_message(mode.name);
        let mut cost = Cost::start();
        let mut texts = vec![Vec::new(); layouts.len()];
        for chunk in todo.chunks(self.slots.n_slots()) {
            if common.no_prefix_cache {
                (0..chunk.len()).for_each(|s| self.slots.truncate(s, 0));
            }
            let prompts: Vec<(Layout, pine::AttentionMode)> = chunk
                .iter()
                .map(|&(i, k)| (layouts[i][k].clone(), mode.attention))
                .collect();
            let answers =
                pine::greedy_batch(&mut self.slots, &self.tokenizer, &prompts, max_tokens, stop)
                    .map_err(|e| e.to_string())?;
            for (&(i, _), a) in chunk.iter().zip(answers) {
                cost.prompt(a.prompt_tokens, a.cached_tokens);
                texts[i].push(a.text);
            }
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        cost.items = layouts.len();
        let all = layouts
            .iter()
            .zip(texts)
            .map(|(orders, texts)| {
                (0..orders.len())
                    .map(|k| match texts.get(k) {
                        Some(t) => (t.clone(), true),
                        None => (texts[0].clone(), false),
                    })
                    .collect()
            })
            .collect();
        Ok((all, cost.finish()))
    }
}
