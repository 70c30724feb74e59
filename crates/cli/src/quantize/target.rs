//! What TYPE names and which ggml type each tensor gets for it: one type for every weight
//! matrix (a uniform target), or llama-quantize's per-tensor choice (a [`Mixture`]); llama.cpp's
//! fallbacks for rows the chosen type's blocks do not divide; F32 for everything else; and the
//! `general.file_type` number that tells llama.cpp-compatible readers what the file holds.

use std::fmt;

use pine_gguf::{GgmlType, Gguf, GgufError, TensorInfo};
use pine_quant::dequant::can_dequantize;

use super::mixture::{self, Mixture, ModelShape};

/// The types a uniform target may be, in the order `--help` lists them. `Q6_K` is not among
/// them: it names llama-quantize's Q6_K mixture, which for a Llama model is the same file.
pub const UNIFORM_TARGETS: [GgmlType; 11] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::IQ4_NL,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::F32,
];

/// What `pine-quantize` is asked to produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Every weight matrix as this type, like `llama-quantize --pure`.
    Uniform(GgmlType),
    /// A type per tensor, chosen as llama-quantize does for this mixture.
    Mixture(Mixture),
    /// `llama-quantize --pure` with a mixture: every weight matrix in the mixture's default
    /// type, with the mixture's `general.file_type` (works for any architecture).
    Pure(Mixture),
}

impl Target {
    /// llama.cpp's `LLAMA_FTYPE_*` number for the file, stored as `general.file_type`.
    pub fn file_type(self) -> u32 {
        match self {
            Target::Uniform(ty) => file_type(ty),
            Target::Mixture(m) | Target::Pure(m) => m.file_type(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Uniform(ty) => f.write_str(ty.name()),
            Target::Mixture(m) => f.write_str(m.name()),
            Target::Pure(m) => write!(f, "{} --pure", m.name()),
        }
    }
}

/// Every accepted TYPE, uniform types first, in `--help` order.
fn all_targets() -> impl Iterator<Item = Target> {
    let uniform = UNIFORM_TARGETS.into_iter().map(Target::Uniform);
    uniform.chain(Mixture::ALL.into_iter().map(Target::Mixture))
}

/// Parses TYPE case-insensitively; with `pure` (`--pure`), a mixture becomes [`Target::Pure`].
/// The error lists the accepted names so a typo is easy to fix.
pub fn parse_target(name: &str, pure: bool) -> Result<Target, String> {
    all_targets()
        .find(|t| t.to_string().eq_ignore_ascii_case(name))
        .map(|t| match t {
            Target::Mixture(m) if pure => Target::Pure(m),
            t => t,
        })
        .ok_or_else(|| {
            let names: Vec<String> = all_targets().map(|t| t.to_string()).collect();
            format!(
                "unknown or unsupported target type {name:?} (one of: {})",
                names.join(", ")
            )
        })
}

/// The `--help` text after the options: the accepted TYPEs and what they mean.
pub fn type_help() -> String {
    let names = |ts: &mut dyn Iterator<Item = Target>| {
        ts.map(|t| t.to_string()).collect::<Vec<_>>().join(" ")
    };
    let help = format!(
        "TYPE is one of:\n  \
         {}\n      every weight matrix as that type, like `llama-quantize --pure`\n  \
         {}\n      llama-quantize's mixtures (llama architecture): each tensor's type chosen as\n      \
         llama-quantize does, e.g. Q4_K_M gives attn_v and ffn_down Q6_K on some layers\n\
         Q6_K is llama-quantize's Q6_K mixture, which puts every matrix of a Llama model in Q6_K.\n\
         Q4_K and Q5_K are uniform here (llama-quantize takes them as Q4_K_M and Q5_K_M).\n\
         With --pure a mixture is uniform in its base type, for any architecture (Q6_K --pure).\n\
         Rows that are not whole blocks of the chosen type fall back as in llama.cpp:\n\
         Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K -> Q4_0, then F16.",
        names(&mut UNIFORM_TARGETS.into_iter().map(Target::Uniform)),
        names(&mut Mixture::ALL.into_iter().map(Target::Mixture)),
    );
    help
}

/// llama.cpp's `LLAMA_FTYPE_*` number for a file quantized uniformly to `ty`.
/// K-quants map to the `_S` variants, which are the nearly uniform ones.
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
        IQ4_NL => 25,
        BF16 => 32,
        // Not a uniform target (parse_target refuses it); "guessed" is llama.cpp's own fallback.
        _ => 1024,
    }
}

/// Why no per-tensor plan could be made for a file.
#[derive(Debug)]
pub enum PlanError {
    /// A metadata key the mixture rules read is missing or of the wrong type.
    Metadata {
        /// The key.
        key: String,
        /// What the reader said.
        source: GgufError,
    },
    /// The mixture rules are reproduced for the `llama` architecture only.
    Architecture {
        /// The mixture asked for.
        mixture: Mixture,
        /// The file's `general.architecture`.
        arch: String,
    },
    /// The mixture rules for mixtures of experts are not reproduced.
    Experts {
        /// The mixture asked for.
        mixture: Mixture,
        /// The file's `llama.expert_count`.
        n_expert: u32,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Metadata { key, source } => write!(f, "metadata {key}: {source}"),
            PlanError::Architecture { mixture, arch } => write!(
                f,
                "the {} mixture follows llama-quantize's rules for the llama architecture, \
                 and this model is {arch:?} (use a uniform type instead)",
                mixture.name()
            ),
            PlanError::Experts { mixture, n_expert } => write!(
                f,
                "the {} mixture's rules for mixtures of experts are not reproduced, and this \
                 model has {n_expert} experts (use a uniform type instead)",
                mixture.name()
            ),
        }
    }
}

impl std::error::Error for PlanError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlanError::Metadata { source, .. } => Some(source),
            _ => None,
        }
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

/// True when `t` is re-encoded (decoded and encoded again) rather than copied: its type changes,
/// or `--via-f16` rounds a matrix through f16.
pub(super) fn is_reencoded(t: &TensorInfo, choice: &Choice, via_f16: bool) -> bool {
    choice.ty != t.ty || (via_f16 && is_matrix(t))
}

/// The type a tensor is written as, and a note when it is not what the target asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// The output type.
    pub ty: GgmlType,
    /// Why `ty` differs from the type the target wanted (printed on stderr), if it does.
    pub note: Option<String>,
}

/// The type of every tensor of `g` for `target`, in file order. Every type a target can give
/// has a quantizer (a test holds that).
pub fn plan(g: &Gguf, target: Target) -> Result<Vec<Choice>, PlanError> {
    let tensors = g.tensors();
    let choices: Vec<Choice> = match target {
        Target::Uniform(ty) => tensors.iter().map(|t| choose(t, ty)).collect(),
        Target::Pure(m) => tensors
            .iter()
            .map(|t| choose(t, m.default_type()))
            .collect(),
        Target::Mixture(m) => mixture::plan(tensors, ModelShape::from_gguf(g, m)?, m),
    };
    Ok(choices)
}

/// The output type of `t` for the uniform target `ty`: `fit` for matrices, `keep` otherwise.
pub fn choose(t: &TensorInfo, ty: GgmlType) -> Choice {
    if is_matrix(t) {
        fit(t, ty)
    } else {
        keep(t)
    }
}

/// What a tensor that is not a weight matrix is written as: F32 (converted if stored otherwise),
/// or its own type when pine cannot decode it (e.g. integer tensors), which copies it.
pub(super) fn keep(t: &TensorInfo) -> Choice {
    let ty = if can_dequantize(t.ty) {
        GgmlType::F32
    } else {
        t.ty
    };
    Choice { ty, note: None }
}

/// Matrix `t` as `wanted`, unless its row length is not a whole number of `wanted`'s blocks:
/// then llama.cpp's `tensor_type_fallback` (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0,
/// Q2_K/Q3_K → Q4_0, as in current llama.cpp; b4748 used IQ4_NL for those two), and F16 when
/// those blocks still do not fit or there is no fallback (where llama.cpp gives up, e.g. a
/// Q8_0 row of 40).
pub(super) fn fit(t: &TensorInfo, wanted: GgmlType) -> Choice {
    let row = t.row_len();
    let fits = |ty: GgmlType| row.is_multiple_of(ty.block_size() as u64);
    if fits(wanted) {
        return Choice {
            ty: wanted,
            note: None,
        };
    }
    let mut ty = match wanted {
        GgmlType::Q2_K | GgmlType::Q3_K => GgmlType::Q4_0,
        GgmlType::Q4_K => GgmlType::Q5_0,
        GgmlType::Q5_K => GgmlType::Q5_1,
        GgmlType::Q6_K => GgmlType::Q8_0,
        _ => GgmlType::F16,
    };
    if !fits(ty) {
        ty = GgmlType::F16;
    }
    let note = format!(
        "{}: row length {row} is not a multiple of the {wanted} block size {}, using {ty}",
        t.name,
        wanted.block_size()
    );
    Choice {
        ty,
        note: Some(note),
    }
}
