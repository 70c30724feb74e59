//! AVX-512 prefill micro-kernels: the float order of `tile_x86` (and so of the per-pair
//! kernels) bit for bit, with two (weight row, activation row) pairs per 512-bit register.
//!
//! The 256-bit kernels spend most of their time on float work — per pair and block one convert,
//! one multiply and one FMA on an eight-lane accumulator — and 256-bit float instructions issue
//! on fewer ports than the same count of 512-bit ones carries lanes. Here a zmm holds the
//! eight lanes of pair `(i, j)` in its low half and of pair `(i, j+1)` in its high half: the
//! weight row's 32 unsigned bytes are broadcast to both halves, activation rows `j, j+1` are
//! adjacent in the panel (one 64-byte load), `dx` is broadcast and `dy` is spread half by half.
//! Every lane sees exactly the operations of the 256-bit kernel: `vpdpbusd` seeded with
//! `−c·Σy`, convert, `d = dx·dy`, `acc = fma(d, sum, acc)`; the Q4_1/Q5_1 min term and the final
//! `hsum + extra` are the same code.

use std::arch::x86_64::*;

use super::tile_x86::{f16_at, Format, PrefillFn, NR};
use super::tile_x86::{IQ4_NL, Q4_1, Q5_0, Q5_1, Q8_0};
use crate::blocks::tables::KVALUES_IQ4NL;
use crate::dot::x86::prims::{bytes_from_bits32, hsum_ps, nibbles32};

/// Weight rows per micro-kernel call: `MR × NR/2` accumulators plus the operands fit the 32
/// zmm registers.
pub(super) const MR: usize = 6;

/// Activation-row pairs per panel.
const H: usize = NR / 2;

/// Loads 16 packed nibble bytes at `p` as the 32 block bytes (low nibbles, then high nibbles),
/// repeated in both 256-bit halves.
///
/// # Safety
/// `p` must be valid for reading 16 bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
unsafe fn nibbles64(p: *const u8) -> __m512i {
    let q = _mm512_broadcast_i32x4(_mm_loadu_si128(p.cast()));
    let hi_lanes: __mmask32 = 0xff00_ff00;
    let q = _mm512_mask_srli_epi16(q, hi_lanes, q, 4);
    _mm512_and_si512(q, _mm512_set1_epi8(0x0f))
}

/// The shared micro-kernel; `ux(block)` builds the 32 unsigned weight bytes in both halves.
///
/// # Safety
/// `w` must hold `M` rows of stride `rb`, each `nb` blocks of `fmt.wb` bytes; `pan` must hold
/// `nb` packed blocks.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
unsafe fn run<const M: usize>(
    w: *const u8,
    rb: usize,
    pan: *const u8,
    nb: usize,
    fmt: Format,
    ux: impl Fn(*const u8) -> __m512i,
) -> [[f32; NR]; M] {
    let pb = fmt.panel_block();
    let has_c = fmt.c != 0;
    let doff = NR * 32 + if has_c { NR * 32 } else { 0 };
    // Lanes 0..8 take `dy` of panel row 2h, lanes 8..16 that of row 2h + 1.
    let mut spread = [_mm512_setzero_si512(); H];
    for (h, s) in spread.iter_mut().enumerate() {
        let j = 2 * h as i32;
        *s = _mm512_mask_blend_epi32(0xff00, _mm512_set1_epi32(j), _mm512_set1_epi32(j + 1));
    }
    let mut acc = [[_mm512_setzero_ps(); H]; M];
    let mut ext = [_mm_setzero_ps(); M];
    for b in 0..nb {
        let p = pan.add(b * pb);
        let dys = _mm512_castps128_ps512(_mm_loadu_ps(p.add(doff).cast()));
        let mut y = [_mm512_setzero_si512(); H];
        let mut seed = [_mm512_setzero_si512(); H];
        let mut dy = [_mm512_setzero_ps(); H];
        for (h, ((yh, sh), dh)) in y.iter_mut().zip(&mut seed).zip(&mut dy).enumerate() {
            *yh = _mm512_loadu_si512(p.add(64 * h).cast());
            if has_c {
                *sh = _mm512_loadu_si512(p.add(NR * 32 + 64 * h).cast());
            }
            *dh = _mm512_permutexvar_ps(spread[h], dys);
        }
        for (i, acc_i) in acc.iter_mut().enumerate() {
            let x = w.add(i * rb + b * fmt.wb);
            let u = ux(x);
            let dx = _mm512_set1_ps(f16_at(x));
            for (h, a) in acc_i.iter_mut().enumerate() {
                let s = _mm512_dpbusd_epi32(seed[h], u, y[h]);
                let d = _mm512_mul_ps(dx, dy[h]);
                *a = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(s), *a);
            }
        }
        if fmt.q81 {
            let sy = _mm_loadu_ps(p.add(doff + NR * 4).cast());
            for (i, e) in ext.iter_mut().enumerate() {
                let mx = _mm_set1_ps(f16_at(w.add(i * rb + b * fmt.wb + 2)));
                *e = _mm_fmadd_ps(mx, sy, *e);
            }
        }
    }
    let mut out = [[0.0f32; NR]; M];
    for ((o, acc_i), ext_i) in out.iter_mut().zip(&acc).zip(&ext) {
        let mut e = [0.0f32; NR];
        _mm_storeu_ps(e.as_mut_ptr(), *ext_i);
        for (h, a) in acc_i.iter().enumerate() {
            let lo = _mm512_castps512_ps256(*a);
            let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(*a), 1));
            o[2 * h] = hsum_ps(lo) + e[2 * h];
            o[2 * h + 1] = hsum_ps(hi) + e[2 * h + 1];
        }
    }
    out
}

/// Instantiates the safe prefill entry of one type.
macro_rules! ty {
    ($name:ident, $fmt:expr, $ux:expr) => {
        mod $name {
            use super::*;

            #[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
            unsafe fn kern<const M: usize>(
                w: *const u8,
                rb: usize,
                pan: *const u8,
                nb: usize,
            ) -> [[f32; NR]; M] {
                run::<M>(w, rb, pan, nb, $fmt, $ux)
            }

            /// `M` weight rows from the start of `w` against the panel, lengths checked.
            fn tile<const M: usize>(w: &[u8], rb: usize, pan: &[u8], nb: usize) -> [[f32; NR]; M] {
                let fmt: Format = $fmt;
                assert!(nb * fmt.wb <= rb && (M - 1) * rb + nb * fmt.wb <= w.len());
                assert!(nb * fmt.panel_block() <= pan.len());
                // SAFETY: `prefill` is handed out only after the features were detected; the
                // asserts bound every read.
                unsafe { kern::<M>(w.as_ptr(), rb, pan.as_ptr(), nb) }
            }

            /// Prefill over `out.len()` weight rows: `MR` rows per call, then one at a time.
            pub(super) fn prefill(
                w: &[u8],
                rb: usize,
                pan: &[u8],
                nb: usize,
                out: &mut [[f32; NR]],
            ) {
                let mut i = 0;
                while i + MR <= out.len() {
                    out[i..i + MR].copy_from_slice(&tile::<MR>(&w[i * rb..], rb, pan, nb));
                    i += MR;
                }
                for (k, o) in out.iter_mut().enumerate().skip(i) {
                    *o = tile::<1>(&w[k * rb..], rb, pan, nb)[0];
                }
            }
        }
    };
}

ty!(q4_1, Q4_1, |p: *const u8| nibbles64(p.add(4)));
ty!(q5_0, Q5_0, |p: *const u8| {
    let hi = _mm256_and_si256(bytes_from_bits32(p.add(2)), _mm256_set1_epi8(0x10));
    _mm512_broadcast_i64x4(_mm256_or_si256(nibbles32(p.add(6)), hi))
});
ty!(q5_1, Q5_1, |p: *const u8| {
    let hi = _mm256_and_si256(bytes_from_bits32(p.add(4)), _mm256_set1_epi8(0x10));
    _mm512_broadcast_i64x4(_mm256_or_si256(nibbles32(p.add(8)), hi))
});
ty!(q8_0, Q8_0, |p: *const u8| {
    let q = _mm512_broadcast_i64x4(_mm256_loadu_si256(p.add(2).cast()));
    _mm512_xor_si512(q, _mm512_set1_epi8(-128))
});
ty!(iq4_nl, IQ4_NL, |p: *const u8| {
    let table = _mm512_broadcast_i32x4(_mm_loadu_si128(KVALUES_IQ4NL.as_ptr().cast()));
    _mm512_xor_si512(
        _mm512_shuffle_epi8(table, nibbles64(p.add(2))),
        _mm512_set1_epi8(-128),
    )
});

/// Whether this CPU has every feature the 512-bit integer kernels enable (AVX-512 F/BW/VNNI
/// with AVX2, FMA and F16C).
pub(super) fn avx512_vnni() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vnni")
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

/// The AVX-512 prefill entry for `ty` (Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL) when this CPU has
/// AVX-512 F/BW/VNNI, else `None`.
pub(super) fn detect(ty: pine_gguf::GgmlType) -> Option<PrefillFn> {
    use pine_gguf::GgmlType as T;
    if !avx512_vnni() {
        return None;
    }
    match ty {
        T::Q4_1 => Some(q4_1::prefill),
        T::Q5_0 => Some(q5_0::prefill),
        T::Q5_1 => Some(q5_1::prefill),
        T::Q8_0 => Some(q8_0::prefill),
        T::IQ4_NL => Some(iq4_nl::prefill),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{detect, NR};
    use super::{IQ4_NL as IQ4_NL_FMT, Q4_1 as Q4_1_FMT};
    use super::{Q5_0 as Q5_0_FMT, Q5_1 as Q5_1_FMT, Q8_0 as Q8_0_FMT};
    use crate::activation::{activation_type, quantize_activation_row};
    use crate::dot::kernels;
    use crate::testutil::{random_activations, random_row};
    use rand::{rngs::StdRng, SeedableRng};

    /// Every panel position and every weight-row count around `MR` against the per-pair kernel
    /// whose float order the micro-kernel keeps, bit for bit.
    #[test]
    fn prefill_equals_the_per_pair_kernel() {
        use pine_gguf::GgmlType::*;
        let formats = [
            (Q4_1, Q4_1_FMT),
            (Q5_0, Q5_0_FMT),
            (Q5_1, Q5_1_FMT),
            (Q8_0, Q8_0_FMT),
            (IQ4_NL, IQ4_NL_FMT),
        ];
        for (seed, (ty, fmt)) in formats.into_iter().enumerate() {
            let Some(prefill) = detect(ty) else { return };
            if !matches!(kernels().isa(ty), Some("avx2" | "avxvnni" | "avx512vnni")) {
                continue;
            }
            let per_pair = kernels().get(ty).unwrap();
            let aty = activation_type(ty).unwrap();
            let mut rng = StdRng::seed_from_u64(seed as u64);
            for (rows, nb) in [(1, 1), (5, 3), (6, 8), (13, 18), (19, 48)] {
                let w: Vec<u8> = (0..rows)
                    .flat_map(|_| random_row(&mut rng, ty, nb))
                    .collect();
                let rb = w.len() / rows;
                for live in 1..=NR {
                    let x = random_activations(&mut rng, live * nb * 32);
                    let arow = nb * aty.block_bytes();
                    let mut act = vec![0u8; live * arow];
                    for (a, xr) in act.chunks_exact_mut(arow).zip(x.chunks_exact(nb * 32)) {
                        quantize_activation_row(aty, xr, a).unwrap();
                    }
                    let acts: Vec<&[u8]> = act.chunks_exact(arow).collect();
                    let mut pan = vec![0u8; nb * fmt.panel_block()];
                    fmt.pack(&acts, nb, &mut pan);
                    let mut out = vec![[0.0f32; NR]; rows];
                    prefill(&w, rb, &pan, nb, &mut out);
                    for (o, got) in out.iter().enumerate() {
                        for (j, a) in acts.iter().enumerate() {
                            let want = per_pair(&w[o * rb..(o + 1) * rb], a);
                            assert_eq!(
                                got[j].to_bits(),
                                want.to_bits(),
                                "{ty} {rows}×{nb} o={o} j={j}"
                            );
                        }
                    }
                }
            }
        }
    }
}
