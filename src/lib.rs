//! pine: position-invariant quantized Llama inference. This facade re-exports the layers so an
//! embedding application depends on one crate.

pub use pine_attention as attention;
pub use pine_backend as backend;
pub use pine_gguf as gguf;
pub use pine_model as model;
pub use pine_quant as quant;
pub use pine_tokenizer as tokenizer;
pub use pine_vulkan as vulkan;
