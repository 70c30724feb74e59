//! The token ids a benchmark feeds: deterministic pseudo-random ordinary tokens. llama-bench
//! draws `rand() % n_vocab`; pine keeps the draw reproducible across runs and excludes control,
//! unused and byte tokens so no id takes a special path (end of generation, chat markers).

use pine_gguf::Gguf;

/// The ids a benchmark may use: every `Normal` (type 1) vocabulary entry, or every id below
/// `n_vocab` when the file has no token types.
pub fn ordinary_ids(file: &Gguf, n_vocab: usize) -> Vec<u32> {
    match file.get_i32_array("tokenizer.ggml.token_type") {
        Ok(types) => {
            let ids: Vec<u32> = types
                .iter()
                .enumerate()
                .filter(|&(i, &t)| t == 1 && i < n_vocab)
                .map(|(i, _)| i as u32)
                .collect();
            if ids.is_empty() {
                (0..n_vocab as u32).collect()
            } else {
                ids
            }
        }
        Err(_) => (0..n_vocab as u32).collect(),
    }
}

/// The BOS id, when the model declares one: llama-bench's tg test starts from it.
pub fn bos(file: &Gguf) -> Option<u32> {
    file.get_u32("tokenizer.ggml.bos_token_id").ok()
}

/// A small deterministic generator (SplitMix64), so every run and every tool invocation sees the
/// same prompts without pulling in a random-number crate.
#[derive(Clone, Debug)]
pub struct TokenStream {
    state: u64,
    pool: Vec<u32>,
}

impl TokenStream {
    /// A stream drawing from `pool` (must be non-empty), starting from `seed`.
    pub fn new(pool: Vec<u32>, seed: u64) -> TokenStream {
        assert!(!pool.is_empty(), "no token ids to draw from");
        TokenStream { state: seed, pool }
    }

    /// The next id.
    pub fn next_id(&mut self) -> u32 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        self.pool[(z % self.pool.len() as u64) as usize]
    }

    /// The next `n` ids.
    pub fn take(&mut self, n: usize) -> Vec<u32> {
        (0..n).map(|_| self.next_id()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_deterministic_and_stays_in_pool() {
        let pool = vec![5, 9, 11];
        let a = TokenStream::new(pool.clone(), 1).take(50);
        let b = TokenStream::new(pool.clone(), 1).take(50);
        assert_eq!(a, b);
        assert!(a.iter().all(|t| pool.contains(t)));
        assert!(pool.iter().all(|t| a.contains(t)));
    }
}
