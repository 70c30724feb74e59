//! The 32-element "legacy" formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1.
//!
//! Arithmetic follows `dequantize_row_*` in ggml-quants.c operation by operation (`q·d`, then
//! `+ m`), each rounded to f32 with no fused multiply-add, so results are bit-identical.

use crate::blocks::{f16_at, q4_0, q4_1, q5_0, q5_1, q8_0, q8_1, u32_at};

/// Q4_0: value = (nibble − 8)·d; low nibbles are elements 0..16, high nibbles 16..32.
pub fn q4_0_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(q4_0::BYTES).zip(dst.chunks_exact_mut(32)) {
        let d = f16_at(b, 0);
        for j in 0..16 {
            let q = b[q4_0::QS + j];
            y[j] = ((q & 0xF) as i32 - 8) as f32 * d;
            y[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
        }
    }
}

/// Q4_1: value = nibble·d + m.
pub fn q4_1_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(q4_1::BYTES).zip(dst.chunks_exact_mut(32)) {
        let d = f16_at(b, 0);
        let m = f16_at(b, q4_1::M);
        for j in 0..16 {
            let q = b[q4_1::QS + j];
            y[j] = (q & 0xF) as f32 * d + m;
            y[j + 16] = (q >> 4) as f32 * d + m;
        }
    }
}

/// Q5_0: value = (nibble | 5th bit·16 − 16)·d; bit j of `qh` belongs to element j.
pub fn q5_0_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(q5_0::BYTES).zip(dst.chunks_exact_mut(32)) {
        let d = f16_at(b, 0);
        let qh = u32_at(b, q5_0::QH);
        for j in 0..16 {
            let q = b[q5_0::QS + j];
            let h0 = ((qh >> j) << 4) & 0x10;
            let h1 = (qh >> (j + 12)) & 0x10;
            y[j] = (((q & 0xF) as u32 | h0) as i32 - 16) as f32 * d;
            y[j + 16] = (((q >> 4) as u32 | h1) as i32 - 16) as f32 * d;
        }
    }
}

/// Q5_1: value = (nibble | 5th bit·16)·d + m.
pub fn q5_1_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(q5_1::BYTES).zip(dst.chunks_exact_mut(32)) {
        let d = f16_at(b, 0);
        let m = f16_at(b, q5_1::M);
        let qh = u32_at(b, q5_1::QH);
        for j in 0..16 {
            let q = b[q5_1::QS + j];
            let h0 = ((qh >> j) << 4) & 0x10;
            let h1 = (qh >> (j + 12)) & 0x10;
            y[j] = ((q & 0xF) as u32 | h0) as f32 * d + m;
            y[j + 16] = ((q >> 4) as u32 | h1) as f32 * d + m;
        }
    }
}

/// Q8_0: value = q·d.
pub fn q8_0_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(q8_0::BYTES).zip(dst.chunks_exact_mut(32)) {
        let d = f16_at(b, 0);
        for (j, y) in y.iter_mut().enumerate() {
            *y = b[q8_0::QS + j] as i8 as f32 * d;
        }
    }
}

/// Q8_1: value = q·d (the stored sum `s` is only used by dot products).
pub fn q8_1_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(q8_1::BYTES).zip(dst.chunks_exact_mut(32)) {
        let d = f16_at(b, 0);
        for (j, y) in y.iter_mut().enumerate() {
            *y = b[q8_1::QS + j] as i8 as f32 * d;
        }
    }
}
