//! Turning a layout and an attention mode into forward batches and per-layer attention plans.
//!
//! A layout is evaluated as: the prefix (causal, in chunks), then the whole segment region as one
//! batch (PINE ranks each segment against all others at every layer, so all segment queries and
//! keys of a layer must exist together), then the suffix (in chunks), then one generated token at
//! a time. Every token's cache slot is its raw index.

use pine_backend::{AttentionPlan, AttentionShape, Backend, HeadRanges, KeyRange, QueryGroup};

use crate::layout::{Geometry, Layout};
use crate::mode::{AnchorPositions, AttentionMode, TieRule};
use crate::pine::PineState;

/// Rows per batch of the prefix and suffix (bounds activation memory).
pub const CHUNK: usize = 512;

/// Which part of the layout a batch holds; plans differ per part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Prefix tokens (ordinary causal attention).
    Prefix,
    /// The whole segment region.
    Segments,
    /// Suffix or generated tokens.
    Suffix,
}

/// One forward batch: consecutive raw tokens of one part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchSpec {
    /// The part these rows belong to.
    pub part: Part,
    /// Token ids.
    pub ids: Vec<u32>,
    /// Cache slot (= raw index) of the first row; rows are consecutive.
    pub start: usize,
    /// Canonical RoPE position of each row.
    pub positions: Vec<i64>,
}

impl BatchSpec {
    /// Cache slots of the rows.
    pub fn cache_index(&self) -> Vec<usize> {
        (self.start..self.start + self.ids.len()).collect()
    }
}

/// Builds the attention plan of each layer for the batch being evaluated.
pub trait Planner<B: Backend> {
    /// The plan for `layer`, given the batch's pre-RoPE queries `q` and keys `k` (PINE keeps
    /// the region's keys with `cache` and ranks segments from the backend's importance of the
    /// queries; other modes ignore them).
    fn plan(
        &mut self,
        backend: &mut B,
        cache: &mut B::Cache,
        layer: usize,
        shape: &AttentionShape,
        q: &B::Buffer,
        k: &B::Buffer,
    ) -> Result<AttentionPlan, String>;

    /// The next part of the layer's plan, when [`Planner::plan`] handed out only the first
    /// (a plan larger than the backend's [`Backend::plan_budget`] comes in parts of
    /// consecutive rows); `None` once the layer's plan is complete.
    fn next_part(&mut self, _backend: &B) -> Option<AttentionPlan> {
        None
    }

    /// Runs `layer`'s attention of the batch's pre-RoPE queries `q` into `out` in one backend
    /// call where the planner can ([`Backend::ranked_attention`]: PINE's decode rows), and says
    /// so; `Ok(false)`: nothing ran, and the caller plans the layer as usual.
    fn attend(
        &mut self,
        _backend: &mut B,
        _cache: &B::Cache,
        _layer: usize,
        _shape: &AttentionShape,
        _q: &B::Buffer,
        _out: &mut B::Buffer,
    ) -> Result<bool, String> {
        Ok(false)
    }
}

/// A planner that hands out the same plan for every layer (plain causal batches).
pub struct FixedPlanner(pub AttentionPlan);

impl<B: Backend> Planner<B> for FixedPlanner {
    fn plan(
        &mut self,
        _: &mut B,
        _: &mut B::Cache,
        _: usize,
        _: &AttentionShape,
        _: &B::Buffer,
        _: &B::Buffer,
    ) -> Result<AttentionPlan, String> {
        Ok(self.0.clone())
    }
}

/// The planner of one evaluated layout: knows its geometry and mode, the batch in flight, and
/// (for PINE) the scratch its rankings are made in.
pub struct LayoutPlanner {
    mode: AttentionMode,
    geo: Geometry,
    /// Segment indices in canonical (content) order; the order-free reduction and tie order.
    canonical: Vec<usize>,
    /// Tie-break key of each segment (smaller = placed nearer the query on ties).
    tie_key: Vec<u64>,
    current: Option<BatchSpec>,
    pine: Option<PineState>,
}

/// FNV-1a over the token ids: a content key that does not depend on the segment's index.
fn content_hash(tokens: &[u32]) -> u64 {
    tokens
        .iter()
        .flat_map(|t| t.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        })
}

impl LayoutPlanner {
    /// A planner for `layout` in `mode`.
    pub fn new(layout: &Layout, mode: AttentionMode) -> LayoutPlanner {
        let geo = layout.geometry();
        let n = layout.segments.len();
        let mut canonical: Vec<usize> = (0..n).collect();
        canonical.sort_by(|&a, &b| {
            let (sa, sb) = (&layout.segments[a], &layout.segments[b]);
            content_hash(sa)
                .cmp(&content_hash(sb))
                .then_with(|| sa.cmp(sb))
        });
        let mut tie_key = vec![0u64; n];
        for (rank, &j) in canonical.iter().enumerate() {
            tie_key[j] = match mode {
                AttentionMode::Pine(TieRule::InputOrder) => j as u64,
                _ => rank as u64,
            };
        }
        let pine = match mode {
            AttentionMode::Pine(_) => Some(PineState::new(&geo, &tie_key)),
            _ => None,
        };
        LayoutPlanner {
            mode,
            geo,
            canonical,
            tie_key,
            current: None,
            pine,
        }
    }

    /// The batches that evaluate the layout, in raw order.
    pub fn batches(&self, layout: &Layout) -> Vec<BatchSpec> {
        let g = &self.geo;
        let mut out = Vec::new();
        for (c, chunk) in layout.prefix.chunks(CHUNK).enumerate() {
            let start = c * CHUNK;
            out.push(BatchSpec {
                part: Part::Prefix,
                ids: chunk.to_vec(),
                start,
                positions: (start..start + chunk.len()).map(|p| p as i64).collect(),
            });
        }
        if g.region > 0 {
            let mut positions = Vec::with_capacity(g.region);
            for (i, &len) in g.lens.iter().enumerate() {
                for m in 0..len {
                    positions.push(self.segment_position(i, m));
                }
            }
            out.push(BatchSpec {
                part: Part::Segments,
                ids: layout.segments.concat(),
                start: g.prefix,
                positions,
            });
        }
        for (c, chunk) in layout.suffix.chunks(CHUNK).enumerate() {
            let start = g.region_end() + c * CHUNK;
            out.push(BatchSpec {
                part: Part::Suffix,
                ids: chunk.to_vec(),
                start,
                positions: (start..start + chunk.len())
                    .map(|r| self.suffix_position(r))
                    .collect(),
            });
        }
        out
    }

    /// The batch for one generated token stored at cache slot `slot`.
    pub fn decode_batch(&self, id: u32, slot: usize) -> BatchSpec {
        BatchSpec {
            part: Part::Suffix,
            ids: vec![id],
            start: slot,
            positions: vec![self.suffix_position(slot)],
        }
    }

    /// Makes `spec` the batch the next plans are for.
    pub fn begin(&mut self, spec: &BatchSpec) {
        self.current = Some(spec.clone());
    }

    /// Canonical position of token m of segment i.
    fn segment_position(&self, i: usize, m: usize) -> i64 {
        let g = &self.geo;
        let p = match self.mode {
            AttentionMode::Causal | AttentionMode::Anchor(AnchorPositions::Continuous) => {
                g.starts[i] + m
            }
            AttentionMode::Anchor(AnchorPositions::Reset) => g.prefix + m,
            AttentionMode::Pine(_) => g.region_end() - g.lens[i] + m,
        };
        p as i64
    }

    /// Canonical position of the suffix or generated token at raw index `r`.
    fn suffix_position(&self, r: usize) -> i64 {
        let g = &self.geo;
        match self.mode {
            AttentionMode::Anchor(AnchorPositions::Reset) => {
                let longest = g.lens.iter().copied().max().unwrap_or(0);
                (g.prefix + longest + (r - g.region_end())) as i64
            }
            _ => r as i64,
        }
    }

    /// Segments in canonical order, for order-free reductions.
    pub fn canonical_order(&self) -> &[usize] {
        &self.canonical
    }

    /// Tie-break key of each segment under this mode's tie rule.
    pub fn tie_keys(&self) -> &[u64] {
        &self.tie_key
    }

    /// The layout geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }

    fn static_plan(&self, spec: &BatchSpec) -> AttentionPlan {
        let g = &self.geo;
        let n = spec.ids.len();
        let end = spec.start + n;
        let whole = |rows, positions, cache_index, ranges| QueryGroup {
            rows,
            positions,
            cache_index,
            ranges: HeadRanges::Shared(ranges),
        };
        match (spec.part, self.mode) {
            (Part::Prefix, _)
            | (_, AttentionMode::Causal)
            | (Part::Suffix, AttentionMode::Anchor(AnchorPositions::Continuous)) => AttentionPlan {
                groups: vec![whole(
                    0..n,
                    spec.positions.clone(),
                    spec.cache_index(),
                    vec![KeyRange::new(0..end, true)],
                )],
            },
            (Part::Segments, AttentionMode::Anchor(_)) => {
                let groups = (0..g.lens.len())
                    .map(|i| {
                        let seg = g.segment(i);
                        let rows = seg.start - spec.start..seg.end - spec.start;
                        whole(
                            rows.clone(),
                            spec.positions[rows].to_vec(),
                            seg.clone().collect(),
                            vec![KeyRange::new(0..g.prefix, false), KeyRange::new(seg, true)],
                        )
                    })
                    .collect();
                AttentionPlan { groups }
            }
            (Part::Suffix, AttentionMode::Anchor(AnchorPositions::Reset)) => {
                let mut ranges = vec![KeyRange::new(0..g.prefix, false)];
                ranges.extend(
                    self.canonical
                        .iter()
                        .map(|&j| KeyRange::new(g.segment(j), false)),
                );
                ranges.push(KeyRange::new(g.region_end()..end, true));
                AttentionPlan {
                    groups: vec![whole(
                        0..n,
                        spec.positions.clone(),
                        spec.cache_index(),
                        ranges,
                    )],
                }
            }
            (_, AttentionMode::Pine(_)) => unreachable!("PINE plans are dynamic"),
        }
    }
}

impl<B: Backend> Planner<B> for LayoutPlanner {
    fn plan(
        &mut self,
        backend: &mut B,
        cache: &mut B::Cache,
        layer: usize,
        shape: &AttentionShape,
        q: &B::Buffer,
        k: &B::Buffer,
    ) -> Result<AttentionPlan, String> {
        let spec = self.current.as_ref().ok_or("no batch in flight")?;
        if spec.part == Part::Prefix || !matches!(self.mode, AttentionMode::Pine(_)) {
            return Ok(self.static_plan(spec));
        }
        let pine = self.pine.as_mut().ok_or("PINE state missing")?;
        let ctx = crate::pine::PlanContext {
            geo: &self.geo,
            canonical: &self.canonical,
            spec,
        };
        pine.plan(backend, cache, layer, shape, q, k, &ctx)
    }

    fn next_part(&mut self, backend: &B) -> Option<AttentionPlan> {
        let spec = self.current.as_ref()?;
        let ctx = crate::pine::PlanContext {
            geo: &self.geo,
            canonical: &self.canonical,
            spec,
        };
        self.pine.as_mut()?.next_part(backend, &ctx)
    }

    fn attend(
        &mut self,
        backend: &mut B,
        cache: &B::Cache,
        layer: usize,
        shape: &AttentionShape,
        q: &B::Buffer,
        out: &mut B::Buffer,
    ) -> Result<bool, String> {
        let spec = self.current.as_ref().ok_or("no batch in flight")?;
        let decode_row = spec.part == Part::Suffix && spec.ids.len() == 1;
        let Some(pine) = self
            .pine
            .as_ref()
            .filter(|_| decode_row && !self.geo.lens.is_empty())
        else {
            return Ok(false);
        };
        let ctx = crate::pine::PlanContext {
            geo: &self.geo,
            canonical: &self.canonical,
            spec,
        };
        pine.attend_row(backend, cache, layer, shape, q, &ctx, out)?;
        Ok(true)
    }
}
