//! The engine: one scheduler thread owns the model and its slots and runs continuous batching;
//! HTTP handlers talk to it through a cloneable [`Handle`].
//!
//! INTERFACE SKELETON (session 10): the bodies are being written on the `engine` branch; the
//! HTTP layer codes against these signatures.

pub mod api;

use std::sync::Arc;

use pine_model::{AnyBackend, Llama, ModelError};
use pine_tokenizer::Tokenizer;

pub use api::{Event, FinishReason, Prompt, Rejected, Request, Sampling, TokenLogprob, Usage};

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Parallel slots (`--parallel`), each with its own region of the KV cache.
    pub n_slots: usize,
    /// Context of each slot in tokens.
    pub n_ctx_slot: usize,
    /// Requests waiting for a slot beyond which `submit` answers [`Rejected::QueueFull`].
    pub max_queue: usize,
    /// Prompt tokens evaluated per step for one slot while others decode (chunked prefill).
    pub prefill_chunk: usize,
}

/// Counters for `/metrics` and `/health`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Requests accepted since start.
    pub requests_total: u64,
    /// Requests refused (queue full, too long, shutting down).
    pub requests_rejected: u64,
    /// Requests that finished (done, error or cancelled).
    pub requests_finished: u64,
    /// Requests cancelled because their client went away.
    pub requests_cancelled: u64,
    /// Prompt tokens evaluated (reused cache tokens not counted).
    pub prompt_tokens_evaluated: u64,
    /// Prompt tokens reused from a slot's cache.
    pub prompt_tokens_cached: u64,
    /// Tokens generated.
    pub tokens_generated: u64,
    /// Seconds spent in model steps that evaluated prompt tokens.
    pub prompt_seconds: f64,
    /// Seconds spent in model steps that only decoded.
    pub decode_seconds: f64,
    /// Slots generating or prefilling now.
    pub slots_busy: usize,
    /// Slots in all.
    pub slots_total: usize,
    /// Requests waiting for a slot.
    pub queue_depth: usize,
}

/// The running engine: the scheduler thread that owns the model and its slots.
pub struct Engine {
    handle: Handle,
}

impl Engine {
    /// Starts the scheduler thread over `model` with `config.n_slots` slots of
    /// `config.n_ctx_slot` tokens each (their KV caches allocated here, so a context the
    /// machine cannot hold is an error before the server listens).
    pub fn start(
        model: Llama<AnyBackend>,
        tokenizer: Arc<Tokenizer>,
        config: EngineConfig,
    ) -> Result<Engine, ModelError> {
        let _ = (model, tokenizer, config);
        unimplemented!("engine branch")
    }

    /// A handle for the HTTP handlers.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }
}

/// A cloneable handle to the running engine.
#[derive(Clone)]
pub struct Handle {
    inner: Arc<()>,
}

impl Handle {
    /// Queues a request; its events arrive on the returned receiver. Dropping the receiver
    /// cancels the request and frees its slot.
    pub fn submit(
        &self,
        request: Request,
    ) -> Result<tokio::sync::mpsc::UnboundedReceiver<Event>, Rejected> {
        let _ = (&self.inner, request);
        unimplemented!("engine branch")
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        unimplemented!("engine branch")
    }

    /// Context of each slot in tokens.
    pub fn n_ctx_slot(&self) -> usize {
        unimplemented!("engine branch")
    }

    /// Stops accepting requests ([`Rejected::ShuttingDown`]) and returns once every request in
    /// flight or queued has finished.
    pub fn drain(&self) {
        unimplemented!("engine branch")
    }
}
