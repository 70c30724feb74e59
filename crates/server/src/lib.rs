//! `pine-serve`: an OpenAI-compatible HTTP server over pine with continuous batching.

pub mod engine;
