//! Buffer allocation: device-local storage for weights, activations and the cache, and
//! host-visible buffers for uploads and read-backs.

use std::sync::Arc;

use vulkano::buffer::{Buffer, BufferContents, BufferCreateInfo, BufferUsage, Subbuffer};
use vulkano::memory::allocator::{AllocationCreateInfo, MemoryTypeFilter, StandardMemoryAllocator};

use crate::error::VkError;

fn alloc<T: BufferContents>(
    memory: &Arc<StandardMemoryAllocator>,
    len: usize,
    usage: BufferUsage,
    filter: MemoryTypeFilter,
) -> Result<Subbuffer<[T]>, VkError>
where
    [T]: BufferContents,
{
    let len = len.max(1);
    Buffer::new_slice::<T>(
        memory.clone(),
        BufferCreateInfo {
            usage,
            ..Default::default()
        },
        AllocationCreateInfo {
            memory_type_filter: filter,
            ..Default::default()
        },
        len as u64,
    )
    .map_err(|e| {
        VkError::Device(format!(
            "allocating {:.1} MiB: {e}",
            (len * size_of::<T>()) as f64 / (1 << 20) as f64
        ))
    })
}

/// A device-local storage buffer of `len` elements that can be copied to and from.
pub fn device<T: BufferContents>(
    memory: &Arc<StandardMemoryAllocator>,
    len: usize,
) -> Result<Subbuffer<[T]>, VkError>
where
    [T]: BufferContents,
{
    alloc(
        memory,
        len,
        BufferUsage::STORAGE_BUFFER | BufferUsage::TRANSFER_SRC | BufferUsage::TRANSFER_DST,
        MemoryTypeFilter::PREFER_DEVICE,
    )
}

/// A host-written buffer holding `data`, usable directly as a shader input or as a copy source.
pub fn upload<T: BufferContents + Copy>(
    memory: &Arc<StandardMemoryAllocator>,
    data: &[T],
) -> Result<Subbuffer<[T]>, VkError>
where
    [T]: BufferContents,
{
    let buf = alloc::<T>(
        memory,
        data.len(),
        BufferUsage::STORAGE_BUFFER | BufferUsage::TRANSFER_SRC,
        MemoryTypeFilter::PREFER_HOST | MemoryTypeFilter::HOST_SEQUENTIAL_WRITE,
    )?;
    buf.write()
        .map_err(|e| VkError::Device(format!("mapping an upload buffer: {e}")))?[..data.len()]
        .copy_from_slice(data);
    Ok(buf)
}

/// A host-written buffer of `len` words that shaders read and copies read from, rewritten by
/// the host between submissions (the step data of replayed command buffers). Device-local
/// where the device has host-visible device memory (the BAR window of discrete GPUs), so the
/// shaders' reads of it stay on the device rather than crossing PCIe; the host writes it
/// sequentially, a few KiB per pass.
pub fn host_words(
    memory: &Arc<StandardMemoryAllocator>,
    len: usize,
) -> Result<Subbuffer<[u32]>, VkError> {
    alloc(
        memory,
        len,
        BufferUsage::STORAGE_BUFFER | BufferUsage::TRANSFER_SRC,
        MemoryTypeFilter::PREFER_DEVICE | MemoryTypeFilter::HOST_SEQUENTIAL_WRITE,
    )
}

/// A host-readable buffer of `len` f32 that results are copied into.
pub fn readback(
    memory: &Arc<StandardMemoryAllocator>,
    len: usize,
) -> Result<Subbuffer<[f32]>, VkError> {
    alloc(
        memory,
        len,
        BufferUsage::TRANSFER_DST,
        MemoryTypeFilter::PREFER_HOST | MemoryTypeFilter::HOST_RANDOM_ACCESS,
    )
}
