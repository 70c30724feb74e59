//! `pine-serve`: an OpenAI-compatible HTTP server over pine with continuous batching.

#![deny(missing_docs)]

pub mod args;
pub mod engine;
pub mod http;
pub mod load;
pub mod serve;
