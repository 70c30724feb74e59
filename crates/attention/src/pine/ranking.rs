//! PINE's position re-assignment: segments sorted by importance (most important nearest the
//! query, the query's own segment last), ranks turned into shifts that tile `[P, P+S)`.

use std::cmp::Ordering;

/// Ranks segments for one query unit and head: returns segment indices from rank 0 (nearest the
/// query) outwards. `own` (a segment query's own segment) is always rank 0. `tie_key[j]` breaks
/// exact ties (smaller key = nearer), so the rule can be content-based or input-order.
pub fn rank(importance: &[f32], own: Option<usize>, tie_key: &[u64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..importance.len()).filter(|&j| Some(j) != own).collect();
    order.sort_by(|&a, &b| {
        importance[b]
            .partial_cmp(&importance[a])
            .unwrap_or(Ordering::Equal)
            .then(tie_key[a].cmp(&tie_key[b]))
    });
    if let Some(o) = own {
        order.insert(0, o);
    }
    order
}

/// Shifts from a ranking: `shift[j]` = total length of the segments ranked before j. A key m of
/// segment j then sits at `P + S − ℓ_j − shift[j] + m`.
pub fn shifts(order: &[usize], lens: &[usize]) -> Vec<i64> {
    let mut shift = vec![0i64; lens.len()];
    let mut acc = 0i64;
    for &j in order {
        shift[j] = acc;
        acc += lens[j] as i64;
    }
    shift
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's worked example (§1.4): P=5, ℓ=(5,3,7,2), suffix importance
    /// (0.30, 0.05, 0.50, 0.10) → S_3→[15,21], S_1→[10,14], S_4→[8,9], S_2→[5,7].
    #[test]
    fn worked_example_from_the_spec() {
        let lens = [5, 3, 7, 2];
        let order = rank(&[0.30, 0.05, 0.50, 0.10], None, &[0, 1, 2, 3]);
        assert_eq!(order, vec![2, 0, 3, 1]);
        let sh = shifts(&order, &lens);
        let (p, s) = (5i64, 17i64);
        let span = |j: usize| {
            let start = p + s - lens[j] as i64 - sh[j];
            (start, start + lens[j] as i64 - 1)
        };
        assert_eq!(span(2), (15, 21));
        assert_eq!(span(0), (10, 14));
        assert_eq!(span(3), (8, 9));
        assert_eq!(span(1), (5, 7));
    }

    /// Invariant I7: for any ranking, assigned positions tile [P, P+S), segments stay contiguous,
    /// the own segment is last and rank 0 is adjacent to the query.
    #[test]
    fn shifts_tile_the_region_for_every_ranking() {
        let lens = [3usize, 1, 4, 2];
        let (p, s) = (2i64, 10i64);
        let imps: [[f32; 4]; 4] = [
            [0.1, 0.4, 0.2, 0.3],
            [0.5, 0.5, 0.5, 0.5],
            [0.0, 1.0, 0.0, 2.0],
            [4.0, 3.0, 2.0, 1.0],
        ];
        for imp in imps {
            for own in [None, Some(0), Some(3)] {
                let order = rank(&imp, own, &[3, 2, 1, 0]);
                let sh = shifts(&order, &lens);
                let mut used = vec![false; s as usize];
                for j in 0..4 {
                    let start = p + s - lens[j] as i64 - sh[j];
                    for m in 0..lens[j] as i64 {
                        let slot = (start + m - p) as usize;
                        assert!(!used[slot], "overlap");
                        used[slot] = true;
                    }
                }
                assert!(used.iter().all(|&u| u));
                let first = order[0];
                assert_eq!(sh[first], 0, "rank 0 ends right before the query");
                if let Some(o) = own {
                    assert_eq!(first, o);
                }
            }
        }
    }

    #[test]
    fn ties_follow_the_tie_key() {
        assert_eq!(rank(&[1.0, 1.0, 1.0], None, &[5, 1, 3]), vec![1, 2, 0]);
    }
}
