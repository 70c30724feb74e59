//! The CPU KV cache: per layer, keys (post-RoPE, at canonical positions) and values, laid out
//! `[slot][kv_head][head_dim]` in f16 or f32, and PINE's pre-RoPE copy of the segment region's
//! keys in the same precision.

use half::f16;
use half::slice::HalfFloatSliceExt;
use half::vec::HalfBitsVecExt;
use pine_pool::Pool;

use crate::backend::{CacheSpec, CacheType};
use crate::cpu::ops::part_len;
use crate::region_store::RegionStore;

/// Key and value storage of every layer.
pub struct CpuCache {
    pub(crate) spec: CacheSpec,
    pub(crate) layers: Vec<LayerCache>,
}

/// One layer's keys and values.
pub(crate) struct LayerCache {
    pub(crate) k: Store,
    pub(crate) v: Store,
    pub(crate) region: RegionStore,
}

/// Cache elements in the chosen precision.
pub(crate) enum Store {
    F16(Vec<f16>),
    F32(Vec<f32>),
}

impl Store {
    /// Zeroed storage straight from the allocator's zeroed pages (`vec![0; n]` of a primitive
    /// is a calloc): a cache's memory becomes resident only as the context fills, so a short
    /// prompt in a 4096-token context does not pay for all of it in RSS.
    fn new(ty: CacheType, len: usize) -> Store {
        match ty {
            CacheType::F16 => Store::F16(vec![0u16; len].reinterpret_into()),
            CacheType::F32 => Store::F32(vec![0.0; len]),
        }
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

impl CpuCache {
    pub(crate) fn new(spec: CacheSpec) -> CpuCache {
        let len = spec.n_ctx * spec.n_kv_heads * spec.head_dim;
        let layers = (0..spec.n_layers)
            .map(|_| LayerCache {
                k: Store::new(spec.ty, len),
                v: Store::new(spec.ty, len),
                region: RegionStore::new(spec.ty),
            })
            .collect();
        CpuCache { spec, layers }
    }

    /// Geometry of this cache.
    pub fn spec(&self) -> CacheSpec {
        self.spec
    }

    /// Bytes held by the cache.
    pub fn n_bytes(&self) -> usize {
        let per = match self.spec.ty {
            CacheType::F16 => 2,
            CacheType::F32 => 4,
        };
        2 * self.spec.n_layers * self.spec.n_ctx * self.spec.n_kv_heads * self.spec.head_dim * per
    }
}
