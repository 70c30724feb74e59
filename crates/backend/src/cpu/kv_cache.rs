//! The CPU KV cache: per layer, keys (post-RoPE, at canonical positions) and values, laid out
//! `[slot][kv_head][head_dim]` in f16 or f32, and PINE's pre-RoPE copy of the segment region's
//! keys in the same precision.

use half::f16;
use half::vec::HalfBitsVecExt;

use crate::backend::{CacheSpec, CacheType};
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

    /// Writes `src` at element offset `at`, rounding to the storage type.
    pub(crate) fn put(&mut self, at: usize, src: &[f32]) {
        match self {
            Store::F16(d) => {
                for (o, &x) in d[at..at + src.len()].iter_mut().zip(src) {
                    *o = f16::from_f32(x);
                }
            }
            Store::F32(d) => d[at..at + src.len()].copy_from_slice(src),
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
