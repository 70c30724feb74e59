//! Collects the graph's operations of one pass (everything up to the next read-back) as a list
//! of ops and submits them as one command buffer. The command buffer is a function of the op
//! list alone, so an op list equal to an earlier one (a decode step of the same shape)
//! resubmits the command buffer recorded for it ([`crate::replay`]): no descriptor sets, no
//! barrier analysis, no recording. What changes per token reaches the shaders through the step
//! data ([`crate::step_data`]), written before each submission. vulkano's automatic builder
//! places the barriers between dependent dispatches when a pass is recorded; the recorder
//! counts them ([`crate::counters::count_barriers`]) with the other work of each submission.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vulkano::buffer::Subbuffer;
use vulkano::command_buffer::{
    AutoCommandBufferBuilder, CommandBufferSubmitInfo, CommandBufferUsage, CopyBufferInfo,
    PrimaryAutoCommandBuffer, SubmitInfo,
};
use vulkano::descriptor_set::{DescriptorSet, WriteDescriptorSet};
use vulkano::pipeline::{ComputePipeline, Pipeline, PipelineBindPoint};
use vulkano::sync::fence::{Fence, FenceCreateInfo};

use crate::counters::{count_barriers, Access, ShaderTime, VkCounters};
use crate::device::Context;
use crate::error::VkError;
use crate::gpu_timer::GpuTimer;
use crate::kernels::Kernel;
use crate::replay::{ReplayCache, ReplayStats};
use crate::step_data::{StepData, StepSlice};

/// The eight push-constant words every shader declares (`shaders/common.glsl`).
pub type Push = [u32; 8];

/// The largest workgroup count per dimension every Vulkan device accepts.
pub const MAX_GROUPS: u32 = 65535;

/// Kept command buffers: enough for a PINE decode step (one pass per layer) of a large model.
const REPLAY_CAPACITY: usize = 256;

/// A buffer range an op reads or writes.
#[derive(Clone)]
pub enum Bind {
    /// A device buffer that outlives the pass (weights, activations, cache, scratch).
    Buffer(Subbuffer<[u8]>),
    /// A slice of this pass's step data.
    Step(StepSlice),
}

impl From<Subbuffer<[u8]>> for Bind {
    fn from(b: Subbuffer<[u8]>) -> Bind {
        Bind::Buffer(b)
    }
}

enum Op {
    Dispatch {
        name: &'static str,
        pipeline: Arc<ComputePipeline>,
        bindings: Vec<Bind>,
        push: Push,
        groups: [u32; 3],
    },
    Copy {
        src: Bind,
        dst: Subbuffer<[u8]>,
    },
    Fill(Subbuffer<[u32]>),
}

/// Pending work for the device.
pub struct Recorder {
    ctx: Arc<Context>,
    ops: Vec<Op>,
    step: StepData,
    /// Whether the pending ops read a one-off staging buffer (an upload), which a kept command
    /// buffer must not hold on to.
    one_off: bool,
    replay: ReplayCache,
    replay_on: bool,
    key: Vec<u64>,
    timer: Option<GpuTimer>,
    counters: VkCounters,
    /// Signalled by each submission, waited for and reset before the next.
    fence: Arc<Fence>,
}

fn failed(what: &str) -> impl Fn(Box<vulkano::ValidationError>) -> VkError + '_ {
    move |e| VkError::Device(format!("{what}: {e}"))
}

/// Identity of a buffer range: the buffer object (alive as long as a kept command buffer that
/// binds it, so never confused with a later one), offset and size.
fn range_key(b: &Subbuffer<[u8]>) -> [u64; 3] {
    [Arc::as_ptr(b.buffer()) as u64, b.offset(), b.size()]
}

impl Recorder {
    /// A recorder submitting to `ctx`'s queue, timing each submission where the queue can.
    pub fn new(ctx: Arc<Context>) -> Result<Recorder, VkError> {
        Ok(Recorder {
            timer: GpuTimer::new(&ctx)?,
            step: StepData::new(ctx.memory.clone()),
            ctx: ctx.clone(),
            ops: Vec::new(),
            one_off: false,
            replay: ReplayCache::new(REPLAY_CAPACITY),
            replay_on: true,
            key: Vec::new(),
            counters: VkCounters::default(),
            fence: Fence::new(ctx.device.clone(), FenceCreateInfo::default())
                .map(Arc::new)
                .map_err(|e| VkError::Device(format!("creating a fence: {e}")))?,
        })
    }

    /// The work submitted so far.
    pub fn counters(&self) -> VkCounters {
        self.counters
    }

    /// Counts `bytes` copied to the host (by the caller, after a flush).
    pub fn count_readback(&mut self, bytes: u64) {
        self.counters.readback_bytes += bytes;
    }

    /// Turns per-dispatch timestamps on or off (where the queue writes timestamps; elsewhere
    /// the profile stays empty). Kept command buffers are dropped, so every later pass is
    /// recorded with (or without) the stamps.
    pub fn set_profiling(&mut self, on: bool) -> Result<(), VkError> {
        if let Some(t) = &mut self.timer {
            t.set_profiling(&self.ctx, on)?;
        }
        self.replay.clear();
        Ok(())
    }

    /// Device time by shader so far (empty unless profiling was on).
    pub fn profile(&self) -> Vec<ShaderTime> {
        self.timer.as_ref().map_or_else(Vec::new, GpuTimer::profile)
    }

    /// Device time of every submission so far, or `None` when the queue cannot write
    /// timestamps.
    pub fn device_time(&self) -> Option<Duration> {
        self.timer.as_ref().map(GpuTimer::total)
    }

    /// Turns resubmission of kept command buffers on or off (off: every pass is recorded
    /// afresh and nothing is kept).
    pub fn set_replay(&mut self, on: bool) {
        self.replay_on = on;
        if !on {
            self.replay.clear();
        }
    }

    /// Passes recorded and replayed so far.
    pub fn replay_stats(&self) -> ReplayStats {
        self.replay.stats
    }

    /// Adds `words` to this pass's step data, for a shader to read at the returned binding.
    pub fn data(&mut self, words: impl IntoIterator<Item = u32>) -> Bind {
        Bind::Step(self.step.push(words))
    }

    /// Records one dispatch of `pipeline` with `bindings` at binding 0, 1, … of set 0 (those the
    /// shader variant does not use are left out).
    pub fn dispatch(&mut self, kernel: &Kernel, bindings: Vec<Bind>, push: Push, groups: [u32; 3]) {
        if !groups.contains(&0) {
            self.ops.push(Op::Dispatch {
                name: kernel.name,
                pipeline: kernel.pipeline.clone(),
                bindings,
                push,
                groups,
            });
        }
    }

    /// The shader, push constants and workgroups of the last op recorded, when it is a
    /// dispatch whose binding `at` is the range `target`: an op reading that range next may
    /// fuse into it ([`Recorder::refit_last`]).
    pub fn last_dispatch(
        &self,
        at: usize,
        target: &Subbuffer<[u8]>,
    ) -> Option<(&'static str, Push, [u32; 3])> {
        match self.ops.last()? {
            Op::Dispatch {
                name,
                bindings,
                push,
                groups,
                ..
            } => match bindings.get(at)? {
                Bind::Buffer(b) if range_key(b) == range_key(target) => {
                    Some((*name, *push, *groups))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// Makes the last op (a dispatch, as [`Recorder::last_dispatch`] found it) run `kernel`
    /// instead, with `extra` bindings after its own.
    pub fn refit_last(&mut self, kernel: &Kernel, extra: Vec<Bind>) {
        if let Some(Op::Dispatch {
            name,
            pipeline,
            bindings,
            ..
        }) = self.ops.last_mut()
        {
            *name = kernel.name;
            *pipeline = kernel.pipeline.clone();
            bindings.extend(extra);
        }
    }

    /// Records a copy of `src` into `dst` (same byte length).
    pub fn copy(&mut self, src: Bind, dst: Subbuffer<[u8]>) {
        self.ops.push(Op::Copy { src, dst });
    }

    /// Records a copy from a staging buffer used once (an upload); the pass is not kept.
    pub fn copy_once(&mut self, staged: Subbuffer<[u8]>, dst: Subbuffer<[u8]>) {
        self.one_off = true;
        self.copy(staged.into(), dst);
    }

    /// Records zero-filling `buf`.
    pub fn zero(&mut self, buf: Subbuffer<[u32]>) {
        self.ops.push(Op::Fill(buf));
    }

    /// Records zero-filling `buf` before the last op recorded (for a buffer that op gets when
    /// [`Recorder::refit_last`] changes it).
    pub fn zero_before_last(&mut self, buf: Subbuffer<[u32]>) {
        let at = self.ops.len().saturating_sub(1);
        self.ops.insert(at, Op::Fill(buf));
    }

    fn pass_key(&mut self, ops: &[Op], step: Option<&Subbuffer<[u32]>>) {
        let step_key = |s: &StepSlice| {
            let b = step.expect("step data is staged when a slice exists");
            [
                Arc::as_ptr(b.buffer()) as u64,
                b.offset() + 4 * s.offset as u64,
                4 * s.len as u64,
            ]
        };
        let bind_key = |b: &Bind| match b {
            Bind::Buffer(b) => range_key(b),
            Bind::Step(s) => step_key(s),
        };
        self.key.clear();
        for op in ops {
            match op {
                Op::Dispatch {
                    pipeline,
                    bindings,
                    push,
                    groups,
                    ..
                } => {
                    self.key.extend([1, Arc::as_ptr(pipeline) as u64]);
                    self.key
                        .extend(groups.iter().chain(push).map(|&w| w as u64));
                    self.key.push(bindings.len() as u64);
                    self.key.extend(bindings.iter().flat_map(bind_key));
                }
                Op::Copy { src, dst } => {
                    self.key.push(2);
                    self.key.extend(bind_key(src));
                    self.key.extend(range_key(dst));
                }
                Op::Fill(buf) => {
                    self.key.push(3);
                    self.key.extend(range_key(&buf.clone().into_bytes()));
                }
            }
        }
    }

    /// The pipeline barriers vulkano places in the command buffer of `ops`: each command's
    /// buffer ranges, read or written as its shader declares, through the hazard rule of
    /// [`count_barriers`].
    fn barriers(ops: &[Op], step: Option<&Subbuffer<[u32]>>) -> u64 {
        let range = |b: &Bind, write: bool| {
            let [buffer, offset, size] = match b {
                Bind::Buffer(b) => range_key(b),
                Bind::Step(s) => {
                    let b = step.expect("step data is staged when a slice exists");
                    [
                        Arc::as_ptr(b.buffer()) as u64,
                        b.offset() + 4 * s.offset as u64,
                        4 * s.len as u64,
                    ]
                }
            };
            Access {
                buffer,
                start: offset,
                end: offset + size,
                write,
            }
        };
        let commands: Vec<Vec<Access>> = ops
            .iter()
            .map(|op| match op {
                Op::Dispatch {
                    pipeline, bindings, ..
                } => {
                    let reqs = pipeline.descriptor_binding_requirements();
                    bindings
                        .iter()
                        .enumerate()
                        .filter_map(|(i, bind)| {
                            let req = reqs.get(&(0, i as u32))?;
                            let write =
                                req.descriptors.values().any(|d| !d.memory_write.is_empty());
                            Some(range(bind, write))
                        })
                        .collect()
                }
                Op::Copy { src, dst } => {
                    vec![range(src, false), range(&dst.clone().into(), true)]
                }
                Op::Fill(buf) => vec![range(&buf.clone().into_bytes().into(), true)],
            })
            .collect();
        count_barriers(commands.iter().map(Vec::as_slice))
    }

    fn record(
        &self,
        ops: &[Op],
        step: Option<&Subbuffer<[u32]>>,
        usage: CommandBufferUsage,
    ) -> Result<Arc<PrimaryAutoCommandBuffer>, VkError> {
        let resolve = |b: &Bind| match b {
            Bind::Buffer(b) => b.clone(),
            Bind::Step(s) => step
                .expect("step data is staged when a slice exists")
                .clone()
                .slice(s.offset as u64..(s.offset + s.len) as u64)
                .into_bytes(),
        };
        let mut b = AutoCommandBufferBuilder::primary(
            self.ctx.commands.clone(),
            self.ctx.queue.queue_family_index(),
            usage,
        )
        .map_err(|e| VkError::Device(format!("starting a command buffer: {e}")))?;
        if let Some(t) = &self.timer {
            t.begin(&mut b)?;
        }
        let mut dispatched = 0;
        for op in ops {
            match op {
                Op::Dispatch {
                    pipeline,
                    bindings,
                    push,
                    groups,
                    ..
                } => {
                    let layout = pipeline.layout().clone();
                    let set_layout = layout.set_layouts()[0].clone();
                    let writes: Vec<WriteDescriptorSet> = bindings
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| set_layout.bindings().contains_key(&(*i as u32)))
                        .map(|(i, bind)| WriteDescriptorSet::buffer(i as u32, resolve(bind)))
                        .collect();
                    let set = DescriptorSet::new(self.ctx.sets.clone(), set_layout, writes, [])
                        .map_err(|e| VkError::Device(format!("descriptor set: {e:?}")))?;
                    b.bind_pipeline_compute(pipeline.clone())
                        .map_err(failed("binding a pipeline"))?
                        .bind_descriptor_sets(PipelineBindPoint::Compute, layout.clone(), 0, set)
                        .map_err(failed("binding buffers"))?
                        .push_constants(layout, 0, *push)
                        .map_err(failed("push constants"))?;
                    // SAFETY: every shader bounds its reads and writes by the push constants
                    // and step data, which the callers derive from the sizes of the bound
                    // buffers.
                    unsafe { b.dispatch(*groups) }.map_err(failed("dispatch"))?;
                    if let Some(t) = &self.timer {
                        t.after_dispatch(&mut b, dispatched)?;
                    }
                    dispatched += 1;
                }
                Op::Copy { src, dst } => {
                    b.copy_buffer(CopyBufferInfo::buffers(resolve(src), dst.clone()))
                        .map_err(failed("copy"))?;
                }
                Op::Fill(buf) => {
                    b.fill_buffer(buf.clone(), 0).map_err(failed("fill"))?;
                }
            }
        }
        if let Some(t) = &self.timer {
            t.end(&mut b)?;
        }
        b.build()
            .map_err(|e| VkError::Device(format!("finishing a command buffer: {e}")))
    }

    /// Submits `cb` to the queue, to signal the recorder's fence when done: the caller keeps
    /// `cb` alive until [`Recorder::wait`], which must follow before anything else is
    /// submitted. This is vulkano's unsafe queue submit, not its `GpuFuture` chain: that one
    /// locks and unlocks every buffer range the command buffer binds in vulkano's per-buffer
    /// state maps (for a decode step a few thousand ranges), which cost more host time per
    /// token than building the pass.
    fn submit(&self, cb: &Arc<PrimaryAutoCommandBuffer>) -> Result<(), VkError> {
        let submit = SubmitInfo {
            command_buffers: vec![CommandBufferSubmitInfo::new(cb.clone())],
            ..Default::default()
        };
        // SAFETY: the command buffer (holding every resource it binds; the caller keeps it until
        // the fence signals) and the fence outlive the submission, and nothing else is
        // submitted before `wait`: a kept command buffer (multiple submit) is never pending when
        // submitted again, a one-time one is submitted once, and the host touches the step
        // data and read-back buffers only between submissions.
        self.ctx
            .queue
            .with(|mut q| unsafe { q.submit(&[submit], Some(&self.fence)) })
            .map_err(|e| VkError::Device(format!("submitting: {e}")))
    }

    /// Waits for the submission of [`Recorder::submit`] to finish and resets the fence.
    fn wait(&mut self) -> Result<(), VkError> {
        let start = Instant::now();
        let waited = self
            .fence
            .wait(None)
            .map_err(|e| VkError::Device(format!("waiting for the device: {e}")));
        self.counters.wait_ns += start.elapsed().as_nanos() as u64;
        // SAFETY: the fence's submission has finished (or the device is lost, when nothing is
        // in use any more either).
        unsafe { self.fence.reset() }
            .map_err(|e| VkError::Device(format!("resetting the fence: {e}")))?;
        waited
    }

    /// Submits everything recorded so far and waits for it to finish: a kept command buffer
    /// when an equal pass was kept before, else a new one (kept when an equal pass was
    /// recorded once before, unless the pass uploads).
    pub fn flush(&mut self) -> Result<(), VkError> {
        let ops = std::mem::take(&mut self.ops);
        let one_off = std::mem::replace(&mut self.one_off, false);
        if ops.is_empty() {
            return self.step.write();
        }
        let step = self.step.buffer();
        let written = self.step.write();
        let step = step?;
        written?;
        let keep = self.replay_on && !one_off;
        let kept = if keep {
            self.pass_key(&ops, step.as_ref());
            self.replay.get(&self.key)
        } else {
            None
        };
        let (cb, barriers) = match kept {
            Some(kept) => {
                self.replay.stats.replayed += 1;
                kept
            }
            None => {
                let keep = keep && self.replay.seen_before(&self.key);
                let usage = if keep {
                    CommandBufferUsage::MultipleSubmit
                } else {
                    CommandBufferUsage::OneTimeSubmit
                };
                let cb = self.record(&ops, step.as_ref(), usage)?;
                let barriers = Self::barriers(&ops, step.as_ref());
                self.replay.stats.recorded += 1;
                if keep {
                    self.replay.insert(self.key.clone(), cb.clone(), barriers);
                }
                (cb, barriers)
            }
        };
        self.submit(&cb)?;
        // While the device runs: the counters, and the op list (a reference to every buffer
        // it binds) dropped.
        let shaders: Vec<&'static str> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Dispatch { name, .. } => Some(*name),
                _ => None,
            })
            .collect();
        self.counters.dispatches += shaders.len() as u64;
        self.counters.barriers += barriers;
        self.counters.submits += 1;
        self.counters.fence_waits += 1;
        drop(ops);
        self.wait()?;
        drop(cb);
        match &mut self.timer {
            Some(t) => t.collect(&shaders),
            None => Ok(()),
        }
    }
}
