//! Records the graph's operations into one command buffer and submits it when the host needs a
//! result (a read-back), so a whole forward pass is one submission. vulkano's automatic builder
//! places the barriers between dependent dispatches.

use std::sync::Arc;

use vulkano::buffer::Subbuffer;
use vulkano::command_buffer::{
    AutoCommandBufferBuilder, CommandBufferUsage, CopyBufferInfo, PrimaryAutoCommandBuffer,
};
use vulkano::descriptor_set::{DescriptorSet, WriteDescriptorSet};
use vulkano::pipeline::{ComputePipeline, Pipeline, PipelineBindPoint};
use vulkano::sync::{self, GpuFuture};

use crate::device::Context;
use crate::error::VkError;

/// The eight push-constant words every shader declares (`shaders/common.glsl`).
pub type Push = [u32; 8];

/// The largest workgroup count per dimension every Vulkan device accepts.
pub const MAX_GROUPS: u32 = 65535;

/// Pending work for the device.
pub struct Recorder {
    ctx: Arc<Context>,
    builder: Option<AutoCommandBufferBuilder<PrimaryAutoCommandBuffer>>,
}

fn failed(what: &str) -> impl Fn(Box<vulkano::ValidationError>) -> VkError + '_ {
    move |e| VkError::Device(format!("{what}: {e}"))
}

impl Recorder {
    /// A recorder submitting to `ctx`'s queue.
    pub fn new(ctx: Arc<Context>) -> Recorder {
        Recorder { ctx, builder: None }
    }

    fn builder(
        &mut self,
    ) -> Result<&mut AutoCommandBufferBuilder<PrimaryAutoCommandBuffer>, VkError> {
        if self.builder.is_none() {
            let b = AutoCommandBufferBuilder::primary(
                self.ctx.commands.clone(),
                self.ctx.queue.queue_family_index(),
                CommandBufferUsage::OneTimeSubmit,
            )
            .map_err(|e| VkError::Device(format!("starting a command buffer: {e}")))?;
            self.builder = Some(b);
        }
        Ok(self.builder.as_mut().expect("just set"))
    }

    /// Records one dispatch of `pipeline` with `bindings` at binding 0, 1, … of set 0 (those the
    /// shader variant does not use are left out).
    pub fn dispatch(
        &mut self,
        pipeline: &Arc<ComputePipeline>,
        bindings: &[Subbuffer<[u8]>],
        push: Push,
        groups: [u32; 3],
    ) -> Result<(), VkError> {
        if groups.contains(&0) {
            return Ok(());
        }
        let layout = pipeline.layout().clone();
        let set_layout = layout.set_layouts()[0].clone();
        let writes: Vec<WriteDescriptorSet> = bindings
            .iter()
            .enumerate()
            .filter(|(i, _)| set_layout.bindings().contains_key(&(*i as u32)))
            .map(|(i, b)| WriteDescriptorSet::buffer(i as u32, b.clone()))
            .collect();
        let set = DescriptorSet::new(self.ctx.sets.clone(), set_layout, writes, [])
            .map_err(|e| VkError::Device(format!("descriptor set: {e:?}")))?;
        let b = self.builder()?;
        b.bind_pipeline_compute(pipeline.clone())
            .map_err(failed("binding a pipeline"))?
            .bind_descriptor_sets(PipelineBindPoint::Compute, layout.clone(), 0, set)
            .map_err(failed("binding buffers"))?
            .push_constants(layout, 0, push)
            .map_err(failed("push constants"))?;
        // SAFETY: every shader bounds its reads and writes by the push constants, which the
        // callers derive from the sizes of the bound buffers.
        unsafe { b.dispatch(groups) }.map_err(failed("dispatch"))?;
        Ok(())
    }

    /// Records a copy of `src` into `dst` (same byte length).
    pub fn copy(&mut self, src: Subbuffer<[u8]>, dst: Subbuffer<[u8]>) -> Result<(), VkError> {
        self.builder()?
            .copy_buffer(CopyBufferInfo::buffers(src, dst))
            .map_err(failed("copy"))?;
        Ok(())
    }

    /// Records zero-filling `buf`.
    pub fn zero(&mut self, buf: Subbuffer<[u32]>) -> Result<(), VkError> {
        self.builder()?
            .fill_buffer(buf, 0)
            .map_err(failed("fill"))?;
        Ok(())
    }

    /// Submits everything recorded so far and waits for it to finish.
    pub fn flush(&mut self) -> Result<(), VkError> {
        let Some(b) = self.builder.take() else {
            return Ok(());
        };
        let cb = b
            .build()
            .map_err(|e| VkError::Device(format!("finishing a command buffer: {e}")))?;
        sync::now(self.ctx.device.clone())
            .then_execute(self.ctx.queue.clone(), cb)
            .map_err(|e| VkError::Device(format!("submitting: {e}")))?
            .then_signal_fence_and_flush()
            .map_err(|e| VkError::Device(format!("submitting: {e}")))?
            .wait(None)
            .map_err(|e| VkError::Device(format!("waiting for the device: {e}")))
    }
}
