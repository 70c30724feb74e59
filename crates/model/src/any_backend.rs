//! Choosing the backend at run time (`--backend cpu|vulkan|auto`): [`AnyBackend`] is either
//! backend behind one type, so a [`crate::Session`] and everything above it is written once.
//! The Vulkan variants exist with the `vulkan` feature (default on).

use pine_backend::{
    AttentionPlan, AttentionShape, Backend, BackendError, CacheSpec, CpuBackend, CpuCache,
    CpuWeight, ImportanceRows, MatmulMode, RankedRow, RegionGeometry, VulkanNumerics, WeightSource,
};
#[cfg(feature = "vulkan")]
use pine_vulkan::{DeviceChoice, VkBuffer, VkCache, VkWeight, VulkanBackend};

/// Which backend to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// The CPU with this many threads (0 = all cores).
    Cpu { threads: usize },
    /// A Vulkan device: `Some(n)` for device n, `None` for the best one (lavapipe included),
    /// computing in `numerics`.
    #[cfg(feature = "vulkan")]
    Vulkan {
        device: Option<usize>,
        numerics: VulkanNumerics,
    },
    /// A real Vulkan GPU if there is one (computing in `numerics`), else the CPU with `threads`.
    Auto {
        threads: usize,
        numerics: VulkanNumerics,
    },
}

/// A CPU or Vulkan backend.
pub enum AnyBackend {
    /// The CPU backend.
    Cpu(CpuBackend),
    /// The Vulkan backend (boxed: it is much larger than the CPU's handle).
    #[cfg(feature = "vulkan")]
    Vulkan(Box<VulkanBackend>),
}

impl AnyBackend {
    /// Opens the chosen backend; `notes` receives what `Auto` decided and why.
    pub fn open(
        choice: BackendChoice,
        mode: MatmulMode,
        notes: &mut dyn FnMut(String),
    ) -> Result<AnyBackend, BackendError> {
        let cpu = |threads| CpuBackend::new(threads, mode).map(AnyBackend::Cpu);
        match choice {
            BackendChoice::Cpu { threads } => cpu(threads),
            #[cfg(feature = "vulkan")]
            BackendChoice::Vulkan { device, numerics } => {
                let d = device.map_or(DeviceChoice::Any, DeviceChoice::Index);
                Ok(AnyBackend::Vulkan(Box::new(VulkanBackend::new(
                    d, mode, numerics,
                )?)))
            }
            #[cfg(feature = "vulkan")]
            BackendChoice::Auto { threads, numerics } => {
                match VulkanBackend::new(DeviceChoice::BestGpu, mode, numerics) {
                    Ok(v) => Ok(AnyBackend::Vulkan(Box::new(v))),
                    Err(e) => {
                        notes(format!("no Vulkan GPU, using the CPU ({e})"));
                        cpu(threads)
                    }
                }
            }
            #[cfg(not(feature = "vulkan"))]
            BackendChoice::Auto { threads, .. } => {
                notes("built without Vulkan, using the CPU".into());
                cpu(threads)
            }
        }
    }

    /// Short description for logs: `cpu backend, 2 threads` or `vulkan backend, NVIDIA H100
    /// (discrete GPU, <driver>), fast numerics`.
    pub fn describe(&self) -> String {
        match self {
            AnyBackend::Cpu(c) => format!("cpu backend, {} threads", c.threads()),
            #[cfg(feature = "vulkan")]
            AnyBackend::Vulkan(v) => {
                let d = v.device();
                format!(
                    "vulkan backend, {} ({}, {}), {} numerics",
                    d.name,
                    d.kind,
                    d.driver,
                    v.numerics()
                )
            }
        }
    }

    /// The numeric mode of a Vulkan backend; `None` on the CPU.
    pub fn numerics(&self) -> Option<VulkanNumerics> {
        match self {
            AnyBackend::Cpu(_) => None,
            #[cfg(feature = "vulkan")]
            AnyBackend::Vulkan(v) => Some(v.numerics()),
        }
    }
}

/// A weight of either backend.
pub enum AnyWeight {
    /// On the CPU.
    Cpu(CpuWeight),
    /// On a Vulkan device.
    #[cfg(feature = "vulkan")]
    Vulkan(VkWeight),
}

/// An activation buffer of either backend.
pub enum AnyBuffer {
    /// In host memory.
    Cpu(Vec<f32>),
    /// On a Vulkan device.
    #[cfg(feature = "vulkan")]
    Vulkan(VkBuffer),
}

/// A KV cache of either backend.
pub enum AnyCache {
    /// In host memory.
    Cpu(CpuCache),
    /// On a Vulkan device.
    #[cfg(feature = "vulkan")]
    Vulkan(VkCache),
}

fn mixed() -> BackendError {
    BackendError::Plan("a buffer, weight or cache of one backend was passed to the other".into())
}

impl AnyBuffer {
    /// The host buffer, when it is one.
    fn cpu(&mut self) -> Option<&mut Vec<f32>> {
        match self {
            AnyBuffer::Cpu(b) => Some(b),
            #[cfg(feature = "vulkan")]
            AnyBuffer::Vulkan(_) => None,
        }
    }

    /// The device buffer, when it is one.
    #[cfg(feature = "vulkan")]
    fn vulkan(&mut self) -> Option<&mut VkBuffer> {
        match self {
            AnyBuffer::Vulkan(b) => Some(b),
            AnyBuffer::Cpu(_) => None,
        }
    }
}

/// Every element's inner value, or the mixed-backends error when one belongs to the other
/// backend.
fn all<T, const N: usize>(xs: [Option<T>; N]) -> Result<[T; N], BackendError> {
    if xs.iter().any(Option::is_none) {
        return Err(mixed());
    }
    Ok(xs.map(|x| x.expect("checked: none is missing")))
}

impl Backend for AnyBackend {
    type Weight = AnyWeight;
    type Buffer = AnyBuffer;
    type Cache = AnyCache;

    fn name(&self) -> &str {
        match self {
            AnyBackend::Cpu(b) => b.name(),
            #[cfg(feature = "vulkan")]
            AnyBackend::Vulkan(b) => b.name(),
        }
    }

    fn load_weight(&mut self, src: WeightSource<'_>) -> Result<AnyWeight, BackendError> {
        Ok(match self {
            AnyBackend::Cpu(b) => AnyWeight::Cpu(b.load_weight(src)?),
            #[cfg(feature = "vulkan")]
            AnyBackend::Vulkan(b) => AnyWeight::Vulkan(b.load_weight(src)?),
        })
    }

    fn buffer(&mut self, len: usize) -> AnyBuffer {
        match self {
            AnyBackend::Cpu(b) => AnyBuffer::Cpu(b.buffer(len)),
            #[cfg(feature = "vulkan")]
            AnyBackend::Vulkan(b) => AnyBuffer::Vulkan(b.buffer(len)),
        }
    }

    fn write(&mut self, buf: &mut AnyBuffer, data: &[f32]) {
        match (self, buf) {
            (AnyBackend::Cpu(b), AnyBuffer::Cpu(x)) => b.write(x, data),
            #[cfg(feature = "vulkan")]
            (AnyBackend::Vulkan(b), AnyBuffer::Vulkan(x)) => b.write(x, data),
            #[cfg(feature = "vulkan")]
            _ => {}
        }
    }

    fn read(&mut self, buf: &AnyBuffer, out: &mut [f32]) {
        match (self, buf) {
            (AnyBackend::Cpu(b), AnyBuffer::Cpu(x)) => b.read(x, out),
            #[cfg(feature = "vulkan")]
            (AnyBackend::Vulkan(b), AnyBuffer::Vulkan(x)) => b.read(x, out),
            #[cfg(feature = "vulkan")]
            _ => out.fill(f32::NAN),
        }
    }

    fn argmax(&mut self, x: &AnyBuffer, width: usize, out: &mut [u32]) {
        match (self, x) {
            (AnyBackend::Cpu(b), AnyBuffer::Cpu(x)) => b.argmax(x, width, out),
            #[cfg(feature = "vulkan")]
            (AnyBackend::Vulkan(b), AnyBuffer::Vulkan(x)) => b.argmax(x, width, out),
            #[cfg(feature = "vulkan")]
            _ => out.fill(0),
        }
    }

    fn top_k(
        &mut self,
        x: &AnyBuffer,
        width: usize,
        k: usize,
        rows: usize,
        out: &mut Vec<(u32, f32)>,
    ) {
        match (self, x) {
            (AnyBackend::Cpu(b), AnyBuffer::Cpu(x)) => b.top_k(x, width, k, rows, out),
            #[cfg(feature = "vulkan")]
            (AnyBackend::Vulkan(b), AnyBuffer::Vulkan(x)) => b.top_k(x, width, k, rows, out),
            #[cfg(feature = "vulkan")]
            _ => out.clear(),
        }
    }

    fn take_error(&mut self) -> Result<(), BackendError> {
        match self {
            AnyBackend::Cpu(b) => b.take_error(),
            #[cfg(feature = "vulkan")]
            AnyBackend::Vulkan(b) => b.take_error(),
        }
    }

    fn select_rows(&mut self, x: &AnyBuffer, width: usize, rows: &[usize], out: &mut AnyBuffer) {
        match (self, x, out) {
            (AnyBackend::Cpu(b), AnyBuffer::Cpu(x), AnyBuffer::Cpu(o)) => {
                b.select_rows(x, width, rows, o)
            }
            #[cfg(feature = "vulkan")]
            (AnyBackend::Vulkan(b), AnyBuffer::Vulkan(x), AnyBuffer::Vulkan(o)) => {
                b.select_rows(x, width, rows, o)
            }
            #[cfg(feature = "vulkan")]
            _ => {}
        }
    }

    fn embed(
        &mut self,
        table: &AnyWeight,
        ids: &[u32],
        out: &mut AnyBuffer,
    ) -> Result<(), BackendError> {
        match (self, table, out) {
            (AnyBackend::Cpu(b), AnyWeight::Cpu(t), AnyBuffer::Cpu(o)) => b.embed(t, ids, o),
            #[cfg(feature = "vulkan")]
            (AnyBackend::Vulkan(b), AnyWeight::Vulkan(t), AnyBuffer::Vulkan(o)) => {
                b.embed(t, ids, o)
            }
            #[cfg(feature = "vulkan")]
            _ => Err(mixed()),
        }
    }

    fn rms_norm(
        &mut self,
        x: &AnyBuffer,
        weight: &AnyWeight,
        eps: f32,
        n: usize,
        out: &mut AnyBuffer,
    ) {
        match (self, x, weight, out) {
            (AnyBackend::Cpu(b), AnyBuffer::Cpu(x), AnyWeight::Cpu(w), AnyBuffer::Cpu(o)) => {
                b.rms_norm(x, w, eps, n, o)
            }
            #[cfg(feature = "vulkan")]
            (
                AnyBackend::Vulkan(b),
                AnyBuffer::Vulkan(x),
                AnyWeight::Vulkan(w),
                AnyBuffer::Vulkan(o),
            ) => b.rms_norm(x, w, eps, n, o),
            #[cfg(feature = "vulkan")]
            _ => {}
        }
    }

    fn matmul(
        &mut self,
        w: &AnyWeight,
        x: &AnyBuffer,
        n: usize,
        out: &mut AnyBuffer,
    ) -> Result<(), BackendError> {
        match (self, w, x, out) {
            (AnyBackend::Cpu(b), AnyWeight::Cpu(w), AnyBuffer::Cpu(x), AnyBuffer::Cpu(o)) => {
                b.matmul(w, x, n, o)
            }
            #[cfg(feature = "vulkan")]
            (
                AnyBackend::Vulkan(b),
                AnyWeight::Vulkan(w),
                AnyBuffer::Vulkan(x),
                AnyBuffer::Vulkan(o),
            ) => b.matmul(w, x, n, o),
            #[cfg(feature = "vulkan")]
            _ => Err(mixed()),
        }
    }

    fn matmul_many<const N: usize>(
        &mut self,
        ws: [&AnyWeight; N],
        x: &AnyBuffer,
        n: usize,
        outs: [&mut AnyBuffer; N],
    ) -> Result<(), BackendError> {
        match (self, x) {
            (AnyBackend::Cpu(b), AnyBuffer::Cpu(x)) => {
                let ws = all(ws.map(|w| match w {
                    AnyWeight::Cpu(w) => Some(w),
                    #[cfg(feature = "vulkan")]
                    AnyWeight::Vulkan(_) => None,
                }))?;
                b.matmul_many(ws, x, n, all(outs.map(AnyBuffer::cpu))?)
            }
            #[cfg(feature = "vulkan")]
            (AnyBackend::Vulkan(b), AnyBuffer::Vulkan(x)) => {
                let ws = all(ws.map(|w| match w {
                    #[cfg(feature = "vulkan")]
                    AnyWeight::Vulkan(w) => Some(w),
                    AnyWeight::Cpu(_) => None,
                }))?;
                b.matmul_many(ws, x, n, all(outs.map(AnyBuffer::vulkan))?)
            }
            #[cfg(feature = "vulkan")]
            _ => Err(mixed()),
        }
    }

    fn norm_matmul_many<const N: usize>(
        &mut self,
        x: &AnyBuffer,
        norm: &AnyWeight,
        eps: f32,
        n: usize,
        h: &mut AnyBuffer,
        ws: [&AnyWeight; N],
        outs: [&mut AnyBuffer; N],
    ) -> Result<(), BackendError> {
        match (self, x, norm, h) {
            (AnyBackend::Cpu(b), AnyBuffer::Cpu(x), AnyWeight::Cpu(nw), AnyBuffer::Cpu(h)) => {
                let ws = all(ws.map(|w| match w {
                    AnyWeight::Cpu(w) => Some(w),
                    #[cfg(feature = "vulkan")]
                    AnyWeight::Vulkan(_) => None,
                }))?;
                b.norm_matmul_many(x, nw, eps, n, h, ws, all(outs.map(AnyBuffer::cpu))?)
            }
            #[cfg(feature = "vulkan")]
            (
                AnyBackend::Vulkan(b),
                AnyBuffer::Vulkan(x),
                AnyWeight::Vulkan(nw),
                AnyBuffer::Vulkan(h),
            ) => {
                let ws = all(ws.map(|w| match w {
                    AnyWeight::Vulkan(w) => Some(w),
                    AnyWeight::Cpu(_) => None,
                }))?;
                b.norm_matmul_many(x, nw, eps, n, h, ws, all(outs.map(AnyBuffer::vulkan))?)
            }
            #[cfg(feature = "vulkan")]
            _ => Err(mixed()),
        }
    }

    fn matmul_add(
        &mut self,
        w: &AnyWeight,
        x: &AnyBuffer,
        n: usize,
        tmp: &mut AnyBuffer,
        acc: &mut AnyBuffer,
        len: usize,
    ) -> Result<(), BackendError> {
        match (self, w, x, tmp, acc) {
            (
                AnyBackend::Cpu(b),
                AnyWeight::Cpu(w),
                AnyBuffer::Cpu(x),
                AnyBuffer::Cpu(t),
                AnyBuffer::Cpu(a),
            ) => b.matmul_add(w, x, n, t, a, len),
            #[cfg(feature = "vulkan")]
            (
                AnyBackend::Vulkan(b),
                AnyWeight::Vulkan(w),
                AnyBuffer::Vulkan(x),
                AnyBuffer::Vulkan(t),
                AnyBuffer::Vulkan(a),
            ) => b.matmul_add(w, x, n, t, a, len),
            #[cfg(feature = "vulkan")]
            _ => Err(mixed()),
        }
    }

    fn swiglu_matmul_add(
        &mut self,
        gate: &mut AnyBuffer,
        up: &AnyBuffer,
        gate_len: usize,
        w: &AnyWeight,
        n: usize,
        tmp: &mut AnyBuffer,
        acc: &mut AnyBuffer,
        len: usize,
    ) -> Result<(), BackendError> {
        match (self, gate, up, w, tmp, acc) {
            (
                AnyBackend::Cpu(b),
                AnyBuffer::Cpu(g),
                AnyBuffer::Cpu(u),
                AnyWeight::Cpu(w),
                AnyBuffer::Cpu(t),
                AnyBuffer::Cpu(a),
            ) => b.swiglu_matmul_add(g, u, gate_len, w, n, t, a, len),
            #[cfg(feature = "vulkan")]
            (
                AnyBackend::Vulkan(b),
                AnyBuffer::Vulkan(g),
                AnyBuffer::Vulkan(u),
                AnyWeight::Vulkan(w),
                AnyBuffer::Vulkan(t),
                AnyBuffer::Vulkan(a),
            ) => b.swiglu_matmul_add(g, u, gate_len, w, n, t, a, len),
            #[cfg(feature = "vulkan")]
            _ => Err(mixed()),
        }
    }

    fn swiglu(&mut self, gate: &mut AnyBuffer, up: &AnyBuffer, len: usize) {
        match (self, gate, up) {
            (AnyBackend::Cpu(b), AnyBuffer::Cpu(g), AnyBuffer::Cpu(u)) => b.swiglu(g, u, len),
            #[cfg(feature = "vulkan")]
            (AnyBackend::Vulkan(b), AnyBuffer::Vulkan(g), AnyBuffer::Vulkan(u)) => {
                b.swiglu(g, u, len)
            }
            #[cfg(feature = "vulkan")]
            _ => {}
        }
    }

    fn geglu(&mut self, gate: &mut AnyBuffer, up: &AnyBuffer, len: usize) {
        match (self, gate, up) {
            (AnyBackend::Cpu(b), AnyBuffer::Cpu(g), AnyBuffer::Cpu(u)) => b.geglu(g, u, len),
            #[cfg(feature = "vulkan")]
            (AnyBackend::Vulkan(b), AnyBuffer::Vulkan(g), AnyBuffer::Vulkan(u)) => {
                b.geglu(g, u, len)
            }
            #[cfg(feature = "vulkan")]
            _ => {}
        }
    }

    fn scale(&mut self, x: &mut AnyBuffer, s: f32, len: usize) {
        match (self, x) {
            (AnyBackend::Cpu(b), AnyBuffer::Cpu(x)) => b.scale(x, s, len),
            #[cfg(feature = "vulkan")]
            (AnyBackend::Vulkan(b), AnyBuffer::Vulkan(x)) => b.scale(x, s, len),
            #[cfg(feature = "vulkan")]
            _ => {}
        }
    }

    fn add(&mut self, acc: &mut AnyBuffer, x: &AnyBuffer, len: usize) {
        match (self, acc, x) {
            (AnyBackend::Cpu(b), AnyBuffer::Cpu(a), AnyBuffer::Cpu(x)) => b.add(a, x, len),
            #[cfg(feature = "vulkan")]
            (AnyBackend::Vulkan(b), AnyBuffer::Vulkan(a), AnyBuffer::Vulkan(x)) => b.add(a, x, len),
            #[cfg(feature = "vulkan")]
            _ => {}
        }
    }

    fn new_cache(&mut self, spec: CacheSpec) -> Result<AnyCache, BackendError> {
        Ok(match self {
            AnyBackend::Cpu(b) => AnyCache::Cpu(b.new_cache(spec)?),
            #[cfg(feature = "vulkan")]
            AnyBackend::Vulkan(b) => AnyCache::Vulkan(b.new_cache(spec)?),
        })
    }

    fn store_kv(
        &mut self,
        cache: &mut AnyCache,
        layer: usize,
        shape: &AttentionShape,
        k: &AnyBuffer,
        v: &AnyBuffer,
        cache_index: &[usize],
        positions: &[i64],
    ) -> Result<(), BackendError> {
        match (self, cache, k, v) {
            (AnyBackend::Cpu(b), AnyCache::Cpu(c), AnyBuffer::Cpu(k), AnyBuffer::Cpu(v)) => {
                b.store_kv(c, layer, shape, k, v, cache_index, positions)
            }
            #[cfg(feature = "vulkan")]
            (
                AnyBackend::Vulkan(b),
                AnyCache::Vulkan(c),
                AnyBuffer::Vulkan(k),
                AnyBuffer::Vulkan(v),
            ) => b.store_kv(c, layer, shape, k, v, cache_index, positions),
            #[cfg(feature = "vulkan")]
            _ => Err(mixed()),
        }
    }

    fn attention(
        &mut self,
        cache: &AnyCache,
        layer: usize,
        shape: &AttentionShape,
        q: &AnyBuffer,
        plan: &AttentionPlan,
        out: &mut AnyBuffer,
    ) -> Result<(), BackendError> {
        match (self, cache, q, out) {
            (AnyBackend::Cpu(b), AnyCache::Cpu(c), AnyBuffer::Cpu(q), AnyBuffer::Cpu(o)) => {
                b.attention(c, layer, shape, q, plan, o)
            }
            #[cfg(feature = "vulkan")]
            (
                AnyBackend::Vulkan(b),
                AnyCache::Vulkan(c),
                AnyBuffer::Vulkan(q),
                AnyBuffer::Vulkan(o),
            ) => b.attention(c, layer, shape, q, plan, o),
            #[cfg(feature = "vulkan")]
            _ => Err(mixed()),
        }
    }

    fn add_bias(&mut self, x: &mut AnyBuffer, bias: &AnyWeight, n: usize) {
        match (self, x, bias) {
            (AnyBackend::Cpu(b), AnyBuffer::Cpu(x), AnyWeight::Cpu(w)) => b.add_bias(x, w, n),
            #[cfg(feature = "vulkan")]
            (AnyBackend::Vulkan(b), AnyBuffer::Vulkan(x), AnyWeight::Vulkan(w)) => {
                b.add_bias(x, w, n)
            }
            #[cfg(feature = "vulkan")]
            _ => unreachable!("buffers and weights come from the backend they are used on"),
        }
    }

    fn plan_budget(&self) -> Option<usize> {
        match self {
            AnyBackend::Cpu(b) => b.plan_budget(),
            #[cfg(feature = "vulkan")]
            AnyBackend::Vulkan(b) => b.plan_budget(),
        }
    }

    fn host_tasks(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        match self {
            AnyBackend::Cpu(b) => b.host_tasks(n, f),
            #[cfg(feature = "vulkan")]
            AnyBackend::Vulkan(b) => b.host_tasks(n, f),
        }
    }

    fn store_region_keys(
        &mut self,
        cache: &mut AnyCache,
        layer: usize,
        k: &AnyBuffer,
        tokens: usize,
    ) -> Result<(), BackendError> {
        match (self, cache, k) {
            (AnyBackend::Cpu(b), AnyCache::Cpu(c), AnyBuffer::Cpu(k)) => {
                b.store_region_keys(c, layer, k, tokens)
            }
            #[cfg(feature = "vulkan")]
            (AnyBackend::Vulkan(b), AnyCache::Vulkan(c), AnyBuffer::Vulkan(k)) => {
                b.store_region_keys(c, layer, k, tokens)
            }
            #[cfg(feature = "vulkan")]
            _ => Err(mixed()),
        }
    }

    fn ranked_attention(
        &mut self,
        cache: &AnyCache,
        layer: usize,
        shape: &AttentionShape,
        q: &AnyBuffer,
        row: &RankedRow<'_>,
        out: &mut AnyBuffer,
    ) -> Result<(), BackendError> {
        match (self, cache, q, out) {
            (AnyBackend::Cpu(b), AnyCache::Cpu(c), AnyBuffer::Cpu(q), AnyBuffer::Cpu(o)) => {
                b.ranked_attention(c, layer, shape, q, row, o)
            }
            #[cfg(feature = "vulkan")]
            (
                AnyBackend::Vulkan(b),
                AnyCache::Vulkan(c),
                AnyBuffer::Vulkan(q),
                AnyBuffer::Vulkan(o),
            ) => b.ranked_attention(c, layer, shape, q, row, o),
            #[cfg(feature = "vulkan")]
            _ => Err(mixed()),
        }
    }

    fn importance(
        &mut self,
        cache: &AnyCache,
        layer: usize,
        shape: &AttentionShape,
        q: &AnyBuffer,
        geo: &RegionGeometry<'_>,
        rows: ImportanceRows,
        out: &mut [f32],
    ) -> Result<(), BackendError> {
        match (self, cache, q) {
            (AnyBackend::Cpu(b), AnyCache::Cpu(c), AnyBuffer::Cpu(q)) => {
                b.importance(c, layer, shape, q, geo, rows, out)
            }
            #[cfg(feature = "vulkan")]
            (AnyBackend::Vulkan(b), AnyCache::Vulkan(c), AnyBuffer::Vulkan(q)) => {
                b.importance(c, layer, shape, q, geo, rows, out)
            }
            #[cfg(feature = "vulkan")]
            _ => Err(mixed()),
        }
    }
}
