//! The AVX-512 VNNI kernels of the packed layout (`packed`): one group of 16 weight rows against
//! one or four activation rows.
//!
//! Per block and activation row, eight `vpdpbusd` (each the same four weight bytes of 16 rows
//! against one broadcast activation dword) add the exact integer sums of the 16 pairs onto the
//! seed `−c·Σy`; then `acc = fma(dx·dy, sumi, acc)` and (Q4_1) `ext = fma(mx, sy, ext)` per
//! lane, and `acc + ext` at the end: the block order of the per-pair kernels, lane by lane.

use std::arch::x86_64::*;

use super::packed::{ActBlock, GroupKernels, Kind, GROUP, Q4_0, Q4_1, Q8_0};

/// The shared kernel: group `w` (`nb` group blocks of `kind`) against `NA` activation rows.
///
/// # Safety
/// The CPU must have AVX-512 F/BW/VNNI; `w` must hold `nb` group blocks, every `acts[j]` `nb`
/// activation blocks of `kind.ab` bytes and every `extras[j]` `nb` entries.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
unsafe fn run<const NA: usize>(
    kind: Kind,
    w: *const u8,
    nb: usize,
    acts: [*const u8; NA],
    extras: [*const ActBlock; NA],
) -> [[f32; GROUP]; NA] {
    let gb = kind.group_block();
    let qa = kind.act_qoff();
    let mut acc = [_mm512_setzero_ps(); NA];
    let mut ext = [_mm512_setzero_ps(); NA];
    let low = _mm512_set1_epi8(0x0f);
    for b in 0..nb {
        let p = w.add(b * gb);
        let q = p.add(kind.chunks_at());
        let mut u = [_mm512_setzero_si512(); 8];
        if kind.nibbles {
            for c in 0..4 {
                let v = _mm512_loadu_si512(q.add(64 * c).cast());
                u[c] = _mm512_and_si512(v, low);
                u[c + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
            }
        } else {
            for (c, uc) in u.iter_mut().enumerate() {
                *uc = _mm512_loadu_si512(q.add(64 * c).cast());
            }
        }
        let dx = _mm512_cvtph_ps(_mm256_loadu_si256(p.cast()));
        let mx = if kind.min {
            _mm512_cvtph_ps(_mm256_loadu_si256(p.add(2 * GROUP).cast()))
        } else {
            _mm512_setzero_ps()
        };
        for j in 0..NA {
            let e = &*extras[j].add(b);
            let y = acts[j].add(b * kind.ab + qa);
            // Two chains of four (even and odd dwords) halve the dependent latency.
            let mut s = [_mm512_set1_epi32(e.seed), _mm512_setzero_si512()];
            for (l, ul) in u.iter().enumerate() {
                let yl = _mm512_set1_epi32(y.add(4 * l).cast::<i32>().read_unaligned());
                s[l % 2] = _mm512_dpbusd_epi32(s[l % 2], *ul, yl);
            }
            let s = _mm512_add_epi32(s[0], s[1]);
            let d = _mm512_mul_ps(dx, _mm512_set1_ps(e.dy));
            acc[j] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(s), acc[j]);
            if kind.min {
                ext[j] = _mm512_fmadd_ps(mx, _mm512_set1_ps(e.sy), ext[j]);
            }
        }
    }
    let mut out = [[0.0f32; GROUP]; NA];
    for j in 0..NA {
        _mm512_storeu_ps(out[j].as_mut_ptr(), _mm512_add_ps(acc[j], ext[j]));
    }
    out
}

/// Instantiates the safe entries of one type.
macro_rules! kind {
    ($name:ident, $kind:expr) => {
        mod $name {
            use super::*;

            #[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
            unsafe fn kern<const NA: usize>(
                w: *const u8,
                nb: usize,
                acts: [*const u8; NA],
                extras: [*const ActBlock; NA],
            ) -> [[f32; GROUP]; NA] {
                run::<NA>($kind, w, nb, acts, extras)
            }

            /// The group against `NA` activation rows, lengths checked.
            pub(super) fn group<const NA: usize>(
                w: &[u8],
                nb: usize,
                acts: [&[u8]; NA],
                extras: [&[ActBlock]; NA],
            ) -> [[f32; GROUP]; NA] {
                let kind: Kind = $kind;
                assert!(w.len() >= nb * kind.group_block());
                assert!(acts.iter().all(|a| a.len() >= nb * kind.ab));
                assert!(extras.iter().all(|e| e.len() >= nb));
                // SAFETY: handed out by `detect` only after the features were detected; the
                // asserts bound every read.
                unsafe {
                    kern::<NA>(
                        w.as_ptr(),
                        nb,
                        acts.map(<[u8]>::as_ptr),
                        extras.map(<[ActBlock]>::as_ptr),
                    )
                }
            }
        }
    };
}

kind!(q4_0, Q4_0);
kind!(q4_1, Q4_1);
kind!(q8_0, Q8_0);

/// The packed kernels for `ty` when this CPU has AVX-512 F/BW/VNNI, else `None`.
pub(super) fn detect(ty: pine_gguf::GgmlType) -> Option<GroupKernels> {
    use pine_gguf::GgmlType as T;
    let has = is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vnni")
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c");
    if !has {
        return None;
    }
    match ty {
        T::Q4_0 => Some(GroupKernels {
            one: q4_0::group::<1>,
            four: q4_0::group::<4>,
        }),
        T::Q4_1 => Some(GroupKernels {
            one: q4_1::group::<1>,
            four: q4_1::group::<4>,
        }),
        T::Q8_0 => Some(GroupKernels {
            one: q8_0::group::<1>,
            four: q8_0::group::<4>,
        }),
        _ => None,
    }
}
