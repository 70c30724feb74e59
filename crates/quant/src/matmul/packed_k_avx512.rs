//! The AVX-512 VNNI kernels of the packed k-quant layout (`packed_k`): one group of 16 weight
//! rows against one or eight Q8_K activation rows; every register lane is one weight row.
//!
//! Per sub-block, its dwords' quants are unpacked once for all activation rows (low nibble,
//! high bits merged with one `vpternlogd`); per activation row a chain of `vpdpbusd` against
//! broadcast activation dwords gives the exact integer sum, and one FMA with `d·sc·da` adds it
//! to the superblock's sum; the mins take eight FMAs per superblock. The float order is
//! `packed_k::group_plain`'s, bit for bit.

use std::arch::x86_64::*;

use super::packed::{prefetch_ahead, Acts, GroupKernels, GROUP};
use super::packed_k::{KActBlock, KType, TQ4K, TQ5K, TQ6K};
use pine_gguf::QK_K;

/// `v` shifted left by `n` bits (right for negative `n`) in 16-bit lanes.
///
/// # Safety
/// AVX-512 BW must be present. Inlined into `run`, whose features its intrinsics need.
#[inline(always)]
unsafe fn shift16(v: __m512i, n: i32) -> __m512i {
    if n >= 0 {
        _mm512_sll_epi16(v, _mm_cvtsi32_si128(n))
    } else {
        _mm512_srl_epi16(v, _mm_cvtsi32_si128(-n))
    }
}

/// The registers of sub-block `s` of the group block at `p`: register `c` holds dword `c`
/// (values `4c..4c+4`) of the 16 rows, as unsigned bytes.
///
/// # Safety
/// `p` must hold a group block of `T`; AVX-512 F/BW must be present. Inlined into `run`, whose
/// features its intrinsics need.
#[inline(always)]
unsafe fn unpack<T: KType>(p: *const u8, s: usize) -> [__m512i; 8] {
    let kk = T::KK;
    let mut u = [_mm512_setzero_si512(); 8];
    let low = _mm512_set1_epi8(0x0f);
    let himask = _mm512_set1_epi8((((1 << kk.hbits) - 1) << 4) as i8);
    for (c, uc) in u.iter_mut().enumerate().take(kk.dwords()) {
        let v = _mm512_loadu_si512(p.add(kk.lo_chunk(s, c)).cast());
        let nib = if s.is_multiple_of(2) {
            v
        } else {
            _mm512_srli_epi16(v, 4)
        };
        *uc = if kk.hbits == 0 {
            _mm512_and_si512(nib, low)
        } else {
            let (at, bit) = kk.hi_chunk(s, c);
            let h = _mm512_loadu_si512(p.add(at).cast());
            let h = _mm512_and_si512(shift16(h, 4 - bit as i32), himask);
            // (nib & 0x0f) | h
            _mm512_ternarylogic_epi32(nib, h, low, 0xEC)
        };
    }
    u
}

/// Sub-block `s` (nothing past the type's last) of the group block at `p` (superblock `b`, its
/// scales `d`) against the `NA` activation rows: `t[j] = fma(d·sc_s, i_s, t[j])`.
///
/// # Safety
/// As [`run`], into which it is inlined.
#[inline(always)]
unsafe fn sub<T: KType, const NA: usize>(
    s: usize,
    p: *const u8,
    b: usize,
    d: __m512,
    extras: &[*const KActBlock; NA],
    t: &mut [__m512; NA],
) {
    let kk = T::KK;
    if s >= kk.subs() {
        return;
    }
    let u = unpack::<T>(p, s);
    let sc = _mm_loadu_si128(p.add(kk.sc_at() + GROUP * s).cast());
    let sc = if kk.min {
        _mm512_cvtepu8_epi32(sc)
    } else {
        _mm512_cvtepi8_epi32(sc)
    };
    let ds = _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc));
    for j in 0..NA {
        let e = &*extras[j].add(b);
        let w = _mm512_mul_ps(ds, _mm512_set1_ps(e.d[s * kk.sb / 32]));
        let a = e.qs.as_ptr().add(s * kk.sb);
        let mut i = if kk.min {
            _mm512_setzero_si512()
        } else {
            _mm512_set1_epi32(e.seeds[s])
        };
        for (c, uc) in u.iter().enumerate().take(kk.dwords()) {
            let ac = _mm512_set1_epi32(a.add(4 * c).cast::<i32>().read_unaligned());
            i = _mm512_dpbusd_epi32(i, *uc, ac);
        }
        t[j] = _mm512_fmadd_ps(w, _mm512_cvtepi32_ps(i), t[j]);
    }
}

/// Group `w` (`nb` group blocks of `kk`) against `NA` activation rows.
///
/// # Safety
/// The CPU must have AVX-512 F/BW/VNNI; `w` must hold `nb` group blocks and every `extras[j]`
/// `nb` activation blocks; `y + j · stride` must be writable for 16
/// floats for every row `j`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
unsafe fn run<T: KType, const NA: usize>(
    w: *const u8,
    nb: usize,
    extras: [*const KActBlock; NA],
    y: *mut f32,
    stride: usize,
) {
    let kk = T::KK;
    let gb = kk.group_block();
    let mut acc = [_mm512_setzero_ps(); NA];
    for b in 0..nb {
        let p = w.add(b * gb);
        if NA == 1 {
            prefetch_ahead(p, gb);
        }
        let d = _mm512_cvtph_ps(_mm256_loadu_si256(p.cast()));
        let mut t = [_mm512_setzero_ps(); NA];
        if NA == 1 || kk.hbits > 0 {
            // The sub-blocks one by one with constant indices, so that the high bits' shifts
            // take immediates (decode: Q5_K, Q6_K +30 % GB/s; prefill: Q5_K +10 %, Q6_K +10 %).
            macro_rules! subs {
                ($($s:literal)*) => { $( sub::<T, NA>($s, p, b, d, &extras, &mut t); )* };
            }
            subs!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
        } else {
            // Q4_K prefill: a loop, which spills less (+7 %).
            for s in 0..kk.subs() {
                sub::<T, NA>(s, p, b, d, &extras, &mut t);
            }
        }
        if kk.min {
            let dmin = _mm512_cvtph_ps(_mm256_loadu_si256(p.add(2 * GROUP).cast()));
            let m: [__m512; 8] = std::array::from_fn(|s| {
                let ms = _mm_loadu_si128(p.add(kk.mn_at() + GROUP * s).cast());
                _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(ms))
            });
            for j in 0..NA {
                let e = &*extras[j].add(b);
                let mut mn = _mm512_setzero_ps();
                for (ms, &f) in m.iter().zip(&e.fs) {
                    mn = _mm512_fmadd_ps(*ms, _mm512_set1_ps(f), mn);
                }
                t[j] = _mm512_fnmadd_ps(dmin, mn, t[j]);
            }
        }
        for j in 0..NA {
            acc[j] = _mm512_add_ps(acc[j], t[j]);
        }
    }
    for (j, a) in acc.iter().enumerate() {
        _mm512_storeu_ps(y.add(j * stride), *a);
    }
}

/// The group against `NA` activation rows, lengths checked.
fn group<T: KType, const NA: usize>(
    w: &[u8],
    nb: usize,
    acts: Acts<'_>,
    y: &mut [f32],
    stride: usize,
) {
    assert!(w.len() >= nb * T::KK.group_block());
    assert!(acts.kblocks.len() >= NA * nb);
    assert!(stride >= GROUP && y.len() >= (NA - 1) * stride + GROUP);
    let e0 = acts.kblocks.as_ptr();
    let e: [_; NA] = std::array::from_fn(|j| e0.wrapping_add(j * nb));
    // SAFETY: handed out by `detect` only after the features were detected; the checks bound
    // every read and write.
    unsafe { run::<T, NA>(w.as_ptr(), nb, e, y.as_mut_ptr(), stride) }
}

/// The entries of type `T`.
fn kernels<T: KType>() -> GroupKernels {
    GroupKernels {
        one: group::<T, 1>,
        eight: group::<T, 8>,
    }
}

/// The packed k-quant kernels for `ty` when this CPU has AVX-512 F/BW/VNNI, else `None`.
pub(super) fn detect(ty: pine_gguf::GgmlType) -> Option<GroupKernels> {
    use pine_gguf::GgmlType as T;
    if !super::tile_avx512::avx512_vnni() {
        return None;
    }
    const _: () = assert!(QK_K == 256);
    match ty {
        T::Q4_K => Some(kernels::<TQ4K>()),
        T::Q5_K => Some(kernels::<TQ5K>()),
        T::Q6_K => Some(kernels::<TQ6K>()),
        _ => None,
    }
}
