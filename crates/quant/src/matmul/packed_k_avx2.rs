//! 256-bit kernels of the packed k-quant layout (`packed_k`) for CPUs without AVX-512 (laptops
//! and desktops with AVX2, with or without AVX-VNNI): each 16-row group runs as two halves of
//! eight rows, one row per register lane, with `packed_k_avx512`'s steps and so the plain
//! twin's float order. The integer sums use `maddubs` + `madd` (exact: the quants are at most
//! 63, so no pair of products saturates an i16; hence no AVX2 form for IQ4_XS, whose codebook
//! bytes reach 241) or AVX-VNNI's `vpdpbusd`. No tile path: prefill
//! unpacks each group block once per two activation rows.

use std::arch::x86_64::*;

use super::packed::{piece, prefetch_ahead, prefetch_part, Acts, GroupKernels, GROUP};
use super::packed_avx2::{dp_avx2, dp_avxvnni};
use super::packed_k::{KActBlock, KType, LUT, TIQ4XS, TQ2K, TQ3K, TQ4K, TQ5K, TQ6K};

/// Rows per half group: the f32 lanes of a 256-bit register.
const HALF: usize = GROUP / 2;

/// Instantiates the kernels for one instruction set; `$dp(seed, u, y)` adds the four-byte
/// products of unsigned `u` and signed `y` per lane onto `seed`.
macro_rules! packed_k {
    ($feat:literal, $dp:path) => {
        use super::*;

        /// `v` shifted left by `n` bits (right for negative `n`) in 16-bit lanes.
        ///
        /// # Safety
        /// AVX2 must be present. Inlined into `run`, whose features its intrinsics need.
        #[inline(always)]
        unsafe fn shift16(v: __m256i, n: i32) -> __m256i {
            if n >= 0 {
                _mm256_sll_epi16(v, _mm_cvtsi32_si128(n))
            } else {
                _mm256_srl_epi16(v, _mm_cvtsi32_si128(-n))
            }
        }

        /// Half `h`'s registers of sub-block `s` of the group block at `p`: register `c`
        /// holds dword `c` of the eight rows, as unsigned bytes.
        ///
        /// # Safety
        /// `p` must hold a group block of `T`; AVX2 must be present. Inlined into `run`.
        #[inline(always)]
        unsafe fn unpack<T: KType>(p: *const u8, s: usize, h: usize) -> [__m256i; 8] {
            let kk = T::KK;
            let mut u = [_mm256_setzero_si256(); 8];
            let low = _mm256_set1_epi8(((1 << kk.lbits) - 1) as i8);
            let himask = _mm256_set1_epi8((((1 << kk.hbits) - 1) << kk.lbits) as i8);
            for (c, uc) in u.iter_mut().enumerate().take(kk.dwords()) {
                let (at, lbit) = kk.lo_chunk(s, c);
                let v = _mm256_loadu_si256(p.add(at + 32 * h).cast());
                let nib = if lbit == 0 {
                    v
                } else {
                    shift16(v, -(lbit as i32))
                };
                let nib = _mm256_and_si256(nib, low);
                *uc = if kk.lut {
                    let lut = _mm_loadu_si128(LUT.as_ptr().cast());
                    _mm256_shuffle_epi8(_mm256_set_m128i(lut, lut), nib)
                } else if kk.hbits == 0 {
                    nib
                } else {
                    let (at, bit) = kk.hi_chunk(s, c);
                    let hb = _mm256_loadu_si256(p.add(at + 32 * h).cast());
                    let hb = _mm256_and_si256(shift16(hb, kk.lbits as i32 - bit as i32), himask);
                    _mm256_or_si256(nib, hb)
                };
            }
            u
        }

        /// Group `w` (`nb` group blocks of `T`) against `NA ≤ 2` activation rows (two keep
        /// the sixteen registers), asking the cache for `ahead` a few lines per block and,
        /// where `ASK` (decode), for the stream ahead.
        ///
        /// # Safety
        /// The CPU must have the features of `$feat`; `w` must hold `nb` group blocks and every
        /// `extras[j]` `nb` activation blocks; `y + j · stride` must be writable for 16 floats
        /// for every row `j`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn run<T: KType, const NA: usize, const ASK: bool>(
            w: *const u8,
            nb: usize,
            extras: [*const KActBlock; NA],
            y: *mut f32,
            stride: usize,
            ahead: &[u8],
        ) {
            let kk = T::KK;
            let gb = kk.group_block();
            for h in 0..2 {
                let mut acc = [_mm256_setzero_ps(); NA];
                for b in 0..nb {
                    let p = w.add(b * gb);
                    if h == 0 {
                        prefetch_part(ahead, b, nb);
                    }
                    let d = _mm256_cvtph_ps(_mm_loadu_si128(p.add(2 * HALF * h).cast()));
                    let mut t = [_mm256_setzero_ps(); NA];
                    // Q2_K/Q3_K/Q6_K: the first sub-block's term of each pair.
                    let mut x = [_mm256_setzero_ps(); NA];
                    // Sub-block `s` against the rows: Q4_K/Q5_K `t[j] = fma(d·sc_s·da, i_s,
                    // t[j])`; the pairs' types even `s` `x[j] = d·sc_s·i_s`, odd `s`
                    // `t[j] = fma(fma(d·sc_s, i_s, x[j]), da, t[j])` (`packed_k`'s order; four
                    // registers of quants).
                    let mut sub = |s: usize| {
                        if s >= kk.subs() {
                            return;
                        }
                        let u = unpack::<T>(p, s, h);
                        let sc = _mm_loadl_epi64(p.add(kk.sc_at() + GROUP * s + HALF * h).cast());
                        let sc = if !kk.min {
                            _mm256_cvtepi8_epi32(sc)
                        } else if kk.nib {
                            _mm256_and_si256(_mm256_cvtepu8_epi32(sc), _mm256_set1_epi32(15))
                        } else {
                            _mm256_cvtepu8_epi32(sc)
                        };
                        let ds = _mm256_mul_ps(d, _mm256_cvtepi32_ps(sc));
                        for j in 0..NA {
                            let e = &*extras[j].add(b);
                            let da = _mm256_set1_ps(e.d[s * kk.sb / 32]);
                            let w = _mm256_mul_ps(ds, da);
                            let a = e.qs.as_ptr().add(s * kk.sb);
                            let mut i = _mm256_set1_epi32(e.seed(&kk, s));
                            for (c, uc) in u.iter().enumerate().take(kk.dwords()) {
                                let ac = a.add(4 * c).cast::<i32>().read_unaligned();
                                i = $dp(i, *uc, _mm256_set1_epi32(ac));
                            }
                            let fi = _mm256_cvtepi32_ps(i);
                            if !kk.pairs() {
                                t[j] = _mm256_fmadd_ps(w, fi, t[j]);
                            } else if s.is_multiple_of(2) {
                                x[j] = _mm256_mul_ps(ds, fi);
                            } else {
                                let xs = _mm256_fmadd_ps(ds, fi, x[j]);
                                t[j] = _mm256_fmadd_ps(xs, da, t[j]);
                            }
                        }
                    };
                    if kk.hbits > 0 || kk.lbits != 4 {
                        // Decode: the stream ahead in one burst per block (in parts, as below,
                        // Q6_K lost 20 % here on Zen 5).
                        if ASK && h == 0 {
                            prefetch_ahead(p, gb, 0, 1);
                        }
                        // Constant indices, so that the bits' shifts take immediates.
                        (
                            sub(0),
                            sub(1),
                            sub(2),
                            sub(3),
                            sub(4),
                            sub(5),
                            sub(6),
                            sub(7),
                        );
                        (
                            sub(8),
                            sub(9),
                            sub(10),
                            sub(11),
                            sub(12),
                            sub(13),
                            sub(14),
                            sub(15),
                        );
                    } else {
                        // Decode asks for the stream ahead in parts, one per sub-block
                        // (Zen 5, Q4_K from memory, 1 thread: +20 %).
                        (0..kk.subs()).for_each(|s| {
                            if ASK && h == 0 {
                                prefetch_ahead(p, gb, s, kk.subs());
                            }
                            sub(s)
                        });
                    }
                    if kk.min {
                        let dmin = p.add(2 * GROUP + 2 * HALF * h);
                        let dmin = _mm256_cvtph_ps(_mm_loadu_si128(dmin.cast()));
                        let m_of = |s: usize| {
                            let at = kk.mn_at() + GROUP * s + HALF * h;
                            let ms = _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.add(at).cast()));
                            let ms = if kk.nib { _mm256_srli_epi32(ms, 4) } else { ms };
                            _mm256_cvtepi32_ps(ms)
                        };
                        // Q4_K/Q5_K: the eight mins converted once; Q2_K: each of its sixteen
                        // where it is used (an array of 16 registers spills).
                        let m: [__m256; 8] = std::array::from_fn(|s| {
                            if kk.subs() == 8 {
                                m_of(s)
                            } else {
                                _mm256_setzero_ps()
                            }
                        });
                        for j in 0..NA {
                            let e = &*extras[j].add(b);
                            let fs = if kk.pairs() { &e.fs16[..] } else { &e.fs[..] };
                            let mut mn = _mm256_setzero_ps();
                            for (s, &f) in fs.iter().enumerate().take(kk.subs()) {
                                let ms = if kk.subs() == 8 { m[s] } else { m_of(s) };
                                mn = _mm256_fmadd_ps(ms, _mm256_set1_ps(f), mn);
                            }
                            t[j] = _mm256_fnmadd_ps(dmin, mn, t[j]);
                        }
                    }
                    for j in 0..NA {
                        acc[j] = _mm256_add_ps(acc[j], t[j]);
                    }
                }
                for (j, a) in acc.iter().enumerate() {
                    _mm256_storeu_ps(y.add(j * stride + HALF * h), *a);
                }
            }
        }

        /// The group against `M` activation rows (two at a time), lengths checked, asking the
        /// cache for `ahead`.
        fn group<T: KType, const M: usize, const ASK: bool>(
            w: &[u8],
            nb: usize,
            acts: Acts<'_>,
            y: &mut [f32],
            stride: usize,
            ahead: &[u8],
        ) {
            assert!(w.len() >= nb * T::KK.group_block());
            assert!(acts.kblocks.len() >= M * nb);
            assert!(stride >= GROUP && y.len() >= (M - 1) * stride + GROUP);
            let e = |j: usize| acts.kblocks.as_ptr().wrapping_add(j * nb);
            let y = y.as_mut_ptr();
            for j in (0..M).step_by(2) {
                // SAFETY: handed out by `detect` only after the features were detected; the
                // checks bound every read and write.
                unsafe {
                    let yj = y.add(j * stride);
                    let part = piece(ahead, j / 2, M.div_ceil(2));
                    if j + 2 <= M {
                        run::<T, 2, false>(w.as_ptr(), nb, [e(j), e(j + 1)], yj, stride, part);
                    } else {
                        run::<T, 1, ASK>(w.as_ptr(), nb, [e(j)], yj, stride, part);
                    }
                }
            }
        }

        /// Decode: the group against one activation row, asking for the stream ahead.
        fn one<T: KType>(w: &[u8], nb: usize, acts: Acts<'_>, y: &mut [f32], stride: usize) {
            group::<T, 1, true>(w, nb, acts, y, stride, &[])
        }

        /// The group, in cache, against one activation row: without the requests.
        fn row<T: KType>(w: &[u8], nb: usize, acts: Acts<'_>, y: &mut [f32], stride: usize) {
            group::<T, 1, false>(w, nb, acts, y, stride, &[])
        }

        /// The entries of type `T`.
        pub(super) fn kernels<T: KType>() -> GroupKernels {
            GroupKernels {
                one: one::<T>,
                row: row::<T>,
                eight: group::<T, 8, false>,
                tile: None,
            }
        }
    };
}

mod avx2 {
    packed_k!("avx2,fma,f16c", super::dp_avx2);
}

mod avxvnni {
    packed_k!("avx2,fma,f16c,avxvnni", super::dp_avxvnni);
}

/// The kernels of `ty` in the form `form` builds, `None` for other types.
fn of_type(
    ty: pine_gguf::GgmlType,
    form: fn() -> [Option<GroupKernels>; 6],
) -> Option<GroupKernels> {
    use pine_gguf::GgmlType as T;
    let [q2, q3, q4, q5, q6, iq4xs] = form();
    match ty {
        T::Q2_K => q2,
        T::Q3_K => q3,
        T::Q4_K => q4,
        T::Q5_K => q5,
        T::Q6_K => q6,
        T::IQ4_XS => iq4xs,
        _ => None,
    }
}

/// The AVX2 form's kernels: not IQ4_XS, whose unsigned codebook bytes (up to 241) would
/// overflow `maddubs`'s 16-bit pair sums.
fn avx2_form() -> [Option<GroupKernels>; 6] {
    [
        Some(avx2::kernels::<TQ2K>()),
        Some(avx2::kernels::<TQ3K>()),
        Some(avx2::kernels::<TQ4K>()),
        Some(avx2::kernels::<TQ5K>()),
        Some(avx2::kernels::<TQ6K>()),
        None,
    ]
}

/// The AVX-VNNI form's kernels of the six types.
fn avxvnni_form() -> [Option<GroupKernels>; 6] {
    [
        Some(avxvnni::kernels::<TQ2K>()),
        Some(avxvnni::kernels::<TQ3K>()),
        Some(avxvnni::kernels::<TQ4K>()),
        Some(avxvnni::kernels::<TQ5K>()),
        Some(avxvnni::kernels::<TQ6K>()),
        Some(avxvnni::kernels::<TIQ4XS>()),
    ]
}

/// Whether this CPU has AVX2, FMA and F16C.
fn has_avx2() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

/// The 256-bit packed k-quant kernels for `ty` when this CPU has AVX2, FMA and F16C (with
/// AVX-VNNI's `vpdpbusd` where it has that).
pub(super) fn detect(ty: pine_gguf::GgmlType) -> Option<GroupKernels> {
    if !has_avx2() {
        return None;
    }
    if is_x86_feature_detected!("avxvnni") {
        of_type(ty, avxvnni_form)
    } else {
        of_type(ty, avx2_form)
    }
}

/// Every instruction-set form this CPU has, for tests.
#[cfg(test)]
pub(super) fn all_forms(ty: pine_gguf::GgmlType) -> Vec<GroupKernels> {
    let mut v = Vec::new();
    if has_avx2() {
        v.extend(of_type(ty, avx2_form));
        if is_x86_feature_detected!("avxvnni") {
            v.extend(of_type(ty, avxvnni_form));
        }
    }
    v
}
