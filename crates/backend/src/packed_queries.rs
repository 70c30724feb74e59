//! Several queries against the same key rows in one pass over each row: PINE's importance
//! scores (pre-RoPE q·k) for the query rows of a segment, or for the query heads that share one
//! key/value head. Keys may be f32 or f16 (half the bytes to stream per decoded token); every
//! product is [`crate::math::dot8_rows`]'s fixed 8-lane order, so the SIMD kernels and the plain
//! form here give the same bits.

use half::f16;

use crate::math::dot8_body;

/// Key rows in either precision the region-key copy is kept in.
#[derive(Clone, Copy, Debug)]
pub enum KeyRows<'a> {
    /// Single precision (reference runs, f32 KV cache).
    F32(&'a [f32]),
    /// Half precision (the default f16 KV cache).
    F16(&'a [f16]),
}

impl KeyRows<'_> {
    /// Elements held.
    pub fn len(&self) -> usize {
        match self {
            KeyRows::F32(k) => k.len(),
            KeyRows::F16(k) => k.len(),
        }
    }

    /// Whether no element is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first element's address and the bytes per element, for the SIMD kernels.
    #[cfg(target_arch = "x86_64")]
    pub(crate) fn raw(&self) -> (*const u8, usize) {
        match self {
            KeyRows::F32(k) => (k.as_ptr().cast(), 4),
            KeyRows::F16(k) => (k.as_ptr().cast(), 2),
        }
    }

    /// Elements `at..at + n` widened to f32.
    pub(crate) fn widen(&self, at: usize, n: usize, out: &mut Vec<f32>) {
        out.clear();
        match self {
            KeyRows::F32(k) => out.extend_from_slice(&k[at..at + n]),
            KeyRows::F16(k) => out.extend(k[at..at + n].iter().map(|x| x.to_f32())),
        }
    }
}

/// Up to eight queries of one head, laid out so that one pass over each key row serves all of
/// them (see [`PackedQueries::dot_rows`]). Reusable: [`PackedQueries::pack`] overwrites it.
#[derive(Default)]
pub struct PackedQueries {
    n: usize,
    /// Queries given to the last `pack`.
    active: usize,
    /// Query p at `plain[p * n..][..n]`.
    plain: Vec<f32>,
    /// Elements `8c..8c + 8` of query p at `packed[(c * 8 + p) * 8..][..8]` (zero for p past
    /// the given queries).
    packed: Vec<f32>,
}

impl PackedQueries {
    /// Takes `qs` (one to eight queries of equal length).
    pub fn pack(&mut self, qs: &[&[f32]]) {
        assert!((1..=8).contains(&qs.len()));
        let n = qs[0].len();
        assert!(qs.iter().all(|q| q.len() == n));
        self.n = n;
        self.active = qs.len();
        self.plain.clear();
        qs.iter().for_each(|q| self.plain.extend_from_slice(q));
        self.packed.clear();
        for c in 0..n / 8 {
            for p in 0..8 {
                match qs.get(p) {
                    Some(q) => self.packed.extend_from_slice(&q[8 * c..][..8]),
                    None => self.packed.extend_from_slice(&[0.0; 8]),
                }
            }
        }
    }

    /// For each of `count` key rows (row u at elements `offset + u * width ..` of `rows`), the
    /// [`crate::math::dot8_rows`] products of the queries with it, times `scale`:
    /// `out[u * 8 + p]` is query p against row u, 0 for p past the given queries.
    pub fn dot_rows(
        &self,
        rows: KeyRows<'_>,
        width: usize,
        offset: usize,
        count: usize,
        scale: f32,
        out: &mut [f32],
    ) {
        let n = self.n;
        assert!(out.len() >= count * 8);
        assert!(count == 0 || (count - 1) * width + offset + n <= rows.len());
        #[cfg(target_arch = "x86_64")]
        if n.is_multiple_of(8) && crate::simd8::available() {
            let level = if crate::simd8::avx512() { 2 } else { 1 };
            return self.dot_rows_simd(level, rows, width, offset, count, scale, out);
        }
        self.dot_rows_scalar(rows, width, offset, count, scale, out);
    }

    /// [`PackedQueries::dot_rows`] on the AVX2 kernel (`level` 1) or the AVX-512 one (2), for
    /// head dims that are a multiple of 8 (an empty tail adds −0.0, which changes no sum).
    #[cfg(target_arch = "x86_64")]
    #[allow(clippy::too_many_arguments)]
    fn dot_rows_simd(
        &self,
        level: u8,
        rows: KeyRows<'_>,
        width: usize,
        offset: usize,
        count: usize,
        scale: f32,
        out: &mut [f32],
    ) {
        use crate::simd8::{dot8_queries_avx2, dot8_queries_avx512};
        let n = self.n;
        assert!(
            n.is_multiple_of(8)
                && crate::simd8::available()
                && (level < 2 || crate::simd8::avx512())
        );
        if count == 0 {
            return;
        }
        let (pk, q) = (&self.packed[..], self.active);
        // SAFETY: the features were checked; `packed` holds 8n elements, the caller checked
        // that the rows hold n elements each and `out` 8 · count.
        unsafe {
            match (rows, level) {
                (KeyRows::F32(r), 2) => {
                    let r = r[offset..].as_ptr().cast();
                    dot8_queries_avx512::<false>(pk, q, n, r, width, count, scale, out)
                }
                (KeyRows::F32(r), _) => {
                    let r = r[offset..].as_ptr().cast();
                    dot8_queries_avx2::<false>(pk, q, n, r, width, count, scale, out)
                }
                (KeyRows::F16(r), 2) => {
                    let r = r[offset..].as_ptr().cast();
                    dot8_queries_avx512::<true>(pk, q, n, r, width, count, scale, out)
                }
                (KeyRows::F16(r), _) => {
                    let r = r[offset..].as_ptr().cast();
                    dot8_queries_avx2::<true>(pk, q, n, r, width, count, scale, out)
                }
            }
        }
    }

    /// The plain form of [`PackedQueries::dot_rows`], one product at a time.
    fn dot_rows_scalar(
        &self,
        rows: KeyRows<'_>,
        width: usize,
        offset: usize,
        count: usize,
        scale: f32,
        out: &mut [f32],
    ) {
        let n = self.n;
        let mut row = Vec::with_capacity(n);
        for (u, o) in out.chunks_exact_mut(8).take(count).enumerate() {
            rows.widen(u * width + offset, n, &mut row);
            for (p, x) in o.iter_mut().enumerate() {
                *x = if p < self.active {
                    dot8_body(&self.plain[p * n..][..n], &row) * scale
                } else {
                    0.0
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    fn wavy(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * seed).sin() * 3.0).collect()
    }

    #[test]
    fn kernels_match_the_plain_form_bit_for_bit_in_both_precisions() {
        for n in [1, 7, 8, 16, 64, 70, 128] {
            let width = n + 5;
            let rows = wavy(21 * width, 0.61);
            let rows16: Vec<f16> = rows.iter().map(|&x| f16::from_f32(x)).collect();
            let qs: Vec<Vec<f32>> = (0..8).map(|i| wavy(n, 0.2 + i as f32 * 0.13)).collect();
            let refs: Vec<&[f32]> = qs.iter().map(|q| &q[..]).collect();
            for keys in [KeyRows::F32(&rows), KeyRows::F16(&rows16)] {
                for nq in 1..=8 {
                    let mut pq = PackedQueries::default();
                    pq.pack(&refs[..nq]);
                    let mut want = vec![1.0; 21 * 8];
                    pq.dot_rows_scalar(keys, width, 2, 21, 0.3, &mut want);
                    let mut got = vec![0.0; 21 * 8];
                    pq.dot_rows(keys, width, 2, 21, 0.3, &mut got);
                    assert_eq!(bits(&got), bits(&want), "n={n} nq={nq} {keys:?}");
                    #[cfg(target_arch = "x86_64")]
                    for level in [1, 2] {
                        let simd =
                            crate::simd8::available() && (level < 2 || crate::simd8::avx512());
                        if n % 8 == 0 && simd {
                            let mut got = vec![0.0; 21 * 8];
                            pq.dot_rows_simd(level, keys, width, 2, 21, 0.3, &mut got);
                            assert_eq!(bits(&got), bits(&want), "level {level} n={n} nq={nq}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn each_lane_equals_the_one_query_dot() {
        let (n, width, count) = (64, 70, 9);
        let rows = wavy(count * width, 0.43);
        let qs: Vec<Vec<f32>> = (0..3).map(|i| wavy(n, 0.3 + i as f32 * 0.21)).collect();
        let refs: Vec<&[f32]> = qs.iter().map(|q| &q[..]).collect();
        let mut pq = PackedQueries::default();
        pq.pack(&refs);
        let mut got = vec![0.0; count * 8];
        pq.dot_rows(KeyRows::F32(&rows), width, 1, count, 0.25, &mut got);
        for (p, q) in qs.iter().enumerate() {
            let mut want = Vec::new();
            crate::math::dot8_rows(q, KeyRows::F32(&rows), width, 1, count, 0.25, &mut want);
            let lane: Vec<f32> = (0..count).map(|u| got[u * 8 + p]).collect();
            assert_eq!(bits(&lane), bits(&want), "query {p}");
        }
    }
}
