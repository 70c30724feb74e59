//! Weight-row × activation-row dot products, one per weight type, paired with activations
//! exactly as llama.cpp pairs them (see [`crate::activation::activation_type`]).
//!
//! Both operands are byte slices in GGML block layout. The kernel for each type is chosen once
//! per process ([`kernels`]): scalar references everywhere, AVX2/FMA, AVX-VNNI or AVX-512 VNNI
//! on x86-64, NEON on aarch64. Set `PINE_CPU_KERNELS=scalar` to force the references (to
//! bisect a suspected SIMD bug).

pub mod bf16_order;
pub(crate) mod bytes;
mod dispatch;
#[cfg(target_arch = "aarch64")]
mod neon;
mod scalar;
#[cfg(test)]
mod tests;
pub(crate) mod unpack;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

pub use dispatch::{dot, kernels, DotFn, Kernels};
