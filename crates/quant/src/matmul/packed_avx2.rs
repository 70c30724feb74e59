//! 256-bit kernels of the packed layout (`packed`) for Q4_0 and Q5_0, for CPUs without AVX-512
//! (laptops and desktops with AVX2, with or without AVX-VNNI): each 16-row group runs as two
//! halves of eight rows, one row per register lane, in the block order: per block the exact
//! integer sums of the eight rows (`maddubs` + `madd`, exact for values below 128, or VEX
//! `vpdpbusd`) on the seed `−c·Σy`, then `acc = fma(dx·dy, sumi, acc)`. Q5_0's fifth bits come
//! from the half's 32 bits of each 64-bit mask, expanded to bytes.

use std::arch::x86_64::*;

use super::packed::{piece, prefetch_part, ActBlock, Acts, GroupKernels, Kind, GROUP, Q4_0, Q5_0};
use crate::dot::x86::prims::bytes_from_bits32;

/// Rows per half group: the f32 lanes of a 256-bit register.
const HALF: usize = GROUP / 2;

/// Instantiates the kernel for one instruction set; `$dp(seed, u, y)` adds the four-byte
/// products of unsigned `u` and signed `y` per lane onto `seed`.
macro_rules! packed_block_order {
    ($feat:literal, $dp:path) => {
        use super::*;

        /// The kind: Q5_0 when `HI`, else Q4_0.
        const fn kind_of<const HI: bool>() -> Kind {
            if HI {
                Q5_0
            } else {
                Q4_0
            }
        }

        /// Group `w` (Q5_0 when `HI`, else Q4_0) against `NA` activation rows (`NA ≤ 2` keeps
        /// the 16 registers), asking the cache for `ahead` a few lines per block.
        #[allow(clippy::too_many_arguments)]
        ///
        /// # Safety
        /// The CPU must have the features of `$feat`; `w` must hold `nb` group blocks, every
        /// `acts[j]` `nb` Q8_0 blocks and every `extras[j]` `nb` entries; `y + j · stride` must
        /// be writable for 16 floats for every row `j`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn run<const NA: usize, const HI: bool>(
            w: *const u8,
            nb: usize,
            acts: [*const u8; NA],
            extras: [*const ActBlock; NA],
            y: *mut f32,
            stride: usize,
            ahead: &[u8],
        ) {
            let kind: Kind = kind_of::<HI>();
            let gb = kind.group_block();
            let low = _mm256_set1_epi8(0x0f);
            let sixteen = _mm256_set1_epi8(16);
            for half in 0..2 {
                let mut acc = [_mm256_setzero_ps(); NA];
                for b in 0..nb {
                    let p = w.add(b * gb);
                    if half == 0 {
                        prefetch_part(ahead, b, nb);
                    }
                    let dx = _mm256_cvtph_ps(_mm_loadu_si128(p.add(2 * HALF * half).cast()));
                    let q = p.add(kind.chunks_at() + 32 * half);
                    let mut u = [_mm256_setzero_si256(); 8];
                    for c in 0..4 {
                        let v = _mm256_loadu_si256(q.add(64 * c).cast());
                        u[c] = _mm256_and_si256(v, low);
                        u[c + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
                    }
                    if HI {
                        for (l, ul) in u.iter_mut().enumerate() {
                            let m = p.add(kind.hi_at() + 8 * l + 4 * half);
                            let h = _mm256_and_si256(bytes_from_bits32(m), sixteen);
                            *ul = _mm256_or_si256(*ul, h);
                        }
                    }
                    for j in 0..NA {
                        let e = &*extras[j].add(b);
                        let y = acts[j].add(b * kind.ab + kind.act_qoff());
                        let mut s = [_mm256_set1_epi32(e.seed), _mm256_setzero_si256()];
                        for (l, ul) in u.iter().enumerate() {
                            let yl = _mm256_set1_epi32(y.add(4 * l).cast::<i32>().read_unaligned());
                            s[l % 2] = $dp(s[l % 2], *ul, yl);
                        }
                        let s = _mm256_add_epi32(s[0], s[1]);
                        let d = _mm256_mul_ps(dx, _mm256_set1_ps(e.dy));
                        acc[j] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc[j]);
                    }
                }
                for j in 0..NA {
                    _mm256_storeu_ps(y.add(j * stride + HALF * half), acc[j]);
                }
            }
        }

        /// The group against `M` activation rows (two at a time), lengths checked, asking
        /// the cache for `ahead`.
        pub(super) fn group<const M: usize, const HI: bool>(
            w: &[u8],
            nb: usize,
            acts: Acts<'_>,
            y: &mut [f32],
            stride: usize,
            ahead: &[u8],
        ) {
            let kind: Kind = kind_of::<HI>();
            assert!(w.len() >= nb * kind.group_block());
            acts.check(&kind, nb, M, y, stride);
            let a = |j: usize| acts.act.as_ptr().wrapping_add(j * nb * kind.ab);
            let e = |j: usize| acts.blocks.as_ptr().wrapping_add(j * nb);
            let y = y.as_mut_ptr();
            for j in (0..M).step_by(2) {
                // SAFETY: handed out by `detect` only after the features were detected; the
                // checks bound every read and write.
                unsafe {
                    let yj = y.add(j * stride);
                    let part = piece(ahead, j / 2, M.div_ceil(2));
                    if j + 2 <= M {
                        let (a, e) = ([a(j), a(j + 1)], [e(j), e(j + 1)]);
                        run::<2, HI>(w.as_ptr(), nb, a, e, yj, stride, part);
                    } else {
                        run::<1, HI>(w.as_ptr(), nb, [a(j)], [e(j)], yj, stride, part);
                    }
                }
            }
        }

        /// Decode: the group against one activation row.
        pub(super) fn one<const HI: bool>(
            w: &[u8],
            nb: usize,
            acts: Acts<'_>,
            y: &mut [f32],
            stride: usize,
        ) {
            group::<1, HI>(w, nb, acts, y, stride, &[])
        }
    };
}

/// `seed + Σ u·y` per lane with maddubs + madd: exact while `u ≤ 127` (no pair of products
/// saturates an i16).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn dp_avx2(seed: __m256i, u: __m256i, y: __m256i) -> __m256i {
    let p = _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), _mm256_set1_epi16(1));
    _mm256_add_epi32(seed, p)
}

/// The same with AVX-VNNI's `vpdpbusd`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avxvnni")]
pub(super) fn dp_avxvnni(seed: __m256i, u: __m256i, y: __m256i) -> __m256i {
    _mm256_dpbusd_avx_epi32(seed, u, y)
}

mod avx2 {
    packed_block_order!("avx2,fma,f16c", super::dp_avx2);
}

mod avxvnni {
    packed_block_order!("avx2,fma,f16c,avxvnni", super::dp_avxvnni);
}

/// `packed::dword_sums` with one `maddubs` (ones × quants, exact) and one `madd`.
pub(super) fn dword_sums(qs: &[u8]) -> [i32; 8] {
    assert!(qs.len() >= 32 && is_x86_feature_detected!("avx2"));
    #[target_feature(enable = "avx2")]
    fn sums(qs: &[u8]) -> [i32; 8] {
        // SAFETY: the caller asserted 32 readable bytes.
        let y = unsafe { _mm256_loadu_si256(qs.as_ptr().cast()) };
        let p = _mm256_madd_epi16(
            _mm256_maddubs_epi16(_mm256_set1_epi8(1), y),
            _mm256_set1_epi16(1),
        );
        let mut out = [0i32; 8];
        // SAFETY: `out` holds eight i32.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), p) };
        out
    }
    // SAFETY: AVX2 was detected just above.
    unsafe { sums(qs) }
}

/// The kernels of one form for Q5_0 when `hi`, else Q4_0.
macro_rules! forms {
    ($m:ident, $hi:expr) => {
        if $hi {
            GroupKernels {
                one: $m::one::<true>,
                row: $m::one::<true>,
                eight: $m::group::<8, true>,
                tile: None,
            }
        } else {
            GroupKernels {
                one: $m::one::<false>,
                row: $m::one::<false>,
                eight: $m::group::<8, false>,
                tile: None,
            }
        }
    };
}

/// Whether this CPU has AVX2, FMA and F16C.
fn has_avx2() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

/// The 256-bit packed kernels for `ty` (Q4_0 and Q5_0) when this CPU has AVX2, FMA and F16C.
pub(super) fn detect(ty: pine_gguf::GgmlType) -> Option<GroupKernels> {
    use pine_gguf::GgmlType as T;
    if !matches!(ty, T::Q4_0 | T::Q5_0) || !has_avx2() {
        return None;
    }
    let hi = ty == T::Q5_0;
    Some(if is_x86_feature_detected!("avxvnni") {
        forms!(avxvnni, hi)
    } else {
        forms!(avx2, hi)
    })
}

/// Every instruction-set form for `ty` (Q4_0 or Q5_0), for tests on CPUs that have them.
#[cfg(test)]
pub(super) fn all_forms(ty: pine_gguf::GgmlType) -> Vec<GroupKernels> {
    use pine_gguf::GgmlType as T;
    let mut v = Vec::new();
    if matches!(ty, T::Q4_0 | T::Q5_0) && has_avx2() {
        let hi = ty == T::Q5_0;
        v.push(forms!(avx2, hi));
        if is_x86_feature_detected!("avxvnni") {
            v.push(forms!(avxvnni, hi));
        }
    }
    v
}
