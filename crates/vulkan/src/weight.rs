//! Weights on the device: the GGUF blocks uploaded unchanged, split by rows into chunks no larger
//! than the device's biggest storage binding. Types without a shader are dequantized to f32 once
//! at load (exact), so every file pine can read runs on Vulkan.

use pine_backend::{BackendError, WeightSource};
use pine_gguf::GgmlType;
use vulkano::buffer::Subbuffer;

use crate::device::Context;
use crate::memory;
use crate::recorder::Recorder;

/// Block types the shaders read directly.
pub const NATIVE_TYPES: [GgmlType; 15] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q2_K,
    GgmlType::Q3_K,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::IQ4_NL,
    GgmlType::IQ4_XS,
];

/// Rows of a weight held in one device buffer.
pub struct Chunk {
    /// First row of the tensor in this chunk.
    pub first_row: usize,
    /// Rows in this chunk.
    pub rows: usize,
    /// The rows' raw bytes.
    pub buf: Subbuffer<[u8]>,
}

/// A weight resident on the device.
pub struct VkWeight {
    /// Tensor name, for errors.
    pub name: String,
    /// Block type as stored on the device.
    pub ty: GgmlType,
    /// Elements per row (ggml ne0).
    pub width: usize,
    /// Rows (ggml ne1; 1 for vectors).
    pub rows: usize,
    /// Bytes per row.
    pub row_bytes: usize,
    /// The rows, split to fit storage bindings.
    pub chunks: Vec<Chunk>,
    /// How llama.cpp rounds the activations multiplied with this weight (from the file's type,
    /// also for types dequantized at load): Q8_0, Q8_1, Q8_K, F16, BF16 or F32 (none).
    pub act: GgmlType,
}

fn bad(src: &WeightSource<'_>, what: String) -> BackendError {
    BackendError::Tensor {
        name: src.info.name.clone(),
        what,
    }
}

/// Uploads `src` (staged through host memory, copied by `rec`).
pub fn load(
    ctx: &Context,
    rec: &mut Recorder,
    src: WeightSource<'_>,
) -> Result<VkWeight, BackendError> {
    let info = src.info;
    let (width, rows) = match info.dims.as_slice() {
        [w] => (*w as usize, 1),
        [w, r] => (*w as usize, *r as usize),
        d => {
            return Err(bad(
                &src,
                format!("{}-dimensional tensors are not supported", d.len()),
            ))
        }
    };
    if !width.is_multiple_of(4) {
        return Err(bad(
            &src,
            format!("row width {width} is not a multiple of 4"),
        ));
    }
    let raw = src.file.tensor_data(info);
    let (ty, bytes): (GgmlType, std::borrow::Cow<'_, [u8]>) = if NATIVE_TYPES.contains(&info.ty) {
        (info.ty, raw.into())
    } else {
        let mut f = vec![0.0f32; width * rows];
        pine_quant::dequantize_tensor(info.ty, raw, &mut f).map_err(|e| BackendError::Quant {
            op: format!("dequantizing '{}' for Vulkan", info.name),
            source: e,
        })?;
        (
            GgmlType::F32,
            f.iter()
                .flat_map(|x| x.to_le_bytes())
                .collect::<Vec<u8>>()
                .into(),
        )
    };
    let row_bytes = bytes.len() / rows;
    let max = ctx.info.max_storage_buffer_range.min(1 << 31) as usize;
    let per_chunk = (max / row_bytes.max(1)).max(1);
    if row_bytes > max {
        return Err(bad(&src, format!("one row ({row_bytes} bytes) exceeds the device's storage binding limit ({max} bytes)")));
    }
    let mut chunks = Vec::new();
    let mut first = 0;
    while first < rows {
        let n = per_chunk.min(rows - first);
        let part = &bytes[first * row_bytes..(first + n) * row_bytes];
        let staged = memory::upload(&ctx.memory, part)?;
        let buf = memory::device::<u8>(&ctx.memory, part.len())?;
        rec.copy_once(staged, buf.clone());
        chunks.push(Chunk {
            first_row: first,
            rows: n,
            buf,
        });
        first += n;
    }
    Ok(VkWeight {
        name: info.name.clone(),
        act: pine_quant::activation::activation_type(info.ty).unwrap_or(GgmlType::F32),
        ty,
        width,
        rows,
        row_bytes,
        chunks,
    })
}
