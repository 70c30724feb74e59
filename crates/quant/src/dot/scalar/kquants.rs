//! Scalar references for the k-quants × Q8_K (Q2_K … Q6_K), transcribing ggml's generic
//! `ggml_vec_dot_q*_K_q8_K` including its 8-lane float accumulation for Q3_K … Q6_K.

use crate::dot::bytes::{f16_at, f32_at, i16_at, i8_at, q8k};
use crate::dot::unpack::{q3_k_scales, q4_k_scales_mins};
use pine_gguf::QK_K;

/// Q2_K × Q8_K: 2-bit quants with 4-bit scale and 4-bit min per 16 elements.
pub(crate) fn q2_k(w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(84).zip(a.chunks_exact(q8k::BYTES)) {
        let sc = &x[0..16];
        let summs: i32 = (0..16)
            .map(|j| i32::from(i16_at(y, q8k::BSUMS + 2 * j)) * i32::from(sc[j] >> 4))
            .sum();
        let dall = f32_at(y, 0) * f16_at(x, 80);
        let dmin = f32_at(y, 0) * f16_at(x, 82);
        let mut isum = 0i32;
        let mut is = 0;
        let mut q8 = q8k::QS;
        for k in 0..QK_K / 128 {
            let q2 = &x[16 + 32 * k..16 + 32 * k + 32];
            for shift in [0, 2, 4, 6] {
                for half in 0..2 {
                    let d = i32::from(sc[is] & 15);
                    is += 1;
                    let l0 = 16 * half;
                    let isuml: i32 = (l0..l0 + 16)
                        .map(|l| i8_at(y, q8 + l) * i32::from((q2[l] >> shift) & 3))
                        .sum();
                    isum += d * isuml;
                }
                q8 += 32;
            }
        }
        sumf += dall * isum as f32 - dmin * summs as f32;
    }
    sumf
}

/// Accumulates `scale * q8 * q` over 16 elements into ggml's eight int lanes.
#[inline(always)]
fn lanes16(aux32: &mut [i32; 8], scale: i32, q8: &[u8], q: &[i8]) {
    for l in 0..16 {
        aux32[l % 8] += scale * (i32::from(q8[l] as i8) * i32::from(q[l]));
    }
}

/// Q3_K × Q8_K: 2 low bits + inverted high bit (−4), 6-bit scales offset by 32.
pub(crate) fn q3_k(w: &[u8], a: &[u8]) -> f32 {
    let mut sums = [0.0f32; 8];
    for (x, y) in w.chunks_exact(110).zip(a.chunks_exact(q8k::BYTES)) {
        let (hm, q3) = (&x[0..32], &x[32..96]);
        let mut aux8 = [0i8; QK_K];
        let mut m = 1u8;
        for (j, chunk) in aux8.chunks_exact_mut(128).enumerate() {
            for (s, part) in chunk.chunks_exact_mut(32).enumerate() {
                for l in 0..32 {
                    let v = ((q3[32 * j + l] >> (2 * s)) & 3) as i8;
                    part[l] = v - if hm[l] & m != 0 { 0 } else { 4 };
                }
                m <<= 1;
            }
        }
        let scales = q3_k_scales(&x[96..108]);
        let mut aux32 = [0i32; 8];
        for j in 0..QK_K / 16 {
            let o = 16 * j;
            let s = i32::from(scales[j]) - 32;
            lanes16(&mut aux32, s, &y[q8k::QS + o..], &aux8[o..o + 16]);
        }
        let d = f16_at(x, 108) * f32_at(y, 0);
        for l in 0..8 {
            sums[l] += d * aux32[l] as f32;
        }
    }
    sums.iter().fold(0.0, |s, v| s + v)
}

/// Q4_K and Q5_K share everything but the high bit; `qh` is `Some((offset of qh))` for Q5_K.
fn q45_k(w: &[u8], a: &[u8], bytes: usize, qh_qs: Option<(usize, usize)>) -> f32 {
    let mut sums = [0.0f32; 8];
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(bytes).zip(a.chunks_exact(q8k::BYTES)) {
        let qs_off = qh_qs.map_or(16, |(_, qs)| qs);
        let mut aux8 = [0i8; QK_K];
        for j in 0..QK_K / 64 {
            for l in 0..32 {
                let q = x[qs_off + 32 * j + l];
                aux8[64 * j + l] = (q & 15) as i8;
                aux8[64 * j + 32 + l] = (q >> 4) as i8;
            }
        }
        if let Some((qh, _)) = qh_qs {
            for (k, chunk) in aux8.chunks_exact_mut(32).enumerate() {
                for (l, v) in chunk.iter_mut().enumerate() {
                    if x[qh + l] & (1 << k) != 0 {
                        *v += 16;
                    }
                }
            }
        }
        let (scales, mins) = q4_k_scales_mins(&x[4..16]);
        let sumi: i32 = (0..16)
            .map(|j| i32::from(i16_at(y, q8k::BSUMS + 2 * j)) * i32::from(mins[j / 2]))
            .sum();
        let mut aux32 = [0i32; 8];
        for j in 0..QK_K / 32 {
            let s = i32::from(scales[j]);
            for h in 0..2 {
                let o = 32 * j + 16 * h;
                lanes16(&mut aux32, s, &y[q8k::QS + o..], &aux8[o..o + 16]);
            }
        }
        let d = f16_at(x, 0) * f32_at(y, 0);
        for l in 0..8 {
            sums[l] += d * aux32[l] as f32;
        }
        let dmin = f16_at(x, 2) * f32_at(y, 0);
        sumf -= dmin * sumi as f32;
    }
    sums.iter().fold(sumf, |s, v| s + v)
}

/// Q4_K × Q8_K: 4-bit quants, 6-bit scales and mins per 32 elements.
pub(crate) fn q4_k(w: &[u8], a: &[u8]) -> f32 {
    q45_k(w, a, 144, None)
}

/// Q5_K × Q8_K: Q4_K plus a fifth bit from `qh`.
pub(crate) fn q5_k(w: &[u8], a: &[u8]) -> f32 {
    q45_k(w, a, 176, Some((16, 48)))
}

/// Q6_K × Q8_K: 4 low + 2 high bits, offset 32, signed 8-bit scales per 16 elements.
pub(crate) fn q6_k(w: &[u8], a: &[u8]) -> f32 {
    let mut sums = [0.0f32; 8];
    for (x, y) in w.chunks_exact(210).zip(a.chunks_exact(q8k::BYTES)) {
        let mut aux8 = [0i8; QK_K];
        for h in 0..2 {
            let (ql, qh) = (&x[64 * h..64 * h + 64], &x[128 + 32 * h..128 + 32 * h + 32]);
            let a8 = &mut aux8[128 * h..128 * h + 128];
            for l in 0..32 {
                a8[l] = ((ql[l] & 15) | ((qh[l] & 3) << 4)) as i8 - 32;
                a8[l + 32] = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
                a8[l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
                a8[l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
            }
        }
        let mut aux32 = [0i32; 8];
        for j in 0..QK_K / 16 {
            let o = 16 * j;
            let s = i8_at(x, 192 + j);
            lanes16(&mut aux32, s, &y[q8k::QS + o..], &aux8[o..o + 16]);
        }
        let d = f16_at(x, 208) * f32_at(y, 0);
        for l in 0..8 {
            sums[l] += d * aux32[l] as f32;
        }
    }
    sums.iter().fold(0.0, |s, v| s + v)
}
