//! The plan kernel against brute force: shifting a key range by rotating the query equals
//! storing those keys at shifted positions (the query-rotation trick), and causal plans equal a
//! naive masked softmax. Its SIMD loops equal their plain forms bit for bit.

use super::attention::{
    attend, max, max_scalar, multi_for, round_f16, round_f16_scalar, score, score_multi,
    score_scalar, softmax, softmax_plain, value_sum, value_sum_multi, value_sum_scalar, Survey,
};
use super::batch_keys::{BatchKeys, MIN_ROWS};
use super::kv_cache::{CpuCache, Store};
use crate::backend::{
    ranked_attention_in_steps, AttentionShape, Backend, CacheSpec, CacheType, MatmulMode,
};
use crate::importance::RegionGeometry;
use crate::plan::{AttentionPlan, HeadRanges, KeyRange, QueryGroup, RankedRow};
use crate::rope::{Rope, RopeScaling};
use crate::CpuBackend;
use std::ops::Range;

const HD: usize = 16;

/// Two participants, so the per-(row, head) tasks really are split.
fn pool() -> &'static pine_pool::Pool {
    static POOL: std::sync::OnceLock<pine_pool::Pool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| pine_pool::Pool::new(2).expect("two test threads"))
}

fn shape() -> AttentionShape {
    shape_of(2, 1, HD)
}

/// `n_heads` query heads on `n_kv` KV heads of `hd`, plain RoPE, no soft-cap.
fn shape_of(n_heads: usize, n_kv: usize, hd: usize) -> AttentionShape {
    AttentionShape {
        n_heads,
        n_kv_heads: n_kv,
        head_dim: hd,
        rope: Rope::new(hd, 10000.0, &RopeScaling::None, None),
        logit_softcap: None,
    }
}

fn vector(seed: usize, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((seed * 31 + i * 17) as f32 * 0.173).sin())
        .collect()
}

/// A cache holding `n` keys/values rotated to `positions`.
fn cache(shape: &AttentionShape, positions: &[i64]) -> CpuCache {
    let mut c = CpuCache::new(CacheSpec {
        n_layers: 1,
        n_ctx: positions.len(),
        n_kv_heads: 1,
        head_dim: HD,
        ty: CacheType::F32,
    })
    .unwrap();
    for (slot, &p) in positions.iter().enumerate() {
        let mut k = vector(slot, HD);
        shape.rope.rotate(&mut k, p);
        c.layers[0].k.put(slot * HD, &k);
        c.layers[0].v.put(slot * HD, &vector(100 + slot, HD));
    }
    c
}

fn group(q_pos: i64, own: usize, ranges: Vec<Vec<KeyRange>>) -> AttentionPlan {
    AttentionPlan {
        groups: vec![QueryGroup {
            rows: 0..1,
            positions: vec![q_pos],
            cache_index: vec![own],
            ranges: HeadRanges::PerHead(ranges),
        }],
    }
}

#[test]
fn query_rotation_equals_rotating_keys() {
    let sh = shape();
    let q = vector(7, 2 * HD);
    // Keys 0..3 stored at canonical positions 10..13, keys 3..6 at 20..23; the query (at 30)
    // sees range A shifted by 5 for head 0 and by 2 for head 1.
    let canonical = [10, 11, 12, 20, 21, 22];
    let stored = cache(&sh, &canonical);
    let ranges = |s: i64| {
        vec![
            KeyRange {
                keys: 0..3,
                causal: false,
                shift: s,
            },
            KeyRange::new(3..6, false),
        ]
    };
    let plan = group(30, 5, vec![ranges(5), ranges(2)]);
    let mut out = vec![0.0; 2 * HD];
    attend(
        pool(),
        &stored.layers[0],
        &sh,
        &q,
        &plan,
        &mut BatchKeys::default(),
        &mut out,
    );
    for (h, s) in [(0usize, 5i64), (1, 2)] {
        let moved = [10 - s, 11 - s, 12 - s, 20, 21, 22];
        let brute = cache(&sh, &moved);
        let plain = group(30, 5, vec![vec![KeyRange::new(0..6, false)]; 2]);
        let mut want = vec![0.0; 2 * HD];
        attend(
            pool(),
            &brute.layers[0],
            &sh,
            &q,
            &plain,
            &mut BatchKeys::default(),
            &mut want,
        );
        for (a, b) in out[h * HD..(h + 1) * HD]
            .iter()
            .zip(&want[h * HD..(h + 1) * HD])
        {
            assert!((a - b).abs() <= 1e-5, "head {h}: {a} vs {b}");
        }
    }
}

#[test]
fn causal_plan_equals_naive_masked_softmax() {
    naive_masked_softmax(None);
}

/// Gemma 2's soft-cap, small enough here (scores reach about ±1) to bend every score.
#[test]
fn soft_capped_scores_equal_the_naive_capped_softmax() {
    naive_masked_softmax(Some(0.3));
}

fn naive_masked_softmax(cap: Option<f32>) {
    let sh = AttentionShape {
        logit_softcap: cap,
        ..shape()
    };
    let n = 5;
    let positions: Vec<i64> = (0..n as i64).collect();
    let stored = cache(&sh, &positions);
    let q = vector(3, n * 2 * HD);
    let mut out = vec![0.0; n * 2 * HD];
    attend(
        pool(),
        &stored.layers[0],
        &sh,
        &q,
        &AttentionPlan::causal(0, n),
        &mut BatchKeys::default(),
        &mut out,
    );
    for r in 0..n {
        for h in 0..2 {
            let mut qr = q[(r * 2 + h) * HD..][..HD].to_vec();
            sh.rope.rotate(&mut qr, r as i64);
            let scores: Vec<f64> = (0..=r)
                .map(|j| {
                    let mut k = vector(j, HD);
                    sh.rope.rotate(&mut k, j as i64);
                    let s = qr.iter().zip(&k).map(|(a, b)| (a * b) as f64).sum::<f64>()
                        / (HD as f64).sqrt();
                    cap.map_or(s, |c| c as f64 * (s / c as f64).tanh())
                })
                .collect();
            let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = scores.iter().map(|s| (s - m).exp()).sum();
            for d in 0..HD {
                let want: f64 = (0..=r)
                    .map(|j| (scores[j] - m).exp() / z * vector(100 + j, HD)[d] as f64)
                    .sum();
                let got = out[(r * 2 + h) * HD + d] as f64;
                assert!(
                    (got - want).abs() < 1e-5,
                    "row {r} head {h} dim {d}: {got} vs {want}"
                );
            }
        }
    }
}

/// Both cache precisions holding `n` elements of a smooth test signal.
fn stores(n: usize, seed: usize) -> [Store; 2] {
    let x = vector(seed, n);
    [
        Store::F32(x.clone()),
        Store::F16(x.iter().map(|&v| half::f16::from_f32(v)).collect()),
    ]
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `score` and `value_sum` (the widest forms this CPU has) and, where present, the AVX2 forms
/// against the plain forms.
#[test]
fn kernels_equal_their_plain_forms_bit_for_bit() {
    for hd in [8, 16, 24, 32, 64, 80, 128] {
        let stride = 3 * hd;
        for n_keys in [0, 1, 7, 8, 9, 16, 17, 40, 203] {
            let at: Vec<usize> = (0..n_keys).map(|j| (j * 7 % 211) * stride + hd).collect();
            let cache_len = 212 * stride;
            let mut q = vector(n_keys + 3, hd);
            round_f16(&mut q);
            for k in stores(cache_len, 5) {
                let (mut got, mut want) = (vec![1.0], vec![1.0]);
                score(&k, &q, &at, 0.125, &mut got);
                score_scalar(&k, &q, &at, 0.125, &mut want);
                assert_eq!(bits(&got), bits(&want), "score hd={hd} keys={n_keys}");
                #[cfg(target_arch = "x86_64")]
                if hd % 16 == 0 && crate::simd8::available() {
                    let mut avx2 = vec![1.0];
                    // SAFETY: the features were detected; hd % 16 == 0; keys lie in the cache.
                    unsafe {
                        match &k {
                            Store::F16(k) => {
                                super::attention_x86::score(&q, k, &at, 0.125, &mut avx2)
                            }
                            Store::F32(k) => {
                                super::attention_x86::score(&q, k, &at, 0.125, &mut avx2)
                            }
                        }
                    }
                    assert_eq!(bits(&avx2), bits(&want), "avx2 score hd={hd} keys={n_keys}");
                }
            }
            let p: Vec<f32> = vector(9, n_keys).iter().map(|x| x * x).collect();
            for v in stores(cache_len, 6) {
                let (mut acc, mut got, mut want) =
                    (vec![3.0; 16 * hd], vec![0.0; hd], vec![0.0; hd]);
                value_sum(&v, &p, &at, &mut acc, &mut got);
                value_sum_scalar(&v, &p, &at, &mut acc, &mut want);
                assert_eq!(bits(&got), bits(&want), "value_sum hd={hd} keys={n_keys}");
                #[cfg(target_arch = "x86_64")]
                if hd % 16 == 0 && crate::simd8::available() {
                    let mut avx2 = vec![0.0; hd];
                    // SAFETY: the features were detected; the lengths hold.
                    unsafe {
                        match &v {
                            Store::F16(v) => {
                                super::attention_x86::value_sum(&p, &at, v, &mut acc, &mut avx2)
                            }
                            Store::F32(v) => {
                                super::attention_x86::value_sum(&p, &at, v, &mut acc, &mut avx2)
                            }
                        }
                    }
                    assert_eq!(
                        bits(&avx2),
                        bits(&want),
                        "avx2 value_sum hd={hd} keys={n_keys}"
                    );
                }
            }
        }
    }
}

/// Two or three query heads scored and summed together equal each head alone, bit for bit.
#[test]
fn several_heads_equal_one_head_at_a_time() {
    for hd in [16, 32, 64, 80, 128] {
        if !multi_for(hd) {
            return;
        }
        let stride = 3 * hd;
        for n_keys in [0, 1, 7, 8, 9, 17, 203] {
            let at: Vec<usize> = (0..n_keys).map(|j| (j * 7 % 211) * stride + hd).collect();
            let cache_len = 212 * stride;
            for m in [2, 3] {
                let mut qs = vector(n_keys + 11, m * hd);
                round_f16(&mut qs);
                let ps: Vec<Vec<f32>> = (0..m)
                    .map(|i| vector(i + 9, n_keys).iter().map(|x| x * x).collect())
                    .collect();
                for k in stores(cache_len, 5) {
                    let mut got = vec![vec![1.0]; m];
                    score_multi(&k, &qs, &at, 0.125, &mut got);
                    for (i, g) in got.iter().enumerate() {
                        let mut want = vec![1.0];
                        score(&k, &qs[i * hd..][..hd], &at, 0.125, &mut want);
                        assert_eq!(bits(g), bits(&want), "score m={m} hd={hd} keys={n_keys}");
                    }
                    let mut acc = vec![vec![3.0; 16 * hd]; m];
                    let mut out = vec![0.0; m * hd];
                    value_sum_multi(&k, &ps, &at, &mut acc, &mut out);
                    for (i, o) in out.chunks(hd).enumerate() {
                        let (mut a, mut want) = (vec![0.0; 16 * hd], vec![0.0; hd]);
                        value_sum(&k, &ps[i], &at, &mut a, &mut want);
                        assert_eq!(bits(o), bits(&want), "value m={m} hd={hd} keys={n_keys}");
                    }
                }
            }
        }
    }
}

/// A batch of many rows (scored from blocked keys) equals the same rows attended one at a time
/// (scored from the cache itself), bit for bit: causal and PINE-style shifted, reordered
/// ranges, both cache precisions, one to three query heads per KV head.
#[test]
fn blocked_batches_equal_row_by_row_attention() {
    for (n_heads, n_kv, hd) in [(9, 3, 64), (4, 2, 32), (2, 2, 16), (6, 2, 16)] {
        let sh = shape_of(n_heads, n_kv, hd);
        let (past, n) = (37, 45);
        assert!(n >= MIN_ROWS);
        let width = n_kv * hd;
        for ty in [CacheType::F16, CacheType::F32] {
            let mut c = CpuCache::new(CacheSpec {
                n_layers: 1,
                n_ctx: past + n,
                n_kv_heads: n_kv,
                head_dim: hd,
                ty,
            })
            .unwrap();
            c.layers[0].k.put(0, &vector(1, (past + n) * width));
            c.layers[0].v.put(0, &vector(2, (past + n) * width));
            let q = vector(3, n * n_heads * hd);
            let plans = |rows: std::ops::Range<usize>| {
                let shifted = |h: usize| {
                    vec![
                        KeyRange::new(30..past, false),
                        KeyRange {
                            keys: 3..30,
                            causal: false,
                            shift: h as i64 % 3,
                        },
                        KeyRange::new(0..3, false),
                        KeyRange::new(past..past + n, true),
                    ]
                };
                let per_head = HeadRanges::PerHead((0..n_heads).map(shifted).collect());
                [
                    AttentionPlan::causal(past + rows.start, rows.len()),
                    AttentionPlan {
                        groups: vec![QueryGroup {
                            rows: 0..rows.len(),
                            positions: rows.clone().map(|r| (past + r) as i64).collect(),
                            cache_index: rows.clone().map(|r| past + r).collect(),
                            ranges: per_head,
                        }],
                    },
                ]
            };
            let row_len = n_heads * hd;
            for (i, batch) in plans(0..n).iter().enumerate() {
                let mut got = vec![0.0; n * row_len];
                let mut keys = BatchKeys::default();
                attend(pool(), &c.layers[0], &sh, &q, batch, &mut keys, &mut got);
                for r in 0..n {
                    let one = &plans(r..r + 1)[i];
                    let mut want = vec![0.0; row_len];
                    let qr = &q[r * row_len..][..row_len];
                    attend(pool(), &c.layers[0], &sh, qr, one, &mut keys, &mut want);
                    assert_eq!(
                        bits(&got[r * row_len..][..row_len]),
                        bits(&want),
                        "plan {i} {ty:?} heads {n_heads}/{n_kv} hd {hd} row {r}"
                    );
                }
            }
        }
    }
}

#[test]
fn rounding_and_max_equal_their_plain_forms() {
    for n in [0, 1, 5, 8, 13, 64, 100] {
        let mut x: Vec<f32> = vector(n, n).iter().map(|v| v * 70000.0).collect();
        x.extend([1e-8, -3e-6, 65504.0, 65520.0]);
        let (mut got, mut want) = (x.clone(), x.clone());
        round_f16(&mut got);
        round_f16_scalar(&mut want);
        assert_eq!(bits(&got), bits(&want));
        assert_eq!(max(&x[..n]).to_bits(), max_scalar(&x[..n]).to_bits());
    }
}

/// The blocked copy starts a block at each run start: every slot's key sits at its block and
/// lane, `left` reaches the end of its block or run, and lanes past a run's end are zeros.
#[test]
fn blocked_runs_hold_every_key_at_its_lane() {
    let (n_kv, hd, slots) = (2, 16, 45);
    let mut c = CpuCache::new(CacheSpec {
        n_layers: 1,
        n_ctx: slots,
        n_kv_heads: n_kv,
        head_dim: hd,
        ty: CacheType::F32,
    })
    .unwrap();
    let k = vector(1, slots * n_kv * hd);
    c.layers[0].k.put(0, &k);
    let mut keys = BatchKeys::default();
    keys.fill(pool(), &c.layers[0], n_kv, hd, slots, &[0, 3, 30]);
    assert!(keys.holds(slots, &[0, 3, 30]));
    let Store::F32(blocked) = keys.keys() else {
        panic!("an f32 copy")
    };
    // Runs 0..3 (one block), 3..30 (two), 30..45 (one).
    assert_eq!(blocked.len(), n_kv * 4 * 16 * hd);
    for slot in 0..slots {
        let l = keys.lane(slot);
        let (run_start, run_end) = match slot {
            0..3 => (0, 3),
            3..30 => (3, 30),
            _ => (30, 45),
        };
        assert_eq!(l.lane, (slot - run_start) % 16, "slot {slot}");
        assert_eq!(l.left, (16 - l.lane).min(run_end - slot), "slot {slot}");
        // The next block's lane, found without the search, is where the search finds it.
        let next = slot + l.left;
        assert_eq!(
            l.next(),
            (next < run_end).then(|| keys.lane(next)),
            "slot {slot}"
        );
        for kvh in 0..n_kv {
            let at = keys.block_at(kvh, l.block);
            for d in 0..hd {
                let want = k[(kvh * slots + slot) * hd + d];
                assert_eq!(blocked[at + d * 16 + l.lane].to_bits(), want.to_bits());
            }
        }
    }
    // Run 0..3's block: lanes 3.. are padding.
    assert!((0..hd).all(|d| blocked[d * 16 + 5] == 0.0));
}

#[test]
fn softmax_equals_its_plain_form() {
    for n in [1, 5, 15, 16, 17, 31, 64, 100, 513] {
        for f16 in [false, true] {
            let x: Vec<f32> = vector(n + 7, n).iter().map(|v| v * 9.0).collect();
            let (mut got, mut want) = (x.clone(), x.clone());
            softmax(&mut got, f16);
            softmax_plain(&mut want, max_scalar(&x), f16);
            assert_eq!(bits(&got), bits(&want), "{n} scores, f16 {f16}");
        }
    }
}

/// Query heads that read the same ranges in their own orders (PINE's per-head rankings) are
/// scored together in the first head's order, each at its own shifts: the same bits as each
/// head alone (one query head per KV head) with its ranges listed in that first head's order.
/// Rows alone and as a blocked batch, both cache precisions.
#[test]
fn heads_in_their_own_orders_equal_each_head_alone_in_the_first_order() {
    let (n_heads, n_kv, hd) = (9, 3, 64);
    let group = n_heads / n_kv;
    let rope = Rope::new(hd, 10000.0, &RopeScaling::None, None);
    let shape = |heads| AttentionShape {
        n_heads: heads,
        n_kv_heads: n_kv,
        head_dim: hd,
        rope: rope.clone(),
        logit_softcap: None,
    };
    let segs = [5..12, 12..30, 30..33, 33..50, 50..51];
    let (region_end, n) = (51, 36);
    let width = n_kv * hd;
    // Head h ranks the segments by a head-dependent permutation; shifts tile the region.
    let order = |h: usize| -> Vec<usize> {
        let mut o: Vec<usize> = (0..segs.len()).collect();
        o.sort_by_key(|&j| (j * 7 + h * 3) % segs.len());
        o
    };
    // Head h's ranges (its own shifts) listed farthest first in head `by`'s order.
    let list = |h: usize, by: usize| -> Vec<KeyRange> {
        let ranked = order(h);
        let mut r = vec![KeyRange::new(0..5, false)];
        for &j in order(by).iter().rev() {
            let before: usize = ranked
                .iter()
                .take_while(|&&o| o != j)
                .map(|&o| segs[o].len())
                .sum();
            r.push(KeyRange {
                keys: segs[j].clone(),
                causal: false,
                shift: before as i64,
            });
        }
        r.push(KeyRange::new(region_end..region_end + n, true));
        r
    };
    let plan = |lists: Vec<Vec<KeyRange>>, rows: std::ops::Range<usize>| AttentionPlan {
        groups: vec![QueryGroup {
            rows: 0..rows.len(),
            positions: rows.clone().map(|r| (region_end + r) as i64).collect(),
            cache_index: rows.map(|r| region_end + r).collect(),
            ranges: HeadRanges::PerHead(lists),
        }],
    };
    for ty in [CacheType::F16, CacheType::F32] {
        let mut c = CpuCache::new(CacheSpec {
            n_layers: 1,
            n_ctx: region_end + n,
            n_kv_heads: n_kv,
            head_dim: hd,
            ty,
        })
        .unwrap();
        c.layers[0].k.put(0, &vector(4, (region_end + n) * width));
        c.layers[0].v.put(0, &vector(5, (region_end + n) * width));
        let q = vector(6, n * n_heads * hd);
        let mut keys = BatchKeys::default();
        for rows in [0..n, 7..8, 35..36] {
            let q = &q[rows.start * n_heads * hd..rows.end * n_heads * hd];
            let own = (0..n_heads).map(|h| list(h, h)).collect();
            let mut got = vec![0.0; rows.len() * n_heads * hd];
            attend(
                pool(),
                &c.layers[0],
                &shape(n_heads),
                q,
                &plan(own, rows.clone()),
                &mut keys,
                &mut got,
            );
            // Query head p of every KV head alone: its queries as the only head of a shape
            // with one query head per KV head.
            for p in 0..group {
                let heads: Vec<usize> = (0..n_kv).map(|g| g * group + p).collect();
                let q1: Vec<f32> = (0..rows.len())
                    .flat_map(|r| {
                        heads
                            .iter()
                            .flat_map(move |&h| &q[(r * n_heads + h) * hd..][..hd])
                    })
                    .copied()
                    .collect();
                let lists = heads.iter().map(|&h| list(h, h - p)).collect();
                let mut want = vec![0.0; rows.len() * n_kv * hd];
                attend(
                    pool(),
                    &c.layers[0],
                    &shape(n_kv),
                    &q1,
                    &plan(lists, rows.clone()),
                    &mut keys,
                    &mut want,
                );
                for r in 0..rows.len() {
                    for (g, &h) in heads.iter().enumerate() {
                        assert_eq!(
                            bits(&got[(r * n_heads + h) * hd..][..hd]),
                            bits(&want[(r * n_kv + g) * hd..][..hd]),
                            "{ty:?} rows {rows:?} row {r} head {h}"
                        );
                    }
                }
            }
        }
    }
}

/// A decode row that reads key ranges at shifts (PINE) scores the prefix and the segments from
/// the blocked keys the layer holds (one run: segments start mid-block, so blocks are shared
/// by ranges read at different shifts), with the same bits when the ranges come cut into
/// pieces of 11 keys (most blocks scored in two or three parts); a write to one of the held
/// slots drops the copy, so the next step reads the new key. Both cache precisions, three
/// query heads per KV head, each head at its own shifts.
#[test]
fn held_blocked_keys_equal_key_by_key_scoring_and_follow_writes() {
    let (n_heads, n_kv, hd) = (9, 3, 64);
    let sh = shape_of(n_heads, n_kv, hd);
    let segs = [5..40, 40..61, 61..100];
    let (region_end, own) = (100, 103);
    let width = n_kv * hd;
    // Head h's ranges: prefix, the segments in a head-dependent order at shifts, its own part;
    // `piece` cuts every range into runs of at most that many keys.
    let list = |h: usize, piece: usize| -> Vec<KeyRange> {
        let mut whole = vec![KeyRange::new(0..5, false)];
        for (k, j) in [(h + 1) % 3, h % 3, (h + 2) % 3].into_iter().enumerate() {
            whole.push(KeyRange {
                keys: segs[j].clone(),
                causal: false,
                shift: (k * 7 + h) as i64,
            });
        }
        whole.push(KeyRange::new(region_end..own + 1, true));
        whole
            .into_iter()
            .flat_map(|r| {
                (r.keys.start..r.keys.end)
                    .step_by(piece)
                    .map(move |s| KeyRange {
                        keys: s..(s + piece).min(r.keys.end),
                        ..r.clone()
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let plan = |piece: usize| AttentionPlan {
        groups: vec![QueryGroup {
            rows: 0..1,
            positions: vec![own as i64],
            cache_index: vec![own],
            ranges: HeadRanges::PerHead((0..n_heads).map(|h| list(h, piece)).collect()),
        }],
    };
    let q = vector(7, n_heads * hd);
    for ty in [CacheType::F16, CacheType::F32] {
        let mut c = CpuCache::new(CacheSpec {
            n_layers: 1,
            n_ctx: own + 1,
            n_kv_heads: n_kv,
            head_dim: hd,
            ty,
        })
        .unwrap();
        c.layers[0].k.put(0, &vector(8, (own + 1) * width));
        c.layers[0].v.put(0, &vector(9, (own + 1) * width));
        let mut keys = BatchKeys::default();
        let run = |c: &CpuCache, piece: usize, keys: &mut BatchKeys| {
            let mut out = vec![0.0; n_heads * hd];
            attend(pool(), &c.layers[0], &sh, &q, &plan(piece), keys, &mut out);
            out
        };
        let whole = run(&c, 1000, &mut keys);
        assert_eq!(c.layers[0].held.lock().unwrap().slots(), region_end);
        assert_eq!(bits(&whole), bits(&run(&c, 11, &mut keys)), "{ty:?}");
        // A new key in a segment: the held copy goes, and the next step sees the key.
        for kvh in 0..n_kv {
            let at = c.layers[0].at(50, kvh);
            c.layers[0].k.put(at, &vector(10 + kvh, hd));
        }
        c.layers[0].release_held(&[50]);
        assert_eq!(c.layers[0].held.lock().unwrap().slots(), 0);
        let after = run(&c, 1000, &mut keys);
        assert_ne!(bits(&after), bits(&whole));
        assert_eq!(
            bits(&after),
            bits(&run(&c, 11, &mut keys)),
            "{ty:?} after a write"
        );
    }
}

#[test]
fn run_starts_are_the_sorted_unique_starts_below_the_slots_and_zero() {
    // Ranges of pseudo-random starts in PINE's form: the same starts listed once per head,
    // some at or past `slots`, across the word boundaries of the bitset.
    for (seed, slots) in [
        (1usize, 0usize),
        (2, 1),
        (3, 63),
        (4, 64),
        (5, 65),
        (6, 500),
    ] {
        let starts: Vec<usize> = (0..40).map(|i| (seed * 7919 + i * 104_729) % 530).collect();
        let list: Vec<KeyRange> = starts
            .iter()
            .map(|&s| KeyRange::new(s..s + 3, false))
            .collect();
        let plan = group(
            0,
            0,
            vec![list.clone(), list.iter().rev().cloned().collect()],
        );
        let mut want: Vec<usize> = std::iter::once(0)
            .chain(starts.iter().copied().filter(|&s| s < slots))
            .collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(Survey::of(&plan).run_starts(slots), want, "slots {slots}");
    }
}

/// A decode row ranked and attended in one call ([`Backend::ranked_attention`]: per KV head,
/// importance, ranking and attention in one task) gives the bits of the three steps in turn
/// ([`ranked_attention_in_steps`]): 1, 3 and 20 segments of ragged lengths after a prefix,
/// both cache precisions, 9 query heads on 3 KV heads, one and two threads. The ranking is
/// PINE's (by importance, own part last) with each head's shifts, so heads read the segments
/// in their own orders; a ranking that returns lists for the wrong heads is an error.
#[test]
fn a_ranked_row_in_one_call_equals_importance_ranking_and_attention_in_turn() {
    let (n_heads, n_kv, hd) = (9, 3, 64);
    let sh = shape_of(n_heads, n_kv, hd);
    let prefix = 6;
    for lens in [
        vec![37],
        vec![5, 40, 19],
        (0..20).map(|j| 1 + (j * 7) % 23).collect(),
    ] {
        let region: usize = lens.iter().sum();
        let starts: Vec<usize> = lens
            .iter()
            .scan(0, |at, &l| {
                *at += l;
                Some(*at - l)
            })
            .collect();
        let canonical: Vec<usize> = (0..lens.len()).rev().collect();
        let (region_end, slot) = (prefix + region, prefix + region + 3);
        // PINE's ranges for one head: the prefix, the segments from least to most important
        // at the shifts that tile the region, then the row's own part.
        let ranges = |imp: &[f32]| {
            let mut order: Vec<usize> = (0..lens.len()).collect();
            order.sort_by(|&a, &b| imp[b].total_cmp(&imp[a]).then(a.cmp(&b)));
            let mut list = vec![KeyRange::new(0..prefix, false)];
            let mut before = region as i64;
            for &j in order.iter().rev() {
                before -= lens[j] as i64;
                list.push(KeyRange {
                    keys: prefix + starts[j]..prefix + starts[j] + lens[j],
                    causal: false,
                    shift: before,
                });
            }
            list.push(KeyRange::new(region_end..slot + 1, true));
            list
        };
        let rank = |heads: Range<usize>, table: &[f32]| -> Vec<Vec<KeyRange>> {
            let n = lens.len();
            table
                .chunks_exact(n)
                .take(heads.len())
                .map(ranges)
                .collect()
        };
        let row = RankedRow {
            position: slot as i64 + 40,
            slot,
            region: prefix..region_end,
            geo: RegionGeometry {
                starts: &starts,
                lens: &lens,
                canonical: &canonical,
            },
            rank: &rank,
        };
        let q = vector(11, n_heads * hd);
        for ty in [CacheType::F16, CacheType::F32] {
            for threads in [1, 2] {
                let mut be = CpuBackend::new(threads, MatmulMode::Native).unwrap();
                let mut c = be
                    .new_cache(CacheSpec {
                        n_layers: 1,
                        n_ctx: slot + 5,
                        n_kv_heads: n_kv,
                        head_dim: hd,
                        ty,
                    })
                    .unwrap();
                let width = n_kv * hd;
                let cached = |seed| vector(seed, (slot + 1) * width);
                c.layers[0].k.put(0, &cached(12));
                c.layers[0].v.put(0, &cached(13));
                be.store_region_keys(&mut c, 0, &vector(14, region * width), region)
                    .unwrap();
                let mut want = vec![0.0; n_heads * hd];
                ranked_attention_in_steps(&mut be, &c, 0, &sh, &q, &row, &mut want).unwrap();
                let mut got = vec![f32::NAN; n_heads * hd];
                be.ranked_attention(&c, 0, &sh, &q, &row, &mut got).unwrap();
                let what = format!("{} segments, {ty:?}, {threads} threads", lens.len());
                assert_eq!(bits(&got), bits(&want), "{what}");
                // Run again with the held copy in place.
                be.ranked_attention(&c, 0, &sh, &q, &row, &mut got).unwrap();
                assert_eq!(bits(&got), bits(&want), "{what}, held copy kept");
                let short = |h: Range<usize>, t: &[f32]| rank(h.start..h.end - 1, t);
                let bad = RankedRow {
                    region: row.region.clone(),
                    rank: &short,
                    ..row
                };
                let err = be.ranked_attention(&c, 0, &sh, &q, &bad, &mut got);
                assert!(err.is_err(), "{what}: lists for two heads of three");
            }
        }
    }
}
