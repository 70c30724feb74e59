//! `pine-model`: the Llama graph over a [`pine_backend::Backend`], KV-cached sessions and
//! sampling.

pub mod any_backend;
pub mod arch;
pub mod error;
pub mod hparams;
pub mod llama;
mod neox;
pub mod sampler;
pub mod session;
pub mod slots;
mod tensors;

#[cfg(test)]
mod fuzz_seeds;

pub use any_backend::{AnyBackend, BackendChoice};
pub use arch::Architecture;
pub use error::ModelError;
pub use hparams::LlamaParams;
pub use llama::{Batch, Llama};
pub use sampler::{argmax, Sampler, SamplerConfig};
pub use session::{Logits, Progress, ProgressFn, Session};
pub use slots::{SlotWork, Slots};
