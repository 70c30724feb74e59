//! Token sampling in llama.cpp's default order: penalties (repetition, then OpenAI's frequency
//! and presence) → top-k → top-p → min-p → temperature → draw. Temperature 0 is greedy (argmax;
//! the lowest id wins ties).

/// Sampling settings, with llama.cpp's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplerConfig {
    /// Softmax temperature; 0 means greedy.
    pub temperature: f32,
    /// Keep the k most likely tokens (0 = all).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches p (1 = all).
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` × the most likely one (0 = none).
    pub min_p: f32,
    /// Divide positive logits (multiply negative ones) of recent tokens by this (1 = off).
    pub repeat_penalty: f32,
    /// How many recent tokens the penalties (repetition, frequency, presence) look at.
    pub repeat_last_n: usize,
    /// Subtracted from a recent token's logit once per occurrence (OpenAI's
    /// `frequency_penalty`; 0 = off).
    pub frequency_penalty: f32,
    /// Subtracted from the logit of every token that occurred recently (OpenAI's
    /// `presence_penalty`; 0 = off).
    pub presence_penalty: f32,
    /// Random seed; the same seed gives the same text.
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            seed: 0x5EED,
        }
    }
}

/// A sampler with its own deterministic random stream.
pub struct Sampler {
    config: SamplerConfig,
    rng: SplitMix64,
    candidates: Vec<(u32, f32)>,
}

impl Sampler {
    /// A sampler seeded from `config.seed`.
    pub fn new(config: SamplerConfig) -> Sampler {
        let rng = SplitMix64(config.seed);
        Sampler {
            config,
            rng,
            candidates: Vec::new(),
        }
    }

    /// Whether the penalties apply (a window and a penalty that changes logits).
    fn penalised(&self) -> bool {
        let c = &self.config;
        c.repeat_last_n > 0
            && (c.repeat_penalty != 1.0 || c.frequency_penalty != 0.0 || c.presence_penalty != 0.0)
    }

    /// Whether [`Sampler::sample`] is the argmax of the logits whatever the history
    /// (temperature 0 and no penalty), so a caller may take the argmax where the logits are
    /// ([`crate::Session::decode_greedy`]).
    pub fn is_greedy(&self) -> bool {
        self.config.temperature <= 0.0 && !self.penalised()
    }

    /// Picks the next token from `logits`, given the tokens so far (`history`).
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        let penalised = self.penalised();
        let c = &self.config;
        let mut logits_pen;
        let logits = if penalised {
            logits_pen = logits.to_vec();
            let start = history.len().saturating_sub(c.repeat_last_n);
            let mut counts = std::collections::HashMap::new();
            for &t in &history[start..] {
                *counts.entry(t).or_insert(0u32) += 1;
            }
            for (&t, &n) in &counts {
                if let Some(l) = logits_pen.get_mut(t as usize) {
                    if c.repeat_penalty != 1.0 {
                        *l = if *l > 0.0 {
                            *l / c.repeat_penalty
                        } else {
                            *l * c.repeat_penalty
                        };
                    }
                    *l -= n as f32 * c.frequency_penalty + c.presence_penalty;
                }
            }
            &logits_pen[..]
        } else {
            logits
        };
        if c.temperature <= 0.0 {
            return argmax(logits);
        }
        let mut cand = std::mem::take(&mut self.candidates);
        cand.clear();
        cand.extend(logits.iter().enumerate().map(|(i, &l)| (i as u32, l)));
        keep_top(&mut cand, c.top_k);
        let id = self.draw(&cand);
        self.candidates = cand;
        id
    }

    /// The k of top-k when [`Sampler::sample`] draws from the top k of the logits alone
    /// (a temperature above 0, no penalty, top-k on), so a caller may select them where the
    /// logits are ([`crate::Session::decode_top_k`]) and draw with [`Sampler::sample_top`].
    pub fn backend_top_k(&self) -> Option<usize> {
        let c = &self.config;
        (c.temperature > 0.0 && !self.penalised() && c.top_k > 0).then_some(c.top_k)
    }

    /// [`Sampler::sample`]'s draw from the candidates its top-k keeps (`cand`: the top
    /// [`Sampler::backend_top_k`] tokens and logits, highest first, as
    /// [`crate::Session::decode_top_k`] returns them): the same token, and the same state after.
    pub fn sample_top(&mut self, cand: &[(u32, f32)]) -> u32 {
        self.draw(cand)
    }

    /// Top-p, min-p, temperature and the draw, from the top-k candidates (highest first).
    fn draw(&mut self, cand: &[(u32, f32)]) -> u32 {
        let c = &self.config;
        let max = cand[0].1;
        let mut probs: Vec<f32> = cand.iter().map(|&(_, l)| (l - max).exp()).collect();
        let total: f32 = probs.iter().sum();
        if c.top_p < 1.0 {
            let mut acc = 0.0;
            let keep = probs
                .iter()
                .position(|&p| {
                    acc += p / total;
                    acc >= c.top_p
                })
                .map_or(probs.len(), |i| i + 1);
            probs.truncate(keep);
        }
        if c.min_p > 0.0 {
            let keep = probs
                .iter()
                .take_while(|&&p| p >= c.min_p * probs[0])
                .count()
                .max(1);
            probs.truncate(keep);
        }
        let kept = &cand[..probs.len()];
        let weights: Vec<f64> = kept
            .iter()
            .map(|&(_, l)| (((l - max) / c.temperature) as f64).exp())
            .collect();
        let sum: f64 = weights.iter().sum();
        let mut r = self.rng.next_f64() * sum;
        for (w, &(id, _)) in weights.iter().zip(kept) {
            if r < *w {
                return id;
            }
            r -= w;
        }
        kept[kept.len() - 1].0
    }
}

pub use pine_backend::math::argmax;
use pine_backend::math::keep_top;

/// A small, fast, seedable generator; sampling needs reproducibility, not cryptography.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_argmax_and_penalty_can_change_it() {
        let logits = [0.1, 2.0, 1.9];
        let mut s = Sampler::new(SamplerConfig {
            temperature: 0.0,
            ..Default::default()
        });
        assert_eq!(s.sample(&logits, &[]), 1);
        let mut s = Sampler::new(SamplerConfig {
            temperature: 0.0,
            repeat_penalty: 1.5,
            ..Default::default()
        });
        assert_eq!(s.sample(&logits, &[1]), 2);
    }

    #[test]
    fn same_seed_same_draws_and_top_k_one_is_greedy() {
        let logits: Vec<f32> = (0..100).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
        let draw = |seed| {
            let mut s = Sampler::new(SamplerConfig {
                seed,
                ..Default::default()
            });
            (0..20).map(|_| s.sample(&logits, &[])).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        let mut s = Sampler::new(SamplerConfig {
            top_k: 1,
            ..Default::default()
        });
        assert_eq!(s.sample(&logits, &[]), argmax(&logits));
    }

    /// The selection keeps exactly the first `k` of a full sort, in its order: ties, infinities
    /// and NaNs included, for `k` of 0, 1, a few, the length and past it.
    #[test]
    fn keep_top_is_the_head_of_a_full_sort() {
        let mut x = 0x1234_5678u64;
        let logits: Vec<f32> = (0..5000)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match i % 97 {
                    0 => f32::NAN,
                    1 => f32::INFINITY,
                    2 => f32::NEG_INFINITY,
                    // Few distinct values: many ties.
                    _ => (x % 64) as f32 * 0.25 - 8.0,
                }
            })
            .collect();
        let all: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as u32, l))
            .collect();
        let mut full = all.clone();
        full.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let bits = |v: &[(u32, f32)]| v.iter().map(|&(i, l)| (i, l.to_bits())).collect::<Vec<_>>();
        for k in [0, 1, 2, 40, 333, 4999, 5000, 6000] {
            let mut got = all.clone();
            keep_top(&mut got, k);
            let want = if k == 0 {
                &full[..]
            } else {
                &full[..k.min(full.len())]
            };
            assert_eq!(bits(&got), bits(want), "k = {k}");
        }
    }

    #[test]
    fn frequency_and_presence_penalties_follow_openai() {
        // Logit j becomes l_j − count_j × frequency − (count_j > 0) × presence.
        let logits = [3.0, 2.5, 2.0];
        let greedy = |frequency_penalty, presence_penalty, history: &[u32]| {
            Sampler::new(SamplerConfig {
                temperature: 0.0,
                frequency_penalty,
                presence_penalty,
                ..Default::default()
            })
            .sample(&logits, history)
        };
        assert_eq!(greedy(0.0, 0.0, &[0, 0]), 0);
        // Token 0 seen twice: 3.0 − 2 × 0.3 = 2.4 < 2.5.
        assert_eq!(greedy(0.3, 0.0, &[0, 0]), 1);
        // Seen once: 3.0 − 0.3 = 2.7 stays first.
        assert_eq!(greedy(0.3, 0.0, &[0]), 0);
        // Presence counts once however often: 3.0 − 0.4 = 2.6 stays first ...
        assert_eq!(greedy(0.0, 0.4, &[0, 0, 0, 1]), 0);
        // ... and 3.0 − 1.2 = 1.8, 2.5 − 1.2 = 1.3 fall below the unseen 2.0.
        assert_eq!(greedy(0.0, 1.2, &[0, 1]), 2);
        // Only the last `repeat_last_n` tokens count; negative values encourage repeats.
        let mut s = Sampler::new(SamplerConfig {
            temperature: 0.0,
            presence_penalty: 1.0,
            repeat_last_n: 1,
            ..Default::default()
        });
        assert_eq!(s.sample(&logits, &[0, 1]), 0);
        assert_eq!(greedy(-1.5, 0.0, &[2]), 2);
    }
}
