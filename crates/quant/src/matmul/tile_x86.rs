//! x86 prefill micro-kernels for the 32-element block types that keep llama.cpp's eight-lane
//! float order (Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL; Q4_0 follows llama.cpp's repacked block order,
//! `dot::scalar::legacy::q4_0`): `MR` weight rows × [`NR`] activation rows per call, every
//! weight block unpacked once and reused for the `NR` activation rows, every activation block
//! reused for the `MR` weight rows.
//!
//! Bit-exactness with the per-pair kernels (`dot::x86::legacy`): each (weight row, activation
//! row) pair keeps its own eight-lane accumulator and sees, per block, exactly the operations
//! of the per-pair kernel: lane `l` of the integer sum is `Σ x·y` over bytes `4l..4l+4` (exact),
//! converted to f32, then `acc = fma(dx·dy, sum, acc)`; the Q4_1/Q5_1 min term is the same
//! sequential `extra = fma(mx, sy, extra)`; the result is the same `hsum(acc) + extra`.
//!
//! The integer sums use unsigned weights: `x = u − c` with `u ≥ 0` (`c` = 16 for Q5_0, 128 for
//! Q8_0/IQ4_NL, 0 for Q4_1/Q5_1), so `Σ x·y = Σ u·y − c·Σ y`. The packed
//! activations carry `−c·Σ y` per lane, which seeds `vpdpbusd` — one instruction per pair and
//! block, the same exact lane integers the sign trick gives.

use std::arch::x86_64::*;

use crate::dot::x86::prims::{bytes_from_bits32, hsum_ps, nibbles32};

/// Activation rows per micro-kernel call (one panel).
pub(super) const NR: usize = 4;

/// The packing and kernel parameters of one weight type.
#[derive(Clone, Copy, Debug)]
pub(super) struct Format {
    /// Bytes of one weight block.
    pub wb: usize,
    /// Bytes of one quantized activation block (34 for Q8_0, 36 for Q8_1).
    pub ab: usize,
    /// The weight offset `c` (`x = u − c`); 0 when the weights are unsigned already.
    pub c: i32,
    /// Whether the type has a min term (Q4_1/Q5_1 × Q8_1).
    pub q81: bool,
}

impl Format {
    /// Bytes of one packed panel block: `NR` × 32 quants, then `NR` × 8 lane offsets when
    /// `c ≠ 0`, `NR` f32 scales, and `NR` f32 sums when `q81`.
    pub fn panel_block(&self) -> usize {
        NR * 32 + if self.c != 0 { NR * 32 } else { 0 } + NR * 4 + if self.q81 { NR * 4 } else { 0 }
    }

    /// Packs up to `NR` quantized activation rows (`rows`, each `nb` blocks of `ab` bytes) into
    /// one panel of `nb` packed blocks; missing rows are zero.
    pub fn pack(&self, rows: &[&[u8]], nb: usize, panel: &mut [u8]) {
        let pb = self.panel_block();
        let qoff = if self.q81 { 4 } else { 2 };
        for (b, dst) in panel.chunks_exact_mut(pb).take(nb).enumerate() {
            dst.fill(0);
            let at = NR * 32;
            for (j, row) in rows.iter().enumerate() {
                let src = &row[b * self.ab..(b + 1) * self.ab];
                let qs = &src[qoff..qoff + 32];
                dst[32 * j..32 * j + 32].copy_from_slice(qs);
                if self.c != 0 {
                    for l in 0..8 {
                        let s: i32 = qs[4 * l..4 * l + 4]
                            .iter()
                            .map(|&q| i32::from(q as i8))
                            .sum();
                        let o = at + 32 * j + 4 * l;
                        dst[o..o + 4].copy_from_slice(&(-self.c * s).to_le_bytes());
                    }
                }
                let f = |o: usize| half::f16::from_le_bytes([src[o], src[o + 1]]).to_f32();
                let dat = at + if self.c != 0 { NR * 32 } else { 0 };
                dst[dat + 4 * j..dat + 4 * j + 4].copy_from_slice(&f(0).to_le_bytes());
                if self.q81 {
                    let sat = dat + NR * 4;
                    dst[sat + 4 * j..sat + 4 * j + 4].copy_from_slice(&f(2).to_le_bytes());
                }
            }
        }
    }
}

/// A safe micro-kernel: `(weights from the first of MR rows, row stride, panel, blocks)` →
/// `out[i][j]` for weight row `i`, panel row `j`.
pub(super) type TileFn<const MR: usize> = fn(&[u8], usize, &[u8], usize) -> [[f32; NR]; MR];

/// A safe prefill entry: `(weights from the first of out.len() rows, row stride, panel,
/// blocks, out)` → `out[i][j]` for weight row `i`, panel row `j`; runs the widest kernel the ISA
/// has over groups of [`Tile::mr`] rows and a one-row kernel over the rest.
pub(super) type PrefillFn = fn(&[u8], usize, &[u8], usize, &mut [[f32; NR]]);

/// The kernels for one weight type: prefill (all `NR` panel rows, `mr` weight rows per
/// micro-kernel call); decode (panel row 0 only) with `MR` = 4 and the one-row remainder.
#[derive(Clone, Copy)]
pub(super) struct Tile {
    pub fmt: Format,
    pub mr: usize,
    pub prefill: PrefillFn,
    pub d4: TileFn<4>,
    pub d1: TileFn<1>,
}

/// The f16 at `p`, widened with F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn f16_at(p: *const u8) -> f32 {
    let bits = i32::from(p.cast::<u16>().read_unaligned());
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits)))
}

macro_rules! tile_kernels {
    ($feat:literal, $dp:path) => {
        use super::*;
        use crate::blocks::tables::KVALUES_IQ4NL;

        /// The shared micro-kernel; `ux(block)` builds the 32 unsigned weight bytes.
        ///
        /// # Safety
        /// `w` must hold `MR` rows of stride `rb`, each `nb` blocks of `fmt.wb` bytes; `pan` must
        /// hold `nb` packed blocks.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn run<const MR: usize, const NRR: usize>(
            w: *const u8,
            rb: usize,
            pan: *const u8,
            nb: usize,
            fmt: Format,
            ux: impl Fn(*const u8) -> __m256i,
        ) -> [[f32; NR]; MR] {
            let pb = fmt.panel_block();
            let has_c = fmt.c != 0;
            let doff = NR * 32 + if has_c { NR * 32 } else { 0 };
            let mut acc = [[_mm256_setzero_ps(); NR]; MR];
            let mut ext = [_mm_setzero_ps(); MR];
            for b in 0..nb {
                let p = pan.add(b * pb);
                let mut u = [_mm256_setzero_si256(); MR];
                let mut dx = [_mm256_setzero_ps(); MR];
                for i in 0..MR {
                    let x = w.add(i * rb + b * fmt.wb);
                    u[i] = ux(x);
                    dx[i] = _mm256_set1_ps(f16_at(x));
                }
                for j in 0..NRR {
                    let y = _mm256_loadu_si256(p.add(32 * j).cast());
                    let seed = if has_c {
                        _mm256_loadu_si256(p.add(NR * 32 + 32 * j).cast())
                    } else {
                        _mm256_setzero_si256()
                    };
                    let dy = _mm256_broadcast_ss(&*p.add(doff + 4 * j).cast::<f32>());
                    for i in 0..MR {
                        let s = $dp(seed, u[i], y);
                        let d = _mm256_mul_ps(dx[i], dy);
                        acc[i][j] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc[i][j]);
                    }
                }
                if fmt.q81 {
                    let sy = _mm_loadu_ps(p.add(doff + NR * 4).cast());
                    for i in 0..MR {
                        let mx = _mm_set1_ps(f16_at(w.add(i * rb + b * fmt.wb + 2)));
                        ext[i] = _mm_fmadd_ps(mx, sy, ext[i]);
                    }
                }
            }
            let mut out = [[0.0f32; NR]; MR];
            for i in 0..MR {
                let mut e = [0.0f32; NR];
                _mm_storeu_ps(e.as_mut_ptr(), ext[i]);
                for j in 0..NR {
                    out[i][j] = hsum_ps(acc[i][j]) + e[j];
                }
            }
            out
        }

        /// Instantiates the safe entry points of one type.
        macro_rules! ty {
            ($name:ident, $fmt:expr, $ux:expr) => {
                pub(in crate::matmul) mod $name {
                    use super::*;

                    #[target_feature(enable = $feat)]
                    unsafe fn kern<const MR: usize, const NRR: usize>(
                        w: *const u8,
                        rb: usize,
                        pan: *const u8,
                        nb: usize,
                    ) -> [[f32; NR]; MR] {
                        run::<MR, NRR>(w, rb, pan, nb, $fmt, $ux)
                    }

                    /// Checks the lengths, then runs the kernel for the first `NRR` panel rows.
                    pub(in crate::matmul) fn tile<const MR: usize, const NRR: usize>(
                        w: &[u8],
                        rb: usize,
                        pan: &[u8],
                        nb: usize,
                    ) -> [[f32; NR]; MR] {
                        let fmt: Format = $fmt;
                        assert!(nb * fmt.wb <= rb && (MR - 1) * rb + nb * fmt.wb <= w.len());
                        assert!(nb * fmt.panel_block() <= pan.len());
                        // SAFETY: `tile` is handed out only after the features were detected;
                        // the asserts bound every read.
                        unsafe { kern::<MR, NRR>(w.as_ptr(), rb, pan.as_ptr(), nb) }
                    }

                    /// Prefill over `out.len()` weight rows: three rows per call, then one.
                    pub(in crate::matmul) fn prefill(
                        w: &[u8],
                        rb: usize,
                        pan: &[u8],
                        nb: usize,
                        out: &mut [[f32; NR]],
                    ) {
                        let mut i = 0;
                        while i + 3 <= out.len() {
                            out[i..i + 3].copy_from_slice(&tile::<3, NR>(
                                &w[i * rb..],
                                rb,
                                pan,
                                nb,
                            ));
                            i += 3;
                        }
                        for (k, o) in out.iter_mut().enumerate().skip(i) {
                            *o = tile::<1, NR>(&w[k * rb..], rb, pan, nb)[0];
                        }
                    }
                }
            };
        }

        ty!(q4_1, super::Q4_1, |p: *const u8| nibbles32(p.add(4)));
        ty!(q5_0, super::Q5_0, |p: *const u8| {
            let hi = _mm256_and_si256(bytes_from_bits32(p.add(2)), _mm256_set1_epi8(0x10));
            _mm256_or_si256(nibbles32(p.add(6)), hi)
        });
        ty!(q5_1, super::Q5_1, |p: *const u8| {
            let hi = _mm256_and_si256(bytes_from_bits32(p.add(4)), _mm256_set1_epi8(0x10));
            _mm256_or_si256(nibbles32(p.add(8)), hi)
        });
        ty!(q8_0, super::Q8_0, |p: *const u8| {
            _mm256_xor_si256(_mm256_loadu_si256(p.add(2).cast()), _mm256_set1_epi8(-128))
        });
        ty!(iq4_nl, super::IQ4_NL, |p: *const u8| {
            let t = _mm_loadu_si128(KVALUES_IQ4NL.as_ptr().cast());
            let table = _mm256_set_m128i(t, t);
            _mm256_xor_si256(
                _mm256_shuffle_epi8(table, nibbles32(p.add(2))),
                _mm256_set1_epi8(-128),
            )
        });
    };
}

pub(super) const Q4_1: Format = Format {
    wb: 20,
    ab: 36,
    c: 0,
    q81: true,
};
pub(super) const Q5_0: Format = Format {
    wb: 22,
    ab: 34,
    c: 16,
    q81: false,
};
pub(super) const Q5_1: Format = Format {
    wb: 24,
    ab: 36,
    c: 0,
    q81: true,
};
pub(super) const Q8_0: Format = Format {
    wb: 34,
    ab: 34,
    c: 128,
    q81: false,
};
pub(super) const IQ4_NL: Format = Format {
    wb: 18,
    ab: 34,
    c: 128,
    q81: false,
};

/// `seed + Σ u·y` per lane with the AVX-512 VNNI (256-bit EVEX) `vpdpbusd`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
fn dp_avx512vnni(seed: __m256i, u: __m256i, y: __m256i) -> __m256i {
    _mm256_dpbusd_epi32(seed, u, y)
}

/// The same with AVX-VNNI (VEX `vpdpbusd`).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avxvnni")]
fn dp_avxvnni(seed: __m256i, u: __m256i, y: __m256i) -> __m256i {
    _mm256_dpbusd_avx_epi32(seed, u, y)
}

/// The same with maddubs + madd: exact only while every pair sum `u·y + u'·y'` fits i16, i.e.
/// for `u ≤ 31` (Q4_1, Q5_0, Q5_1), never for Q8_0 / IQ4_NL.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dp_avx2(seed: __m256i, u: __m256i, y: __m256i) -> __m256i {
    let p = _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), _mm256_set1_epi16(1));
    _mm256_add_epi32(seed, p)
}

mod avx512vnni {
    tile_kernels!("avx2,fma,f16c,avx512vnni,avx512vl", super::dp_avx512vnni);
}

mod avxvnni {
    tile_kernels!("avx2,fma,f16c,avxvnni", super::dp_avxvnni);
}

mod avx2 {
    tile_kernels!("avx2,fma,f16c", super::dp_avx2);
}

/// The micro-kernels for `ty` on this CPU, or `None` (other types, no AVX2, or Q8_0/IQ4_NL
/// without VNNI).
pub(super) fn detect(ty: pine_gguf::GgmlType) -> Option<Tile> {
    use pine_gguf::GgmlType as T;
    if !(is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c"))
    {
        return None;
    }
    macro_rules! pick {
        ($isa:ident) => {
            match ty {
                T::Q4_1 => Some(Tile {
                    fmt: Q4_1,
                    mr: 3,
                    prefill: $isa::q4_1::prefill,
                    d4: $isa::q4_1::tile::<4, 1>,
                    d1: $isa::q4_1::tile::<1, 1>,
                }),
                T::Q5_0 => Some(Tile {
                    fmt: Q5_0,
                    mr: 3,
                    prefill: $isa::q5_0::prefill,
                    d4: $isa::q5_0::tile::<4, 1>,
                    d1: $isa::q5_0::tile::<1, 1>,
                }),
                T::Q5_1 => Some(Tile {
                    fmt: Q5_1,
                    mr: 3,
                    prefill: $isa::q5_1::prefill,
                    d4: $isa::q5_1::tile::<4, 1>,
                    d1: $isa::q5_1::tile::<1, 1>,
                }),
                T::Q8_0 => Some(Tile {
                    fmt: Q8_0,
                    mr: 3,
                    prefill: $isa::q8_0::prefill,
                    d4: $isa::q8_0::tile::<4, 1>,
                    d1: $isa::q8_0::tile::<1, 1>,
                }),
                T::IQ4_NL => Some(Tile {
                    fmt: IQ4_NL,
                    mr: 3,
                    prefill: $isa::iq4_nl::prefill,
                    d4: $isa::iq4_nl::tile::<4, 1>,
                    d1: $isa::iq4_nl::tile::<1, 1>,
                }),
                _ => None,
            }
        };
    }
    let tile = if is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512vl") {
        pick!(avx512vnni)
    } else if is_x86_feature_detected!("avxvnni") {
        pick!(avxvnni)
    } else if matches!(ty, T::Q8_0 | T::IQ4_NL) {
        None
    } else {
        pick!(avx2)
    };
    match (tile, super::tile_avx512::detect(ty)) {
        (Some(t), Some(prefill)) => Some(Tile {
            mr: super::tile_avx512::MR,
            prefill,
            ..t
        }),
        (t, _) => t,
    }
}
