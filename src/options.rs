//! [`GenerateOptions`]: how long to generate, how to sample, where to stop, what to report.

use pine_model::SamplerConfig;

use crate::cancel::CancelToken;

/// The options of one generation. Build them with the chainable setters:
///
/// ```
/// let opts = pine::GenerateOptions::new().max_tokens(16).greedy().stop("\n\n").logprobs(3);
/// assert_eq!(opts.max_tokens, Some(16));
/// assert_eq!(opts.sampling.temperature, 0.0);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct GenerateOptions {
    /// The most tokens to generate (`None`: until the end of generation or a full context).
    pub max_tokens: Option<usize>,
    /// Sampling: temperature, top-k/p, min-p, penalties, seed (llama.cpp's defaults).
    pub sampling: SamplerConfig,
    /// Stop strings: generation ends before the first of them, which is not part of the text.
    pub stop: Vec<String>,
    /// `Some(n)`: report each token's log-probability and the `n` most likely alternatives.
    pub logprobs: Option<usize>,
    /// Ends the generation between two tokens when cancelled.
    pub cancel: Option<CancelToken>,
}

impl GenerateOptions {
    /// The defaults: no token limit, llama.cpp's sampling, no stop strings, no logprobs.
    pub fn new() -> Self {
        GenerateOptions::default()
    }

    /// At most `n` tokens.
    pub fn max_tokens(mut self, n: usize) -> Self {
        self.max_tokens = Some(n);
        self
    }

    /// All sampling settings at once.
    pub fn sampling(mut self, sampling: SamplerConfig) -> Self {
        self.sampling = sampling;
        self
    }

    /// Greedy decoding (temperature 0: always the most likely token).
    pub fn greedy(self) -> Self {
        self.temperature(0.0)
    }

    /// The softmax temperature (0: greedy).
    pub fn temperature(mut self, t: f32) -> Self {
        self.sampling.temperature = t;
        self
    }

    /// Keep the `k` most likely tokens (0: all).
    pub fn top_k(mut self, k: usize) -> Self {
        self.sampling.top_k = k;
        self
    }

    /// Keep the smallest set of tokens whose probability reaches `p` (1: all).
    pub fn top_p(mut self, p: f32) -> Self {
        self.sampling.top_p = p;
        self
    }

    /// Drop tokens less likely than `p` × the most likely one (0: none).
    pub fn min_p(mut self, p: f32) -> Self {
        self.sampling.min_p = p;
        self
    }

    /// llama.cpp's repetition penalty over the last `last_n` tokens (1: off); `last_n` is
    /// also the window of the frequency and presence penalties.
    pub fn repeat_penalty(mut self, penalty: f32, last_n: usize) -> Self {
        self.sampling.repeat_penalty = penalty;
        self.sampling.repeat_last_n = last_n;
        self
    }

    /// OpenAI's frequency penalty (0: off).
    pub fn frequency_penalty(mut self, penalty: f32) -> Self {
        self.sampling.frequency_penalty = penalty;
        self
    }

    /// OpenAI's presence penalty (0: off).
    pub fn presence_penalty(mut self, penalty: f32) -> Self {
        self.sampling.presence_penalty = penalty;
        self
    }

    /// The random seed (the same seed gives the same text).
    pub fn seed(mut self, seed: u64) -> Self {
        self.sampling.seed = seed;
        self
    }

    /// Adds a stop string.
    pub fn stop(mut self, stop: impl Into<String>) -> Self {
        self.stop.push(stop.into());
        self
    }

    /// Reports log-probabilities with the `top_n` most likely alternatives of each token.
    pub fn logprobs(mut self, top_n: usize) -> Self {
        self.logprobs = Some(top_n);
        self
    }

    /// Ends the generation when `token` is cancelled.
    pub fn cancel(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }
}
