//! F32, F16 and BF16 rows: plain element conversions (every one of them exact).

use crate::blocks::{bf16_at, f16_at, f32_at};

/// Copies little-endian f32 values; byte-wise because the mmap gives no alignment.
pub fn f32_row(src: &[u8], dst: &mut [f32]) {
    for (i, y) in dst.iter_mut().enumerate() {
        *y = f32_at(src, 4 * i);
    }
}

/// Widens IEEE halves to f32 (exact, like ggml's lookup table).
pub fn f16_row(src: &[u8], dst: &mut [f32]) {
    for (i, y) in dst.iter_mut().enumerate() {
        *y = f16_at(src, 2 * i);
    }
}

/// Widens bfloat16 to f32 by a 16-bit shift (exact, as `ggml_bf16_to_fp32`).
pub fn bf16_row(src: &[u8], dst: &mut [f32]) {
    for (i, y) in dst.iter_mut().enumerate() {
        *y = bf16_at(src, 2 * i);
    }
}
