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

use crate::key_blocks::BLOCK;

use super::kv_cache::{LayerCache, Store};

/// Query rows in a batch from which the blocked copy pays for itself. The copy moves every
/// cached key's `n_kv · head_dim` elements once; each row then saves about 2.5 operations per
/// (key, query head) pair, so with SmolLM2's 9/3 heads of 64 it breaks even near 9 rows, and
/// 32 keeps a short batch at the end of a long context from paying more than it saves.
pub(crate) const MIN_ROWS: usize = 32;

/// The blocked keys of slots `0..slots` of every KV head, reused from layer to layer.
///
/// The slots come in runs, each starting a fresh block: a batch's plan's key ranges (PINE's
/// prefix and segments) start runs, so a range's keys fill whole blocks but for its last one,
/// rather than straddling blocks shared with its neighbours, which a query reads at another
/// shift. A causal plan has one run, the plain layout, and so does a layer's held copy for
/// decode rows (a row reads each key once; padding would only add bytes to read).
pub(crate) struct BatchKeys {
    /// Per KV head, `blocks` blocks (each run's last block zero-padded).
    keys: Store,
    slots: usize,
    head_dim: usize,
    /// First slot of each run, ascending from 0.
    starts: Vec<usize>,
    /// First block of each run.
    bases: Vec<usize>,
    /// The run of each slot (a lookup in place of a search: a PINE batch asks for one at
    /// every range of every row).
    run_of: Vec<u32>,
    /// Blocks per KV head.
    blocks: usize,
}

impl Default for BatchKeys {
    fn default() -> BatchKeys {
        BatchKeys {
            keys: Store::F32(Vec::new()),
            slots: 0,
            head_dim: 0,
            starts: Vec::new(),
            bases: Vec::new(),
            run_of: Vec::new(),
            blocks: 0,
        }
    }
}

/// Where a slot sits in the blocked copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lane {
    /// Its block.
    pub(crate) block: usize,
    /// Its lane in the block.
    pub(crate) lane: usize,
    /// Slots from it to the end of its block's keys (the block's or the run's end).
    pub(crate) left: usize,
    /// Slots of its run from the end of its block's keys on.
    after: usize,
}

impl Lane {
    /// Where the slot `left` slots on sits, when its run goes on past this block: the next
    /// block's first lane (without the search of [`BatchKeys::lane`]).
    pub(crate) fn next(self) -> Option<Lane> {
        (self.after > 0).then(|| Lane {
            block: self.block + 1,
            lane: 0,
            left: self.after.min(BLOCK),
            after: self.after.saturating_sub(BLOCK),
        })
    }
}

impl BatchKeys {
    /// Copies slots `0..slots` of `layer`'s keys (`n_kv` heads of `head_dim`) into blocks,
    /// across `pool`, a run beginning at each of `starts` (ascending from 0, below `slots`
    /// unless `slots` is 0).
    pub(crate) fn fill(
        &mut self,
        pool: &Pool,
        layer: &LayerCache,
        n_kv: usize,
        head_dim: usize,
        slots: usize,
        starts: &[usize],
    ) {
        debug_assert!(starts.first() == Some(&0) && starts.windows(2).all(|w| w[0] < w[1]));
        debug_assert!(starts.iter().all(|&s| s < slots.max(1)));
        self.starts.clear();
        self.starts.extend_from_slice(starts);
        self.bases.clear();
        // Per block: its first slot and how many slots it holds.
        let mut first = Vec::new();
        self.run_of.clear();
        for (r, &s) in starts.iter().enumerate() {
            self.bases.push(first.len());
            let end = starts.get(r + 1).copied().unwrap_or(slots);
            self.run_of.resize(end, r as u32);
            first.extend((s..end).step_by(BLOCK).map(|f| (f, (end - f).min(BLOCK))));
        }
        let blocks = first.len();
        self.blocks = blocks;
        self.slots = slots;
        self.head_dim = head_dim;
        let len = n_kv * blocks * BLOCK * head_dim;
        match &layer.k {
            Store::F16(k) => {
                if !matches!(self.keys, Store::F16(_)) {
                    self.keys = Store::F16(Vec::new());
                }
                if let Store::F16(out) = &mut self.keys {
                    out.resize(len, f16::ZERO);
                    to_blocks(pool, k, out, layer.slots, head_dim, &first);
                }
            }
            Store::F32(k) => {
                if !matches!(self.keys, Store::F32(_)) {
                    self.keys = Store::F32(Vec::new());
                }
                if let Store::F32(out) = &mut self.keys {
                    out.resize(len, 0.0);
                    to_blocks(pool, k, out, layer.slots, head_dim, &first);
                }
            }
        }
    }

    /// The blocked keys, KV head after KV head.
    pub(crate) fn keys(&self) -> &Store {
        &self.keys
    }

    /// Element offset of KV head `kvh`'s block `b` in [`keys`].
    ///
    /// [`keys`]: BatchKeys::keys
    pub(crate) fn block_at(&self, kvh: usize, b: usize) -> usize {
        (kvh * self.blocks + b) * BLOCK * self.head_dim
    }

    /// Where slot `slot` (below [`slots`]) sits.
    ///
    /// [`slots`]: BatchKeys::slots
    pub(crate) fn lane(&self, slot: usize) -> Lane {
        debug_assert!(slot < self.slots);
        let r = self.run_of[slot] as usize;
        let off = slot - self.starts[r];
        let end = self.starts.get(r + 1).copied().unwrap_or(self.slots);
        let left = (BLOCK - off % BLOCK).min(end - slot);
        Lane {
            block: self.bases[r] + off / BLOCK,
            lane: off % BLOCK,
            left,
            after: end - slot - left,
        }
    }

    /// Slots held.
    pub(crate) fn slots(&self) -> usize {
        self.slots
    }

    /// Whether the copy holds slots `0..slots` in runs from exactly `starts` (sorted, unique,
    /// from 0), as [`fill`] would lay them out.
    ///
    /// [`fill`]: BatchKeys::fill
    pub(crate) fn holds(&self, slots: usize, starts: &[usize]) -> bool {
        self.slots == slots && self.starts == starts
    }
}

/// Writes the blocks `first` (each block's first slot and slot count) of cache `k`
/// (`[kv_head][slot][head_dim]`, `slots` per head) into `out`, one task per (KV head, block);
/// lanes past a block's count are zeros.
fn to_blocks<T: Copy + Default + Send + Sync>(
    pool: &Pool,
    k: &[T],
    out: &mut [T],
    slots: usize,
    head_dim: usize,
    first: &[(usize, usize)],
) {
    let block = BLOCK * head_dim;
    let blocks = first.len();
    pool.chunks_mut(out, block.max(1), |c, o| {
        let (kvh, (at, count)) = (c / blocks, first[c % blocks]);
        for lane in 0..BLOCK {
            if lane >= count {
                (0..head_dim).for_each(|d| o[d * BLOCK + lane] = T::default());
                continue;
            }
            let src = &k[(kvh * slots + at + lane) * head_dim..][..head_dim];
            for (d, &x) in src.iter().enumerate() {
                o[d * BLOCK + lane] = x;
            }
        }
    });
}
