//! The CPU backend: weights used in place from the memory-mapped file (Q4_0, Q4_1 and Q8_0
//! repacked at load, 16 rows interleaved, where the CPU has the 512-bit kernels), matmuls through
//! the quant engine on a dedicated spinning thread pool sized by `-t` (the calling thread takes
//! part), and the plan-driven attention kernel.

mod attention;
#[cfg(target_arch = "x86_64")]
mod attention_avx512;
#[cfg(test)]
mod attention_tests;
#[cfg(target_arch = "x86_64")]
mod attention_x86;
mod batch_keys;
mod kv_cache;
mod ops;

use std::sync::Arc;

use pine_gguf::{GgmlType, Gguf, TensorInfo};
use pine_pool::Pool;
use pine_quant::matmul::{
    matmul, matmul_packed, matmul_packed_many, MatmulScratch, PackedWeights, Precision,
};
use pine_quant::matmul::{WeightView, GROUP};
use pine_quant::{dequantize_row, dequantize_tensor};

use crate::backend::{
    ranked_attention_in_steps, AttentionShape, Backend, CacheSpec, MatmulMode, WeightSource,
};
use crate::error::BackendError;
use crate::importance::{
    check_request, importance_task, importance_tasks, ImportanceRows, RegionGeometry,
};
use crate::plan::{AttentionPlan, RankedRow};

pub use kv_cache::CpuCache;

/// A weight as the CPU backend holds it.
pub enum CpuWeight {
    /// A matrix used in place from the mapped file.
    Mapped {
        file: Arc<Gguf>,
        info: TensorInfo,
        rows: usize,
        cols: usize,
    },
    /// A matrix repacked for the interleaved kernels (native mode, Q4_0/Q4_1/Q8_0 on CPUs with
    /// AVX-512 VNNI); the file's bytes still serve embedding lookups.
    Packed {
        packed: PackedWeights,
        file: Arc<Gguf>,
        info: TensorInfo,
    },
    /// A matrix dequantized to f32 (reference mode), stored as little-endian F32 bytes.
    Dense {
        bytes: Vec<u8>,
        rows: usize,
        cols: usize,
    },
    /// A vector (norm weights), dequantized to f32.
    Vector(Vec<f32>),
}

impl CpuWeight {
    fn view(&self) -> Result<WeightView<'_>, BackendError> {
        match self {
            CpuWeight::Mapped {
                file,
                info,
                rows,
                cols,
            } => Ok(WeightView {
                ty: info.ty,
                rows: *rows,
                cols: *cols,
                data: file.tensor_data(info),
            }),
            CpuWeight::Packed { packed, file, info } => Ok(WeightView {
                ty: info.ty,
                rows: packed.rows(),
                cols: packed.cols(),
                data: file.tensor_data(info),
            }),
            CpuWeight::Dense { bytes, rows, cols } => Ok(WeightView {
                ty: GgmlType::F32,
                rows: *rows,
                cols: *cols,
                data: bytes,
            }),
            CpuWeight::Vector(_) => Err(BackendError::Plan("a vector used as a matrix".into())),
        }
    }

    fn vector(&self) -> &[f32] {
        match self {
            CpuWeight::Vector(v) => v,
            _ => &[],
        }
    }
}

/// The CPU backend.
pub struct CpuBackend {
    pool: Pool,
    mode: MatmulMode,
    scratch: MatmulScratch,
    /// A prefill batch's blocked keys, reused from layer to layer (boxed: the backend handle
    /// stays small).
    keys: Box<batch_keys::BatchKeys>,
    /// The most key ranges one attention plan part holds ([`Backend::plan_budget`]).
    plan_budget: usize,
}

/// Key ranges a plan part holds by default: 2M ranges are 64 MiB, while PINE over 1000
/// segments of a 9-head model would hold 9M (288 MiB) per layer in one plan.
const PLAN_BUDGET: usize = 1 << 21;

impl CpuBackend {
    /// A backend computing on `threads` threads (0 = all cores) in the given matmul mode.
    pub fn new(threads: usize, mode: MatmulMode) -> Result<CpuBackend, BackendError> {
        let pool = Pool::new(threads)
            .map_err(|e| BackendError::Plan(format!("cannot start {threads} threads: {e}")))?;
        Ok(CpuBackend {
            pool,
            mode,
            scratch: MatmulScratch::default(),
            keys: Box::default(),
            plan_budget: PLAN_BUDGET,
        })
    }

    /// Sets the most key ranges one attention plan part holds (at least 1): smaller bounds a
    /// many-segment PINE layout's plan memory more tightly, at the cost of more parts. The
    /// results are the same bits whatever the budget.
    pub fn set_plan_budget(&mut self, ranges: usize) {
        self.plan_budget = ranges.max(1);
    }

    /// Threads in the pool.
    pub fn threads(&self) -> usize {
        self.pool.threads()
    }
}

fn quant_err(op: &str, name: &str) -> impl FnOnce(pine_quant::QuantError) -> BackendError {
    let op = format!("{op} '{name}'");
    move |source| BackendError::Quant { op, source }
}

impl Backend for CpuBackend {
    type Weight = CpuWeight;
    type Buffer = Vec<f32>;
    type Cache = CpuCache;

    fn name(&self) -> &str {
        "cpu"
    }

    fn load_weight(&mut self, src: WeightSource<'_>) -> Result<CpuWeight, BackendError> {
        let info = src.info;
        let cols = info.row_len() as usize;
        let rows = info.n_rows() as usize;
        if info.dims.len() <= 1 {
            let mut v = vec![0.0; cols];
            dequantize_row(info.ty, src.file.tensor_data(info), &mut v)
                .map_err(quant_err("dequantize", &info.name))?;
            return Ok(CpuWeight::Vector(v));
        }
        if self.mode == MatmulMode::F32 {
            let mut v = vec![0.0f32; rows * cols];
            dequantize_tensor(info.ty, src.file.tensor_data(info), &mut v)
                .map_err(quant_err("dequantize", &info.name))?;
            let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            return Ok(CpuWeight::Dense { bytes, rows, cols });
        }
        if rows >= GROUP && PackedWeights::supported(info.ty) {
            let data = src.file.tensor_data(info);
            let packed = PackedWeights::pack(&self.pool, info.ty, rows, cols, data)
                .map_err(quant_err("repack", &info.name))?;
            src.file.release_tensor_pages(info);
            return Ok(CpuWeight::Packed {
                packed,
                file: Arc::clone(src.file),
                info: info.clone(),
            });
        }
        Ok(CpuWeight::Mapped {
            file: Arc::clone(src.file),
            info: info.clone(),
            rows,
            cols,
        })
    }

    fn buffer(&mut self, len: usize) -> Vec<f32> {
        vec![0.0; len]
    }

    fn write(&mut self, buf: &mut Vec<f32>, data: &[f32]) {
        buf[..data.len()].copy_from_slice(data);
    }

    fn read(&mut self, buf: &Vec<f32>, out: &mut [f32]) {
        out.copy_from_slice(&buf[..out.len()]);
    }

    fn select_rows(&mut self, x: &Vec<f32>, width: usize, rows: &[usize], out: &mut Vec<f32>) {
        for (i, &r) in rows.iter().enumerate() {
            out[i * width..(i + 1) * width].copy_from_slice(&x[r * width..(r + 1) * width]);
        }
    }

    fn embed(
        &mut self,
        table: &CpuWeight,
        ids: &[u32],
        out: &mut Vec<f32>,
    ) -> Result<(), BackendError> {
        let view = table.view()?;
        let row_bytes = view.data.len() / view.rows.max(1);
        for (i, &id) in ids.iter().enumerate() {
            let id = id as usize;
            if id >= view.rows {
                return Err(BackendError::Tensor {
                    name: "token_embd.weight".into(),
                    what: format!("token id {id} is outside the vocabulary of {}", view.rows),
                });
            }
            let src = &view.data[id * row_bytes..(id + 1) * row_bytes];
            dequantize_row(view.ty, src, &mut out[i * view.cols..(i + 1) * view.cols])
                .map_err(quant_err("embed", "token_embd.weight"))?;
        }
        Ok(())
    }

    fn add_bias(&mut self, x: &mut Vec<f32>, bias: &CpuWeight, n: usize) {
        let b = bias.vector();
        for row in x[..n * b.len()].chunks_exact_mut(b.len()) {
            for (v, &bv) in row.iter_mut().zip(b) {
                *v += bv;
            }
        }
    }

    fn rms_norm(
        &mut self,
        x: &Vec<f32>,
        weight: &CpuWeight,
        eps: f32,
        n: usize,
        out: &mut Vec<f32>,
    ) {
        ops::rms_norm(&self.pool, x, weight.vector(), eps, n, out);
    }

    fn matmul(
        &mut self,
        w: &CpuWeight,
        x: &Vec<f32>,
        n: usize,
        out: &mut Vec<f32>,
    ) -> Result<(), BackendError> {
        if let CpuWeight::Packed { packed, .. } = w {
            let (rows, cols) = (packed.rows(), packed.cols());
            return matmul_packed(
                &self.pool,
                packed,
                &x[..n * cols],
                n,
                &mut out[..n * rows],
                &mut self.scratch,
            )
            .map_err(quant_err("matmul", "weight"));
        }
        let view = w.view()?;
        // Dense weights are already f32, whose native partner is f32 activations: the fast SIMD
        // f32 kernel is the reference mode.
        let precision = match (self.mode, w) {
            (MatmulMode::F32, CpuWeight::Mapped { .. }) => Precision::F32,
            _ => Precision::Native,
        };
        let scratch = &mut self.scratch;
        matmul(
            &self.pool,
            &view,
            &x[..n * view.cols],
            n,
            &mut out[..n * view.rows],
            scratch,
            precision,
        )
        .map_err(quant_err("matmul", "weight"))
    }

    fn matmul_many<const N: usize>(
        &mut self,
        ws: [&CpuWeight; N],
        x: &Vec<f32>,
        n: usize,
        outs: [&mut Vec<f32>; N],
    ) -> Result<(), BackendError> {
        let packed = ws.map(|w| match w {
            CpuWeight::Packed { packed, .. } => Some(packed),
            _ => None,
        });
        // One job only for packed weights that share the quantized x.
        let first = packed
            .first()
            .copied()
            .flatten()
            .filter(|f| packed.iter().all(|p| p.is_some_and(|p| p.shares_input(f))));
        let Some(first) = first else {
            for (w, out) in ws.into_iter().zip(outs) {
                self.matmul(w, x, n, out)?;
            }
            return Ok(());
        };
        let ws = packed.map(|p| p.expect("checked: every weight is packed"));
        let cols = first.cols();
        let mut rows = ws.map(PackedWeights::rows).into_iter();
        let ys = outs.map(|o| &mut o[..n * rows.next().unwrap_or(0)]);
        matmul_packed_many(&self.pool, ws, &x[..n * cols], n, ys, &mut self.scratch)
            .map_err(quant_err("matmul", "weight"))
    }

    fn swiglu(&mut self, gate: &mut Vec<f32>, up: &Vec<f32>, len: usize) {
        ops::swiglu(&self.pool, &mut gate[..len], &up[..len]);
    }

    fn geglu(&mut self, gate: &mut Vec<f32>, up: &Vec<f32>, len: usize) {
        ops::geglu(&self.pool, &mut gate[..len], &up[..len]);
    }

    fn scale(&mut self, x: &mut Vec<f32>, s: f32, len: usize) {
        ops::scale(&self.pool, &mut x[..len], s);
    }

    fn add(&mut self, acc: &mut Vec<f32>, x: &Vec<f32>, len: usize) {
        ops::add(&self.pool, &mut acc[..len], &x[..len]);
    }

    fn new_cache(&mut self, spec: CacheSpec) -> Result<CpuCache, BackendError> {
        CpuCache::new(spec)
    }

    fn store_kv(
        &mut self,
        cache: &mut CpuCache,
        layer: usize,
        shape: &AttentionShape,
        k: &Vec<f32>,
        v: &Vec<f32>,
        cache_index: &[usize],
        positions: &[i64],
    ) -> Result<(), BackendError> {
        let width = shape.n_kv_heads * shape.head_dim;
        let n_ctx = cache.spec.n_ctx;
        if positions.len() != cache_index.len() {
            return Err(BackendError::Plan(format!(
                "store_kv: {} positions for {} cache slots",
                positions.len(),
                cache_index.len()
            )));
        }
        if let Some(&slot) = cache_index.iter().find(|&&s| s >= n_ctx) {
            return Err(BackendError::Plan(format!(
                "cache slot {slot} is past the context size {n_ctx}"
            )));
        }
        let lc = &mut cache.layers[layer];
        lc.release_held(cache_index);
        let hd = shape.head_dim;
        // A batch's rows usually fill consecutive slots: one split write each for K and V.
        // Anything else goes row by row.
        let rows = cache_index.len();
        let run = match cache_index.windows(2).all(|w| w[1] == w[0] + 1) {
            true => rows,
            false => 1,
        };
        for first in (0..rows).step_by(run.max(1)) {
            let (slot, n) = (cache_index[first], run);
            for kvh in 0..shape.n_kv_heads {
                let at = lc.at(slot, kvh);
                lc.k.put_rows(&self.pool, at, hd, n, |i, row| {
                    let i = first + i;
                    row.copy_from_slice(&k[i * width + kvh * hd..][..hd]);
                    shape.rope.rotate(row, positions[i]);
                });
                lc.v.put_rows(&self.pool, at, hd, n, |i, row| {
                    let i = first + i;
                    row.copy_from_slice(&v[i * width + kvh * hd..][..hd]);
                });
            }
        }
        Ok(())
    }

    fn attention(
        &mut self,
        cache: &CpuCache,
        layer: usize,
        shape: &AttentionShape,
        q: &Vec<f32>,
        plan: &AttentionPlan,
        out: &mut Vec<f32>,
    ) -> Result<(), BackendError> {
        plan.validate_rows(plan.rows(), cache.spec.n_ctx, shape.n_heads)
            .map_err(BackendError::Plan)?;
        let lc = &cache.layers[layer];
        attention::attend(&self.pool, lc, shape, q, plan, &mut self.keys, out);
        Ok(())
    }

    fn plan_budget(&self) -> Option<usize> {
        Some(self.plan_budget)
    }

    fn host_tasks(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        self.pool.for_each(n, f);
    }

    fn store_region_keys(
        &mut self,
        cache: &mut CpuCache,
        layer: usize,
        k: &Vec<f32>,
        tokens: usize,
    ) -> Result<(), BackendError> {
        let (heads, hd) = (cache.spec.n_kv_heads, cache.spec.head_dim);
        if k.len() < tokens * heads * hd {
            return Err(BackendError::Plan(format!(
                "region keys: {tokens} rows of {} wanted, the key buffer holds {}",
                heads * hd,
                k.len()
            )));
        }
        cache.layers[layer].region.fill(k, tokens, heads, hd);
        Ok(())
    }

    fn importance(
        &mut self,
        cache: &CpuCache,
        layer: usize,
        shape: &AttentionShape,
        q: &Vec<f32>,
        geo: &RegionGeometry<'_>,
        rows: ImportanceRows,
        out: &mut [f32],
    ) -> Result<(), BackendError> {
        let store = &cache.layers[layer].region;
        check_request(
            store.tokens(),
            store.heads(),
            shape.n_heads,
            geo,
            rows,
            out.len(),
        )
        .map_err(BackendError::Plan)?;
        let q_len = rows.query_rows(store.tokens()) * shape.n_heads * store.head_dim();
        if q.len() < q_len || shape.head_dim != store.head_dim() {
            return Err(BackendError::Plan(format!(
                "importance: {q_len} query values of head dim {} wanted, the buffer holds {} of head dim {}",
                store.head_dim(),
                q.len(),
                shape.head_dim
            )));
        }
        let (n_heads, n_seg) = (shape.n_heads, geo.lens.len());
        let tasks = importance_tasks(rows, n_heads, store.heads(), geo.lens);
        // The tasks' entries tile the table in order: one part of it each.
        let mut parts = Vec::with_capacity(tasks.len());
        let mut rest = out;
        for t in &tasks {
            let (part, tail) = rest.split_at_mut(t.entries(n_heads, store.heads(), n_seg).len());
            parts.push(std::sync::Mutex::new(part));
            rest = tail;
        }
        self.pool.for_each(tasks.len(), |t| {
            let mut part = parts[t].lock().unwrap_or_else(|e| e.into_inner());
            importance_task(store, q, n_heads, geo, &tasks[t], &mut part)
        });
        Ok(())
    }

    fn ranked_attention(
        &mut self,
        cache: &CpuCache,
        layer: usize,
        shape: &AttentionShape,
        q: &Vec<f32>,
        row: &RankedRow<'_>,
        out: &mut Vec<f32>,
    ) -> Result<(), BackendError> {
        let (nh, hd) = (shape.n_heads, shape.head_dim);
        let n_seg = row.geo.lens.len();
        if n_seg == 0 || !attention::multi_for(hd) {
            return ranked_attention_in_steps(self, cache, layer, shape, q, row, out);
        }
        let lc = &cache.layers[layer];
        let store = &lc.region;
        let rows = ImportanceRows::Queries(1);
        let table = rows.table_len(nh, n_seg);
        check_request(store.tokens(), store.heads(), nh, &row.geo, rows, table)
            .map_err(BackendError::Plan)?;
        let n_ctx = cache.spec.n_ctx;
        let region_heads = (store.heads(), store.head_dim());
        if q.len() < nh * hd || out.len() < nh * hd || region_heads != (shape.n_kv_heads, hd) {
            return Err(BackendError::Plan(format!(
                "ranked row: {nh} heads of {hd} (KV heads {}) wanted, the query holds {} values, \
                 the output {}, the region store {} heads of {}",
                shape.n_kv_heads,
                q.len(),
                out.len(),
                region_heads.0,
                region_heads.1
            )));
        }
        if row.slot >= n_ctx || row.region.end > row.slot {
            return Err(BackendError::Plan(format!(
                "ranked row: slot {} of {n_ctx}, after the region {:?}",
                row.slot, row.region
            )));
        }
        attention::attend_ranked(&self.pool, lc, shape, q, row, n_ctx, out)
            .map_err(BackendError::Plan)
    }
}
