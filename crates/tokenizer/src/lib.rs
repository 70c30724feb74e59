//! `pine-tokenizer`: text ⇄ token ids from a GGUF file's `tokenizer.ggml.*` metadata, and the
//! model's chat template, so a model file is all pine needs to talk to a user.
//!
//! - [`Tokenizer`]: `gpt2` (byte-level BPE) and `llama` (SentencePiece BPE) vocabularies,
//!   encoding and decoding as llama.cpp does (`detokenize` with its whole-text rules,
//!   `join_pieces` for the plain concatenation streaming prints).
//! - [`StreamDecoder`]: UTF-8-safe incremental decoding for streamed generation.
//! - [`ChatTemplate`]: `tokenizer.chat_template` rendered with minijinja.

mod byte_bpe;
mod byte_level;
mod chat;
mod clock;
mod detok;
mod error;
mod piece;
mod pre;
mod pycompat;
mod special;
mod spm_bpe;
mod stream;
mod tokenizer;
mod vocab;

#[cfg(test)]
mod tests;

pub use chat::{ChatMessage, ChatTemplate};
pub use error::TokenizerError;
pub use stream::StreamDecoder;
pub use tokenizer::Tokenizer;
pub use vocab::TokenKind;
