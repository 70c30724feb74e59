//! What the backend asks of the device, counted: dispatches, pipeline barriers, submissions,
//! fence waits, the host's time in them and bytes read back ([`VkCounters`]), and, where asked for, the device time of
//! each shader from timestamps around every dispatch ([`ShaderTime`]). `pine-bench --backend
//! vulkan` reports them per decoded token; tests hold the decode budgets with them.
//!
//! The barriers are those vulkano's automatic command buffer builder places: before a command
//! that reads a range written since that range's last barrier, or writes a range read or
//! written since then. [`count_barriers`] replays that rule over a pass's accesses (one
//! barrier per command that needs any, as vulkano gathers a command's dependencies into one
//! `vkCmdPipelineBarrier`).

use std::ops::Sub;
use std::time::Duration;

/// Work the backend gave the device since it opened; differences of two readings
/// ([`VkCounters::since`]) count a stretch of work, such as one decoded token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VkCounters {
    /// Compute dispatches submitted (a resubmitted command buffer counts all of its own).
    pub dispatches: u64,
    /// Pipeline barriers in the submitted command buffers.
    pub barriers: u64,
    /// Queue submissions.
    pub submits: u64,
    /// Waits of the host on a fence (one per submission today).
    pub fence_waits: u64,
    /// Bytes copied from the device to the host.
    pub readback_bytes: u64,
    /// Nanoseconds the host spent waiting on fences: a stretch's wall time less this is the
    /// host's own work (building and submitting passes, reading back), which a GPU's speed
    /// does not shorten.
    pub wait_ns: u64,
}

impl VkCounters {
    /// The work done between `earlier` and this reading.
    pub fn since(&self, earlier: &VkCounters) -> VkCounters {
        *self - *earlier
    }
}

impl Sub for VkCounters {
    type Output = VkCounters;

    fn sub(self, o: VkCounters) -> VkCounters {
        VkCounters {
            dispatches: self.dispatches.saturating_sub(o.dispatches),
            barriers: self.barriers.saturating_sub(o.barriers),
            submits: self.submits.saturating_sub(o.submits),
            fence_waits: self.fence_waits.saturating_sub(o.fence_waits),
            readback_bytes: self.readback_bytes.saturating_sub(o.readback_bytes),
            wait_ns: self.wait_ns.saturating_sub(o.wait_ns),
        }
    }
}

/// Device time spent in one shader (all its dispatches), from timestamps written after every
/// dispatch while profiling is on ([`crate::VulkanBackend::set_profiling`]). A dispatch's time
/// runs from the previous stamp of its pass, so it includes the barrier wait before it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShaderTime {
    /// The shader build's name (`mul_mat_q8_q4_0_sg`, `rms_norm_f64`, …).
    pub shader: &'static str,
    /// Its dispatches.
    pub dispatches: u64,
    /// Its device time.
    pub time: Duration,
}

/// The device time by shader of a stretch of work: `now` less `earlier` (both running totals
/// of [`crate::VulkanBackend::profile`]), shaders that ran in it only, longest first.
pub fn profile_since(now: &[ShaderTime], earlier: &[ShaderTime]) -> Vec<ShaderTime> {
    let mut out: Vec<ShaderTime> = now
        .iter()
        .map(|s| {
            let before = earlier.iter().find(|e| e.shader == s.shader);
            ShaderTime {
                shader: s.shader,
                dispatches: s.dispatches - before.map_or(0, |b| b.dispatches),
                time: s
                    .time
                    .saturating_sub(before.map_or(Duration::ZERO, |b| b.time)),
            }
        })
        .filter(|s| s.dispatches > 0)
        .collect();
    out.sort_by(|a, b| b.time.cmp(&a.time).then(a.shader.cmp(b.shader)));
    out
}

/// A buffer range one command touches: buffer identity, first byte, end byte, and whether the
/// command writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// The buffer object's identity.
    pub buffer: u64,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// Written (else read).
    pub write: bool,
}

impl Access {
    fn overlaps(&self, o: &Access) -> bool {
        self.buffer == o.buffer && self.start < o.end && o.start < self.end
    }

    fn conflicts(&self, pending: &Access) -> bool {
        (self.write || pending.write) && self.overlaps(pending)
    }
}

/// The pipeline barriers a pass of commands needs, each command given as its accesses: one
/// before every command that conflicts with an access since the conflicting range's last
/// barrier (read after write, write after read or write); the barrier settles the conflicting
/// accesses only, as vulkano's per-resource tracking does.
pub fn count_barriers<'a>(commands: impl IntoIterator<Item = &'a [Access]>) -> u64 {
    let mut pending: Vec<Access> = Vec::new();
    let mut barriers = 0;
    for cmd in commands {
        let before = pending.len();
        pending.retain(|p| !cmd.iter().any(|a| a.conflicts(p)));
        if pending.len() != before {
            barriers += 1;
        }
        for a in cmd {
            if !pending.contains(a) {
                pending.push(*a);
            }
        }
    }
    barriers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(buffer: u64, start: u64, end: u64, write: bool) -> Access {
        Access {
            buffer,
            start,
            end,
            write,
        }
    }

    /// Read after write and write after read need a barrier; reads after reads, writes to
    /// other ranges or buffers, and a read whose write a barrier already settled do not.
    #[test]
    fn barriers_only_on_hazards() {
        let w0 = [acc(1, 0, 64, true)];
        let r0 = [acc(1, 0, 64, false)];
        let w_other = [acc(1, 64, 128, true)];
        let w_buf2 = [acc(2, 0, 64, true)];
        let cmds: [&[Access]; 6] = [&w0, &w_other, &w_buf2, &r0, &r0, &w0];
        // r0 after w0 (1), the second r0 nothing, w0 after the reads (2).
        assert_eq!(count_barriers(cmds), 2);
        let chain: [&[Access]; 3] = [&w0, &w0, &w0];
        assert_eq!(count_barriers(chain), 2);
    }

    #[test]
    fn profile_differences_drop_idle_shaders_and_sort_by_time() {
        let t = |shader, dispatches, ms| ShaderTime {
            shader,
            dispatches,
            time: Duration::from_millis(ms),
        };
        let earlier = [t("a", 2, 5), t("b", 1, 1)];
        let now = [t("a", 4, 7), t("b", 1, 1), t("c", 1, 9)];
        assert_eq!(
            profile_since(&now, &earlier),
            vec![t("c", 1, 9), t("a", 2, 2)]
        );
    }
}
