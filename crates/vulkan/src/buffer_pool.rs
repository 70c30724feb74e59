//! Activation buffers handed back when dropped and handed out again for the same length. The
//! graph allocates a few buffers per forward pass (the selected rows, their norm, the logits);
//! giving the next pass the very same device buffers keeps its op list, and so its recorded
//! command buffer, identical. Freed buffers come back last-in first-out, and a pass drops its
//! buffers in reverse order of allocation, so each one gets its predecessor's buffer back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use vulkano::buffer::Subbuffer;

/// Freed buffers kept per length: enough for the handful a pass allocates, without holding on
/// to every size a long run of varied batches has used.
const PER_LEN: usize = 8;

/// Freed device buffers by length (f32 elements).
#[derive(Default)]
pub struct FreeBuffers {
    by_len: HashMap<usize, Vec<Subbuffer<[f32]>>>,
}

/// The pool shared by a backend and the buffers it handed out.
pub type SharedFree = Arc<Mutex<FreeBuffers>>;

impl FreeBuffers {
    /// The most recently freed buffer of `len` elements, if any.
    pub fn take(&mut self, len: usize) -> Option<Subbuffer<[f32]>> {
        self.by_len.get_mut(&len)?.pop()
    }

    /// Keeps `buf` (of `len` elements) for reuse, unless enough of that length are kept.
    pub fn give(&mut self, len: usize, buf: Subbuffer<[f32]>) {
        let list = self.by_len.entry(len).or_default();
        if list.len() < PER_LEN {
            list.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_last_in_first_out_per_length() {
        let Some(b) = crate::test_support::backend(
            pine_backend::MatmulMode::F32,
            pine_backend::VulkanNumerics::Fast,
        ) else {
            return;
        };
        let mem = &b.context().memory;
        let (x, y) = (
            crate::memory::device::<f32>(mem, 4).unwrap(),
            crate::memory::device::<f32>(mem, 4).unwrap(),
        );
        let mut f = FreeBuffers::default();
        assert!(f.take(4).is_none());
        f.give(4, x.clone());
        f.give(4, y.clone());
        assert!(f.take(8).is_none());
        assert!(Arc::ptr_eq(f.take(4).unwrap().buffer(), y.buffer()));
        assert!(Arc::ptr_eq(f.take(4).unwrap().buffer(), x.buffer()));
        assert!(f.take(4).is_none());
    }
}
