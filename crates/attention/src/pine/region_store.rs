//! PINE's copy of the segment region's pre-RoPE keys for one layer: head-major (each KV head's
//! keys contiguous, so a decode step streams them in order) and in the KV cache's precision (an
//! f16 cache halves the bytes every decoded token reads; an f32 cache keeps reference runs
//! exact).

use half::f16;
use pine_backend::packed_queries::KeyRows;
use pine_backend::CacheType;

/// One layer's region keys.
pub(crate) enum RegionStore {
    /// Single precision.
    F32(Vec<f32>),
    /// Half precision.
    F16(Vec<f16>),
}

impl RegionStore {
    /// An empty store of the cache's element type.
    pub(crate) fn new(ty: CacheType) -> RegionStore {
        match ty {
            CacheType::F32 => RegionStore::F32(Vec::new()),
            CacheType::F16 => RegionStore::F16(Vec::new()),
        }
    }

    /// Stores token-major `rows` (`[tokens, heads * head_dim]`) head-major.
    pub(crate) fn fill(&mut self, rows: &[f32], heads: usize, head_dim: usize) {
        let tokens = rows.len() / (heads * head_dim).max(1);
        let order = (0..heads).flat_map(|h| {
            (0..tokens).flat_map(move |u| {
                let at = (u * heads + h) * head_dim;
                at..at + head_dim
            })
        });
        match self {
            RegionStore::F32(v) => {
                v.clear();
                v.extend(order.map(|i| rows[i]));
            }
            RegionStore::F16(v) => {
                v.clear();
                v.extend(order.map(|i| f16::from_f32(rows[i])));
            }
        }
    }

    /// The keys for the importance kernels.
    pub(crate) fn rows(&self) -> KeyRows<'_> {
        match self {
            RegionStore::F32(v) => KeyRows::F32(v),
            RegionStore::F16(v) => KeyRows::F16(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_lays_keys_out_head_major_in_the_cache_type() {
        // Two tokens, two heads of two dims: token-major [t0h0, t0h1, t1h0, t1h1].
        let rows = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let mut s = RegionStore::new(CacheType::F32);
        s.fill(&rows, 2, 2);
        match s.rows() {
            KeyRows::F32(k) => assert_eq!(k, &[1.0, 2.0, 5.0, 6.0, 3.0, 4.0, 7.0, 8.0]),
            KeyRows::F16(_) => panic!("f32 cache, f16 keys"),
        }
        let mut s = RegionStore::new(CacheType::F16);
        s.fill(&[0.1, 0.2], 1, 2);
        match s.rows() {
            KeyRows::F16(k) => assert_eq!(k, &[f16::from_f32(0.1), f16::from_f32(0.2)]),
            KeyRows::F32(_) => panic!("f16 cache, f32 keys"),
        }
    }
}
