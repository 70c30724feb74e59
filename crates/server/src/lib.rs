//! `pine-serve`: an OpenAI-compatible HTTP server over pine with continuous batching.

#![deny(missing_docs)]

pub mod engine;
