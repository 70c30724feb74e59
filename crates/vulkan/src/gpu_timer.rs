//! Device time of the submitted passes, from a two-query timestamp pool written at the start
//! and end of every command buffer, so `pine-bench` can report time on the GPU next to wall
//! time (which also counts the host's recording, planning and waiting). Queues whose family
//! reports no valid timestamp bits get no timer, and the total stays unknown. While profiling
//! is on, a second pool takes a stamp after every dispatch too, and the spans between stamps
//! add up per shader ([`crate::counters::ShaderTime`]).

use std::sync::Arc;
use std::time::Duration;

use vulkano::command_buffer::{AutoCommandBufferBuilder, PrimaryAutoCommandBuffer};
use vulkano::query::{QueryPool, QueryPoolCreateInfo, QueryResultFlags, QueryType};
use vulkano::sync::PipelineStage;

use crate::counters::ShaderTime;
use crate::device::Context;
use crate::error::VkError;

/// Stamps per pass while profiling: the first, then one after each of the first
/// `PROFILE_STAMPS - 1` dispatches (a pass with more leaves the rest out of the profile).
const PROFILE_STAMPS: u32 = 4096;

/// The per-dispatch stamps and the time by shader so far.
struct Profile {
    pool: Arc<QueryPool>,
    shaders: Vec<ShaderTime>,
}

/// The timestamp pool and the device time summed so far.
pub struct GpuTimer {
    pool: Arc<QueryPool>,
    period_ns: f64,
    mask: u64,
    total_ns: f64,
    profile: Option<Profile>,
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
            profile: None,
        }))
    }

    /// Turns the per-dispatch stamps on (creating their pool) or off. Command buffers recorded
    /// before the change keep their old stamps: the caller drops them.
    pub fn set_profiling(&mut self, ctx: &Context, on: bool) -> Result<(), VkError> {
        if !on {
            self.profile = None;
        } else if self.profile.is_none() {
            let pool = QueryPool::new(
                ctx.device.clone(),
                QueryPoolCreateInfo {
                    query_count: PROFILE_STAMPS,
                    ..QueryPoolCreateInfo::query_type(QueryType::Timestamp)
                },
            )
            .map_err(|e| VkError::Device(format!("creating the profile's pool: {e}")))?;
            self.profile = Some(Profile {
                pool,
                shaders: Vec::new(),
            });
        }
        Ok(())
    }

    /// Device time by shader so far (empty unless profiling was on), in first-run order.
    pub fn profile(&self) -> Vec<ShaderTime> {
        self.profile
            .as_ref()
            .map_or_else(Vec::new, |p| p.shaders.clone())
    }

    /// While profiling: stamps the end of dispatch `index` of the pass (0-based).
    pub fn after_dispatch(&self, b: &mut Builder, index: u32) -> Result<(), VkError> {
        let Some(p) = &self.profile else {
            return Ok(());
        };
        if index + 1 < PROFILE_STAMPS {
            // SAFETY: as in `begin`.
            unsafe {
                b.write_timestamp(p.pool.clone(), index + 1, PipelineStage::BottomOfPipe)
                    .map_err(failed("writing a timestamp"))?;
            }
        }
        Ok(())
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
            if let Some(p) = &self.profile {
                b.reset_query_pool(p.pool.clone(), 0..PROFILE_STAMPS)
                    .map_err(failed("resetting timestamps"))?
                    .write_timestamp(p.pool.clone(), 0, PipelineStage::TopOfPipe)
                    .map_err(failed("writing a timestamp"))?;
            }
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

    /// Adds the finished submission's span to the total and, while profiling, each of its
    /// dispatches' spans to its shader (`shaders`: the pass's dispatches in order).
    pub fn collect(&mut self, shaders: &[&'static str]) -> Result<(), VkError> {
        let mut t = [0u64; 2];
        self.pool
            .get_results(0..2, &mut t, QueryResultFlags::WAIT)
            .map_err(|e| VkError::Device(format!("reading timestamps: {e}")))?;
        let span = |a: u64, b: u64| (b & self.mask).wrapping_sub(a & self.mask) & self.mask;
        self.total_ns += span(t[0], t[1]) as f64 * self.period_ns;
        let Some(p) = &mut self.profile else {
            return Ok(());
        };
        let n = shaders.len().min(PROFILE_STAMPS as usize - 1);
        if n == 0 {
            return Ok(());
        }
        let mut stamps = vec![0u64; n + 1];
        p.pool
            .get_results(0..n as u32 + 1, &mut stamps, QueryResultFlags::WAIT)
            .map_err(|e| VkError::Device(format!("reading timestamps: {e}")))?;
        for (i, &shader) in shaders[..n].iter().enumerate() {
            let ns = span(stamps[i], stamps[i + 1]) as f64 * self.period_ns;
            let entry = match p.shaders.iter().position(|s| s.shader == shader) {
                Some(at) => &mut p.shaders[at],
                None => {
                    p.shaders.push(ShaderTime {
                        shader,
                        ..ShaderTime::default()
                    });
                    p.shaders.last_mut().expect("just pushed")
                }
            };
            entry.dispatches += 1;
            entry.time += Duration::from_nanos(ns as u64);
        }
        Ok(())
    }

    /// Device time of every pass timed so far.
    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.total_ns as u64)
    }
}
