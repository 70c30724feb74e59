//! Which shader build a dispatch loads. A dispatch asks for a [`Shader`] (what it computes, for
//! which types); [`VulkanBackend::shader`] resolves it to the name of the build this device and
//! numeric mode use (the f64 or fused-fma build in exact numerics, the subgroup-shuffle build
//! where the device shuffles, the fast row kernel where one exists) and remembers the answer.
//! A decode step asks a few hundred times, so after the first step each ask is a look-up in a
//! small table instead of names formatted and searched for in the embedded SPIR-V.

use pine_backend::CacheType;
use pine_gguf::GgmlType;

use super::{cache_suffix, VulkanBackend, K_TYPES};
use crate::error::VkError;
use crate::kernels;
use pine_backend::VulkanNumerics;

/// The operation whose activation rounding a shader fuses (`Pre` without its operands).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum RoundOp {
    /// `quantize_act.comp`: the input rounded as it is.
    Plain,
    /// `rms_norm_quant.comp`: RMS-normalised first.
    Norm,
    /// `swiglu_quant.comp`: `silu(gate) * up` first.
    Swiglu,
}

/// A shader asked for by what it computes; the build is chosen by [`VulkanBackend::shader`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Shader {
    /// A shader with f64 builds (`rms_norm`, `swiglu`, `geglu`), by its base name.
    Float(&'static str),
    /// Activations rounded to `act` (its integer form with `int`) after `op`.
    Round {
        op: RoundOp,
        act: GgmlType,
        int: bool,
    },
    /// `attention.comp` over a `cache` cache, rounding its output to `act` for an integer
    /// matmul.
    AttentionRound { cache: CacheType, act: GgmlType },
    /// The integer row kernel (decode, small batches) of weights of type `.0`.
    Row(GgmlType),
    /// Its `_multi` build (two or three weights in one dispatch).
    RowMulti(GgmlType),
    /// The tiled float matmul (`mul_mm.comp`) of type `ty`, with 128 × 128 tiles when `large`.
    Tiled { ty: GgmlType, large: bool },
    /// The tiled matmul of the integer types' rounded activations: integer dot products where
    /// the device has them (`mul_mmq.comp`), else `mul_mm.comp`'s `_int` build.
    TiledInt { ty: GgmlType, large: bool },
    /// The BF16 matmul of one row (`single`) or of a batch.
    Bf16 { single: bool },
    /// The float matmul (`mul_mat.comp`) of type `.0`.
    Mat(GgmlType),
    /// Embedding rows of a table of type `.0`.
    GetRows(GgmlType),
    /// Keys and values into a cache of type `.0`.
    StoreKv(CacheType),
    /// The attention kernel over a cache of type `.0`.
    Attention(CacheType),
    /// PINE's region keys copied into a store of the cache's type `.0`.
    RegionKeys(CacheType),
    /// PINE's importance scores over region keys of type `.0`.
    Importance(CacheType),
}

/// The lower-case type name in shader names (`q4_k`, `iq4_xs`).
fn suffix(ty: GgmlType) -> String {
    ty.name().to_ascii_lowercase()
}

impl VulkanBackend {
    /// The embedded build `s` runs as here, resolved once per backend (see the module docs).
    pub(super) fn shader(&self, s: Shader) -> Result<&'static str, VkError> {
        self.resolve(s)
            .ok_or_else(|| VkError::Device(format!("no shader named {}", self.shader_name(s))))
    }

    /// Whether this device and mode have a build of `s`.
    pub(super) fn has_shader(&self, s: Shader) -> bool {
        self.resolve(s).is_some()
    }

    /// The build of `s`, or `None` where there is none, from the table after the first ask.
    pub(super) fn resolve(&self, s: Shader) -> Option<&'static str> {
        let known = self.shader_names.borrow().get(&s).copied();
        known.unwrap_or_else(|| {
            let found = kernels::find_name(&self.shader_name(s));
            self.shader_names.borrow_mut().insert(s, found);
            found
        })
    }

    /// Forgets the resolved builds (after a test changes what the device is taken to have).
    #[cfg(test)]
    pub(super) fn forget_shaders(&mut self) {
        self.shader_names.borrow_mut().clear();
    }

    /// The name of the build `s` runs as: the choice [`VulkanBackend::shader`] remembers.
    fn shader_name(&self, s: Shader) -> String {
        match s {
            Shader::Float(name) => self.exact(name),
            Shader::Round { op, act, int } => {
                let op = match op {
                    RoundOp::Plain => "quantize_act",
                    RoundOp::Norm => "rms_norm_quant",
                    RoundOp::Swiglu => "swiglu_quant",
                };
                let int = if int { "_int" } else { "" };
                self.exact(&format!("{op}_{}{int}", suffix(act)))
            }
            Shader::AttentionRound { cache, act } => self.exact(&format!(
                "attention_{}_quant_{}_int",
                cache_suffix(cache),
                suffix(act)
            )),
            Shader::Row(ty) => self.row_kernel_name(ty),
            Shader::RowMulti(ty) => format!("{}_multi", self.row_kernel_name(ty)),
            Shader::Tiled { ty, large } => format!("mul_mm_{}{}", suffix(ty), large_suffix(large)),
            Shader::TiledInt { ty, large } => {
                let dot = format!("mul_mmq_{}{}", suffix(ty), large_suffix(large));
                if self.int_dot && kernels::exists(&dot) {
                    dot
                } else {
                    format!("mul_mm_{}_int{}", suffix(ty), large_suffix(large))
                }
            }
            Shader::Bf16 { single } => {
                let order = if single { "single" } else { "batch" };
                self.exact(&format!("mul_mat_bf16_{order}"))
            }
            Shader::Mat(ty) => format!("mul_mat_{}", suffix(ty)),
            Shader::GetRows(ty) => format!("get_rows_{}", suffix(ty)),
            Shader::StoreKv(cache) => format!("store_kv_{}", cache_suffix(cache)),
            Shader::Attention(cache) => self.exact(&format!("attention_{}", cache_suffix(cache))),
            Shader::RegionKeys(cache) => format!("pine_region_keys_{}", cache_suffix(cache)),
            Shader::Importance(cache) => {
                self.exact(&format!("pine_importance_{}", cache_suffix(cache)))
            }
        }
    }

    /// Name of the build to load of a shader that has f64 builds: with the f64 builds (exact
    /// numerics on a device with f64) its build on the device's fma() when the probe found
    /// that fused and the shader has multiply-adds, else its f64 build; elsewhere (fast
    /// numerics) its plain build: native fma(), float division and f32 sums, within a few ulp.
    fn exact(&self, name: &str) -> String {
        if !self.f64_builds {
            return name.to_string();
        }
        let fused = format!("{name}_f64fma");
        if self.fused_fma && kernels::exists(&fused) {
            fused
        } else {
            format!("{name}_f64")
        }
    }

    /// The row kernel (decode, small batches) for integer weights of type `ty`: in fast
    /// numerics `mul_mv.comp` (whole 32-element chunks per lane) where it has a build (every
    /// integer type), else the exact order's `mul_mat_q8.comp` or `mul_mat_k.comp` (its f64
    /// build where exact numerics load those); the build with subgroup shuffles
    /// (`_sg`: the same order, so the same bits) where the device has them.
    fn row_kernel_name(&self, ty: GgmlType) -> String {
        let fast = format!("mul_mv_{}", suffix(ty));
        let base = if self.numerics == VulkanNumerics::Fast && kernels::exists(&fast) {
            fast
        } else {
            let family = if K_TYPES.contains(&ty) { "k" } else { "q8" };
            self.exact(&format!("mul_mat_{family}_{}", suffix(ty)))
        };
        let sg = format!("{base}_sg");
        if self.subgroups && kernels::exists(&sg) {
            sg
        } else {
            base
        }
    }
}

/// The name suffix of the 128 × 128 tiles.
fn large_suffix(large: bool) -> &'static str {
    if large {
        "_l"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use pine_backend::{MatmulMode, VulkanNumerics};
    use pine_gguf::GgmlType;

    use super::Shader;
    use crate::test_support::backend;

    /// A shader resolves to the device's build and the same build when asked again; when a test
    /// changes what the device is taken to have (no subgroup shuffles), it resolves anew; a
    /// build no shader has is an error naming it.
    #[test]
    fn resolved_builds_follow_the_device() {
        let Some(mut vk) = backend(MatmulMode::Native, VulkanNumerics::Fast) else {
            return;
        };
        let row = Shader::Row(GgmlType::Q4_1);
        let first = vk.shader(row).unwrap();
        assert_eq!(vk.shader(row).unwrap(), first);
        let shuffles = if vk.subgroups {
            "mul_mv_q4_1_sg"
        } else {
            "mul_mv_q4_1"
        };
        assert_eq!(first, shuffles);
        vk.force_subgroups(false);
        assert_eq!(vk.shader(row).unwrap(), "mul_mv_q4_1");
        assert!(vk.has_shader(Shader::RowMulti(GgmlType::Q4_1)));
        let err = vk.shader(Shader::Row(GgmlType::F32)).unwrap_err();
        assert!(err.to_string().contains("mul_mat_q8_f32"), "{err}");
        assert!(!vk.has_shader(Shader::Row(GgmlType::F32)));
    }
}
