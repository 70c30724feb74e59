//! The Llama block: RMSNorm → Q/K/V (+ biases, + per-head Q/K norms) → planned attention →
//! output projection → residual → RMSNorm → SwiGLU FFN → residual. Llama 1/2/3.x, Mistral,
//! Qwen2/2.5, Qwen3 and Phi-3 are this block with the switches `arch.rs` names.

use pine_backend::{AttentionShape, Backend};

use crate::arch::Biases;
use crate::error::ModelError;
use crate::hparams::ModelParams;
use crate::transformer::{Loader, Pass};

/// One block's weights (`[in, out]` in ggml's dims order).
struct Layer<W> {
    /// `[n_embd]`.
    attn_norm: W,
    /// `[n_embd, q width]`, `[n_embd, kv width]`, `[n_embd, kv width]`.
    wq: W,
    wk: W,
    wv: W,
    /// Q/K/V projection biases (Qwen2), each added to its projection's rows.
    biases: Option<[W; 3]>,
    /// Per-head RMSNorm weights of Q and K (Qwen3), `head_dim` each.
    qk_norm: Option<[W; 2]>,
    /// `[q width, n_embd]`.
    wo: W,
    /// `[n_embd]`.
    ffn_norm: W,
    /// `[n_embd, n_ff]`, `[n_embd, n_ff]`, `[n_ff, n_embd]`.
    gate: W,
    up: W,
    down: W,
}

/// Every layer of a Llama-family model, and the attention shape they share.
pub(crate) struct Blocks<W> {
    layers: Vec<Layer<W>>,
    /// Heads and RoPE of every layer.
    pub shape: AttentionShape,
}

impl<W> Blocks<W> {
    /// The layers' weights from the file, checked against `p`.
    pub(crate) fn load<B: Backend<Weight = W>>(
        ld: &mut Loader<'_, B>,
        p: &ModelParams,
    ) -> Result<Blocks<W>, ModelError> {
        let q_width = (p.n_heads * p.head_dim) as u64;
        let kv_width = (p.n_kv_heads * p.head_dim) as u64;
        let (e, f, hd) = (p.n_embd as u64, p.n_ff as u64, p.head_dim as u64);
        let has_biases = match p.architecture.biases() {
            Biases::None => false,
            Biases::Optional => ld.has("blk.0.attn_q.bias"),
            Biases::Required => true,
        };
        let mut layers = Vec::with_capacity(p.n_layers);
        for l in 0..p.n_layers {
            let n = |s: &str| format!("blk.{l}.{s}.weight");
            let b = |s: &str| format!("blk.{l}.{s}.bias");
            layers.push(Layer {
                attn_norm: ld.load(&n("attn_norm"), &[e])?,
                wq: ld.load(&n("attn_q"), &[e, q_width])?,
                wk: ld.load(&n("attn_k"), &[e, kv_width])?,
                wv: ld.load(&n("attn_v"), &[e, kv_width])?,
                biases: match has_biases {
                    true => Some([
                        ld.load(&b("attn_q"), &[q_width])?,
                        ld.load(&b("attn_k"), &[kv_width])?,
                        ld.load(&b("attn_v"), &[kv_width])?,
                    ]),
                    false => None,
                },
                qk_norm: match p.architecture.qk_norm() {
                    true => Some([
                        ld.load(&n("attn_q_norm"), &[hd])?,
                        ld.load(&n("attn_k_norm"), &[hd])?,
                    ]),
                    false => None,
                },
                wo: ld.load(&n("attn_output"), &[q_width, e])?,
                ffn_norm: ld.load(&n("ffn_norm"), &[e])?,
                gate: ld.load(&n("ffn_gate"), &[e, f])?,
                up: ld.load(&n("ffn_up"), &[e, f])?,
                down: ld.load(&n("ffn_down"), &[f, e])?,
            });
        }
        Ok(Blocks {
            layers,
            shape: p.attention_shape(p.rope.clone()),
        })
    }

    /// Whether Q and K are normalised per head.
    pub(crate) fn qk_norm(&self) -> bool {
        self.layers.first().is_some_and(|l| l.qk_norm.is_some())
    }

    /// Runs layer `l` on the pass's residual stream `x`.
    pub(crate) fn layer<B: Backend<Weight = W>>(
        &self,
        x: &mut Pass<'_, '_, B>,
        l: usize,
    ) -> Result<(), ModelError> {
        let w = &self.layers[l];
        let (n, p) = (x.rows(), x.p);
        x.project_qkv(&w.attn_norm, [&w.wq, &w.wk, &w.wv])?;
        let s = &mut *x.s;
        if let Some([bq, bk, bv]) = &w.biases {
            x.be.add_bias(&mut s.q, bq, n);
            x.be.add_bias(&mut s.k, bk, n);
            x.be.add_bias(&mut s.v, bv, n);
        }
        if let Some([nq, nk]) = &w.qk_norm {
            x.norm_heads(nq, nk);
        }
        x.attend(l, &self.shape, None)?;
        let (be, s, d) = (&mut *x.be, &mut *x.s, p.n_embd);
        be.matmul_add(&w.wo, &s.attn, n, &mut s.o, &mut s.x, n * d)?;
        be.norm_matmul_many(
            &s.x,
            &w.ffn_norm,
            p.rms_eps,
            n,
            &mut s.h,
            [&w.gate, &w.up],
            [&mut s.g, &mut s.u],
        )?;
        be.swiglu_matmul_add(
            &mut s.g,
            &s.u,
            n * p.n_ff,
            &w.down,
            n,
            &mut s.o,
            &mut s.x,
            n * d,
        )?;
        Ok(())
    }
}
