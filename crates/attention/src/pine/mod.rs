//! PINE as attention plans (spec §1, DESIGN §3): per layer and query head, segments are ranked
//! by importance from pre-RoPE q·k and re-positioned by shifting their keys, which the kernel
//! applies by rotating the query. Keys stay in the cache post-RoPE at canonical positions; the
//! backend keeps a pre-RoPE copy of the segment region's keys per layer with the cache and
//! computes the importance tables the rankings are made from.

pub mod ranking;

use std::ops::Range;
use std::sync::{Mutex, OnceLock, PoisonError};

use pine_backend::{
    AttentionPlan, AttentionShape, Backend, HeadRanges, ImportanceRows, KeyRange, QueryGroup,
    RankedRow, RegionGeometry,
};

use crate::layout::Geometry;
use crate::planner::{BatchSpec, Part};
use ranking::Ranker;

/// What a PINE plan needs to know about the layout and the batch in flight.
pub(crate) struct PlanContext<'a> {
    pub(crate) geo: &'a Geometry,
    pub(crate) canonical: &'a [usize],
    pub(crate) spec: &'a BatchSpec,
}

/// The segments' region-relative starts, the importance table the backend fills and the
/// ranking scratch (reused between layers).
pub struct PineState {
    starts: Vec<usize>,
    table: Vec<f32>,
    /// The layout's ranker, whose tie ranks every task's ranker copies.
    ranker: Ranker,
    /// Rankers with their scratch (and an order buffer) that tasks took and gave back, kept
    /// from one plan to the next.
    spare: Mutex<Vec<(Ranker, Vec<usize>)>>,
    /// The groups of the layer's plan still to hand out, when the backend's budget split it.
    pending: Option<Pending>,
}

/// The rest of a layer's plan: groups `next..end`, `per` at a time, of `n_heads` heads.
struct Pending {
    segments: bool,
    next: usize,
    end: usize,
    per: usize,
    n_heads: usize,
}

impl PineState {
    pub(crate) fn new(geo: &Geometry, tie_key: &[u64]) -> PineState {
        PineState {
            starts: geo.starts.iter().map(|s| s - geo.prefix).collect(),
            table: Vec::new(),
            ranker: Ranker::new(tie_key),
            spare: Mutex::new(Vec::new()),
            pending: None,
        }
    }

    /// The plan of `layer` for the batch in flight: the segment batch first stores its
    /// pre-RoPE keys `k` with the cache, then every batch ranks from the backend's
    /// importance of its queries `q`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn plan<B: Backend>(
        &mut self,
        backend: &mut B,
        cache: &mut B::Cache,
        layer: usize,
        shape: &AttentionShape,
        q: &B::Buffer,
        k: &B::Buffer,
        ctx: &PlanContext<'_>,
    ) -> Result<AttentionPlan, String> {
        let geo = ctx.geo;
        let n_seg = geo.lens.len();
        let segments = ctx.spec.part == Part::Segments;
        if segments {
            backend
                .store_region_keys(cache, layer, k, geo.region)
                .map_err(|e| e.to_string())?;
        }
        let rows = if segments {
            ImportanceRows::Segments
        } else {
            ImportanceRows::Queries(ctx.spec.ids.len())
        };
        // The n = 2 rule (§1.4): two segments always see each other as nearest, no scores.
        let scored = if segments { n_seg >= 3 } else { n_seg > 0 };
        self.table.clear();
        self.table.resize(rows.table_len(shape.n_heads, n_seg), 0.0);
        if scored {
            let region = RegionGeometry {
                starts: &self.starts,
                lens: &geo.lens,
                canonical: ctx.canonical,
            };
            backend
                .importance(cache, layer, shape, q, &region, rows, &mut self.table)
                .map_err(|e| e.to_string())?;
        }
        // A group (a segment, or a suffix row) holds about n_seg + 2 ranges per head; a
        // backend with a budget gets the plan in parts of whole groups within it.
        let n_groups = if segments { n_seg } else { ctx.spec.ids.len() };
        let per_group = shape.n_heads * (n_seg + 2);
        let per = match backend.plan_budget() {
            Some(budget) => (budget / per_group).clamp(1, n_groups.max(1)),
            None => n_groups,
        };
        self.pending = Some(Pending {
            segments,
            next: 0,
            end: n_groups,
            per,
            n_heads: shape.n_heads,
        });
        Ok(self
            .next_part(backend, ctx)
            .unwrap_or(AttentionPlan { groups: Vec::new() }))
    }

    /// The next part of the layer's plan (after [`PineState::plan`] handed out the first),
    /// or `None` when the layer's plan is complete.
    pub(crate) fn next_part<B: Backend>(
        &mut self,
        backend: &B,
        ctx: &PlanContext<'_>,
    ) -> Option<AttentionPlan> {
        let p = self.pending.as_mut()?;
        if p.next >= p.end {
            self.pending = None;
            return None;
        }
        let groups = p.next..(p.next + p.per).min(p.end);
        p.next = groups.end;
        let (segments, n_heads) = (p.segments, p.n_heads);
        Some(if segments {
            self.segment_plan(backend, n_heads, ctx, groups)
        } else {
            self.suffix_plan(backend, n_heads, ctx, groups)
        })
    }

    /// The attention of a decode row (the one-row suffix batch in flight) in one backend call
    /// ([`Backend::ranked_attention`]), each head ranked as [`PineState::plan`] ranks a suffix
    /// row; a backend may rank on its own threads, so each call takes a ranker from the stock.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attend_row<B: Backend>(
        &self,
        backend: &mut B,
        cache: &B::Cache,
        layer: usize,
        shape: &AttentionShape,
        q: &B::Buffer,
        ctx: &PlanContext<'_>,
        out: &mut B::Buffer,
    ) -> Result<(), String> {
        let geo = ctx.geo;
        let n_seg = geo.lens.len();
        let slot = ctx.spec.start;
        let own = KeyRange::new(geo.region_end()..slot + 1, true);
        let spare = || self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        let rank = |heads: Range<usize>, table: &[f32]| {
            let taken = spare().pop();
            let (mut ranker, mut order) =
                taken.unwrap_or_else(|| (self.ranker.clone(), Vec::new()));
            let lists = table
                .chunks_exact(n_seg)
                .take(heads.len())
                .map(|imp| {
                    ranker.rank(imp, None, &mut order);
                    Self::ranges(geo, &order, own.clone())
                })
                .collect();
            spare().push((ranker, order));
            lists
        };
        let row = RankedRow {
            position: ctx.spec.positions[0],
            slot,
            region: geo.prefix..geo.region_end(),
            geo: RegionGeometry {
                starts: &self.starts,
                lens: &geo.lens,
                canonical: ctx.canonical,
            },
            rank: &rank,
        };
        backend
            .ranked_attention(cache, layer, shape, q, &row, out)
            .map_err(|e| e.to_string())
    }

    /// Ranges in assigned-position order: prefix, segments from farthest to nearest (`order`
    /// is rank 0 first), then the query's own part (its segment, or the suffix so far). A
    /// segment's shift is the length of the segments ranked before it (see
    /// [`ranking::shifts`]): walking from the farthest, the region minus what has been passed.
    fn ranges(geo: &Geometry, order: &[usize], own: KeyRange) -> Vec<KeyRange> {
        let mut r = Vec::with_capacity(order.len() + 2);
        if geo.prefix > 0 {
            r.push(KeyRange::new(0..geo.prefix, false));
        }
        let mut before = geo.region as i64;
        for &j in order.iter().rev() {
            let keys = geo.segment(j);
            before -= geo.lens[j] as i64;
            if own.keys != keys {
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

    /// The groups of segments `which`.
    fn segment_plan<B: Backend>(
        &self,
        backend: &B,
        n_heads: usize,
        ctx: &PlanContext<'_>,
        which: Range<usize>,
    ) -> AttentionPlan {
        let geo = ctx.geo;
        let n_seg = geo.lens.len();
        let groups = self.groups(backend, which, |i, ranker, order| {
            let seg = geo.segment(i);
            let rows = seg.start - ctx.spec.start..seg.end - ctx.spec.start;
            let lists = (0..n_heads)
                .map(|h| {
                    // Unscored (n = 2), the table is zeros: the own segment is rank 0
                    // whatever its entries, the other one comes next.
                    let imp = &self.table[(h * n_seg + i) * n_seg..][..n_seg];
                    ranker.rank(imp, Some(i), order);
                    Self::ranges(geo, order, KeyRange::new(seg.clone(), true))
                })
                .collect();
            QueryGroup {
                rows: rows.clone(),
                positions: ctx.spec.positions[rows].to_vec(),
                cache_index: seg.collect(),
                ranges: HeadRanges::PerHead(lists),
            }
        });
        AttentionPlan { groups }
    }

    /// The groups of suffix rows `which`.
    fn suffix_plan<B: Backend>(
        &self,
        backend: &B,
        n_heads: usize,
        ctx: &PlanContext<'_>,
        which: Range<usize>,
    ) -> AttentionPlan {
        let geo = ctx.geo;
        let spec = ctx.spec;
        let n_seg = geo.lens.len();
        let groups = self.groups(backend, which, |row, ranker, order| {
            let slot = spec.start + row;
            let own = geo.region_end()..slot + 1;
            let lists = (0..n_heads)
                .map(|h| {
                    let imp = &self.table[(row * n_heads + h) * n_seg..][..n_seg];
                    ranker.rank(imp, None, order);
                    Self::ranges(geo, order, KeyRange::new(own.clone(), true))
                })
                .collect();
            QueryGroup {
                rows: row..row + 1,
                positions: vec![spec.positions[row]],
                cache_index: vec![slot],
                ranges: HeadRanges::PerHead(lists),
            }
        });
        AttentionPlan { groups }
    }

    /// `group(k, ranker, order)` for every `k` of `which`, in order: built on the backend's
    /// host threads, [`GROUPS_PER_TASK`] to a task, each task ranking with its own scratch.
    /// A layer ranks n segments' views of n segments per head, which for many short segments
    /// is as much work as their attention.
    fn groups<B: Backend>(
        &self,
        backend: &B,
        which: Range<usize>,
        group: impl Fn(usize, &mut Ranker, &mut Vec<usize>) -> QueryGroup + Sync,
    ) -> Vec<QueryGroup> {
        let built: Vec<OnceLock<QueryGroup>> = which.clone().map(|_| OnceLock::new()).collect();
        let tasks = built.len().div_ceil(GROUPS_PER_TASK);
        let spare = || self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        backend.host_tasks(tasks, &|t| {
            let taken = spare().pop();
            let (mut ranker, mut order) =
                taken.unwrap_or_else(|| (self.ranker.clone(), Vec::new()));
            let part = t * GROUPS_PER_TASK..built.len().min((t + 1) * GROUPS_PER_TASK);
            for k in part {
                let g = group(which.start + k, &mut ranker, &mut order);
                // Each slot is set once: its task is the only one that reaches it.
                let _ = built[k].set(g);
            }
            spare().push((ranker, order));
        });
        built.into_iter().filter_map(OnceLock::into_inner).collect()
    }
}

/// Plan groups built by one host task: enough to outweigh handing the task out (a group of
/// n segments ranks n per head), few enough that two threads share a 20-segment layer.
const GROUPS_PER_TASK: usize = 4;
