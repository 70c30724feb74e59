//! AVX2 kernels for Q4_K, Q6_K and IQ4_XS × Q8_K. The integer sum of a super-block is exact;
//! Q4_K's and Q6_K's are scaled and accumulated in eight f32 lanes with FMA (ggml's x86
//! scheme), so totals differ from the scalar reference by float rounding only; IQ4_XS keeps the
//! scalar kernel's order.

use crate::blocks::tables::KVALUES_IQ4NL;
use crate::dot::bytes::{f32_at, i16_at, q8k};
use crate::dot::unpack::q4_k_scales_mins;
use crate::dot::x86::prims::{f16_at, hsum_epi32, hsum_ps, nibbles32};
use std::arch::x86_64::*;

/// Q4_K × Q8_K.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q4_k(w: &[u8], a: &[u8]) -> f32 {
    let nb = (w.len() / 144).min(a.len() / q8k::BYTES);
    let m4 = _mm256_set1_epi8(0x0f);
    let mut acc = _mm256_setzero_ps();
    let mut mins = 0.0f32;
    for i in 0..nb {
        let (x, y) = (
            &w[i * 144..(i + 1) * 144],
            &a[i * q8k::BYTES..(i + 1) * q8k::BYTES],
        );
        let (sc, mn) = q4_k_scales_mins(&x[4..16]);
        let msum: i32 = (0..16)
            .map(|j| i32::from(i16_at(y, q8k::BSUMS + 2 * j)) * i32::from(mn[j / 2]))
            .sum();
        mins += f16_at(x, 2) * f32_at(y, 0) * msum as f32;
        let (xp, yp) = (x.as_ptr().add(16), y.as_ptr().add(q8k::QS));
        let mut sumi = _mm256_setzero_si256();
        for j in 0..4 {
            let q4 = _mm256_loadu_si256(xp.add(32 * j).cast());
            let lo = _mm256_and_si256(q4, m4);
            let hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            let ylo = _mm256_loadu_si256(yp.add(64 * j).cast());
            let yhi = _mm256_loadu_si256(yp.add(64 * j + 32).cast());
            let slo = _mm256_set1_epi16(i16::from(sc[2 * j]));
            let shi = _mm256_set1_epi16(i16::from(sc[2 * j + 1]));
            let plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, ylo), slo);
            let phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, yhi), shi);
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
        }
        let d = _mm256_set1_ps(f16_at(x, 0) * f32_at(y, 0));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_ps(acc) - mins
}

/// Q6_K × Q8_K: values 0..63 go through maddubs unsigned; the −32 offset is subtracted as
/// `32·sum(y)` in 16-bit lanes (ggml's trick), then scaled per 16 elements.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q6_k(w: &[u8], a: &[u8]) -> f32 {
    let nb = (w.len() / 210).min(a.len() / q8k::BYTES);
    let m4 = _mm256_set1_epi8(0x0f);
    let m3 = _mm256_set1_epi8(3);
    let m32 = _mm256_set1_epi8(32);
    let mut acc = _mm256_setzero_ps();
    for i in 0..nb {
        let (x, y) = (
            &w[i * 210..(i + 1) * 210],
            &a[i * q8k::BYTES..(i + 1) * q8k::BYTES],
        );
        let (xp, yp) = (x.as_ptr(), y.as_ptr().add(q8k::QS));
        let sc = &x[192..208];
        let mut sumi = _mm256_setzero_si256();
        for h in 0..2 {
            let qa = _mm256_loadu_si256(xp.add(64 * h).cast());
            let qb = _mm256_loadu_si256(xp.add(64 * h + 32).cast());
            let qh = _mm256_loadu_si256(xp.add(128 + 32 * h).cast());
            let hbits = |s: i32| {
                let v = match s {
                    0 => qh,
                    2 => _mm256_srli_epi16(qh, 2),
                    4 => _mm256_srli_epi16(qh, 4),
                    _ => _mm256_srli_epi16(qh, 6),
                };
                _mm256_slli_epi16(_mm256_and_si256(v, m3), 4)
            };
            let e = [
                _mm256_or_si256(_mm256_and_si256(qa, m4), hbits(0)),
                _mm256_or_si256(_mm256_and_si256(qb, m4), hbits(2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qa, 4), m4), hbits(4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qb, 4), m4), hbits(6)),
            ];
            for (k, ek) in e.iter().enumerate() {
                let yk = _mm256_loadu_si256(yp.add(128 * h + 32 * k).cast());
                let p =
                    _mm256_sub_epi16(_mm256_maddubs_epi16(*ek, yk), _mm256_maddubs_epi16(m32, yk));
                let is = 8 * h + 2 * k;
                let scale = _mm256_set_m128i(
                    _mm_set1_epi16(i16::from(sc[is + 1] as i8)),
                    _mm_set1_epi16(i16::from(sc[is] as i8)),
                );
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scale));
            }
        }
        let d = _mm256_set1_ps(f16_at(x, 208) * f32_at(y, 0));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_ps(acc)
}

/// IQ4_XS × Q8_K in the scalar kernel's float order (`scalar::iquants::iq4_xs`, ggml's generic
/// code, which the Vulkan shaders follow too), bit for bit: per 32 values the exact integer
/// sum, the nibbles indexing `kvalues_iq4nl` with one byte shuffle and the signed products
/// summed by the sign trick (Q8_K's quants are within ±127, so no 16-bit pair overflows); then
/// `sumf += d·d8·(ls − 32) · sumi`.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn iq4_xs(w: &[u8], a: &[u8]) -> f32 {
    let nb = (w.len() / 136).min(a.len() / q8k::BYTES);
    let t = _mm_loadu_si128(KVALUES_IQ4NL.as_ptr().cast());
    let table = _mm256_set_m128i(t, t);
    let ones = _mm256_set1_epi16(1);
    let mut sumf = 0.0f32;
    for i in 0..nb {
        let (x, y) = (
            &w[i * 136..(i + 1) * 136],
            &a[i * q8k::BYTES..(i + 1) * q8k::BYTES],
        );
        let d4d8 = f16_at(x, 0) * f32_at(y, 0);
        let h = u16::from_le_bytes([x[2], x[3]]);
        let (xp, yp) = (x.as_ptr().add(8), y.as_ptr().add(q8k::QS));
        for s in 0..8 {
            let ls = ((x[4 + s / 2] >> (4 * (s % 2))) & 15) | ((((h >> (2 * s)) & 3) as u8) << 4);
            let q = _mm256_shuffle_epi8(table, nibbles32(xp.add(16 * s)));
            let ys = _mm256_loadu_si256(yp.add(32 * s).cast());
            let p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(ys, q));
            let sumi = hsum_epi32(_mm256_madd_epi16(p, ones));
            let dk = d4d8 * (i32::from(ls) - 32) as f32;
            sumf += dk * sumi as f32;
        }
    }
    sumf
}
