//! A batch's view of one layer's keys for scoring many query rows: blocks of [`BLOCK`] slots
//! laid out dimension-major (as `key_blocks` lays out PINE's region keys), in the cache's own
//! precision.
//!
//! Why: a prefill batch scores each key against hundreds of query rows. Read from the cache,
//! every (key, row) pair reduces its 16 tinyBLAS lanes horizontally, about 40% of the scoring
//! work. From a block, 16 keys' scores come out of 16-lane vectors whose lane `l` is the same
//! partial sum the one-key path keeps in its lane `l` (dimensions `l, l + 16, …`, fused in
//! order), so combining lanes is a few vertical adds per 16 keys, and every score keeps its
//! bits. The copy is made once per layer and batch, and costs a pass over the cached keys.

use half::f16;
use pine_pool::Pool;

use crate::key_blocks::{blocked_len, BLOCK};

use super::kv_cache::{LayerCache, Store};

/// Query rows in a batch from which the blocked copy pays for itself. The copy moves every
/// cached key's `n_kv · head_dim` elements once; each row then saves about 2.5 operations per
/// (key, query head) pair, so with SmolLM2's 9/3 heads of 64 it breaks even near 9 rows, and
/// 32 keeps a short batch at the end of a long context from paying more than it saves.
pub(crate) const MIN_ROWS: usize = 32;

/// The blocked keys of slots `0..slots` of every KV head, reused from layer to layer.
pub(crate) struct BatchKeys {
    /// Per KV head, `slots` keys in blocks (the last block zero-padded).
    keys: Store,
    slots: usize,
    head_dim: usize,
}

impl Default for BatchKeys {
    fn default() -> BatchKeys {
        BatchKeys {
            keys: Store::F32(Vec::new()),
            slots: 0,
            head_dim: 0,
        }
    }
}

impl BatchKeys {
    /// Copies slots `0..slots` of `layer`'s keys (`n_kv` heads of `head_dim`) into blocks,
    /// across `pool`.
    pub(crate) fn fill(
        &mut self,
        pool: &Pool,
        layer: &LayerCache,
        n_kv: usize,
        head_dim: usize,
        slots: usize,
    ) {
        let len = n_kv * blocked_len(slots, head_dim);
        self.slots = slots;
        self.head_dim = head_dim;
        match &layer.k {
            Store::F16(k) => {
                if !matches!(self.keys, Store::F16(_)) {
                    self.keys = Store::F16(Vec::new());
                }
                if let Store::F16(out) = &mut self.keys {
                    out.resize(len, f16::ZERO);
                    to_blocks(pool, k, out, n_kv, head_dim, slots);
                }
            }
            Store::F32(k) => {
                if !matches!(self.keys, Store::F32(_)) {
                    self.keys = Store::F32(Vec::new());
                }
                if let Store::F32(out) = &mut self.keys {
                    out.resize(len, 0.0);
                    to_blocks(pool, k, out, n_kv, head_dim, slots);
                }
            }
        }
    }

    /// The blocked keys, KV head after KV head.
    pub(crate) fn keys(&self) -> &Store {
        &self.keys
    }

    /// Element offset of KV head `kvh`'s block `b` (slots `16b..16b + 16`) in [`keys`].
    ///
    /// [`keys`]: BatchKeys::keys
    pub(crate) fn block_at(&self, kvh: usize, b: usize) -> usize {
        kvh * blocked_len(self.slots, self.head_dim) + b * BLOCK * self.head_dim
    }

    /// Slots held.
    pub(crate) fn slots(&self) -> usize {
        self.slots
    }
}

/// Writes slots `0..slots` of cache `k` (`[slot][kv_head][head_dim]`) into `out` as blocks,
/// one task per (KV head, block).
fn to_blocks<T: Copy + Default + Send + Sync>(
    pool: &Pool,
    k: &[T],
    out: &mut [T],
    n_kv: usize,
    head_dim: usize,
    slots: usize,
) {
    let block = BLOCK * head_dim;
    let blocks = slots.div_ceil(BLOCK);
    let stride = n_kv * head_dim;
    pool.chunks_mut(out, block.max(1), |c, o| {
        let (kvh, b) = (c / blocks, c % blocks);
        for lane in 0..BLOCK {
            let slot = b * BLOCK + lane;
            if slot >= slots {
                (0..head_dim).for_each(|d| o[d * BLOCK + lane] = T::default());
                continue;
            }
            let src = &k[slot * stride + kvh * head_dim..][..head_dim];
            for (d, &x) in src.iter().enumerate() {
                o[d * BLOCK + lane] = x;
            }
        }
    });
}
