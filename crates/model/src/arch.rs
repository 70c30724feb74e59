//! The model families pine runs, from a file's `general.architecture`, and the switches of
//! each. Families whose block is Llama's with a few differences (biases, per-head norms, NEOX
//! RoPE, fused tensors) run `llama.rs` with the switches named here; a family with a
//! different block has its own file behind `transformer::Blocks` (`gemma.rs`). The README's
//! "Where a change goes" lists the steps of adding one.

use crate::error::ModelError;

/// A model family pine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Architecture {
    /// Llama 1/2/3.x, Mistral, TinyLlama, SmolLM: the reference graph.
    Llama,
    /// Qwen2 / Qwen2.5: biases on the Q, K and V projections, NEOX-style RoPE.
    Qwen2,
    /// Qwen3: a per-head RMSNorm of Q and K before RoPE, NEOX-style RoPE, no biases.
    Qwen3,
    /// Phi-3 (mini/medium, 4k context): Q/K/V fused into `attn_qkv`, the FFN gate and up
    /// projections fused into `ffn_up`, NEOX-style RoPE.
    Phi3,
    /// Gemma 2: Gemma's block (`gemma.rs`): post-attention and post-FFN norms, GELU, scaled
    /// embeddings, alternating sliding-window layers, soft-capped attention scores and logits,
    /// NEOX-style RoPE.
    Gemma2,
    /// Gemma 3: Gemma's block (`gemma.rs`) with per-head Q/K RMSNorm and sliding-window layers
    /// on their own RoPE base instead of score soft-capping.
    Gemma3,
}

/// Whether a layer's Q/K/V projections carry biases (`blk.N.attn_{q,k,v}.bias`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Biases {
    /// Never: the family has none (llama.cpp does not read them either).
    None,
    /// When the file has them (llama.cpp reads Llama's as optional).
    Optional,
    /// Always: a missing one is a missing tensor.
    Required,
}

impl Architecture {
    /// Every family, in the order the error messages list them.
    pub const ALL: [Architecture; 6] = [
        Architecture::Llama,
        Architecture::Qwen2,
        Architecture::Qwen3,
        Architecture::Phi3,
        Architecture::Gemma2,
        Architecture::Gemma3,
    ];

    /// The `general.architecture` value.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Qwen2 => "qwen2",
            Architecture::Qwen3 => "qwen3",
            Architecture::Phi3 => "phi3",
            Architecture::Gemma2 => "gemma2",
            Architecture::Gemma3 => "gemma3",
        }
    }

    /// The family a `general.architecture` value names; others are an error listing the
    /// families pine runs.
    pub fn from_name(name: &str) -> Result<Architecture, ModelError> {
        Architecture::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| {
                let all: Vec<&str> = Architecture::ALL.iter().map(|a| a.name()).collect();
                ModelError::Unsupported(format!(
                    "architecture '{name}' (pine runs: {})",
                    all.join(", ")
                ))
            })
    }

    /// RoPE rotates dimension `j` with `j + n_rot / 2` (NEOX) rather than adjacent pairs;
    /// pine runs it by reordering the Q/K rows at load (`neox.rs`).
    pub fn rope_neox(self) -> bool {
        matches!(
            self,
            Architecture::Qwen2
                | Architecture::Qwen3
                | Architecture::Phi3
                | Architecture::Gemma2
                | Architecture::Gemma3
        )
    }

    /// Whether the Q/K/V projections carry biases.
    pub fn biases(self) -> Biases {
        match self {
            Architecture::Llama => Biases::Optional,
            Architecture::Qwen2 => Biases::Required,
            Architecture::Qwen3
            | Architecture::Phi3
            | Architecture::Gemma2
            | Architecture::Gemma3 => Biases::None,
        }
    }

    /// Whether `ffn_up` holds the gate's rows and then the up projection's (`2 × n_ff` rows,
    /// no `ffn_gate`), split by views at load (`tensors.rs`).
    pub fn fused_gate_up(self) -> bool {
        matches!(self, Architecture::Phi3)
    }

    /// Whether each head of Q and K is RMS-normalised before RoPE (`attn_q_norm`,
    /// `attn_k_norm`, `head_dim` weights each).
    pub fn qk_norm(self) -> bool {
        matches!(self, Architecture::Qwen3 | Architecture::Gemma3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_supported() {
        for a in Architecture::ALL {
            assert_eq!(Architecture::from_name(a.name()).unwrap(), a);
        }
        let e = Architecture::from_name("gemma9").unwrap_err().to_string();
        assert!(
            e.contains("gemma9") && e.contains("llama, qwen2, qwen3, phi3, gemma2, gemma3"),
            "{e}"
        );
    }
}
