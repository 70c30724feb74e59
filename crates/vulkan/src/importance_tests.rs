//! PINE's importance pass on the device against the CPU backend's (spec §1.3): suffix rows and
//! the segment batch, f32 and f16 region keys, one to twenty segments of unequal lengths (below
//! 16, and not multiples of 16). The shaders copy the CPU's operations and order, so where the
//! device has f64 (exact fma and division) the tables must agree bit for bit. Elsewhere fma()
//! and division may each be off by a few ulp: a score then moves by ~1e-6 relative (64 terms of
//! |q·k| ≲ 10), exp(s − max) by about |s|·1e-6, and the sums and quotients by a few ulp more,
//! hence 1e-5 relative: the bound fast numerics (native fma, float division) are held to too.
//! Moving the segments around in the region must not change a bit, in either numeric mode.

use pine_backend::{
    AttentionShape, Backend, CacheSpec, CacheType, CpuBackend, ImportanceRows, MatmulMode,
    RegionGeometry, Rope, RopeScaling, VulkanNumerics,
};

use crate::test_support::{backend, values};
use crate::VulkanBackend;

const HEADS: usize = 4;
const KV_HEADS: usize = 2;

fn shape(hd: usize) -> AttentionShape {
    AttentionShape {
        n_heads: HEADS,
        n_kv_heads: KV_HEADS,
        head_dim: hd,
        rope: Rope::new(hd, 10000.0, &RopeScaling::None, None),
        logit_softcap: None,
    }
}

/// A region: segments laid out in `order`, with their keys and the segment batch's queries.
struct Region {
    starts: Vec<usize>,
    lens: Vec<usize>,
    canonical: Vec<usize>,
    /// `[token][KV head][dim]`.
    keys: Vec<f32>,
    /// `[token][head][dim]`: the segment batch's queries.
    queries: Vec<f32>,
}

/// Segments of `lens` placed in the region in `order`; segment j's keys and queries are the
/// same wherever it sits.
fn region(lens: &[usize], order: &[usize], hd: usize) -> Region {
    let n = lens.len();
    let mut starts = vec![0; n];
    let mut at = 0;
    for &j in order {
        starts[j] = at;
        at += lens[j];
    }
    let (kvw, qw) = (KV_HEADS * hd, HEADS * hd);
    let (mut keys, mut queries) = (vec![0.0; at * kvw], vec![0.0; at * qw]);
    for j in 0..n {
        let k = values(lens[j] * kvw, 100 + j as u64);
        let q = values(lens[j] * qw, 200 + j as u64);
        keys[starts[j] * kvw..][..lens[j] * kvw].copy_from_slice(&k);
        for (dst, src) in queries[starts[j] * qw..][..lens[j] * qw].iter_mut().zip(q) {
            *dst = src * 3.0;
        }
    }
    // A canonical order unrelated to the indices (as the content hashes give).
    let mut canonical: Vec<usize> = (0..n).collect();
    canonical.sort_by_key(|&j| (j * 7 + 3) % n.max(1) * n + j);
    Region {
        starts,
        lens: lens.to_vec(),
        canonical,
        keys,
        queries,
    }
}

/// `b`'s importance table for `rows` (the segment batch's own queries, or `q`'s suffix rows).
fn table<B: Backend>(
    b: &mut B,
    r: &Region,
    q: &[f32],
    rows: ImportanceRows,
    hd: usize,
    ty: CacheType,
) -> Vec<f32> {
    let tokens = r.keys.len() / (KV_HEADS * hd);
    let mut cache = b
        .new_cache(CacheSpec {
            n_layers: 2,
            n_ctx: tokens + 8,
            n_kv_heads: KV_HEADS,
            head_dim: hd,
            ty,
        })
        .unwrap();
    let mut k = b.buffer(r.keys.len());
    b.write(&mut k, &r.keys);
    b.store_region_keys(&mut cache, 1, &k, tokens).unwrap();
    let mut qb = b.buffer(q.len());
    b.write(&mut qb, q);
    let mut out = vec![f32::NAN; rows.table_len(HEADS, r.lens.len())];
    let geo = RegionGeometry {
        starts: &r.starts,
        lens: &r.lens,
        canonical: &r.canonical,
    };
    b.importance(&cache, 1, &shape(hd), &qb, &geo, rows, &mut out)
        .unwrap();
    out
}

fn assert_close(got: &[f32], want: &[f32], exact: bool, what: &str) {
    assert_eq!(got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if exact {
            assert_eq!(g.to_bits(), w.to_bits(), "{what}: entry {i}: {g} vs {w}");
        } else {
            let ok = g == w || ((g - w) / w).abs() <= 1e-5;
            assert!(ok, "{what}: entry {i}: {g} vs {w}");
        }
    }
}

/// Segment lengths of the cases: one to twenty segments, short ones and ragged ones.
fn cases() -> Vec<Vec<usize>> {
    vec![
        vec![7],
        vec![5, 13],
        vec![3, 17, 9],
        vec![1, 16, 33, 4, 11],
        (0..20).map(|j| 1 + (j * 5) % 19).collect(),
    ]
}

/// Every case in both cache precisions, in exact numerics with the shaders' exact build and
/// with the build on the device's own fma() (on a device whose fma() is not fused, such as
/// lavapipe's, that one is inexact), and in fast numerics (the plain build: within 1e-5).
#[test]
fn importance_matches_the_cpu_for_suffix_rows_and_the_segment_batch() {
    let Some(mut b) = backend(MatmulMode::F32, VulkanNumerics::Exact) else {
        return;
    };
    let probed = b.fused_fma();
    for own_fma in [false, true] {
        b.force_fused_fma(own_fma);
        let exact = b.cpu_float_order() && (probed || !own_fma);
        check_against_the_cpu(&mut b, exact, &format!("device fma: {own_fma}"));
    }
    let mut fast = backend(MatmulMode::F32, VulkanNumerics::Fast).expect("the same device");
    check_against_the_cpu(&mut fast, false, "fast numerics");
    assert!(
        fast.loaded_shaders().iter().all(|n| !n.contains("_f64")),
        "{:?}",
        fast.loaded_shaders()
    );
}

fn check_against_the_cpu(b: &mut VulkanBackend, exact: bool, label: &str) {
    let mut cpu = CpuBackend::new(2, MatmulMode::F32).unwrap();
    for (c, lens) in cases().into_iter().enumerate() {
        let hd = if c == 2 { 40 } else { 64 };
        let order: Vec<usize> = (0..lens.len()).collect();
        let r = region(&lens, &order, hd);
        for ty in [CacheType::F32, CacheType::F16] {
            let suffix: Vec<f32> = values(3 * HEADS * hd, 7 + c as u64)
                .iter()
                .map(|x| x * 3.0)
                .collect();
            let what = format!("{lens:?} {ty:?} ({label})");
            for m in [1, 3] {
                let q = &suffix[..m * HEADS * hd];
                let rows = ImportanceRows::Queries(m);
                let got = table(b, &r, q, rows, hd, ty);
                let want = table(&mut cpu, &r, q, rows, hd, ty);
                assert_close(&got, &want, exact, &format!("{what}, {m} suffix rows"));
            }
            if lens.len() >= 3 {
                let rows = ImportanceRows::Segments;
                let got = table(b, &r, &r.queries, rows, hd, ty);
                let want = table(&mut cpu, &r, &r.queries, rows, hd, ty);
                assert_close(&got, &want, exact, &format!("{what}, segment batch"));
            }
        }
    }
}

/// In both numeric modes: fast numerics change the operations, not the order, which does
/// not depend on where the segments sit.
#[test]
fn importance_per_segment_ignores_where_the_segments_sit() {
    for numerics in [VulkanNumerics::Fast, VulkanNumerics::Exact] {
        let Some(mut b) = backend(MatmulMode::F32, numerics) else {
            return;
        };
        ignores_where_the_segments_sit(&mut b);
    }
}

fn ignores_where_the_segments_sit(b: &mut VulkanBackend) {
    let hd = 64;
    for lens in cases().into_iter().filter(|l| l.len() >= 2) {
        let n = lens.len();
        let forward: Vec<usize> = (0..n).collect();
        let shuffled: Vec<usize> = if n > 3 {
            (0..n).map(|i| (i * 7 + 3) % n).collect()
        } else {
            (0..n).rev().collect()
        };
        let (a, z) = (region(&lens, &forward, hd), region(&lens, &shuffled, hd));
        for ty in [CacheType::F32, CacheType::F16] {
            let q: Vec<f32> = values(2 * HEADS * hd, 5).iter().map(|x| x * 3.0).collect();
            let bits = |v: Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let rows = ImportanceRows::Queries(2);
            assert_eq!(
                bits(table(b, &a, &q, rows, hd, ty)),
                bits(table(b, &z, &q, rows, hd, ty)),
                "{lens:?} {ty:?}: suffix rows"
            );
            if n >= 3 {
                assert_eq!(
                    bits(table(b, &a, &a.queries, ImportanceRows::Segments, hd, ty)),
                    bits(table(b, &z, &z.queries, ImportanceRows::Segments, hd, ty)),
                    "{lens:?} {ty:?}: segment batch"
                );
            }
        }
    }
}
