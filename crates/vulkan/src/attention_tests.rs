//! The Vulkan cache store and plan-driven attention against the CPU backend: causal plans and a
//! PINE-like plan with per-head range lists and position shifts, f32 and f16 caches; bit for
//! bit where the device has f64.

use pine_backend::{
    AttentionPlan, AttentionShape, Backend, CacheSpec, CacheType, CpuBackend, HeadRanges, KeyRange,
    MatmulMode, QueryGroup, Rope, RopeScaling, VulkanNumerics,
};

use crate::test_support::{backend, values};

const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const HD: usize = 64;

fn shape() -> AttentionShape {
    AttentionShape {
        n_heads: HEADS,
        n_kv_heads: KV_HEADS,
        head_dim: HD,
        rope: Rope::new(HD, 10000.0, &RopeScaling::None, None).with_table(256),
        logit_softcap: None,
    }
}

/// Stores 150 keys in two batches, then runs `plan` for 6 query rows, the scores soft-capped
/// at `cap` when given (Gemma 2).
fn run<B: Backend>(b: &mut B, ty: CacheType, plan: &AttentionPlan, cap: Option<f32>) -> Vec<f32> {
    let sh = AttentionShape {
        logit_softcap: cap,
        ..shape()
    };
    let kvw = KV_HEADS * HD;
    let mut cache = b
        .new_cache(CacheSpec {
            n_layers: 2,
            n_ctx: 200,
            n_kv_heads: KV_HEADS,
            head_dim: HD,
            ty,
        })
        .unwrap();
    for (start, n) in [(0usize, 100usize), (100, 50)] {
        let mut k = b.buffer(n * kvw);
        let mut v = b.buffer(n * kvw);
        b.write(&mut k, &values(n * kvw, start as u64 + 1));
        b.write(&mut v, &values(n * kvw, start as u64 + 7));
        let slots: Vec<usize> = (start..start + n).collect();
        // Raw slot order differs from positions, as under PINE.
        let pos: Vec<i64> = slots.iter().map(|&s| (s as i64 * 7) % 150).collect();
        b.store_kv(&mut cache, 1, &sh, &k, &v, &slots, &pos)
            .unwrap();
    }
    let mut q = b.buffer(6 * HEADS * HD);
    b.write(
        &mut q,
        &values(6 * HEADS * HD, 99)
            .iter()
            .map(|x| x * 3.0)
            .collect::<Vec<_>>(),
    );
    let mut out = b.buffer(6 * HEADS * HD);
    b.attention(&cache, 1, &sh, &q, plan, &mut out).unwrap();
    let mut host = vec![0.0; 6 * HEADS * HD];
    b.read(&out, &mut host);
    b.take_error().unwrap();
    host
}

fn plans() -> Vec<(&'static str, AttentionPlan)> {
    let per_head = (0..HEADS)
        .map(|h| {
            vec![
                KeyRange::new(0..10, false),
                KeyRange {
                    keys: 60..100,
                    causal: false,
                    shift: 3 * h as i64 + 1,
                },
                KeyRange {
                    keys: 10..60,
                    causal: false,
                    shift: -(h as i64),
                },
                KeyRange::new(140..150, true),
            ]
        })
        .collect();
    vec![
        ("causal", AttentionPlan::causal(144, 6)),
        (
            "per-head shifts",
            AttentionPlan {
                groups: vec![
                    QueryGroup {
                        rows: 0..4,
                        positions: vec![150, 151, 152, 153],
                        cache_index: vec![140, 141, 142, 143],
                        ranges: HeadRanges::PerHead(per_head),
                    },
                    QueryGroup {
                        rows: 4..6,
                        positions: vec![40, 170],
                        cache_index: vec![148, 149],
                        ranges: HeadRanges::Shared(vec![KeyRange::new(100..150, true)]),
                    },
                ],
            },
        ),
    ]
}

/// In both numeric modes, to the same bounds (fast numerics' native fma and division move the
/// scores and softmax by a few ulp, far inside them).
#[test]
fn attention_matches_the_cpu_for_causal_and_shifted_plans() {
    for numerics in [VulkanNumerics::Exact, VulkanNumerics::Fast] {
        attention_matches(numerics);
    }
}

fn attention_matches(numerics: VulkanNumerics) {
    let Some(mut vk) = backend(MatmulMode::Native, numerics) else {
        return;
    };
    let mut cpu = CpuBackend::new(2, MatmulMode::Native).unwrap();
    for (ty, tol) in [(CacheType::F32, 2e-6f32), (CacheType::F16, 2e-3)] {
        for ((name, plan), cap) in plans()
            .into_iter()
            .flat_map(|p| [(p.clone(), None), (p, Some(0.5))])
        {
            let got = run(&mut vk, ty, &plan, cap);
            let want = run(&mut cpu, ty, &plan, cap);
            let worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                worst <= tol,
                "{name} {ty:?} cap {cap:?} {numerics:?}: max |Δ| {worst} > {tol}"
            );
        }
    }
}
