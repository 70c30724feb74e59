//! The CPU KV cache: per layer, keys (post-RoPE, at canonical positions) and values, laid out
//! `[kv_head][slot][head_dim]` in f16 or f32, PINE's pre-RoPE copy of the segment region's
//! keys in the same precision, and the blocked copy of the keys PINE's decode steps score.
//!
//! Head-major, so that one KV head's keys and values lie in one run each: a decode row reads
//! them as a stream (one SmolLM2 layer at 512 tokens, caches evicted, one thread: 49–57 →
//! 41–43 µs, `benches/attention.rs`), where `[slot][kv_head][head_dim]` spread each head's
//! keys over every row of all the heads. A batch writes each head's rows as one run.

use std::sync::Mutex;

use half::f16;
use half::slice::HalfFloatSliceExt;
use half::vec::HalfBitsVecExt;
use pine_pool::Pool;

use crate::backend::{CacheSpec, CacheType};
use crate::cpu::batch_keys::BatchKeys;
use crate::cpu::ops::part_len;
use crate::error::BackendError;
use crate::region_store::RegionStore;

/// Key and value storage of every layer.
pub struct CpuCache {
    pub(crate) spec: CacheSpec,
    pub(crate) layers: Vec<LayerCache>,
}

/// One layer's keys and values.
pub(crate) struct LayerCache {
    /// Slots per KV head (the context size).
    pub(crate) slots: usize,
    /// Elements per head.
    pub(crate) head_dim: usize,
    pub(crate) k: Store,
    pub(crate) v: Store,
    pub(crate) region: RegionStore,
    /// The first slots' keys in blocks (the prefix and PINE's segment region, which later
    /// batches never rewrite), kept from one decode step to the next so PINE's rows score
    /// them as whole blocks; emptied when a batch writes any of those slots.
    pub(crate) held: Mutex<BatchKeys>,
}

impl LayerCache {
    /// Element offset of slot `slot`'s head `kvh` in `k` and `v` (`[kv_head][slot][head_dim]`).
    #[inline]
    pub(crate) fn at(&self, slot: usize, kvh: usize) -> usize {
        (kvh * self.slots + slot) * self.head_dim
    }

    /// Forgets the held blocked keys if any of `slots` lies among them.
    pub(crate) fn release_held(&mut self, slots: &[usize]) {
        let held = self.held.get_mut().unwrap_or_else(|e| e.into_inner());
        if slots.iter().any(|&s| s < held.slots()) {
            *held = BatchKeys::default();
        }
    }
}

/// Cache elements in the chosen precision.
pub(crate) enum Store {
    F16(Vec<f16>),
    F32(Vec<f32>),
}

impl Store {
    /// Zeroed storage straight from the allocator's zeroed pages (a calloc): a cache's memory
    /// becomes resident only as the context fills, so a short prompt in a 4096-token context
    /// does not pay for all of it in RSS. `None` when the allocator refuses.
    fn new(ty: CacheType, len: usize) -> Option<Store> {
        Some(match ty {
            CacheType::F16 => Store::F16(zeroed::<u16>(len)?.reinterpret_into()),
            CacheType::F32 => Store::F32(zeroed::<f32>(len)?),
        })
    }

    /// Elements stored.
    pub(crate) fn len(&self) -> usize {
        match self {
            Store::F16(d) => d.len(),
            Store::F32(d) => d.len(),
        }
    }

    /// Writes `src` at element offset `at`, rounding to the storage type (tests fill caches so).
    #[cfg(test)]
    pub(crate) fn put(&mut self, at: usize, src: &[f32]) {
        match self {
            Store::F16(d) => d[at..at + src.len()].convert_from_f32_slice(src),
            Store::F32(d) => d[at..at + src.len()].copy_from_slice(src),
        }
    }

    /// Writes `n` consecutive rows of `width` elements from element offset `at`: `fill(i, row)`
    /// makes row `i` in f32, which is then rounded to the storage type. A prefill batch's rows
    /// are split across `pool`.
    pub(crate) fn put_rows(
        &mut self,
        pool: &Pool,
        at: usize,
        width: usize,
        n: usize,
        fill: impl Fn(usize, &mut [f32]) + Sync,
    ) {
        let part = part_len(pool, n * width, width);
        let rows = part / width.max(1);
        match self {
            Store::F16(d) => pool.chunks_mut_init(
                &mut d[at..at + n * width],
                part,
                || vec![0.0f32; width],
                |row, c, dst| {
                    for (i, out) in dst.chunks_mut(width).enumerate() {
                        fill(c * rows + i, row);
                        out.convert_from_f32_slice(row);
                    }
                },
            ),
            Store::F32(d) => pool.chunks_mut(&mut d[at..at + n * width], part, |c, dst| {
                for (i, out) in dst.chunks_mut(width).enumerate() {
                    fill(c * rows + i, out);
                }
            }),
        }
    }
}

/// `len` zeroed elements from the allocator's zeroed pages, or `None` when it refuses.
fn zeroed<T: Zeroable>(len: usize) -> Option<Vec<T>> {
    let layout = std::alloc::Layout::array::<T>(len).ok()?;
    if layout.size() == 0 {
        return Some(Vec::new());
    }
    // SAFETY: the layout has a non-zero size; all-zero bytes are a valid `T` (`Zeroable`); the
    // Vec takes the allocation with the layout it was made with (capacity = len).
    unsafe {
        let p = std::alloc::alloc_zeroed(layout).cast::<T>();
        (!p.is_null()).then(|| Vec::from_raw_parts(p, len, len))
    }
}

/// Element types whose all-zero bit pattern is a value (zero).
trait Zeroable: Copy {}
impl Zeroable for u16 {}
impl Zeroable for f32 {}

/// The machine's memory, RAM plus swap (`/proc/meminfo`), when it can be read.
fn machine_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = info.lines().find(|l| l.starts_with(key))?;
        line[key.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some((kib("MemTotal:")? + kib("SwapTotal:").unwrap_or(0)) * 1024)
}

impl CpuCache {
    /// Allocates the cache of `spec`: an error naming the size when it overflows, exceeds the
    /// machine's memory or the allocator refuses it (the cache is lazily resident, so only
    /// RAM + swap bounds it, not the memory free now).
    pub(crate) fn new(spec: CacheSpec) -> Result<CpuCache, BackendError> {
        let what = || {
            format!(
                "a KV cache of {} tokens ({} layers × {} KV heads × {} dims, {:?})",
                spec.n_ctx, spec.n_layers, spec.n_kv_heads, spec.head_dim, spec.ty
            )
        };
        let too_big = |bytes: u64, limit| BackendError::Memory {
            what: what(),
            bytes,
            limit,
        };
        let bytes = spec
            .n_bytes()
            .ok_or_else(|| too_big(u64::MAX, machine_memory()))?;
        if let Some(limit) = machine_memory().filter(|&l| bytes > l) {
            return Err(too_big(bytes, Some(limit)));
        }
        let len = spec
            .n_ctx
            .checked_mul(spec.n_kv_heads * spec.head_dim)
            .ok_or_else(|| too_big(bytes, None))?;
        let mut layers = Vec::new();
        for _ in 0..spec.n_layers {
            layers.push(LayerCache {
                slots: spec.n_ctx,
                head_dim: spec.head_dim,
                k: Store::new(spec.ty, len).ok_or_else(|| too_big(bytes, None))?,
                v: Store::new(spec.ty, len).ok_or_else(|| too_big(bytes, None))?,
                region: RegionStore::new(spec.ty),
                held: Mutex::new(BatchKeys::default()),
            });
        }
        Ok(CpuCache { spec, layers })
    }

    /// Geometry of this cache.
    pub fn spec(&self) -> CacheSpec {
        self.spec
    }

    /// Bytes held by the cache.
    pub fn n_bytes(&self) -> usize {
        // Allocated, so it fits.
        self.spec.n_bytes().unwrap_or(u64::MAX) as usize
    }
}
