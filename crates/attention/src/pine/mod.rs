//! PINE as attention plans (spec §1, DESIGN §3): per layer and query head, segments are ranked
//! by importance from pre-RoPE q·k and re-positioned by shifting their keys, which the kernel
//! applies by rotating the query. Keys stay in the cache post-RoPE at canonical positions; this
//! state keeps a pre-RoPE copy of the segment region's keys per layer for the rankings.

pub mod importance;
pub mod ranking;
mod region_store;

use std::sync::OnceLock;

use pine_backend::{AttentionPlan, Backend, CacheType, HeadRanges, KeyRange, QueryGroup};

use crate::layout::Geometry;
use crate::planner::{BatchSpec, Part};
use importance::{query_importance, segment_importance, RegionKeys};
use ranking::{rank, shifts};
use region_store::RegionStore;

/// What a PINE plan needs to know about the layout and the batch in flight.
pub(crate) struct PlanContext<'a> {
    pub(crate) geo: &'a Geometry,
    pub(crate) canonical: &'a [usize],
    pub(crate) tie_key: &'a [u64],
    pub(crate) spec: &'a BatchSpec,
}

/// Per-layer pre-RoPE segment keys and scratch for reading queries and keys back.
pub struct PineState {
    n_heads: usize,
    n_kv_heads: usize,
    head_dim: usize,
    region_keys: Vec<RegionStore>,
    q: Vec<f32>,
    k: Vec<f32>,
}

impl PineState {
    pub(crate) fn new(
        n_layers: usize,
        n_heads: usize,
        n_kv_heads: usize,
        head_dim: usize,
        key_type: CacheType,
    ) -> PineState {
        PineState {
            n_heads,
            n_kv_heads,
            head_dim,
            region_keys: (0..n_layers).map(|_| RegionStore::new(key_type)).collect(),
            q: Vec::new(),
            k: Vec::new(),
        }
    }

    pub(crate) fn plan<B: Backend>(
        &mut self,
        backend: &mut B,
        layer: usize,
        q: &B::Buffer,
        k: &B::Buffer,
        ctx: &PlanContext<'_>,
    ) -> Result<AttentionPlan, String> {
        let n = ctx.spec.ids.len();
        self.q.resize(n * self.n_heads * self.head_dim, 0.0);
        backend.read(q, &mut self.q);
        if ctx.spec.part == Part::Segments {
            self.k
                .resize(ctx.geo.region * self.n_kv_heads * self.head_dim, 0.0);
            backend.read(k, &mut self.k);
            self.region_keys[layer].fill(&self.k, self.n_kv_heads, self.head_dim);
        }
        let starts: Vec<usize> = ctx.geo.starts.iter().map(|s| s - ctx.geo.prefix).collect();
        let keys = RegionKeys {
            blocks: self.region_keys[layer].blocks(),
            tokens: ctx.geo.region,
            head_dim: self.head_dim,
            starts: &starts,
            lens: &ctx.geo.lens,
            canonical: ctx.canonical,
        };
        Ok(match ctx.spec.part {
            Part::Segments => self.segment_plan(backend, &keys, ctx),
            _ => self.suffix_plan(backend, &keys, ctx),
        })
    }

    fn q_row(&self, row: usize, h: usize) -> &[f32] {
        &self.q[(row * self.n_heads + h) * self.head_dim..][..self.head_dim]
    }

    fn kv_head(&self, h: usize) -> usize {
        h / (self.n_heads / self.n_kv_heads)
    }

    /// Ranges in assigned-position order: prefix, segments from farthest to nearest, then the
    /// query's own part (its segment, or the suffix so far).
    fn ranges(geo: &Geometry, order: &[usize], own: KeyRange) -> Vec<KeyRange> {
        let sh = shifts(order, &geo.lens);
        let mut r = Vec::with_capacity(order.len() + 2);
        if geo.prefix > 0 {
            r.push(KeyRange::new(0..geo.prefix, false));
        }
        for &j in order.iter().rev() {
            if own.keys != geo.segment(j) {
                r.push(KeyRange {
                    keys: geo.segment(j),
                    causal: false,
                    shift: sh[j],
                });
            }
        }
        r.push(own);
        r
    }

    fn segment_plan<B: Backend>(
        &self,
        backend: &B,
        keys: &RegionKeys<'_>,
        ctx: &PlanContext<'_>,
    ) -> AttentionPlan {
        let geo = ctx.geo;
        let n_seg = geo.lens.len();
        // Task h * n_seg + i: segment i's ranking for head h.
        let orders = host_map(backend, self.n_heads * n_seg, |t| {
            let (h, i) = (t / n_seg, t % n_seg);
            let mut imp = vec![0.0f32; n_seg];
            if n_seg >= 3 {
                let rows = geo.segment(i).map(|c| self.q_row(c - geo.prefix, h));
                segment_importance(keys, rows, i, self.kv_head(h), &mut imp);
            } else {
                imp[i] = f32::INFINITY;
            }
            rank(&imp, Some(i), ctx.tie_key)
        });
        let groups = (0..n_seg)
            .map(|i| {
                let seg = geo.segment(i);
                let rows = seg.start - ctx.spec.start..seg.end - ctx.spec.start;
                let lists = (0..self.n_heads)
                    .map(|h| {
                        let order = &orders[h * n_seg + i];
                        Self::ranges(geo, order, KeyRange::new(seg.clone(), true))
                    })
                    .collect();
                QueryGroup {
                    rows: rows.clone(),
                    positions: ctx.spec.positions[rows].to_vec(),
                    cache_index: seg.collect(),
                    ranges: HeadRanges::PerHead(lists),
                }
            })
            .collect();
        AttentionPlan { groups }
    }

    fn suffix_plan<B: Backend>(
        &self,
        backend: &B,
        keys: &RegionKeys<'_>,
        ctx: &PlanContext<'_>,
    ) -> AttentionPlan {
        let geo = ctx.geo;
        let spec = ctx.spec;
        let n_seg = geo.lens.len();
        // Task row * n_heads + h: the row's segment order for head h.
        let orders = host_map(backend, spec.ids.len() * self.n_heads, |t| {
            let (row, h) = (t / self.n_heads, t % self.n_heads);
            let mut imp = vec![0.0f32; n_seg];
            if n_seg > 0 {
                query_importance(keys, self.q_row(row, h), self.kv_head(h), &mut imp);
            }
            rank(&imp, None, ctx.tie_key)
        });
        let groups = orders
            .chunks_exact(self.n_heads)
            .enumerate()
            .map(|(row, per_head)| {
                let slot = spec.start + row;
                let own = geo.region_end()..slot + 1;
                let lists = per_head
                    .iter()
                    .map(|order| Self::ranges(geo, order, KeyRange::new(own.clone(), true)))
                    .collect();
                QueryGroup {
                    rows: row..row + 1,
                    positions: vec![spec.positions[row]],
                    cache_index: vec![slot],
                    ranges: HeadRanges::PerHead(lists),
                }
            })
            .collect();
        AttentionPlan { groups }
    }
}

/// `(0..n).map(f).collect()` with the tasks spread over the backend's host threads.
fn host_map<B: Backend, T: Send + Sync>(
    backend: &B,
    n: usize,
    f: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    let slots: Vec<OnceLock<T>> = (0..n).map(|_| OnceLock::new()).collect();
    backend.host_tasks(n, &|i| {
        slots[i].get_or_init(|| f(i));
    });
    slots
        .into_iter()
        .map(|s| s.into_inner().expect("host_tasks runs every task"))
        .collect()
}
