//! The orders an item's parts are shown in: every permutation when there are few, else a
//! seeded sample (the input order first); and rotations.

use rand::seq::SliceRandom;
use rand::{rngs::StdRng, SeedableRng};

/// Every permutation of `0..n` in lexicographic order (the identity first), when there are at
/// most `max` of them; else the identity and `max - 1` other distinct permutations drawn with
/// `seed`.
pub fn permutations(n: usize, max: usize, seed: u64) -> Vec<Vec<usize>> {
    let count = (1..=n).try_fold(1usize, |acc, k| acc.checked_mul(k));
    if count.is_some_and(|c| c <= max) {
        let mut all = Vec::new();
        let mut p: Vec<usize> = (0..n).collect();
        loop {
            all.push(p.clone());
            if !next_permutation(&mut p) {
                return all;
            }
        }
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out: Vec<Vec<usize>> = vec![(0..n).collect()];
    while out.len() < max {
        let mut p: Vec<usize> = (0..n).collect();
        p.shuffle(&mut rng);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The next permutation in lexicographic order; false after the last.
fn next_permutation(p: &mut [usize]) -> bool {
    let Some(i) = (1..p.len()).rev().find(|&i| p[i - 1] < p[i]) else {
        return false;
    };
    let j = (i..p.len())
        .rev()
        .find(|&j| p[j] > p[i - 1])
        .expect("p[i] is larger");
    p.swap(i - 1, j);
    p[i..].reverse();
    true
}

/// The first `count` rotations of `0..n` (rotation `r` starts at part `r`).
pub fn rotations(n: usize, count: usize) -> Vec<Vec<usize>> {
    (0..count.min(n))
        .map(|r| (0..n).map(|i| (i + r) % n).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sets_get_every_permutation_and_large_ones_a_seeded_sample() {
        assert_eq!(permutations(2, 6, 0), [vec![0, 1], vec![1, 0]]);
        let all = permutations(3, 6, 0);
        assert_eq!(all.len(), 6);
        assert_eq!(all[0], [0, 1, 2]);
        assert_eq!(all[5], [2, 1, 0]);
        let some = permutations(5, 4, 7);
        assert_eq!(some.len(), 4);
        assert_eq!(some[0], [0, 1, 2, 3, 4]);
        assert_eq!(some, permutations(5, 4, 7));
        assert!(some.iter().all(|p| {
            let mut s = p.clone();
            s.sort();
            s == [0, 1, 2, 3, 4]
        }));
    }

    #[test]
    fn rotations_start_at_each_part() {
        assert_eq!(
            rotations(3, 5),
            [vec![0, 1, 2], vec![1, 2, 0], vec![2, 0, 1]]
        );
        assert_eq!(rotations(3, 1), [vec![0, 1, 2]]);
    }
}
