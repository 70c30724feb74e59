//! The kernel table: which dot function serves each weight type on this CPU, picked once.

use super::scalar::{float, iquants, kquants, legacy, ternary};
use crate::activation::activation_type;
use crate::QuantError;
use pine_gguf::GgmlType;
use std::sync::OnceLock;

/// A dot kernel: weight row bytes × activation row bytes → f32. Both slices must hold the same
/// number of blocks (the engine validates once per call); extra bytes are ignored, never read
/// out of bounds.
pub type DotFn = fn(w: &[u8], a: &[u8]) -> f32;

/// Type ids run up to 39 (MXFP4); the table is indexed by id.
const SLOTS: usize = 40;

/// The dot kernels of one instruction-set choice, indexed by weight type. Built once by
/// [`kernels`]; `Kernels::scalar()` exists so tests and benches can compare against it.
#[derive(Clone, Debug)]
pub struct Kernels {
    fns: [Option<(DotFn, &'static str)>; SLOTS],
}

impl Kernels {
    /// The portable scalar references for every supported type.
    pub fn scalar() -> Kernels {
        use GgmlType::*;
        let mut k = Kernels { fns: [None; SLOTS] };
        let table: [(GgmlType, DotFn); 19] = [
            (Q4_0, legacy::q4_0),
            (Q4_1, legacy::q4_1),
            (Q5_0, legacy::q5_0),
            (Q5_1, legacy::q5_1),
            (Q8_0, legacy::q8_0),
            (IQ4_NL, legacy::iq4_nl),
            (Q2_K, kquants::q2_k),
            (Q3_K, kquants::q3_k),
            (Q4_K, kquants::q4_k),
            (Q5_K, kquants::q5_k),
            (Q6_K, kquants::q6_k),
            (IQ4_XS, iquants::iq4_xs),
            (TQ1_0, ternary::tq1_0),
            (TQ2_0, ternary::tq2_0),
            (F32, float::f32_f32),
            (F16, float::f16_f16),
            (BF16, crate::dot::bf16_order::bf16_single),
            (IQ3_XXS, iquants::iq3_xxs),
            (IQ3_S, iquants::iq3_s),
        ];
        for (ty, f) in table {
            k.set(ty, f, "scalar");
        }
        k
    }

    /// The fastest kernels this CPU supports (honouring `PINE_CPU_KERNELS=scalar`).
    pub fn detect() -> Kernels {
        let mut k = Kernels::scalar();
        if std::env::var("PINE_CPU_KERNELS").as_deref() == Ok("scalar") {
            return k;
        }
        #[cfg(target_arch = "x86_64")]
        super::x86::install(&mut k);
        #[cfg(target_arch = "aarch64")]
        super::neon::install(&mut k);
        k
    }

    /// Replaces the kernel for `ty`; `isa` names the instruction set for logs and benches.
    pub(crate) fn set(&mut self, ty: GgmlType, f: DotFn, isa: &'static str) {
        self.fns[ty.id() as usize] = Some((f, isa));
    }

    /// The kernel for weights of type `ty`, or `None` when the type has no dot product.
    pub fn get(&self, ty: GgmlType) -> Option<DotFn> {
        self.fns
            .get(ty.id() as usize)
            .copied()
            .flatten()
            .map(|(f, _)| f)
    }

    /// The instruction set serving `ty` (`"scalar"`, `"avx2"`, `"avx512vnni"`, …).
    pub fn isa(&self, ty: GgmlType) -> Option<&'static str> {
        self.fns
            .get(ty.id() as usize)
            .copied()
            .flatten()
            .map(|(_, n)| n)
    }
}

/// The process-wide kernel table, detected on first use.
pub fn kernels() -> &'static Kernels {
    static K: OnceLock<Kernels> = OnceLock::new();
    K.get_or_init(Kernels::detect)
}

/// One checked dot product: `w` is a row of `ty` weights, `a` the same number of elements
/// quantized to `ty`'s activation type. For callers outside the matmul engine (and tests).
pub fn dot(ty: GgmlType, w: &[u8], a: &[u8]) -> Result<f32, QuantError> {
    let f = kernels()
        .get(ty)
        .ok_or(QuantError::Unsupported { ty, op: "dot" })?;
    let aty = activation_type(ty).ok_or(QuantError::Unsupported { ty, op: "dot" })?;
    if !w.len().is_multiple_of(ty.block_bytes()) {
        return Err(QuantError::RowLength {
            ty,
            what: "weight bytes",
            expected: w.len() - w.len() % ty.block_bytes(),
            got: w.len(),
        });
    }
    let blocks = w.len() / ty.block_bytes();
    let n = blocks * ty.block_size();
    let expected = n / aty.block_size() * aty.block_bytes();
    if a.len() != expected {
        return Err(QuantError::RowLength {
            ty: aty,
            what: "activation bytes",
            expected,
            got: a.len(),
        });
    }
    Ok(f(w, a))
}
