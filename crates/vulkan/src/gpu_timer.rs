//! Device time of the submitted passes, from a two-query timestamp pool written at the start
//! and end of every command buffer, so `pine-bench` can report time on the GPU next to wall
//! time (which also counts the host's recording, planning and waiting). Queues whose family
//! reports no valid timestamp bits get no timer, and the total stays unknown.

use std::sync::Arc;
use std::time::Duration;

use vulkano::command_buffer::{AutoCommandBufferBuilder, PrimaryAutoCommandBuffer};
use vulkano::query::{QueryPool, QueryPoolCreateInfo, QueryResultFlags, QueryType};
use vulkano::sync::PipelineStage;

use crate::device::Context;
use crate::error::VkError;

/// The timestamp pool and the device time summed so far.
pub struct GpuTimer {
    pool: Arc<QueryPool>,
    period_ns: f64,
    mask: u64,
    total_ns: f64,
}

type Builder = AutoCommandBufferBuilder<PrimaryAutoCommandBuffer>;

fn failed(what: &'static str) -> impl Fn(Box<vulkano::ValidationError>) -> VkError {
    move |e| VkError::Device(format!("{what}: {e}"))
}

impl GpuTimer {
    /// A timer for `ctx`'s queue, or `None` when its family cannot write timestamps.
    pub fn new(ctx: &Context) -> Result<Option<GpuTimer>, VkError> {
        let pd = ctx.device.physical_device();
        let family = &pd.queue_family_properties()[ctx.queue.queue_family_index() as usize];
        let Some(bits) = family.timestamp_valid_bits else {
            return Ok(None);
        };
        let pool = QueryPool::new(
            ctx.device.clone(),
            QueryPoolCreateInfo {
                query_count: 2,
                ..QueryPoolCreateInfo::query_type(QueryType::Timestamp)
            },
        )
        .map_err(|e| VkError::Device(format!("creating the timestamp pool: {e}")))?;
        Ok(Some(GpuTimer {
            pool,
            period_ns: pd.properties().timestamp_period as f64,
            mask: if bits >= 64 {
                u64::MAX
            } else {
                (1 << bits) - 1
            },
            total_ns: 0.0,
        }))
    }

    /// Records the start stamp (after resetting both queries) at the top of `b`.
    pub fn begin(&self, b: &mut Builder) -> Result<(), VkError> {
        // SAFETY: the queries are reset in the same command buffer before being written, and
        // every submission is waited for before the next one, so no two executions overlap.
        unsafe {
            b.reset_query_pool(self.pool.clone(), 0..2)
                .map_err(failed("resetting timestamps"))?
                .write_timestamp(self.pool.clone(), 0, PipelineStage::TopOfPipe)
                .map_err(failed("writing a timestamp"))?;
        }
        Ok(())
    }

    /// Records the end stamp, once every earlier command has finished.
    pub fn end(&self, b: &mut Builder) -> Result<(), VkError> {
        // SAFETY: as in `begin`.
        unsafe {
            b.write_timestamp(self.pool.clone(), 1, PipelineStage::BottomOfPipe)
                .map_err(failed("writing a timestamp"))?;
        }
        Ok(())
    }

    /// Adds the finished submission's span to the total.
    pub fn collect(&mut self) -> Result<(), VkError> {
        let mut t = [0u64; 2];
        self.pool
            .get_results(0..2, &mut t, QueryResultFlags::WAIT)
            .map_err(|e| VkError::Device(format!("reading timestamps: {e}")))?;
        let ticks = (t[1] & self.mask).wrapping_sub(t[0] & self.mask) & self.mask;
        self.total_ns += ticks as f64 * self.period_ns;
        Ok(())
    }

    /// Device time of every pass timed so far.
    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.total_ns as u64)
    }
}
