//! A loaded model of any family pine runs, over any [`Backend`]: the seam between families.
//!
//! What every family shares lives here — the embeddings, the final norm and head, the
//! activation buffers, storing keys/values and running a layer's planned attention — and the
//! blocks of one family's graph live in that family's file behind `Blocks`: `llama.rs`
//! (Llama, Mistral, Qwen2/3, Phi-3: the Llama block with switches) and `gemma.rs` (Gemma 2
//! and 3). A forward
//! pass is: embed the batch, run each layer through its family's block, then the head.

use std::sync::Arc;

use pine_attention::Planner;
use pine_backend::{AttentionShape, Backend, WeightSource};
use pine_gguf::Gguf;

use crate::arch::Architecture;
use crate::error::ModelError;
use crate::hparams::ModelParams;
use crate::tensors::Tensors;
use crate::{gemma, llama};

/// The most positions RoPE is tabulated for (larger contexts rotate the rest directly).
pub const MAX_ROPE_TABLE: usize = 65536;

/// Where the rows of one forward batch go and what they attend to.
pub struct Batch<'a> {
    /// Token ids, one per row.
    pub ids: &'a [u32],
    /// Canonical RoPE position of each row's key.
    pub positions: &'a [i64],
    /// Cache slot each row's key/value is stored in.
    pub cache_index: &'a [usize],
    /// Rows whose logits are wanted (in this order).
    pub logits_rows: &'a [usize],
}

/// What a forward pass returns of the logits rows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Head {
    /// The logits.
    Logits,
    /// Each row's greedy token.
    Argmax,
    /// Each row's k best tokens and logits.
    TopK(usize),
}

/// The result of a forward pass, as its [`Head`] asked.
enum Output {
    Logits(Vec<f32>),
    Tokens(Vec<u32>),
    Candidates(Vec<(u32, f32)>),
}

/// The logits behind the last [`Transformer::forward_argmax`]'s tokens or
/// [`Transformer::forward_top_k`]'s candidates: still on the backend (the buffer and its rows),
/// or read by the host to select there (a soft-capped model).
enum Behind<Buf> {
    OnBackend(Buf, usize),
    OnHost(Vec<f32>),
}

/// The layers of one family, each from its own file.
pub(crate) enum Blocks<W> {
    /// The Llama block (`llama.rs`).
    Llama(llama::Blocks<W>),
    /// The Gemma 2/3 block (`gemma.rs`).
    Gemma(gemma::Blocks<W>),
}

impl<W> Blocks<W> {
    /// The attention shapes the layers use (one, or Gemma's global and local).
    fn shapes_mut(&mut self) -> Vec<&mut AttentionShape> {
        match self {
            Blocks::Llama(b) => vec![&mut b.shape],
            Blocks::Gemma(b) => vec![&mut b.global, &mut b.local],
        }
    }

    /// Whether the layers normalise each head of Q and K (then the scratch has room for it).
    fn qk_norm(&self) -> bool {
        match self {
            Blocks::Llama(b) => b.qk_norm(),
            Blocks::Gemma(b) => b.qk_norm(),
        }
    }

    /// The soft cap of the logits, if any (`cap · tanh(logit / cap)`).
    fn logit_cap(&self) -> Option<f32> {
        match self {
            Blocks::Llama(_) => None,
            Blocks::Gemma(b) => b.logit_cap,
        }
    }

    /// What the embedded rows are multiplied by before the first layer, if anything.
    fn embed_scale(&self) -> Option<f32> {
        match self {
            Blocks::Llama(_) => None,
            Blocks::Gemma(b) => Some(b.embed_scale),
        }
    }
}

/// Activation buffers of one batch size, kept between calls so decoding allocates nothing.
/// `n` rows each: `x`, `h`, `o` are `[n, n_embd]`; `q` `[n, q width]`, `k`/`v` `[n, kv width]`
/// (widened to `max(q width, kv width)` when heads are normalised); `attn` `[n, q width]`;
/// `g`/`u` `[n, n_ff]`.
pub(crate) struct Scratch<Buf> {
    rows: usize,
    /// The residual stream.
    pub x: Buf,
    /// A normalised copy of `x` (or of a block's output).
    pub h: Buf,
    pub q: Buf,
    pub k: Buf,
    pub v: Buf,
    pub attn: Buf,
    /// A projection's output (attention output, FFN down).
    pub o: Buf,
    /// FFN gate, then the gated activation.
    pub g: Buf,
    /// FFN up.
    pub u: Buf,
    /// Where Q and K are normalised per head (Qwen3, Gemma 3), then swapped with them.
    pub t: Option<Buf>,
}

impl<Buf> Scratch<Buf> {
    fn new<B: Backend<Buffer = Buf>>(
        be: &mut B,
        p: &ModelParams,
        n: usize,
        qk_norm: bool,
    ) -> Scratch<Buf> {
        let qw = p.n_heads * p.head_dim;
        let kvw = p.n_kv_heads * p.head_dim;
        let qk = match qk_norm {
            true => qw.max(kvw),
            false => 0,
        };
        Scratch {
            rows: n,
            x: be.buffer(n * p.n_embd),
            h: be.buffer(n * p.n_embd),
            q: be.buffer(n * qw.max(qk)),
            k: be.buffer(n * kvw.max(qk)),
            v: be.buffer(n * kvw),
            attn: be.buffer(n * qw),
            o: be.buffer(n * p.n_embd),
            g: be.buffer(n * p.n_ff),
            u: be.buffer(n * p.n_ff),
            t: qk_norm.then(|| be.buffer(n * qk)),
        }
    }
}

/// Binds file tensors to a backend, checking each one's dims.
pub(crate) struct Loader<'a, B: Backend> {
    tensors: &'a Tensors,
    backend: &'a mut B,
}

impl<B: Backend> Loader<'_, B> {
    /// The tensor `name`, which must have `dims` (ggml order).
    pub(crate) fn load(&mut self, name: &str, dims: &[u64]) -> Result<B::Weight, ModelError> {
        let (source, info) = self
            .tensors
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor(name.to_string()))?;
        if info.dims != dims {
            return Err(ModelError::Invalid(format!(
                "tensor '{name}' has dims {:?}, expected {dims:?}",
                info.dims
            )));
        }
        Ok(self
            .backend
            .load_weight(WeightSource { file: source, info })?)
    }

    /// Whether the file has a tensor `name`.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.tensors.get(name).is_some()
    }
}

/// One layer's view of a forward pass: the backend, the cache, the batch, its planner, the
/// scratch buffers and the hyper-parameters. Family blocks run their layer through it.
pub(crate) struct Pass<'a, 'b, B: Backend> {
    pub be: &'a mut B,
    pub cache: &'a mut B::Cache,
    pub batch: &'a Batch<'b>,
    pub planner: &'a mut dyn Planner<B>,
    pub s: &'a mut Scratch<B::Buffer>,
    pub p: &'a ModelParams,
}

impl<B: Backend> Pass<'_, '_, B> {
    /// Rows in the batch.
    pub(crate) fn rows(&self) -> usize {
        self.batch.ids.len()
    }

    /// The attention's inputs: `h` = RMSNorm of `x` by `norm`, then `q`, `k`, `v` = its
    /// projections by `w[0..3]` (one job over one quantized copy of `h` where the backend can).
    pub(crate) fn project_qkv(
        &mut self,
        norm: &B::Weight,
        w: [&B::Weight; 3],
    ) -> Result<(), ModelError> {
        let (n, s) = (self.rows(), &mut *self.s);
        self.be.norm_matmul_many(
            &s.x,
            norm,
            self.p.rms_eps,
            n,
            &mut s.h,
            w,
            [&mut s.q, &mut s.k, &mut s.v],
        )?;
        Ok(())
    }

    /// RMS-normalises each head of `q` and `k` (a row of `head_dim` each) by `nq` / `nk`.
    pub(crate) fn norm_heads(&mut self, nq: &B::Weight, nk: &B::Weight) {
        let (n, p) = (self.rows(), self.p);
        let s = &mut *self.s;
        let t = s.t.as_mut().expect("scratch sized for per-head norms");
        self.be.rms_norm(&s.q, nq, p.rms_eps, n * p.n_heads, t);
        std::mem::swap(&mut s.q, t);
        self.be.rms_norm(&s.k, nk, p.rms_eps, n * p.n_kv_heads, t);
        std::mem::swap(&mut s.k, t);
    }

    /// Stores the batch's keys and values in layer `l` of the cache, then runs the layer's
    /// planned attention of `q` into `attn`. Under a sliding `window`, each row sees only its
    /// last `window` cache slots ([`pine_backend::AttentionPlan::windowed`]).
    pub(crate) fn attend(
        &mut self,
        l: usize,
        shape: &AttentionShape,
        window: Option<usize>,
    ) -> Result<(), ModelError> {
        let (be, s, batch) = (&mut *self.be, &mut *self.s, self.batch);
        be.store_kv(
            self.cache,
            l,
            shape,
            &s.k,
            &s.v,
            batch.cache_index,
            batch.positions,
        )?;
        let cut = |plan: pine_backend::AttentionPlan| match window {
            Some(w) => plan
                .windowed(w)
                .map_err(|e| ModelError::Plan(format!("layer {l}: {e}"))),
            None => Ok(plan),
        };
        // PINE's decode rows: ranked and attended in one backend call.
        let one_call = window.is_none()
            && self
                .planner
                .attend(be, self.cache, l, shape, &s.q, &mut s.attn)
                .map_err(ModelError::Plan)?;
        if one_call {
            return Ok(());
        }
        let plan = self
            .planner
            .plan(be, self.cache, l, shape, &s.q, &s.k)
            .map_err(ModelError::Plan)?;
        be.attention(self.cache, l, shape, &s.q, &cut(plan)?, &mut s.attn)?;
        // A plan over the backend's budget comes in parts (consecutive rows).
        while let Some(part) = self.planner.next_part(be) {
            be.attention(self.cache, l, shape, &s.q, &cut(part)?, &mut s.attn)?;
        }
        Ok(())
    }
}

/// A loaded model bound to a backend: a family's blocks between shared embeddings and head.
pub struct Transformer<B: Backend> {
    /// The backend the weights live on.
    pub backend: B,
    /// Hyper-parameters.
    pub params: ModelParams,
    file: Arc<Gguf>,
    /// `token_embd.weight`: `[n_vocab, n_embd]`.
    embed: B::Weight,
    blocks: Blocks<B::Weight>,
    output_norm: B::Weight,
    /// `output.weight`, or the embedding table when the file ties them.
    output: Option<B::Weight>,
    scratch: Option<Scratch<B::Buffer>>,
    /// The logits the last forward pass picked its tokens or candidates from (`None` after a
    /// pass that returned its logits).
    behind: Option<Behind<B::Buffer>>,
}

impl<B: Backend> Transformer<B> {
    /// Binds every weight of `file` to `backend`, checking names and shapes; the file's
    /// `general.architecture` chooses the family's blocks.
    pub fn load(file: Arc<Gguf>, mut backend: B) -> Result<Transformer<B>, ModelError> {
        let params = ModelParams::from_gguf(&file)?;
        let p = &params;
        // Fused tensors split into views; NEOX-rotated Q/K rows reordered into adjacent pairs
        // (a small in-memory file).
        let mut tensors = Tensors::new(Arc::clone(&file), p)?;
        if p.architecture.rope_neox() {
            let reordered = crate::neox::reorder_qk(&tensors, p)?;
            tensors = tensors.with_derived(reordered);
        }
        let mut ld = Loader {
            tensors: &tensors,
            backend: &mut backend,
        };
        let (e, v) = (p.n_embd as u64, p.n_vocab as u64);
        let embed = ld.load("token_embd.weight", &[e, v])?;
        let blocks = match p.architecture {
            Architecture::Gemma2 | Architecture::Gemma3 => {
                Blocks::Gemma(gemma::Blocks::load(&mut ld, p, &file)?)
            }
            _ => Blocks::Llama(llama::Blocks::load(&mut ld, p)?),
        };
        let output_norm = ld.load("output_norm.weight", &[e])?;
        let output = match ld.has("output.weight") {
            true => Some(ld.load("output.weight", &[e, v])?),
            false => None,
        };
        Ok(Transformer {
            backend,
            params,
            file,
            embed,
            blocks,
            output_norm,
            output,
            scratch: None,
            behind: None,
        })
    }

    /// Makes the RoPE tables cover a context of `n_ctx` tokens. Positions reach about twice
    /// the context under PINE (position + shift): a context beyond the tables the model was
    /// loaded with (-c above the training context) extends them, up to [`MAX_ROPE_TABLE`]
    /// positions, as rotations past them cost a sin/cos each (same bits either way).
    pub fn cover_positions(&mut self, n_ctx: usize) {
        let want = n_ctx.saturating_mul(2).min(MAX_ROPE_TABLE);
        for shape in self.blocks.shapes_mut() {
            if want > shape.rope.table_positions() {
                shape.rope = shape.rope.clone().with_table(want);
            }
        }
    }

    /// The model file.
    pub fn file(&self) -> &Arc<Gguf> {
        &self.file
    }

    /// Runs one batch through every layer, storing its keys/values in `cache`, and returns the
    /// logits of `batch.logits_rows` (`[rows, n_vocab]`). `layer_done(l)` is called as each
    /// layer finishes (progress reports for long batches).
    pub fn forward(
        &mut self,
        cache: &mut B::Cache,
        batch: &Batch<'_>,
        planner: &mut dyn Planner<B>,
        layer_done: &mut dyn FnMut(usize),
    ) -> Result<Vec<f32>, ModelError> {
        match self.forward_head(cache, batch, planner, layer_done, Head::Logits)? {
            Output::Logits(l) => Ok(l),
            _ => unreachable!("logits were asked for"),
        }
    }

    /// [`Transformer::forward`], returning instead the greedy token (the argmax of the logits,
    /// [`crate::argmax`]) of each of `batch.logits_rows`: the backend computes it where the
    /// logits are, so a GPU reads back one index per row instead of the vocabulary's logits.
    pub fn forward_argmax(
        &mut self,
        cache: &mut B::Cache,
        batch: &Batch<'_>,
        planner: &mut dyn Planner<B>,
        layer_done: &mut dyn FnMut(usize),
    ) -> Result<Vec<u32>, ModelError> {
        match self.forward_head(cache, batch, planner, layer_done, Head::Argmax)? {
            Output::Tokens(t) => Ok(t),
            Output::Logits(l) => {
                let tokens = l
                    .chunks_exact(self.params.n_vocab.max(1))
                    .map(crate::argmax)
                    .collect();
                self.behind = Some(Behind::OnHost(l));
                Ok(tokens)
            }
            Output::Candidates(_) => unreachable!("tokens were asked for"),
        }
    }

    /// [`Transformer::forward`], returning instead each of `batch.logits_rows`' `k` best tokens
    /// and logits (all for `k` = 0) in [`pine_backend::math::keep_top`]'s order: the backend
    /// selects them where the logits are, so a GPU reads back `k` pairs per row instead of the
    /// vocabulary's logits.
    pub fn forward_top_k(
        &mut self,
        cache: &mut B::Cache,
        batch: &Batch<'_>,
        planner: &mut dyn Planner<B>,
        layer_done: &mut dyn FnMut(usize),
        k: usize,
    ) -> Result<Vec<Vec<(u32, f32)>>, ModelError> {
        let n_vocab = self.params.n_vocab;
        let kept = if k == 0 { n_vocab } else { k.min(n_vocab) };
        let flat = match self.forward_head(cache, batch, planner, layer_done, Head::TopK(k))? {
            Output::Candidates(c) => c,
            Output::Logits(l) => {
                let mut c = Vec::new();
                pine_backend::math::top_k_rows(&l, n_vocab, k, &mut c);
                self.behind = Some(Behind::OnHost(l));
                c
            }
            Output::Tokens(_) => unreachable!("candidates were asked for"),
        };
        Ok(flat.chunks(kept.max(1)).map(<[_]>::to_vec).collect())
    }

    /// The logits (`[rows, n_vocab]`) the last [`Transformer::forward_argmax`] or
    /// [`Transformer::forward_top_k`] picked from, read back now; `None` when the last forward
    /// pass returned its logits (or none ran). For a caller that picks on the backend and
    /// needs the logits only now and then.
    pub fn picked_logits(&mut self) -> Result<Option<Vec<f32>>, ModelError> {
        match &self.behind {
            None => Ok(None),
            Some(Behind::OnHost(l)) => Ok(Some(l.clone())),
            Some(Behind::OnBackend(buf, rows)) => {
                let mut out = vec![0.0; rows * self.params.n_vocab];
                self.backend.read(buf, &mut out);
                self.backend.take_error()?;
                Ok(Some(out))
            }
        }
    }

    fn forward_head(
        &mut self,
        cache: &mut B::Cache,
        batch: &Batch<'_>,
        planner: &mut dyn Planner<B>,
        layer_done: &mut dyn FnMut(usize),
        head_out: Head,
    ) -> Result<Output, ModelError> {
        let n = batch.ids.len();
        if batch.positions.len() != n || batch.cache_index.len() != n {
            return Err(ModelError::Request("batch vectors differ in length".into()));
        }
        if let Some(&bad) = batch.logits_rows.iter().find(|&&r| r >= n) {
            return Err(ModelError::Request(format!(
                "logits row {bad} outside the batch of {n}"
            )));
        }
        let Transformer {
            backend: be,
            params: p,
            embed,
            blocks,
            output_norm,
            output,
            scratch,
            behind,
            ..
        } = self;
        *behind = None;
        if scratch.as_ref().is_some_and(|s| s.rows != n) {
            *scratch = None;
        }
        let s = scratch.get_or_insert_with(|| Scratch::new(be, p, n, blocks.qk_norm()));
        be.embed(embed, batch.ids, &mut s.x)?;
        if let Some(scale) = blocks.embed_scale() {
            be.scale(&mut s.x, scale, n * p.n_embd);
        }
        let mut pass = Pass {
            be,
            cache,
            batch,
            planner,
            s,
            p,
        };
        for l in 0..p.n_layers {
            match blocks {
                Blocks::Llama(b) => b.layer(&mut pass, l)?,
                Blocks::Gemma(b) => b.layer(&mut pass, l)?,
            }
            layer_done(l);
        }
        let (be, s) = (pass.be, pass.s);
        let (m, d) = (batch.logits_rows.len(), p.n_embd);
        if m == 0 {
            // No logits wanted (a prompt chunk before its last): the head is skipped.
            be.take_error()?;
            return Ok(match head_out {
                Head::Logits => Output::Logits(Vec::new()),
                Head::Argmax => Output::Tokens(Vec::new()),
                Head::TopK(_) => Output::Candidates(Vec::new()),
            });
        }
        // sel, normed: [m, n_embd]; logits: [m, n_vocab]. When every row is wanted in order
        // (a decode step), the rows are `x` itself and need no copy.
        let every_row = batch.logits_rows.iter().copied().eq(0..n);
        let sel = match every_row {
            true => None,
            false => {
                let mut sel = be.buffer(m * d);
                be.select_rows(&s.x, d, batch.logits_rows, &mut sel);
                Some(sel)
            }
        };
        let mut normed = be.buffer(m * d);
        let mut logits = be.buffer(m * p.n_vocab);
        let head = output.as_ref().unwrap_or(embed);
        be.norm_matmul_many(
            sel.as_ref().unwrap_or(&s.x),
            output_norm,
            p.rms_eps,
            m,
            &mut normed,
            [head],
            [&mut logits],
        )?;
        // The soft cap (monotone, but it can make close logits equal in f32) is applied on the
        // host, so a capped model's argmax is taken there, over the capped logits.
        if head_out == Head::Argmax && blocks.logit_cap().is_none() {
            let mut tokens = vec![0; m];
            be.argmax(&logits, p.n_vocab, &mut tokens);
            be.take_error()?;
            *behind = Some(Behind::OnBackend(logits, m));
            return Ok(Output::Tokens(tokens));
        }
        if let (Head::TopK(k), None) = (head_out, blocks.logit_cap()) {
            let mut candidates = Vec::new();
            be.top_k(&logits, p.n_vocab, k, m, &mut candidates);
            be.take_error()?;
            *behind = Some(Behind::OnBackend(logits, m));
            return Ok(Output::Candidates(candidates));
        }
        let mut out = vec![0.0; m * p.n_vocab];
        be.read(&logits, &mut out);
        be.take_error()?;
        if let Some(cap) = blocks.logit_cap() {
            // As llama.cpp: scaled by 1/cap, tanh, scaled by cap.
            let inv = 1.0 / cap;
            out.iter_mut().for_each(|v| *v = (*v * inv).tanh() * cap);
        }
        Ok(Output::Logits(out))
    }
}
