//! The Llama graph over any [`Backend`]: embeddings, per layer RMSNorm → Q/K/V → planned
//! attention → output projection → residual → RMSNorm → SwiGLU FFN → residual, then the head.

use std::sync::Arc;

use pine_attention::Planner;
use pine_backend::{AttentionShape, Backend, WeightSource};
use pine_gguf::Gguf;

use crate::arch::Biases;
use crate::error::ModelError;
use crate::hparams::LlamaParams;
use crate::tensors::Tensors;

/// The most positions RoPE is tabulated for (larger contexts rotate the rest directly).
pub const MAX_ROPE_TABLE: usize = 65536;

/// One transformer block's weights.
struct Layer<W> {
    attn_norm: W,
    wq: W,
    wk: W,
    wv: W,
    /// Q/K/V projection biases (Qwen2), each added to its projection's rows.
    biases: Option<[W; 3]>,
    /// Per-head RMSNorm weights of Q and K (Qwen3), `head_dim` each.
    qk_norm: Option<[W; 2]>,
    wo: W,
    ffn_norm: W,
    gate: W,
    up: W,
    down: W,
}

/// Activation buffers of one batch size, kept between calls so decoding allocates nothing.
struct Scratch<Buf> {
    rows: usize,
    x: Buf,
    h: Buf,
    q: Buf,
    k: Buf,
    v: Buf,
    attn: Buf,
    o: Buf,
    g: Buf,
    u: Buf,
    /// Where Q and K are normalised per head (Qwen3), then swapped with them; `q`, `k` and
    /// this are then all `rows × max(q width, kv width)`.
    t: Option<Buf>,
}

/// A loaded Llama model bound to a backend.
pub struct Llama<B: Backend> {
    /// The backend the weights live on.
    pub backend: B,
    /// Hyper-parameters.
    pub params: LlamaParams,
    /// Attention shape shared by every layer.
    pub shape: AttentionShape,
    file: Arc<Gguf>,
    embed: B::Weight,
    layers: Vec<Layer<B::Weight>>,
    output_norm: B::Weight,
    /// `output.weight`, or the embedding table when the file ties them.
    output: Option<B::Weight>,
    scratch: Option<Scratch<B::Buffer>>,
}

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

impl<B: Backend> Llama<B> {
    /// Binds every weight of `file` to `backend`, checking names and shapes.
    pub fn load(file: Arc<Gguf>, mut backend: B) -> Result<Llama<B>, ModelError> {
        let params = LlamaParams::from_gguf(&file)?;
        let p = &params;
        let q_width = (p.n_heads * p.head_dim) as u64;
        let kv_width = (p.n_kv_heads * p.head_dim) as u64;
        let (e, f) = (p.n_embd as u64, p.n_ff as u64);
        // Fused tensors split into views; NEOX-rotated Q/K rows reordered into adjacent pairs
        // (a small in-memory file).
        let mut tensors = Tensors::new(Arc::clone(&file), p)?;
        if p.architecture.rope_neox() {
            let reordered = crate::neox::reorder_qk(&tensors, p)?;
            tensors = tensors.with_derived(reordered);
        }
        let mut load = |name: &str, dims: &[u64]| -> Result<B::Weight, ModelError> {
            let (source, info) = tensors
                .get(name)
                .ok_or_else(|| ModelError::MissingTensor(name.to_string()))?;
            if info.dims != dims {
                return Err(ModelError::Invalid(format!(
                    "tensor '{name}' has dims {:?}, expected {dims:?}",
                    info.dims
                )));
            }
            Ok(backend.load_weight(WeightSource { file: source, info })?)
        };
        let has_biases = match p.architecture.biases() {
            Biases::None => false,
            Biases::Optional => file.tensor("blk.0.attn_q.bias").is_some(),
            Biases::Required => true,
        };
        let has_qk_norm = p.architecture.qk_norm();
        let hd = p.head_dim as u64;
        let embed = load("token_embd.weight", &[e, p.n_vocab as u64])?;
        let mut layers = Vec::with_capacity(p.n_layers);
        for l in 0..p.n_layers {
            let n = |s: &str| format!("blk.{l}.{s}.weight");
            layers.push(Layer {
                attn_norm: load(&n("attn_norm"), &[e])?,
                wq: load(&n("attn_q"), &[e, q_width])?,
                wk: load(&n("attn_k"), &[e, kv_width])?,
                wv: load(&n("attn_v"), &[e, kv_width])?,
                biases: match has_biases {
                    true => {
                        let b = |s: &str| format!("blk.{l}.{s}.bias");
                        Some([
                            load(&b("attn_q"), &[q_width])?,
                            load(&b("attn_k"), &[kv_width])?,
                            load(&b("attn_v"), &[kv_width])?,
                        ])
                    }
                    false => None,
                },
                qk_norm: match has_qk_norm {
                    true => Some([
                        load(&n("attn_q_norm"), &[hd])?,
                        load(&n("attn_k_norm"), &[hd])?,
                    ]),
                    false => None,
                },
                wo: load(&n("attn_output"), &[q_width, e])?,
                ffn_norm: load(&n("ffn_norm"), &[e])?,
                gate: load(&n("ffn_gate"), &[e, f])?,
                up: load(&n("ffn_up"), &[e, f])?,
                down: load(&n("ffn_down"), &[f, e])?,
            });
        }
        let output_norm = load("output_norm.weight", &[e])?;
        let output = match file.tensor("output.weight") {
            Some(_) => Some(load("output.weight", &[e, p.n_vocab as u64])?),
            None => None,
        };
        let shape = AttentionShape {
            n_heads: p.n_heads,
            n_kv_heads: p.n_kv_heads,
            head_dim: p.head_dim,
            // Queries are rotated at positions up to about twice the context under PINE
            // (position + shift), so tabulate that far.
            rope: p.rope.clone().with_table(2 * p.n_ctx_train.min(32768)),
        };
        Ok(Llama {
            backend,
            params,
            shape,
            file,
            embed,
            layers,
            output_norm,
            output,
            scratch: None,
        })
    }

    /// Makes the RoPE table cover a context of `n_ctx` tokens. Positions reach about twice the
    /// context under PINE (position + shift): a context beyond the table the model was loaded
    /// with (-c above the training context) extends it, up to [`MAX_ROPE_TABLE`] positions, as
    /// rotations past it cost a sin/cos each (same bits either way).
    pub fn cover_positions(&mut self, n_ctx: usize) {
        let want = n_ctx.saturating_mul(2).min(MAX_ROPE_TABLE);
        if want > self.shape.rope.table_positions() {
            self.shape.rope = self.shape.rope.clone().with_table(want);
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
        let n = batch.ids.len();
        if batch.positions.len() != n || batch.cache_index.len() != n {
            return Err(ModelError::Request("batch vectors differ in length".into()));
        }
        let p = &self.params;
        let (d, ff) = (p.n_embd, p.n_ff);
        let qw = p.n_heads * p.head_dim;
        let kvw = p.n_kv_heads * p.head_dim;
        let be = &mut self.backend;
        let qk_norm = self.layers.first().is_some_and(|l| l.qk_norm.is_some());
        if self.scratch.as_ref().is_some_and(|s| s.rows != n) {
            self.scratch = None;
        }
        let Scratch {
            x,
            h,
            q,
            k,
            v,
            attn,
            o,
            g,
            u,
            t,
            ..
        } = self.scratch.get_or_insert_with(|| {
            let qk = match qk_norm {
                true => qw.max(kvw),
                false => 0,
            };
            Scratch {
                rows: n,
                x: be.buffer(n * d),
                h: be.buffer(n * d),
                q: be.buffer(n * qw.max(qk)),
                k: be.buffer(n * kvw.max(qk)),
                v: be.buffer(n * kvw),
                attn: be.buffer(n * qw),
                o: be.buffer(n * d),
                g: be.buffer(n * ff),
                u: be.buffer(n * ff),
                t: qk_norm.then(|| be.buffer(n * qk)),
            }
        });
        be.embed(&self.embed, batch.ids, x)?;
        for (l, w) in self.layers.iter().enumerate() {
            be.rms_norm(x, &w.attn_norm, p.rms_eps, n, h);
            be.matmul_many([&w.wq, &w.wk, &w.wv], h, n, [q, k, v])?;
            if let Some([bq, bk, bv]) = &w.biases {
                be.add_bias(q, bq, n);
                be.add_bias(k, bk, n);
                be.add_bias(v, bv, n);
            }
            if let (Some([nq, nk]), Some(t)) = (&w.qk_norm, t.as_mut()) {
                // Each head is a row of head_dim for the norm; the result is swapped in.
                be.rms_norm(q, nq, p.rms_eps, n * p.n_heads, t);
                std::mem::swap(q, t);
                be.rms_norm(k, nk, p.rms_eps, n * p.n_kv_heads, t);
                std::mem::swap(k, t);
            }
            be.store_kv(
                cache,
                l,
                &self.shape,
                k,
                v,
                batch.cache_index,
                batch.positions,
            )?;
            let plan = planner
                .plan(be, cache, l, &self.shape, q, k)
                .map_err(ModelError::Plan)?;
            be.attention(cache, l, &self.shape, q, &plan, attn)?;
            drop(plan);
            // A plan over the backend's budget comes in parts (consecutive rows).
            while let Some(part) = planner.next_part() {
                be.attention(cache, l, &self.shape, q, &part, attn)?;
            }
            be.matmul(&w.wo, attn, n, o)?;
            be.add(x, o, n * d);
            be.rms_norm(x, &w.ffn_norm, p.rms_eps, n, h);
            be.matmul_many([&w.gate, &w.up], h, n, [g, u])?;
            be.swiglu(g, u, n * ff);
            be.matmul(&w.down, g, n, o)?;
            be.add(x, o, n * d);
            layer_done(l);
        }
        let m = batch.logits_rows.len();
        if let Some(&bad) = batch.logits_rows.iter().find(|&&r| r >= n) {
            return Err(ModelError::Request(format!(
                "logits row {bad} outside the batch of {n}"
            )));
        }
        if m == 0 {
            // No logits wanted (a prompt chunk before its last): the head is skipped.
            be.take_error()?;
            return Ok(Vec::new());
        }
        let mut sel = be.buffer(m * d);
        be.select_rows(x, d, batch.logits_rows, &mut sel);
        let mut normed = be.buffer(m * d);
        be.rms_norm(&sel, &self.output_norm, p.rms_eps, m, &mut normed);
        let mut logits = be.buffer(m * p.n_vocab);
        let head = self.output.as_ref().unwrap_or(&self.embed);
        be.matmul(head, &normed, m, &mut logits)?;
        let mut out = vec![0.0; m * p.n_vocab];
        be.read(&logits, &mut out);
        be.take_error()?;
        Ok(out)
    }
}
