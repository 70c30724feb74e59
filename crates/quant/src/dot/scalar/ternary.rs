//! Scalar references for the ternary types (TQ1_0, TQ2_0) × Q8_K, transcribing ggml's generic
//! kernels.

use crate::dot::bytes::{f16_at, f32_at, i8_at, q8k};

/// Extracts the `l`-th base-3 digit of a TQ1_0 byte (ggml's multiply-and-shift trick), as −1..1.
#[inline(always)]
fn trit(byte: u8, l: usize) -> i32 {
    const POW3: [u8; 5] = [1, 3, 9, 27, 81];
    let q = byte.wrapping_mul(POW3[l]);
    ((u16::from(q) * 3) >> 8) as i32 - 1
}

/// TQ1_0 × Q8_K: five trits per byte in `qs`, four per byte in `qh`.
pub(crate) fn tq1_0(w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(54).zip(a.chunks_exact(q8k::BYTES)) {
        let mut sum = 0i32;
        for l in 0..5 {
            for m in 0..32 {
                sum += trit(x[m], l) * i8_at(y, q8k::QS + l * 32 + m);
            }
        }
        for l in 0..5 {
            for m in 0..16 {
                sum += trit(x[32 + m], l) * i8_at(y, q8k::QS + 160 + l * 16 + m);
            }
        }
        for l in 0..4 {
            for j in 0..4 {
                sum += trit(x[48 + j], l) * i8_at(y, q8k::QS + 240 + l * 4 + j);
            }
        }
        sumf += sum as f32 * (f16_at(x, 52) * f32_at(y, 0));
    }
    sumf
}

/// TQ2_0 × Q8_K: four 2-bit values per byte, offset 1.
pub(crate) fn tq2_0(w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(66).zip(a.chunks_exact(q8k::BYTES)) {
        let mut sumi = 0i32;
        for j in (0..64).step_by(32) {
            for l in 0..4 {
                for k in 0..32 {
                    let v = i32::from((x[j + k] >> (2 * l)) & 3) - 1;
                    sumi += i8_at(y, q8k::QS + j * 4 + l * 32 + k) * v;
                }
            }
        }
        sumf += sumi as f32 * (f32_at(y, 0) * f16_at(x, 64));
    }
    sumf
}
