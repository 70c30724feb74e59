//! The ternary formats TQ1_0 and TQ2_0 (BitNet b1.58 / TriLM weights: values −d, 0, +d).

use crate::blocks::{f16_at, tq1_0, tq2_0};
use pine_gguf::QK_K;

/// The trit at position `n` of a base-3 byte: ggml stores ⌈t·256/243⌉ so that multiplying by
/// 3ⁿ (mod 256) moves trit n to the top, and `(q·3) >> 8` reads it.
#[inline(always)]
fn trit(byte: u8, pow3: u8) -> f32 {
    let q = byte.wrapping_mul(pow3);
    let xi = ((q as u16 * 3) >> 8) as i16;
    (xi - 1) as f32
}

const POW3: [u8; 5] = [1, 3, 9, 27, 81];

/// TQ1_0: 5 trits per byte over 48 bytes (first 32 then 16), then 4 trits per byte over 4.
pub fn tq1_0_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src
        .chunks_exact(tq1_0::BYTES)
        .zip(dst.chunks_exact_mut(QK_K))
    {
        let d = f16_at(b, tq1_0::D);
        let mut out = 0;
        for (start, width) in [(0usize, 32usize), (32, 16)] {
            for p in POW3 {
                for m in 0..width {
                    y[out] = trit(b[start + m], p) * d;
                    out += 1;
                }
            }
        }
        for p in &POW3[..4] {
            for j in 0..4 {
                y[out] = trit(b[tq1_0::QH + j], *p) * d;
                out += 1;
            }
        }
    }
}

/// TQ2_0: 2 bits per value, four 32-value planes per 32 bytes; value = (q − 1)·d.
pub fn tq2_0_row(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src
        .chunks_exact(tq2_0::BYTES)
        .zip(dst.chunks_exact_mut(QK_K))
    {
        let d = f16_at(b, tq2_0::D);
        let mut out = 0;
        for j in (0..tq2_0::D).step_by(32) {
            for l in 0..4 {
                for m in 0..32 {
                    let q = ((b[j + m] >> (2 * l)) & 3) as i8;
                    y[out] = (q - 1) as f32 * d;
                    out += 1;
                }
            }
        }
    }
}
