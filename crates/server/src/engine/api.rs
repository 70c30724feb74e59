//! What the HTTP layer hands the engine and what it gets back: one generation request in, a
//! stream of events out. The engine (the scheduler thread driving every slot of the model) owns
//! tokenizing nothing: prompts arrive as token ids or a tokenized layout.

use pine::TokenLogprob;
use pine_attention::{AttentionMode, Layout};

/// The prompt of a request, already tokenized.
#[derive(Clone, Debug)]
pub enum Prompt {
    /// Plain token ids, evaluated with causal attention (prefix reuse applies).
    Tokens(Vec<u32>),
    /// A layout (prefix | segments | suffix) under an attention mode (PINE, anchor, causal).
    Layout {
        /// The tokenized parts.
        layout: Layout,
        /// How the segments attend.
        mode: AttentionMode,
    },
}

impl Prompt {
    /// Tokens the prompt holds.
    pub fn len(&self) -> usize {
        match self {
            Prompt::Tokens(t) => t.len(),
            Prompt::Layout { layout, .. } => layout.len(),
        }
    }

    /// True when the prompt has no tokens.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sampling settings of one request (OpenAI / llama-server names and defaults are mapped onto
/// these by the HTTP layer).
#[derive(Clone, Debug, PartialEq)]
pub struct Sampling {
    /// 0 = greedy.
    pub temperature: f32,
    /// 0 = off.
    pub top_k: usize,
    /// 1 = off.
    pub top_p: f32,
    /// 0 = off.
    pub min_p: f32,
    /// 1 = off.
    pub repeat_penalty: f32,
    /// Tokens the repeat/frequency/presence penalties look back over.
    pub penalty_last_n: usize,
    /// OpenAI's frequency penalty (subtract count × this), 0 = off.
    pub frequency_penalty: f32,
    /// OpenAI's presence penalty (subtract this once per seen token), 0 = off.
    pub presence_penalty: f32,
    /// The request's seed: the same seed gives the same text.
    pub seed: u64,
}

/// One generation request.
#[derive(Clone, Debug)]
pub struct Request {
    /// The prompt.
    pub prompt: Prompt,
    /// The most tokens to generate.
    pub max_tokens: usize,
    /// Sampling settings.
    pub sampling: Sampling,
    /// Generation stops before the first occurrence of any of these (the text never contains
    /// it).
    pub stop: Vec<String>,
    /// `Some(n)`: report each token's log-probability and the `n` most likely alternatives.
    pub logprobs: Option<usize>,
    /// Keep generating past end-of-generation tokens (llama-server's `ignore_eos`: benchmarks
    /// that need exactly `max_tokens` tokens).
    pub ignore_eos: bool,
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FinishReason {
    /// End-of-generation token or a stop string.
    Stop,
    /// `max_tokens` reached, or the slot's context is full.
    Length,
}

/// Token counts of a finished request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Usage {
    /// Prompt tokens (all of them, including those reused from the slot's cache).
    pub prompt_tokens: usize,
    /// Of those, tokens reused from the slot's cache (not evaluated again).
    pub cached_tokens: usize,
    /// Generated tokens.
    pub completion_tokens: usize,
}

/// What the engine streams back for one request, in order: `Token`s, then one `Done` or one
/// `Error`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// One generated token and the text it adds (possibly empty while a UTF-8 sequence or a
    /// possible stop string is pending).
    Token {
        /// The token id.
        id: u32,
        /// Text released with this token.
        text: String,
        /// Present when the request asked for log-probabilities.
        logprob: Option<TokenLogprob>,
    },
    /// Generation finished; `text` is any text still held back (pending UTF-8 or a partial
    /// stop-string match that did not complete).
    Done {
        /// Text released at the end.
        text: String,
        /// Why it ended.
        finish_reason: FinishReason,
        /// Counts.
        usage: Usage,
        /// Seconds from submission to the first token (time to first token).
        ttft_s: f64,
    },
    /// The request failed (its slot is freed).
    Error(String),
}

/// Why a request was not accepted.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Rejected {
    /// Every slot is busy and the queue is full (HTTP 503 with Retry-After).
    QueueFull,
    /// The prompt plus `max_tokens` does not fit a slot's context (HTTP 400).
    TooLong {
        /// Prompt tokens.
        prompt: usize,
        /// Requested completion tokens.
        max_tokens: usize,
        /// A slot's context.
        n_ctx: usize,
    },
    /// The engine is shutting down (HTTP 503).
    ShuttingDown,
}
