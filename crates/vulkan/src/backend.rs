//! [`VulkanBackend`]: the [`Backend`] trait on a Vulkan device. Every operation is recorded into
//! one command buffer that is submitted when the host reads a result, so a forward pass costs
//! one submission, and a pass of the same shape as an earlier one (the next decode step)
//! resubmits that pass's command buffer: per-token inputs go through the recorder's step data,
//! and activation buffers are reused, so the bindings stay the same. Operations the trait
//! declares infallible record their first failure, which the next read or
//! [`Backend::take_error`] reports.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use pine_backend::{
    AttentionPlan, AttentionShape, Backend, BackendError, CacheSpec, CacheType, ImportanceRows,
    MatmulMode, RegionGeometry, VulkanNumerics, WeightSource,
};
use pine_gguf::GgmlType;
use vulkano::buffer::Subbuffer;

use crate::buffer_pool::SharedFree;
use crate::counters::{ShaderTime, VkCounters};
use crate::device::{Context, DeviceChoice, DeviceInfo};
use crate::error::VkError;
use crate::fma_probe;
use crate::kernels::Pipelines;
use crate::memory;
use crate::plan_encoding::EncodedPlan;
use crate::recorder::{Bind, Push, Recorder, MAX_GROUPS};
use crate::replay::ReplayStats;
use crate::rope_table::RopeTable;
use crate::step_data::words;
use crate::weight::{self, Chunk, VkWeight};

mod importance;
mod shaders;

use importance::DeviceRegion;
use shaders::{RoundOp, Shader};

/// Activations rounded for one matmul (scratch buffers of the backend).
struct Rounded {
    values: Subbuffer<[f32]>,
    sums: Subbuffer<[f32]>,
    scales: Subbuffer<[f32]>,
}

/// An operation fused into the activation rounding of the matmul after it.
#[derive(Clone, Copy)]
enum Pre<'a> {
    /// None: the input is rounded as it is (`quantize_act.comp`).
    None,
    /// The input is RMS-normalised by `weight` into `out` first (`rms_norm_quant.comp`).
    Norm {
        weight: &'a VkWeight,
        eps: f32,
        out: &'a VkBuffer,
    },
    /// The input is the FFN gate, made `silu(gate) * up` in place first (`swiglu_quant.comp`).
    Swiglu { up: &'a VkBuffer },
}

/// The largest top-k `top_k.comp` selects on the device (one workgroup sorts them in shared
/// memory); a larger k reads the row back.
pub const TOP_K_MAX: usize = 256;

/// The activation types `rms_norm_quant.comp` and `swiglu_quant.comp` round to.
const FUSED_ACTS: [GgmlType; 5] = [
    GgmlType::Q8_0,
    GgmlType::Q8_1,
    GgmlType::Q8_K,
    GgmlType::F16,
    GgmlType::BF16,
];

/// Weight types with an integer kernel in the CPU's exact order (`mul_mat_q8.comp`): the block
/// order of llama.cpp's repacked kernels for Q4_0, its eight-lane x86 order for the others.
const INTEGER_TYPES: [GgmlType; 6] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::IQ4_NL,
];

/// The 256-element types with an integer kernel against Q8_K in the CPU's order
/// (`mul_mat_k.comp`).
const K_TYPES: [GgmlType; 6] = [
    GgmlType::Q2_K,
    GgmlType::Q3_K,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::IQ4_XS,
];

/// An activation buffer on the device: `len` f32. Dropped, it goes back to its backend's pool
/// for the next buffer of the same length (see `buffer_pool.rs`).
pub struct VkBuffer {
    buf: Subbuffer<[f32]>,
    len: usize,
    home: Option<SharedFree>,
}

impl Drop for VkBuffer {
    fn drop(&mut self) {
        if let Some(free) = &self.home {
            if let Ok(mut free) = free.lock() {
                free.give(self.len, self.buf.clone());
            }
        }
    }
}

/// The KV cache: one key and one value buffer per layer, `[slot][kv head][dim]`, and PINE's
/// pre-RoPE region keys per layer once a segment batch stored them.
pub struct VkCache {
    spec: CacheSpec,
    k: Vec<Subbuffer<[u8]>>,
    v: Vec<Subbuffer<[u8]>>,
    region: Vec<Option<DeviceRegion>>,
}

/// The Vulkan backend.
pub struct VulkanBackend {
    ctx: Arc<Context>,
    rec: Recorder,
    pipelines: Pipelines,
    rope: RopeTable,
    readback: Option<Subbuffer<[f32]>>,
    /// Rounded activations and their block sums (Q8_1 sum terms, Q8_K bsums) of the matmul in
    /// flight (grown as needed).
    act: Option<Subbuffer<[f32]>>,
    sums: Option<Subbuffer<[f32]>>,
    scales: Option<Subbuffer<[f32]>>,
    /// Per Q8_K block of an attention output rounded by `attention.comp`: how many of its
    /// heads' workgroups have finished (0 between dispatches; zero-filled when grown).
    arrived: Option<Subbuffer<[u32]>>,
    /// Attention scores of the call in flight.
    scores: Option<Subbuffer<[f32]>>,
    /// The token ids of a device argmax (u32 bits in f32 storage: copied, never computed on).
    tokens: Option<Subbuffer<[f32]>>,
    /// PINE importance per (batch row, head) and, for the segment batch, per (head, segment).
    importance_rows: Option<Subbuffer<[f32]>>,
    importance_table: Option<Subbuffer<[f32]>>,
    mode: MatmulMode,
    /// The numeric mode asked for.
    numerics: VulkanNumerics,
    /// Whether the float shaders load their f64 builds, which copy the CPU's float order bit
    /// for bit: [`VulkanNumerics::Exact`] on a device with shaderFloat64. Fast numerics (and
    /// exact ones on a device without f64) load the plain builds: native `fma()`, float
    /// division and square root, f32 sums.
    f64_builds: bool,
    /// Whether the device's fma() is fused and correctly rounded (the start-up probe, run only
    /// where the f64 builds are loaded), so the exact shaders can use it instead of the f64
    /// emulation.
    fused_fma: bool,
    /// Whether the integer matmuls sum lanes by subgroup shuffles (the device's subgroup
    /// properties allow it).
    subgroups: bool,
    /// Whether the tiled matmul of the integer types takes its integer-dot form
    /// (`mul_mmq.comp`: the device has integer dot products).
    int_dot: bool,
    /// Workgroups of large tiles a tiled matmul must fill to take them
    /// ([`LARGE_TILE_GROUPS`]; tests change it to reach both tile sizes).
    large_tile_groups: usize,
    /// The build each [`Shader`] asked for runs as (see `shaders.rs`).
    shader_names: RefCell<foldhash::HashMap<Shader, Option<&'static str>>>,
    /// A one-element buffer handed out by `buffer` after a failure.
    placeholder: Subbuffer<[f32]>,
    /// Dropped activation buffers, handed out again by `buffer`.
    free: SharedFree,
    error: Option<VkError>,
}

/// Fewest activation rows that fast numerics multiply by the tiled matmul (`mul_mm.comp`,
/// `mul_mmq.comp`, whose 32-column steps the integer types' 32- and 256-element rows divide);
/// fewer rows (decode, small batches) run the row kernels, which read each weight once per
/// eight activation rows without the tiles' idle lanes.
const TILED_MIN_ROWS: usize = 32;

/// Workgroups of large tiles (128 × 128) a product must fill to take them; smaller products
/// take 64 × 64 tiles, four times as many workgroups to spread over the device.
const LARGE_TILE_GROUPS: usize = 64;

/// Granularity (keys) of the attention scratch's per-(row, head) stride.
const SCORE_STRIDE_STEP: usize = 256;

fn groups_1d(n: usize, per_group: usize) -> [u32; 3] {
    let g = n.div_ceil(per_group) as u32;
    if g <= MAX_GROUPS {
        [g, 1, 1]
    } else {
        [MAX_GROUPS, g.div_ceil(MAX_GROUPS), 1]
    }
}

/// The push constants of the matmul shaders for chunk `c` of `w` (their p0 … p7): row width,
/// first row of the dispatch within the chunk, the chunk's rows and first output column, the
/// output row stride, bytes per row, activation rows, and whether to add to the output.
fn chunk_push(w: &VkWeight, c: &Chunk, first: usize, n: usize, accumulate: bool) -> Push {
    [
        w.width as u32,
        first as u32,
        c.rows as u32,
        c.first_row as u32,
        w.rows as u32,
        w.row_bytes as u32,
        n as u32,
        accumulate as u32,
    ]
}

/// Fails unless `buf` holds `n` values: shaders index by the sizes they are told, and a Vulkan
/// device need not bounds-check storage buffers.
fn need(buf: &VkBuffer, n: usize, what: &str) -> Result<(), VkError> {
    if buf.len < n {
        return Err(VkError::Device(format!(
            "{what}: needs {n} values, the buffer holds {}",
            buf.len
        )));
    }
    Ok(())
}

fn cache_suffix(ty: CacheType) -> &'static str {
    match ty {
        CacheType::F16 => "f16",
        CacheType::F32 => "f32",
    }
}

impl VulkanBackend {
    /// Opens a device. In [`MatmulMode::Native`] activations are rounded as llama.cpp's CPU
    /// quantizes them for each weight type (Q8_0, Q8_1, Q8_K, F16, BF16) before the float
    /// matmul; in [`MatmulMode::F32`] they are used as they are (the reference mode).
    /// `numerics` picks the float shaders: [`VulkanNumerics::Fast`] never loads an f64 build;
    /// [`VulkanNumerics::Exact`] loads them where the device has f64 (see
    /// [`VulkanBackend::cpu_float_order`]).
    pub fn new(
        choice: DeviceChoice,
        mode: MatmulMode,
        numerics: VulkanNumerics,
    ) -> Result<VulkanBackend, VkError> {
        let ctx = Arc::new(Context::open(choice)?);
        let placeholder = memory::device::<f32>(&ctx.memory, 1)?;
        let mut rec = Recorder::new(ctx.clone())?;
        let exact = numerics == VulkanNumerics::Exact;
        let mut pipelines = Pipelines::new(exact && ctx.info.denorm_preserve32);
        let f64_builds = exact && ctx.info.fp64;
        // The probe only chooses between the f64 builds (`_f64` or `_f64fma`): without them
        // (fast numerics, or no f64) the shaders call fma() anyway, so there is nothing to probe.
        let fused_fma = f64_builds && fma_probe::probe(&ctx, &mut rec, &mut pipelines)?;
        Ok(VulkanBackend {
            subgroups: ctx.info.subgroup_shuffle,
            int_dot: ctx.info.int_dot,
            large_tile_groups: LARGE_TILE_GROUPS,
            shader_names: RefCell::default(),
            placeholder,
            free: Arc::new(Mutex::new(Default::default())),
            rec,
            ctx,
            pipelines,
            numerics,
            f64_builds,
            fused_fma,
            rope: RopeTable::default(),
            readback: None,
            act: None,
            sums: None,
            scales: None,
            arrived: None,
            scores: None,
            tokens: None,
            importance_rows: None,
            importance_table: None,
            mode,
            error: None,
        })
    }

    /// The device in use.
    pub fn device(&self) -> &DeviceInfo {
        &self.ctx.info
    }

    /// The numeric mode this backend was opened with.
    pub fn numerics(&self) -> VulkanNumerics {
        self.numerics
    }

    /// Whether the float operations (fma, division, square root, the sums ggml keeps in f64)
    /// are the CPU's bit for bit: [`VulkanNumerics::Exact`] on a device with f64. Elsewhere
    /// they are within a few ulp, which the activation re-rounding before every quantized
    /// matmul can grow to ~1e-2 in the logits.
    pub fn cpu_float_order(&self) -> bool {
        self.f64_builds
    }

    /// Whether matmuls with weights of type `ty` give the CPU's per-pair kernels' results bit
    /// for bit here: native mode, a kernel in the float order of the CPU's x86 kernels (the
    /// integer block types and BF16), and the exact float operations
    /// ([`VulkanBackend::cpu_float_order`]). Fast numerics keep the integer kernels (their
    /// integer dot products need no f64), but round the activations with float division and
    /// combine the block sums with the device's fma(), which may round twice: a last-bit
    /// difference there can flip an activation's rounding, so no type matches the CPU's bits.
    /// Tests hold such products, and models made only of them, to the CPU's standard. (The
    /// CPU backend itself runs Q2_K..Q6_K through packed kernels of another order where
    /// the CPU has AVX2 or AVX-512; the shaders follow the per-pair ones, llama.cpp's.)
    pub fn matches_cpu(&self, ty: GgmlType) -> bool {
        let exact_order =
            INTEGER_TYPES.contains(&ty) || K_TYPES.contains(&ty) || ty == GgmlType::BF16;
        self.mode == MatmulMode::Native && self.cpu_float_order() && exact_order
    }

    /// Turns the resubmission of recorded command buffers on (the default) or off. Off, every
    /// pass is recorded afresh: for checking that replay changes no result, and for debugging.
    pub fn set_replay(&mut self, on: bool) {
        self.rec.set_replay(on);
    }

    /// Time the device spent on every submission so far, from GPU timestamps (so without the
    /// host's recording, planning and waiting), or `None` when the device's compute queue
    /// cannot write timestamps. Differences of two readings time a stretch of work.
    pub fn device_time(&self) -> Option<std::time::Duration> {
        self.rec.device_time()
    }

    /// The work given to the device since the backend opened: dispatches, pipeline barriers,
    /// submissions, fence waits and bytes read back. Differences of two readings
    /// ([`VkCounters::since`]) count a stretch of work, such as one decoded token.
    pub fn counters(&self) -> VkCounters {
        self.rec.counters()
    }

    /// Turns the per-dispatch timestamps of [`VulkanBackend::profile`] on or off (off by
    /// default: a stamp after every dispatch costs device time). Command buffers kept for
    /// resubmission are dropped, so the next pass of each shape is recorded again.
    pub fn set_profiling(&mut self, on: bool) -> Result<(), VkError> {
        self.rec.set_profiling(on)
    }

    /// Device time by shader of every pass submitted while profiling was on (running totals;
    /// [`crate::profile_since`] takes differences), or empty when it never was or the queue
    /// cannot write timestamps.
    pub fn profile(&self) -> Vec<ShaderTime> {
        self.rec.profile()
    }

    /// How many passes (submissions) were recorded and how many resubmitted a command buffer
    /// recorded for an earlier pass of the same shape.
    pub fn replay_stats(&self) -> ReplayStats {
        self.rec.replay_stats()
    }

    /// Names of the shaders this backend has loaded so far, sorted: tests check that fast
    /// numerics load no `_f64` build.
    pub fn loaded_shaders(&self) -> Vec<&'static str> {
        self.pipelines.loaded()
    }

    /// Whether the start-up probe found the device's `fma()` fused and correctly rounded, so
    /// the shaders copying the CPU's float order use it rather than building it from f64
    /// (false where the probe does not run: fast numerics, or a device without f64).
    pub fn fused_fma(&self) -> bool {
        self.fused_fma
    }

    #[cfg(test)]
    pub(crate) fn context(&self) -> &Context {
        &self.ctx
    }

    /// Makes the integer matmuls sum lanes by subgroup shuffles or through shared memory.
    #[cfg(test)]
    pub(crate) fn force_subgroups(&mut self, on: bool) {
        self.subgroups = on;
        self.forget_shaders();
    }

    /// Makes the tiled matmul of the integer types take its integer-dot form or its float one.
    #[cfg(test)]
    pub(crate) fn force_int_dot(&mut self, on: bool) {
        self.int_dot = on;
        self.forget_shaders();
    }

    /// Makes the tiled matmul take its large tiles for every product (or for none).
    #[cfg(test)]
    pub(crate) fn force_large_tiles(&mut self, on: bool) {
        self.large_tile_groups = if on { 0 } else { usize::MAX };
    }

    /// Makes the exact shaders use the device's `fma()` (or not) whatever the probe found.
    #[cfg(test)]
    pub(crate) fn force_fused_fma(&mut self, on: bool) {
        self.fused_fma = on;
        self.forget_shaders();
    }

    fn dispatch(
        &mut self,
        shader: &str,
        bindings: Vec<Bind>,
        push: Push,
        groups: [u32; 3],
    ) -> Result<(), VkError> {
        let p = self.pipelines.get(&self.ctx, shader)?;
        self.rec.dispatch(&p, bindings, push, groups);
        Ok(())
    }

    /// Runs `f` unless an earlier operation failed; keeps its first failure.
    fn sticky(&mut self, f: impl FnOnce(&mut Self) -> Result<(), VkError>) {
        if self.error.is_none() {
            if let Err(e) = f(self) {
                self.error = Some(e);
            }
        }
    }

    fn failed(&mut self) -> Result<(), BackendError> {
        match &self.error {
            Some(e) => Err(e.clone().into()),
            None => Ok(()),
        }
    }

    /// A scratch buffer of at least `len` f32 in `slot`, grown when too small.
    fn scratch(
        memory: &Arc<vulkano::memory::allocator::StandardMemoryAllocator>,
        slot: &mut Option<Subbuffer<[f32]>>,
        len: usize,
    ) -> Result<Subbuffer<[f32]>, VkError> {
        if slot.as_ref().is_none_or(|b| (b.len() as usize) < len) {
            *slot = Some(memory::device::<f32>(memory, len)?);
        }
        Ok(slot.clone().expect("just set"))
    }

    /// Rounds `n` rows of `x` as llama.cpp does for weights of `w`'s type, returning the
    /// scratch it wrote: the rounded rows, or for the integer path (`int`) the integer values
    /// with per-block scales and Q8_1 sum terms or Q8_K bsums (16 per block). `None` when no
    /// rounding applies.
    fn round_activations(
        &mut self,
        w: &VkWeight,
        x: &VkBuffer,
        n: usize,
        int: bool,
        pre: Pre<'_>,
    ) -> Result<Option<Rounded>, VkError> {
        let (block, sums_per_block) = match (self.mode, w.act) {
            (MatmulMode::F32, _) => return Ok(None),
            (_, GgmlType::Q8_0 | GgmlType::Q8_1 | GgmlType::F16 | GgmlType::BF16) => (32, 1),
            (_, GgmlType::Q8_K) => (256, 16),
            _ => return Ok(None),
        };
        let op = match pre {
            Pre::None => RoundOp::Plain,
            Pre::Norm { .. } => RoundOp::Norm,
            Pre::Swiglu { .. } => RoundOp::Swiglu,
        };
        let name = self.shader(Shader::Round {
            op,
            act: w.act,
            int,
        })?;
        let len = n * w.width;
        if !w.width.is_multiple_of(block) {
            return Err(VkError::Device(format!(
                "'{}': row width {} is not a multiple of the activation block {block}",
                w.name, w.width
            )));
        }
        let blocks = len / block;
        // quantize_act.comp and swiglu_quant.comp give a 256-value (Q8_K) block a workgroup,
        // a 32-value block an invocation.
        let groups = groups_1d(blocks, if block == 256 { 1 } else { 64 });
        let mem = self.ctx.memory.clone();
        let values = Self::scratch(&mem, &mut self.act, len)?;
        let sums = Self::scratch(&mem, &mut self.sums, blocks * sums_per_block)?;
        let scales = Self::scratch(&mem, &mut self.scales, blocks)?;
        let outputs = [
            values.clone().slice(..len as u64).into_bytes().into(),
            sums.clone().into_bytes().into(),
            scales.clone().into_bytes().into(),
        ];
        let input = x.buf.clone().slice(..len as u64).into_bytes().into();
        match pre {
            Pre::Norm { weight, eps, out } => {
                need(out, len, "rms_norm output")?;
                let nw = self.vector_of(weight)?.clone();
                let push = [w.width as u32, eps.to_bits(), 0, 0, 0, 0, 0, 0];
                let h = out.buf.clone().slice(..len as u64).into_bytes().into();
                let mut bindings = vec![input, nw.into(), h];
                bindings.extend(outputs);
                self.dispatch(name, bindings, push, [n as u32, 1, 1])?;
            }
            Pre::None => {
                let push = [w.width as u32, blocks as u32, 0, 0, 0, 0, 0, 0];
                let mut bindings = vec![input];
                bindings.extend(outputs);
                self.dispatch(name, bindings, push, groups)?;
            }
            Pre::Swiglu { up } => {
                need(up, len, "swiglu up")?;
                let push = [w.width as u32, blocks as u32, 0, 0, 0, 0, 0, 0];
                let up = up.buf.clone().slice(..len as u64).into_bytes().into();
                let mut bindings = vec![input, up];
                bindings.extend(outputs);
                self.dispatch(name, bindings, push, groups)?;
            }
        }
        Ok(Some(Rounded {
            values,
            sums,
            scales,
        }))
    }

    /// Runs element-wise `shader` over the first `len` values: `target[i] = f(target[i], x[i])`.
    fn in_place(
        &mut self,
        shader: &str,
        target: &VkBuffer,
        x: &VkBuffer,
        len: usize,
    ) -> Result<(), VkError> {
        need(target, len, shader)?;
        need(x, len, shader)?;
        let push = [len as u32, 0, 0, 0, 0, 0, 0, 0];
        let bindings = vec![
            target.buf.clone().into_bytes().into(),
            x.buf.clone().into_bytes().into(),
        ];
        self.dispatch(shader, bindings, push, groups_1d(len, 256))
    }

    /// Submits the pending work and copies the first `out.len()` (≥ 1) values of `src` to `out`.
    fn read_back(&mut self, src: Subbuffer<[f32]>, out: &mut [f32]) -> Result<(), VkError> {
        let n = out.len();
        if self
            .readback
            .as_ref()
            .is_none_or(|r| (r.len() as usize) < n)
        {
            self.readback = Some(memory::readback(&self.ctx.memory, n)?);
        }
        let rb = self.readback.clone().expect("just set");
        self.rec.copy(
            src.slice(..n as u64).into_bytes().into(),
            rb.clone().slice(..n as u64).into_bytes(),
        );
        self.rec.flush()?;
        let host = rb
            .read()
            .map_err(|e| VkError::Device(format!("mapping the read-back buffer: {e}")))?;
        out.copy_from_slice(&host[..n]);
        self.rec.count_readback(4 * n as u64);
        Ok(())
    }

    /// For a matmul of `w` over `x` right after the attention that wrote all of `x`: that
    /// attention dispatch switched to its build that also rounds its output for `w`
    /// (`attention.comp`'s QUANT_OUT, the integer partners Q8_0, Q8_1 and Q8_K, head dims a
    /// multiple of the block or, for Q8_K's 256-element blocks, dividing it), and the rounded
    /// activations it writes; `None` where that does not apply (then the matmul rounds `x`
    /// itself).
    fn attention_rounding(
        &mut self,
        w: &VkWeight,
        x: &VkBuffer,
        n: usize,
    ) -> Result<Option<Rounded>, VkError> {
        let (block, sums_per_block) = match w.act {
            GgmlType::Q8_0 | GgmlType::Q8_1 => (32, 1),
            GgmlType::Q8_K => (256, 16),
            _ => return Ok(None),
        };
        if self.mode != MatmulMode::Native || !self.int_kernel(w) {
            return Ok(None);
        }
        // Binding 7 of `attention.comp` is its output.
        let target = x.buf.clone().into_bytes();
        let Some((name, push, groups)) = self.rec.last_dispatch(7, &target) else {
            return Ok(None);
        };
        let cache = match name {
            _ if name.contains("_quant") => return Ok(None),
            _ if name.starts_with("attention_f16") => CacheType::F16,
            _ if name.starts_with("attention_f32") => CacheType::F32,
            _ => return Ok(None),
        };
        let (heads, head_dim) = (push[0] as usize, push[2] as usize);
        let covers_x = groups == [heads as u32, n as u32, 1] && heads * head_dim == w.width;
        let blocks_fit = head_dim > 0 && (head_dim % block == 0 || block % head_dim == 0);
        if !covers_x || !blocks_fit || !w.width.is_multiple_of(block) || x.len < n * w.width {
            return Ok(None);
        }
        let shader = self.shader(Shader::AttentionRound { cache, act: w.act })?;
        let kernel = self.pipelines.get(&self.ctx, shader)?;
        let len = n * w.width;
        let blocks = len / block;
        let mem = self.ctx.memory.clone();
        let values = Self::scratch(&mem, &mut self.act, len)?;
        let sums = Self::scratch(&mem, &mut self.sums, blocks * sums_per_block)?;
        let scales = Self::scratch(&mem, &mut self.scales, blocks)?;
        let mut extra: Vec<Bind> = vec![
            values.clone().slice(..len as u64).into_bytes().into(),
            sums.clone().into_bytes().into(),
            scales.clone().into_bytes().into(),
        ];
        if w.act == GgmlType::Q8_K {
            if self
                .arrived
                .as_ref()
                .is_none_or(|a| (a.len() as usize) < blocks)
            {
                let fresh = memory::device::<u32>(&mem, blocks)?;
                self.rec.zero_before_last(fresh.clone());
                self.arrived = Some(fresh);
            }
            let arrived = self.arrived.clone().expect("just set");
            extra.push(arrived.into_bytes().into());
        }
        self.rec.refit_last(&kernel, extra);
        Ok(Some(Rounded {
            values,
            sums,
            scales,
        }))
    }

    /// Whether matmuls with `w` run an integer kernel (native mode, an integer block type).
    fn int_kernel(&self, w: &VkWeight) -> bool {
        // The integer kernels run in both numeric modes: their dot products are integer sums,
        // exact without f64 (and as fast as any float kernel); only their float epilogue (block
        // scales times sums) has a plain build for fast numerics and f64 builds for exact ones.
        self.mode == MatmulMode::Native
            && (INTEGER_TYPES.contains(&w.ty) || K_TYPES.contains(&w.ty))
    }

    /// Whether `n` rows times `w` run the tiled matmul: fast numerics, enough rows, a row width
    /// the 16-column steps divide, and a build for the type.
    fn tiled(&self, w: &VkWeight, n: usize) -> bool {
        self.numerics == VulkanNumerics::Fast
            && n >= TILED_MIN_ROWS
            && w.width.is_multiple_of(16)
            && self.has_shader(Shader::Tiled {
                ty: w.ty,
                large: false,
            })
    }

    /// The tiled matmul of every chunk of `w` over `n` rows: for the integer types, of the
    /// rounded activations' integers and scales, by integer dot products where the device has
    /// them (`mul_mmq.comp`), else in f32 (`mul_mm.comp`'s `_int` builds); for the others, of
    /// the rounded (F16, BF16) or plain activations as floats (`mul_mm.comp`).
    fn matmul_tiled(
        &mut self,
        w: &VkWeight,
        x: &VkBuffer,
        n: usize,
        rounded: &Option<Rounded>,
        out: &VkBuffer,
        accumulate: bool,
    ) -> Result<(), VkError> {
        let int = self.int_kernel(w) && rounded.is_some();
        let out_bytes = out.buf.clone().into_bytes();
        for c in &w.chunks {
            let large = c.rows.div_ceil(128) * n.div_ceil(128) >= self.large_tile_groups;
            let tile = if large { 128 } else { 64 };
            let push = chunk_push(w, c, 0, n, accumulate);
            let groups = [c.rows.div_ceil(tile) as u32, n.div_ceil(tile) as u32, 1];
            let mut bindings = vec![c.buf.clone().into()];
            let shader = match (rounded, int) {
                (Some(r), true) => {
                    bindings.push(r.values.clone().into_bytes().into());
                    bindings.push(out_bytes.clone().into());
                    bindings.push(r.scales.clone().into_bytes().into());
                    self.shader(Shader::TiledInt { ty: w.ty, large })?
                }
                _ => {
                    let input = rounded.as_ref().map_or(&x.buf, |r| &r.values);
                    bindings.push(input.clone().into_bytes().into());
                    bindings.push(out_bytes.clone().into());
                    self.shader(Shader::Tiled { ty: w.ty, large })?
                }
            };
            self.dispatch(shader, bindings, push, groups)?;
        }
        Ok(())
    }

    /// Fails unless `x` holds `n` rows of `w`'s width and `out` `n` rows of its outputs.
    fn check_matmul(
        w: &VkWeight,
        x: &VkBuffer,
        n: usize,
        out: &VkBuffer,
    ) -> Result<(), BackendError> {
        if x.len < n * w.width || out.len < n * w.rows {
            return Err(BackendError::Tensor {
                name: w.name.clone(),
                what: format!("matmul of {n} rows does not fit the buffers"),
            });
        }
        Ok(())
    }

    /// Whether `ws` take the same rounded activations (the same width, activation type and
    /// kernel family), so one rounding serves them all.
    fn share_rounding(&self, ws: &[&VkWeight]) -> bool {
        ws.windows(2).all(|p| {
            p[0].width == p[1].width
                && p[0].act == p[1].act
                && self.int_kernel(p[0]) == self.int_kernel(p[1])
        })
    }

    /// Whether `a` and `b` can share a dispatch of the integer row kernel's `_multi` build
    /// over `n` rows: the same type, width and row size, one chunk each.
    fn multi_fits(&self, a: &VkWeight, b: &VkWeight, n: usize) -> bool {
        self.int_kernel(a)
            && !self.tiled(a, n)
            && a.ty == b.ty
            && a.width == b.width
            && a.row_bytes == b.row_bytes
            && [a, b]
                .iter()
                .all(|w| w.chunks.len() == 1 && w.rows <= 8 * MAX_GROUPS as usize)
    }

    /// `outs[i] = ws[i] · x` for `n` rows from activations rounded once for all of them: one
    /// dispatch of the integer kernel's `_multi` build for the weights (two or three) that
    /// share type, width and kernel and are one chunk each — all of them, or of three weights
    /// of two types (Q4_K_M's Q4_K Q and K beside a Q6_K V) the pair that does — and one
    /// dispatch per other weight.
    fn matmuls_rounded<const N: usize>(
        &mut self,
        ws: [&VkWeight; N],
        x: &VkBuffer,
        n: usize,
        rounded: &Option<Rounded>,
        outs: [&mut VkBuffer; N],
    ) -> Result<(), VkError> {
        let outs = outs.map(|o| &*o);
        let fits = |i: usize, j: usize| self.multi_fits(ws[i], ws[j], n);
        let groups: Vec<Vec<usize>> = if (2..=3).contains(&N) && (1..N).all(|j| fits(0, j)) {
            vec![(0..N).collect()]
        } else if N == 3 {
            match [(0, 1), (1, 2), (0, 2)]
                .into_iter()
                .find(|&(i, j)| fits(i, j))
            {
                Some((i, j)) => vec![vec![i, j], vec![3 - i - j]],
                None => (0..N).map(|i| vec![i]).collect(),
            }
        } else {
            (0..N).map(|i| vec![i]).collect()
        };
        for g in groups {
            let gw: Vec<&VkWeight> = g.iter().map(|&i| ws[i]).collect();
            let go: Vec<&VkBuffer> = g.iter().map(|&i| outs[i]).collect();
            if gw.len() > 1 && self.matmul_multi(&gw, n, rounded, &go)? {
                continue;
            }
            for (w, out) in gw.into_iter().zip(go) {
                self.matmul_rounded(w, x, n, rounded, out, false)?;
            }
        }
        Ok(())
    }

    /// `outs[i] = ws[i] · x` for two or three weights that [`Self::multi_fits`] in one
    /// dispatch of the `_multi` build (workgroup z reads weight z); `false` (nothing done)
    /// where there is no such build or no rounded activations.
    fn matmul_multi(
        &mut self,
        ws: &[&VkWeight],
        n: usize,
        rounded: &Option<Rounded>,
        outs: &[&VkBuffer],
    ) -> Result<bool, VkError> {
        let w0 = ws[0];
        let multi = self.resolve(Shader::RowMulti(w0.ty));
        let (Some(shader), Some(r)) = (multi, rounded.as_ref()) else {
            return Ok(false);
        };
        let rows = |i: usize| ws.get(i).map_or(0, |w| w.rows as u32);
        let push = [
            w0.width as u32,
            rows(1),
            rows(0),
            rows(2),
            0,
            w0.row_bytes as u32,
            n as u32,
            0,
        ];
        let max_rows = ws.iter().map(|w| w.rows).max().unwrap_or(0);
        let groups = [
            max_rows.div_ceil(8) as u32,
            n.div_ceil(8) as u32,
            ws.len() as u32,
        ];
        let bytes = |b: &VkBuffer| -> Bind { b.buf.clone().into_bytes().into() };
        let weight = |i: usize| -> Bind { ws[i.min(ws.len() - 1)].chunks[0].buf.clone().into() };
        // An unused third output (two weights) binds the placeholder, which no workgroup
        // writes.
        let out2 = match outs.get(2) {
            Some(o) => bytes(o),
            None => self.placeholder.clone().into_bytes().into(),
        };
        let bindings = vec![
            weight(0),
            r.values.clone().into_bytes().into(),
            bytes(outs[0]),
            r.sums.clone().into_bytes().into(),
            r.scales.clone().into_bytes().into(),
            weight(1),
            weight(2),
            bytes(outs[1]),
            out2,
        ];
        self.dispatch(shader, bindings, push, groups)?;
        Ok(true)
    }

    /// `out[r] = W · x[r]` (or `+=` with `accumulate`) for `n` rows, from activations already
    /// rounded for `w` (`rounded`, as `round_activations` returned it for `x`).
    fn matmul_rounded(
        &mut self,
        w: &VkWeight,
        x: &VkBuffer,
        n: usize,
        rounded: &Option<Rounded>,
        out: &VkBuffer,
        accumulate: bool,
    ) -> Result<(), VkError> {
        if self.tiled(w, n) {
            return self.matmul_tiled(w, x, n, rounded, out, accumulate);
        }
        let int = self.int_kernel(w);
        let out_bytes = out.buf.clone().into_bytes();
        for c in &w.chunks {
            let step = 8 * MAX_GROUPS as usize;
            for first in (0..c.rows).step_by(step) {
                let rows = (c.rows - first).min(step);
                let push = chunk_push(w, c, first, n, accumulate);
                let groups = [rows.div_ceil(8) as u32, n.div_ceil(8) as u32, 1];
                match (&rounded, int) {
                    (Some(r), false) if w.ty == GgmlType::BF16 => {
                        let shader = self.shader(Shader::Bf16 { single: n == 1 })?;
                        let bindings = vec![
                            c.buf.clone().into(),
                            r.values.clone().into_bytes().into(),
                            out_bytes.clone().into(),
                        ];
                        let groups = [rows.div_ceil(64) as u32, n as u32, 1];
                        self.dispatch(shader, bindings, push, groups)?;
                    }
                    (Some(r), true) => {
                        let shader = self.shader(Shader::Row(w.ty))?;
                        let bindings = vec![
                            c.buf.clone().into(),
                            r.values.clone().into_bytes().into(),
                            out_bytes.clone().into(),
                            r.sums.clone().into_bytes().into(),
                            r.scales.clone().into_bytes().into(),
                        ];
                        self.dispatch(shader, bindings, push, groups)?;
                    }
                    _ => {
                        let input = rounded.as_ref().map_or(&x.buf, |r| &r.values);
                        let shader = self.shader(Shader::Mat(w.ty))?;
                        let bindings = vec![
                            c.buf.clone().into(),
                            input.clone().into_bytes().into(),
                            out_bytes.clone().into(),
                        ];
                        self.dispatch(shader, bindings, push, groups)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn vector_of<'w>(&self, w: &'w VkWeight) -> Result<&'w Subbuffer<[u8]>, VkError> {
        match (w.ty, w.rows, w.chunks.as_slice()) {
            (GgmlType::F32, 1, [c]) => Ok(&c.buf),
            _ => Err(VkError::Device(format!(
                "'{}' is not an f32 vector",
                w.name
            ))),
        }
    }
}

impl Backend for VulkanBackend {
    type Weight = VkWeight;
    type Buffer = VkBuffer;
    type Cache = VkCache;

    fn name(&self) -> &str {
        "vulkan"
    }

    fn load_weight(&mut self, src: WeightSource<'_>) -> Result<VkWeight, BackendError> {
        self.failed()?;
        let w = weight::load(&self.ctx, &mut self.rec, src)?;
        // Submit each upload so staging memory is released tensor by tensor.
        self.rec.flush()?;
        Ok(w)
    }

    fn buffer(&mut self, len: usize) -> VkBuffer {
        let mut out = None;
        self.sticky(|b| {
            let reused = b.free.lock().ok().and_then(|mut f| f.take(len));
            let buf = match reused {
                Some(buf) => buf,
                None => memory::device::<f32>(&b.ctx.memory, len)?,
            };
            b.rec.zero(buf.clone().reinterpret());
            out = Some(buf);
            Ok(())
        });
        match out {
            Some(buf) => VkBuffer {
                buf,
                len,
                home: Some(self.free.clone()),
            },
            // After a failure: an empty stand-in that no operation touches (every one checks
            // the recorded error first, which the next read reports).
            None => VkBuffer {
                buf: self.placeholder.clone(),
                len: 0,
                home: None,
            },
        }
    }

    fn write(&mut self, buf: &mut VkBuffer, data: &[f32]) {
        let dst = buf.buf.clone();
        self.sticky(|b| {
            if data.len() > buf.len {
                return Err(VkError::Device(format!(
                    "writing {} values into a buffer of {}",
                    data.len(),
                    buf.len
                )));
            }
            let staged = memory::upload(&b.ctx.memory, data)?;
            b.rec.copy_once(
                staged.into_bytes(),
                dst.slice(..data.len().max(1) as u64).into_bytes(),
            );
            Ok(())
        });
    }

    fn read(&mut self, buf: &VkBuffer, out: &mut [f32]) {
        let n = out.len();
        self.sticky(|b| {
            if n == 0 {
                return b.rec.flush();
            }
            if n > buf.len {
                return Err(VkError::Device(format!(
                    "reading {n} values from a buffer of {}",
                    buf.len
                )));
            }
            b.read_back(buf.buf.clone(), out)
        });
        if self.error.is_some() {
            out.fill(f32::NAN);
        }
    }

    fn argmax(&mut self, x: &VkBuffer, width: usize, out: &mut [u32]) {
        let n = out.len();
        let xb = x.buf.clone();
        self.sticky(|b| {
            if n == 0 {
                return b.rec.flush();
            }
            need(x, n * width, "argmax rows")?;
            if width == 0 || n > MAX_GROUPS as usize {
                return Err(VkError::Device(format!(
                    "argmax of {n} rows of width {width}"
                )));
            }
            let mem = b.ctx.memory.clone();
            let ids = Self::scratch(&mem, &mut b.tokens, n)?;
            let push = [width as u32, 0, 0, 0, 0, 0, 0, 0];
            b.dispatch(
                "argmax",
                vec![
                    xb.into_bytes().into(),
                    ids.clone().slice(..n as u64).into_bytes().into(),
                ],
                push,
                [n as u32, 1, 1],
            )?;
            let mut got = vec![0.0f32; n];
            b.read_back(ids, &mut got)?;
            for (o, g) in out.iter_mut().zip(got) {
                *o = g.to_bits();
            }
            Ok(())
        });
        if self.error.is_some() {
            out.fill(0);
        }
    }

    /// `top_k.comp` for 1 ≤ `k` ≤ [`TOP_K_MAX`] (a workgroup per row, reading back 8 bytes per
    /// candidate); the rows read back and selected on the host otherwise.
    fn top_k(
        &mut self,
        x: &VkBuffer,
        width: usize,
        k: usize,
        rows: usize,
        out: &mut Vec<(u32, f32)>,
    ) {
        out.clear();
        if !(1..=TOP_K_MAX).contains(&k) || width == 0 || rows > MAX_GROUPS as usize {
            let mut all = vec![0.0; rows * width];
            self.read(x, &mut all);
            pine_backend::math::top_k_rows(&all, width, k, out);
            return;
        }
        let k = k.min(width);
        let xb = x.buf.clone();
        let mut got = vec![0.0f32; 2 * k * rows];
        self.sticky(|b| {
            if rows == 0 {
                return b.rec.flush();
            }
            need(x, rows * width, "top-k rows")?;
            let mem = b.ctx.memory.clone();
            let picked = Self::scratch(&mem, &mut b.tokens, 2 * k * rows)?;
            let push = [width as u32, k as u32, 0, 0, 0, 0, 0, 0];
            b.dispatch(
                "top_k",
                vec![
                    xb.into_bytes().into(),
                    picked
                        .clone()
                        .slice(..(2 * k * rows) as u64)
                        .into_bytes()
                        .into(),
                ],
                push,
                [rows as u32, 1, 1],
            )?;
            b.read_back(picked, &mut got)
        });
        if self.error.is_none() {
            for row in got.chunks_exact(2 * k) {
                let (ids, values) = row.split_at(k);
                out.extend(ids.iter().zip(values).map(|(id, v)| (id.to_bits(), *v)));
            }
        }
    }

    fn take_error(&mut self) -> Result<(), BackendError> {
        match self.error.take() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    fn select_rows(&mut self, x: &VkBuffer, width: usize, rows: &[usize], out: &mut VkBuffer) {
        let (xb, ob) = (x.buf.clone(), out.buf.clone());
        self.sticky(|b| {
            let top = rows.iter().max().map_or(0, |&r| r + 1);
            need(x, top * width, "select_rows input")?;
            need(out, rows.len() * width, "select_rows output")?;
            let ids = b.rec.data(rows.iter().map(|&r| r as u32));
            let push = [width as u32, 0, 0, 0, 0, 0, 0, 0];
            b.dispatch(
                "select_rows",
                vec![xb.into_bytes().into(), ids, ob.into_bytes().into()],
                push,
                [rows.len() as u32, 1, 1],
            )
        });
    }

    fn embed(
        &mut self,
        table: &VkWeight,
        ids: &[u32],
        out: &mut VkBuffer,
    ) -> Result<(), BackendError> {
        self.failed()?;
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= table.rows) {
            return Err(BackendError::Tensor {
                name: table.name.clone(),
                what: format!("token id {bad} is outside the vocabulary of {}", table.rows),
            });
        }
        need(out, ids.len() * table.width, "embedding output")?;
        let shader = self.shader(Shader::GetRows(table.ty))?;
        let idb = self.rec.data(ids.iter().copied());
        for c in &table.chunks {
            let push = [
                table.width as u32,
                table.row_bytes as u32,
                c.first_row as u32,
                c.rows as u32,
                0,
                0,
                0,
                0,
            ];
            self.dispatch(
                shader,
                vec![
                    c.buf.clone().into(),
                    idb.clone(),
                    out.buf.clone().into_bytes().into(),
                ],
                push,
                [ids.len() as u32, 1, 1],
            )?;
        }
        Ok(())
    }

    fn rms_norm(
        &mut self,
        x: &VkBuffer,
        weight: &VkWeight,
        eps: f32,
        n: usize,
        out: &mut VkBuffer,
    ) {
        let (xb, ob) = (x.buf.clone(), out.buf.clone());
        self.sticky(|b| {
            need(x, n * weight.width, "rms_norm input")?;
            need(out, n * weight.width, "rms_norm output")?;
            let w = b.vector_of(weight)?.clone();
            let push = [weight.width as u32, eps.to_bits(), 0, 0, 0, 0, 0, 0];
            let name = b.shader(Shader::Float("rms_norm"))?;
            b.dispatch(
                name,
                vec![xb.into_bytes().into(), w.into(), ob.into_bytes().into()],
                push,
                [n as u32, 1, 1],
            )
        });
    }

    fn matmul(
        &mut self,
        w: &VkWeight,
        x: &VkBuffer,
        n: usize,
        out: &mut VkBuffer,
    ) -> Result<(), BackendError> {
        self.failed()?;
        Self::check_matmul(w, x, n, out)?;
        let rounded = self.round_activations(w, x, n, self.int_kernel(w), Pre::None)?;
        Ok(self.matmul_rounded(w, x, n, &rounded, out, false)?)
    }

    /// One rounding of `x` for all of `ws` where they share it, then their kernels.
    fn matmul_many<const N: usize>(
        &mut self,
        ws: [&VkWeight; N],
        x: &VkBuffer,
        n: usize,
        outs: [&mut VkBuffer; N],
    ) -> Result<(), BackendError> {
        self.failed()?;
        if N == 0 || !self.share_rounding(&ws) {
            for (w, out) in ws.into_iter().zip(outs) {
                self.matmul(w, x, n, out)?;
            }
            return Ok(());
        }
        for (w, out) in ws.iter().zip(&outs) {
            Self::check_matmul(w, x, n, out)?;
        }
        let rounded = self.round_activations(ws[0], x, n, self.int_kernel(ws[0]), Pre::None)?;
        self.matmuls_rounded(ws, x, n, &rounded, outs)?;
        Ok(())
    }

    /// The norm fused into the weights' activation rounding (`rms_norm_quant.comp`) where
    /// they share one; else the norm, then [`Backend::matmul_many`].
    fn norm_matmul_many<const N: usize>(
        &mut self,
        x: &VkBuffer,
        norm: &VkWeight,
        eps: f32,
        n: usize,
        h: &mut VkBuffer,
        ws: [&VkWeight; N],
        outs: [&mut VkBuffer; N],
    ) -> Result<(), BackendError> {
        self.failed()?;
        let fused = N > 0
            && self.share_rounding(&ws)
            && ws[0].width == norm.width
            && self.mode == MatmulMode::Native
            && FUSED_ACTS.contains(&ws[0].act);
        if !fused {
            self.rms_norm(x, norm, eps, n, h);
            return self.matmul_many(ws, h, n, outs);
        }
        need(x, n * norm.width, "rms_norm input")?;
        for (w, out) in ws.iter().zip(&outs) {
            Self::check_matmul(w, h, n, out)?;
        }
        let fuse = Pre::Norm {
            weight: norm,
            eps,
            out: h,
        };
        let rounded = self.round_activations(ws[0], x, n, self.int_kernel(ws[0]), fuse)?;
        self.matmuls_rounded(ws, h, n, &rounded, outs)?;
        Ok(())
    }

    /// The product added to `acc` in the matmul's epilogue (`store_y.glsl`); `tmp` is unused.
    fn matmul_add(
        &mut self,
        w: &VkWeight,
        x: &VkBuffer,
        n: usize,
        _tmp: &mut VkBuffer,
        acc: &mut VkBuffer,
        _len: usize,
    ) -> Result<(), BackendError> {
        self.failed()?;
        Self::check_matmul(w, x, n, acc)?;
        let rounded = match self.attention_rounding(w, x, n)? {
            Some(r) => Some(r),
            None => self.round_activations(w, x, n, self.int_kernel(w), Pre::None)?,
        };
        Ok(self.matmul_rounded(w, x, n, &rounded, acc, true)?)
    }

    /// The gated activation fused into the rounding for `w` (`swiglu_quant.comp`), and the
    /// product added in the matmul's epilogue; unfused where the rounding does not apply.
    fn swiglu_matmul_add(
        &mut self,
        gate: &mut VkBuffer,
        up: &VkBuffer,
        gate_len: usize,
        w: &VkWeight,
        n: usize,
        tmp: &mut VkBuffer,
        acc: &mut VkBuffer,
        len: usize,
    ) -> Result<(), BackendError> {
        self.failed()?;
        let fused = self.mode == MatmulMode::Native
            && FUSED_ACTS.contains(&w.act)
            && gate_len == n * w.width;
        if !fused {
            self.swiglu(gate, up, gate_len);
            return self.matmul_add(w, gate, n, tmp, acc, len);
        }
        Self::check_matmul(w, gate, n, acc)?;
        let fuse = Pre::Swiglu { up };
        let rounded = self.round_activations(w, gate, n, self.int_kernel(w), fuse)?;
        Ok(self.matmul_rounded(w, gate, n, &rounded, acc, true)?)
    }

    fn swiglu(&mut self, gate: &mut VkBuffer, up: &VkBuffer, len: usize) {
        self.sticky(|b| {
            let name = b.shader(Shader::Float("swiglu"))?;
            b.in_place(name, gate, up, len)
        });
    }

    fn geglu(&mut self, gate: &mut VkBuffer, up: &VkBuffer, len: usize) {
        self.sticky(|b| {
            let name = b.shader(Shader::Float("geglu"))?;
            b.in_place(name, gate, up, len)
        });
    }

    fn scale(&mut self, x: &mut VkBuffer, s: f32, len: usize) {
        self.sticky(|b| {
            need(x, len, "scale")?;
            let push = [len as u32, s.to_bits(), 0, 0, 0, 0, 0, 0];
            let bindings = vec![x.buf.clone().into_bytes().into()];
            b.dispatch("scale", bindings, push, groups_1d(len, 256))
        });
    }

    fn add(&mut self, acc: &mut VkBuffer, x: &VkBuffer, len: usize) {
        self.sticky(|b| b.in_place("add", acc, x, len));
    }

    fn add_bias(&mut self, x: &mut VkBuffer, bias: &VkWeight, n: usize) {
        let xb = x.buf.clone();
        self.sticky(|b| {
            let len = n * bias.width;
            need(x, len, "add_bias rows")?;
            let w = b.vector_of(bias)?.clone();
            let push = [len as u32, bias.width as u32, 0, 0, 0, 0, 0, 0];
            b.dispatch(
                "add_bias",
                vec![xb.into_bytes().into(), w.into()],
                push,
                groups_1d(len, 256),
            )
        });
    }

    fn new_cache(&mut self, spec: CacheSpec) -> Result<VkCache, BackendError> {
        self.failed()?;
        let elem = match spec.ty {
            CacheType::F16 => 2,
            CacheType::F32 => 4,
        };
        let bytes = spec
            .n_ctx
            .checked_mul(spec.n_kv_heads * spec.head_dim * elem)
            .ok_or_else(|| BackendError::Plan("KV cache size overflows".into()))?;
        if bytes as u64 > self.ctx.info.max_storage_buffer_range {
            return Err(BackendError::Device(format!(
                "a {} MiB layer cache exceeds the device's storage binding limit; use a smaller context (-c)",
                bytes >> 20
            )));
        }
        let layer = || memory::device::<u8>(&self.ctx.memory, bytes);
        let k = (0..spec.n_layers)
            .map(|_| layer())
            .collect::<Result<Vec<_>, _>>()?;
        let v = (0..spec.n_layers)
            .map(|_| layer())
            .collect::<Result<Vec<_>, _>>()?;
        let region = (0..spec.n_layers).map(|_| None).collect();
        Ok(VkCache { spec, k, v, region })
    }

    fn store_kv(
        &mut self,
        cache: &mut VkCache,
        layer: usize,
        shape: &AttentionShape,
        k: &VkBuffer,
        v: &VkBuffer,
        cache_index: &[usize],
        positions: &[i64],
    ) -> Result<(), BackendError> {
        self.failed()?;
        let kvw = shape.n_kv_heads * shape.head_dim;
        need(k, cache_index.len() * kvw, "keys")?;
        need(v, cache_index.len() * kvw, "values")?;
        let n_ctx = cache.spec.n_ctx;
        let mut rows = Vec::with_capacity(cache_index.len());
        for (&slot, &pos) in cache_index.iter().zip(positions) {
            if slot >= n_ctx {
                return Err(BackendError::Plan(format!(
                    "cache slot {slot} is past the context size {n_ctx}"
                )));
            }
            let pos = i32::try_from(pos)
                .map_err(|_| BackendError::Plan(format!("position {pos} out of range")))?;
            rows.push([slot as i32, pos]);
        }
        let lo = positions.iter().copied().min().unwrap_or(0);
        let hi = positions.iter().copied().max().unwrap_or(0);
        let (table, table_lo) = self
            .rope
            .cover(&self.ctx, &mut self.rec, &shape.rope, (lo, hi))?;
        let rows = self.rec.data(words(&rows));
        let pairs = shape.rope.inv_freq.len() as u32;
        let push = [
            (shape.n_kv_heads * shape.head_dim) as u32,
            shape.head_dim as u32,
            pairs,
            pairs,
            table_lo as i32 as u32,
            0,
            0,
            0,
        ];
        let shader = self.shader(Shader::StoreKv(cache.spec.ty))?;
        self.dispatch(
            shader,
            vec![
                k.buf.clone().into_bytes().into(),
                v.buf.clone().into_bytes().into(),
                cache.k[layer].clone().into(),
                cache.v[layer].clone().into(),
                table.into_bytes().into(),
                rows,
            ],
            push,
            [cache_index.len() as u32, 1, 1],
        )?;
        Ok(())
    }

    fn attention(
        &mut self,
        cache: &VkCache,
        layer: usize,
        shape: &AttentionShape,
        q: &VkBuffer,
        plan: &AttentionPlan,
        out: &mut VkBuffer,
    ) -> Result<(), BackendError> {
        self.failed()?;
        let n_rows = plan.groups.iter().map(|g| g.rows.end).max().unwrap_or(0);
        plan.validate(n_rows, cache.spec.n_ctx, shape.n_heads)
            .map_err(BackendError::Plan)?;
        if shape.head_dim > 256 || !shape.head_dim.is_multiple_of(2) {
            return Err(BackendError::Plan(format!(
                "head dim {} is not supported by the Vulkan attention (even, ≤ 256)",
                shape.head_dim
            )));
        }
        let q_len = n_rows * shape.n_heads * shape.head_dim;
        need(q, q_len, "queries")?;
        need(out, q_len, "attention output")?;
        let e = EncodedPlan::new(plan, n_rows, shape.n_heads).map_err(BackendError::Plan)?;
        let (table, table_lo) =
            self.rope
                .cover(&self.ctx, &mut self.rec, &shape.rope, e.positions)?;
        let rows = self.rec.data(words(&e.rows));
        let lists = self.rec.data(words(&e.lists));
        let ranges = self.rec.data(if e.ranges.is_empty() {
            vec![0; 4]
        } else {
            words(&e.ranges).collect()
        });
        // Rounded up, so the pushed stride (and the scratch binding) stay the same while a
        // decode's key count grows, and its recorded command buffer can be resubmitted.
        let stride = e.max_keys.max(1).next_multiple_of(SCORE_STRIDE_STEP);
        let mem = &self.ctx.memory.clone();
        let scores = Self::scratch(mem, &mut self.scores, n_rows * shape.n_heads * stride)?;
        let pairs = shape.rope.inv_freq.len() as u32;
        let scale = 1.0 / (shape.head_dim as f32).sqrt();
        let push = [
            shape.n_heads as u32,
            shape.n_kv_heads as u32,
            shape.head_dim as u32,
            pairs,
            stride as u32,
            table_lo as i32 as u32,
            scale.to_bits(),
            // 0: no soft-cap (no cap is 0).
            shape.logit_softcap.map_or(0, f32::to_bits),
        ];
        let shader = self.shader(Shader::Attention(cache.spec.ty))?;
        self.dispatch(
            shader,
            vec![
                q.buf.clone().into_bytes().into(),
                cache.k[layer].clone().into(),
                cache.v[layer].clone().into(),
                table.into_bytes().into(),
                rows,
                lists,
                ranges,
                out.buf.clone().into_bytes().into(),
                scores.into_bytes().into(),
            ],
            push,
            [shape.n_heads as u32, n_rows as u32, 1],
        )?;
        Ok(())
    }

    fn store_region_keys(
        &mut self,
        cache: &mut VkCache,
        layer: usize,
        k: &VkBuffer,
        tokens: usize,
    ) -> Result<(), BackendError> {
        self.failed()?;
        self.store_region(cache, layer, k, tokens)
    }

    fn importance(
        &mut self,
        cache: &VkCache,
        layer: usize,
        shape: &AttentionShape,
        q: &VkBuffer,
        geo: &RegionGeometry<'_>,
        rows: ImportanceRows,
        out: &mut [f32],
    ) -> Result<(), BackendError> {
        self.failed()?;
        self.region_importance(cache, layer, shape, q, geo, rows, out)
    }
}
