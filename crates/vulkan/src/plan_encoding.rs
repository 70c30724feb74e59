//! An [`AttentionPlan`] flattened into the three arrays the attention shader reads: per batch
//! row (position, own cache index), per (row, head) a slice of the range list, and the ranges
//! (first key, end key, causal, shift). Shared range lists are stored once per group.

use pine_backend::{AttentionPlan, HeadRanges, KeyRange};

/// The flattened plan.
#[derive(Debug, Default, PartialEq)]
pub struct EncodedPlan {
    /// `[position, own cache index]` per batch row.
    pub rows: Vec<[i32; 2]>,
    /// `[first range, count]` per (row, head), row-major.
    pub lists: Vec<[u32; 2]>,
    /// `[first key, end key, causal, shift]` per range.
    pub ranges: Vec<[i32; 4]>,
    /// Smallest and largest query rotation position (position + shift) used.
    pub positions: (i64, i64),
    /// Most keys any (row, head) can read (the attention shader's scratch per pair).
    pub max_keys: usize,
}

fn int(v: i64, what: &str) -> Result<i32, String> {
    i32::try_from(v).map_err(|_| format!("{what} {v} does not fit the GPU's 32-bit plan fields"))
}

impl EncodedPlan {
    /// Flattens `plan` for a batch of `n_rows` rows and `n_heads` query heads.
    pub fn new(plan: &AttentionPlan, n_rows: usize, n_heads: usize) -> Result<EncodedPlan, String> {
        let mut e = EncodedPlan {
            rows: vec![[0, 0]; n_rows],
            lists: vec![[0, 0]; n_rows * n_heads],
            ranges: Vec::new(),
            positions: (i64::MAX, i64::MIN),
            max_keys: 0,
        };
        for g in &plan.groups {
            let push = |list: &[KeyRange], e: &mut EncodedPlan| -> Result<[u32; 2], String> {
                let first = e.ranges.len() as u32;
                for r in list {
                    e.ranges.push([
                        int(r.keys.start as i64, "key index")?,
                        int(r.keys.end as i64, "key index")?,
                        r.causal as i32,
                        int(r.shift, "position shift")?,
                    ]);
                }
                Ok([first, list.len() as u32])
            };
            let per_head: Vec<[u32; 2]> = match &g.ranges {
                HeadRanges::Shared(list) => vec![push(list, &mut e)?; n_heads],
                HeadRanges::PerHead(lists) => lists
                    .iter()
                    .map(|l| push(l, &mut e))
                    .collect::<Result<_, _>>()?,
            };
            for (li, row) in g.rows.clone().enumerate() {
                let pos = g.positions[li];
                e.rows[row] = [
                    int(pos, "position")?,
                    int(g.cache_index[li] as i64, "cache index")?,
                ];
                e.lists[row * n_heads..(row + 1) * n_heads].copy_from_slice(&per_head);
                for h in 0..n_heads {
                    let mut keys = 0;
                    for r in g.ranges(h) {
                        e.positions.0 = e.positions.0.min(pos + r.shift);
                        e.positions.1 = e.positions.1.max(pos + r.shift);
                        keys += r.keys.len();
                    }
                    e.max_keys = e.max_keys.max(keys);
                }
            }
        }
        if e.positions.0 > e.positions.1 {
            e.positions = (0, 0);
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pine_backend::QueryGroup;

    #[test]
    fn shared_lists_are_stored_once_and_per_head_lists_each() {
        let causal = AttentionPlan::causal(3, 2);
        let e = EncodedPlan::new(&causal, 2, 4).unwrap();
        assert_eq!(e.ranges.len(), causal.groups.len());
        assert_eq!(e.rows, vec![[3, 3], [4, 4]]);
        assert!(e.lists.iter().all(|l| l[1] == 1));
        let per_head = AttentionPlan {
            groups: vec![QueryGroup {
                rows: 0..1,
                positions: vec![10],
                cache_index: vec![7],
                ranges: HeadRanges::PerHead(vec![
                    vec![
                        KeyRange::new(0..3, false),
                        KeyRange {
                            keys: 3..8,
                            causal: true,
                            shift: -2,
                        },
                    ],
                    vec![KeyRange {
                        keys: 0..8,
                        causal: true,
                        shift: 5,
                    }],
                ]),
            }],
        };
        let e = EncodedPlan::new(&per_head, 1, 2).unwrap();
        assert_eq!(e.lists, vec![[0, 2], [2, 1]]);
        assert_eq!(e.ranges[1], [3, 8, 1, -2]);
        assert_eq!(e.positions, (8, 15));
        assert_eq!(e.max_keys, 8);
    }
}
