//! Slots: several independent token sequences over one model, as a server runs its parallel
//! requests. Every slot owns a region of one shared KV cache (slot `s` stores its token `i` at
//! cache index `s × n_ctx + i`), so the causal work of all slots — one generated token each,
//! chunks of new prompts — goes through the model as **one batch**: the weights are read once
//! per step for every slot's rows, and the attention plan gives each row only its own slot's
//! keys. A row's result does not depend on which other rows share its batch (every kernel works
//! row by row), so a greedy sequence gives the same tokens alone or batched.
//!
//! A slot can instead hold a layout evaluated under PINE or anchor attention; such a slot runs
//! in a cache of its own (made on first use and kept) with its layout's planner, one forward of
//! its own per step.

use pine_attention::{AttentionMode, FixedPlanner, Layout, LayoutPlanner};
use pine_backend::{
    AttentionPlan, Backend, CacheSpec, CacheType, HeadRanges, KeyRange, QueryGroup,
};

use crate::error::ModelError;
use crate::transformer::{Batch, Transformer};

/// Work for one slot in a step: append `ids` to the slot's sequence.
#[derive(Clone, Copy, Debug)]
pub struct SlotWork<'a> {
    /// The slot.
    pub slot: usize,
    /// Tokens to append (at least one).
    pub ids: &'a [u32],
    /// Whether the last token's logits are wanted.
    pub logits: bool,
}

/// What [`Slots::step_picking`] returns for each work item that wants its last token's logits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// The logits (`n_vocab` floats).
    Logits,
    /// The greedy token (the logits' [`crate::argmax`]), taken where the logits are.
    Argmax,
    /// The `k` best tokens and logits ([`pine_backend::math::keep_top`]'s order), selected
    /// where the logits are.
    TopK(usize),
}

/// A work item's result of [`Slots::step_picking`].
#[derive(Clone, Debug, PartialEq)]
pub enum Picked {
    /// The item did not want its logits.
    Nothing,
    /// [`Pick::Logits`].
    Logits(Vec<f32>),
    /// [`Pick::Argmax`].
    Token(u32),
    /// [`Pick::TopK`].
    Top(Vec<(u32, f32)>),
}

/// One sequence.
struct Slot<B: Backend> {
    /// Tokens in the slot's cache, in order.
    tokens: Vec<u32>,
    /// The planner of the PINE/anchor layout the slot holds (then `own_cache` holds its keys).
    layout: Option<LayoutPlanner>,
    /// The slot's own cache for layouts, kept once made.
    own_cache: Option<B::Cache>,
}

/// Several sequences over one model (see the module docs).
pub struct Slots<B: Backend> {
    /// The model.
    pub model: Transformer<B>,
    /// `n_slots × n_ctx` token slots.
    shared: B::Cache,
    /// Tokens per slot.
    n_ctx: usize,
    cache_type: CacheType,
    slots: Vec<Slot<B>>,
}

impl<B: Backend> Slots<B> {
    /// `n_slots` sequences of up to `n_ctx` tokens each, their keys and values stored as
    /// `cache_type`.
    pub fn new(
        mut model: Transformer<B>,
        n_slots: usize,
        n_ctx: usize,
        cache_type: CacheType,
    ) -> Result<Slots<B>, ModelError> {
        if n_slots == 0 || n_ctx == 0 {
            return Err(ModelError::Request(format!(
                "{n_slots} slots of {n_ctx} tokens: both must be at least 1"
            )));
        }
        let total = n_slots.checked_mul(n_ctx).ok_or_else(|| {
            ModelError::Request(format!("{n_slots} slots × {n_ctx} tokens overflows"))
        })?;
        model.cover_positions(n_ctx);
        let spec = cache_spec(&model, total, cache_type);
        let shared = model.backend.new_cache(spec)?;
        let slots = (0..n_slots)
            .map(|_| Slot {
                tokens: Vec::new(),
                layout: None,
                own_cache: None,
            })
            .collect();
        Ok(Slots {
            model,
            shared,
            n_ctx,
            cache_type,
            slots,
        })
    }

    /// Number of slots.
    pub fn n_slots(&self) -> usize {
        self.slots.len()
    }

    /// Tokens each slot holds at most.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// The tokens in `slot`'s cache.
    pub fn tokens(&self, slot: usize) -> &[u32] {
        &self.slots[slot].tokens
    }

    /// True while `slot` holds a PINE/anchor layout (its tokens then cannot be reused as a
    /// causal prefix).
    pub fn holds_layout(&self, slot: usize) -> bool {
        self.slots[slot].layout.is_some()
    }

    /// Keeps the first `n` tokens of `slot` (a later request re-uses them as its prefix). A
    /// slot holding a layout is emptied whatever `n` is.
    pub fn truncate(&mut self, slot: usize, n: usize) {
        let s = &mut self.slots[slot];
        if s.layout.take().is_some() {
            s.tokens.clear();
        }
        s.tokens.truncate(n);
    }

    /// Evaluates `layout` under `mode` in `slot` (emptied first) and returns the last row's
    /// logits. Later [`Slots::step`] work on the slot continues under the same mode.
    pub fn evaluate_layout(
        &mut self,
        slot: usize,
        layout: &Layout,
        mode: AttentionMode,
    ) -> Result<Vec<f32>, ModelError> {
        self.truncate(slot, 0);
        if layout.is_empty() {
            return Err(ModelError::Request(
                "empty prompt: nothing to evaluate".into(),
            ));
        }
        self.check_room(slot, layout.len())?;
        let mut cache = match self.slots[slot].own_cache.take() {
            Some(c) => c,
            None => {
                let spec = cache_spec(&self.model, self.n_ctx, self.cache_type);
                self.model.backend.new_cache(spec)?
            }
        };
        let mut planner = LayoutPlanner::new(layout, mode);
        let mut last = Vec::new();
        let mut result = Ok(());
        for spec in planner.batches(layout) {
            planner.begin(&spec);
            let rows = [spec.ids.len() - 1];
            let cache_index = spec.cache_index();
            let batch = Batch {
                ids: &spec.ids,
                positions: &spec.positions,
                cache_index: &cache_index,
                logits_rows: &rows,
            };
            match self
                .model
                .forward(&mut cache, &batch, &mut planner, &mut |_| {})
            {
                Ok(l) => last = l,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let s = &mut self.slots[slot];
        s.own_cache = Some(cache);
        result?;
        s.tokens = layout.tokens();
        s.layout = Some(planner);
        Ok(last)
    }

    fn check_room(&self, slot: usize, n: usize) -> Result<(), ModelError> {
        let used = self.slots[slot].tokens.len();
        if used + n > self.n_ctx {
            return Err(ModelError::Request(format!(
                "{n} tokens do not fit slot {slot}'s context of {} (already {used} used)",
                self.n_ctx
            )));
        }
        Ok(())
    }

    /// Appends each work item's tokens to its slot and returns, per item, the last token's
    /// logits (`n_vocab` floats) or an empty vector when they were not asked for. The causal
    /// items of every slot run as one batch; items on layout slots run on their own. A slot
    /// may appear at most once.
    pub fn step(&mut self, work: &[SlotWork<'_>]) -> Result<Vec<Vec<f32>>, ModelError> {
        let picked = self.step_picking(work, Pick::Logits)?;
        Ok(picked
            .into_iter()
            .map(|p| match p {
                Picked::Logits(l) => l,
                _ => Vec::new(),
            })
            .collect())
    }

    /// [`Slots::step`], returning for each item that wants its logits what `pick` asks of them:
    /// the logits, or only the greedy token or the top k (on a GPU, a few bytes read back per
    /// item instead of the vocabulary's logits).
    pub fn step_picking(
        &mut self,
        work: &[SlotWork<'_>],
        pick: Pick,
    ) -> Result<Vec<Picked>, ModelError> {
        let mut seen = vec![false; self.slots.len()];
        for w in work {
            if w.slot >= self.slots.len() || std::mem::replace(&mut seen[w.slot], true) {
                return Err(ModelError::Request(format!(
                    "slot {} is out of range or appears twice in one step",
                    w.slot
                )));
            }
            if w.ids.is_empty() {
                return Err(ModelError::Request(format!(
                    "slot {}: no tokens to append",
                    w.slot
                )));
            }
            self.check_room(w.slot, w.ids.len())?;
        }
        let mut out = vec![Picked::Nothing; work.len()];
        let causal: Vec<usize> = (0..work.len())
            .filter(|&i| self.slots[work[i].slot].layout.is_none())
            .collect();
        if !causal.is_empty() {
            let mut picked = self.causal_step(work, &causal, pick)?.into_iter();
            for &i in &causal {
                if work[i].logits {
                    out[i] = picked.next().unwrap_or(Picked::Nothing);
                }
            }
        }
        for (i, w) in work.iter().enumerate() {
            if self.slots[w.slot].layout.is_some() {
                let logits = self.layout_step(w)?;
                out[i] = match (w.logits, pick) {
                    (false, _) => Picked::Nothing,
                    (true, Pick::Logits) => Picked::Logits(logits),
                    (true, Pick::Argmax) => Picked::Token(crate::argmax(&logits)),
                    (true, Pick::TopK(k)) => {
                        let mut top = Vec::new();
                        pine_backend::math::top_k_rows(&logits, logits.len(), k, &mut top);
                        Picked::Top(top)
                    }
                };
            }
        }
        Ok(out)
    }

    /// One forward over the causal items `which` of `work`; returns what `pick` asks of the
    /// wanted rows' logits, in item order.
    fn causal_step(
        &mut self,
        work: &[SlotWork<'_>],
        which: &[usize],
        pick: Pick,
    ) -> Result<Vec<Picked>, ModelError> {
        let n: usize = which.iter().map(|&i| work[i].ids.len()).sum();
        // ids/positions/cache_index: [n]; one query group per item.
        let mut ids = Vec::with_capacity(n);
        let mut positions = Vec::with_capacity(n);
        let mut cache_index = Vec::with_capacity(n);
        let mut logits_rows = Vec::new();
        let mut groups = Vec::with_capacity(which.len());
        for &i in which {
            let w = &work[i];
            let base = w.slot * self.n_ctx;
            let start = self.slots[w.slot].tokens.len();
            let row0 = ids.len();
            ids.extend_from_slice(w.ids);
            let pos: Vec<i64> = (start..start + w.ids.len()).map(|p| p as i64).collect();
            let idx: Vec<usize> = (base + start..base + start + w.ids.len()).collect();
            positions.extend_from_slice(&pos);
            cache_index.extend_from_slice(&idx);
            if w.logits {
                logits_rows.push(ids.len() - 1);
            }
            groups.push(QueryGroup {
                rows: row0..ids.len(),
                positions: pos,
                cache_index: idx,
                ranges: HeadRanges::Shared(vec![KeyRange::new(
                    base..base + start + w.ids.len(),
                    true,
                )]),
            });
        }
        let batch = Batch {
            ids: &ids,
            positions: &positions,
            cache_index: &cache_index,
            logits_rows: &logits_rows,
        };
        let mut planner = FixedPlanner(AttentionPlan { groups });
        let (m, cache, none) = (&mut self.model, &mut self.shared, &mut |_: usize| {});
        let picked = match pick {
            Pick::Logits => {
                let logits = m.forward(cache, &batch, &mut planner, none)?;
                let n_vocab = m.params.n_vocab.max(1);
                let rows = logits.chunks_exact(n_vocab);
                rows.map(|r| Picked::Logits(r.to_vec())).collect()
            }
            Pick::Argmax => {
                let tokens = m.forward_argmax(cache, &batch, &mut planner, none)?;
                tokens.into_iter().map(Picked::Token).collect()
            }
            Pick::TopK(k) => {
                let top = m.forward_top_k(cache, &batch, &mut planner, none, k)?;
                top.into_iter().map(Picked::Top).collect()
            }
        };
        for &i in which {
            let w = &work[i];
            self.slots[w.slot].tokens.extend_from_slice(w.ids);
        }
        Ok(picked)
    }

    /// Appends a work item's tokens to a layout slot one at a time under its mode.
    fn layout_step(&mut self, w: &SlotWork<'_>) -> Result<Vec<f32>, ModelError> {
        let s = &mut self.slots[w.slot];
        let (Some(planner), Some(cache)) = (s.layout.as_mut(), s.own_cache.as_mut()) else {
            return Err(ModelError::Request(format!(
                "slot {} holds no layout",
                w.slot
            )));
        };
        let mut last = Vec::new();
        for &id in w.ids {
            let spec = planner.decode_batch(id, s.tokens.len());
            planner.begin(&spec);
            let cache_index = spec.cache_index();
            let rows = [0];
            let batch = Batch {
                ids: &spec.ids,
                positions: &spec.positions,
                cache_index: &cache_index,
                logits_rows: &rows,
            };
            last = self.model.forward(cache, &batch, planner, &mut |_| {})?;
            s.tokens.push(id);
        }
        if !w.logits {
            last.clear();
        }
        Ok(last)
    }
}

fn cache_spec<B: Backend>(model: &Transformer<B>, n_ctx: usize, ty: CacheType) -> CacheSpec {
    CacheSpec {
        n_layers: model.params.n_layers,
        n_ctx,
        n_kv_heads: model.params.n_kv_heads,
        head_dim: model.params.head_dim,
        ty,
    }
}
