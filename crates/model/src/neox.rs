//! NEOX-style rotary models (Qwen2) on pine's adjacent-pair RoPE.
//!
//! NEOX rotates dimension `j` of a head with dimension `j + n_rot / 2` by the same angle that
//! the adjacent-pair ("NORM") style uses for dimensions `2j` and `2j + 1`. Moving row `j` of
//! each head's Q and K projection to `2j` and row `j + n_rot / 2` to `2j + 1` (and their bias
//! entries likewise) makes pine's rotation of the reordered vectors the reordered NEOX
//! rotation of the original ones; queries and keys are reordered alike, so every q·k — all
//! attention ever uses them for — is the same sum in another order. Values are not rotated
//! and keep their order. A per-head RMSNorm of Q and K (Qwen3) commutes with the reordering
//! once its weights are reordered the same way.

use pine_gguf::{Gguf, GgufWriter};

use crate::tensors::Tensors;

use crate::error::ModelError;
use crate::hparams::ModelParams;

/// Where row `r` of a reordered head-major projection comes from.
fn source_row(r: usize, head_dim: usize, n_rot: usize) -> usize {
    let (h, d) = (r / head_dim, r % head_dim);
    let from = match d < n_rot {
        true => d / 2 + (d % 2) * (n_rot / 2),
        false => d,
    };
    h * head_dim + from
}

/// An in-memory file holding every layer's Q and K projections (and biases, when the file has
/// them) with their rows reordered for adjacent-pair rotation.
pub(crate) fn reorder_qk(file: &Tensors, p: &ModelParams) -> Result<Gguf, ModelError> {
    let n_rot = p.rope.n_rot;
    let mut w = GgufWriter::new();
    for l in 0..p.n_layers {
        // Projections and their biases (all heads), and Qwen3's per-head norm weights (one
        // head's worth, applied to every head).
        let parts = [
            ("attn_q", "weight", p.n_heads),
            ("attn_q", "bias", p.n_heads),
            ("attn_k", "weight", p.n_kv_heads),
            ("attn_k", "bias", p.n_kv_heads),
            ("attn_q_norm", "weight", 1),
            ("attn_k_norm", "weight", 1),
        ];
        for (part, kind, heads) in parts {
            {
                let name = format!("blk.{l}.{part}.{kind}");
                let Some((info, data)) = file.data(&name) else {
                    if kind == "bias" || part.ends_with("_norm") {
                        continue;
                    }
                    return Err(ModelError::MissingTensor(name));
                };
                let rows = heads * p.head_dim;
                // A matrix's rows are its last dimension; a bias's are its elements.
                let n_rows = *info.dims.last().unwrap_or(&0) as usize;
                if n_rows != rows || !data.len().is_multiple_of(rows) {
                    return Err(ModelError::Invalid(format!(
                        "tensor '{name}' has dims {:?}, expected {rows} rows",
                        info.dims
                    )));
                }
                let row = data.len() / rows;
                let mut out = Vec::with_capacity(data.len());
                for r in 0..rows {
                    let s = source_row(r, p.head_dim, n_rot);
                    out.extend_from_slice(&data[s * row..(s + 1) * row]);
                }
                w.add_tensor(&name, info.ty, &info.dims, out)?;
            }
        }
    }
    Ok(Gguf::from_bytes(w.to_bytes()?)?)
}

#[cfg(test)]
mod tests {
    use super::source_row;

    #[test]
    fn rows_pair_j_with_j_plus_half() {
        // head_dim 8, n_rot 6: dims 0..6 rotate as (0,3) (1,4) (2,5); 6 and 7 stay.
        let order: Vec<usize> = (0..16).map(|r| source_row(r, 8, 6)).collect();
        assert_eq!(
            order,
            [0, 3, 1, 4, 2, 5, 6, 7, 8, 11, 9, 12, 10, 13, 14, 15]
        );
    }
}
