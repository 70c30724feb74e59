//! Time of the CPU attention kernel alone for causal and PINE plans of the shapes
//! `pine-bench --segments N` builds, so PINE's own cost can be judged without the matmuls
//! around it and without the noise of a whole forward pass: one layer of SmolLM2-135M's shape
//! (9 query heads, 3 KV heads of 64, f16 cache) over a 512-token prompt cut into a prefix (8 %),
//! N segments of unequal lengths and a suffix (4 %), as `pine-bench` cuts it.
//!
//! Per case: the segment batch (every region row, each segment's heads reading the prefix, the
//! other segments in a per-head order at their shifts, and their own segment causally) against
//! a causal batch of the same rows, and one decode row after the prompt (PINE: the region at
//! shifts, plus its importance pass over the region's pre-RoPE keys, in one
//! `Backend::ranked_attention` call as the model makes it) against one causal decode row, hot in cache and again after reading 96 MiB (more than any L3 here), the state a
//! model's decode step finds its keys and values in once the weights have streamed past.
//! Single thread, best of many calls; the decode row after the eviction also on two threads,
//! as a model's decode step runs it (its KV heads as the pool's tasks).
//!
//! Run: `cargo bench --bench attention [-- SEGMENTS ...]` (default 2 5 20).

use std::time::{Duration, Instant};

use pine::backend::{
    AttentionPlan, AttentionShape, Backend, CacheSpec, CacheType, CpuBackend, CpuCache, HeadRanges,
    ImportanceRows, KeyRange, MatmulMode, QueryGroup, RankedRow, RegionGeometry, Rope, RopeScaling,
};

/// Query heads, KV heads, dimensions per head (SmolLM2-135M).
const HEADS: (usize, usize, usize) = (9, 3, 64);
/// Prompt tokens.
const TOKENS: usize = 512;

/// Where the prompt's parts lie: `(prefix, segment lengths)`, as `pine-bench` splits it.
fn layout(n_seg: usize) -> (usize, Vec<usize>) {
    let prefix = TOKENS * 8 / 100;
    let suffix = TOKENS * 4 / 100;
    let region = TOKENS - prefix - suffix;
    let weights: Vec<usize> = (0..n_seg).map(|i| n_seg + i).collect();
    let total: usize = weights.iter().sum();
    let spare = region - n_seg;
    let mut lens: Vec<usize> = weights.iter().map(|w| 1 + spare * w / total).collect();
    let used: usize = lens.iter().sum();
    *lens.last_mut().expect("at least one segment") += region - used;
    (prefix, lens)
}

/// A fixed pseudo-random number from `i`.
fn hash(i: usize) -> usize {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x ^ (x >> 32)) as usize
}

/// A query group's ranges for head `h`: the prefix, the other segments in a pseudo-random
/// order (a segment's shift: the lengths of those after it), then `own`.
fn pine_ranges(
    prefix: usize,
    starts: &[usize],
    lens: &[usize],
    seed: usize,
    own: KeyRange,
) -> Vec<KeyRange> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&j| hash(seed * 1000 + j));
    let region: usize = lens.iter().sum();
    let mut r = vec![KeyRange::new(0..prefix, false)];
    let mut before = region as i64;
    for &j in &order {
        let keys = starts[j]..starts[j] + lens[j];
        before -= lens[j] as i64;
        if keys != own.keys {
            r.push(KeyRange {
                keys,
                causal: false,
                shift: before,
            });
        }
    }
    r.push(own);
    r
}

/// Best time of `f` over at least 0.5 s and 20 calls (after one warm-up call).
fn best(mut f: impl FnMut()) -> Duration {
    f();
    let (mut best, start, mut n) = (Duration::MAX, Instant::now(), 0);
    while n < 20 || start.elapsed() < Duration::from_millis(500) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
        n += 1;
    }
    best
}

/// Best time of `f` over at least 20 calls, each after `before` (untimed).
fn best_after(mut before: impl FnMut(), mut f: impl FnMut()) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..30 {
        before();
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
    }
    best
}

fn main() {
    let segs: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let segs = if segs.is_empty() {
        vec![2, 5, 20]
    } else {
        segs
    };
    let (nh, nkv, hd) = HEADS;
    let shape = AttentionShape {
        n_heads: nh,
        n_kv_heads: nkv,
        head_dim: hd,
        rope: Rope::new(hd, 10000.0, &RopeScaling::None, None).with_table(2 * (TOKENS + 1)),
        logit_softcap: None,
    };
    let mut be = CpuBackend::new(1, MatmulMode::Native).expect("a one-thread CPU backend");
    // The decode row again as a model's decode step runs it on two threads.
    let mut be2 = CpuBackend::new(2, MatmulMode::Native).expect("a two-thread CPU backend");
    let n = TOKENS + 1;
    let vec = |seed: usize, len: usize| -> Vec<f32> {
        (0..len)
            .map(|i| ((hash(seed * 7919 + i) % 2000) as f32 / 1000.0 - 1.0) * 0.5)
            .collect()
    };
    let (k, v, q) = (
        vec(1, n * nkv * hd),
        vec(2, n * nkv * hd),
        vec(3, n * nh * hd),
    );
    let slots: Vec<usize> = (0..n).collect();
    let positions: Vec<i64> = (0..n as i64).collect();
    println!("| segments | test | causal µs | PINE µs | PINE / causal |");
    println!("|---:|---|---:|---:|---:|");
    for &n_seg in &segs {
        let mut cache: CpuCache = be
            .new_cache(CacheSpec {
                n_layers: 1,
                n_ctx: n,
                n_kv_heads: nkv,
                head_dim: hd,
                ty: CacheType::F16,
            })
            .expect("a cache");
        be.store_kv(&mut cache, 0, &shape, &k, &v, &slots, &positions)
            .expect("keys stored");
        let (prefix, lens) = layout(n_seg);
        let region: usize = lens.iter().sum();
        let starts: Vec<usize> = lens
            .iter()
            .scan(prefix, |at, &l| {
                *at += l;
                Some(*at - l)
            })
            .collect();
        let rows = prefix..prefix + region;
        let kr = k[prefix * nkv * hd..(prefix + region) * nkv * hd].to_vec();
        be.store_region_keys(&mut cache, 0, &kr, region)
            .expect("region keys stored");
        let rel: Vec<usize> = starts.iter().map(|s| s - prefix).collect();
        let canonical: Vec<usize> = (0..n_seg).collect();
        let geo = RegionGeometry {
            starts: &rel,
            lens: &lens,
            canonical: &canonical,
        };
        // The segment batch: query rows are the region's rows of `q`.
        let qb = q[prefix * nh * hd..(prefix + region) * nh * hd].to_vec();
        let causal_batch = AttentionPlan {
            groups: vec![QueryGroup {
                rows: 0..region,
                positions: positions[rows.clone()].to_vec(),
                cache_index: rows.clone().collect(),
                ranges: HeadRanges::Shared(vec![KeyRange::new(0..prefix + region, true)]),
            }],
        };
        let pine_batch = AttentionPlan {
            groups: (0..n_seg)
                .map(|i| {
                    let seg = starts[i]..starts[i] + lens[i];
                    QueryGroup {
                        rows: seg.start - prefix..seg.end - prefix,
                        positions: positions[seg.clone()].to_vec(),
                        cache_index: seg.clone().collect(),
                        ranges: HeadRanges::PerHead(
                            (0..nh)
                                .map(|h| {
                                    let own = KeyRange::new(seg.clone(), true);
                                    pine_ranges(prefix, &starts, &lens, i * nh + h, own)
                                })
                                .collect(),
                        ),
                    }
                })
                .collect(),
        };
        let mut out = vec![0.0f32; region * nh * hd];
        let mut table = vec![0.0f32; ImportanceRows::Segments.table_len(nh, n_seg)];
        let c = best(|| {
            be.attention(&cache, 0, &shape, &qb, &causal_batch, &mut out)
                .expect("attention")
        });
        let p = best(|| {
            if n_seg >= 3 {
                let rows = ImportanceRows::Segments;
                be.importance(&cache, 0, &shape, &qb, &geo, rows, &mut table)
                    .expect("importance");
            }
            be.attention(&cache, 0, &shape, &qb, &pine_batch, &mut out)
                .expect("attention")
        });
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "| {n_seg} | segment batch ({region} rows; PINE: importance + attention) | {:.0} | {:.0} | {:.2} |",
            us(c),
            us(p),
            p.as_secs_f64() / c.as_secs_f64()
        );
        // One decode row at the last slot.
        let last = TOKENS;
        let qd = q[last * nh * hd..].to_vec();
        let causal_step = AttentionPlan {
            groups: vec![QueryGroup {
                rows: 0..1,
                positions: vec![last as i64],
                cache_index: vec![last],
                ranges: HeadRanges::Shared(vec![KeyRange::new(0..last + 1, true)]),
            }],
        };
        let own = KeyRange::new(prefix + region..last + 1, true);
        // PINE's decode row as the model runs it: importance, ranking and attention in one
        // call. The ranking stands for the planner's: each head's pseudo-random order, fixed.
        let lists: Vec<Vec<KeyRange>> = (0..nh)
            .map(|h| pine_ranges(prefix, &starts, &lens, 99_000 + h, own.clone()))
            .collect();
        let rank = |heads: std::ops::Range<usize>, _: &[f32]| lists[heads].to_vec();
        let pine_row = RankedRow {
            position: last as i64,
            slot: last,
            region: prefix..prefix + region,
            geo,
            rank: &rank,
        };
        let mut out = vec![0.0f32; nh * hd];
        // One decode step of backend `be`, causal or PINE.
        let mut step = |be: &mut CpuBackend, pine: bool| {
            if pine {
                be.ranked_attention(&cache, 0, &shape, &qd, &pine_row, &mut out)
            } else {
                be.attention(&cache, 0, &shape, &qd, &causal_step, &mut out)
            }
            .expect("attention")
        };
        let c = best(|| step(&mut be, false));
        let p = best(|| step(&mut be, true));
        // Both cores' caches: two threads read half of 96 MiB each.
        let flush: Vec<u8> = (0..96usize << 20).map(|i| i as u8).collect();
        let evict = || {
            std::thread::scope(|sc| {
                for half in flush.chunks(flush.len() / 2) {
                    sc.spawn(move || {
                        let x = half.chunks(64).fold(0u8, |x, line| x ^ line[0]);
                        std::hint::black_box(x);
                    });
                }
            })
        };
        let cc = best_after(evict, || step(&mut be, false));
        let pc = best_after(evict, || step(&mut be, true));
        let cc2 = best_after(evict, || step(&mut be2, false));
        let pc2 = best_after(evict, || step(&mut be2, true));
        let row = |what: &str, c: Duration, p: Duration| {
            println!(
                "| {n_seg} | {what} | {:.1} | {:.1} | {:.2} |",
                us(c),
                us(p),
                p.as_secs_f64() / c.as_secs_f64()
            )
        };
        row("decode row, caches evicted first", cc, pc);
        row("decode row, two threads, caches evicted first", cc2, pc2);
        row("decode row (importance + attention)", c, p);
    }
}
