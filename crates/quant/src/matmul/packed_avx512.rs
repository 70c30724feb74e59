//! The AVX-512 VNNI kernels of the packed layout (`packed`): one group of 16 weight rows against
//! one or eight activation rows; every register lane is one weight row.
//!
//! Per block and activation row, eight `vpdpbusd` (each the same four weight bytes of 16 rows
//! against one broadcast activation dword `l`) give exact integer sums. Block order (Q4_0,
//! Q5_0, Q8_0): they add up onto the seed `−c·Σy`, then `acc = fma(dx·dy, sumi, acc)`.
//! Eight-lane order (Q4_1): each stays its own lane sum `l`, `acc_l = fma(dx·dy, sum_l,
//! acc_l)`, and at the end `hsum_ps`'s tree over the eight `acc_l` plus the min term `ext =
//! fma(mx, sy, ext)`: the per-pair kernel's operations, row by row.
//!
//! `run` and `run_lanes` are inlined into each type's entry, so the type's constants fold.

use std::arch::x86_64::*;

use super::packed::{
    piece, prefetch_ahead, prefetch_part, ActBlock, Acts, GroupKernels, Kind, GROUP, IQ4_NL, Q4_0,
    Q4_1, Q5_0, Q8_0,
};
use super::packed_k::LUT;

/// The shared kernel: group `w` (`nb` group blocks of `kind`) against `NA` activation rows,
/// asking the cache for `ahead` (prefill) or the stream ahead (decode, `NA = 1`).
///
/// # Safety
/// The CPU must have AVX-512 F/BW/VNNI; `w` must hold `nb` group blocks, every `acts[j]` `nb`
/// activation blocks of `kind.ab` bytes and every `extras[j]` `nb` entries; `y + j · stride`
/// must be writable for 16 floats for every row `j`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn run<const NA: usize>(
    kind: Kind,
    w: *const u8,
    nb: usize,
    acts: [*const u8; NA],
    extras: [*const ActBlock; NA],
    y: *mut f32,
    stride: usize,
    ahead: &[u8],
) {
    let gb = kind.group_block();
    let qa = kind.act_qoff();
    let mut acc = [_mm512_setzero_ps(); NA];
    let mut ext = [_mm512_setzero_ps(); NA];
    let low = _mm512_set1_epi8(0x0f);
    for b in 0..nb {
        let p = w.add(b * gb);
        if NA == 1 {
            prefetch_ahead(p, gb, 0, 1);
        }
        prefetch_part(ahead, b, nb);
        let u = unpack(kind, p, low);
        let dx = _mm512_cvtph_ps(_mm256_loadu_si256(p.cast()));
        let mx = if kind.min {
            _mm512_cvtph_ps(_mm256_loadu_si256(p.add(2 * GROUP).cast()))
        } else {
            _mm512_setzero_ps()
        };
        for j in 0..NA {
            let e = &*extras[j].add(b);
            let mut y = acts[j].add(b * kind.ab + qa);
            // One chain per activation row: with eight rows the chains hide each other's latency.
            let mut s = _mm512_set1_epi32(e.seed);
            for ul in &u {
                let yl = _mm512_set1_epi32(y.cast::<i32>().read_unaligned());
                s = _mm512_dpbusd_epi32(s, *ul, yl);
                y = y.add(4);
            }
            let d = _mm512_mul_ps(dx, _mm512_set1_ps(e.dy));
            acc[j] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(s), acc[j]);
            if kind.min {
                ext[j] = _mm512_fmadd_ps(mx, _mm512_set1_ps(e.sy), ext[j]);
            }
        }
    }
    for j in 0..NA {
        _mm512_storeu_ps(y.add(j * stride), _mm512_add_ps(acc[j], ext[j]));
    }
}

/// The eight-lane order (Q4_1): group `w` against `NA` activation rows.
///
/// # Safety
/// As [`run`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn run_lanes<const NA: usize>(
    kind: Kind,
    w: *const u8,
    nb: usize,
    acts: [*const u8; NA],
    extras: [*const ActBlock; NA],
    y: *mut f32,
    stride: usize,
    ahead: &[u8],
) {
    let gb = kind.group_block();
    let qa = kind.act_qoff();
    let mut acc = [[_mm512_setzero_ps(); 8]; NA];
    let mut ext = [_mm512_setzero_ps(); NA];
    let low = _mm512_set1_epi8(0x0f);
    for b in 0..nb {
        let p = w.add(b * gb);
        if NA == 1 {
            prefetch_ahead(p, gb, 0, 1);
        }
        prefetch_part(ahead, b, nb);
        let u = unpack(kind, p, low);
        let dx = _mm512_cvtph_ps(_mm256_loadu_si256(p.cast()));
        for j in 0..NA {
            let e = &*extras[j].add(b);
            let y = acts[j].add(b * kind.ab + qa);
            let d = _mm512_mul_ps(dx, _mm512_set1_ps(e.dy));
            for (l, (ul, al)) in u.iter().zip(acc[j].iter_mut()).enumerate() {
                let yl = _mm512_set1_epi32(y.add(4 * l).cast::<i32>().read_unaligned());
                let s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), *ul, yl);
                *al = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(s), *al);
            }
            if kind.min {
                let mx = _mm512_cvtph_ps(_mm256_loadu_si256(p.add(2 * GROUP).cast()));
                ext[j] = _mm512_fmadd_ps(mx, _mm512_set1_ps(e.sy), ext[j]);
            }
        }
    }
    for j in 0..NA {
        let a = &acc[j];
        let s: [__m512; 4] = std::array::from_fn(|i| _mm512_add_ps(a[i], a[i + 4]));
        let t = _mm512_add_ps(_mm512_add_ps(s[0], s[2]), _mm512_add_ps(s[1], s[3]));
        _mm512_storeu_ps(y.add(j * stride), _mm512_add_ps(t, ext[j]));
    }
}

/// The eight registers of a group block's quants (`p` the group block): register `l` holds
/// bytes `4l..4l+4` of the 16 rows' 32 values (nibbles widened to bytes, Q5_0's fifth bit added
/// from mask `l`: one masked byte add each).
///
/// # Safety
/// `p` must hold a group block of `kind`; AVX-512 F/BW must be present.
#[inline(always)]
unsafe fn unpack(kind: Kind, p: *const u8, low: __m512i) -> [__m512i; 8] {
    let q = p.add(kind.chunks_at());
    let mut u = [_mm512_setzero_si512(); 8];
    if kind.nibbles {
        for c in 0..4 {
            let v = _mm512_loadu_si512(q.add(64 * c).cast());
            u[c] = _mm512_and_si512(v, low);
            u[c + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
        }
        if kind.lut {
            let lut = _mm512_broadcast_i32x4(_mm_loadu_si128(LUT.as_ptr().cast()));
            for uc in &mut u {
                *uc = _mm512_shuffle_epi8(lut, *uc);
            }
        }
    } else {
        for (c, uc) in u.iter_mut().enumerate() {
            *uc = _mm512_loadu_si512(q.add(64 * c).cast());
        }
    }
    if kind.hi {
        let sixteen = _mm512_set1_epi8(16);
        for (l, ul) in u.iter_mut().enumerate() {
            let m: __mmask64 = p.add(kind.hi_at() + 8 * l).cast::<u64>().read_unaligned();
            *ul = _mm512_mask_add_epi8(*ul, m, *ul, sixteen);
        }
    }
    u
}

/// Instantiates the safe entries of one type.
macro_rules! kind {
    ($name:ident, $kind:expr) => {
        mod $name {
            use super::*;

            /// The group against the `NA` activation rows from `a0` (extras from `e0`), row
            /// `j`'s outputs stored at `y + j · stride`, asking the cache for `ahead`.
            #[allow(clippy::too_many_arguments)]
            #[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
            unsafe fn kern<const NA: usize>(
                w: *const u8,
                nb: usize,
                a0: *const u8,
                e0: *const ActBlock,
                y: *mut f32,
                stride: usize,
                ahead: &[u8],
            ) {
                let kind: Kind = $kind;
                // The rows' pointers are made here, in registers: tables built by the caller
                // and passed through memory cost more than the kernel's own loads.
                let acts: [_; NA] = std::array::from_fn(|j| a0.wrapping_add(j * nb * kind.ab));
                let extras: [_; NA] = std::array::from_fn(|j| e0.wrapping_add(j * nb));
                if kind.lanes && NA > 2 {
                    // Eight accumulators per activation row: two rows at a time fit the registers.
                    let pairs = NA.div_ceil(2);
                    for j in (0..NA).step_by(2) {
                        let yj = y.add(j * stride);
                        let part = piece(ahead, j / 2, pairs);
                        if j + 2 <= NA {
                            let (a, e) = ([acts[j], acts[j + 1]], [extras[j], extras[j + 1]]);
                            run_lanes::<2>(kind, w, nb, a, e, yj, stride, part);
                        } else {
                            run_lanes::<1>(kind, w, nb, [acts[j]], [extras[j]], yj, stride, part);
                        }
                    }
                } else if kind.lanes {
                    run_lanes::<NA>(kind, w, nb, acts, extras, y, stride, ahead)
                } else {
                    run::<NA>(kind, w, nb, acts, extras, y, stride, ahead)
                }
            }

            /// The group against `NA` activation rows, lengths checked, asking the cache for
            /// `ahead`.
            pub(super) fn group<const NA: usize>(
                w: &[u8],
                nb: usize,
                acts: Acts<'_>,
                y: &mut [f32],
                stride: usize,
                ahead: &[u8],
            ) {
                let kind: Kind = $kind;
                assert!(w.len() >= nb * kind.group_block());
                acts.check(&kind, nb, NA, y, stride);
                let (a, e) = (acts.act.as_ptr(), acts.blocks.as_ptr());
                // SAFETY: handed out by `detect` only after the features were detected; the
                // checks bound every read and write.
                unsafe { kern::<NA>(w.as_ptr(), nb, a, e, y.as_mut_ptr(), stride, ahead) }
            }

            /// Decode: the group against one activation row.
            pub(super) fn one(w: &[u8], nb: usize, acts: Acts<'_>, y: &mut [f32], stride: usize) {
                group::<1>(w, nb, acts, y, stride, &[])
            }
        }
    };
}

kind!(q4_0, Q4_0);
kind!(q4_1, Q4_1);
kind!(q5_0, Q5_0);
kind!(q8_0, Q8_0);
kind!(iq4_nl, IQ4_NL);

/// The packed kernels for `ty` when this CPU has AVX-512 F/BW/VNNI, else `None`.
pub(super) fn detect(ty: pine_gguf::GgmlType) -> Option<GroupKernels> {
    use pine_gguf::GgmlType as T;
    if !super::tile_avx512::avx512_vnni() {
        return None;
    }
    match ty {
        T::Q4_0 => Some(GroupKernels {
            one: q4_0::one,
            row: q4_0::one,
            eight: q4_0::group::<8>,
            tile: None,
        }),
        T::Q4_1 => Some(GroupKernels {
            one: q4_1::one,
            row: q4_1::one,
            eight: q4_1::group::<8>,
            tile: None,
        }),
        T::Q5_0 => Some(GroupKernels {
            one: q5_0::one,
            row: q5_0::one,
            eight: q5_0::group::<8>,
            tile: None,
        }),
        T::Q8_0 => Some(GroupKernels {
            one: q8_0::one,
            row: q8_0::one,
            eight: q8_0::group::<8>,
            tile: None,
        }),
        T::IQ4_NL => Some(GroupKernels {
            one: iq4_nl::one,
            row: iq4_nl::one,
            eight: iq4_nl::group::<8>,
            tile: None,
        }),
        _ => None,
    }
}
