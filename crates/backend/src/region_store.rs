//! PINE's copy of the segment region's pre-RoPE keys for one layer: per KV head, blocks of 16
//! keys stored dimension-major ([`KeyBlocks`]), which the rankings score queries against, in
//! the KV cache's precision (an f16 cache halves the bytes every decoded token reads; an f32
//! cache keeps reference runs exact).

use half::f16;

use crate::backend::CacheType;
use crate::key_blocks::{blocked_index, blocked_len, KeyBlocks};

/// One layer's region keys, with the shape they were stored in.
pub struct RegionStore {
    elements: Elements,
    tokens: usize,
    heads: usize,
    head_dim: usize,
}

/// The blocked keys in the cache's precision.
enum Elements {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

/// Token-major `src` (`[tokens, heads * head_dim]`) into per-head blocks, head after head,
/// each element converted by `cast`.
fn lay_out<T: Copy + Default>(
    src: &[f32],
    heads: usize,
    head_dim: usize,
    cast: impl Fn(f32) -> T,
    blocks: &mut Vec<T>,
) {
    let tokens = src.len() / (heads * head_dim).max(1);
    let per_head = blocked_len(tokens, head_dim);
    blocks.clear();
    blocks.resize(heads * per_head, T::default());
    for h in 0..heads {
        for u in 0..tokens {
            let at = (u * heads + h) * head_dim;
            for (d, &x) in src[at..at + head_dim].iter().enumerate() {
                blocks[h * per_head + blocked_index(u, d, head_dim)] = cast(x);
            }
        }
    }
}

impl RegionStore {
    /// An empty store of the cache's element type.
    pub fn new(ty: CacheType) -> RegionStore {
        let elements = match ty {
            CacheType::F32 => Elements::F32(Vec::new()),
            CacheType::F16 => Elements::F16(Vec::new()),
        };
        RegionStore {
            elements,
            tokens: 0,
            heads: 0,
            head_dim: 0,
        }
    }

    /// Stores the first `tokens` rows of token-major `src` (`[tokens, heads * head_dim]`).
    pub fn fill(&mut self, src: &[f32], tokens: usize, heads: usize, head_dim: usize) {
        let src = &src[..tokens * heads * head_dim];
        match &mut self.elements {
            Elements::F32(v) => lay_out(src, heads, head_dim, |x| x, v),
            Elements::F16(v) => lay_out(src, heads, head_dim, f16::from_f32, v),
        }
        (self.tokens, self.heads, self.head_dim) = (tokens, heads, head_dim);
    }

    /// Every KV head's blocks back to back.
    pub fn blocks(&self) -> KeyBlocks<'_> {
        match &self.elements {
            Elements::F32(v) => KeyBlocks::F32(v),
            Elements::F16(v) => KeyBlocks::F16(v),
        }
    }

    /// Region tokens stored.
    pub fn tokens(&self) -> usize {
        self.tokens
    }

    /// KV heads stored.
    pub fn heads(&self) -> usize {
        self.heads
    }

    /// Elements per head.
    pub fn head_dim(&self) -> usize {
        self.head_dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_lays_keys_out_in_blocks_per_head_in_the_cache_type() {
        // Two tokens, two heads of two dims: token-major [t0h0, t0h1, t1h0, t1h1].
        let src = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let mut s = RegionStore::new(CacheType::F32);
        s.fill(&src, 2, 2, 2);
        match s.blocks() {
            KeyBlocks::F32(b) => {
                assert_eq!(b.len(), 2 * 16 * 2);
                // Head 0: dimension 0 of keys 0 and 1 (then padding), then dimension 1.
                assert_eq!((b[0], b[1], b[2], b[16], b[17]), (1.0, 5.0, 0.0, 2.0, 6.0));
                // Head 1.
                assert_eq!((b[32], b[33], b[48], b[49]), (3.0, 7.0, 4.0, 8.0));
            }
            KeyBlocks::F16(_) => panic!("f32 cache, f16 keys"),
        }
        let mut s = RegionStore::new(CacheType::F16);
        s.fill(&[0.1, 0.2], 1, 1, 2);
        match s.blocks() {
            KeyBlocks::F16(b) => {
                assert_eq!((b[0], b[16]), (f16::from_f32(0.1), f16::from_f32(0.2)));
            }
            KeyBlocks::F32(_) => panic!("f16 cache, f32 keys"),
        }
    }
}
