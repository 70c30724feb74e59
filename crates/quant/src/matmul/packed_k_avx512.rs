//! The AVX-512 VNNI kernels of the packed k-quant layout (`packed_k`): one group of 16 weight
//! rows against one or eight Q8_K activation rows; every register lane is one weight row.
//!
//! Per sub-block, its dwords' quants are unpacked once for all activation rows (low bits
//! shifted down and masked, high bits merged with one `vpternlogd`, IQ4_XS's indices through
//! its codebook with one `vpshufb`); per activation row a chain of `vpdpbusd` against broadcast
//! activation dwords, from the offset's seed (Q3_K, Q6_K, IQ4_XS) or 0,
//! gives the exact integer sum, and one FMA with `d·sc·da` adds it to the superblock's sum
//! (Q2_K/Q3_K/Q6_K: a product with `d·sc` for the first sub-block of each pair, an FMA for the
//! second, then one FMA with `da`); the mins take one FMA per sub-block and superblock (Q2_K
//! 16, Q4_K/Q5_K 8). The float order is `packed_k::group_plain`'s, bit for bit.
//!
//! Prefill tasks of at least 16 activation rows first convert each group to a tile
//! ([`convert`]: the same unpacking, stored once) and run [`run_tile`] on it, eight rows a call,
//! 32 values (eight registers of quants, two sub-blocks of the 16-value types) a step. The
//! direct kernels keep their own per-sub-block code: folded into the tile kernel's helpers,
//! Q5_K's eight-row kernel lost a third of its speed.

use std::arch::x86_64::*;

use super::packed::{prefetch_ahead, prefetch_part, Acts, GroupKernels, TileKernels, GROUP};
use super::packed_k::{KActBlock, KType, TileLine, LUT, TIQ4XS, TQ2K, TQ3K, TQ4K, TQ5K, TQ6K};
use pine_gguf::QK_K;

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
    let low = _mm512_set1_epi8(((1 << kk.lbits) - 1) as i8);
    let himask = _mm512_set1_epi8((((1 << kk.hbits) - 1) << kk.lbits) as i8);
    for (c, uc) in u.iter_mut().enumerate().take(kk.dwords()) {
        let (at, lbit) = kk.lo_chunk(s, c);
        let v = _mm512_loadu_si512(p.add(at).cast());
        let nib = _mm512_srl_epi16(v, _mm_cvtsi32_si128(lbit as i32));
        *uc = if kk.lut {
            let lut = _mm512_broadcast_i32x4(_mm_loadu_si128(LUT.as_ptr().cast()));
            _mm512_shuffle_epi8(lut, _mm512_and_si512(nib, low))
        } else if kk.hbits == 0 {
            _mm512_and_si512(nib, low)
        } else {
            let (at, bit) = kk.hi_chunk(s, c);
            let h = _mm512_loadu_si512(p.add(at).cast());
            // Bits `bit..bit + hbits` of each byte rotated to `lbits..`: a dword rotation by
            // `lbits − bit` (mod 32) moves them within their byte (what crosses into the next
            // byte lies outside the mask), one shift whichever way they go.
            let by = _mm512_set1_epi32((kk.lbits as i32 - bit as i32) & 31);
            let h = _mm512_and_si512(_mm512_rolv_epi32(h, by), himask);
            // (nib & low) | h
            _mm512_ternarylogic_epi32(nib, h, low, 0xEC)
        };
    }
    u
}

/// The 32 values `k` (one activation scale `da`) against the `NA` activation rows of
/// superblock `b`: `u[c]` holds their dword `c` for the 16 rows, `ds[h]` is `d·sc` of their
/// sub-block (Q4_K/Q5_K: `ds[0]`; Q2_K/Q3_K/Q6_K: sub-blocks `2k` and `2k + 1`, `u[0..4]` and
/// `u[4..8]`). Q4_K/Q5_K: `t[j] = fma(ds·da, i, t[j])`; the others: `x = ds[0]·i_2k`,
/// `x = fma(ds[1], i_2k+1, x)`, `t[j] = fma(x, da, t[j])` (the integer sums seeded with the
/// offset's seeds, Q3_K/Q6_K, or from 0).
///
/// # Safety
/// As [`run`], into which it is inlined.
#[inline(always)]
unsafe fn rows<T: KType, const NA: usize>(
    k: usize,
    u: &[__m512i; 8],
    ds: [__m512; 2],
    b: usize,
    extras: &[*const KActBlock; NA],
    t: &mut [__m512; NA],
) {
    let kk = T::KK;
    for j in 0..NA {
        let e = &*extras[j].add(b);
        let a = e.qs.as_ptr().add(32 * k);
        let da = _mm512_set1_ps(e.d[k]);
        // The integer sum of dwords `cs` onto `seed`.
        let chain = |seed: __m512i, cs: std::ops::Range<usize>| {
            cs.fold(seed, |i, c| {
                let ac = _mm512_set1_epi32(a.add(4 * c).cast::<i32>().read_unaligned());
                _mm512_dpbusd_epi32(i, u[c], ac)
            })
        };
        if !kk.pairs() {
            let i = chain(_mm512_set1_epi32(e.seed(&kk, k)), 0..8);
            t[j] = _mm512_fmadd_ps(_mm512_mul_ps(ds[0], da), _mm512_cvtepi32_ps(i), t[j]);
        } else {
            let seed = |s: usize| _mm512_set1_epi32(e.seed(&kk, s));
            let i0 = chain(seed(2 * k), 0..4);
            let i1 = chain(seed(2 * k + 1), 4..8);
            let x = _mm512_mul_ps(ds[0], _mm512_cvtepi32_ps(i0));
            let x = _mm512_fmadd_ps(ds[1], _mm512_cvtepi32_ps(i1), x);
            t[j] = _mm512_fmadd_ps(x, da, t[j]);
        }
    }
}

/// The mins of superblock `b` (Q2_K/Q4_K/Q5_K): `m(s)` the min `m_s` and `dmin` as f32 of the
/// 16 rows; `t[j] = fnmadd(dmin, Σ_s m_s·F_s, t[j])`, the sum from 0 in `s` order (`F_s`:
/// `fs`, Q2_K `fs16`).
///
/// # Safety
/// As [`run`], into which it is inlined.
#[inline(always)]
unsafe fn mins<T: KType, const NA: usize>(
    m: impl Fn(usize) -> __m512,
    dmin: __m512,
    b: usize,
    extras: &[*const KActBlock; NA],
    t: &mut [__m512; NA],
) {
    let kk = T::KK;
    for j in 0..NA {
        let e = &*extras[j].add(b);
        let fs = if kk.pairs() { &e.fs16[..] } else { &e.fs[..] };
        let mut mn = _mm512_setzero_ps();
        for (s, &f) in fs.iter().enumerate().take(kk.subs()) {
            mn = _mm512_fmadd_ps(m(s), _mm512_set1_ps(f), mn);
        }
        t[j] = _mm512_fnmadd_ps(dmin, mn, t[j]);
    }
}

/// [`mins`] of the group block at `p`: Q4_K/Q5_K convert their eight mins once, Q2_K each of
/// its sixteen where it is used (an array of 16 registers spilled: Q4_K's decode lost three
/// quarters of its speed with one).
///
/// # Safety
/// As [`run`], into which it is inlined.
#[inline(always)]
unsafe fn block_mins<T: KType, const NA: usize>(
    p: *const u8,
    b: usize,
    extras: &[*const KActBlock; NA],
    t: &mut [__m512; NA],
) {
    let dmin = _mm512_cvtph_ps(_mm256_loadu_si256(p.add(2 * GROUP).cast()));
    if T::KK.subs() == 8 {
        let m: [__m512; 8] = std::array::from_fn(|s| min_value::<T>(p, s));
        mins::<T, NA>(|s| m[s], dmin, b, extras, t);
    } else {
        mins::<T, NA>(|s| min_value::<T>(p, s), dmin, b, extras, t);
    }
}

/// `d·sc_s` of the 16 rows of the group block at `p` (`d` their f16 `d` as f32).
///
/// # Safety
/// As [`unpack`].
#[inline(always)]
unsafe fn scales<T: KType>(p: *const u8, s: usize, d: __m512) -> __m512 {
    let kk = T::KK;
    let sc = _mm_loadu_si128(p.add(kk.sc_at() + GROUP * s).cast());
    let sc = if !kk.min {
        _mm512_cvtepi8_epi32(sc)
    } else if kk.nib {
        _mm512_and_si512(_mm512_cvtepu8_epi32(sc), _mm512_set1_epi32(15))
    } else {
        _mm512_cvtepu8_epi32(sc)
    };
    _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc))
}

/// The min `m_s` of sub-block `s` of the 16 rows of the group block at `p` as f32.
///
/// # Safety
/// As [`unpack`].
#[inline(always)]
unsafe fn min_value<T: KType>(p: *const u8, s: usize) -> __m512 {
    let kk = T::KK;
    let ms = _mm512_cvtepu8_epi32(_mm_loadu_si128(p.add(kk.mn_at() + GROUP * s).cast()));
    let ms = if kk.nib { _mm512_srli_epi32(ms, 4) } else { ms };
    _mm512_cvtepi32_ps(ms)
}

/// Sub-block `s` (nothing past the type's last) of the group block at `p` (superblock `b`, its
/// scales `d`) against the `NA` activation rows, in [`rows`]' float order one sub-block at a
/// time (the direct kernels keep four registers of Q6_K quants, not eight): Q4_K/Q5_K
/// `t[j] = fma(d·sc_s·da, i_s, t[j])`; the pairs' types (Q2_K, Q3_K, Q6_K) even `s`
/// `x[j] = d·sc_s·i_s`, odd `s` `t[j] = fma(fma(d·sc_s, i_s, x[j]), da, t[j])`.
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
    x: &mut [__m512; NA],
) {
    let kk = T::KK;
    if s >= kk.subs() {
        return;
    }
    let u = unpack::<T>(p, s);
    let ds = scales::<T>(p, s, d);
    for j in 0..NA {
        let e = &*extras[j].add(b);
        let da = _mm512_set1_ps(e.d[s * kk.sb / 32]);
        let w = _mm512_mul_ps(ds, da);
        let a = e.qs.as_ptr().add(s * kk.sb);
        let mut i = _mm512_set1_epi32(e.seed(&kk, s));
        for (c, uc) in u.iter().enumerate().take(kk.dwords()) {
            let ac = _mm512_set1_epi32(a.add(4 * c).cast::<i32>().read_unaligned());
            i = _mm512_dpbusd_epi32(i, *uc, ac);
        }
        let fi = _mm512_cvtepi32_ps(i);
        if !kk.pairs() {
            t[j] = _mm512_fmadd_ps(w, fi, t[j]);
        } else if s.is_multiple_of(2) {
            x[j] = _mm512_mul_ps(ds, fi);
        } else {
            t[j] = _mm512_fmadd_ps(_mm512_fmadd_ps(ds, fi, x[j]), da, t[j]);
        }
    }
}

/// Group `w` (`nb` group blocks of `kk`) against `NA` activation rows, asking the cache for
/// `ahead` (prefill) or, where `ASK` (decode, `NA = 1`), the stream ahead.
///
/// # Safety
/// The CPU must have AVX-512 F/BW/VNNI; `w` must hold `nb` group blocks and every `extras[j]`
/// `nb` activation blocks; `y + j · stride` must be writable for 16
/// floats for every row `j`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
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
    let mut acc = [_mm512_setzero_ps(); NA];
    for b in 0..nb {
        let p = w.add(b * gb);
        prefetch_part(ahead, b, nb);
        let d = _mm512_cvtph_ps(_mm256_loadu_si256(p.cast()));
        let mut t = [_mm512_setzero_ps(); NA];
        // Q2_K/Q3_K/Q6_K: the first sub-block's term of each pair.
        let mut x = [_mm512_setzero_ps(); NA];
        if NA == 1 && ASK {
            // Decode: the sub-blocks in a loop whose trip count the compiler does not see, two
            // at a time for the types that sum them in pairs (so their parity is known). Fully
            // unrolled, LLVM hoisted every sub-block's unpacking ahead of the products and
            // spilled it (Q6_K: 737 vector moves per superblock for 128 loads of quants) and
            // read each activation dword through a general register; as a loop the quants stay
            // in registers and the activations are `vpdpbusd`'s broadcast operand. Zen 4, one
            // thread, an in-process A/B: from cache (4096×4096) Q4_K ~24 → ~35 GB/s, Q6_K ~21 →
            // ~30 GB/s; from memory (`kernels --dram`) Q4_K 16 → 20.5 GB/s, Q6_K 15 → 19 GB/s.
            // It asks for the stream ahead in parts, one per sub-block (about 10 % faster from
            // memory than two parts on Zen 5).
            let step = if kk.pairs() { 2 } else { 1 };
            for i in 0..std::hint::black_box(kk.subs() / step) {
                for s in i * step..(i + 1) * step {
                    prefetch_ahead(p, gb, s, kk.subs());
                    sub::<T, NA>(s, p, b, d, &extras, &mut t, &mut x);
                }
            }
        } else if NA == 1 || kk.hbits > 0 || kk.lbits != 4 {
            // The sub-blocks one by one with constant indices, so that the bits' shifts take
            // immediates (prefill: Q5_K +10 %, Q6_K +10 %).
            macro_rules! subs {
                ($($s:literal)*) => { $(
                    sub::<T, NA>($s, p, b, d, &extras, &mut t, &mut x);
                )* };
            }
            subs!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
        } else {
            // Q4_K prefill: a loop, which spills less (+7 %).
            for s in 0..kk.subs() {
                sub::<T, NA>(s, p, b, d, &extras, &mut t, &mut x);
            }
        }
        if kk.min {
            block_mins::<T, NA>(p, b, &extras, &mut t);
        }
        for j in 0..NA {
            acc[j] = _mm512_add_ps(acc[j], t[j]);
        }
    }
    for (j, a) in acc.iter().enumerate() {
        _mm512_storeu_ps(y.add(j * stride), *a);
    }
}

/// Converts the `nb` group blocks of `T` at `w` into tiles at `tile` (`nb` ×
/// [`tile_lines`](super::packed_k::KKind::tile_lines) lines): the unpacking of [`unpack`],
/// [`scales`] and [`min_value`], stored.
///
/// # Safety
/// The CPU must have AVX-512 F/BW; `w` must hold `nb` group blocks and `tile` be writable for
/// `nb` tiles.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
unsafe fn convert<T: KType>(w: *const u8, nb: usize, tile: *mut TileLine) {
    let kk = T::KK;
    let (gb, tl) = (kk.group_block(), kk.tile_lines());
    for b in 0..nb {
        let p = w.add(b * gb);
        let line = |i: usize| tile.add(b * tl + i);
        let d = _mm512_cvtph_ps(_mm256_loadu_si256(p.cast()));
        // Constant sub-block indices, so that the high bits' shifts take immediates.
        macro_rules! subs {
            ($($s:literal)*) => { $(
                if $s < kk.subs() {
                    let u = unpack::<T>(p, $s);
                    for (c, uc) in u.iter().enumerate().take(kk.dwords()) {
                        _mm512_store_si512(line(kk.tile_q($s, c)).cast(), *uc);
                    }
                    _mm512_store_ps(line(kk.tile_ds($s)).cast(), scales::<T>(p, $s, d));
                }
            )* };
        }
        subs!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
        if kk.min {
            for s in 0..kk.subs() {
                _mm512_store_ps(line(kk.tile_m(s)).cast(), min_value::<T>(p, s));
            }
            let dmin = _mm512_cvtph_ps(_mm256_loadu_si256(p.add(2 * GROUP).cast()));
            _mm512_store_ps(line(kk.tile_dmin()).cast(), dmin);
        }
    }
}

/// [`run`] on tiles made by [`convert`]: the same steps and float order, the quants and
/// scales loaded instead of unpacked. Asks the cache for the bytes `ahead` (the group the task
/// converts next), spread over the superblocks.
///
/// # Safety
/// As [`run`], with `tile` holding `nb` tiles in place of the group blocks.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
unsafe fn run_tile<T: KType, const NA: usize>(
    tile: *const TileLine,
    nb: usize,
    extras: [*const KActBlock; NA],
    y: *mut f32,
    stride: usize,
    ahead: &[u8],
) {
    let kk = T::KK;
    let tl = kk.tile_lines();
    let mut acc = [_mm512_setzero_ps(); NA];
    for b in 0..nb {
        prefetch_part(ahead, b, nb);
        let line = |i: usize| tile.add(b * tl + i);
        let mut t = [_mm512_setzero_ps(); NA];
        let per = 32 / kk.sb;
        for k in 0..8 {
            let q = kk.tile_q(per * k, 0);
            let u: [__m512i; 8] = std::array::from_fn(|c| _mm512_load_si512(line(q + c).cast()));
            let ds0 = _mm512_load_ps(line(kk.tile_ds(per * k)).cast());
            let ds = if per == 2 {
                [ds0, _mm512_load_ps(line(kk.tile_ds(2 * k + 1)).cast())]
            } else {
                [ds0; 2]
            };
            rows::<T, NA>(k, &u, ds, b, &extras, &mut t);
        }
        if kk.min {
            let dmin = _mm512_load_ps(line(kk.tile_dmin()).cast());
            if kk.subs() == 8 {
                let m: [__m512; 8] =
                    std::array::from_fn(|s| _mm512_load_ps(line(kk.tile_m(s)).cast()));
                mins::<T, NA>(|s| m[s], dmin, b, &extras, &mut t);
            } else {
                let m = |s: usize| _mm512_load_ps(line(kk.tile_m(s)).cast());
                mins::<T, NA>(m, dmin, b, &extras, &mut t);
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

/// [`convert`], lengths checked.
fn tile_convert<T: KType>(w: &[u8], nb: usize, tile: &mut [TileLine]) {
    assert!(w.len() >= nb * T::KK.group_block());
    assert!(tile.len() >= nb * T::KK.tile_lines());
    // SAFETY: handed out by `detect` only after the features were detected; the checks bound
    // every read and write.
    unsafe { convert::<T>(w.as_ptr(), nb, tile.as_mut_ptr()) }
}

/// Tiles against `NA` activation rows, lengths checked.
fn tile_group<T: KType, const NA: usize>(
    tile: &[TileLine],
    nb: usize,
    acts: Acts<'_>,
    y: &mut [f32],
    stride: usize,
    ahead: &[u8],
) {
    assert!(tile.len() >= nb * T::KK.tile_lines());
    assert!(acts.kblocks.len() >= NA * nb);
    assert!(stride >= GROUP && y.len() >= (NA - 1) * stride + GROUP);
    let e0 = acts.kblocks.as_ptr();
    let e: [_; NA] = std::array::from_fn(|j| e0.wrapping_add(j * nb));
    // SAFETY: handed out by `detect` only after the features were detected; the checks bound
    // every read and write.
    unsafe { run_tile::<T, NA>(tile.as_ptr(), nb, e, y.as_mut_ptr(), stride, ahead) }
}

/// The group against `NA` activation rows, lengths checked, asking the cache for `ahead`.
fn group<T: KType, const NA: usize, const ASK: bool>(
    w: &[u8],
    nb: usize,
    acts: Acts<'_>,
    y: &mut [f32],
    stride: usize,
    ahead: &[u8],
) {
    assert!(w.len() >= nb * T::KK.group_block());
    assert!(acts.kblocks.len() >= NA * nb);
    assert!(stride >= GROUP && y.len() >= (NA - 1) * stride + GROUP);
    let e0 = acts.kblocks.as_ptr();
    let e: [_; NA] = std::array::from_fn(|j| e0.wrapping_add(j * nb));
    // SAFETY: handed out by `detect` only after the features were detected; the checks bound
    // every read and write.
    unsafe { run::<T, NA, ASK>(w.as_ptr(), nb, e, y.as_mut_ptr(), stride, ahead) }
}

/// Decode: the group against one activation row, asking for the stream ahead.
fn one<T: KType>(w: &[u8], nb: usize, acts: Acts<'_>, y: &mut [f32], stride: usize) {
    group::<T, 1, true>(w, nb, acts, y, stride, &[])
}

/// The group, in cache, against one activation row: [`run`]'s unrolled sub-blocks without
/// the stream requests. Decode's loop (see [`run`]) is for weights coming from memory; with the
/// weights in cache this form was 5–17 % faster than the loop (Zen 4, every k-type, an
/// in-process A/B of 4- and 7-row prefills), and the requests between unrolled sub-blocks had
/// halved it.
fn row<T: KType>(w: &[u8], nb: usize, acts: Acts<'_>, y: &mut [f32], stride: usize) {
    group::<T, 1, false>(w, nb, acts, y, stride, &[])
}

/// The entries of type `T`.
fn kernels<T: KType>() -> GroupKernels {
    GroupKernels {
        one: one::<T>,
        row: row::<T>,
        eight: group::<T, 8, false>,
        tile: Some(TileKernels {
            convert: tile_convert::<T>,
            eight: tile_group::<T, 8>,
        }),
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
        T::Q2_K => Some(kernels::<TQ2K>()),
        T::Q3_K => Some(kernels::<TQ3K>()),
        T::Q4_K => Some(kernels::<TQ4K>()),
        T::Q5_K => Some(kernels::<TQ5K>()),
        T::Q6_K => Some(kernels::<TQ6K>()),
        T::IQ4_XS => Some(kernels::<TIQ4XS>()),
        _ => None,
    }
}
