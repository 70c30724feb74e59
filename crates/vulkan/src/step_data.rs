//! The small per-pass inputs of the shaders (token ids, cache slots and positions, attention
//! plans) gathered into one host-visible buffer that is written just before each submission.
//! A recorded command buffer binds slices of this buffer at fixed offsets, so it can be
//! submitted again with the next token's values: the values change, the bindings do not.

use std::sync::Arc;

use vulkano::buffer::Subbuffer;
use vulkano::memory::allocator::StandardMemoryAllocator;

use crate::error::VkError;
use crate::memory;

/// Words per slice boundary: 256 bytes, the largest `minStorageBufferOffsetAlignment` Vulkan
/// allows, so every slice is a valid storage-buffer binding on every device.
const ALIGN_WORDS: usize = 64;

/// A slice of the pass's step data, in 32-bit words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepSlice {
    /// First word.
    pub offset: usize,
    /// Words.
    pub len: usize,
}

/// The step data of the pass being recorded and the device buffer it is written to.
pub struct StepData {
    memory: Arc<StandardMemoryAllocator>,
    staged: Vec<u32>,
    buf: Option<Subbuffer<[u32]>>,
}

impl StepData {
    /// Empty step data allocating from `memory`.
    pub fn new(memory: Arc<StandardMemoryAllocator>) -> StepData {
        StepData {
            memory,
            staged: Vec::new(),
            buf: None,
        }
    }

    /// Appends `words` (at least one word is reserved, so empty inputs still bind something).
    pub fn push(&mut self, words: impl IntoIterator<Item = u32>) -> StepSlice {
        let offset = self.staged.len();
        self.staged.extend(words);
        let len = (self.staged.len() - offset).max(1);
        let end = (offset + len).next_multiple_of(ALIGN_WORDS);
        self.staged.resize(end, 0);
        StepSlice { offset, len }
    }

    /// The device buffer large enough for the staged words (grown geometrically, so a
    /// steady decode keeps one buffer and its recorded bindings stay valid), or `None` when
    /// nothing is staged. It is not written yet: see [`StepData::write`].
    pub fn buffer(&mut self) -> Result<Option<Subbuffer<[u32]>>, VkError> {
        if self.staged.is_empty() {
            return Ok(None);
        }
        let need = self.staged.len();
        if self.buf.as_ref().is_none_or(|b| (b.len() as usize) < need) {
            let len = need.next_power_of_two().max(4 * ALIGN_WORDS);
            self.buf = Some(memory::host_words(&self.memory, len)?);
        }
        Ok(self.buf.clone())
    }

    /// Writes the staged words into the device buffer of [`StepData::buffer`] (which no
    /// submission may be using) and starts the next pass's data, also when writing fails.
    pub fn write(&mut self) -> Result<(), VkError> {
        let staged = std::mem::take(&mut self.staged);
        if let (false, Some(buf)) = (staged.is_empty(), &self.buf) {
            let mut map = buf
                .write()
                .map_err(|e| VkError::Device(format!("mapping the step data: {e}")))?;
            map.get_mut(..staged.len())
                .ok_or_else(|| VkError::Device("the step data outgrew its buffer".into()))?
                .copy_from_slice(&staged);
        }
        self.staged = staged;
        self.staged.clear();
        Ok(())
    }
}

/// The words of a list of fixed-size integer records (plan rows, ranges, …).
pub fn words<const N: usize, T: Copy + Into<i64>>(
    records: &[[T; N]],
) -> impl Iterator<Item = u32> + '_ {
    records.iter().flatten().map(|&v| v.into() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_start_on_256_byte_boundaries_and_reserve_a_word_when_empty() {
        let Some(b) = crate::test_support::backend(
            pine_backend::MatmulMode::F32,
            pine_backend::VulkanNumerics::Fast,
        ) else {
            return;
        };
        let mut d = StepData::new(b.context().memory.clone());
        assert_eq!(d.push([1, 2, 3]), StepSlice { offset: 0, len: 3 });
        assert_eq!(d.push([]), StepSlice { offset: 64, len: 1 });
        assert_eq!(
            d.push(words(&[[-1i32, 2], [3, 4]])),
            StepSlice {
                offset: 128,
                len: 4
            }
        );
        assert_eq!(d.staged[128], u32::MAX);
        let buf = d.buffer().unwrap().unwrap();
        d.write().unwrap();
        assert!(d.staged.is_empty());
        assert_eq!(&buf.read().unwrap()[..3], &[1, 2, 3]);
    }
}
