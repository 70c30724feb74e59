//! The Backend trait: the operations the model families' graphs need, over buffers the backend owns. The
//! CPU backend keeps buffers in host memory; a GPU backend keeps them on the device. Attention
//! takes an [`AttentionPlan`], so every attention mode runs through the same call.

use std::sync::Arc;

use pine_gguf::{Gguf, TensorInfo};

use crate::error::BackendError;
use crate::importance::{ImportanceRows, RegionGeometry};
use crate::plan::{AttentionPlan, RankedRow};
use crate::rope::Rope;

/// A weight tensor of an open model file. The file is shared so a backend may keep using its
/// mapped bytes in place (no copy) for as long as the weight lives.
#[derive(Clone, Copy)]
pub struct WeightSource<'a> {
    /// The file holding the tensor.
    pub file: &'a Arc<Gguf>,
    /// The tensor (name, type, ggml dims, extent).
    pub info: &'a TensorInfo,
}

/// Element type of the KV cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheType {
    /// Half precision, llama.cpp's default.
    F16,
    /// Single precision, for reference runs.
    F32,
}

/// Geometry of a KV cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSpec {
    /// Transformer layers.
    pub n_layers: usize,
    /// Token slots per layer.
    pub n_ctx: usize,
    /// Key/value heads.
    pub n_kv_heads: usize,
    /// Elements per head.
    pub head_dim: usize,
    /// Storage type.
    pub ty: CacheType,
}

impl CacheSpec {
    /// Bytes of keys and values (`2 × layers × n_ctx × kv_heads × head_dim × element`), or
    /// `None` when that does not fit in a `u64`.
    pub fn n_bytes(&self) -> Option<u64> {
        let per: u64 = match self.ty {
            CacheType::F16 => 2,
            CacheType::F32 => 4,
        };
        [self.n_layers, self.n_ctx, self.n_kv_heads, self.head_dim]
            .iter()
            .try_fold(2 * per, |acc, &n| acc.checked_mul(n as u64))
    }
}

/// Shape of the attention of one layer.
#[derive(Clone, Debug)]
pub struct AttentionShape {
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads (GQA: each serves `n_heads / n_kv_heads` query heads).
    pub n_kv_heads: usize,
    /// Elements per head.
    pub head_dim: usize,
    /// Rotary embedding applied to queries and keys.
    pub rope: Rope,
    /// Attention-logit soft-cap (Gemma 2): each scaled score `s` becomes `cap · tanh(s / cap)`
    /// before the softmax ([`crate::math::softcap`]); `None` for other models.
    pub logit_softcap: Option<f32>,
}

/// How a backend multiplies by quantized weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulMode {
    /// llama.cpp's scheme: activations quantized to the weight type's dot partner.
    Native,
    /// Reference mode: weights dequantized to f32, activations kept in f32.
    F32,
}

/// How the Vulkan backend computes floats (the CPU backend has one order, llama.cpp's x86 one,
/// and ignores this). It lives here, beside [`MatmulMode`], so a backend choice can carry it
/// whether or not pine is built with Vulkan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VulkanNumerics {
    /// The default: the device's native `fma()`, float division and square root, f32 sums, no
    /// f64 anywhere (as llama.cpp's Vulkan backend computes). Not the CPU's bits; its accuracy
    /// is llama.cpp's (the tests hold it to the KL criterion against the f32 reference).
    #[default]
    Fast,
    /// The CPU's float order bit for bit: correctly rounded fma, division and square root
    /// built from f64 (or the device's `fma()` where a start-up probe finds it fused) and f64
    /// sums where ggml has them. Needs shaderFloat64 (on a device without it this is `Fast`);
    /// f64 runs at 1/32–1/64 rate on consumer GPUs, so it is for checking, not for speed.
    Exact,
}

impl std::fmt::Display for VulkanNumerics {
    /// `fast` or `exact`, as flags, logs and reports spell it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VulkanNumerics::Fast => "fast",
            VulkanNumerics::Exact => "exact",
        })
    }
}

/// The operations of the models' graphs. Buffers hold row-major `[rows, width]` f32 activations.
pub trait Backend {
    /// A weight matrix or vector resident where the backend computes.
    type Weight;
    /// An activation buffer.
    type Buffer;
    /// A KV cache.
    type Cache;

    /// A short name for logs (`cpu`, `vulkan`).
    fn name(&self) -> &str;
    /// Makes a file tensor usable by this backend (may upload or repack it).
    fn load_weight(&mut self, src: WeightSource<'_>) -> Result<Self::Weight, BackendError>;
    /// A zeroed buffer of `len` f32.
    fn buffer(&mut self, len: usize) -> Self::Buffer;
    /// Copies host data into the start of `buf`.
    fn write(&mut self, buf: &mut Self::Buffer, data: &[f32]);
    /// Copies the first `out.len()` values of `buf` to the host.
    fn read(&mut self, buf: &Self::Buffer, out: &mut [f32]);
    /// The first failure of an operation that returns nothing (`buffer`, `write`, `read`,
    /// `rms_norm`, …), if any, clearing it. A GPU backend runs those asynchronously and can only
    /// report a failure later; the CPU backend never fails them.
    fn take_error(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
    /// Greedy sampling: `out[r]` = [`crate::math::argmax`] of the first `width` values of row
    /// `r` of `x` (`[out.len(), width]`). A GPU backend computes it where the rows are and
    /// reads back only the indices; the default reads the rows and scans them on the host.
    fn argmax(&mut self, x: &Self::Buffer, width: usize, out: &mut [u32]) {
        let mut rows = vec![0.0; out.len() * width];
        self.read(x, &mut rows);
        for (o, row) in out.iter_mut().zip(rows.chunks_exact(width.max(1))) {
            *o = crate::math::argmax(row);
        }
    }
    /// Top-k selection for sampling: for each of the `rows` rows of `x` (`[rows, width]`), the
    /// `k` largest values (all `width` when `k` is 0 or at least `width`) as (id, value) pairs
    /// in [`crate::math::keep_top`]'s order, the rows one after another in `out`. A GPU backend
    /// selects them where the rows are and reads back only those; the default reads the rows
    /// and selects on the host.
    fn top_k(
        &mut self,
        x: &Self::Buffer,
        width: usize,
        k: usize,
        rows: usize,
        out: &mut Vec<(u32, f32)>,
    ) {
        let mut all = vec![0.0; rows * width];
        self.read(x, &mut all);
        crate::math::top_k_rows(&all, width, k, out);
    }
    /// Copies rows `rows` (each `width` wide) of `x` into consecutive rows of `out`.
    fn select_rows(
        &mut self,
        x: &Self::Buffer,
        width: usize,
        rows: &[usize],
        out: &mut Self::Buffer,
    );
    /// Looks up embedding rows of `table` for `ids` into `out` (`ids.len()` rows).
    fn embed(
        &mut self,
        table: &Self::Weight,
        ids: &[u32],
        out: &mut Self::Buffer,
    ) -> Result<(), BackendError>;
    /// RMS-normalises `n` rows of `x` and scales them by `weight`, into `out`.
    fn rms_norm(
        &mut self,
        x: &Self::Buffer,
        weight: &Self::Weight,
        eps: f32,
        n: usize,
        out: &mut Self::Buffer,
    );
    /// `out[r] = W · x[r]` for `n` rows.
    fn matmul(
        &mut self,
        w: &Self::Weight,
        x: &Self::Buffer,
        n: usize,
        out: &mut Self::Buffer,
    ) -> Result<(), BackendError>;
    /// `outs[i][r] = ws[i] · x[r]` for `n` rows: weights that read the same input (a layer's Q,
    /// K and V; its gate and up), which a backend may run as one job over one quantized copy
    /// of `x`. The default runs [`Backend::matmul`] for each.
    fn matmul_many<const N: usize>(
        &mut self,
        ws: [&Self::Weight; N],
        x: &Self::Buffer,
        n: usize,
        outs: [&mut Self::Buffer; N],
    ) -> Result<(), BackendError> {
        for (w, out) in ws.into_iter().zip(outs) {
            self.matmul(w, x, n, out)?;
        }
        Ok(())
    }
    /// `h` = RMSNorm of `n` rows of `x` by `norm`, then `outs[i] = ws[i] · h` (a layer's Q, K
    /// and V; its gate and up), which a backend may fuse with the rounding of `h` for the
    /// weights. The default runs [`Backend::rms_norm`], then [`Backend::matmul_many`] (or,
    /// for one weight, [`Backend::matmul`]).
    #[allow(clippy::too_many_arguments)]
    fn norm_matmul_many<const N: usize>(
        &mut self,
        x: &Self::Buffer,
        norm: &Self::Weight,
        eps: f32,
        n: usize,
        h: &mut Self::Buffer,
        ws: [&Self::Weight; N],
        outs: [&mut Self::Buffer; N],
    ) -> Result<(), BackendError> {
        self.rms_norm(x, norm, eps, n, h);
        if N == 1 {
            for (w, out) in ws.into_iter().zip(outs) {
                self.matmul(w, h, n, out)?;
            }
            return Ok(());
        }
        self.matmul_many(ws, h, n, outs)
    }
    /// `acc[r] += W · x[r]` for `n` rows (`len` = `n` × W's rows): a projection added to the
    /// residual stream, which a backend may do in the matmul's epilogue. The default computes
    /// the product into `tmp` with [`Backend::matmul`], then [`Backend::add`]s it.
    fn matmul_add(
        &mut self,
        w: &Self::Weight,
        x: &Self::Buffer,
        n: usize,
        tmp: &mut Self::Buffer,
        acc: &mut Self::Buffer,
        len: usize,
    ) -> Result<(), BackendError> {
        self.matmul(w, x, n, tmp)?;
        self.add(acc, tmp, len);
        Ok(())
    }
    /// `gate = silu(gate) * up` over `n` rows of `w`'s width, then `acc[r] += w · gate[r]`
    /// (`len` = `n` × w's rows): the FFN's gated activation and down projection, which a
    /// backend may fuse with the rounding of the gate for `w`. The default runs
    /// [`Backend::swiglu`], then [`Backend::matmul_add`] (`gate_len` values are gated).
    #[allow(clippy::too_many_arguments)]
    fn swiglu_matmul_add(
        &mut self,
        gate: &mut Self::Buffer,
        up: &Self::Buffer,
        gate_len: usize,
        w: &Self::Weight,
        n: usize,
        tmp: &mut Self::Buffer,
        acc: &mut Self::Buffer,
        len: usize,
    ) -> Result<(), BackendError> {
        self.swiglu(gate, up, gate_len);
        self.matmul_add(w, gate, n, tmp, acc, len)
    }
    /// `gate[i] = silu(gate[i]) * up[i]` for the first `len` values.
    fn swiglu(&mut self, gate: &mut Self::Buffer, up: &Self::Buffer, len: usize);
    /// `gate[i] = gelu(gate[i]) * up[i]` for the first `len` values (Gemma's FFN), GELU in its
    /// tanh form, computed as `x / (1 + e^(-2u))`, `u = √(2/π)·(x + 0.044715·x³)` (the same
    /// function: `(1 + tanh u) / 2 = 1 / (1 + e^(-2u))`).
    fn geglu(&mut self, gate: &mut Self::Buffer, up: &Self::Buffer, len: usize);
    /// `x[i] *= s` for the first `len` values.
    fn scale(&mut self, x: &mut Self::Buffer, s: f32, len: usize);
    /// `acc[i] += x[i]` for the first `len` values.
    fn add(&mut self, acc: &mut Self::Buffer, x: &Self::Buffer, len: usize);
    /// Adds the vector `bias` (F32, `width` long) to each of the `n` rows of `x`
    /// (`[n, width]`): the projection biases of Qwen2-style attention.
    fn add_bias(&mut self, x: &mut Self::Buffer, bias: &Self::Weight, n: usize);
    /// A KV cache of the given geometry.
    fn new_cache(&mut self, spec: CacheSpec) -> Result<Self::Cache, BackendError>;
    /// Stores `n` rows of pre-RoPE keys (rotated here to `positions`) and values into `layer`
    /// of the cache at `cache_index`.
    #[allow(clippy::too_many_arguments)]
    fn store_kv(
        &mut self,
        cache: &mut Self::Cache,
        layer: usize,
        shape: &AttentionShape,
        k: &Self::Buffer,
        v: &Self::Buffer,
        cache_index: &[usize],
        positions: &[i64],
    ) -> Result<(), BackendError>;
    /// Attention of the batch's pre-RoPE queries `q` over the cache of `layer`, as `plan` says.
    fn attention(
        &mut self,
        cache: &Self::Cache,
        layer: usize,
        shape: &AttentionShape,
        q: &Self::Buffer,
        plan: &AttentionPlan,
        out: &mut Self::Buffer,
    ) -> Result<(), BackendError>;
    /// The most key ranges one plan handed to [`Backend::attention`] should hold, when the
    /// backend runs parts of a batch's plan (groups of consecutive rows) one after another:
    /// a planner then splits a layer's plan so its memory stays bounded (PINE over thousands
    /// of segments holds segments² ranges per head). `None`: whole plans only.
    fn plan_budget(&self) -> Option<usize> {
        None
    }
    /// Runs `f(i)` for every `i` in `0..n`, in any order, on the host threads the backend
    /// computes with where it has several (the CPU backend's pool), else in order on the
    /// calling thread: for a planner's own work between two operations (PINE ranks every
    /// segment's view of the others per head and layer).
    fn host_tasks(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..n).for_each(f);
    }
    /// Keeps the first `tokens` rows of the batch's pre-RoPE keys `k` (the whole segment region)
    /// with `layer` of the cache, for PINE's importance passes of this and every later batch.
    /// The keys stay where the backend computes: a GPU never sends them to the host.
    fn store_region_keys(
        &mut self,
        cache: &mut Self::Cache,
        layer: usize,
        k: &Self::Buffer,
        tokens: usize,
    ) -> Result<(), BackendError>;
    /// PINE's importance table (see [`ImportanceRows`] for its layout) of the batch's pre-RoPE
    /// queries `q` against the region keys stored with `layer`: the planner ranks segments
    /// from it, so only this small table crosses to the host.
    #[allow(clippy::too_many_arguments)]
    fn importance(
        &mut self,
        cache: &Self::Cache,
        layer: usize,
        shape: &AttentionShape,
        q: &Self::Buffer,
        geo: &RegionGeometry<'_>,
        rows: ImportanceRows,
        out: &mut [f32],
    ) -> Result<(), BackendError>;
    /// PINE's attention for one decode row (pre-RoPE queries `q`, one row), its ranking
    /// included: the importance of the segments for the row's query heads (as
    /// [`Backend::importance`] with one query row), each head's key ranges from `row.rank`,
    /// and the attention over them (as [`Backend::attention`] with [`RankedRow::plan`]). The
    /// default makes those calls in turn ([`ranked_attention_in_steps`]); a backend may do all
    /// of it per KV head in one pass, with the same results.
    fn ranked_attention(
        &mut self,
        cache: &Self::Cache,
        layer: usize,
        shape: &AttentionShape,
        q: &Self::Buffer,
        row: &RankedRow<'_>,
        out: &mut Self::Buffer,
    ) -> Result<(), BackendError> {
        ranked_attention_in_steps(self, cache, layer, shape, q, row, out)
    }
}

/// [`Backend::ranked_attention`] as three calls: the importance table, the ranking on the
/// calling thread, the attention of the row's plan.
pub fn ranked_attention_in_steps<B: Backend + ?Sized>(
    backend: &mut B,
    cache: &B::Cache,
    layer: usize,
    shape: &AttentionShape,
    q: &B::Buffer,
    row: &RankedRow<'_>,
    out: &mut B::Buffer,
) -> Result<(), BackendError> {
    let (n_heads, n_seg) = (shape.n_heads, row.geo.lens.len());
    let rows = ImportanceRows::Queries(1);
    let mut table = vec![0.0f32; rows.table_len(n_heads, n_seg)];
    if n_seg > 0 {
        backend.importance(cache, layer, shape, q, &row.geo, rows, &mut table)?;
    }
    let lists = (row.rank)(0..n_heads, &table);
    backend.attention(cache, layer, shape, q, &row.plan(lists), out)
}
