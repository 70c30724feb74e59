//! Which ggml type each tensor gets: the user's target for weight matrices, llama.cpp's
//! fallbacks for rows the target's blocks do not divide, F32 for everything else; and the
//! `general.file_type` number that tells llama.cpp-compatible readers what the file holds.

use pine_gguf::{GgmlType, TensorInfo};
use pine_quant::dequant::can_dequantize;

/// The types `pine-quantize` accepts as TYPE, in the order `--help` lists them.
pub const TARGETS: [GgmlType; 12] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::IQ4_NL,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::F32,
];

/// Parses TYPE case-insensitively; the error lists the accepted names so a typo is easy to fix.
pub fn parse_target(name: &str) -> Result<GgmlType, String> {
    TARGETS
        .into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let names: Vec<&str> = TARGETS.iter().map(|t| t.name()).collect();
            format!(
                "unknown or unsupported target type {name:?} (one of: {})",
                names.join(", ")
            )
        })
}

/// llama.cpp's `LLAMA_FTYPE_*` number for a file quantized uniformly to `ty`, stored as
/// `general.file_type`. K-quants map to the `_S` variants, which are the uniform ones.
pub fn file_type(ty: GgmlType) -> u32 {
    use GgmlType::*;
    match ty {
        F32 => 0,
        F16 => 1,
        Q4_0 => 2,
        Q4_1 => 3,
        Q8_0 => 7,
        Q5_0 => 8,
        Q5_1 => 9,
        Q4_K => 14,
        Q5_K => 16,
        Q6_K => 18,
        IQ4_NL => 25,
        BF16 => 32,
        // Not a target (parse_target refuses it); "guessed" is llama.cpp's own fallback.
        _ => 1024,
    }
}

/// ggml's `ggml_n_dims`: trailing dimensions of size 1 do not count, so `[256, 1]` is 1-D.
fn n_dims(t: &TensorInfo) -> usize {
    t.dims.iter().rposition(|&d| d != 1).map_or(1, |i| i + 1)
}

/// True for the tensors llama-quantize quantizes: weights (name ending in `weight`) with at
/// least two dimensions, which includes `token_embd` and `output`. Norms and biases are 1-D.
pub fn is_matrix(t: &TensorInfo) -> bool {
    t.name.ends_with("weight") && n_dims(t) >= 2
}

/// The type a tensor is written as, and a note when it is not what the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// The output type.
    pub ty: GgmlType,
    /// Why `ty` differs from the target (printed on stderr), if it does.
    pub note: Option<String>,
}

/// Picks the output type of `t` for target `target`.
///
/// Matrices get `target`, unless their row length is not a whole number of its blocks: then,
/// like llama.cpp's `llama_tensor_get_type`, Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, and
/// anything whose blocks still do not fit (including the 32-element legacy types) → F16.
/// Other tensors are kept as F32 (converted if stored otherwise), or copied unchanged when they
/// cannot be decoded (e.g. integer tensors).
pub fn choose(t: &TensorInfo, target: GgmlType) -> Choice {
    if !is_matrix(t) {
        let ty = if can_dequantize(t.ty) {
            GgmlType::F32
        } else {
            t.ty
        };
        return Choice { ty, note: None };
    }
    let row = t.row_len();
    let fits = |ty: GgmlType| row.is_multiple_of(ty.block_size() as u64);
    if fits(target) {
        return Choice {
            ty: target,
            note: None,
        };
    }
    let mut ty = match target {
        GgmlType::Q4_K => GgmlType::Q5_0,
        GgmlType::Q5_K => GgmlType::Q5_1,
        GgmlType::Q6_K => GgmlType::Q8_0,
        _ => GgmlType::F16,
    };
    if !fits(ty) {
        ty = GgmlType::F16;
    }
    let note = format!(
        "{}: row length {row} is not a multiple of the {target} block size {}, using {ty}",
        t.name,
        target.block_size()
    );
    Choice {
        ty,
        note: Some(note),
    }
}
