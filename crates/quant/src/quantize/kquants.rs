//! Reference quantizers of Q2_K … Q6_K, as `quantize_row_q*_K_ref` in ggml-quants.c (the path
//! `llama-quantize` takes without an importance matrix: `quantize_q*_K` with no quant weights).

use super::helpers::{
    make_q3_quants, make_qkx2_quants, make_qx_quants, nearest_int, Qkx2Search, GROUP_MAX_EPS,
};
use crate::blocks::{f16_at, put_f16, q2_k, q3_k, q4_k, q5_k, q6_k, scale_min_k4};
use crate::dot::unpack::q3_k_scales;
use pine_gguf::QK_K;

/// Packs 256 two-bit levels into Q2_K/Q3_K `qs` (64 bytes): byte 32·n + i holds levels
/// 128·n + i + 32·k in bits 2k..2k+1, k = 0..4.
fn pack_2bit(l: &[u8; QK_K], qs: &mut [u8]) {
    for n in 0..2 {
        let lb = &l[128 * n..128 * n + 128];
        for i in 0..32 {
            qs[32 * n + i] = lb[i] | (lb[i + 32] << 2) | (lb[i + 64] << 4) | (lb[i + 96] << 6);
        }
    }
}

/// Q2_K: 16 × 16 sub-blocks, 2-bit levels with a 4-bit scale and 4-bit min each, found by
/// `make_qkx2_quants` (weights |x|, absolute-error search) and quantized against their maxima.
pub fn q2_k(src: &[f32], dst: &mut [u8]) {
    let p = Qkx2Search {
        rmin: -0.5,
        rdelta: 0.1,
        nstep: 15,
        use_mad: true,
    };
    for (x, y) in src
        .chunks_exact(QK_K)
        .zip(dst.chunks_exact_mut(q2_k::BYTES))
    {
        y.fill(0);
        let mut l = [0u8; QK_K];
        let mut scales = [0f32; 16];
        let mut mins = [0f32; 16];
        let mut weights = [0f32; 16];
        let mut aux = [0u8; 16];
        let (mut max_scale, mut max_min) = (0f32, 0f32);
        for j in 0..16 {
            let xs = &x[16 * j..16 * j + 16];
            for (w, &v) in weights.iter_mut().zip(xs) {
                *w = v.abs();
            }
            let (s, m) =
                make_qkx2_quants(3, xs, &weights, &mut l[16 * j..16 * j + 16], &mut aux, p);
            scales[j] = s;
            mins[j] = m;
            if s > max_scale {
                max_scale = s;
            }
            if m > max_min {
                max_min = m;
            }
        }
        // Scale nibbles, then min nibbles; a non-positive maximum leaves them and its f16 at 0.
        if max_scale > 0.0 {
            let iscale = 15.0 / max_scale;
            for j in 0..16 {
                y[j] = nearest_int(iscale * scales[j]) as u8;
            }
            put_f16(y, q2_k::D, max_scale / 15.0);
        }
        if max_min > 0.0 {
            let iscale = 15.0 / max_min;
            for j in 0..16 {
                y[j] |= (nearest_int(iscale * mins[j]) << 4) as u8;
            }
            put_f16(y, q2_k::DMIN, max_min / 15.0);
        }
        // Re-derive the levels from the stored (rounded) scales and mins.
        let (d_all, dmin_all) = (f16_at(y, q2_k::D), f16_at(y, q2_k::DMIN));
        for j in 0..16 {
            let d = d_all * (y[j] & 0xF) as f32;
            if d == 0.0 {
                continue;
            }
            let dm = dmin_all * (y[j] >> 4) as f32;
            for ii in 0..16 {
                l[16 * j + ii] = nearest_int((x[16 * j + ii] + dm) / d).clamp(0, 3) as u8;
            }
        }
        pack_2bit(&l, &mut y[q2_k::QS..q2_k::D]);
    }
}

/// Q3_K: 16 × 16 sub-blocks, 3-bit levels (low 2 bits in `qs`, 3rd bit in `hmask`) with signed
/// 6-bit scales, found by `make_q3_quants` and quantized against the largest in magnitude.
pub fn q3_k(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src
        .chunks_exact(QK_K)
        .zip(dst.chunks_exact_mut(q3_k::BYTES))
    {
        y.fill(0);
        let mut l = [0i8; QK_K];
        let mut scales = [0f32; 16];
        let (mut max_scale, mut amax) = (0f32, 0f32);
        for j in 0..16 {
            let s = make_q3_quants(4, &x[16 * j..16 * j + 16], &mut l[16 * j..16 * j + 16]);
            scales[j] = s;
            if s.abs() > amax {
                amax = s.abs();
                max_scale = s;
            }
        }
        // Scales as 6-bit values offset by 32: low nibbles in bytes 0..8 (j and j + 8 share
        // one), top two bits in bytes 8..12. A zero maximum leaves them and `d` at 0.
        if max_scale != 0.0 {
            let iscale = -32.0 / max_scale;
            let sc = &mut y[q3_k::SCALES..q3_k::D];
            for j in 0..16 {
                // ggml narrows to int8 before clamping.
                let ls = ((nearest_int(iscale * scales[j]) as i8).clamp(-32, 31) + 32) as u8;
                if j < 8 {
                    sc[j] = ls & 0xF;
                } else {
                    sc[j - 8] |= (ls & 0xF) << 4;
                }
                sc[8 + j % 4] |= (ls >> 4) << (2 * (j / 4));
            }
            put_f16(y, q3_k::D, 1.0 / iscale);
        }
        // Re-derive the levels from the stored (rounded) scales.
        let d_all = f16_at(y, q3_k::D);
        let stored = q3_k_scales(&y[q3_k::SCALES..q3_k::D]);
        for j in 0..16 {
            let d = d_all * (stored[j] as i32 - 32) as f32;
            if d == 0.0 {
                continue;
            }
            for ii in 0..16 {
                l[16 * j + ii] = (nearest_int(x[16 * j + ii] / d).clamp(-4, 3) + 4) as i8;
            }
        }
        // Level bit 2 of value j goes to bit j / 32 of hmask byte j % 32; levels keep 2 bits.
        let mut low = [0u8; QK_K];
        for (j, (lo, &lv)) in low.iter_mut().zip(&l).enumerate() {
            let lv = lv as u8;
            if lv > 3 {
                y[j % 32] |= 1 << (j / 32);
            }
            *lo = lv & 3;
        }
        pack_2bit(&low, &mut y[q3_k::QS..q3_k::SCALES]);
    }
}

/// Per-sub-block (scale, min) search shared by Q4_K and Q5_K: weights |x| + rms(x), then
/// `make_qkx2_quants`. Returns the levels and the 8 scales and mins.
fn k_sub_scales(x: &[f32], nmax: i32, p: Qkx2Search, l: &mut [u8; QK_K]) -> ([f32; 8], [f32; 8]) {
    let mut scales = [0f32; 8];
    let mut mins = [0f32; 8];
    let mut weights = [0f32; 32];
    let mut aux = [0u8; 32];
    for j in 0..8 {
        let xs = &x[32 * j..32 * j + 32];
        let mut sum_x2 = 0f32;
        for &v in xs {
            sum_x2 += v * v;
        }
        let av_x = (sum_x2 / 32.0).sqrt();
        for (w, &v) in weights.iter_mut().zip(xs) {
            *w = av_x + v.abs();
        }
        let (s, m) = make_qkx2_quants(nmax, xs, &weights, &mut l[32 * j..32 * j + 32], &mut aux, p);
        scales[j] = s;
        mins[j] = m;
    }
    (scales, mins)
}

/// Packs 6-bit scales/mins (12 bytes), stores `d`/`dmin`, then re-derives every level from the
/// rounded scales, as ggml does so the stored block is self-consistent. Returns nothing; `l`
/// holds the final levels 0..=nmax.
fn k_pack_scales(
    x: &[f32],
    y: &mut [u8],
    nmax: i32,
    scales: &[f32; 8],
    mins: &[f32; 8],
    l: &mut [u8; QK_K],
) {
    let max_scale = scales.iter().fold(0f32, |a, &s| if s > a { s } else { a });
    let max_min = mins.iter().fold(0f32, |a, &m| if m > a { m } else { a });
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let s = &mut y[4..16];
    for j in 0..8 {
        let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
        if j < 4 {
            s[j] = ls;
            s[j + 4] = lm;
        } else {
            s[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
            s[j - 4] |= (ls >> 4) << 6;
            s[j] |= (lm >> 4) << 6;
        }
    }
    put_f16(y, 0, max_scale / 63.0);
    put_f16(y, 2, max_min / 63.0);
    let (d_all, dmin_all) = (f16_at(y, 0), f16_at(y, 2));
    for j in 0..8 {
        let (sc, m) = scale_min_k4(j, &y[4..16]);
        let d = d_all * sc as f32;
        if d == 0.0 {
            continue;
        }
        let dm = dmin_all * m as f32;
        for ii in 0..32 {
            l[32 * j + ii] = nearest_int((x[32 * j + ii] + dm) / d).clamp(0, nmax) as u8;
        }
    }
}

/// Q4_K: 8 × 32 sub-blocks, 4-bit levels with 6-bit scale and min each.
pub fn q4_k(src: &[f32], dst: &mut [u8]) {
    let p = Qkx2Search {
        rmin: -1.0,
        rdelta: 0.1,
        nstep: 20,
        use_mad: false,
    };
    for (x, y) in src
        .chunks_exact(QK_K)
        .zip(dst.chunks_exact_mut(q4_k::BYTES))
    {
        y.fill(0);
        let mut l = [0u8; QK_K];
        let (scales, mins) = k_sub_scales(x, 15, p, &mut l);
        k_pack_scales(x, y, 15, &scales, &mins, &mut l);
        for c in 0..4 {
            for i in 0..32 {
                y[q4_k::QS + 32 * c + i] = l[64 * c + i] | (l[64 * c + 32 + i] << 4);
            }
        }
    }
}

/// Q5_K: as Q4_K with 5-bit levels; the 5th bits go to `qh` (bits 2c and 2c+1 for chunk c).
pub fn q5_k(src: &[f32], dst: &mut [u8]) {
    let p = Qkx2Search {
        rmin: -0.5,
        rdelta: 0.1,
        nstep: 15,
        use_mad: false,
    };
    for (x, y) in src
        .chunks_exact(QK_K)
        .zip(dst.chunks_exact_mut(q5_k::BYTES))
    {
        y.fill(0);
        let mut l = [0u8; QK_K];
        let (scales, mins) = k_sub_scales(x, 31, p, &mut l);
        k_pack_scales(x, y, 31, &scales, &mins, &mut l);
        let (m1, m2) = (1u8, 2u8);
        for c in 0..4 {
            for j in 0..32 {
                let mut l1 = l[64 * c + j];
                if l1 > 15 {
                    l1 -= 16;
                    y[q5_k::QH + j] |= m1 << (2 * c);
                }
                let mut l2 = l[64 * c + j + 32];
                if l2 > 15 {
                    l2 -= 16;
                    y[q5_k::QH + j] |= m2 << (2 * c);
                }
                y[q5_k::QS + 32 * c + j] = l1 | (l2 << 4);
            }
        }
    }
}

/// Q6_K: 16 × 16 sub-blocks, 6-bit levels with int8 scales from `make_qx_quants`.
pub fn q6_k(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src
        .chunks_exact(QK_K)
        .zip(dst.chunks_exact_mut(q6_k::BYTES))
    {
        y.fill(0);
        let mut l = [0i8; QK_K];
        let mut scales = [0f32; 16];
        let (mut max_scale, mut max_abs_scale) = (0f32, 0f32);
        for ib in 0..16 {
            let s = make_qx_quants(32, &x[16 * ib..16 * ib + 16], &mut l[16 * ib..16 * ib + 16]);
            scales[ib] = s;
            if s.abs() > max_abs_scale {
                max_abs_scale = s.abs();
                max_scale = s;
            }
        }
        if max_abs_scale < GROUP_MAX_EPS {
            continue; // all-zero block: every byte 0, d = +0
        }
        let iscale = -128.0 / max_scale;
        put_f16(y, q6_k::D, 1.0 / iscale);
        for ib in 0..16 {
            y[q6_k::SCALES + ib] = nearest_int(iscale * scales[ib]).min(127) as i8 as u8;
        }
        let d_all = f16_at(y, q6_k::D);
        for j in 0..16 {
            let d = d_all * (y[q6_k::SCALES + j] as i8) as f32;
            if d == 0.0 {
                continue;
            }
            for ii in 0..16 {
                let q = nearest_int(x[16 * j + ii] / d).clamp(-32, 31);
                l[16 * j + ii] = (q + 32) as i8;
            }
        }
        for n in 0..2 {
            let (ql, qh) = (64 * n, q6_k::QH + 32 * n);
            let lb = &l[128 * n..128 * n + 128];
            for i in 0..32 {
                let q1 = lb[i] as u8 & 0xF;
                let q2 = lb[i + 32] as u8 & 0xF;
                let q3 = lb[i + 64] as u8 & 0xF;
                let q4 = lb[i + 96] as u8 & 0xF;
                y[ql + i] = q1 | (q3 << 4);
                y[ql + i + 32] = q2 | (q4 << 4);
                y[qh + i] = (lb[i] as u8 >> 4)
                    | ((lb[i + 32] as u8 >> 4) << 2)
                    | ((lb[i + 64] as u8 >> 4) << 4)
                    | ((lb[i + 96] as u8 >> 4) << 6);
            }
        }
    }
}
