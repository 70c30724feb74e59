//! The hyper-parameters every family has, from a GGUF file's `<arch>.*` keys, with llama.cpp's
//! defaults and a clear error for anything pine cannot run (a family's own keys are read in its
//! file, e.g. `gemma.rs`).

use pine_backend::{AttentionShape, Rope, RopeScaling};
use pine_gguf::Gguf;

use crate::arch::Architecture;
use crate::error::ModelError;

/// The widest attention head pine runs (real models use 64 to 256); bounds the RoPE tables a
/// file's `rope.dimension_count` sizes before any tensor is read.
pub const MAX_HEAD_DIM: usize = 1024;

/// Shape and numerics of a model.
#[derive(Clone, Debug)]
pub struct ModelParams {
    /// `general.architecture`.
    pub arch: String,
    /// The family that value names, and so which blocks run and how.
    pub architecture: Architecture,
    /// Transformer layers.
    pub n_layers: usize,
    /// Hidden width.
    pub n_embd: usize,
    /// FFN inner width.
    pub n_ff: usize,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads.
    pub n_kv_heads: usize,
    /// Elements per head.
    pub head_dim: usize,
    /// Vocabulary size (rows of `token_embd.weight`).
    pub n_vocab: usize,
    /// Training context length.
    pub n_ctx_train: usize,
    /// RMSNorm epsilon.
    pub rms_eps: f32,
    /// Rotary embedding.
    pub rope: Rope,
}

impl ModelParams {
    /// Reads the parameters; errors name the missing or invalid key.
    pub fn from_gguf(g: &Gguf) -> Result<ModelParams, ModelError> {
        let arch = g.get_str("general.architecture")?.to_string();
        let architecture = Architecture::from_name(&arch)?;
        let key = |k: &str| format!("{arch}.{k}");
        let n_layers = g.get_u32(&key("block_count"))? as usize;
        let n_embd = g.get_u32(&key("embedding_length"))? as usize;
        let n_ff = g.get_u32(&key("feed_forward_length"))? as usize;
        let n_heads = g.get_u32(&key("attention.head_count"))? as usize;
        let n_kv_heads = match g.get(&key("attention.head_count_kv")) {
            Some(_) => g.get_u32(&key("attention.head_count_kv"))? as usize,
            None => n_heads,
        };
        let invalid = |what: String| Err(ModelError::Invalid(what));
        if n_layers == 0 || n_embd == 0 || n_heads == 0 || n_kv_heads == 0 || n_ff == 0 {
            return invalid(format!("zero-sized model: {n_layers} layers, {n_embd} wide, {n_heads}/{n_kv_heads} heads, ff {n_ff}"));
        }
        // Nothing is sized by the block count before the file is known to hold that many
        // blocks: a layer is at least its two norms and four matrices (Phi-3's fused ones).
        let last = format!("blk.{}.attn_norm.weight", n_layers - 1);
        if n_layers > g.tensors().len() / 6 || g.tensor(&last).is_none() {
            return invalid(format!(
                "{} = {n_layers}, but the file's {} tensors hold fewer blocks (no '{last}')",
                key("block_count"),
                g.tensors().len()
            ));
        }
        if !n_heads.is_multiple_of(n_kv_heads) {
            return invalid(format!(
                "{n_heads} heads are not a multiple of {n_kv_heads} KV heads"
            ));
        }
        let head_dim = match g.get(&key("attention.key_length")) {
            Some(_) => g.get_u32(&key("attention.key_length"))? as usize,
            None if n_embd.is_multiple_of(n_heads) => n_embd / n_heads,
            None => return invalid(format!("width {n_embd} not divisible by {n_heads} heads")),
        };
        if head_dim == 0 || head_dim > MAX_HEAD_DIM {
            return Err(ModelError::Unsupported(format!(
                "head dimension {head_dim} (from {} and {}; pine runs 1 to {MAX_HEAD_DIM})",
                key("embedding_length"),
                key("attention.head_count")
            )));
        }
        let n_rot = match g.get(&key("rope.dimension_count")) {
            Some(_) => g.get_u32(&key("rope.dimension_count"))? as usize,
            None => head_dim,
        };
        if n_rot > head_dim || !n_rot.is_multiple_of(2) {
            return invalid(format!("rope dimension {n_rot} for head dim {head_dim}"));
        }
        let emb = g
            .tensor("token_embd.weight")
            .ok_or_else(|| ModelError::MissingTensor("token_embd.weight".into()))?;
        if emb.dims.len() != 2 || emb.dims[0] != n_embd as u64 {
            return invalid(format!(
                "token_embd.weight has dims {:?}, but {} is {n_embd}",
                emb.dims,
                key("embedding_length")
            ));
        }
        let n_vocab = emb.n_rows() as usize;
        const TOKENS: &str = "tokenizer.ggml.tokens";
        if let Some(a) = g.get(TOKENS).and_then(|v| v.as_array()) {
            if a.len != n_vocab as u64 {
                return invalid(format!(
                    "{TOKENS} has {} entries, but token_embd.weight has {n_vocab} rows",
                    a.len
                ));
            }
        }
        let n_ctx_train = match g.get(&key("context_length")) {
            Some(_) => g.get_u32(&key("context_length"))? as usize,
            None => 2048,
        };
        if n_ctx_train == 0 {
            return invalid(format!("{} is 0", key("context_length")));
        }
        let eps_key = key("attention.layer_norm_rms_epsilon");
        let rms_eps = g.get_f32(&eps_key)?;
        if !(rms_eps.is_finite() && rms_eps > 0.0 && rms_eps < 1.0) {
            return invalid(format!("{eps_key} is {rms_eps}, not in (0, 1)"));
        }
        let freq_base = match g.get(&key("rope.freq_base")) {
            Some(_) => g.get_f32(&key("rope.freq_base"))? as f64,
            None => 10000.0,
        };
        if !(freq_base.is_finite() && freq_base > 1.0) {
            return invalid(format!(
                "{} is {freq_base}, not above 1",
                key("rope.freq_base")
            ));
        }
        let scaling = rope_scaling(g, &arch)?;
        if g.tensor("rope_factors_long.weight").is_some() {
            return Err(ModelError::Unsupported(
                "LongRoPE factors (rope_factors_long.weight: a 128k-context Phi-3 file)".into(),
            ));
        }
        let factors = match g.tensor("rope_freqs.weight") {
            Some(t) if t.ty == pine_gguf::GgmlType::F32 && t.n_elements() as usize == n_rot / 2 => {
                Some(
                    g.tensor_data(t)
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect::<Vec<_>>(),
                )
            }
            Some(t) => {
                return invalid(format!(
                    "rope_freqs.weight must be F32 with {} elements, is {} {:?}",
                    n_rot / 2,
                    t.ty,
                    t.dims
                ))
            }
            None => None,
        };
        let rope = Rope::new(n_rot, freq_base, &scaling, factors.as_deref());

        Ok(ModelParams {
            arch,
            n_layers,
            n_embd,
            n_ff,
            n_heads,
            n_kv_heads,
            head_dim,
            n_vocab,
            n_ctx_train,
            rms_eps,
            rope,
            architecture,
        })
    }
}

impl ModelParams {
    /// The attention shape of a layer whose RoPE is `rope`, tabulated for about twice the
    /// training context (queries are rotated at position + shift under PINE).
    pub fn attention_shape(&self, rope: Rope) -> AttentionShape {
        AttentionShape {
            n_heads: self.n_heads,
            n_kv_heads: self.n_kv_heads,
            head_dim: self.head_dim,
            rope: rope.with_table(2 * self.n_ctx_train.min(32768)),
            logit_softcap: None,
        }
    }
}

fn rope_scaling(g: &Gguf, arch: &str) -> Result<RopeScaling, ModelError> {
    let ty_key = format!("{arch}.rope.scaling.type");
    let ty = match g.get(&ty_key) {
        Some(_) => g.get_str(&ty_key)?.to_string(),
        None => "none".to_string(),
    };
    let positive = |k: &str| -> Result<f64, ModelError> {
        let k = format!("{arch}.rope.scaling.{k}");
        let v = g.get_f32(&k)? as f64;
        match v.is_finite() && v > 0.0 {
            true => Ok(v),
            false => Err(ModelError::Invalid(format!(
                "{k} is {v}, not a positive number"
            ))),
        }
    };
    match ty.as_str() {
        "none" => Ok(RopeScaling::None),
        "linear" => Ok(RopeScaling::Linear {
            factor: positive("factor")?,
        }),
        "llama3" => Ok(RopeScaling::Llama3 {
            factor: positive("factor")?,
            low_freq_factor: positive("low_freq_factor")?,
            high_freq_factor: match (positive("low_freq_factor")?, positive("high_freq_factor")?) {
                (lo, hi) if hi > lo => hi,
                (lo, hi) => {
                    return Err(ModelError::Invalid(format!(
                        "{arch}.rope.scaling.high_freq_factor {hi} is not above \
                         low_freq_factor {lo}"
                    )))
                }
            },
            original_context: match g
                .get_u32(&format!("{arch}.rope.scaling.original_context_length"))?
            {
                0 => {
                    return Err(ModelError::Invalid(format!(
                        "{arch}.rope.scaling.original_context_length is 0"
                    )))
                }
                n => n as f64,
            },
        }),
        other => Err(ModelError::Unsupported(format!("{ty_key} = '{other}'"))),
    }
}
