//! Round-to-nearest quantizers of the 32-element formats, as `quantize_row_q*_ref` in
//! ggml-quants.c (what `llama-quantize` runs when no importance matrix is given).

use crate::blocks::{put_f16, q4_0, q4_1, q5_0, q5_1, q8_0};

/// The element of largest magnitude, keeping its sign (first one wins ties), as ggml finds
/// `max` for the symmetric formats.
fn signed_absmax(x: &[f32]) -> f32 {
    let (mut amax, mut max) = (0f32, 0f32);
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    max
}

/// Minimum and maximum of a block (the asymmetric formats' range).
fn min_max(x: &[f32]) -> (f32, f32) {
    let (mut min, mut max) = (f32::MAX, -f32::MAX);
    for &v in x {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    (min, max)
}

/// `1/d`, or 0 for an all-zero block (ggml's `d ? 1.0f/d : 0.0f`).
fn inv(d: f32) -> f32 {
    if d != 0.0 {
        1.0 / d
    } else {
        0.0
    }
}

/// Q4_0: d = max/−8, q = min(15, trunc(x/d + 8.5)).
pub fn q4_0(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.chunks_exact(32).zip(dst.chunks_exact_mut(q4_0::BYTES)) {
        let d = signed_absmax(x) / -8.0;
        let id = inv(d);
        put_f16(y, 0, d);
        for j in 0..16 {
            let x0 = ((x[j] * id + 8.5) as i8).min(15) as u8;
            let x1 = ((x[j + 16] * id + 8.5) as i8).min(15) as u8;
            y[q4_0::QS + j] = x0 | (x1 << 4);
        }
    }
}

/// Q4_1: d = (max − min)/15, m = min, q = min(15, trunc((x − min)/d + 0.5)).
pub fn q4_1(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.chunks_exact(32).zip(dst.chunks_exact_mut(q4_1::BYTES)) {
        let (min, max) = min_max(x);
        let d = (max - min) / 15.0;
        let id = inv(d);
        put_f16(y, 0, d);
        put_f16(y, q4_1::M, min);
        for j in 0..16 {
            let x0 = (((x[j] - min) * id + 0.5) as i8).min(15) as u8;
            let x1 = (((x[j + 16] - min) * id + 0.5) as i8).min(15) as u8;
            y[q4_1::QS + j] = x0 | (x1 << 4);
        }
    }
}

/// Q5_0: d = max/−16, q = min(31, trunc(x/d + 16.5)), 5th bits gathered into `qh`.
pub fn q5_0(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.chunks_exact(32).zip(dst.chunks_exact_mut(q5_0::BYTES)) {
        let d = signed_absmax(x) / -16.0;
        let id = inv(d);
        put_f16(y, 0, d);
        let mut qh = 0u32;
        for j in 0..16 {
            let x0 = ((x[j] * id + 16.5) as i8).min(31) as u8;
            let x1 = ((x[j + 16] * id + 16.5) as i8).min(31) as u8;
            y[q5_0::QS + j] = (x0 & 0xF) | ((x1 & 0xF) << 4);
            qh |= (((x0 & 0x10) >> 4) as u32) << j;
            qh |= (((x1 & 0x10) >> 4) as u32) << (j + 16);
        }
        y[q5_0::QH..q5_0::QH + 4].copy_from_slice(&qh.to_le_bytes());
    }
}

/// Q5_1: d = (max − min)/31, m = min, q = trunc((x − min)/d + 0.5), 5th bits into `qh`.
pub fn q5_1(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.chunks_exact(32).zip(dst.chunks_exact_mut(q5_1::BYTES)) {
        let (min, max) = min_max(x);
        let d = (max - min) / 31.0;
        let id = inv(d);
        put_f16(y, 0, d);
        put_f16(y, q5_1::M, min);
        let mut qh = 0u32;
        for j in 0..16 {
            let x0 = ((x[j] - min) * id + 0.5) as u8;
            let x1 = ((x[j + 16] - min) * id + 0.5) as u8;
            y[q5_1::QS + j] = (x0 & 0xF) | ((x1 & 0xF) << 4);
            qh |= (((x0 & 0x10) >> 4) as u32) << j;
            qh |= (((x1 & 0x10) >> 4) as u32) << (j + 16);
        }
        y[q5_1::QH..q5_1::QH + 4].copy_from_slice(&qh.to_le_bytes());
    }
}

/// Q8_0: d = absmax/127, q = roundf(x/d) (half away from zero, like C `roundf`).
pub fn q8_0(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.chunks_exact(32).zip(dst.chunks_exact_mut(q8_0::BYTES)) {
        let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
        let d = amax / 127.0;
        let id = inv(d);
        put_f16(y, 0, d);
        for j in 0..32 {
            y[q8_0::QS + j] = (x[j] * id).round() as i8 as u8;
        }
    }
}
