//! pine: quantized GGUF Llama-family models on CPUs and (with the default `vulkan` feature)
//! Vulkan GPUs, with PINE position-invariant attention.
//!
//! ```
//! use pine::{GenerateOptions, Model};
//!
//! # fn main() -> pine::Result<()> {
//! # let path = std::env::var("PINE_MODEL")
//! #     .unwrap_or_else(|_| "models/SmolLM2-135M-Instruct.Q4_1.gguf".into());
//! // Load a model (`Model::builder(path)` sets the backend, threads, context, cache type).
//! let mut model = Model::builder(&path).backend(pine::BackendKind::Cpu).context_size(512).load()?;
//!
//! // Stream a greedy completion, piece by piece.
//! let opts = GenerateOptions::new().max_tokens(8).greedy().stop("\n\n");
//! let mut text = String::new();
//! for piece in model.generate("The capital of France is", &opts)? {
//!     text.push_str(&piece?.text);
//! }
//! assert!(text.contains("Paris"));
//!
//! // Chat with the model's template; each turn re-uses the cached conversation.
//! let mut chat = pine::Chat::new(model)?.system("You are a helpful assistant.");
//! let reply = chat.send_with("Say hello.", &GenerateOptions::new().max_tokens(8), |_| {})?;
//! assert!(!reply.text.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! The pieces:
//!
//! - [`Model`] ([`Model::builder`], [`Model::load`]): the file, its tokenizer and chat template,
//!   the weights on a backend and a KV cache.
//! - [`Model::generate`] returns a [`Generation`], an iterator of decoded [`Piece`]s with token
//!   ids and optional log-probabilities; [`Model::generate_with`] is the callback form.
//!   [`GenerateOptions`]: token limit, sampling (with OpenAI's frequency and presence
//!   penalties), stop strings ([`StopMatcher`]), logprobs ([`token_logprob`]), cancellation
//!   ([`CancelToken`]); each generation ends with a [`FinishReason`].
//! - [`Chat`]: a multi-turn conversation that re-uses the KV cache's common prefix each turn
//!   and drops the oldest turns when the context fills.
//! - [`Model::evaluate`]: the logits of a [`Layout`] (`prefix | segments | suffix`) under an
//!   [`AttentionMode`] (causal, PINE, anchor); [`prompt`] builds layouts from text through the
//!   chat template ([`Model::layout`], [`SegmentedPrompt`]).
//! - [`greedy_batch`]: greedy answers to several prompts (causal, PINE or anchor) at once over
//!   [`model::Slots`] (from [`ModelBuilder::load_parts`]), the causal ones batched through one
//!   forward per step, each the same as [`Model::generate`]'s.
//! - [`Model::judge`]: a pairwise comparison of two answers under PINE that gives the same
//!   verdict for either order of the answers.
//!
//! The layers below are re-exported for what the API does not cover: [`gguf`] (the file
//! format), [`quant`], [`backend`], [`attention`], [`model`] (the graph and sessions),
//! [`tokenizer`], and with the `vulkan` feature [`vulkan`].

#![deny(missing_docs)]

mod batch;
mod cancel;
mod chat;
mod error;
mod generate;
pub mod judge;
mod load;
mod logprob;
mod options;
pub mod prompt;
mod stop;

pub use pine_attention as attention;
pub use pine_backend as backend;
pub use pine_gguf as gguf;
pub use pine_model as model;
pub use pine_quant as quant;
pub use pine_tokenizer as tokenizer;
#[cfg(feature = "vulkan")]
pub use pine_vulkan as vulkan;

pub use batch::{greedy_batch, BatchAnswer};
pub use cancel::CancelToken;
pub use chat::Chat;
pub use error::{Error, Result};
pub use generate::{Completion, FinishReason, Generation, Piece};
pub use judge::{JudgeOptions, Labels, Preference, Verdict};
pub use load::{BackendKind, Model, ModelBuilder, ModelParts};
pub use logprob::{logprobs_of, token_logprob, TokenLogprob, TopLogprob};
pub use options::GenerateOptions;
pub use pine_attention::{AnchorPositions, AttentionMode, Layout, TieRule};
pub use pine_backend::{CacheType, MatmulMode, VulkanNumerics};
pub use pine_model::SamplerConfig;
pub use pine_tokenizer::ChatMessage;
pub use prompt::{Prompt, SegmentedPrompt};
pub use stop::{StopMatcher, StopStep};
