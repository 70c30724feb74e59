//! Recorded command buffers kept for resubmission. A pass is keyed by everything its command
//! buffer is made of (pipelines, bound buffer ranges, push constants, workgroup counts, copies,
//! fills) and nothing else: what changes from token to token lives in the step data, whose
//! slices sit at the same offsets for the same shape. A decode step of the same model, batch
//! size and attention-plan shape therefore finds the command buffer its predecessors recorded.
//! A pass is kept only the second time it is recorded: a kept command buffer holds every
//! buffer it binds, and a shape seen once (a prompt's prefill batches) would hold its large
//! activation buffers for nothing.

use std::sync::Arc;

use foldhash::{HashMap, HashSet};

use vulkano::command_buffer::PrimaryAutoCommandBuffer;

/// How many passes were recorded afresh and how many resubmitted a kept command buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Passes recorded (cache misses, and passes that cannot be kept, like uploads).
    pub recorded: u64,
    /// Passes that resubmitted a kept command buffer.
    pub replayed: u64,
}

/// Kept command buffers by pass key, least recently used dropped first. Each one holds its
/// buffers alive, so the count is bounded; a PINE decode step submits one pass per layer, so
/// the bound leaves room for a few models' worth of them.
pub struct ReplayCache {
    /// Each kept command buffer, its pipeline barriers, and when it was last used.
    /// Keyed through foldhash: a decode step's key is thousands of words, which the
    /// standard library's SipHash took tens of microseconds per token to hash.
    entries: HashMap<Vec<u64>, (Arc<PrimaryAutoCommandBuffer>, u64, u64)>,
    tick: u64,
    capacity: usize,
    /// Keys of passes recorded once and not kept.
    seen: HashSet<Vec<u64>>,
    /// Counters since the backend opened.
    pub stats: ReplayStats,
}

impl ReplayCache {
    /// An empty cache of at most `capacity` command buffers.
    pub fn new(capacity: usize) -> ReplayCache {
        ReplayCache {
            entries: HashMap::default(),
            tick: 0,
            capacity: capacity.max(1),
            seen: HashSet::default(),
            stats: ReplayStats::default(),
        }
    }

    /// The command buffer kept for `key` and its pipeline barriers, if any.
    pub fn get(&mut self, key: &[u64]) -> Option<(Arc<PrimaryAutoCommandBuffer>, u64)> {
        self.tick += 1;
        let (cb, barriers, used) = self.entries.get_mut(key)?;
        *used = self.tick;
        Some((cb.clone(), *barriers))
    }

    /// Whether a pass with `key` was recorded before without being kept (then it is worth
    /// keeping now); remembers `key` otherwise. The memory is bounded: it is forgotten
    /// wholesale when full.
    pub fn seen_before(&mut self, key: &[u64]) -> bool {
        if self.seen.remove(key) {
            return true;
        }
        if self.seen.len() >= self.capacity {
            self.seen.clear();
        }
        self.seen.insert(key.to_vec());
        false
    }

    /// Keeps `cb` (with its count of pipeline barriers) for `key`, dropping the least recently
    /// used entry when full.
    pub fn insert(&mut self, key: Vec<u64>, cb: Arc<PrimaryAutoCommandBuffer>, barriers: u64) {
        if self.entries.len() >= self.capacity {
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, _, used))| *used)
                .map(|(k, _)| k.clone())
            {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(key, (cb, barriers, self.tick));
    }

    /// Drops every kept command buffer (and with them the buffers they hold).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.seen.clear();
    }
}
