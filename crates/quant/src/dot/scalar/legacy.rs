//! Scalar references for the 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL).
//!
//! Q4_0 follows the *block order* of llama.cpp's repacked (interleaved-row) kernels, which
//! llama.cpp uses for Q4_0 on x86: every SIMD, GPU and NEON Q4_0 kernel gives the same bits. The
//! others transcribe ggml's generic `ggml_vec_dot_*_q8_{0,1}` including the float evaluation
//! order.

use crate::blocks::tables::KVALUES_IQ4NL;
use crate::dot::bytes::{f16_at, i8_at, u32_at};

/// Q4_0 × Q8_0 in the block order of llama.cpp's repacked Q4_0 kernels (it repacks Q4_0 on
/// x86): per block the exact integer sum `sumi` (weights `nibble − 8`), then
/// `acc = fma(dx·dy, sumi, acc)`, blocks in order. Every Q4_0 kernel gives these bits.
pub(crate) fn q4_0(w: &[u8], a: &[u8]) -> f32 {
    let mut acc = 0.0f32;
    for (x, y) in w.chunks_exact(18).zip(a.chunks_exact(34)) {
        let mut sumi = 0i32;
        for j in 0..16 {
            sumi += (i32::from(x[2 + j] & 15) - 8) * i8_at(y, 2 + j);
            sumi += (i32::from(x[2 + j] >> 4) - 8) * i8_at(y, 18 + j);
        }
        acc = (f16_at(x, 0) * f16_at(y, 0)).mul_add(sumi as f32, acc);
    }
    acc
}

/// Q4_1 × Q8_1: `(dx*dy)*sumi + mx*sy` per block.
pub(crate) fn q4_1(w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(20).zip(a.chunks_exact(36)) {
        let mut sumi = 0i32;
        for j in 0..16 {
            sumi += i32::from(x[4 + j] & 15) * i8_at(y, 4 + j);
            sumi += i32::from(x[4 + j] >> 4) * i8_at(y, 20 + j);
        }
        sumf += f16_at(x, 0) * f16_at(y, 0) * sumi as f32 + f16_at(x, 2) * f16_at(y, 2);
    }
    sumf
}

/// Q5_0 × Q8_0: 4 low bits from `qs`, the fifth from `qh`, offset 16.
pub(crate) fn q5_0(w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(22).zip(a.chunks_exact(34)) {
        let qh = u32_at(x, 2);
        let mut sumi = 0i32;
        for j in 0..16 {
            let h0 = ((qh >> j) & 1) << 4;
            let h1 = ((qh >> (j + 16)) & 1) << 4;
            let x0 = (u32::from(x[6 + j] & 15) | h0) as i32 - 16;
            let x1 = (u32::from(x[6 + j] >> 4) | h1) as i32 - 16;
            sumi += x0 * i8_at(y, 2 + j) + x1 * i8_at(y, 18 + j);
        }
        sumf += f16_at(x, 0) * f16_at(y, 0) * sumi as f32;
    }
    sumf
}

/// Q5_1 × Q8_1: like Q5_0 without the offset, plus the `m*s` term.
pub(crate) fn q5_1(w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(24).zip(a.chunks_exact(36)) {
        let qh = u32_at(x, 4);
        let mut sumi = 0i32;
        for j in 0..16 {
            let h0 = ((qh >> j) & 1) << 4;
            let h1 = ((qh >> (j + 16)) & 1) << 4;
            let x0 = (u32::from(x[8 + j] & 15) | h0) as i32;
            let x1 = (u32::from(x[8 + j] >> 4) | h1) as i32;
            sumi += x0 * i8_at(y, 4 + j) + x1 * i8_at(y, 20 + j);
        }
        sumf += f16_at(x, 0) * f16_at(y, 0) * sumi as f32 + f16_at(x, 2) * f16_at(y, 2);
    }
    sumf
}

/// Q8_0 × Q8_0: `sumi * (dx*dy)`.
pub(crate) fn q8_0(w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(34).zip(a.chunks_exact(34)) {
        let sumi: i32 = (2..34).map(|j| i8_at(x, j) * i8_at(y, j)).sum();
        sumf += sumi as f32 * (f16_at(x, 0) * f16_at(y, 0));
    }
    sumf
}

/// IQ4_NL × Q8_0: nibbles index the non-linear `kvalues_iq4nl` table.
pub(crate) fn iq4_nl(w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(18).zip(a.chunks_exact(34)) {
        let d = f16_at(y, 0) * f16_at(x, 0);
        let mut sumi = 0i32;
        for j in 0..16 {
            sumi += i8_at(y, 2 + j) * i32::from(KVALUES_IQ4NL[usize::from(x[2 + j] & 15)]);
            sumi += i8_at(y, 18 + j) * i32::from(KVALUES_IQ4NL[usize::from(x[2 + j] >> 4)]);
        }
        sumf += d * sumi as f32;
    }
    sumf
}
