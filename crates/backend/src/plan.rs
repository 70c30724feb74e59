//! Attention plans: what every attention mode (causal, PINE, anchor) hands the backends. A plan
//! is plain data (which cached keys each query row sees, at which relative positions), so one
//! attention kernel per backend runs every mode and the model code never changes.

use std::ops::Range;

/// A contiguous run of cached keys that a query row reads, scored as if shifted back by
/// `shift` positions. RoPE is a rotation, so scoring a key stored at canonical position p as if it
/// sat at `p - shift` equals rotating the query to `pos_q + shift` instead: cached keys are never
/// re-rotated.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyRange {
    /// Cache indices of the keys.
    pub keys: Range<usize>,
    /// When true, a query row only sees keys whose cache index is ≤ the row's own cache index.
    pub causal: bool,
    /// Position shift of these keys, applied by rotating the query.
    pub shift: i64,
}

impl KeyRange {
    /// A range read at stored positions.
    pub fn new(keys: Range<usize>, causal: bool) -> KeyRange {
        KeyRange {
            keys,
            causal,
            shift: 0,
        }
    }

    /// The keys a query row whose own key sits at cache index `own` may see.
    pub fn visible(&self, own: usize) -> Range<usize> {
        let end = if self.causal {
            self.keys.end.min(own + 1)
        } else {
            self.keys.end
        };
        self.keys.start..end.max(self.keys.start)
    }
}

/// The key ranges of a query group: one list for every head, or one list per query head (PINE
/// orders segments per head).
#[derive(Clone, Debug, PartialEq)]
pub enum HeadRanges {
    /// Every head reads the same ranges.
    Shared(Vec<KeyRange>),
    /// `lists[h]` are the ranges of query head h.
    PerHead(Vec<Vec<KeyRange>>),
}

/// Range lists of a KV head's query heads from their importance rows: `rank(heads, table)`
/// gets query heads `heads` (one KV head's, in order) and their rows of one decode row's
/// importance table (`heads.len()` rows of one entry per segment, as
/// [`crate::ImportanceRows::Queries`] lays them out) and returns each head's key ranges, in
/// head order.
pub type RankFn<'a> = dyn Fn(Range<usize>, &[f32]) -> Vec<Vec<KeyRange>> + Sync + 'a;

/// One decode row whose key ranges come from ranking segments by importance (PINE), for
/// [`crate::Backend::ranked_attention`].
pub struct RankedRow<'a> {
    /// The row's RoPE position.
    pub position: i64,
    /// The cache slot of the row's own key and value (already stored).
    pub slot: usize,
    /// Cache slots of the segment region; the row's own part is `region.end..=slot`.
    pub region: Range<usize>,
    /// The segments, as for [`crate::Backend::importance`].
    pub geo: crate::RegionGeometry<'a>,
    /// The ranking that turns importance into each head's key ranges.
    pub rank: &'a RankFn<'a>,
}

impl RankedRow<'_> {
    /// The one-group plan of this row with `lists` (one per query head).
    pub fn plan(&self, lists: Vec<Vec<KeyRange>>) -> AttentionPlan {
        AttentionPlan {
            groups: vec![QueryGroup {
                rows: 0..1,
                positions: vec![self.position],
                cache_index: vec![self.slot],
                ranges: HeadRanges::PerHead(lists),
            }],
        }
    }
}

/// Query rows of the current batch that share their key ranges.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryGroup {
    /// Rows of the current batch (indices into the batch's query matrix).
    pub rows: Range<usize>,
    /// Canonical RoPE position of each row's query (`len == rows.len()`).
    pub positions: Vec<i64>,
    /// Cache index where each row's own key/value was stored (`len == rows.len()`), the
    /// reference point of causal ranges.
    pub cache_index: Vec<usize>,
    /// Key ranges in the order their scores are reduced (by assigned position), which keeps the
    /// result independent of the raw cache order.
    pub ranges: HeadRanges,
}

impl QueryGroup {
    /// The ranges query head `h` reads, in reduction order.
    pub fn ranges(&self, h: usize) -> &[KeyRange] {
        match &self.ranges {
            HeadRanges::Shared(r) => r,
            HeadRanges::PerHead(lists) => &lists[h],
        }
    }

    /// The group's range lists: one shared by every head, or one per head.
    pub fn lists(&self) -> &[Vec<KeyRange>] {
        match &self.ranges {
            HeadRanges::Shared(r) => std::slice::from_ref(r),
            HeadRanges::PerHead(lists) => lists,
        }
    }
}

/// The attention of one layer for one batch of query rows.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct AttentionPlan {
    /// Groups covering every row of the batch exactly once.
    pub groups: Vec<QueryGroup>,
}

impl AttentionPlan {
    /// Ordinary causal attention for `n` new rows stored at cache indices `start..start + n`
    /// whose positions equal their cache indices.
    pub fn causal(start: usize, n: usize) -> AttentionPlan {
        AttentionPlan {
            groups: vec![QueryGroup {
                rows: 0..n,
                positions: (start..start + n).map(|p| p as i64).collect(),
                cache_index: (start..start + n).collect(),
                ranges: HeadRanges::Shared(vec![KeyRange::new(0..start + n, true)]),
            }],
        }
    }

    /// Checks that groups cover `0..n_rows` once, vectors have matching lengths, key ranges lie
    /// inside the `n_cached` stored keys and per-head lists have one entry per head.
    pub fn validate(&self, n_rows: usize, n_cached: usize, n_heads: usize) -> Result<(), String> {
        self.validate_rows(0..n_rows, n_cached, n_heads)
    }

    /// The rows the groups cover, from the first group's first to the last one's end (empty
    /// for an empty plan).
    pub fn rows(&self) -> Range<usize> {
        let start = self.groups.iter().map(|g| g.rows.start).min().unwrap_or(0);
        let end = self.groups.iter().map(|g| g.rows.end).max().unwrap_or(0);
        start..end.max(start)
    }

    /// The plan with each row's keys cut to its last `window` cache slots (`own + 1 − window
    /// ..= own`, `own` the row's cache index): how sliding-window layers (Gemma 2/3) attend, as
    /// llama.cpp masks them — by position, which causal plans store at the cache index. Rows
    /// whose keys all lie inside their window keep their group (so a plan that fits the window
    /// comes back unchanged, same bits); each other row gets a group of its own with its
    /// ranges cut. PINE and anchor plans reorder or shift keys, so a row of theirs that
    /// reaches past its window is refused rather than cut.
    pub fn windowed(self, window: usize) -> Result<AttentionPlan, String> {
        let mut groups = Vec::with_capacity(self.groups.len());
        for g in self.groups {
            let low = |i: usize| (g.cache_index[i] + 1).saturating_sub(window);
            let past = |i: usize| {
                g.lists().iter().flatten().any(|kr| {
                    let seen = kr.visible(g.cache_index[i]);
                    !seen.is_empty() && seen.start < low(i)
                })
            };
            let cut: Vec<bool> = (0..g.rows.len()).map(past).collect();
            if !cut.contains(&true) {
                groups.push(g);
                continue;
            }
            let HeadRanges::Shared(ranges) = &g.ranges else {
                return Err(format!(
                    "a sliding window of {window} tokens over per-head (PINE) ranges that \
                     reach past it: the prompt must fit the window"
                ));
            };
            if ranges.iter().any(|kr| kr.shift != 0) {
                return Err(format!(
                    "a sliding window of {window} tokens over shifted key ranges that reach \
                     past it: the prompt must fit the window"
                ));
            }
            // Runs of uncut rows keep the group's ranges; each cut row gets its own group.
            let mut i = 0;
            while i < cut.len() {
                let end = match cut[i] {
                    true => i + 1,
                    false => (i..cut.len()).find(|&j| cut[j]).unwrap_or(cut.len()),
                };
                let ranges = match cut[i] {
                    false => ranges.clone(),
                    true => ranges
                        .iter()
                        .filter_map(|kr| {
                            let start = kr.keys.start.max(low(i));
                            (start < kr.keys.end).then(|| KeyRange {
                                keys: start..kr.keys.end,
                                ..kr.clone()
                            })
                        })
                        .collect(),
                };
                groups.push(QueryGroup {
                    rows: g.rows.start + i..g.rows.start + end,
                    positions: g.positions[i..end].to_vec(),
                    cache_index: g.cache_index[i..end].to_vec(),
                    ranges: HeadRanges::Shared(ranges),
                });
                i = end;
            }
        }
        Ok(AttentionPlan { groups })
    }

    /// [`AttentionPlan::validate`] for a part of a batch's plan: its groups cover `rows` once
    /// (a planner may split a layer's plan into parts of consecutive rows, see
    /// [`crate::Backend::plan_budget`]).
    pub fn validate_rows(
        &self,
        rows: Range<usize>,
        n_cached: usize,
        n_heads: usize,
    ) -> Result<(), String> {
        let mut covered = vec![false; rows.len()];
        for (gi, g) in self.groups.iter().enumerate() {
            if g.rows.start < rows.start || g.rows.end > rows.end {
                return Err(format!(
                    "group {gi} rows {:?} exceed the batch rows {rows:?}",
                    g.rows
                ));
            }
            if g.positions.len() != g.rows.len() || g.cache_index.len() != g.rows.len() {
                return Err(format!(
                    "group {gi}: positions/cache_index lengths differ from rows"
                ));
            }
            for r in g.rows.clone() {
                if std::mem::replace(&mut covered[r - rows.start], true) {
                    return Err(format!("row {r} is in two groups"));
                }
            }
            if g.cache_index.iter().any(|&c| c >= n_cached) {
                return Err(format!("group {gi}: a row's cache index is past the cache"));
            }
            if let HeadRanges::PerHead(lists) = &g.ranges {
                if lists.len() != n_heads {
                    return Err(format!(
                        "group {gi}: range lists for {} heads, the model has {n_heads}",
                        lists.len()
                    ));
                }
            }
            let outside = |kr: &KeyRange| kr.keys.end > n_cached || kr.keys.start > kr.keys.end;
            for list in g.lists() {
                if let Some(kr) = list.iter().find(|kr| outside(kr)) {
                    return Err(format!(
                        "group {gi}: key range {:?} outside the {n_cached} cached keys",
                        kr.keys
                    ));
                }
            }
        }
        match covered.iter().position(|c| !c) {
            Some(r) => Err(format!("row {} is in no group", rows.start + r)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causal_plan_is_valid_and_reads_everything_before() {
        let p = AttentionPlan::causal(3, 4);
        p.validate(4, 7, 2).unwrap();
        assert_eq!(p.groups[0].ranges(1)[0].keys, 0..7);
        assert_eq!(p.groups[0].cache_index, vec![3, 4, 5, 6]);
    }

    /// The keys row `r` of a plan reads (the union over its ranges of what it sees).
    fn seen(p: &AttentionPlan, r: usize) -> Vec<usize> {
        let g = p.groups.iter().find(|g| g.rows.contains(&r)).unwrap();
        let own = g.cache_index[r - g.rows.start];
        g.ranges(0).iter().flat_map(|kr| kr.visible(own)).collect()
    }

    #[test]
    fn a_window_cuts_each_row_to_its_last_slots() {
        // 6 rows at cache slots 4..10 of a causal plan; a window of 3.
        let p = AttentionPlan::causal(4, 6).windowed(3).unwrap();
        p.validate(6, 10, 1).unwrap();
        for r in 0..6 {
            let own = 4 + r;
            assert_eq!(seen(&p, r), (own - 2..=own).collect::<Vec<_>>(), "row {r}");
        }
        // A plan inside its window comes back as it was.
        let fits = AttentionPlan::causal(0, 5);
        assert_eq!(fits.clone().windowed(5).unwrap(), fits);
        // Rows still inside the window share one group; the rest get one each.
        let p = AttentionPlan::causal(0, 6).windowed(4).unwrap();
        let rows: Vec<_> = p.groups.iter().map(|g| g.rows.clone()).collect();
        assert_eq!(rows, [0..4, 4..5, 5..6]);
    }

    #[test]
    fn a_window_refuses_shifted_or_per_head_ranges_that_reach_past_it() {
        let mut p = AttentionPlan::causal(0, 4);
        let mut shifted = p.groups[0].ranges(0).to_vec();
        shifted[0].shift = 2;
        p.groups[0].ranges = HeadRanges::Shared(shifted.clone());
        assert!(p.clone().windowed(2).unwrap_err().contains("shifted"));
        assert_eq!(p.clone().windowed(4).unwrap(), p);
        p.groups[0].ranges = HeadRanges::PerHead(vec![shifted.clone(), shifted]);
        assert!(p.windowed(3).unwrap_err().contains("per-head"));
    }

    #[test]
    fn validate_rejects_gaps_overlaps_and_bad_shifts() {
        let mut p = AttentionPlan::causal(0, 2);
        assert!(p.validate(3, 2, 1).unwrap_err().contains("row 2"));
        let r = p.groups[0].ranges(0).to_vec();
        p.groups[0].ranges = HeadRanges::PerHead(vec![r.clone(), r]);
        assert!(p.validate(2, 2, 1).unwrap_err().contains("heads"));
        let g = p.groups[0].clone();
        p.groups.push(g);
        assert!(p.validate(2, 2, 2).unwrap_err().contains("two groups"));
    }
}
