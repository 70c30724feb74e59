//! The Gemma 2 / Gemma 3 block: RMSNorm → Q/K/V → (Gemma 3: per-head Q/K RMSNorm) → planned
//! attention (sliding-window or global, each with its RoPE; Gemma 2: scores soft-capped) →
//! output projection → RMSNorm → residual → RMSNorm → GELU-gated FFN → RMSNorm → residual; the
//! embeddings are scaled by √n_embd first and the logits optionally soft-capped. The facts
//! follow llama.cpp's `gemma2` and `gemma3` graphs; the norms' weights are stored with Gemma's
//! `1 +` already added, so they are plain RMSNorms.

use pine_backend::{AttentionShape, Backend, Rope, RopeScaling};
use pine_gguf::{Gguf, Value};

use crate::arch::Architecture;
use crate::error::ModelError;
use crate::hparams::ModelParams;
use crate::transformer::{Loader, Pass};

/// What tells the two generations apart, with llama.cpp's defaults for keys a file leaves out.
struct Generation {
    /// Per-head Q/K RMSNorm (`attn_q_norm`, `attn_k_norm`).
    qk_norm: bool,
    /// The sliding window when `attention.sliding_window` is absent (0: no sliding layers).
    window: usize,
    /// The period of `attention.sliding_window_pattern` when absent: every layer slides but
    /// each `period`-th.
    period: usize,
    /// The sliding layers' RoPE base when `rope.freq_base_swa` is absent (`None`: the global
    /// layers' RoPE, scaling included).
    local_base: Option<f64>,
    /// `attn_logit_softcapping` when absent (0: none).
    attn_cap: f32,
    /// `final_logit_softcapping` when absent (0: none).
    final_cap: f32,
    /// The layer count of the 27B model, whose queries are scaled by 1/√(n_embd / n_heads).
    layers_27b: usize,
}

impl Generation {
    fn of(arch: Architecture) -> Generation {
        match arch {
            Architecture::Gemma2 => Generation {
                qk_norm: false,
                window: 4096,
                period: 2,
                local_base: None,
                attn_cap: 50.0,
                final_cap: 30.0,
                layers_27b: 46,
            },
            _ => Generation {
                qk_norm: true,
                window: 0,
                period: 6,
                local_base: Some(10000.0),
                attn_cap: 0.0,
                final_cap: 0.0,
                layers_27b: 62,
            },
        }
    }
}

/// One block's weights (`[in, out]` in ggml's dims order).
struct Layer<W> {
    /// `[n_embd]` each: before attention, after it, before the FFN, after it.
    attn_norm: W,
    post_attn_norm: W,
    ffn_norm: W,
    post_ffw_norm: W,
    /// `[n_embd, q width]`, `[n_embd, kv width]`, `[n_embd, kv width]`.
    wq: W,
    wk: W,
    wv: W,
    /// `[head_dim]` each: per-head RMSNorm weights of Q and K (Gemma 3).
    qk_norm: Option<[W; 2]>,
    /// `[q width, n_embd]`.
    wo: W,
    /// `[n_embd, n_ff]`, `[n_embd, n_ff]`, `[n_ff, n_embd]`.
    gate: W,
    up: W,
    down: W,
}

/// Every layer of a Gemma 2 or 3 model and what tells its layers apart.
pub(crate) struct Blocks<W> {
    layers: Vec<Layer<W>>,
    /// The global layers' heads, RoPE (the file's base and scaling) and score soft-cap.
    pub global: AttentionShape,
    /// The sliding-window layers' (Gemma 3: their own base, no scaling).
    pub local: AttentionShape,
    /// Which layers attend over a sliding window of `window` positions.
    sliding: Vec<bool>,
    window: usize,
    /// √n_embd, the embeddings' scale.
    pub embed_scale: f32,
    /// What queries are multiplied by on top of the attention's 1/√head_dim (27B only).
    query_scale: Option<f32>,
    /// `final_logit_softcapping`: logits become `cap · tanh(logit / cap)`.
    pub logit_cap: Option<f32>,
}

impl<W> Blocks<W> {
    /// The layers' weights and Gemma's own hyper-parameters from the file.
    pub(crate) fn load<B: Backend<Weight = W>>(
        ld: &mut Loader<'_, B>,
        p: &ModelParams,
        file: &Gguf,
    ) -> Result<Blocks<W>, ModelError> {
        let gen = Generation::of(p.architecture);
        let key = |k: &str| format!("{}.{k}", p.arch);
        let window = match file.get(&key("attention.sliding_window")) {
            Some(_) => file.get_u32(&key("attention.sliding_window"))? as usize,
            None => gen.window,
        };
        let sliding = match window {
            0 => vec![false; p.n_layers],
            _ => sliding_layers(
                file,
                &key("attention.sliding_window_pattern"),
                p.n_layers,
                gen.period,
            )?,
        };
        let local_base = match file.get(&key("rope.freq_base_swa")) {
            Some(_) => Some(file.get_f32(&key("rope.freq_base_swa"))? as f64),
            None => gen.local_base,
        };
        if let Some(b) = local_base.filter(|b| !(b.is_finite() && *b > 1.0)) {
            return Err(ModelError::Invalid(format!(
                "{} is {b}, not above 1",
                key("rope.freq_base_swa")
            )));
        }
        let attn_cap = soft_cap(file, &key("attn_logit_softcapping"), gen.attn_cap)?;
        let logit_cap = soft_cap(file, &key("final_logit_softcapping"), gen.final_cap)?;
        let q_width = (p.n_heads * p.head_dim) as u64;
        let kv_width = (p.n_kv_heads * p.head_dim) as u64;
        let (e, f, hd) = (p.n_embd as u64, p.n_ff as u64, p.head_dim as u64);
        let mut layers = Vec::with_capacity(p.n_layers);
        for l in 0..p.n_layers {
            let n = |s: &str| format!("blk.{l}.{s}.weight");
            layers.push(Layer {
                attn_norm: ld.load(&n("attn_norm"), &[e])?,
                wq: ld.load(&n("attn_q"), &[e, q_width])?,
                wk: ld.load(&n("attn_k"), &[e, kv_width])?,
                wv: ld.load(&n("attn_v"), &[e, kv_width])?,
                qk_norm: match gen.qk_norm {
                    true => Some([
                        ld.load(&n("attn_q_norm"), &[hd])?,
                        ld.load(&n("attn_k_norm"), &[hd])?,
                    ]),
                    false => None,
                },
                wo: ld.load(&n("attn_output"), &[q_width, e])?,
                post_attn_norm: ld.load(&n("post_attention_norm"), &[e])?,
                ffn_norm: ld.load(&n("ffn_norm"), &[e])?,
                gate: ld.load(&n("ffn_gate"), &[e, f])?,
                up: ld.load(&n("ffn_up"), &[e, f])?,
                down: ld.load(&n("ffn_down"), &[f, e])?,
                post_ffw_norm: ld.load(&n("post_ffw_norm"), &[e])?,
            });
        }
        let local = match local_base {
            Some(base) => Rope::new(p.rope.n_rot, base, &RopeScaling::None, None),
            None => p.rope.clone(),
        };
        let shape = |rope| AttentionShape {
            logit_softcap: attn_cap,
            ..p.attention_shape(rope)
        };
        Ok(Blocks {
            layers,
            global: shape(p.rope.clone()),
            local: shape(local),
            sliding,
            window,
            embed_scale: (p.n_embd as f32).sqrt(),
            query_scale: query_scale(p, gen.layers_27b),
            logit_cap,
        })
    }

    /// Whether Q and K are normalised per head (Gemma 3).
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
        let (qw, d) = (p.n_heads * p.head_dim, p.n_embd);
        x.project_qkv(&w.attn_norm, [&w.wq, &w.wk, &w.wv])?;
        if let Some([nq, nk]) = &w.qk_norm {
            x.norm_heads(nq, nk);
        }
        if let Some(scale) = self.query_scale {
            x.be.scale(&mut x.s.q, scale, n * qw);
        }
        match self.sliding[l] {
            true => x.attend(l, &self.local, Some(self.window))?,
            false => x.attend(l, &self.global, None)?,
        }
        let (be, s) = (&mut *x.be, &mut *x.s);
        be.matmul(&w.wo, &s.attn, n, &mut s.o)?;
        be.rms_norm(&s.o, &w.post_attn_norm, p.rms_eps, n, &mut s.h);
        be.add(&mut s.x, &s.h, n * d);
        be.rms_norm(&s.x, &w.ffn_norm, p.rms_eps, n, &mut s.h);
        be.matmul_many([&w.gate, &w.up], &s.h, n, [&mut s.g, &mut s.u])?;
        be.geglu(&mut s.g, &s.u, n * p.n_ff);
        be.matmul(&w.down, &s.g, n, &mut s.o)?;
        be.rms_norm(&s.o, &w.post_ffw_norm, p.rms_eps, n, &mut s.h);
        be.add(&mut s.x, &s.h, n * d);
        Ok(())
    }
}

/// A soft-cap from `key`, or `default` when the file has none; 0 means no cap.
fn soft_cap(file: &Gguf, key: &str, default: f32) -> Result<Option<f32>, ModelError> {
    let cap = match file.get(key) {
        Some(_) => file.get_f32(key)?,
        None => default,
    };
    match cap {
        0.0 => Ok(None),
        c if c.is_finite() && c > 0.0 => Ok(Some(c)),
        c => Err(ModelError::Invalid(format!("{key} is {c}"))),
    }
}

/// Which of `n_layers` layers slide: the file's per-layer flags, or every layer but each
/// `n`-th of a period `n` (its u32, else `period`: llama.cpp's 6 for Gemma 3 and 2 for
/// Gemma 2; 0 = all slide).
fn sliding_layers(
    file: &Gguf,
    key: &str,
    n_layers: usize,
    period: usize,
) -> Result<Vec<bool>, ModelError> {
    let period = match file.get(key) {
        Some(Value::Array(a)) => {
            let flags: Vec<bool> = match a.len == n_layers as u64 {
                true => a
                    .iter()
                    .filter_map(|v| v.as_bool().or_else(|| v.as_u64().map(|u| u != 0)))
                    .collect(),
                false => Vec::new(),
            };
            if flags.len() != n_layers {
                return Err(ModelError::Invalid(format!(
                    "{key} has {} entries (a flag per layer expected: booleans or integers), \
                     but the model has {n_layers} layers",
                    a.len
                )));
            }
            return Ok(flags);
        }
        Some(_) => file.get_u32(key)? as usize,
        None => period,
    };
    Ok((0..n_layers)
        .map(|l| period == 0 || l % period < period - 1)
        .collect())
}

/// Gemma 2 and 3 27B scale queries by 1/√(n_embd / n_heads) rather than 1/√head_dim
/// (llama.cpp tells the 27B by its layer count): the attention applies 1/√head_dim, so queries
/// take the ratio.
fn query_scale(p: &ModelParams, layers_27b: usize) -> Option<f32> {
    (p.n_layers == layers_27b && p.n_embd >= p.n_heads).then(|| {
        let per_head = (p.n_embd / p.n_heads) as f32;
        (p.head_dim as f32).sqrt() / per_head.sqrt()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_of_six_makes_every_sixth_layer_global() {
        let g = Gguf::from_bytes(pine_gguf::GgufWriter::new().to_bytes().unwrap()).unwrap();
        let s = sliding_layers(&g, "gemma3.attention.sliding_window_pattern", 13, 6).unwrap();
        let global: Vec<usize> = (0..13).filter(|&l| !s[l]).collect();
        assert_eq!(global, [5, 11]);
    }
}
