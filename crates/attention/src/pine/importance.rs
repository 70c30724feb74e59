//! PINE's importance scores (spec §1.3), from pre-RoPE queries and keys, in f32. Segment sums
//! are reduced in a canonical segment order, so the scores of a set of segments are bit-identical
//! whatever order the segments arrive in. Dots use a fixed 8-lane order and exp ggml's
//! polynomial (≤ 1.5 ulp): only the ranking depends on these values.

/// Pre-RoPE keys of the segment region for one layer, head-major: key u of KV head h at
/// elements `(h * tokens + u) * head_dim ..`, so one head's keys stream contiguously.
pub struct RegionKeys<'a> {
    /// The keys (f32, or f16 with an f16 KV cache: half the bytes per decoded token).
    pub k: KeyRows<'a>,
    /// Tokens in the region.
    pub tokens: usize,
    /// Elements per head.
    pub head_dim: usize,
    /// Offset of each segment's first key in the region.
    pub starts: &'a [usize],
    /// Tokens per segment.
    pub lens: &'a [usize],
    /// Segment indices in canonical order (the reduction order of cross-segment sums).
    pub canonical: &'a [usize],
}

impl RegionKeys<'_> {
    /// Element offset of segment `j`'s first key for KV head `kvh`.
    fn offset(&self, kvh: usize, j: usize) -> usize {
        (kvh * self.tokens + self.starts[j]) * self.head_dim
    }

    /// Per query of `qs` (query heads of KV head `kvh`), the per-segment sums of
    /// exp(score − max) over the keys of every segment into `sums[g]`, and their totals in
    /// canonical order. The queries share each pass over the keys.
    fn exp_sums(
        &self,
        qs: &[&[f32]],
        kvh: usize,
        scores: &mut [Vec<f32>],
        sums: &mut [Vec<f32>],
    ) -> Vec<f32> {
        let scale = 1.0 / (self.head_dim as f32).sqrt();
        scores.iter_mut().for_each(Vec::clear);
        for (j, &len) in self.lens.iter().enumerate() {
            let at = self.offset(kvh, j);
            dot8_rows_multi(qs, self.k, self.head_dim, at, len, scale, scores);
        }
        scores
            .iter_mut()
            .zip(sums.iter_mut())
            .map(|(scores, sums)| {
                let max = max(scores);
                scores.iter_mut().for_each(|s| *s -= max);
                exp_in_place(scores);
                let mut at = 0;
                for (sum, &len) in sums.iter_mut().zip(self.lens) {
                    *sum = scores[at..at + len].iter().sum();
                    at += len;
                }
                self.canonical.iter().map(|&j| sums[j]).sum()
            })
            .collect()
    }
}

use pine_backend::math::{dot8_rows_multi, exp_in_place};
use pine_backend::packed_queries::{KeyRows, PackedQueries};

/// The largest score (−∞ for none).
fn max(xs: &[f32]) -> f32 {
    xs.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// Importance of every segment for suffix or generated queries `qs` (query heads that all map
/// to KV head `kvh`), into `out[g]` (one entry per segment): the mean over S_j's tokens of query
/// g's softmax over all segment tokens (§1.3b). Each query's values are exactly those of
/// scoring it alone.
pub fn query_importance(keys: &RegionKeys<'_>, qs: &[&[f32]], kvh: usize, out: &mut [Vec<f32>]) {
    let mut scores = vec![Vec::new(); qs.len()];
    let totals = keys.exp_sums(qs, kvh, &mut scores, out);
    for (o, total) in out.iter_mut().zip(totals) {
        for (j, x) in o.iter_mut().enumerate() {
            *x = *x / total / keys.lens[j] as f32;
        }
    }
}

/// Importance of every segment j for segment i (§1.3a), one head: Σ over S_i's tokens of the
/// mean softmax probability (softmax over other segments' tokens only) given to S_j. The own
/// entry is +∞ (always rank 0). `q_rows` are S_i's pre-RoPE queries for this head; eight of
/// them share each pass over the keys, every one computed exactly as on its own.
pub fn segment_importance<'q>(
    keys: &RegionKeys<'_>,
    q_rows: impl Iterator<Item = &'q [f32]>,
    own: usize,
    kvh: usize,
    out: &mut [f32],
) {
    let n = keys.lens.len();
    let mut block = RowBlock::new(n);
    out.iter_mut().for_each(|o| *o = 0.0);
    let mut rows: Vec<&[f32]> = Vec::with_capacity(LANES);
    let mut q_rows = q_rows.peekable();
    while q_rows.peek().is_some() {
        rows.clear();
        rows.extend(q_rows.by_ref().take(LANES));
        block.exp_sums(keys, &rows, kvh, own);
        for r in 0..rows.len() {
            let total = block.totals[r];
            for (j, (o, &len)) in out.iter_mut().zip(keys.lens).enumerate() {
                if j != own {
                    *o += block.sums[j * LANES + r] / total / len as f32;
                }
            }
        }
    }
    out[own] = f32::INFINITY;
}

/// Queries scored together by [`segment_importance`] (one per SIMD lane).
const LANES: usize = 8;

/// Scratch for [`RegionKeys::exp_sums`] on up to [`LANES`] queries at once, lane r holding query
/// r: every per-query operation of the one-query form, in the same order, one lane each.
struct RowBlock {
    /// `scores[u * LANES + r]`: query r against region key u (own segment left out).
    scores: Vec<f32>,
    /// `sums[j * LANES + r]`: query r's sum of exp(score − max) over S_j (0 for the own one).
    sums: Vec<f32>,
    /// Per query, the sums' total in canonical segment order.
    totals: [f32; LANES],
    /// The block's queries, laid out for the dot kernel.
    queries: PackedQueries,
}

impl RowBlock {
    fn new(n_seg: usize) -> RowBlock {
        RowBlock {
            scores: Vec::new(),
            sums: vec![0.0; n_seg * LANES],
            totals: [0.0; LANES],
            queries: PackedQueries::default(),
        }
    }

    /// [`RegionKeys::exp_sums`] leaving out segment `own`, for every query of `qs` (at most
    /// [`LANES`]); lanes past `qs.len()` hold zero scores.
    fn exp_sums(&mut self, keys: &RegionKeys<'_>, qs: &[&[f32]], kvh: usize, own: usize) {
        let scale = 1.0 / (keys.head_dim as f32).sqrt();
        let n_keys: usize = keys.lens.iter().sum::<usize>() - keys.lens[own];
        self.queries.pack(qs);
        self.scores.resize(n_keys * LANES, 0.0);
        let mut at = 0;
        for j in (0..keys.lens.len()).filter(|&j| j != own) {
            let len = keys.lens[j];
            self.queries.dot_rows(
                keys.k,
                keys.head_dim,
                keys.offset(kvh, j),
                len,
                scale,
                &mut self.scores[at * LANES..(at + len) * LANES],
            );
            at += len;
        }
        let mut max = [f32::NEG_INFINITY; LANES];
        for s in self.scores.chunks_exact(LANES) {
            for (m, &x) in max.iter_mut().zip(s) {
                *m = m.max(x);
            }
        }
        for s in self.scores.chunks_exact_mut(LANES) {
            for (x, m) in s.iter_mut().zip(&max) {
                *x -= m;
            }
        }
        exp_in_place(&mut self.scores);
        let mut at = 0;
        for (j, &len) in keys.lens.iter().enumerate() {
            let sum = &mut self.sums[j * LANES..(j + 1) * LANES];
            sum.iter_mut().for_each(|x| *x = -0.0);
            if j == own {
                sum.iter_mut().for_each(|x| *x = 0.0);
                continue;
            }
            for s in self.scores[at * LANES..(at + len) * LANES].chunks_exact(LANES) {
                for (x, &e) in sum.iter_mut().zip(s) {
                    *x += e;
                }
            }
            at += len;
        }
        for (r, t) in self.totals.iter_mut().enumerate() {
            *t = keys
                .canonical
                .iter()
                .map(|&j| self.sums[j * LANES + r])
                .sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;
    use pine_backend::math::dot8_rows;

    /// Head-major keys from `rows[u][h * d..]` (token-major rows of `heads` heads).
    fn head_major(rows: &[f32], heads: usize, d: usize) -> Vec<f32> {
        let tokens = rows.len() / (heads * d);
        (0..heads)
            .flat_map(|h| (0..tokens).flat_map(move |u| (0..d).map(move |i| (h, u, i))))
            .map(|(h, u, i)| rows[(u * heads + h) * d + i])
            .collect()
    }

    fn naive_query(keys: &[Vec<f32>], seg: &[usize], n: usize, q: &[f32]) -> Vec<f32> {
        let s: Vec<f64> = keys
            .iter()
            .map(|k| {
                q.iter().zip(k).map(|(a, b)| (a * b) as f64).sum::<f64>() / (q.len() as f64).sqrt()
            })
            .collect();
        let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = s.iter().map(|x| (x - m).exp()).sum();
        let mut imp = vec![0.0; n];
        let mut len = vec![0.0; n];
        for (u, &j) in seg.iter().enumerate() {
            imp[j] += (s[u] - m).exp() / z;
            len[j] += 1.0;
        }
        imp.iter().zip(&len).map(|(a, l)| (a / l) as f32).collect()
    }

    #[test]
    fn query_importance_matches_a_naive_softmax_alone_or_grouped() {
        let d = 8;
        let lens = [2usize, 3, 1];
        let starts = [0usize, 2, 5];
        let keys: Vec<Vec<f32>> = (0..6)
            .map(|r| {
                (0..d)
                    .map(|i| ((r * 7 + i * 3) as f32 * 0.41).sin())
                    .collect()
            })
            .collect();
        let flat: Vec<f32> = keys.iter().flatten().copied().collect();
        let seg = [0, 0, 1, 1, 1, 2];
        let qs: Vec<Vec<f32>> = (0..3)
            .map(|h| (0..d).map(|i| ((i + h) as f32 * 0.9).cos() * 2.0).collect())
            .collect();
        let rk = RegionKeys {
            k: KeyRows::F32(&flat),
            tokens: 6,
            head_dim: d,
            starts: &starts,
            lens: &lens,
            canonical: &[2, 0, 1],
        };
        let refs: Vec<&[f32]> = qs.iter().map(|q| &q[..]).collect();
        let mut together = vec![vec![0.0; 3]; 3];
        query_importance(&rk, &refs, 0, &mut together);
        for (g, q) in qs.iter().enumerate() {
            let mut alone = vec![vec![0.0; 3]];
            query_importance(&rk, &[&q[..]], 0, &mut alone);
            assert_eq!(alone[0], together[g], "head {g} scored with its group");
            for (a, b) in alone[0].iter().zip(naive_query(&keys, &seg, 3, q)) {
                assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            }
        }
    }

    /// §1.3a one query row at a time, as a plain loop over token-major `rows` (`width` apart,
    /// head `kvh` at `kvh * d`): what the eight-row blocks must equal.
    #[allow(clippy::too_many_arguments)]
    fn segment_importance_one_by_one(
        rows: &[f32],
        width: usize,
        d: usize,
        starts: &[usize],
        lens: &[usize],
        canonical: &[usize],
        qs: &[Vec<f32>],
        own: usize,
        kvh: usize,
    ) -> Vec<f32> {
        let n = lens.len();
        let scale = 1.0 / (d as f32).sqrt();
        let mut out = vec![0.0f32; n];
        for q in qs {
            let mut scores = Vec::new();
            for j in 0..n {
                if j == own {
                    scores.resize(scores.len() + lens[j], f32::NEG_INFINITY);
                } else {
                    let r = &rows[starts[j] * width..];
                    dot8_rows(
                        q,
                        KeyRows::F32(r),
                        width,
                        kvh * d,
                        lens[j],
                        scale,
                        &mut scores,
                    );
                }
            }
            let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = scores
                .iter()
                .map(|s| pine_backend::math::expf(s - max))
                .collect();
            let mut sums = vec![0.0f32; n];
            let mut at = 0;
            for j in 0..n {
                if j != own {
                    sums[j] = e[at..at + lens[j]].iter().sum();
                }
                at += lens[j];
            }
            let total: f32 = canonical.iter().map(|&j| sums[j]).sum();
            for j in (0..n).filter(|&j| j != own) {
                out[j] += sums[j] / total / lens[j] as f32;
            }
        }
        out[own] = f32::INFINITY;
        out
    }

    #[test]
    fn segment_importance_blocks_equal_one_row_at_a_time_in_both_precisions() {
        let d = 16;
        let width = 2 * d;
        let lens = [5usize, 9, 1, 12];
        let starts = [0usize, 5, 14, 15];
        let canonical = [3, 1, 0, 2];
        let flat: Vec<f32> = (0..27 * width)
            .map(|i| (i as f32 * 0.173).sin() * 2.0)
            .collect();
        let half_flat: Vec<f32> = flat.iter().map(|&x| f16::from_f32(x).to_f32()).collect();
        for token_major in [&flat, &half_flat] {
            let hm = head_major(token_major, 2, d);
            let hm16: Vec<f16> = hm.iter().map(|&x| f16::from_f32(x)).collect();
            let k = if std::ptr::eq(token_major, &half_flat) {
                KeyRows::F16(&hm16)
            } else {
                KeyRows::F32(&hm)
            };
            let rk = RegionKeys {
                k,
                tokens: 27,
                head_dim: d,
                starts: &starts,
                lens: &lens,
                canonical: &canonical,
            };
            for n_rows in [1, 8, 13] {
                let qs: Vec<Vec<f32>> = (0..n_rows)
                    .map(|r| {
                        (0..d)
                            .map(|i| ((r * 5 + i) as f32 * 0.7).cos() * 3.0)
                            .collect()
                    })
                    .collect();
                for own in 0..lens.len() {
                    let mut got = [0.0; 4];
                    segment_importance(&rk, qs.iter().map(|q| &q[..]), own, 1, &mut got);
                    let want = segment_importance_one_by_one(
                        token_major,
                        width,
                        d,
                        &starts,
                        &lens,
                        &canonical,
                        &qs,
                        own,
                        1,
                    );
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "{n_rows} rows, own {own}");
                }
            }
        }
    }

    #[test]
    fn segment_importance_excludes_own_segment_and_ignores_positions() {
        let d = 4;
        let lens = [1usize, 2, 1];
        let starts = [0usize, 1, 3];
        let flat: Vec<f32> = (0..16).map(|i| (i as f32 * 0.3).sin()).collect();
        let rk = RegionKeys {
            k: KeyRows::F32(&flat),
            tokens: 4,
            head_dim: d,
            starts: &starts,
            lens: &lens,
            canonical: &[0, 1, 2],
        };
        let q1 = [1.0, 0.0, 0.5, -0.5];
        let q2 = [0.0, 1.0, 0.0, 0.2];
        let mut out = [0.0; 3];
        segment_importance(&rk, [&q1[..], &q2[..]].into_iter(), 1, 0, &mut out);
        assert_eq!(out[1], f32::INFINITY);
        // Each query token's probabilities over segments 0 and 2 sum to one, and both have one token.
        assert!((out[0] + out[2] - 2.0).abs() < 1e-6);
    }
}
