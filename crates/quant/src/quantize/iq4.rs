//! IQ4_NL and IQ4_XS quantization: ggml's `quantize_row_iq4_nl_impl` without an importance
//! matrix (weights x²) and `ntry = 7`, the path `llama-quantize` takes at build b4748
//! (`quantize_iq4_nl` / `quantize_iq4_xs`; b4748's `quantize_row_iq4_nl_ref` calls the same).

use super::helpers::{best_index_int8, nearest_int, GROUP_MAX_EPS};
use crate::blocks::tables::KVALUES_IQ4NL;
use crate::blocks::{iq4_nl, iq4_xs, put_f16};
use pine_gguf::QK_K;

/// Trial count of the scale search (`ntry` in ggml).
const NTRY: i32 = 7;

/// Best scale for one 32-value block: start from max/−127, refine by weighted least squares,
/// then try 2·NTRY+1 alternative inverse scales `(itry − 127)/max`. Returns 0 for a zero block.
fn block_scale(xb: &[f32]) -> f32 {
    let values = &KVALUES_IQ4NL;
    let (mut amax, mut max) = (0f32, 0f32);
    for &v in xb {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    if amax < GROUP_MAX_EPS {
        return 0.0;
    }
    let sums = |id: f32| {
        let (mut sumqx, mut sumq2) = (0f32, 0f32);
        for &x in xb {
            let q = values[best_index_int8(values, id * x)] as f32;
            let w = x * x;
            sumqx += w * q * x;
            sumq2 += w * q * q;
        }
        (sumqx, sumq2)
    };
    let d = -max / values[0] as f32;
    let (sumqx, sumq2) = sums(1.0 / d);
    let mut d = sumqx / sumq2;
    let mut best = d * sumqx;
    for itry in -NTRY..=NTRY {
        let id = (itry + values[0] as i32) as f32 / max;
        let (sumqx, sumq2) = sums(id);
        if sumq2 > 0.0 && sumqx * sumqx > best * sumq2 {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    d
}

/// Packs 32 level indices as nibbles: element j low, element j+16 high.
fn pack32(l: &[u8], q: &mut [u8]) {
    for j in 0..16 {
        q[j] = l[j] | (l[j + 16] << 4);
    }
}

/// IQ4_NL: one f16 scale per 32 values, levels re-picked with the final (unrounded) scale.
pub fn iq4_nl(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src
        .chunks_exact(32)
        .zip(dst.chunks_exact_mut(iq4_nl::BYTES))
    {
        let d = block_scale(x);
        put_f16(y, 0, d);
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut l = [0u8; 32];
        for (l, &v) in l.iter_mut().zip(x) {
            *l = best_index_int8(&KVALUES_IQ4NL, id * v) as u8;
        }
        pack32(&l, &mut y[iq4_nl::QS..]);
    }
}

/// IQ4_XS: eight 32-value scales quantized to 6 bits against one f16 super-scale, then levels
/// re-picked with each rounded sub-block scale.
pub fn iq4_xs(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src
        .chunks_exact(QK_K)
        .zip(dst.chunks_exact_mut(iq4_xs::BYTES))
    {
        y.fill(0);
        let mut scales = [0f32; 8];
        let (mut max_scale, mut amax_scale) = (0f32, 0f32);
        for (ib, s) in scales.iter_mut().enumerate() {
            *s = block_scale(&x[32 * ib..32 * ib + 32]);
            if s.abs() > amax_scale {
                amax_scale = s.abs();
                max_scale = *s;
            }
        }
        let d = -max_scale / 32.0;
        put_f16(y, 0, d);
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut scales_h = 0u16;
        for ib in 0..8 {
            let ls = nearest_int(id * scales[ib]).clamp(-32, 31);
            let dl = d * ls as f32;
            let idl = if dl != 0.0 { 1.0 / dl } else { 0.0 };
            let mut l = [0u8; 32];
            for (l, &v) in l.iter_mut().zip(&x[32 * ib..32 * ib + 32]) {
                *l = best_index_int8(&KVALUES_IQ4NL, idl * v) as u8;
            }
            pack32(&l, &mut y[iq4_xs::QS + 16 * ib..]);
            let ls = (ls + 32) as u8;
            y[iq4_xs::SCALES_L + ib / 2] |= (ls & 0xF) << (4 * (ib % 2));
            scales_h |= ((ls >> 4) as u16) << (2 * ib);
        }
        y[iq4_xs::SCALES_H..iq4_xs::SCALES_H + 2].copy_from_slice(&scales_h.to_le_bytes());
    }
}
