//! Scalar reference dot products, one per weight type, following ggml's generic C kernels. They
//! are the ground truth the SIMD kernels are tested against and the fallback on any CPU.

//!
//! Index loops are kept where they mirror ggml's C loops, so a reader can check them line by
//! line against the original (hence `needless_range_loop` is allowed here).

pub(crate) mod float;
#[allow(clippy::needless_range_loop)]
pub(crate) mod iquants;
#[allow(clippy::needless_range_loop)]
pub(crate) mod kquants;
#[allow(clippy::needless_range_loop)]
pub(crate) mod legacy;
#[allow(clippy::needless_range_loop)]
pub(crate) mod ternary;
