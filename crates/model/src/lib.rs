//! `pine-model`: the model families' graphs over a [`pine_backend::Backend`] (one file per
//! family behind [`Transformer`]), KV-cached sessions and sampling.

pub mod any_backend;
pub mod arch;
pub mod error;
mod gemma;
pub mod hparams;
mod llama;
mod neox;
pub mod sampler;
pub mod session;
pub mod slots;
mod tensors;
pub mod transformer;

#[cfg(test)]
mod fuzz_seeds;

pub use any_backend::{AnyBackend, BackendChoice};
pub use arch::Architecture;
pub use error::ModelError;
pub use hparams::ModelParams;
pub use sampler::{argmax, Sampler, SamplerConfig};
pub use session::{Logits, Progress, ProgressFn, Session};
pub use slots::{Pick, Picked, SlotWork, Slots};
pub use transformer::{Batch, Transformer};
