//! PINE's importance scores (spec §1.3), from pre-RoPE queries and keys, in f32. Segment sums
//! are reduced in a canonical segment order, so the scores of a set of segments are bit-identical
//! whatever order the segments arrive in. Dots use a fixed 8-lane order and exp ggml's
//! polynomial (≤ 1.5 ulp): only the ranking depends on these values.

/// Pre-RoPE keys of the segment region for one layer: `[S, n_kv_heads * head_dim]`, raw order.
pub struct RegionKeys<'a> {
    /// The keys.
    pub k: &'a [f32],
    /// Elements per key row (`n_kv_heads * head_dim`).
    pub width: usize,
    /// Elements per head.
    pub head_dim: usize,
    /// Offset of each segment's first key row in `k`.
    pub starts: &'a [usize],
    /// Tokens per segment.
    pub lens: &'a [usize],
    /// Segment indices in canonical order (the reduction order of cross-segment sums).
    pub canonical: &'a [usize],
}

impl RegionKeys<'_> {
    /// Per-segment sums of exp(score − max) for query `q` over the keys of every segment except
    /// `skip`, and their total in canonical order. `sums[skip]` stays 0.
    fn exp_sums(
        &self,
        q: &[f32],
        kvh: usize,
        skip: Option<usize>,
        scores: &mut Vec<f32>,
        sums: &mut [f32],
    ) -> f32 {
        let scale = 1.0 / (self.head_dim as f32).sqrt();
        scores.clear();
        let mut max = f32::NEG_INFINITY;
        for j in 0..self.lens.len() {
            let from = scores.len();
            if Some(j) == skip {
                scores.resize(from + self.lens[j], f32::NEG_INFINITY);
            } else {
                let rows = &self.k[self.starts[j] * self.width..];
                dot8_rows(
                    q,
                    rows,
                    self.width,
                    kvh * self.head_dim,
                    self.lens[j],
                    scale,
                    scores,
                );
            }
            max = scores[from..].iter().copied().fold(max, f32::max);
        }
        scores.iter_mut().for_each(|s| *s -= max);
        exp_in_place(scores);
        let mut at = 0;
        for (j, (sum, &len)) in sums.iter_mut().zip(self.lens).enumerate() {
            let seg = &scores[at..at + len];
            at += len;
            *sum = if Some(j) == skip {
                0.0
            } else {
                seg.iter().sum()
            };
        }
        self.canonical.iter().map(|&j| sums[j]).sum()
    }
}

use pine_backend::math::{dot8_rows, exp_in_place};

/// Importance of every segment for a suffix or generated query `q` (one head, mapped to KV head
/// `kvh`): the mean over S_j's tokens of q's softmax over all segment tokens (§1.3b).
pub fn query_importance(keys: &RegionKeys<'_>, q: &[f32], kvh: usize, out: &mut [f32]) {
    let mut scores = Vec::new();
    let total = keys.exp_sums(q, kvh, None, &mut scores, out);
    for (j, o) in out.iter_mut().enumerate() {
        *o = *o / total / keys.lens[j] as f32;
    }
}

/// Importance of every segment j for segment i (§1.3a), one head: Σ over S_i's tokens of the
/// mean softmax probability (softmax over other segments' tokens only) given to S_j. The own
/// entry is +∞ (always rank 0). `q_rows` are S_i's pre-RoPE queries for this head.
pub fn segment_importance<'q>(
    keys: &RegionKeys<'_>,
    q_rows: impl Iterator<Item = &'q [f32]>,
    own: usize,
    kvh: usize,
    out: &mut [f32],
) {
    let n = keys.lens.len();
    let mut scores = Vec::new();
    let mut sums = vec![0.0f32; n];
    out.iter_mut().for_each(|o| *o = 0.0);
    for q in q_rows {
        let total = keys.exp_sums(q, kvh, Some(own), &mut scores, &mut sums);
        for j in 0..n {
            if j != own {
                out[j] += sums[j] / total / keys.lens[j] as f32;
            }
        }
    }
    out[own] = f32::INFINITY;
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn query_importance_matches_a_naive_softmax() {
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
        let q: Vec<f32> = (0..d).map(|i| (i as f32 * 0.9).cos() * 2.0).collect();
        let rk = RegionKeys {
            k: &flat,
            width: d,
            head_dim: d,
            starts: &starts,
            lens: &lens,
            canonical: &[2, 0, 1],
        };
        let mut got = [0.0; 3];
        query_importance(&rk, &q, 0, &mut got);
        for (a, b) in got.iter().zip(naive_query(&keys, &seg, 3, &q)) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn segment_importance_excludes_own_segment_and_ignores_positions() {
        let d = 4;
        let lens = [1usize, 2, 1];
        let starts = [0usize, 1, 3];
        let flat: Vec<f32> = (0..16).map(|i| (i as f32 * 0.3).sin()).collect();
        let rk = RegionKeys {
            k: &flat,
            width: d,
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
