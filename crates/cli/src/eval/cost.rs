//! What one mode's run of a task cost: time, evaluations, and the prompt tokens computed
//! against those given (the difference is the prefix re-used from the KV cache).

use std::time::Instant;

use serde::Serialize;

/// A mode's cost over a task.
#[derive(Clone, Debug, Serialize)]
pub struct Cost {
    /// Items evaluated.
    pub items: usize,
    /// Model evaluations (orders actually run: an order-invariant mode runs an item once).
    pub evaluations: usize,
    /// Prompt tokens of those evaluations, where known (generation tasks).
    pub prompt_tokens: usize,
    /// Prompt tokens computed: the rest came from the cache's common prefix.
    pub computed_tokens: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Items per second.
    pub items_per_s: f64,
    #[serde(skip)]
    start: Instant,
}

impl Cost {
    /// Starts timing.
    pub fn start() -> Cost {
        Cost {
            items: 0,
            evaluations: 0,
            prompt_tokens: 0,
            computed_tokens: 0,
            seconds: 0.0,
            items_per_s: 0.0,
            start: Instant::now(),
        }
    }

    /// Counts one generation's prompt: `prompt` tokens of which `cached` were re-used.
    pub fn prompt(&mut self, prompt: usize, cached: usize) {
        self.evaluations += 1;
        self.prompt_tokens += prompt;
        self.computed_tokens += prompt - cached;
    }

    /// Stops timing.
    pub fn finish(mut self) -> Cost {
        self.seconds = self.start.elapsed().as_secs_f64();
        self.items_per_s = self.items as f64 / self.seconds.max(1e-9);
        self
    }
}
