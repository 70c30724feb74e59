//! PINE's importance scores (spec §1.3), from pre-RoPE queries and keys, in f32. Segment sums
//! are reduced in a canonical segment order, so the scores of a set of segments are bit-identical
//! whatever order the segments arrive in. Every q·k is one FMA chain over the dimensions
//! ([`crate::key_blocks`]), sums run in 16 fixed lanes and exp is ggml's polynomial (≤ 1.5 ulp):
//! only the ranking depends on these values. This is the CPU's form of
//! [`crate::Backend::importance`]; the request types here are what every backend is asked.

use std::cell::RefCell;
use std::ops::Range;

use crate::key_blocks::{block_scores_rows, blocked_len, KeyBlocks, BLOCK, MAX_ROWS};
use crate::lanes::{exp_sums16, max16};
use crate::region_store::RegionStore;

/// Where PINE's segments lie in the region, as the importance pass needs it.
#[derive(Clone, Copy, Debug)]
pub struct RegionGeometry<'a> {
    /// Offset of each segment's first token in the region.
    pub starts: &'a [usize],
    /// Tokens per segment.
    pub lens: &'a [usize],
    /// Segment indices in canonical order (the reduction order of cross-segment sums).
    pub canonical: &'a [usize],
}

/// Which queries an importance pass ranks for, which fixes the layout of its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportanceRows {
    /// That many suffix or generated rows: entry `(row * n_heads + h) * n_seg + j` is the mean
    /// over S_j's tokens of the row's softmax over every region token, head h (§1.3b). A task
    /// serves one row's query heads of one KV head.
    Queries(usize),
    /// The segment batch itself (row u = region token u): entry `(h * n_seg + i) * n_seg + j` is
    /// Σ over S_i's rows of the mean probability given to S_j, softmax over the tokens outside
    /// S_i, head h (§1.3a); the own entry `i == j` is +∞.
    Segments,
}

impl ImportanceRows {
    /// Entries of the table: one task per (row, head) or (head, segment), `n_seg` each.
    pub fn table_len(self, n_heads: usize, n_seg: usize) -> usize {
        match self {
            ImportanceRows::Queries(rows) => rows * n_heads * n_seg,
            ImportanceRows::Segments => n_heads * n_seg * n_seg,
        }
    }

    /// Batch rows of queries the pass reads, for a region of `tokens` tokens.
    pub fn query_rows(self, tokens: usize) -> usize {
        match self {
            ImportanceRows::Queries(rows) => rows,
            ImportanceRows::Segments => tokens,
        }
    }
}

/// Checks an importance request against the stored region (`tokens` keys of `kv_heads` heads)
/// before a backend computes it: segments inside the region, none empty, `canonical` a
/// permutation, query heads a multiple of the KV heads, and a table of the right size.
pub fn check_request(
    tokens: usize,
    kv_heads: usize,
    n_heads: usize,
    geo: &RegionGeometry<'_>,
    rows: ImportanceRows,
    table_len: usize,
) -> Result<(), String> {
    let n = geo.lens.len();
    if geo.starts.len() != n {
        return Err(format!(
            "{} segment starts for {n} lengths",
            geo.starts.len()
        ));
    }
    for (j, (&s, &len)) in geo.starts.iter().zip(geo.lens).enumerate() {
        if len == 0 || s.checked_add(len).is_none_or(|e| e > tokens) {
            return Err(format!(
                "segment {j} ({s}+{len}) is empty or outside the stored region of {tokens} keys"
            ));
        }
    }
    let mut seen = vec![false; n];
    for &j in geo.canonical {
        if j >= n || std::mem::replace(&mut seen[j], true) {
            return Err(format!(
                "canonical order {:?} is not a permutation",
                geo.canonical
            ));
        }
    }
    if geo.canonical.len() != n {
        return Err(format!(
            "canonical order {:?} is not a permutation",
            geo.canonical
        ));
    }
    if kv_heads == 0 || !n_heads.is_multiple_of(kv_heads) {
        return Err(format!(
            "{n_heads} query heads for {kv_heads} stored key heads"
        ));
    }
    if table_len != rows.table_len(n_heads, n) {
        return Err(format!(
            "importance table of {table_len} entries, {} expected",
            rows.table_len(n_heads, n)
        ));
    }
    Ok(())
}

/// One independent part of an importance table, which a backend may run on any thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportanceTask {
    /// A suffix or generated row's query heads of one KV head, which share one pass over that
    /// KV head's keys ([`ImportanceRows::Queries`]).
    Query {
        /// Batch row.
        row: usize,
        /// KV head.
        kv_head: usize,
    },
    /// The rows of consecutive segments for one query head ([`ImportanceRows::Segments`]):
    /// one segment of [`MAX_ROWS`] rows or more, or short segments together, so that every
    /// pass over the keys serves several query rows however short the segments are.
    Segments {
        /// Query head.
        head: usize,
        /// Segment indices.
        segments: Range<usize>,
    },
}

impl ImportanceTask {
    /// The table entries the task fills (see [`ImportanceRows`] for the layout).
    pub fn entries(&self, n_heads: usize, kv_heads: usize, n_seg: usize) -> Range<usize> {
        match self {
            ImportanceTask::Query { row, kv_head } => {
                let group = n_heads / kv_heads.max(1);
                let first = (row * n_heads + kv_head * group) * n_seg;
                first..first + group * n_seg
            }
            ImportanceTask::Segments { head, segments } => {
                (head * n_seg + segments.start) * n_seg..(head * n_seg + segments.end) * n_seg
            }
        }
    }
}

/// The tasks that fill an importance table, in table order (their entries tile it).
pub fn importance_tasks(
    rows: ImportanceRows,
    n_heads: usize,
    kv_heads: usize,
    lens: &[usize],
) -> Vec<ImportanceTask> {
    match rows {
        ImportanceRows::Queries(n) => (0..n * kv_heads)
            .map(|t| ImportanceTask::Query {
                row: t / kv_heads,
                kv_head: t % kv_heads,
            })
            .collect(),
        ImportanceRows::Segments => {
            let mut runs = Vec::new();
            let mut from = 0;
            let mut rows = 0;
            for (j, &len) in lens.iter().enumerate() {
                rows += len;
                if rows >= MAX_ROWS || j + 1 == lens.len() {
                    runs.push(from..j + 1);
                    (from, rows) = (j + 1, 0);
                }
            }
            (0..n_heads)
                .flat_map(|head| {
                    runs.iter().map(move |r| ImportanceTask::Segments {
                        head,
                        segments: r.clone(),
                    })
                })
                .collect()
        }
    }
}

/// One task of an importance table into `out` (its [`ImportanceTask::entries`]), from the
/// batch's pre-RoPE queries `q` (`[rows, n_heads * head_dim]`). The request must have passed
/// [`check_request`], and the task must be one of [`importance_tasks`] for it.
pub fn importance_task(
    store: &RegionStore,
    q: &[f32],
    n_heads: usize,
    geo: &RegionGeometry<'_>,
    task: &ImportanceTask,
    out: &mut [f32],
) {
    let hd = store.head_dim();
    let keys = RegionKeys {
        blocks: store.blocks(),
        tokens: store.tokens(),
        head_dim: hd,
        starts: geo.starts,
        lens: geo.lens,
        canonical: geo.canonical,
    };
    let group = n_heads / store.heads();
    let q_row = |row: usize, h: usize| &q[(row * n_heads + h) * hd..][..hd];
    match *task {
        ImportanceTask::Query { row, kv_head } => {
            let qs: Vec<&[f32]> = (kv_head * group..(kv_head + 1) * group)
                .map(|h| q_row(row, h))
                .collect();
            query_importance(&keys, &qs, kv_head, out);
        }
        ImportanceTask::Segments { head, ref segments } => {
            let rows = segments
                .clone()
                .flat_map(|i| (geo.starts[i]..geo.starts[i] + geo.lens[i]).map(move |u| (i, u)));
            let q_rows = rows.map(|(i, u)| (i, q_row(u, head)));
            segment_importance(&keys, q_rows, segments.start, head / group, out);
        }
    }
}

/// Pre-RoPE keys of the segment region for one layer, with the segment geometry.
struct RegionKeys<'a> {
    /// Every KV head's keys in 16-key blocks, head after head
    /// ([`crate::key_blocks::blocked_len`] elements each).
    blocks: KeyBlocks<'a>,
    /// Tokens in the region.
    tokens: usize,
    /// Elements per head.
    head_dim: usize,
    /// Offset of each segment's first key in the region.
    starts: &'a [usize],
    /// Tokens per segment.
    lens: &'a [usize],
    /// Segment indices in canonical order (the reduction order of cross-segment sums).
    canonical: &'a [usize],
}

impl RegionKeys<'_> {
    /// Scores per region key of each query of `qs` (at most [`MAX_ROWS`], of a head that maps
    /// to KV head `kvh`) into `scores[r * stride..]`, `stride` = the padded key count. Blocks
    /// holding only keys of segment `skip` are left unscored.
    fn score(&self, qs: &[&[f32]], kvh: usize, skip: Option<usize>, scores: &mut [f32]) {
        let hd = self.head_dim;
        let per_head = blocked_len(self.tokens, hd);
        let stride = self.stride();
        let blocks = self.blocks.slice(kvh * per_head, per_head);
        let all = stride / BLOCK;
        let (a, b) = skip.map_or((0, 0), |j| {
            let s = self.starts[j];
            (s.div_ceil(BLOCK), (s + self.lens[j]) / BLOCK)
        });
        let spans = if a < b {
            [(0, a), (b, all)]
        } else {
            [(0, all), (0, 0)]
        };
        let scale = 1.0 / (hd as f32).sqrt();
        for (from, to) in spans.into_iter().filter(|(f, t)| f < t) {
            let keys = blocks.slice(from * BLOCK * hd, (to - from) * BLOCK * hd);
            block_scores_rows(qs, keys, scale, &mut scores[from * BLOCK..], stride);
        }
    }

    /// From one query's `scores` (indexed by region key), per segment j the sum of
    /// exp(score − max) over S_j's keys into `sums[j]` (16 fixed lanes in token order), the
    /// max taken over every segment but `skip`, whose sum is 0. Returns the sums' total in
    /// canonical segment order. Nothing here depends on the order the segments came in.
    fn exp_sums(
        &self,
        scores: &[f32],
        skip: Option<usize>,
        sums: &mut [f32],
        scratch: &mut Vec<f32>,
    ) -> f32 {
        let (s, e) = skip.map_or((0, 0), |j| (self.starts[j], self.starts[j] + self.lens[j]));
        let max = max16(&scores[..s]).max(max16(&scores[e..self.tokens]));
        let scores = &scores[..self.tokens];
        exp_sums16(scores, max, self.starts, self.lens, skip, scratch, sums);
        self.canonical.iter().map(|&j| sums[j]).sum()
    }

    /// Scores of one query per region key, padded to whole blocks.
    fn stride(&self) -> usize {
        blocked_len(self.tokens, self.head_dim) / self.head_dim
    }
}

/// Per-thread scratch of the importance passes, reused across calls.
#[derive(Default)]
struct Scratch {
    /// Scores of the queries being ranked.
    scores: Vec<f32>,
    /// The exponentials of one query's scores.
    exps: Vec<f32>,
    /// One query's per-segment sums.
    sums: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Importance of every segment for suffix or generated queries `qs` (pre-RoPE, of heads that
/// map to KV head `kvh`), query r's into `out[r * n_seg..]` (one entry per segment): the mean
/// over S_j's tokens of the query's softmax over all segment tokens (§1.3b). Up to eight
/// queries (a GQA group) share each pass over the keys, every one scored exactly as alone.
fn query_importance(keys: &RegionKeys<'_>, qs: &[&[f32]], kvh: usize, out: &mut [f32]) {
    let n_seg = keys.lens.len();
    if n_seg == 0 {
        return;
    }
    let stride = keys.stride();
    SCRATCH.with_borrow_mut(|s| {
        for (batch, part) in qs.chunks(MAX_ROWS).zip(out.chunks_mut(MAX_ROWS * n_seg)) {
            s.scores.resize(batch.len() * stride, 0.0);
            keys.score(batch, kvh, None, &mut s.scores);
            for (r, o) in part.chunks_exact_mut(n_seg).enumerate() {
                let total = keys.exp_sums(&s.scores[r * stride..], None, o, &mut s.exps);
                for (x, &len) in o.iter_mut().zip(keys.lens) {
                    *x = *x / total / len as f32;
                }
            }
        }
    });
}

/// Importance of every segment j for the segments i of `q_rows` (§1.3a), one head: Σ over
/// S_i's tokens of the mean softmax probability (softmax over other segments' tokens only)
/// given to S_j, into `out[(i - first) * n_seg + j]`; the own entry is +∞ (always rank 0).
/// `q_rows` are (segment, pre-RoPE query) of every token of consecutive segments from
/// `first`, in order; up to eight share each pass over the keys (a pass of one segment's rows
/// skips the blocks of only its own keys), every one scored exactly as on its own, and each
/// segment's entries are summed over its rows in order.
fn segment_importance<'q>(
    keys: &RegionKeys<'_>,
    q_rows: impl Iterator<Item = (usize, &'q [f32])>,
    first: usize,
    kvh: usize,
    out: &mut [f32],
) {
    let n_seg = keys.lens.len();
    out.iter_mut().for_each(|o| *o = 0.0);
    let stride = keys.stride();
    let mut rows: Vec<(usize, &[f32])> = Vec::with_capacity(MAX_ROWS);
    let mut qs: Vec<&[f32]> = Vec::with_capacity(MAX_ROWS);
    let mut q_rows = q_rows.peekable();
    SCRATCH.with_borrow_mut(|s| {
        let Scratch { scores, exps, sums } = s;
        scores.resize(MAX_ROWS * stride, 0.0);
        sums.resize(n_seg, 0.0);
        while q_rows.peek().is_some() {
            rows.clear();
            rows.extend(q_rows.by_ref().take(MAX_ROWS));
            qs.clear();
            qs.extend(rows.iter().map(|&(_, q)| q));
            let own = rows[0].0;
            let skip = rows.iter().all(|&(i, _)| i == own).then_some(own);
            keys.score(&qs, kvh, skip, scores);
            for (r, &(i, _)) in rows.iter().enumerate() {
                let total = keys.exp_sums(&scores[r * stride..], Some(i), sums, exps);
                let o = &mut out[(i - first) * n_seg..][..n_seg];
                for (j, (o, &len)) in o.iter_mut().zip(keys.lens).enumerate() {
                    if j != i {
                        *o += sums[j] / total / len as f32;
                    }
                }
            }
        }
    });
    for (k, o) in out.chunks_exact_mut(n_seg).enumerate() {
        o[first + k] = f32::INFINITY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_blocks::{block_scores_plain, blocked_index};
    use crate::lanes::sum16;
    use crate::math::expf;
    use half::f16;

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

    /// Region keys of `heads` KV heads (`keys[h][u]`) in blocked form, with the geometry.
    struct Region<'a> {
        blocks: Vec<f32>,
        halves: Vec<f16>,
        tokens: usize,
        d: usize,
        starts: &'a [usize],
        lens: &'a [usize],
        canonical: &'a [usize],
    }

    fn region<'a>(
        keys: &[Vec<Vec<f32>>],
        starts: &'a [usize],
        lens: &'a [usize],
        canonical: &'a [usize],
    ) -> Region<'a> {
        let (tokens, d) = (keys[0].len(), keys[0][0].len());
        let per_head = blocked_len(tokens, d);
        let mut blocks = vec![0.0; keys.len() * per_head];
        for (h, head) in keys.iter().enumerate() {
            for (u, k) in head.iter().enumerate() {
                for (i, &x) in k.iter().enumerate() {
                    blocks[h * per_head + blocked_index(u, i, d)] = x;
                }
            }
        }
        let halves = blocks.iter().map(|&x| f16::from_f32(x)).collect();
        Region {
            blocks,
            halves,
            tokens,
            d,
            starts,
            lens,
            canonical,
        }
    }

    impl Region<'_> {
        fn keys(&self, half: bool) -> RegionKeys<'_> {
            RegionKeys {
                blocks: if half {
                    KeyBlocks::F16(&self.halves)
                } else {
                    KeyBlocks::F32(&self.blocks)
                },
                tokens: self.tokens,
                head_dim: self.d,
                starts: self.starts,
                lens: self.lens,
                canonical: self.canonical,
            }
        }
    }

    fn wavy_keys(heads: usize, tokens: usize, d: usize) -> Vec<Vec<Vec<f32>>> {
        (0..heads)
            .map(|h| {
                (0..tokens)
                    .map(|u| {
                        (0..d)
                            .map(|i| (((h * 31 + u) * 7 + i * 3) as f32 * 0.173).sin() * 2.0)
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn query_importance_matches_a_naive_softmax_and_ignores_segment_order() {
        let d = 8;
        let lens = [2usize, 3, 1];
        let keys = wavy_keys(1, 6, d);
        let seg = [0, 0, 1, 1, 1, 2];
        let q: Vec<f32> = (0..d).map(|i| (i as f32 * 0.9).cos() * 2.0).collect();
        let mut imp = [0.0; 3];
        let r = region(&keys, &[0, 2, 5], &lens, &[2, 0, 1]);
        query_importance(&r.keys(false), &[&q], 0, &mut imp);
        for (a, b) in imp.iter().zip(naive_query(&keys[0], &seg, 3, &q)) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // The same segments in the order 2, 0, 1: the same bits per segment.
        let moved = vec![[5, 0, 1, 2, 3, 4].map(|u| keys[0][u].clone()).to_vec()];
        let mut again = [0.0; 3];
        let r = region(&moved, &[1, 3, 0], &lens, &[2, 0, 1]);
        query_importance(&r.keys(false), &[&q], 0, &mut again);
        assert_eq!(imp.map(f32::to_bits), again.map(f32::to_bits));
    }

    /// §1.3a one query row at a time from the plain kernel, every key scored (the own
    /// segment's then ignored): what the multi-row, block-skipping form must equal.
    fn segment_importance_one_by_one(
        keys: &RegionKeys<'_>,
        qs: &[Vec<f32>],
        own: usize,
        kvh: usize,
    ) -> Vec<f32> {
        let n = keys.lens.len();
        let per_head = blocked_len(keys.tokens, keys.head_dim);
        let blocks = keys.blocks.slice(kvh * per_head, per_head);
        let scale = 1.0 / (keys.head_dim as f32).sqrt();
        let mut out = vec![0.0f32; n];
        for q in qs {
            let mut s = vec![0.0; per_head / keys.head_dim];
            block_scores_plain(q, blocks, scale, &mut s);
            let others = |u: usize| u < keys.starts[own] || u >= keys.starts[own] + keys.lens[own];
            let max = (0..keys.tokens)
                .filter(|&u| others(u))
                .map(|u| s[u])
                .fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = s.iter().map(|x| expf(x - max)).collect();
            let mut sums = vec![0.0f32; n];
            for j in (0..n).filter(|&j| j != own) {
                sums[j] = sum16(&e[keys.starts[j]..][..keys.lens[j]]);
            }
            let total: f32 = keys.canonical.iter().map(|&j| sums[j]).sum();
            for j in (0..n).filter(|&j| j != own) {
                out[j] += sums[j] / total / keys.lens[j] as f32;
            }
        }
        out[own] = f32::INFINITY;
        out
    }

    #[test]
    fn segment_importance_equals_one_row_at_a_time_in_both_precisions() {
        let d = 16;
        // Segment 3 covers whole blocks (skipped), segment 1 straddles one.
        let lens = [5usize, 20, 1, 40, 3];
        let starts = [0usize, 5, 25, 26, 66];
        let canonical = [3, 1, 0, 4, 2];
        let r = region(&wavy_keys(2, 69, d), &starts, &lens, &canonical);
        for half in [false, true] {
            let keys = r.keys(half);
            for n_rows in [1, 8, 13] {
                let qs: Vec<Vec<f32>> = (0..n_rows)
                    .map(|r| {
                        (0..d)
                            .map(|i| ((r * 5 + i) as f32 * 0.7).cos() * 3.0)
                            .collect()
                    })
                    .collect();
                for own in 0..lens.len() {
                    let mut got = [0.0; 5];
                    let rows = qs.iter().map(|q| (own, &q[..]));
                    segment_importance(&keys, rows, own, 1, &mut got);
                    let want = segment_importance_one_by_one(&keys, &qs, own, 1);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "{n_rows} rows, own {own}");
                }
            }
        }
    }

    /// Rows of several consecutive segments in one task (passes over the keys shared across
    /// segment boundaries) give every segment the bits it gets on its own.
    #[test]
    fn runs_of_segments_equal_each_segment_alone() {
        let d = 16;
        let lens = [5usize, 20, 1, 40, 3];
        let starts = [0usize, 5, 25, 26, 66];
        let canonical = [3, 1, 0, 4, 2];
        let r = region(&wavy_keys(2, 69, d), &starts, &lens, &canonical);
        let per_segment = [2usize, 1, 3, 9, 1];
        let qs: Vec<Vec<Vec<f32>>> = per_segment
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                (0..n)
                    .map(|r| {
                        (0..d)
                            .map(|k| ((i * 11 + r * 5 + k) as f32 * 0.7).cos() * 3.0)
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for half in [false, true] {
            let keys = r.keys(half);
            for run in [0..5, 2..5, 1..3, 4..5] {
                let rows = run
                    .clone()
                    .flat_map(|i| qs[i].iter().map(move |q| (i, &q[..])));
                let mut got = vec![0.0; run.len() * 5];
                segment_importance(&keys, rows, run.start, 0, &mut got);
                for i in run.clone() {
                    let want = segment_importance_one_by_one(&keys, &qs[i], i, 0);
                    let got = &got[(i - run.start) * 5..][..5];
                    assert_eq!(bits(got), bits(&want), "run {run:?} segment {i}");
                }
            }
        }
    }

    #[test]
    fn segment_importance_excludes_own_segment_and_ignores_positions() {
        let lens = [1usize, 2, 1];
        let r = region(&wavy_keys(1, 4, 4), &[0, 1, 3], &lens, &[0, 1, 2]);
        let q1 = [1.0, 0.0, 0.5, -0.5];
        let q2 = [0.0, 1.0, 0.0, 0.2];
        let mut out = [0.0; 3];
        segment_importance(
            &r.keys(false),
            [(1, &q1[..]), (1, &q2[..])].into_iter(),
            1,
            0,
            &mut out,
        );
        assert_eq!(out[1], f32::INFINITY);
        // Each query token's probabilities over segments 0 and 2 sum to one, and both have one token.
        assert!((out[0] + out[2] - 2.0).abs() < 1e-6);
    }

    /// The tasks tile the table, and each fills its entries as the documented layout says:
    /// a (row, head)'s or a (head, segment)'s entries equal the pass of that unit alone (for
    /// segments, the plain one-row-at-a-time form). Short segments share tasks.
    #[test]
    fn tasks_fill_the_table_in_its_documented_layout() {
        use crate::backend::CacheType;
        let (d, heads, kv_heads) = (8, 4, 2);
        let lens = [3usize, 1, 2, 9, 1, 1];
        let starts = [0usize, 3, 4, 6, 15, 16];
        let canonical = [1usize, 2, 0, 5, 3, 4];
        let (n, tokens) = (lens.len(), 17);
        let keys = wavy_keys(kv_heads, tokens, d);
        let mut src = vec![0.0f32; tokens * kv_heads * d];
        for (h, head) in keys.iter().enumerate() {
            for (u, k) in head.iter().enumerate() {
                src[(u * kv_heads + h) * d..][..d].copy_from_slice(k);
            }
        }
        let mut store = RegionStore::new(CacheType::F32);
        store.fill(&src, tokens, kv_heads, d);
        let geo = RegionGeometry {
            starts: &starts,
            lens: &lens,
            canonical: &canonical,
        };
        let r = region(&keys, &starts, &lens, &canonical);
        let q: Vec<f32> = (0..tokens * heads * d)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let q_row = |row: usize, h: usize| &q[(row * heads + h) * d..][..d];
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for rows in [ImportanceRows::Queries(2), ImportanceRows::Segments] {
            let mut table = vec![0.0; rows.table_len(heads, n)];
            check_request(tokens, kv_heads, heads, &geo, rows, table.len()).unwrap();
            let tasks = importance_tasks(rows, heads, kv_heads, &lens);
            if rows == ImportanceRows::Segments {
                assert_eq!(tasks.len(), heads * 2, "short segments share tasks");
            }
            let mut at = 0;
            for t in &tasks {
                let e = t.entries(heads, kv_heads, n);
                assert_eq!(e.start, at, "tasks tile the table in order");
                at = e.end;
                importance_task(&store, &q, heads, &geo, t, &mut table[e]);
            }
            assert_eq!(at, table.len());
            for h in 0..heads {
                for x in 0..rows.query_rows(n).min(n) {
                    let (got, want) = match rows {
                        ImportanceRows::Queries(_) => {
                            let mut want = vec![0.0; n];
                            query_importance(&r.keys(false), &[q_row(x, h)], h / 2, &mut want);
                            (&table[(x * heads + h) * n..][..n], want)
                        }
                        ImportanceRows::Segments => {
                            let own: Vec<Vec<f32>> = (starts[x]..starts[x] + lens[x])
                                .map(|u| q_row(u, h).to_vec())
                                .collect();
                            let want =
                                segment_importance_one_by_one(&r.keys(false), &own, x, h / 2);
                            (&table[(h * n + x) * n..][..n], want)
                        }
                    };
                    assert_eq!(bits(got), bits(&want), "{rows:?} head {h} unit {x}");
                }
            }
        }
    }

    #[test]
    fn bad_requests_are_refused_with_what_is_wrong() {
        let geo = |starts, lens, canonical| RegionGeometry {
            starts,
            lens,
            canonical,
        };
        let q = ImportanceRows::Queries(1);
        let ok = geo(&[0, 2], &[2, 3], &[1, 0]);
        assert!(check_request(5, 1, 2, &ok, q, 4).is_ok());
        let err = |g: &RegionGeometry<'_>, kv: usize, len: usize| {
            check_request(5, kv, 2, g, q, len).unwrap_err()
        };
        assert!(err(&geo(&[0, 3], &[2, 3], &[1, 0]), 1, 4).contains("outside"));
        assert!(err(&geo(&[0, 2], &[2, 0], &[1, 0]), 1, 4).contains("empty"));
        assert!(err(&geo(&[0, 2], &[2, 3], &[1, 1]), 1, 4).contains("permutation"));
        assert!(err(&geo(&[0, 2], &[2, 3], &[1]), 1, 4).contains("permutation"));
        assert!(err(&ok, 3, 4).contains("heads"));
        assert!(err(&ok, 1, 5).contains("4 expected"));
    }
}
