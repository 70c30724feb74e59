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
