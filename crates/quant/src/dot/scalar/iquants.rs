//! Scalar references for the i-quants × Q8_K (IQ4_XS, IQ3_XXS, IQ3_S), transcribing ggml's generic kernels.

use crate::blocks::grids::{IQ3S_GRID, IQ3XXS_GRID};
use crate::blocks::tables::{KMASK_IQ2XS, KSIGNS_IQ2XS, KVALUES_IQ4NL};
use crate::dot::bytes::{f16_at, f32_at, i8_at, q8k, u32_at};

/// IQ4_XS × Q8_K: IQ4_NL's non-linear nibbles with 6-bit scales (offset 32) per 32 elements.
pub(crate) fn iq4_xs(w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(136).zip(a.chunks_exact(q8k::BYTES)) {
        let d4d8 = f16_at(x, 0) * f32_at(y, 0);
        let mut h = u16::from_le_bytes([x[2], x[3]]);
        for ib in (0..8).step_by(2) {
            let sl = x[4 + ib / 2];
            let ls1 = (sl & 15) | ((h << 4) & 0x30) as u8;
            let ls2 = (sl >> 4) | ((h << 2) & 0x30) as u8;
            h >>= 4;
            for (k, ls) in [(ib, ls1), (ib + 1, ls2)] {
                let dk = d4d8 * (i32::from(ls) - 32) as f32;
                let (qs, q8) = (8 + 16 * k, q8k::QS + 32 * k);
                let mut sumi = 0i32;
                for j in 0..16 {
                    sumi +=
                        i8_at(y, q8 + j) * i32::from(KVALUES_IQ4NL[usize::from(x[qs + j] & 15)]);
                    sumi += i8_at(y, q8 + 16 + j)
                        * i32::from(KVALUES_IQ4NL[usize::from(x[qs + j] >> 4)]);
                }
                sumf += dk * sumi as f32;
            }
        }
    }
    sumf
}

/// Adds `Σ grid[j]·q8[j]·sign_j` for one 8-element group made of two 4-value grid points.
#[inline(always)]
fn grid8(g1: u32, g2: u32, signs: u8, q8: &[u8]) -> i32 {
    let (g1, g2) = (g1.to_le_bytes(), g2.to_le_bytes());
    let mut s = 0i32;
    for j in 0..4 {
        for (k, g) in [(j, g1[j]), (j + 4, g2[j])] {
            let v = i32::from(g) * i32::from(q8[k] as i8);
            s += if signs & KMASK_IQ2XS[k] != 0 { -v } else { v };
        }
    }
    s
}

/// IQ3_XXS × Q8_K: 8-bit indices into a 256-point grid, 7-bit sign codes and a 4-bit scale
/// per 32 elements packed in one u32.
pub(crate) fn iq3_xxs(w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(98).zip(a.chunks_exact(q8k::BYTES)) {
        let d = f16_at(x, 0) * f32_at(y, 0);
        let mut bsum = 0i32;
        for ib in 0..8 {
            let aux = u32_at(x, 2 + 64 + 4 * ib);
            let ls = 2 * (aux >> 28) as i32 + 1;
            let mut sumi = 0i32;
            for l in 0..4 {
                let q3 = &x[2 + 8 * ib + 2 * l..];
                let g1 = IQ3XXS_GRID[usize::from(q3[0])];
                let g2 = IQ3XXS_GRID[usize::from(q3[1])];
                let signs = KSIGNS_IQ2XS[((aux >> (7 * l)) & 127) as usize];
                sumi += grid8(g1, g2, signs, &y[q8k::QS + 32 * ib + 8 * l..]);
            }
            bsum += sumi * ls;
        }
        sumf += d * bsum as f32;
    }
    0.25 * sumf
}

/// IQ3_S × Q8_K: 9-bit indices (8 in `qs`, 1 in `qh`) into a 512-point grid, explicit sign
/// bytes and 4-bit scales per 32 elements.
pub(crate) fn iq3_s(w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(110).zip(a.chunks_exact(q8k::BYTES)) {
        let d = f16_at(x, 0) * f32_at(y, 0);
        let mut bsum = 0i32;
        for ib in 0..8 {
            let sc = x[106 + ib / 2];
            let ls = 2 * i32::from(if ib % 2 == 0 { sc & 15 } else { sc >> 4 }) + 1;
            let qh = u32::from(x[66 + ib]);
            let mut sumi = 0i32;
            for l in 0..4 {
                let qs = &x[2 + 8 * ib + 2 * l..];
                let g1 = IQ3S_GRID[(u32::from(qs[0]) | ((qh << (8 - 2 * l)) & 256)) as usize];
                let g2 = IQ3S_GRID[(u32::from(qs[1]) | ((qh << (7 - 2 * l)) & 256)) as usize];
                let signs = x[74 + 4 * ib + l];
                sumi += grid8(g1, g2, signs, &y[q8k::QS + 32 * ib + 8 * l..]);
            }
            bsum += sumi * ls;
        }
        sumf += d * bsum as f32;
    }
    sumf
}
