//! The k-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and Q8_K (256-element super-blocks).
//!
//! Each follows `dequantize_row_*` of ggml-quants.c: sub-block scale first (`d·sc`), then
//! `scale·q − min`, every step rounded to f32 without fusing, so the output is bit-exact.

use crate::blocks::{f16_at, f32_at, q2_k, q3_k, q4_k, q5_k, q6_k, q8_k, scale_min_k4};
use pine_gguf::QK_K;

/// Q2_K: 16 sub-blocks of 16 with 4-bit scale and min; value = d·sc·q − dmin·m.
pub fn q2_k_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src
        .chunks_exact(q2_k::BYTES)
        .zip(dst.chunks_exact_mut(QK_K))
    {
        let d = f16_at(b, q2_k::D);
        let min = f16_at(b, q2_k::DMIN);
        let mut out = 0;
        let mut is = 0;
        for n in 0..2 {
            let q = &b[q2_k::QS + 32 * n..q2_k::QS + 32 * n + 32];
            for shift in [0u32, 2, 4, 6] {
                for half in 0..2 {
                    let sc = b[is];
                    is += 1;
                    let dl = d * (sc & 0xF) as f32;
                    let ml = min * (sc >> 4) as f32;
                    for l in 0..16 {
                        let v = (q[l + 16 * half] >> shift) & 3;
                        y[out] = dl * v as f32 - ml;
                        out += 1;
                    }
                }
            }
        }
    }
}

/// The sixteen 6-bit Q3_K scales, each still offset by 32: low nibbles in bytes 0..8, top two
/// bits in bytes 8..12.
fn q3_k_scales(s: &[u8]) -> [i32; 16] {
    let mut out = [0i32; 16];
    for (j, o) in out.iter_mut().enumerate() {
        let lo = if j < 8 { s[j] & 0xF } else { s[j - 8] >> 4 };
        let hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        *o = (lo | (hi << 4)) as i32 - 32;
    }
    out
}

/// Q3_K: value = d·(sc − 32)·(q − 4·(1 − hbit)), with the high bit from `hmask`.
pub fn q3_k_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src
        .chunks_exact(q3_k::BYTES)
        .zip(dst.chunks_exact_mut(QK_K))
    {
        let d_all = f16_at(b, q3_k::D);
        let scales = q3_k_scales(&b[q3_k::SCALES..q3_k::SCALES + 12]);
        let hm = &b[..q3_k::QS];
        let mut m = 1u8;
        let mut out = 0;
        let mut is = 0;
        for n in 0..2 {
            let q = &b[q3_k::QS + 32 * n..q3_k::QS + 32 * n + 32];
            for shift in [0u32, 2, 4, 6] {
                for half in 0..2 {
                    let dl = d_all * scales[is] as f32;
                    is += 1;
                    for l in 16 * half..16 * half + 16 {
                        let low = ((q[l] >> shift) & 3) as i32;
                        let v = low - if hm[l] & m != 0 { 0 } else { 4 };
                        y[out] = dl * v as f32;
                        out += 1;
                    }
                }
                m <<= 1;
            }
        }
    }
}

/// Q4_K: 8 sub-blocks of 32 with 6-bit scale and min; value = (d·sc)·q − dmin·m.
pub fn q4_k_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src
        .chunks_exact(q4_k::BYTES)
        .zip(dst.chunks_exact_mut(QK_K))
    {
        let d = f16_at(b, 0);
        let min = f16_at(b, q4_k::DMIN);
        let scales = &b[q4_k::SCALES..q4_k::SCALES + 12];
        for (c, y) in y.chunks_exact_mut(64).enumerate() {
            let q = &b[q4_k::QS + 32 * c..q4_k::QS + 32 * c + 32];
            let (sc1, m1) = scale_min_k4(2 * c, scales);
            let (sc2, m2) = scale_min_k4(2 * c + 1, scales);
            let (d1, m1) = (d * sc1 as f32, min * m1 as f32);
            let (d2, m2) = (d * sc2 as f32, min * m2 as f32);
            for l in 0..32 {
                y[l] = d1 * (q[l] & 0xF) as f32 - m1;
                y[l + 32] = d2 * (q[l] >> 4) as f32 - m2;
            }
        }
    }
}

/// Q5_K: Q4_K plus a 5th bit per element from `qh` (bit 2c for the low half of chunk c).
pub fn q5_k_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src
        .chunks_exact(q5_k::BYTES)
        .zip(dst.chunks_exact_mut(QK_K))
    {
        let d = f16_at(b, 0);
        let min = f16_at(b, q5_k::DMIN);
        let scales = &b[q5_k::SCALES..q5_k::SCALES + 12];
        let qh = &b[q5_k::QH..q5_k::QH + 32];
        for (c, y) in y.chunks_exact_mut(64).enumerate() {
            let ql = &b[q5_k::QS + 32 * c..q5_k::QS + 32 * c + 32];
            let (u1, u2) = (1u8 << (2 * c), 2u8 << (2 * c));
            let (sc1, m1) = scale_min_k4(2 * c, scales);
            let (sc2, m2) = scale_min_k4(2 * c + 1, scales);
            let (d1, m1) = (d * sc1 as f32, min * m1 as f32);
            let (d2, m2) = (d * sc2 as f32, min * m2 as f32);
            for l in 0..32 {
                let h1 = if qh[l] & u1 != 0 { 16 } else { 0 };
                let h2 = if qh[l] & u2 != 0 { 16 } else { 0 };
                y[l] = d1 * ((ql[l] & 0xF) + h1) as f32 - m1;
                y[l + 32] = d2 * ((ql[l] >> 4) + h2) as f32 - m2;
            }
        }
    }
}

/// Q6_K: 16 sub-blocks of 16 with int8 scales; value = (d·sc)·(q − 32), q = 4 low + 2 high bits.
pub fn q6_k_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src
        .chunks_exact(q6_k::BYTES)
        .zip(dst.chunks_exact_mut(QK_K))
    {
        let d = f16_at(b, q6_k::D);
        for (n, y) in y.chunks_exact_mut(128).enumerate() {
            let ql = &b[64 * n..64 * n + 64];
            let qh = &b[q6_k::QH + 32 * n..q6_k::QH + 32 * n + 32];
            let sc = &b[q6_k::SCALES + 8 * n..q6_k::SCALES + 8 * n + 8];
            for l in 0..32 {
                let is = l / 16;
                let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
                let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
                y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
                y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
                y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
            }
        }
    }
}

/// Q8_K: value = d·q with a full f32 `d` (an activation format, dequantized for tests).
pub fn q8_k_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src
        .chunks_exact(q8_k::BYTES)
        .zip(dst.chunks_exact_mut(QK_K))
    {
        let d = f32_at(b, 0);
        for (j, y) in y.iter_mut().enumerate() {
            *y = d * b[q8_k::QS + j] as i8 as f32;
        }
    }
}
