//! Re-encoding one tensor row by row through f32 (decode → optional f16 rounding → encode),
//! spread over scoped threads. Row by row is how llama-quantize works too, so the bytes match
//! its output for the same f32 input.

use pine_gguf::GgmlType;
use pine_quant::{dequantize_row, quantize_row};

/// Shape and types of one re-encoding.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    /// Type of the input bytes.
    pub src: GgmlType,
    /// Type to produce.
    pub dst: GgmlType,
    /// Elements per row (`dims[0]`).
    pub row_len: usize,
    /// Number of rows.
    pub n_rows: usize,
    /// Round every value to f16 between decoding and encoding, as if the model had been
    /// converted to an F16 file first (how llama.cpp's published variants are made).
    pub via_f16: bool,
}

/// Bytes of one row of `ty`, or an error when `row_len` is not a whole number of its blocks.
fn row_bytes(ty: GgmlType, row_len: usize) -> Result<usize, String> {
    ty.row_bytes(row_len as u64)
        .map(|b| b as usize)
        .ok_or_else(|| format!("row length {row_len} is not a whole number of {ty} blocks"))
}

/// Re-encodes `data` (exactly `job.n_rows` rows of `job.src`) as `job.dst` using up to
/// `threads` threads. Errors are plain messages; the caller adds the tensor name.
pub fn convert(data: &[u8], job: Job, threads: usize) -> Result<Vec<u8>, String> {
    let src_rb = row_bytes(job.src, job.row_len)?;
    let dst_rb = row_bytes(job.dst, job.row_len)?;
    let expected = src_rb.checked_mul(job.n_rows).ok_or("tensor too large")?;
    if data.len() != expected {
        return Err(format!(
            "{} bytes of data, {} rows of {} need {expected}",
            data.len(),
            job.n_rows,
            job.src
        ));
    }
    let mut out = vec![0u8; dst_rb * job.n_rows];
    if job.n_rows == 0 || dst_rb == 0 {
        return Ok(out);
    }
    let rows_per_thread = job.n_rows.div_ceil(threads.max(1));
    std::thread::scope(|s| {
        let workers: Vec<_> = out
            .chunks_mut(rows_per_thread * dst_rb)
            .zip(data.chunks(rows_per_thread * src_rb))
            .map(|(dst, src)| s.spawn(move || convert_rows(src, dst, job, src_rb, dst_rb)))
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| "a worker thread panicked".to_string())?
        })
    })?;
    Ok(out)
}

/// The single-threaded loop over whole rows of one chunk.
fn convert_rows(
    src: &[u8],
    dst: &mut [u8],
    job: Job,
    src_rb: usize,
    dst_rb: usize,
) -> Result<(), String> {
    let mut row = vec![0f32; job.row_len];
    let mut half = if job.via_f16 {
        vec![0u8; job.row_len * 2]
    } else {
        Vec::new()
    };
    for (s, d) in src.chunks_exact(src_rb).zip(dst.chunks_exact_mut(dst_rb)) {
        dequantize_row(job.src, s, &mut row).map_err(|e| e.to_string())?;
        if job.via_f16 {
            quantize_row(GgmlType::F16, &row, &mut half).map_err(|e| e.to_string())?;
            dequantize_row(GgmlType::F16, &half, &mut row).map_err(|e| e.to_string())?;
        }
        quantize_row(job.dst, &row, d).map_err(|e| e.to_string())?;
    }
    Ok(())
}
