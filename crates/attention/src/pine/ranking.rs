//! PINE's position re-assignment: segments sorted by importance (most important nearest the
//! query, the query's own segment last), ranks turned into shifts that tile `[P, P+S)`.
//!
//! A layout of n segments is ranked n times per head and layer for its segment batch, so the
//! ranking is on the hot path of many-segment prompts: [`Ranker`] sorts one packed integer per
//! segment (importance, then tie rank) with no allocation, and gives the order of the plain
//! definition [`rank`].

/// Sort key of an importance: ascending order of the key is descending importance. −0 and +0
/// are one value (so their tie goes to the tie key, as `partial_cmp` has it), and NaN, which
/// has no place in a descending order, ranks after every number (least important).
fn importance_key(x: f32) -> u32 {
    if x.is_nan() {
        return u32::MAX;
    }
    let x = if x == 0.0 { 0.0 } else { x };
    let b = x.to_bits();
    // Ascending bits of a total order on the floats, then flipped for descending importance.
    let ascending = if b >> 31 == 1 { !b } else { b | 1 << 31 };
    !ascending
}

/// Ranks segments for one query unit and head: returns segment indices from rank 0 (nearest the
/// query) outwards. `own` (a segment query's own segment) is always rank 0. The others go by
/// descending importance; exact ties by `tie_key[j]` (smaller key = nearer), so the rule can be
/// content-based or input-order, then by index. NaN importance ranks last.
///
/// The plain definition: [`Ranker::rank`] gives the same order faster, and is tested against it.
pub fn rank(importance: &[f32], own: Option<usize>, tie_key: &[u64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..importance.len()).filter(|&j| Some(j) != own).collect();
    order.sort_by_key(|&j| (importance_key(importance[j]), tie_key[j]));
    if let Some(o) = own {
        order.insert(0, o);
    }
    order
}

/// [`rank`] for many query units of one layout: the tie keys turned once into dense tie ranks,
/// then per ranking, in reused scratch, one `u64` per segment (importance key above, tie rank
/// below) sorted as plain integers, or for many segments a stable radix sort of the importance
/// keys taken in tie order (linear, where a comparison sort of each of n segments' rankings
/// made the segment batch's plans grow as n² log n).
#[derive(Clone, Debug, Default)]
pub struct Ranker {
    /// Tie rank of each segment: its place when sorted by (tie key, index).
    tie: Vec<u32>,
    /// The segment of each tie rank.
    by_tie: Vec<u32>,
    keys: Vec<u64>,
    /// (importance key, segment) pairs of the radix sort and its second buffer.
    pairs: Vec<(u32, u32)>,
    spare: Vec<(u32, u32)>,
}

/// Segments from which a ranking is radix-sorted.
const RADIX_MIN: usize = 64;

/// Sorts `pairs` by their first element, stably, through `spare`: four passes of eight bits
/// from the lowest, a pass skipped where every key has the same digit.
fn radix_sort(pairs: &mut Vec<(u32, u32)>, spare: &mut Vec<(u32, u32)>) {
    let mut counts = [[0usize; 256]; 4];
    for &(k, _) in pairs.iter() {
        for (d, c) in counts.iter_mut().enumerate() {
            c[(k >> (8 * d)) as usize & 255] += 1;
        }
    }
    let n = pairs.len();
    spare.resize(n, (0, 0));
    for (d, c) in counts.iter_mut().enumerate() {
        if c.contains(&n) {
            continue;
        }
        let mut at = 0;
        for x in c.iter_mut() {
            (*x, at) = (at, at + *x);
        }
        for &p in pairs.iter() {
            let digit = (p.0 >> (8 * d)) as usize & 255;
            spare[c[digit]] = p;
            c[digit] += 1;
        }
        std::mem::swap(pairs, spare);
    }
}

impl Ranker {
    /// A ranker for segments whose ties are broken by `tie_key`.
    pub fn new(tie_key: &[u64]) -> Ranker {
        let mut by_tie: Vec<u32> = (0..tie_key.len() as u32).collect();
        by_tie.sort_by_key(|&j| (tie_key[j as usize], j));
        let mut tie = vec![0u32; tie_key.len()];
        for (t, &j) in by_tie.iter().enumerate() {
            tie[j as usize] = t as u32;
        }
        Ranker {
            tie,
            by_tie,
            ..Ranker::default()
        }
    }

    /// Segments this ranker ranks.
    pub fn len(&self) -> usize {
        self.tie.len()
    }

    /// Whether there are no segments.
    pub fn is_empty(&self) -> bool {
        self.tie.is_empty()
    }

    /// [`rank`] of `importance` (one entry per segment) into `order` (cleared first).
    pub fn rank(&mut self, importance: &[f32], own: Option<usize>, order: &mut Vec<usize>) {
        assert_eq!(
            importance.len(),
            self.tie.len(),
            "one importance per segment"
        );
        if importance.len() >= RADIX_MIN {
            let others = self.by_tie.iter().filter(|&&j| Some(j as usize) != own);
            self.pairs.clear();
            self.pairs
                .extend(others.map(|&j| (importance_key(importance[j as usize]), j)));
            radix_sort(&mut self.pairs, &mut self.spare);
            order.clear();
            order.extend(own);
            order.extend(self.pairs.iter().map(|&(_, j)| j as usize));
            return;
        }
        self.keys.clear();
        self.keys.extend(
            importance
                .iter()
                .zip(&self.tie)
                .enumerate()
                .filter(|&(j, _)| Some(j) != own)
                .map(|(_, (&x, &t))| (importance_key(x) as u64) << 32 | t as u64),
        );
        self.keys.sort_unstable();
        order.clear();
        order.extend(own);
        order.extend(
            self.keys
                .iter()
                .map(|&k| self.by_tie[k as u32 as usize] as usize),
        );
    }
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

    #[test]
    fn signed_zeros_tie_and_nan_ranks_last() {
        assert_eq!(rank(&[-0.0, 0.0, 0.0], None, &[2, 0, 1]), vec![1, 2, 0]);
        let order = rank(&[f32::NAN, 1.0, f32::INFINITY, -1.0], None, &[0, 1, 2, 3]);
        assert_eq!(order, vec![2, 1, 3, 0]);
    }

    /// The packed-integer ranker gives the plain definition's order: random importances with
    /// many exact ties, signed zeros, infinities and NaN, with and without an own segment,
    /// under content-like tie keys and under duplicate tie keys (index order decides).
    #[test]
    fn ranker_equals_the_plain_ranking() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let special = [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 1e-40];
        let mut order = Vec::new();
        for n in [1usize, 2, 3, 7, 16, 33, 200, 1000] {
            for round in 0..6 {
                let tie_key: Vec<u64> = match round % 3 {
                    0 => (0..n as u64).collect(),
                    1 => (0..n).map(|_| next() % (n as u64 * 4)).collect(),
                    _ => (0..n).map(|_| next() % 3).collect(),
                };
                let imp: Vec<f32> = (0..n)
                    .map(|_| match next() % 8 {
                        0 => special[(next() % 6) as usize],
                        1..=3 => (next() % 4) as f32 * 0.25,
                        _ => (next() % 100_000) as f32 * 1e-5 - 0.2,
                    })
                    .collect();
                let mut ranker = Ranker::new(&tie_key);
                for own in [None, Some(0), Some(n / 2), Some(n - 1)] {
                    ranker.rank(&imp, own, &mut order);
                    assert_eq!(order, rank(&imp, own, &tie_key), "n {n} round {round}");
                }
            }
        }
    }
}
