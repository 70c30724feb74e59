//! The CPU attention kernel: executes an [`AttentionPlan`] for one layer. Each (row, head) pair
//! rotates its pre-RoPE query once per distinct shift, scores the plan's key ranges in plan order,
//! takes one softmax over all of them and sums the values in the same order, so the result does
//! not depend on where keys sit in the cache.
//!
//! It computes like llama.cpp's x86 non-flash path, so logits follow llama.cpp's closely enough
//! that greedy text matches: with an f16 cache the query is rounded to f16 before the K·q product
//! and the probabilities before the ·V product; dots and value sums use tinyBLAS's 16-lane order,
//! the softmax ggml's `expf` and its chunked sum. The loops run as AVX-512 or AVX2 kernels
//! (`attention_avx512.rs`, `attention_x86.rs`) where the CPU has them, equal bit for bit to the
//! plain forms here; a batch of many rows scores most keys from a blocked copy of the layer's
//! keys (`batch_keys.rs`), with the same bits.

use std::ops::Range;
use std::sync::{Mutex, MutexGuard, OnceLock};

use half::f16;
use pine_pool::Pool;

use crate::backend::AttentionShape;
use crate::cpu::batch_keys::{self, BatchKeys};
use crate::cpu::kv_cache::{LayerCache, Store};
use crate::importance::{importance_task, ImportanceTask};
use crate::key_blocks::BLOCK;
use crate::math::{exp_in_place, softcap};
use crate::plan::{AttentionPlan, KeyRange, QueryGroup, RankedRow};

#[cfg(target_arch = "x86_64")]
use super::attention_avx512 as x512;
#[cfg(target_arch = "x86_64")]
use super::attention_x86 as x86;

/// Per-task buffers, reused across the (row, KV head) pairs one worker handles; the per-head
/// ones hold a KV head's query heads (at most [`MULTI`] at a time).
struct Scratch {
    /// Rotated queries, `head_dim` per head.
    q: Vec<f32>,
    scores: Vec<Vec<f32>>,
    /// Element offset in the cache of each scored key, in score order.
    at: Vec<usize>,
    /// `LANES` partial sums of each head's output, lane `l` taking keys `l, l+16, …` (tinyBLAS
    /// order).
    acc: Vec<Vec<f32>>,
    /// Scratch of [`shared_shifts`].
    by_start: Vec<u32>,
    /// Scratch of [`Heads::read_ahead`]: a row's key ranges in cache order.
    runs: Vec<Range<usize>>,
    /// A ranked row's importance rows of one KV head's query heads ([`attend_ranked`]).
    imp: Vec<f32>,
}

impl Scratch {
    /// Buffers for `per` heads of `hd` dimensions at a time, room for `keys` scores each.
    fn new(per: usize, hd: usize, keys: usize) -> Scratch {
        Scratch {
            q: vec![0.0; per * hd],
            scores: (0..per).map(|_| Vec::with_capacity(keys)).collect(),
            at: Vec::with_capacity(keys),
            by_start: Vec::new(),
            runs: Vec::new(),
            imp: Vec::new(),
            acc: vec![vec![0.0; LANES * hd]; per],
        }
    }
}

/// Query heads scored and summed together over the same keys (their KV head's), so each key's
/// widened elements serve several heads: as many as the AVX-512 registers hold.
const MULTI: usize = 3;

/// Lanes of llama.cpp's AVX-512 tinyBLAS accumulators, whose summation order this kernel
/// follows: the K·q dots, the softmax sum and the ·V sums all group terms by index mod 16.
const LANES: usize = 16;

/// Runs `plan` for queries `q` (`[rows, n_heads * head_dim]`, pre-RoPE) into `out`.
/// `keys` is the scratch where a batch of many rows gets its blocked keys.
pub(crate) fn attend(
    pool: &Pool,
    layer: &LayerCache,
    shape: &AttentionShape,
    q: &[f32],
    plan: &AttentionPlan,
    keys: &mut BatchKeys,
    out: &mut [f32],
) {
    let hd = shape.head_dim;
    let nh = shape.n_heads;
    let group_size = nh / shape.n_kv_heads;
    // The plan may be a part of the batch's (consecutive rows `rows`, see
    // `Backend::plan_budget`): only those rows are computed and written.
    let rows = plan.rows();
    let mut owner = vec![(0, 0); rows.len()];
    for (gi, g) in plan.groups.iter().enumerate() {
        for (li, r) in g.rows.clone().enumerate() {
            owner[r - rows.start] = (gi, li);
        }
    }
    let facts = Survey::of(plan);
    let scale = 1.0 / (hd as f32).sqrt();
    let n_kv = shape.n_kv_heads;
    let per = group_size.min(MULTI);
    let multi = multi_for(hd);
    // Parts as the tasks cut them: each KV head's heads from its first, `per` at a time.
    let part_starts: Vec<(usize, usize)> = (0..n_kv)
        .flat_map(|kvh| {
            (0..group_size)
                .step_by(per)
                .map(move |p| (kvh * group_size + p, per.min(group_size - p)))
        })
        .collect();
    // Per plan group and part of a KV head's query heads: the shifts by which heads that read
    // the same ranges in their own orders (PINE) can share the first head's order. Found by
    // the first task that runs the part, on the pool (linear in the group's ranges, which a
    // PINE segment batch of many short segments has as many of as keys); the tasks of a row
    // are its KV heads, so two threads seldom want the same part at once.
    let forms: Vec<OnceLock<Together>> = (0..plan.groups.len() * part_starts.len())
        .map(|_| OnceLock::new())
        .collect();
    let parts_per_kv = group_size.div_ceil(per);
    // A batch of many rows blocks every key it reads; a few rows that read keys at shifts
    // (PINE's decode steps) score the unshifting ranges' keys (the prefix and the segment
    // region, which no later batch rewrites) from the blocked copy the layer holds.
    let held_slots = facts.held_slots();
    let mut held = None;
    let blocked = if multi && owner.len() >= batch_keys::MIN_ROWS {
        keys.fill(
            pool,
            layer,
            n_kv,
            hd,
            facts.slots,
            &facts.run_starts(facts.slots),
        );
        Some(&*keys)
    } else if multi && held_slots > 0 {
        Some(held_copy(pool, layer, n_kv, hd, held_slots, &mut held))
    } else {
        None
    };
    let warm = multi && owner.len() == 1;
    let stream = warm && held_slots > 0;
    pool.chunks_mut_init(
        &mut out[rows.start * nh * hd..rows.end * nh * hd],
        group_size * hd,
        || Scratch::new(per, hd, facts.max_keys),
        |s, i, o| {
            let (row, kvh) = (rows.start + i / n_kv, i % n_kv);
            let (gi, li) = owner[i / n_kv];
            let g = &plan.groups[gi];
            let q_row = &q[row * nh * hd..][..nh * hd];
            let mut h = kvh * group_size;
            let job = Heads {
                layer,
                blocked,
                shape,
                g,
                li,
                kvh,
                scale,
                stream,
            };
            if warm {
                job.read_ahead(h, &mut s.runs);
            }
            for (pi, part) in o.chunks_mut(per * hd).enumerate() {
                let m = part.len() / hd;
                let at = kvh * parts_per_kv + pi;
                let form = forms[gi * part_starts.len() + at].get_or_init(|| {
                    let (h, m) = part_starts[at];
                    together_form(g, h, m, multi, &mut s.by_start)
                });
                job.run(form, h, m, q_row, s, part);
                h += m;
            }
        },
    );
}

/// [`crate::Backend::ranked_attention`] where the several-heads forms apply (`multi_for`),
/// for the pre-RoPE queries `q` (`[n_heads * head_dim]`) into `out` (as long). One task per KV
/// head scores the region's pre-RoPE keys for its query heads ([`importance_task`]), ranks them
/// (`row.rank`) and attends over the ranges, so the row takes one pass over the pool where
/// the importance table, the ranking (on the calling thread, the pool idle) and the attention
/// took three; the bits are those of the three steps. The row's prefix and segment keys come
/// from the layer's held blocked copy, as in [`attend`]. Errors: ranges for other than the
/// KV head's query heads, or past the cache's `n_cached` slots.
pub(crate) fn attend_ranked(
    pool: &Pool,
    layer: &LayerCache,
    shape: &AttentionShape,
    q: &[f32],
    row: &RankedRow<'_>,
    n_cached: usize,
    out: &mut [f32],
) -> Result<(), String> {
    let (hd, nh, n_kv) = (shape.head_dim, shape.n_heads, shape.n_kv_heads);
    let group = nh / n_kv;
    let per = group.min(MULTI);
    let n_seg = row.geo.lens.len();
    let held_slots = row.region.end;
    let mut held = None;
    let blocked = (held_slots > 0).then(|| held_copy(pool, layer, n_kv, hd, held_slots, &mut held));
    let scale = 1.0 / (hd as f32).sqrt();
    let failed = Mutex::new(None);
    pool.chunks_mut_init(
        &mut out[..nh * hd],
        group * hd,
        || Scratch::new(per, hd, row.slot + 1),
        |s, kvh, o| {
            let heads = kvh * group..(kvh + 1) * group;
            s.imp.clear();
            s.imp.resize(group * n_seg, 0.0);
            if n_seg > 0 {
                let task = ImportanceTask::Query {
                    row: 0,
                    kv_head: kvh,
                };
                importance_task(&layer.region, q, nh, &row.geo, &task, &mut s.imp);
            }
            let mine = (row.rank)(heads.clone(), &s.imp);
            let plan = match ranked_plan(row, heads.clone(), mine, nh, n_cached) {
                Ok(p) => p,
                Err(e) => {
                    *failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                    return;
                }
            };
            let g = &plan.groups[0];
            let job = Heads {
                layer,
                blocked,
                shape,
                g,
                li: 0,
                kvh,
                scale,
                stream: blocked.is_some(),
            };
            job.read_ahead(heads.start, &mut s.runs);
            let mut h = heads.start;
            for part in o.chunks_mut(per * hd) {
                let m = part.len() / hd;
                let form = together_form(g, h, m, true, &mut s.by_start);
                job.run(&form, h, m, q, s, part);
                h += m;
            }
        },
    );
    match failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The one-row plan of `row` with `mine`, the range lists of query heads `heads` (the other
/// heads' lists empty: the task that runs them builds its own), checked as
/// [`crate::Backend::attention`] checks a plan against the cache's `n_cached` slots.
fn ranked_plan(
    row: &RankedRow<'_>,
    heads: Range<usize>,
    mine: Vec<Vec<KeyRange>>,
    n_heads: usize,
    n_cached: usize,
) -> Result<AttentionPlan, String> {
    if mine.len() != heads.len() {
        return Err(format!(
            "ranked row: range lists for {} heads, not the {} of a KV head",
            mine.len(),
            heads.len()
        ));
    }
    let mut lists = vec![Vec::new(); n_heads];
    lists.splice(heads, mine);
    let plan = row.plan(lists);
    plan.validate_rows(0..1, n_cached, n_heads)?;
    Ok(plan)
}

/// The layer's held blocked copy of slots `0..slots` (`n_kv` heads of `hd`), filled on `pool`
/// unless it holds them already, and kept locked in `guard` while it is read. One run, the
/// plain layout: a block two ranges share is scored for each of them (see `Heads::stream`).
/// Runs from the ranges' starts, as a batch's copy has them, padded each segment's last block:
/// at 20 segments of ~23 keys, ~40 % more key bytes for a decode row to read from memory, and
/// 4–5 % slower in the model (SmolLM2 Q4_1, Zen 4).
fn held_copy<'a, 'g>(
    pool: &Pool,
    layer: &'g LayerCache,
    n_kv: usize,
    hd: usize,
    slots: usize,
    guard: &'a mut Option<MutexGuard<'g, BatchKeys>>,
) -> &'a BatchKeys {
    let h = guard.insert(layer.held.lock().unwrap_or_else(|e| e.into_inner()));
    if !h.holds(slots, &[0]) {
        h.fill(pool, layer, n_kv, hd, slots, &[0]);
    }
    h
}

/// What the kernel needs to know of a plan's ranges before it runs it, from one pass over
/// every list (a PINE segment batch has one per segment and head, of a range per segment).
pub(super) struct Survey {
    /// Scores per (row, head) at most.
    max_keys: usize,
    /// Slots a blocked copy of every key the plan reads must hold.
    slots: usize,
    /// Whether some range is read at a shift.
    shifted: bool,
    /// End of the last non-causal range.
    unshifting_end: usize,
    /// Bitset of the slots at which ranges start, slot 0 included.
    starts: Vec<u64>,
}

impl Survey {
    /// Surveys `plan`.
    pub(super) fn of(plan: &AttentionPlan) -> Survey {
        let mut f = Survey {
            max_keys: 0,
            slots: 0,
            shifted: false,
            unshifting_end: 0,
            starts: vec![1],
        };
        for list in plan.groups.iter().flat_map(|g| g.lists()) {
            let mut keys = 0;
            for r in list {
                keys += r.keys.len();
                f.slots = f.slots.max(r.keys.end);
                f.shifted |= r.shift != 0;
                if !r.causal {
                    f.unshifting_end = f.unshifting_end.max(r.keys.end);
                }
                let s = r.keys.start;
                if s / 64 >= f.starts.len() {
                    f.starts.resize(s / 64 + 1, 0);
                }
                f.starts[s / 64] |= 1 << (s % 64);
            }
            f.max_keys = f.max_keys.max(keys);
        }
        f
    }

    /// The slots whose blocked keys a plan of a few rows scores from the layer's held copy:
    /// up to the end of its last non-causal range when some range is read at a shift (PINE's
    /// suffix and decode rows: the prefix and the segments), else 0 (none).
    fn held_slots(&self) -> usize {
        match self.shifted {
            true => self.unshifting_end,
            false => 0,
        }
    }

    /// 0 and the slots below `slots` at which the plan's ranges start, sorted and unique: the
    /// runs of a blocked copy whose blocks the ranges fill from their first key.
    pub(super) fn run_starts(&self, slots: usize) -> Vec<usize> {
        let mut starts = Vec::new();
        for (w, &word) in self.starts.iter().enumerate() {
            let mut m = word;
            while m != 0 {
                let s = w * 64 + m.trailing_zeros() as usize;
                if s >= slots && s > 0 {
                    return starts;
                }
                starts.push(s);
                m &= m - 1;
            }
        }
        starts
    }
}

/// How a part of a KV head's query heads (`h..h + m`) runs in a plan group.
enum Together {
    /// Scored and summed together over the same ranges (always, unless PINE gave heads their
    /// own orders).
    Same,
    /// Together in head `h`'s order, each head at its own shifts (see [`shared_shifts`]).
    Shifted(Vec<Shifts>),
    /// One head at a time.
    Alone,
}

/// The form heads `h..h + m` of group `g` run in: together where the several-heads forms
/// apply (`multi`) and the heads read the same ranges, in the same order or not.
fn together_form(
    g: &QueryGroup,
    h: usize,
    m: usize,
    multi: bool,
    by_start: &mut Vec<u32>,
) -> Together {
    if m == 1 || !multi {
        return Together::Alone;
    }
    if (h + 1..h + m).all(|o| g.ranges(o) == g.ranges(h)) {
        return Together::Same;
    }
    shared_shifts(g, h, m, by_start).map_or(Together::Alone, Together::Shifted)
}

/// The shifts of up to [`MULTI`] heads for one range.
type Shifts = [i64; MULTI];

/// When query heads `h..h + m` read the same key ranges (same keys, same causality) in their
/// own orders and with their own shifts, as PINE plans do: for each range of head `h`'s order,
/// the shift each head reads it at. The heads can then be scored and summed together in head
/// `h`'s order; each head's order is a function of the segments, not of where they sit, so the
/// shared order keeps PINE's invariance, and each head keeps its positions. Linear in the
/// ranges: `by_start` (scratch, any contents) maps a range's first key to its index in the
/// other head's list, and each of those ranges must be matched exactly once.
fn shared_shifts(
    g: &QueryGroup,
    h: usize,
    m: usize,
    by_start: &mut Vec<u32>,
) -> Option<Vec<Shifts>> {
    let first = g.ranges(h);
    let mut out: Vec<Shifts> = first.iter().map(|r| [r.shift; MULTI]).collect();
    let mut matched = vec![false; first.len()];
    for k in 1..m {
        let other = g.ranges(h + k);
        if other.len() != first.len() {
            return None;
        }
        for (i, r) in other.iter().enumerate() {
            if by_start.len() <= r.keys.start {
                by_start.resize(r.keys.start + 1, 0);
            }
            by_start[r.keys.start] = i as u32;
        }
        matched.iter_mut().for_each(|x| *x = false);
        for (r, shifts) in first.iter().zip(&mut out) {
            let at = *by_start.get(r.keys.start)? as usize;
            let o = other.get(at)?;
            if o.keys != r.keys || o.causal != r.causal || std::mem::replace(&mut matched[at], true)
            {
                return None;
            }
            shifts[k] = o.shift;
        }
    }
    Some(out)
}

/// Whether the several-heads forms apply to heads of `hd` dimensions.
pub(super) fn multi_for(hd: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    return simd_for(hd) && crate::simd8::avx512();
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// One row's query heads of one KV head, with what they share.
struct Heads<'a> {
    layer: &'a LayerCache,
    /// The layer's keys in blocks, for a batch of many rows.
    blocked: Option<&'a BatchKeys>,
    shape: &'a AttentionShape,
    g: &'a QueryGroup,
    li: usize,
    kvh: usize,
    scale: f32,
    /// A decode row that reads keys at shifts (PINE): the region's keys come from the held
    /// copy only, from blocks even where a range wants a few of a block's keys (a block two
    /// ranges share is scored for each), so that its reads are the held copy and the values
    /// (see [`Heads::read_ahead`]).
    stream: bool,
}

impl Heads<'_> {
    /// Heads `h..h + m` (a part of the KV head's) into `out`, in `form`.
    fn run(
        &self,
        form: &Together,
        h: usize,
        m: usize,
        q_row: &[f32],
        s: &mut Scratch,
        out: &mut [f32],
    ) {
        match form {
            Together::Same => self.together(h, m, None, q_row, s, out),
            Together::Shifted(shifts) => self.together(h, m, Some(shifts), q_row, s, out),
            Together::Alone => {
                let hd = self.shape.head_dim;
                for (k, out) in out.chunks_mut(hd).enumerate() {
                    self.together(h + k, 1, None, q_row, s, out);
                }
            }
        }
    }

    /// Heads `h0..h0 + m` (`1 ≤ m ≤ MULTI`; several only where `multi_for`) over head `h0`'s
    /// ranges: each head's query rotated once per distinct shift, the ranges' keys scored in
    /// plan order, one softmax over all of them and the values summed in the same order. With
    /// the same ranges (`shifts` `None`) every head's bits are those it gets alone; with
    /// `shifts` (see [`shared_shifts`]) each head reads range `i` at `shifts[i][k]`, and its
    /// sums run in head `h0`'s order.
    fn together(
        &self,
        h0: usize,
        m: usize,
        shifts: Option<&[Shifts]>,
        q_row: &[f32],
        s: &mut Scratch,
        out: &mut [f32],
    ) {
        let hd = self.shape.head_dim;
        let base = self.layer.at(0, self.kvh);
        let pos = self.g.positions[self.li];
        let own = self.g.cache_index[self.li];
        let f16 = matches!(self.layer.k, Store::F16(_));
        s.at.clear();
        s.scores.iter_mut().for_each(Vec::clear);
        let mut rotated_for = [None; MULTI];
        let ranges = self.g.ranges(h0);
        for (i, range) in ranges.iter().enumerate() {
            let keys = range.visible(own);
            if keys.is_empty() {
                continue;
            }
            // The rotations of the next range (PINE: other shifts) read table rows far apart:
            // fetched while this range is scored.
            if let Some(next) = ranges.get(i + 1) {
                for k in 0..m {
                    let shift = shifts.map_or(next.shift, |t| t[i + 1][k]);
                    if shift != shifts.map_or(range.shift, |t| t[i][k]) {
                        self.shape.rope.prefetch(pos + shift);
                    }
                }
            }
            for (k, qk) in s.q.chunks_mut(hd).take(m).enumerate() {
                let shift = shifts.map_or(range.shift, |t| t[i][k]);
                if rotated_for[k] != Some(shift) {
                    let src = &q_row[(h0 + k) * hd..][..hd];
                    self.shape.rope.rotate_into(src, qk, pos + shift, f16);
                    rotated_for[k] = Some(shift);
                }
            }
            let from = s.at.len();
            s.at.extend(keys.clone().map(|j| base + j * hd));
            let (qs, scores) = (&s.q[..m * hd], &mut s.scores[..m]);
            let at = &s.at[from..];
            self.score_keys(keys.clone(), at, qs, scores);
        }
        for sc in &mut s.scores[..m] {
            if let Some(cap) = self.shape.logit_softcap {
                let inv = 1.0 / cap;
                sc.iter_mut().for_each(|x| *x = softcap(*x, inv, cap));
            }
            softmax(sc, f16);
        }
        value_sum_multi(&self.layer.v, &s.scores[..m], &s.at, &mut s.acc[..m], out);
    }

    /// Appends the scores of slots `keys` (element offsets `at` in the cache) for the queries
    /// `qs`: from the blocked copy where it holds them, block by block, the keys of a block
    /// from it when enough of them are wanted ([`PARTIAL_MIN`]; any number when streaming),
    /// else one by one; either way in key order and with the same bits.
    fn score_keys(&self, keys: Range<usize>, at: &[usize], qs: &[f32], scores: &mut [Vec<f32>]) {
        let k = &self.layer.k;
        let partial_min = if self.stream { 1 } else { PARTIAL_MIN };
        let b = match self.blocked {
            Some(b) if keys.len() >= partial_min => b,
            _ => return score_multi(k, qs, at, self.scale, scores),
        };
        let mut j = keys.start;
        let mut lane = None;
        while j < keys.end {
            if j >= b.slots() {
                score_multi(k, qs, &at[j - keys.start..], self.scale, scores);
                break;
            }
            let l = match lane {
                Some(l) => l,
                None => b.lane(j),
            };
            lane = l.next();
            let end = keys.end.min(j + l.left);
            if end - j >= partial_min {
                let lanes = l.lane..l.lane + (end - j);
                score_block(b, self.kvh, qs, l.block, lanes, self.scale, scores);
            } else {
                let part = &at[j - keys.start..end - keys.start];
                score_multi(k, qs, part, self.scale, scores);
            }
            j = end;
        }
    }

    /// For a decode row, before its heads score: reads every cache line of the keys (the
    /// held copy's blocks where it reads them there) and values of head `h`'s ranges (the
    /// keys of every head of the KV head), one element each, once for all its heads. The row's
    /// data comes from memory (the weights streamed since the last token evicted it), and
    /// those independent loads keep many lines in flight, where the scoring pass, two lines
    /// per key with a dot product of three heads between, waits on each in turn; software
    /// prefetches, in chunks ahead of the scoring or all at once, did not help. In the model
    /// on Zen 5 (SmolLM2 Q4_1 at 512 tokens, two threads): the causal decode row 37–45 →
    /// 27–35 µs per layer, 1B shape Q4_K_M 141 → 110 µs; PINE at 20 segments 5.63 → 5.17 ms
    /// per token against prefetching two blocks ahead. Hot in cache the reads cost about a
    /// tenth.
    ///
    /// The ranges are read in cache order, joined where they touch (`runs`: scratch), all the
    /// keys and then all the values: two streams the hardware prefetchers follow. In plan
    /// order (PINE: the segments in the head's ranking) the row's reads jump between 40 short
    /// runs, and the PINE decode row took 61 µs per layer against 52 µs in cache order
    /// (causal: 44 µs; SmolLM2 Q4_1, 20 segments, two threads, Zen 4, alternated per token).
    fn read_ahead(&self, h: usize, runs: &mut Vec<Range<usize>>) {
        let hd = self.shape.head_dim;
        let own = self.g.cache_index[self.li];
        runs.clear();
        runs.extend(self.g.ranges(h).iter().map(|r| r.visible(own)));
        runs.retain(|k| !k.is_empty());
        runs.sort_unstable_by_key(|k| k.start);
        runs.dedup_by(|next, run| {
            let touch = next.start <= run.end;
            if touch {
                run.end = run.end.max(next.end);
            }
            touch
        });
        let keys = runs
            .iter()
            .fold(0, |acc, k| acc ^ self.read_keys(k.clone()));
        let lines = runs.iter().fold(keys, |acc, k| {
            let (at, n) = (self.layer.at(k.start, self.kvh), k.len() * hd);
            acc ^ read_lines(&self.layer.v, at, n)
        });
        std::hint::black_box(lines);
    }

    /// [`read_lines`] of the keys of slots `keys` of this KV head, from the blocked copy where
    /// it holds them (whole blocks).
    fn read_keys(&self, keys: Range<usize>) -> u32 {
        if keys.is_empty() {
            return 0;
        }
        let hd = self.shape.head_dim;
        let mut j = keys.start;
        let mut lines = 0;
        if let Some(b) = self.blocked.filter(|b| j < b.slots()) {
            let last = keys.end.min(b.slots()) - 1;
            let (first, last) = (b.lane(j).block, b.lane(last).block);
            let at = b.block_at(self.kvh, first);
            lines ^= read_lines(b.keys(), at, (last + 1 - first) * BLOCK * hd);
            j = keys.end.min(b.slots());
        }
        if j < keys.end {
            lines ^= read_lines(
                &self.layer.k,
                self.layer.at(j, self.kvh),
                (keys.end - j) * hd,
            );
        }
        lines
    }
}

/// Reads one element of each cache line that elements `at..at + n` of `store` touch: one
/// every 64 bytes from `at` and the last (the run need not start on a line), their bits folded
/// together so that the reads are not dropped.
fn read_lines(store: &Store, at: usize, n: usize) -> u32 {
    fn fold<T: Copy>(part: &[T], step: usize, bits: impl Fn(T) -> u32) -> u32 {
        let last = part.last().map_or(0, |&x| bits(x));
        part.iter()
            .step_by(step)
            .fold(last, |acc, &x| acc ^ bits(x))
    }
    match store {
        Store::F16(d) => fold(&d[at..at + n], 32, |x| x.to_bits() as u32),
        Store::F32(d) => fold(&d[at..at + n], 16, f32::to_bits),
    }
}

/// [`score`] for the `qs.len() / hd` queries in `qs` (several only where `multi_for`).
pub(super) fn score_multi(k: &Store, qs: &[f32], at: &[usize], scale: f32, out: &mut [Vec<f32>]) {
    if let [one] = out {
        return score(k, qs, at, scale, one);
    }
    let m = out.len();
    let hd = qs.len() / m;
    let len = k.len();
    assert!(multi_for(hd) && at.iter().all(|&a| a + hd <= len));
    #[cfg(target_arch = "x86_64")]
    {
        let q2 = || -> [&[f32]; 2] { std::array::from_fn(|i| &qs[i * hd..][..hd]) };
        let q3 = || -> [&[f32]; 3] { std::array::from_fn(|i| &qs[i * hd..][..hd]) };
        // SAFETY: `multi_for` checked the features and hd % 16 == 0; the keys lie inside `k`.
        unsafe {
            match (out, k) {
                ([a, b], Store::F16(k)) => x512::score_multi(q2(), k, at, scale, [a, b]),
                ([a, b], Store::F32(k)) => x512::score_multi(q2(), k, at, scale, [a, b]),
                ([a, b, c], Store::F16(k)) => x512::score_multi(q3(), k, at, scale, [a, b, c]),
                ([a, b, c], Store::F32(k)) => x512::score_multi(q3(), k, at, scale, [a, b, c]),
                _ => unreachable!("2 or 3 heads at a time"),
            }
        }
    }
}

/// Keys of one 16-slot block wanted by a range from which the block is scored whole (16 scores
/// per query) rather than key by key: a block costs about as much as 11 or 12 single keys.
const PARTIAL_MIN: usize = 12;

/// Appends the scores of slots `lanes` of block `blk` of KV head `kvh`'s blocked keys for the
/// `out.len()` queries in `qs` (only where `multi_for`): the same bits as [`score_multi`].
fn score_block(
    keys: &BatchKeys,
    kvh: usize,
    qs: &[f32],
    blk: usize,
    lanes: Range<usize>,
    scale: f32,
    out: &mut [Vec<f32>],
) {
    let m = out.len();
    let hd = qs.len() / m;
    assert!(multi_for(hd) && (1..=MULTI).contains(&m) && lanes.end <= BLOCK);
    let at = keys.block_at(kvh, blk);
    assert!(at + BLOCK * hd <= keys.keys().len());
    #[cfg(target_arch = "x86_64")]
    {
        let mut s = [[0.0f32; BLOCK]; MULTI];
        let q = |i: usize| &qs[i.min(m - 1) * hd..][..hd];
        // SAFETY: `multi_for` checked the features and hd % 16 == 0; the block's 16 · hd
        // elements lie inside the keys (asserted).
        unsafe {
            match keys.keys() {
                Store::F16(k) => blocks_m(q, k.as_ptr().add(at), scale, m, &mut s),
                Store::F32(k) => blocks_m(q, k.as_ptr().add(at), scale, m, &mut s),
            }
        }
        for (o, s) in out.iter_mut().zip(&s) {
            o.extend_from_slice(&s[lanes.clone()]);
        }
    }
}

/// [`x512::block16`] for `m` (1 to [`MULTI`]) queries `q(0..m)`.
///
/// # Safety
/// As [`x512::block16`].
#[cfg(target_arch = "x86_64")]
unsafe fn blocks_m<'a, T: x512::Wide16>(
    q: impl Fn(usize) -> &'a [f32],
    blk: *const T,
    scale: f32,
    m: usize,
    s: &mut [[f32; BLOCK]; MULTI],
) {
    // SAFETY: the caller's contract.
    unsafe {
        match m {
            1 => x512::block16([q(0)], blk, scale, (&mut s[..1]).try_into().expect("one")),
            2 => x512::block16(
                [q(0), q(1)],
                blk,
                scale,
                (&mut s[..2]).try_into().expect("two"),
            ),
            _ => x512::block16([q(0), q(1), q(2)], blk, scale, s),
        }
    }
}

/// [`value_sum`] for the probability rows `p` into `out` (`p.len()` heads of `out.len() /
/// p.len()` dimensions; several only where `multi_for`).
pub(super) fn value_sum_multi(
    v: &Store,
    p: &[Vec<f32>],
    at: &[usize],
    acc: &mut [Vec<f32>],
    out: &mut [f32],
) {
    if let ([one], [acc]) = (p, &mut *acc) {
        return value_sum(v, one, at, acc, out);
    }
    let m = p.len();
    let hd = out.len() / m;
    let len = v.len();
    assert!(multi_for(hd) && p.iter().all(|pk| pk.len() == at.len()));
    assert!(acc.len() == m && acc.iter().all(|a| a.len() >= LANES * hd));
    assert!(at.iter().all(|&a| a + hd <= len));
    #[cfg(target_arch = "x86_64")]
    {
        let p2 = || -> [&[f32]; 2] { std::array::from_fn(|i| &p[i][..]) };
        let p3 = || -> [&[f32]; 3] { std::array::from_fn(|i| &p[i][..]) };
        // SAFETY: `multi_for` checked the features; the lengths were checked just above.
        unsafe {
            match (acc, v) {
                ([a, b], Store::F16(v)) => x512::value_sum_multi(p2(), at, v, [a, b], out),
                ([a, b], Store::F32(v)) => x512::value_sum_multi(p2(), at, v, [a, b], out),
                ([a, b, c], Store::F16(v)) => x512::value_sum_multi(p3(), at, v, [a, b, c], out),
                ([a, b, c], Store::F32(v)) => x512::value_sum_multi(p3(), at, v, [a, b, c], out),
                _ => unreachable!("2 or 3 heads at a time"),
            }
        }
    }
}

/// The softmax of one head's scores as llama.cpp computes it, in place: minus the maximum,
/// ggml's `expf`, the sum per 16-wide chunk (tree-reduced, chunks added in f64), times the
/// inverse; then rounded to f16 when the cache is f16.
pub(super) fn softmax(scores: &mut [f32], f16: bool) {
    let max = max(scores);
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::avx512() {
        // SAFETY: AVX-512 F (and AVX2) were detected.
        unsafe {
            x512::sub_max(scores, max);
            exp_in_place(scores);
            x512::normalize(scores);
        }
        if f16 {
            round_f16(scores);
        }
        return;
    }
    softmax_plain(scores, max, f16);
}

/// [`softmax`] past the maximum `max`, one element at a time: the definition the AVX-512 form
/// is tested against.
pub(super) fn softmax_plain(scores: &mut [f32], max: f32, f16: bool) {
    scores.iter_mut().for_each(|x| *x -= max);
    exp_in_place(scores);
    let mut sum = 0.0f64;
    for chunk in scores.chunks(LANES) {
        let mut lanes = [0.0f32; LANES];
        lanes[..chunk.len()].copy_from_slice(chunk);
        sum += reduce16(&lanes) as f64;
    }
    let inv = (1.0 / sum) as f32;
    scores.iter_mut().for_each(|x| *x *= inv);
    if f16 {
        round_f16(scores);
    }
}

/// Whether the AVX2 forms apply to heads of `hd` dimensions.
fn simd_for(hd: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    return hd.is_multiple_of(LANES) && crate::simd8::available();
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// Appends `scale · q·k` for the keys at element offsets `at` of `k`, tinyBLAS's dot order.
pub(super) fn score(k: &Store, q: &[f32], at: &[usize], scale: f32, out: &mut Vec<f32>) {
    let len = k.len();
    assert!(at.iter().all(|&a| a + q.len() <= len));
    #[cfg(target_arch = "x86_64")]
    if simd_for(q.len()) {
        // SAFETY: the features were detected, q.len() % 16 == 0 and the keys lie inside `k`.
        return unsafe {
            match (crate::simd8::avx512(), k) {
                (true, Store::F16(k)) => x512::score_multi([q], k, at, scale, [out]),
                (true, Store::F32(k)) => x512::score_multi([q], k, at, scale, [out]),
                (false, Store::F16(k)) => x86::score(q, k, at, scale, out),
                (false, Store::F32(k)) => x86::score(q, k, at, scale, out),
            }
        };
    }
    score_scalar(k, q, at, scale, out);
}

/// The plain form of [`score`], one dot at a time.
pub(super) fn score_scalar(k: &Store, q: &[f32], at: &[usize], scale: f32, out: &mut Vec<f32>) {
    for &a in at {
        let d = match k {
            Store::F32(k) => dot_generic(q, |i| k[a + i]),
            Store::F16(k) => dot_generic(q, |i| k[a + i].to_f32()),
        };
        out.push(d * scale);
    }
}

/// `Σ a·b` as tinyBLAS computes it: lane `l` fuses the products `l, l+16, …` in order, then the
/// lanes are tree-reduced; any tail (dims not a multiple of 16) is added last, fused in order.
fn dot_generic(a: &[f32], b: impl Fn(usize) -> f32) -> f32 {
    let n = a.len();
    let main = n - n % LANES;
    let mut acc = [0.0f32; LANES];
    for i in (0..main).step_by(LANES) {
        for (l, s) in acc.iter_mut().enumerate() {
            *s = a[i + l].mul_add(b(i + l), *s);
        }
    }
    (main..n).fold(reduce16(&acc), |s, i| a[i].mul_add(b(i), s))
}

/// `out = Σ_k p[k] · v[at[k]..]` in tinyBLAS's order (lane `k mod 16` fuses key k's terms,
/// then the lanes are tree-reduced); `acc` holds `16 * out.len()` lane sums.
pub(super) fn value_sum(v: &Store, p: &[f32], at: &[usize], acc: &mut [f32], out: &mut [f32]) {
    let len = v.len();
    let hd = out.len();
    assert!(p.len() == at.len() && acc.len() >= LANES * hd);
    assert!(at.iter().all(|&a| a + hd <= len));
    #[cfg(target_arch = "x86_64")]
    if simd_for(hd) {
        // SAFETY: the features were detected and the lengths checked just above.
        return unsafe {
            match (crate::simd8::avx512(), v) {
                (true, Store::F16(v)) => x512::value_sum_multi([p], at, v, [acc], out),
                (true, Store::F32(v)) => x512::value_sum_multi([p], at, v, [acc], out),
                (false, Store::F16(v)) => x86::value_sum(p, at, v, acc, out),
                (false, Store::F32(v)) => x86::value_sum(p, at, v, acc, out),
            }
        };
    }
    value_sum_scalar(v, p, at, acc, out);
}

/// The plain form of [`value_sum`], one key at a time.
pub(super) fn value_sum_scalar(
    v: &Store,
    p: &[f32],
    at: &[usize],
    acc: &mut [f32],
    out: &mut [f32],
) {
    let hd = out.len();
    acc.iter_mut().for_each(|a| *a = 0.0);
    for (k, (&p, &a)) in p.iter().zip(at).enumerate() {
        let lane = &mut acc[(k % LANES) * hd..][..hd];
        match v {
            Store::F32(v) => {
                for (x, &y) in lane.iter_mut().zip(&v[a..a + hd]) {
                    *x = p.mul_add(y, *x);
                }
            }
            Store::F16(v) => {
                for (x, y) in lane.iter_mut().zip(&v[a..a + hd]) {
                    *x = p.mul_add(y.to_f32(), *x);
                }
            }
        }
    }
    for (d, o) in out.iter_mut().enumerate() {
        let lanes: [f32; LANES] = std::array::from_fn(|l| acc[l * hd + d]);
        *o = reduce16(&lanes);
    }
}

/// `_mm512_reduce_add_ps`'s tree over 16 lanes: halves, quarters, then pairs.
fn reduce16(v: &[f32; LANES]) -> f32 {
    let t3: [f32; 8] = std::array::from_fn(|i| v[i + 8] + v[i]);
    let t6: [f32; 4] = std::array::from_fn(|i| t3[i + 4] + t3[i]);
    (t6[0] + t6[2]) + (t6[1] + t6[3])
}

/// Every element rounded to f16 and back (round to nearest even, like `half` and F16C).
pub(super) fn round_f16(xs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::available() {
        // SAFETY: the features were detected.
        return unsafe { x86::round_f16(xs) };
    }
    round_f16_scalar(xs);
}

/// The plain form of [`round_f16`].
pub(super) fn round_f16_scalar(xs: &mut [f32]) {
    xs.iter_mut().for_each(|x| *x = f16::from_f32(*x).to_f32());
}

/// The largest score (−∞ for none). Which of +0 and −0 a tie between them yields may differ
/// from [`max_scalar`]; the softmax subtracts the maximum, and `x − (+0)` and `x − (−0)` differ
/// only for x = −0, where both exponentials are exactly 1, so the results never do.
pub(super) fn max(xs: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::avx512() {
        // SAFETY: AVX-512 F was detected.
        return unsafe { x512::max(xs) };
    }
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::available() {
        // SAFETY: the features were detected.
        return unsafe { x86::max(xs) };
    }
    max_scalar(xs)
}

/// The plain form of [`max`].
pub(super) fn max_scalar(xs: &[f32]) -> f32 {
    xs.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}
