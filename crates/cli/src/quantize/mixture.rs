//! llama-quantize's k-quant mixtures (`Q4_K_M`, `Q5_K_S`, ...): the ggml type each tensor of a
//! dense Llama model gets, as `llama_tensor_get_type` in llama.cpp's `src/llama-quant.cpp`
//! chooses it without an importance matrix. The rules are those of current llama.cpp (checked
//! tensor by tensor against `llama-quantize --dry-run` 0.6.0-dev on Llama-shaped models with
//! 2, 16, 30 and 80 layers, and against the b4748 files in the tiny-llama fixtures); only the
//! branches a dense `llama` model can reach are kept (no Falcon, MoE or IQ-mixture rules).

use pine_gguf::{GgmlType, Gguf, TensorInfo};

use super::target::{fit, is_matrix, keep, Choice, PlanError};

/// One of llama-quantize's k-quant mixtures: a default type for the weight matrices, with more
/// bits for `output`, `attn_v`, `ffn_down` and `attn_output` depending on the mixture and layer.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mixture {
    /// `Q2_K`: Q2_K, with Q3_K (or Q4_K) `attn_v` and Q3_K `ffn_down`/`attn_output`.
    Q2_K,
    /// `Q3_K_M`: Q3_K, with Q4_K/Q5_K `attn_v`, `ffn_down` and `attn_output`.
    Q3_K_M,
    /// `Q4_K_S`: Q4_K, with Q5_K for the first 4 `attn_v` and the first eighth of `ffn_down`.
    Q4_K_S,
    /// `Q4_K_M`: Q4_K, with Q6_K `attn_v`/`ffn_down` on the `use_more_bits` layers.
    Q4_K_M,
    /// `Q5_K_S`: Q5_K everywhere but `output`.
    Q5_K_S,
    /// `Q5_K_M`: Q5_K, with Q6_K `attn_v`/`ffn_down` on the `use_more_bits` layers.
    Q5_K_M,
    /// `Q6_K`: Q6_K everywhere (the only rule, `output` → Q6_K, changes nothing).
    Q6_K,
}

impl Mixture {
    /// Every mixture, in the order `--help` lists them.
    pub const ALL: [Mixture; 7] = [
        Mixture::Q2_K,
        Mixture::Q3_K_M,
        Mixture::Q4_K_S,
        Mixture::Q4_K_M,
        Mixture::Q5_K_S,
        Mixture::Q5_K_M,
        Mixture::Q6_K,
    ];

    /// The name llama-quantize gives it (and `pine-quantize` accepts as TYPE).
    pub fn name(self) -> &'static str {
        match self {
            Mixture::Q2_K => "Q2_K",
            Mixture::Q3_K_M => "Q3_K_M",
            Mixture::Q4_K_S => "Q4_K_S",
            Mixture::Q4_K_M => "Q4_K_M",
            Mixture::Q5_K_S => "Q5_K_S",
            Mixture::Q5_K_M => "Q5_K_M",
            Mixture::Q6_K => "Q6_K",
        }
    }

    /// llama.cpp's `LLAMA_FTYPE_MOSTLY_*` number, stored as `general.file_type`.
    pub fn file_type(self) -> u32 {
        match self {
            Mixture::Q2_K => 10,
            Mixture::Q3_K_M => 12,
            Mixture::Q4_K_S => 14,
            Mixture::Q4_K_M => 15,
            Mixture::Q5_K_S => 16,
            Mixture::Q5_K_M => 17,
            Mixture::Q6_K => 18,
        }
    }

    /// The type of every matrix no rule singles out (`llama_ftype_get_default_type`).
    pub fn default_type(self) -> GgmlType {
        match self {
            Mixture::Q2_K => GgmlType::Q2_K,
            Mixture::Q3_K_M => GgmlType::Q3_K,
            Mixture::Q4_K_S | Mixture::Q4_K_M => GgmlType::Q4_K,
            Mixture::Q5_K_S | Mixture::Q5_K_M => GgmlType::Q5_K,
            Mixture::Q6_K => GgmlType::Q6_K,
        }
    }
}

/// The only architecture whose mixture rules are reproduced here.
const ARCHITECTURE: &str = "llama";

/// The hyperparameters llama-quantize's rules read from a Llama model's metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelShape {
    /// `llama.block_count`; llama.cpp counts the `ffn_down` tensors against it.
    pub n_layer: u32,
    /// `llama.attention.head_count`.
    pub n_head: u32,
    /// `llama.attention.head_count_kv` (`n_head` when absent).
    pub n_head_kv: u32,
}

impl ModelShape {
    /// Reads the shape of `g`, refusing files the rules here do not cover: another architecture
    /// than `llama`, or a mixture of experts (`llama.expert_count` above 1).
    pub fn from_gguf(g: &Gguf, mixture: Mixture) -> Result<ModelShape, PlanError> {
        let u32_key = |key: &str| {
            g.get_u32(key).map_err(|source| PlanError::Metadata {
                key: key.to_string(),
                source,
            })
        };
        let arch = g
            .get_str("general.architecture")
            .map_err(|source| PlanError::Metadata {
                key: "general.architecture".into(),
                source,
            })?;
        if arch != ARCHITECTURE {
            return Err(PlanError::Architecture {
                mixture,
                arch: arch.to_string(),
            });
        }
        let present = |key: &str| g.get(key).is_some();
        let n_expert = if present("llama.expert_count") {
            u32_key("llama.expert_count")?
        } else {
            0
        };
        if n_expert > 1 {
            return Err(PlanError::Experts { mixture, n_expert });
        }
        let n_head = u32_key("llama.attention.head_count")?;
        let n_head_kv = if present("llama.attention.head_count_kv") {
            u32_key("llama.attention.head_count_kv")?
        } else {
            n_head
        };
        Ok(ModelShape {
            n_layer: u32_key("llama.block_count")?,
            n_head,
            n_head_kv,
        })
    }

    /// Query heads per KV head (`hparams.n_gqa()`, 0 without KV heads).
    fn n_gqa(self) -> u32 {
        self.n_head.checked_div(self.n_head_kv).unwrap_or(0)
    }

    /// llama.cpp's `LLM_TYPE_70B` for a dense Llama: 80 layers with grouped-query attention.
    fn is_70b(self) -> bool {
        self.n_layer == 80 && self.n_head != self.n_head_kv
    }
}

/// The tensor roles the rules tell apart: llama.cpp's `tensor_category`, less the categories
/// that only IQ or MoE mixtures treat specially (those are [`Role::Other`] here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// `output.weight`, the LM head.
    Output,
    /// `token_embd.weight`; quantized as [`Role::Output`] when there is no `output.weight`.
    TokenEmbd,
    /// `attn_v`, or a fused `attn_qkv` / `attn_kv_b`.
    AttnV,
    /// `attn_output`.
    AttnOutput,
    /// `ffn_down`.
    FfnDown,
    /// Everything else: the mixture's default type.
    Other,
}

/// The role of a tensor named `name`, matched like `tensor_get_category` (whole names for the
/// embeddings, substrings for the per-layer tensors).
fn role(name: &str) -> Role {
    const ATTN_V: [&str; 3] = ["attn_qkv.weight", "attn_kv_b.weight", "attn_v.weight"];
    if name == "output.weight" {
        Role::Output
    } else if name == "token_embd.weight" {
        Role::TokenEmbd
    } else if ATTN_V.iter().any(|p| name.contains(p)) {
        Role::AttnV
    } else if name.contains("attn_output.weight") {
        Role::AttnOutput
    } else if name.contains("ffn_down") {
        Role::FfnDown
    } else {
        Role::Other
    }
}

/// llama.cpp's `use_more_bits`: the first and last eighth of the layers, and every third one in
/// between, get more bits in the `_M` mixtures.
fn use_more_bits(i_layer: usize, n_layer: usize) -> bool {
    i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2
}

/// The layer number llama.cpp's `weight_name_comparer` reads from `blk.N.`, -1 for tensors
/// outside the blocks.
fn layer_of(name: &str) -> i64 {
    let Some(rest) = name.strip_prefix("blk.") else {
        return -1;
    };
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().unwrap_or(-1)
}

/// The per-file state of `llama_tensor_get_type`: the counts it sees up front and the running
/// `attn_v` / `ffn_down` indices.
struct Rules {
    /// The mixture being made.
    mixture: Mixture,
    /// The model's hyperparameters.
    shape: ModelShape,
    /// No `output.weight`: `token_embd` doubles as the LM head and is quantized as one.
    tied: bool,
    /// Number of [`Role::AttnV`] tensors in the file (`n_attention_wv`).
    n_attn_v: usize,
    /// Index of the next [`Role::AttnV`] matrix (`i_attention_wv`).
    i_attn_v: usize,
    /// Index of the next [`Role::FfnDown`] matrix (`i_ffn_down`).
    i_ffn_down: usize,
}

impl Rules {
    /// The type matrix `t` should get before the row-length fallback; advances the counters.
    fn wanted(&mut self, t: &TensorInfo) -> GgmlType {
        use GgmlType::*;
        use Mixture as M;
        let default = self.mixture.default_type();
        match role(&t.name) {
            Role::Output => self.lm_head(t),
            Role::TokenEmbd if self.tied => self.lm_head(t),
            Role::AttnV => {
                let i = self.i_attn_v;
                self.i_attn_v += 1;
                let ty = match self.mixture {
                    M::Q2_K if self.shape.n_gqa() >= 4 => Q4_K,
                    M::Q2_K => Q3_K,
                    M::Q3_K_M if i < 2 => Q5_K,
                    M::Q3_K_M => Q4_K,
                    M::Q4_K_M | M::Q5_K_M if use_more_bits(i, self.n_attn_v) => Q6_K,
                    M::Q4_K_S if i < 4 => Q5_K,
                    _ => default,
                };
                // A 70B's attn_v is 8x smaller than attn_q, so llama.cpp gives it more bits.
                if self.shape.is_70b() && matches!(ty, Q3_K | Q4_K) {
                    Q5_K
                } else {
                    ty
                }
            }
            Role::FfnDown => {
                let (i, n) = (self.i_ffn_down, self.shape.n_layer as usize);
                self.i_ffn_down += 1;
                match self.mixture {
                    M::Q2_K => Q3_K,
                    M::Q3_K_M if i < n / 16 => Q5_K,
                    M::Q3_K_M => Q4_K,
                    M::Q4_K_M | M::Q5_K_M if use_more_bits(i, n) => Q6_K,
                    M::Q4_K_S if i < n / 8 => Q5_K,
                    _ => default,
                }
            }
            Role::AttnOutput => match self.mixture {
                M::Q2_K => Q3_K,
                M::Q3_K_M => Q4_K,
                _ => default,
            },
            Role::TokenEmbd | Role::Other => default,
        }
    }

    /// The LM head's type: Q6_K, or Q8_0 when its rows are not whole blocks of the default type.
    fn lm_head(&self, t: &TensorInfo) -> GgmlType {
        let block = self.mixture.default_type().block_size() as u64;
        if t.row_len().is_multiple_of(block) {
            GgmlType::Q6_K
        } else {
            GgmlType::Q8_0
        }
    }
}

/// The type of every tensor of a dense Llama model for `mixture`, in `tensors`' order.
///
/// Matrices get the mixture's rule, then the row-length fallback of `fit`; other tensors are
/// kept as by `keep`. llama-quantize visits the tensors sorted by layer, then by name, and
/// numbers the `attn_v` and `ffn_down` matrices in that order; so does this.
pub fn plan(tensors: &[TensorInfo], shape: ModelShape, mixture: Mixture) -> Vec<Choice> {
    let count = |r: Role| tensors.iter().filter(|t| role(&t.name) == r).count();
    let mut rules = Rules {
        mixture,
        shape,
        tied: count(Role::Output) == 0,
        n_attn_v: count(Role::AttnV),
        i_attn_v: 0,
        i_ffn_down: 0,
    };
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_by_key(|&i| (layer_of(&tensors[i].name), tensors[i].name.as_str()));
    let mut wanted = vec![mixture.default_type(); tensors.len()];
    for i in order {
        if is_matrix(&tensors[i]) {
            wanted[i] = rules.wanted(&tensors[i]);
        }
    }
    tensors
        .iter()
        .zip(wanted)
        .map(|(t, ty)| if is_matrix(t) { fit(t, ty) } else { keep(t) })
        .collect()
}
