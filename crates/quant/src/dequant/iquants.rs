//! The i-quants IQ4_NL, IQ4_XS, IQ3_XXS and IQ3_S: codebook / non-linear levels times scales.
//!
//! Operation order copies `dequantize_row_iq*` in ggml-quants.c (block scale first, then
//! `scale·level`, then the sign), so results are bit-identical.

use crate::blocks::grids::{IQ3S_GRID, IQ3XXS_GRID};
use crate::blocks::tables::{KMASK_IQ2XS, KSIGNS_IQ2XS, KVALUES_IQ4NL};
use crate::blocks::{f16_at, iq3_s, iq3_xxs, iq4_nl, iq4_xs, u16_at, u32_at};
use pine_gguf::QK_K;

/// IQ4_NL: value = d·kvalues[nibble]; low nibbles are elements 0..16.
pub fn iq4_nl_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src
        .chunks_exact(iq4_nl::BYTES)
        .zip(dst.chunks_exact_mut(32))
    {
        let d = f16_at(b, 0);
        for j in 0..16 {
            let q = b[iq4_nl::QS + j];
            y[j] = d * KVALUES_IQ4NL[(q & 0xF) as usize] as f32;
            y[j + 16] = d * KVALUES_IQ4NL[(q >> 4) as usize] as f32;
        }
    }
}

/// IQ4_XS: IQ4_NL levels in 8 sub-blocks of 32 with 6-bit scales; value = (d·(ls − 32))·level.
pub fn iq4_xs_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src
        .chunks_exact(iq4_xs::BYTES)
        .zip(dst.chunks_exact_mut(QK_K))
    {
        let d = f16_at(b, 0);
        let scales_h = u16_at(b, iq4_xs::SCALES_H);
        for (ib, y) in y.chunks_exact_mut(32).enumerate() {
            let lo = (b[iq4_xs::SCALES_L + ib / 2] >> (4 * (ib % 2))) & 0xF;
            let hi = ((scales_h >> (2 * ib)) & 3) as u8;
            let dl = d * ((lo | (hi << 4)) as i32 - 32) as f32;
            let qs = &b[iq4_xs::QS + 16 * ib..iq4_xs::QS + 16 * ib + 16];
            for j in 0..16 {
                y[j] = dl * KVALUES_IQ4NL[(qs[j] & 0xF) as usize] as f32;
                y[j + 16] = dl * KVALUES_IQ4NL[(qs[j] >> 4) as usize] as f32;
            }
        }
    }
}

/// The four grid values packed in a codebook entry (byte j = value j).
#[inline(always)]
fn grid4(entry: u32) -> [u8; 4] {
    entry.to_le_bytes()
}

/// IQ3_XXS: per 32 values one u32 holds four 7-bit sign codes and a 4-bit scale;
/// value = (d·(0.5 + s)·0.5)·grid·sign.
pub fn iq3_xxs_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src
        .chunks_exact(iq3_xxs::BYTES)
        .zip(dst.chunks_exact_mut(QK_K))
    {
        let d = f16_at(b, 0);
        for (ib, y) in y.chunks_exact_mut(32).enumerate() {
            let aux = u32_at(b, iq3_xxs::SCALES_AND_SIGNS + 4 * ib);
            let db = d * (0.5f32 + (aux >> 28) as f32) * 0.5f32;
            let qs = &b[iq3_xxs::QS + 8 * ib..iq3_xxs::QS + 8 * ib + 8];
            for (l, y) in y.chunks_exact_mut(8).enumerate() {
                let signs = KSIGNS_IQ2XS[((aux >> (7 * l)) & 127) as usize];
                let g1 = grid4(IQ3XXS_GRID[qs[2 * l] as usize]);
                let g2 = grid4(IQ3XXS_GRID[qs[2 * l + 1] as usize]);
                for j in 0..4 {
                    y[j] = db * g1[j] as f32 * sign(signs, j);
                    y[j + 4] = db * g2[j] as f32 * sign(signs, j + 4);
                }
            }
        }
    }
}

/// IQ3_S: 9-bit grid indices (8 in `qs`, 1 in `qh`), explicit sign bits, 4-bit scales per 32;
/// value = (d·(1 + 2·s))·grid·sign.
pub fn iq3_s_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src
        .chunks_exact(iq3_s::BYTES)
        .zip(dst.chunks_exact_mut(QK_K))
    {
        let d = f16_at(b, 0);
        for (ib, y) in y.chunks_exact_mut(32).enumerate() {
            let sc = b[iq3_s::SCALES + ib / 2];
            let s = if ib % 2 == 0 { sc & 0xF } else { sc >> 4 };
            let db = d * (1 + 2 * s as i32) as f32;
            let qh = b[iq3_s::QH + ib] as u32;
            let qs = &b[iq3_s::QS + 8 * ib..iq3_s::QS + 8 * ib + 8];
            let signs = &b[iq3_s::SIGNS + 4 * ib..iq3_s::SIGNS + 4 * ib + 4];
            for (l, y) in y.chunks_exact_mut(8).enumerate() {
                let i1 = qs[2 * l] as u32 | ((qh << (8 - 2 * l)) & 256);
                let i2 = qs[2 * l + 1] as u32 | ((qh << (7 - 2 * l)) & 256);
                let g1 = grid4(IQ3S_GRID[i1 as usize]);
                let g2 = grid4(IQ3S_GRID[i2 as usize]);
                for j in 0..4 {
                    y[j] = db * g1[j] as f32 * sign(signs[l], j);
                    y[j + 4] = db * g2[j] as f32 * sign(signs[l], j + 4);
                }
            }
        }
    }
}

/// ±1 from bit j of a sign byte, as `signs & kmask_iq2xs[j] ? -1.f : 1.f`.
#[inline(always)]
fn sign(signs: u8, j: usize) -> f32 {
    if signs & KMASK_IQ2XS[j] != 0 {
        -1.0
    } else {
        1.0
    }
}
