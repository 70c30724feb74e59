//! Log-probabilities of tokens: the log-softmax of the model's raw logits (before sampling
//! penalties and temperature), as OpenAI's `logprobs` report them.

/// One token and its log-probability.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TopLogprob {
    /// The token id.
    pub id: u32,
    /// Its natural-log probability.
    pub logprob: f32,
}

/// The log-probability of a chosen token and the most likely alternatives at its position.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenLogprob {
    /// The chosen token.
    pub id: u32,
    /// Its natural-log probability under the raw logits.
    pub logprob: f32,
    /// The `top_n` most likely tokens, most likely first (lowest id first on ties).
    pub top: Vec<TopLogprob>,
}

/// The log-softmax normaliser of `logits`: `max + ln Σ exp(l − max)`, summed in f64.
fn log_normaliser(logits: &[f32]) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    max + sum.ln()
}

/// The log-probability of every id in `ids` under `logits` (ids outside the vocabulary get
/// negative infinity).
pub fn logprobs_of(logits: &[f32], ids: &[u32]) -> Vec<f32> {
    let z = log_normaliser(logits);
    ids.iter()
        .map(|&id| {
            logits
                .get(id as usize)
                .map_or(f32::NEG_INFINITY, |&l| (l as f64 - z) as f32)
        })
        .collect()
}

/// The log-probability of `chosen` under `logits`, with the `top_n` most likely tokens.
///
/// ```
/// let lp = pine::token_logprob(&[0.0, 2.0, 1.0], 2, 2);
/// assert_eq!(lp.top.iter().map(|t| t.id).collect::<Vec<_>>(), [1, 2]);
/// assert!((lp.logprob - lp.top[1].logprob).abs() < 1e-7);
/// ```
pub fn token_logprob(logits: &[f32], chosen: u32, top_n: usize) -> TokenLogprob {
    let z = log_normaliser(logits);
    let lp = |l: f32| (l as f64 - z) as f32;
    let mut order: Vec<u32> = (0..logits.len() as u32).collect();
    let by_logit = |a: &u32, b: &u32| {
        logits[*b as usize]
            .total_cmp(&logits[*a as usize])
            .then(a.cmp(b))
    };
    let n = top_n.min(order.len());
    if n > 0 && n < order.len() {
        order.select_nth_unstable_by(n - 1, by_logit);
    }
    order.truncate(n);
    order.sort_unstable_by(by_logit);
    TokenLogprob {
        id: chosen,
        logprob: logits
            .get(chosen as usize)
            .map_or(f32::NEG_INFINITY, |&l| lp(l)),
        top: order
            .into_iter()
            .map(|id| TopLogprob {
                id,
                logprob: lp(logits[id as usize]),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_sum_to_one_and_top_is_sorted_with_ties_by_id() {
        let logits = [1.0, 3.0, 3.0, -2.0, 0.5];
        let all = logprobs_of(&logits, &[0, 1, 2, 3, 4]);
        let total: f64 = all.iter().map(|&l| (l as f64).exp()).sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
        let lp = token_logprob(&logits, 4, 3);
        assert_eq!(lp.logprob, all[4]);
        let ids: Vec<u32> = lp.top.iter().map(|t| t.id).collect();
        assert_eq!(ids, [1, 2, 0]);
        assert_eq!(lp.top[0].logprob, all[1]);
        assert!(token_logprob(&logits, 0, 0).top.is_empty());
        assert_eq!(token_logprob(&logits, 0, 99).top.len(), 5);
    }

    #[test]
    fn large_logits_do_not_overflow() {
        let lp = token_logprob(&[1000.0, 1000.0], 0, 1);
        assert!((lp.logprob - (0.5f32).ln()).abs() < 1e-6);
        assert_eq!(logprobs_of(&[0.0], &[5]), [f32::NEG_INFINITY]);
    }
}
