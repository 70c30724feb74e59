//! A KV-cached conversation with a model: evaluate a prompt (plain, or a layout under an
//! attention mode), then decode one token at a time under the same mode.

use pine_attention::{
    AttentionMode, BatchSpec, FixedPlanner, Layout, LayoutPlanner, Planner, CHUNK,
};
use pine_backend::{AttentionPlan, Backend, CacheSpec, CacheType};

use crate::error::ModelError;
use crate::transformer::{Batch, Transformer};

/// Which logits an evaluation returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logits {
    /// Only the last position's (enough to generate).
    Last,
    /// Every position's (`--logits-out`, conformance tests).
    All,
}

/// How far an evaluation has got, reported after every layer of every batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Tokens of the evaluation finished before the batch in flight.
    pub done: usize,
    /// Tokens in the batch in flight.
    pub batch: usize,
    /// Tokens the evaluation has in all.
    pub total: usize,
    /// Layers of the batch in flight finished (1 to `n_layers`).
    pub layers: usize,
    /// Layers of the model.
    pub n_layers: usize,
}

impl Progress {
    /// The fraction of the evaluation's work done (layers of tokens), 0 to 1.
    pub fn fraction(&self) -> f64 {
        let whole = (self.total * self.n_layers).max(1) as f64;
        (self.done * self.n_layers + self.batch * self.layers) as f64 / whole
    }
}

/// A progress callback (see [`Session::on_progress`]).
pub type ProgressFn = Box<dyn FnMut(Progress) + Send>;

/// A model plus its KV cache and the tokens in it.
pub struct Session<B: Backend> {
    /// The model.
    pub model: Transformer<B>,
    cache: B::Cache,
    n_ctx: usize,
    tokens: Vec<u32>,
    /// Set while the cache holds a layout evaluated under a non-causal mode; decoding then
    /// follows that mode's plans.
    layout: Option<LayoutPlanner>,
    /// Called after every layer (long prompts report progress through it).
    progress: Option<ProgressFn>,
    /// Tokens of the evaluation in flight: (finished, in all).
    work: (usize, usize),
}

/// A forward pass of the model with some head (its logits, argmax or top k) over a batch, as
/// [`Session`] runs it: the model, its cache, the batch, the attention planner and a callback
/// per finished layer.
trait Forward<B: Backend, T>:
    FnOnce(
    &mut Transformer<B>,
    &mut B::Cache,
    &Batch<'_>,
    &mut dyn Planner<B>,
    &mut dyn FnMut(usize),
) -> Result<T, ModelError>
{
}

impl<B: Backend, T, F> Forward<B, T> for F where
    F: FnOnce(
        &mut Transformer<B>,
        &mut B::Cache,
        &Batch<'_>,
        &mut dyn Planner<B>,
        &mut dyn FnMut(usize),
    ) -> Result<T, ModelError>
{
}

impl<B: Backend> Session<B> {
    /// A session with room for `n_ctx` tokens (0 = the model's training context).
    pub fn new(
        mut model: Transformer<B>,
        n_ctx: usize,
        cache_type: CacheType,
    ) -> Result<Session<B>, ModelError> {
        let n_ctx = if n_ctx == 0 {
            model.params.n_ctx_train
        } else {
            n_ctx
        };
        let spec = CacheSpec {
            n_layers: model.params.n_layers,
            n_ctx,
            n_kv_heads: model.params.n_kv_heads,
            head_dim: model.params.head_dim,
            ty: cache_type,
        };
        let cache = model.backend.new_cache(spec)?;
        model.cover_positions(n_ctx);
        Ok(Session {
            model,
            cache,
            n_ctx,
            tokens: Vec::new(),
            layout: None,
            progress: None,
            work: (0, 0),
        })
    }

    /// Calls `f` after every layer of every batch an evaluation runs, so a caller can show
    /// progress on long prompts (a PINE layout of many segments runs as one long batch).
    pub fn on_progress(&mut self, f: ProgressFn) {
        self.progress = Some(f);
    }

    /// Tokens in the cache so far.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Context size in tokens.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Forgets every cached token.
    pub fn reset(&mut self) {
        self.tokens.clear();
        self.layout = None;
    }

    /// Keeps only the first `n` cached tokens (later slots are simply overwritten), so a chat
    /// can re-use the common prefix of a re-rendered conversation.
    pub fn truncate(&mut self, n: usize) {
        self.tokens.truncate(n);
        if n == 0 {
            self.layout = None;
        }
    }

    fn check_room(&self, n: usize) -> Result<(), ModelError> {
        if self.tokens.len() + n > self.n_ctx {
            return Err(ModelError::Request(format!(
                "{n} tokens do not fit the context of {} (already {} used); raise -c",
                self.n_ctx,
                self.tokens.len()
            )));
        }
        Ok(())
    }

    fn run(
        &mut self,
        spec: &BatchSpec,
        which: Logits,
        planner: &mut dyn Planner<B>,
    ) -> Result<Vec<f32>, ModelError> {
        self.run_with(spec, which, planner, |m, c, b, p, r| m.forward(c, b, p, r))
    }

    /// Runs the batch `spec` through `forward` (the model's logits or greedy-token pass) and
    /// records its tokens as cached.
    fn run_with<T>(
        &mut self,
        spec: &BatchSpec,
        which: Logits,
        planner: &mut dyn Planner<B>,
        forward: impl Forward<B, T>,
    ) -> Result<T, ModelError> {
        let n = spec.ids.len();
        let rows: Vec<usize> = match which {
            Logits::All => (0..n).collect(),
            Logits::Last => vec![n - 1],
        };
        let cache_index = spec.cache_index();
        let batch = Batch {
            ids: &spec.ids,
            positions: &spec.positions,
            cache_index: &cache_index,
            logits_rows: &rows,
        };
        let (done, total) = self.work;
        let n_layers = self.model.params.n_layers;
        let mut report = |l: usize| {
            if let Some(f) = self.progress.as_mut() {
                f(Progress {
                    done,
                    batch: n,
                    total: total.max(done + n),
                    layers: l + 1,
                    n_layers,
                });
            }
        };
        let logits = forward(
            &mut self.model,
            &mut self.cache,
            &batch,
            planner,
            &mut report,
        )?;
        self.work.0 += n;
        self.tokens.truncate(spec.start);
        self.tokens.extend_from_slice(&spec.ids);
        Ok(logits)
    }

    /// Appends `ids` with causal attention and returns their logits (`[rows, n_vocab]`).
    pub fn prefill(&mut self, ids: &[u32], which: Logits) -> Result<Vec<f32>, ModelError> {
        if ids.is_empty() {
            return Err(ModelError::Request(
                "empty prompt: nothing to evaluate".into(),
            ));
        }
        self.check_room(ids.len())?;
        self.work = (0, ids.len());
        if let Some(mut lp) = self.layout.take() {
            // Continuing a layout (e.g. a chat turn after PINE) keeps its mode.
            let mut out = gather(which, ids.len(), self.model.params.n_vocab)?;
            for &id in ids {
                let spec = lp.decode_batch(id, self.tokens.len());
                lp.begin(&spec);
                let logits = self.run(&spec, which, &mut lp);
                let logits = match logits {
                    Ok(l) => l,
                    Err(e) => {
                        self.layout = Some(lp);
                        return Err(e);
                    }
                };
                extend(&mut out, logits, which);
            }
            self.layout = Some(lp);
            return Ok(out);
        }
        let mut out = gather(which, ids.len(), self.model.params.n_vocab)?;
        for chunk in ids.chunks(CHUNK) {
            let start = self.tokens.len();
            let spec = BatchSpec {
                part: pine_attention::Part::Prefix,
                ids: chunk.to_vec(),
                start,
                positions: (start..start + chunk.len()).map(|p| p as i64).collect(),
            };
            let mut plan = FixedPlanner(AttentionPlan::causal(start, chunk.len()));
            let logits = self.run(&spec, which, &mut plan)?;
            extend(&mut out, logits, which);
        }
        Ok(out)
    }

    /// Evaluates a layout from an empty cache under `mode` and returns its logits (the last row
    /// is the last suffix token, or the last segment token when the suffix is empty). Later
    /// [`Session::decode`] calls continue under the same mode.
    pub fn evaluate(
        &mut self,
        layout: &Layout,
        mode: AttentionMode,
        which: Logits,
    ) -> Result<Vec<f32>, ModelError> {
        self.reset();
        if layout.is_empty() {
            return Err(ModelError::Request(
                "empty prompt: nothing to evaluate".into(),
            ));
        }
        self.check_room(layout.len())?;
        self.work = (0, layout.len());
        let mut lp = LayoutPlanner::new(layout, mode);
        let mut out = gather(which, layout.len(), self.model.params.n_vocab)?;
        for spec in lp.batches(layout) {
            lp.begin(&spec);
            let logits = self.run(&spec, which, &mut lp)?;
            extend(&mut out, logits, which);
        }
        if mode != AttentionMode::Causal {
            self.layout = Some(lp);
        }
        Ok(out)
    }

    /// Appends one token and returns its logits.
    pub fn decode(&mut self, id: u32) -> Result<Vec<f32>, ModelError> {
        self.prefill(&[id], Logits::Last)
    }

    /// Appends one token, as [`Session::decode`], and returns the greedy next token (the
    /// argmax of its logits, [`crate::argmax`]) without the logits: the backend takes the
    /// argmax where the logits are, so a GPU reads back one index instead of `n_vocab` floats.
    pub fn decode_greedy(&mut self, id: u32) -> Result<u32, ModelError> {
        let tokens = self.decode_one(id, |m, c, b, p, r| m.forward_argmax(c, b, p, r))?;
        tokens
            .first()
            .copied()
            .ok_or_else(|| ModelError::Request("no logits row was computed".into()))
    }

    /// Appends one token, as [`Session::decode`], and returns the `k` most likely next tokens
    /// with their logits (`k` = 0: all), highest first, the lower id first on ties
    /// ([`pine_backend::math::keep_top`]'s order) — what top-k sampling keeps of the logits
    /// [`Session::decode`] would return: a GPU selects them where the logits are and reads back
    /// `k` pairs.
    pub fn decode_top_k(&mut self, id: u32, k: usize) -> Result<Vec<(u32, f32)>, ModelError> {
        let rows = self.decode_one(id, |m, c, b, p, r| m.forward_top_k(c, b, p, r, k))?;
        rows.into_iter()
            .next()
            .ok_or_else(|| ModelError::Request("no logits row was computed".into()))
    }

    /// Appends one token through `forward` (a [`Transformer`] pass with some head), continuing
    /// a layout in its mode as [`Session::prefill`] does.
    fn decode_one<T>(&mut self, id: u32, forward: impl Forward<B, T>) -> Result<T, ModelError> {
        self.check_room(1)?;
        self.work = (0, 1);
        let start = self.tokens.len();
        if let Some(mut lp) = self.layout.take() {
            // Continuing a layout keeps its mode, as `prefill` does.
            let spec = lp.decode_batch(id, start);
            lp.begin(&spec);
            let out = self.run_with(&spec, Logits::Last, &mut lp, forward);
            self.layout = Some(lp);
            out
        } else {
            let spec = BatchSpec {
                part: pine_attention::Part::Prefix,
                ids: vec![id],
                start,
                positions: vec![start as i64],
            };
            let mut plan = FixedPlanner(AttentionPlan::causal(start, 1));
            self.run_with(&spec, Logits::Last, &mut plan, forward)
        }
    }

    /// The logits [`Session::decode_greedy`] or [`Session::decode_top_k`] chose from, read
    /// back now (`None` when the last step returned its logits instead): what
    /// [`Session::decode`] would have returned, for a decoder that needs them once (at its
    /// end, say).
    pub fn picked_logits(&mut self) -> Result<Option<Vec<f32>>, ModelError> {
        self.model.picked_logits()
    }
}

fn extend(out: &mut Vec<f32>, logits: Vec<f32>, which: Logits) {
    match which {
        Logits::All if out.is_empty() && out.capacity() < logits.len() => *out = logits,
        Logits::All => out.extend_from_slice(&logits),
        Logits::Last => *out = logits,
    }
}

/// The vector every position's logits are gathered in: room for all `n` rows of `n_vocab`
/// reserved at once, fallibly, so a long prompt's logits never double their memory while the
/// vector grows, and a size the machine cannot hold is an error naming it.
fn gather(which: Logits, n: usize, n_vocab: usize) -> Result<Vec<f32>, ModelError> {
    let mut out = Vec::new();
    if which == Logits::All {
        let len = n.saturating_mul(n_vocab);
        out.try_reserve_exact(len).map_err(|_| {
            ModelError::Request(format!(
                "the logits of {n} positions ({n} × {n_vocab} floats, {:.1} GiB) cannot be \
                 allocated",
                len as f64 * 4.0 / (1u64 << 30) as f64
            ))
        })?;
    }
    Ok(out)
}
