//! The engine: one scheduler thread owns the model's [`Slots`] and runs continuous batching;
//! HTTP handlers talk to it through a cloneable [`Handle`].
//!
//! Every step, the scheduler admits queued requests into free slots (the free slot whose
//! cached tokens share the longest prefix with the prompt, which is then not evaluated again),
//! and runs one batch holding every generating slot's next token and a chunk of at most
//! `prefill_chunk` prompt tokens of the slots still reading their prompts; a request that
//! arrives joins at the next step. A request's events flow back on its own channel; a dropped
//! receiver (a client that went away) frees its slot at the next step.

pub mod api;
mod scheduler;

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use pine_backend::Backend;
use pine_model::Slots;
use pine_tokenizer::Tokenizer;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

pub use api::{Event, FinishReason, Prompt, Rejected, Request, Sampling, Usage};
pub use pine::TokenLogprob;

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Requests waiting for a slot beyond which `submit` answers [`Rejected::QueueFull`].
    pub max_queue: usize,
    /// Prompt tokens evaluated per step (over all slots reading prompts) while others decode:
    /// chunked prefill, which bounds how long a long prompt stalls the others' streams.
    pub prefill_chunk: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_queue: 64,
            prefill_chunk: 256,
        }
    }
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

/// A request waiting for a slot.
struct Queued {
    request: Request,
    tx: UnboundedSender<Event>,
    submitted: Instant,
}

/// What the handles and the scheduler share.
struct State {
    queue: VecDeque<Queued>,
    stats: Stats,
    /// Refuse new requests (draining for shutdown).
    draining: bool,
    /// The engine is dropped (or failed): the scheduler exits.
    stopped: bool,
    /// The scheduler thread panicked.
    failed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled on a new request, after every step, and on stop.
    changed: Condvar,
    n_ctx_slot: usize,
    max_queue: usize,
}

impl Shared {
    /// The state, even if a thread panicked while holding it (the counters stay usable).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running engine; dropping it stops the scheduler (after the step in flight).
pub struct Engine {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl Engine {
    /// Starts the scheduler thread over `slots`.
    pub fn start<B>(slots: Slots<B>, tokenizer: Arc<Tokenizer>, config: EngineConfig) -> Engine
    where
        B: Backend + Send + 'static,
        Slots<B>: Send,
    {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                stats: Stats {
                    slots_total: slots.n_slots(),
                    ..Stats::default()
                },
                draining: false,
                stopped: false,
                failed: false,
            }),
            changed: Condvar::new(),
            n_ctx_slot: slots.n_ctx(),
            max_queue: config.max_queue,
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("pine-engine".into())
            .spawn(move || {
                let run = || scheduler::run(slots, &tokenizer, &s, &config);
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err() {
                    // A bug in a step: the requests in flight lost their senders (their streams
                    // end without Done); queued ones are dropped too, and new ones refused.
                    let mut st = s.lock();
                    st.stopped = true;
                    st.failed = true;
                    st.queue.clear();
                    st.stats.slots_busy = 0;
                    st.stats.queue_depth = 0;
                    drop(st);
                    s.changed.notify_all();
                }
            })
            .expect("spawning the engine thread");
        Engine {
            handle: Handle { shared },
            thread: Some(thread),
        }
    }

    /// A handle for submitting requests.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.handle.shared.lock().stopped = true;
        self.handle.shared.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A cloneable handle to the running engine.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// Queues a request; its events arrive on the returned receiver. Dropping the receiver
    /// cancels the request and frees its slot.
    pub fn submit(&self, request: Request) -> Result<UnboundedReceiver<Event>, Rejected> {
        let sh = &self.shared;
        let mut st = sh.lock();
        let refuse = if st.draining || st.stopped {
            Some(Rejected::ShuttingDown)
        } else if request.prompt.len().saturating_add(request.max_tokens) > sh.n_ctx_slot {
            Some(Rejected::TooLong {
                prompt: request.prompt.len(),
                max_tokens: request.max_tokens,
                n_ctx: sh.n_ctx_slot,
            })
        } else if st.queue.len() >= sh.max_queue {
            Some(Rejected::QueueFull)
        } else {
            None
        };
        if let Some(r) = refuse {
            st.stats.requests_rejected += 1;
            return Err(r);
        }
        let (tx, rx) = unbounded_channel();
        st.queue.push_back(Queued {
            request,
            tx,
            submitted: Instant::now(),
        });
        st.stats.requests_total += 1;
        st.stats.queue_depth = st.queue.len();
        drop(st);
        sh.changed.notify_all();
        Ok(rx)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    /// False once the scheduler thread has failed (a bug): `/health` reports it and every
    /// request is refused.
    pub fn healthy(&self) -> bool {
        !self.shared.lock().failed
    }

    /// Context of each slot in tokens.
    pub fn n_ctx_slot(&self) -> usize {
        self.shared.n_ctx_slot
    }

    /// Stops accepting requests ([`Rejected::ShuttingDown`]) and returns once every request in
    /// flight or queued has finished.
    pub fn drain(&self) {
        let sh = &self.shared;
        let mut st = sh.lock();
        st.draining = true;
        while !st.stopped && (!st.queue.is_empty() || st.stats.slots_busy > 0) {
            st = sh.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}
