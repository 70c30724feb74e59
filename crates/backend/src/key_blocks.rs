//! Keys laid out for scoring one query against many: blocks of [`BLOCK`] keys stored
//! dimension-major (element `d` of the block's 16 keys side by side), so one vector register
//! holds one dimension of 16 keys and a block's 16 scores come out of 16-lane FMAs with no
//! horizontal reduction. PINE's decode step scores every generated token's query against the
//! ~500 region keys per head and layer; this layout makes that a streaming pass.
//!
//! The order is fixed and simple: a key's score is `acc = fma(q[d], k[d], acc)` for d = 0, 1, …
//! from `acc = 0`, times `scale` at the end. The AVX-512 and AVX2 kernels run exactly these
//! operations lane by lane, so they give the plain form's bits on every CPU.

use half::f16;

/// Keys per block (one AVX-512 register of f32).
pub const BLOCK: usize = 16;

/// Blocked keys in either precision of the KV cache.
#[derive(Clone, Copy, Debug)]
pub enum KeyBlocks<'a> {
    /// Single precision (reference runs, f32 KV cache).
    F32(&'a [f32]),
    /// Half precision (the default f16 KV cache): half the bytes per scored key.
    F16(&'a [f16]),
}

/// Elements of `tokens` keys of `head_dim` elements in blocked form (the last block padded).
pub fn blocked_len(tokens: usize, head_dim: usize) -> usize {
    tokens.div_ceil(BLOCK) * BLOCK * head_dim
}

/// Where element `d` of key `u` sits in the blocked form.
pub fn blocked_index(u: usize, d: usize, head_dim: usize) -> usize {
    ((u / BLOCK) * head_dim + d) * BLOCK + u % BLOCK
}

impl<'a> KeyBlocks<'a> {
    /// Elements held (padding included).
    pub fn len(&self) -> usize {
        match self {
            KeyBlocks::F32(k) => k.len(),
            KeyBlocks::F16(k) => k.len(),
        }
    }

    /// Whether no element is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements `at..at + n`: e.g. one KV head's blocks out of several heads' back to back.
    pub fn slice(&self, at: usize, n: usize) -> KeyBlocks<'a> {
        match self {
            KeyBlocks::F32(k) => KeyBlocks::F32(&k[at..at + n]),
            KeyBlocks::F16(k) => KeyBlocks::F16(&k[at..at + n]),
        }
    }
}

/// `out[u] = scale · q·k_u` for every key `u` of `keys` (whole blocks of `q.len()`-element
/// keys; `out` holds one entry per key, padding included), in the order the module describes.
pub fn block_scores(q: &[f32], keys: KeyBlocks<'_>, scale: f32, out: &mut [f32]) {
    let d = q.len();
    assert!(
        d > 0 && keys.len().is_multiple_of(d * BLOCK),
        "keys are whole blocks"
    );
    assert_eq!(out.len(), keys.len() / d, "one output per key");
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::avx512() {
        // SAFETY: AVX-512F (and F16C) were detected; the sizes were asserted above.
        return unsafe {
            match keys {
                KeyBlocks::F32(k) => x86::scores_avx512::<false>(q, k.as_ptr().cast(), scale, out),
                KeyBlocks::F16(k) => x86::scores_avx512::<true>(q, k.as_ptr().cast(), scale, out),
            }
        };
    }
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::available() {
        // SAFETY: AVX2, FMA and F16C were detected; the sizes were asserted above.
        return unsafe {
            match keys {
                KeyBlocks::F32(k) => x86::scores_avx2::<false>(q, k.as_ptr().cast(), scale, out),
                KeyBlocks::F16(k) => x86::scores_avx2::<true>(q, k.as_ptr().cast(), scale, out),
            }
        };
    }
    block_scores_plain(q, keys, scale, out);
}

/// Most queries [`block_scores_rows`] scores in one pass over the keys.
pub const MAX_ROWS: usize = 8;

/// [`block_scores`] for several queries (at most [`MAX_ROWS`]) sharing each pass over the keys:
/// query r's scores go to `out[r * stride..]`, the same bits as scoring it alone.
pub fn block_scores_rows(
    qs: &[&[f32]],
    keys: KeyBlocks<'_>,
    scale: f32,
    out: &mut [f32],
    stride: usize,
) {
    assert!(qs.len() <= MAX_ROWS, "at most {MAX_ROWS} queries");
    let Some(d) = qs.first().map(|q| q.len()) else {
        return;
    };
    let n = keys.len() / d.max(1);
    assert!(qs.iter().all(|q| q.len() == d), "queries of one head");
    assert!(
        n <= stride && out.len() >= (qs.len() - 1) * stride + n,
        "room for every row"
    );
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::avx512() && qs.len() > 1 {
        assert!(
            d > 0 && keys.len().is_multiple_of(d * BLOCK),
            "keys are whole blocks"
        );
        // SAFETY: AVX-512F (and F16C) were detected; every query has d elements, the keys
        // are whole blocks of d-element keys and every row has room for n scores (asserted).
        unsafe {
            match (keys, qs.len()) {
                (KeyBlocks::F32(k), r) => {
                    x86::rows::<false>(qs, r, k.as_ptr().cast(), n, scale, out, stride)
                }
                (KeyBlocks::F16(k), r) => {
                    x86::rows::<true>(qs, r, k.as_ptr().cast(), n, scale, out, stride)
                }
            }
        }
        return;
    }
    for (r, q) in qs.iter().enumerate() {
        block_scores(q, keys, scale, &mut out[r * stride..][..n]);
    }
}

/// [`block_scores`] one lane at a time: the definition the SIMD kernels are tested against.
pub fn block_scores_plain(q: &[f32], keys: KeyBlocks<'_>, scale: f32, out: &mut [f32]) {
    match keys {
        KeyBlocks::F32(k) => plain(q, k, |x| *x, scale, out),
        KeyBlocks::F16(k) => plain(q, k, |x| x.to_f32(), scale, out),
    }
}

fn plain<T>(q: &[f32], keys: &[T], widen: impl Fn(&T) -> f32, scale: f32, out: &mut [f32]) {
    let d = q.len();
    for (block, o) in keys
        .chunks_exact(d * BLOCK)
        .zip(out.chunks_exact_mut(BLOCK))
    {
        let mut acc = [0.0f32; BLOCK];
        for (&qi, dim) in q.iter().zip(block.chunks_exact(BLOCK)) {
            for (a, k) in acc.iter_mut().zip(dim) {
                *a = qi.mul_add(widen(k), *a);
            }
        }
        for (o, a) in o.iter_mut().zip(acc) {
            *o = a * scale;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::BLOCK;

    /// Blocks scored side by side: independent FMA chains to hide the FMA latency (eight keep
    /// both FMA ports of a core busy).
    const WIDE: usize = 8;

    /// Step `i` of a pass that consumes `step` bytes per step: prefetches the next `step` bytes
    /// from `next` on (the keys the following pass reads), lines past `end` excepted. The
    /// keys of a layer are streamed once per decoded token from far caches, and the hardware
    /// prefetchers stop at every 4 KiB page (two f16 blocks of 64-dim keys): fetching one pass
    /// ahead keeps the loads from waiting on each page's first lines.
    ///
    /// # Safety
    /// `keys` must be valid for `end` bytes (prefetches stay below `end`).
    #[inline(always)]
    unsafe fn prefetch_ahead(keys: *const u8, next: usize, end: usize, i: usize, step: usize) {
        let from = next + i * step;
        let to = (from + step).min(end);
        let mut at = from & !63;
        while at < to {
            _mm_prefetch::<_MM_HINT_T0>(keys.add(at).cast());
            at += 64;
        }
    }

    /// One dimension of 16 keys at `p` widened to f32 (`F16`: half precision).
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load16<const F16: bool>(p: *const u8) -> __m512 {
        if F16 {
            _mm512_cvtph_ps(_mm256_loadu_si256(p.cast()))
        } else {
            _mm512_loadu_ps(p.cast())
        }
    }

    /// Eight keys' dimension at `p` widened to f32.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn load8<const F16: bool>(p: *const u8) -> __m256 {
        if F16 {
            _mm256_cvtph_ps(_mm_loadu_si128(p.cast()))
        } else {
            _mm256_loadu_ps(p.cast())
        }
    }

    /// [`super::block_scores`] with 16 keys per register.
    ///
    /// # Safety
    /// AVX-512F must be present; `keys` must hold `out.len() * q.len()` elements of the
    /// precision `F16` names, with `out.len()` a multiple of [`BLOCK`].
    #[target_feature(enable = "avx512f,avx2,f16c")]
    pub(super) unsafe fn scores_avx512<const F16: bool>(
        q: &[f32],
        keys: *const u8,
        scale: f32,
        out: &mut [f32],
    ) {
        let d = q.len();
        let bytes = if F16 { 2 } else { 4 };
        let block_bytes = d * BLOCK * bytes;
        let blocks = out.len() / BLOCK;
        let mut b = 0;
        while b < blocks {
            let wide = WIDE.min(blocks - b);
            let mut acc = [_mm512_setzero_ps(); WIDE];
            let base = keys.add(b * block_bytes);
            let next = (b + wide) * block_bytes;
            for (i, &qi) in q.iter().enumerate() {
                prefetch_ahead(keys, next, blocks * block_bytes, i, WIDE * block_bytes / d);
                let qv = _mm512_set1_ps(qi);
                for (j, a) in acc.iter_mut().enumerate().take(wide) {
                    let k = load16::<F16>(base.add(j * block_bytes + i * BLOCK * bytes));
                    *a = _mm512_fmadd_ps(qv, k, *a);
                }
            }
            let s = _mm512_set1_ps(scale);
            for (j, a) in acc.iter().enumerate().take(wide) {
                _mm512_storeu_ps(out.as_mut_ptr().add((b + j) * BLOCK), _mm512_mul_ps(*a, s));
            }
            b += wide;
        }
    }

    /// [`super::block_scores_rows`] for `rows` (2..=8) queries and `n` keys, dispatched to the
    /// kernel holding exactly that many accumulators.
    ///
    /// # Safety
    /// As for [`rows_avx512`], with `qs.len() == rows`.
    pub(super) unsafe fn rows<const F16: bool>(
        qs: &[&[f32]],
        rows: usize,
        keys: *const u8,
        n: usize,
        scale: f32,
        out: &mut [f32],
        stride: usize,
    ) {
        match rows {
            2 => rows_avx512::<F16, 2, 4>(qs, keys, n, scale, out, stride),
            3 => rows_avx512::<F16, 3, 3>(qs, keys, n, scale, out, stride),
            4 => rows_avx512::<F16, 4, 2>(qs, keys, n, scale, out, stride),
            5 => rows_avx512::<F16, 5, 2>(qs, keys, n, scale, out, stride),
            6 => rows_avx512::<F16, 6, 2>(qs, keys, n, scale, out, stride),
            7 => rows_avx512::<F16, 7, 2>(qs, keys, n, scale, out, stride),
            _ => rows_avx512::<F16, 8, 2>(qs, keys, n, scale, out, stride),
        }
    }

    /// [`super::block_scores_rows`] for `R` queries: each dimension of a block is loaded once
    /// for all of them, and each query's lane operations are exactly [`scores_avx512`]'s. `W`
    /// blocks go side by side so that `R · W` independent FMA chains hide the FMA latency
    /// (one chain per accumulator would wait four cycles per dimension); the blocks left over
    /// go one at a time.
    ///
    /// # Safety
    /// AVX-512F must be present; `qs` must hold `R` queries of `d` elements, `keys` whole
    /// blocks of `d`-element keys (`n` keys), and `out` room for `R` rows of `stride ≥ n`.
    #[target_feature(enable = "avx512f,avx2,f16c")]
    unsafe fn rows_avx512<const F16: bool, const R: usize, const W: usize>(
        qs: &[&[f32]],
        keys: *const u8,
        n: usize,
        scale: f32,
        out: &mut [f32],
        stride: usize,
    ) {
        let blocks = n / BLOCK;
        let wide = blocks - blocks % W;
        rows_wide::<F16, R, W>(qs, keys, 0..wide, scale, out, stride);
        rows_wide::<F16, R, 1>(qs, keys, wide..blocks, scale, out, stride);
    }

    /// Blocks `blocks` of [`rows_avx512`], `W` at a time (the range holds a multiple of `W`).
    ///
    /// # Safety
    /// As for [`rows_avx512`], with `blocks` inside the keys.
    #[inline]
    #[target_feature(enable = "avx512f,avx2,f16c")]
    unsafe fn rows_wide<const F16: bool, const R: usize, const W: usize>(
        qs: &[&[f32]],
        keys: *const u8,
        blocks: std::ops::Range<usize>,
        scale: f32,
        out: &mut [f32],
        stride: usize,
    ) {
        let d = qs[0].len();
        let q: [*const f32; R] = std::array::from_fn(|r| qs[r].as_ptr());
        let bytes = if F16 { 2 } else { 4 };
        let block_bytes = d * BLOCK * bytes;
        let s = _mm512_set1_ps(scale);
        let end = blocks.end * block_bytes;
        for b in blocks.step_by(W) {
            let mut acc = [[_mm512_setzero_ps(); R]; W];
            let base = keys.add(b * block_bytes);
            let next = (b + W) * block_bytes;
            for i in 0..d {
                prefetch_ahead(keys, next, end, i, W * block_bytes / d.max(1));
                let qv: [__m512; R] = std::array::from_fn(|r| _mm512_set1_ps(*q[r].add(i)));
                for (w, accs) in acc.iter_mut().enumerate() {
                    let k = load16::<F16>(base.add(w * block_bytes + i * BLOCK * bytes));
                    for (a, qr) in accs.iter_mut().zip(qv) {
                        *a = _mm512_fmadd_ps(qr, k, *a);
                    }
                }
            }
            for (w, accs) in acc.iter().enumerate() {
                for (r, a) in accs.iter().enumerate() {
                    let at = out.as_mut_ptr().add(r * stride + (b + w) * BLOCK);
                    _mm512_storeu_ps(at, _mm512_mul_ps(*a, s));
                }
            }
        }
    }

    /// [`super::block_scores`] with each block's 16 keys in two 8-lane registers.
    ///
    /// # Safety
    /// AVX2, FMA and F16C must be present; sizes as for [`scores_avx512`].
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn scores_avx2<const F16: bool>(
        q: &[f32],
        keys: *const u8,
        scale: f32,
        out: &mut [f32],
    ) {
        let d = q.len();
        let bytes = if F16 { 2 } else { 4 };
        let block_bytes = d * BLOCK * bytes;
        for b in 0..out.len() / BLOCK {
            let mut acc = [_mm256_setzero_ps(); 2];
            let base = keys.add(b * block_bytes);
            for (i, &qi) in q.iter().enumerate() {
                let qv = _mm256_set1_ps(qi);
                for (h, a) in acc.iter_mut().enumerate() {
                    let k = load8::<F16>(base.add((i * BLOCK + 8 * h) * bytes));
                    *a = _mm256_fmadd_ps(qv, k, *a);
                }
            }
            let s = _mm256_set1_ps(scale);
            for (h, a) in acc.iter().enumerate() {
                _mm256_storeu_ps(
                    out.as_mut_ptr().add(b * BLOCK + 8 * h),
                    _mm256_mul_ps(*a, s),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tokens` keys of `d` elements (key u element i at `u * d + i`) and their blocked form.
    fn keys(tokens: usize, d: usize, seed: f32) -> (Vec<f32>, Vec<f32>) {
        let rows: Vec<f32> = (0..tokens * d)
            .map(|i| ((i as f32 + seed) * 0.377).sin() * 3.0)
            .collect();
        let mut blocked = vec![0.0; blocked_len(tokens, d)];
        for u in 0..tokens {
            for i in 0..d {
                blocked[blocked_index(u, i, d)] = rows[u * d + i];
            }
        }
        (rows, blocked)
    }

    #[test]
    fn simd_scores_equal_the_plain_form_in_both_precisions() {
        for (tokens, d) in [(1, 1), (16, 8), (37, 64), (100, 64), (130, 3), (300, 16)] {
            let (_, blocked) = keys(tokens, d, d as f32);
            let halves: Vec<f16> = blocked.iter().map(|&x| f16::from_f32(x)).collect();
            let q: Vec<f32> = (0..d).map(|i| (i as f32 * 1.3).cos() * 2.0).collect();
            for k in [KeyBlocks::F32(&blocked), KeyBlocks::F16(&halves)] {
                let n = k.len() / d;
                let (mut fast, mut slow) = (vec![0.0; n], vec![0.0; n]);
                block_scores(&q, k, 0.125, &mut fast);
                block_scores_plain(&q, k, 0.125, &mut slow);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&slow), "{tokens} keys of {d}");
                #[cfg(target_arch = "x86_64")]
                if crate::simd8::available() {
                    // The AVX2 kernel too, which AVX-512 machines never pick.
                    // SAFETY: AVX2/FMA/F16C detected; `k` holds n · d elements.
                    unsafe {
                        match k {
                            KeyBlocks::F32(v) => {
                                x86::scores_avx2::<false>(&q, v.as_ptr().cast(), 0.125, &mut fast)
                            }
                            KeyBlocks::F16(v) => {
                                x86::scores_avx2::<true>(&q, v.as_ptr().cast(), 0.125, &mut fast)
                            }
                        }
                    }
                    assert_eq!(bits(&fast), bits(&slow), "AVX2, {tokens} keys of {d}");
                }
            }
        }
    }

    #[test]
    fn rows_score_each_query_as_alone() {
        for (tokens, d) in [(16, 8), (37, 64), (100, 64), (300, 16)] {
            let (_, blocked) = keys(tokens, d, 2.0);
            let halves: Vec<f16> = blocked.iter().map(|&x| f16::from_f32(x)).collect();
            let qs: Vec<Vec<f32>> = (0..MAX_ROWS)
                .map(|r| (0..d).map(|i| ((i + 3 * r) as f32 * 0.9).cos()).collect())
                .collect();
            for k in [KeyBlocks::F32(&blocked), KeyBlocks::F16(&halves)] {
                let n = k.len() / d;
                let stride = n + 5;
                for rows in 1..=MAX_ROWS {
                    let refs: Vec<&[f32]> = qs[..rows].iter().map(|q| &q[..]).collect();
                    let mut got = vec![f32::NAN; rows * stride];
                    block_scores_rows(&refs, k, 0.25, &mut got, stride);
                    for (r, q) in refs.iter().enumerate() {
                        let mut alone = vec![0.0; n];
                        block_scores_plain(q, k, 0.25, &mut alone);
                        let row = &got[r * stride..][..n];
                        assert_eq!(
                            row.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                            alone.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                            "{rows} rows, row {r}, {tokens} keys of {d}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn scores_are_scaled_dot_products_and_padding_scores_zero() {
        let (tokens, d) = (21, 64);
        let (rows, blocked) = keys(tokens, d, 0.5);
        let q: Vec<f32> = (0..d).map(|i| (i as f32 * 0.7).sin()).collect();
        let mut out = vec![1.0; blocked.len() / d];
        block_scores(&q, KeyBlocks::F32(&blocked), 0.125, &mut out);
        for (u, got) in out.iter().enumerate() {
            let want: f64 = if u < tokens {
                (0..d)
                    .map(|i| f64::from(q[i]) * f64::from(rows[u * d + i]))
                    .sum::<f64>()
                    * 0.125
            } else {
                0.0
            };
            assert!(
                (f64::from(*got) - want).abs() < 1e-5,
                "key {u}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn slice_picks_one_heads_blocks() {
        let v: Vec<f32> = (0..64).map(|i| i as f32).collect();
        let k = KeyBlocks::F32(&v).slice(32, 32);
        assert_eq!(k.len(), 32);
        match k {
            KeyBlocks::F32(s) => assert_eq!(s[0], 32.0),
            KeyBlocks::F16(_) => unreachable!("f32 in, f32 out"),
        }
    }
}
