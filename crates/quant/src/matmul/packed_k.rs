//! The packed layout of the k-quants Q2_K, Q3_K, Q4_K, Q5_K and Q6_K and of IQ4_XS: [`GROUP`] rows
//! interleaved per 256-element superblock, for the kernels of `packed_k_avx512` and
//! `packed_k_avx2`, with this module's plain twin ([`group_plain`], tests only) holding the same
//! float order. [`KKind`] holds each type's constants: one source of truth for the layout, the
//! repacking, the twin and the kernels.
//!
//! Every k-quant here is, per row and superblock, `w = d·sc_s·q − dmin·m_s` with unsigned
//! quants `q` and per-sub-block integer scales `sc_s`:
//! - Q4_K/Q5_K: eight sub-blocks of 32, 4- or 5-bit quants, unsigned 6-bit scales and mins;
//! - Q2_K: sixteen sub-blocks of 16, 2-bit quants, unsigned 4-bit scales and mins;
//! - Q6_K: sixteen sub-blocks of 16, 6-bit quants, signed 8-bit scales, and instead of the
//!   mins the offset 32 (`w = d·sc_s·(q − 32)`);
//! - Q3_K: sixteen sub-blocks of 16, 3-bit quants `q` (the two low bits, plus 4 where the
//!   `hmask` bit is set: ggml's signed quant plus 4), 6-bit scales less their bias 32 (stored
//!   signed), and the offset 4 (`w = d·sc_s·(q − 4)`);
//! - IQ4_XS: eight sub-blocks of 32, 4-bit indices into `kvalues_iq4nl` (the kernels read
//!   [`LUT`]`[index]`, the codebook value plus 128, by one byte shuffle), 6-bit scales less 32
//!   (stored signed), and the offset 128 (`w = d·sc_s·(LUT[i] − 128)`).
//!
//! The repacking is lossless and about the size of the GGUF rows (84, 114, 148, 180, 210 and
//! 138 bytes per row and superblock against 84, 110, 144, 176, 210 and 136): decode streams
//! about as many bytes as llama.cpp's.
//!
//! Group block (16 rows × one superblock), offsets in bytes, `r` the row, `s` the sub-block:
//! - `d[r]` f16 (32); Q2_K/Q4_K/Q5_K then `dmin[r]` f16 (32);
//! - scales `sc[s][r]` (8 × 16 or 16 × 16 bytes; Q3_K's and Q6_K's signed; Q2_K's the GGUF
//!   byte, scale in the low nibble and min in the high one);
//! - Q4_K/Q5_K: mins `m[s][r]` (8 × 16 bytes);
//! - the low bits (`l` = 4, or 2 for Q2_K/Q3_K, per value) in 64-byte chunks: chunk
//!   `(s / (8/l), c)` holds, for each row, the dword `c` (values `4c..4c+4`) of sub-block `s`
//!   at bit `l·(s mod 8/l)` of each byte (`l` = 4: even `s` in the low nibbles, odd `s` in the
//!   high ones);
//! - Q3_K/Q5_K/Q6_K: the high bits (`h` = 1 or 2 per value) in 64-byte chunks: chunk
//!   `(s / (8/h), c)` holds dword `c` of sub-block `s` at bit `h·(s mod 8/h)` of each byte;
//!   the quant is `lo | hi << l`.
//!
//! Activations ([`KActBlock`]): int8 with one f32 scale per 32 values (`da_k`), Q8_0's x86
//! rounding without its f16 scale. llama.cpp pairs the k-quants with Q8_K, one scale per 256
//! values; on real hidden states (SmolLM2's layer inputs) per-32 scales halve the activations'
//! quantization error, which dominates the KL divergence from the f32 reference (as
//! ik_llama.cpp's Q8_2_X4 does for these types).
//!
//! Float order, per output (weight row, activation row) and superblock, with exact integer
//! sums `i_s = seed_s + Σ q·a` over sub-block `s` (`seed_s = −32·Σa` for Q6_K, `−4·Σa` for
//! Q3_K, else 0), the exact products `ds_s = d·sc_s`, the activation scale `da_k` of the 32
//! values `k` and, for the mins, `F_s = da·Σa_s` over sub-block `s`, from `t = 0`:
//! - Q4_K/Q5_K: `t = fma(ds_s·da_s, i_s, t)` over `s`: one product and one FMA per sub-block;
//! - Q2_K/Q3_K/Q6_K, per 32 values `k` (sub-blocks `s = 2k, 2k+1`, one `da_k`):
//!   `x = ds_2k·i_2k`, `x = fma(ds_2k+1, i_2k+1, x)`, `t = fma(x, da_k, t)`: five vector
//!   operations per pair of 16-value sub-blocks with the conversions, where one product and
//!   one FMA each took six;
//! - Q2_K/Q4_K/Q5_K then the mins: `mn = fma(m_s, F_s, mn)` over `s` from 0 (8 or 16 terms)
//!   and `t = fma(−dmin, mn, t)`;
//!
//! then `acc = acc + t`. llama.cpp's x86 kernels fold the scales into integers: not its bits,
//! better accuracy (see `benches/kl-check.py`).

use super::packed::GROUP;
use crate::activation::quantize_block32;
use crate::dot::unpack::{q3_k_scales, q4_k_scales_mins};
use pine_gguf::{GgmlType, QK_K};

/// The per-type constants of the packed k-quant layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct KKind {
    /// Bytes of one GGUF block (superblock).
    pub wb: usize,
    /// Elements per sub-block (one scale each): 32 or 16.
    pub sb: usize,
    /// Low bits per value, in the low-bit chunks: 4, or 2 (Q3_K).
    pub lbits: usize,
    /// High bits per value beyond the low ones: 0 (Q4_K), 1 (Q5_K, Q3_K), 2 (Q6_K).
    pub hbits: usize,
    /// Whether the sub-blocks have mins (Q2_K, Q4_K, Q5_K); Q6_K and Q3_K instead have an
    /// offset.
    pub min: bool,
    /// Whether each sub-block's scale and min share one byte, the scale in the low nibble and
    /// the min in the high one (Q2_K, as in its GGUF block).
    pub nib: bool,
    /// Types with an offset: the row of [`KActBlock::seeds`] they start their integer sums
    /// from, 0 for Q6_K's offset 32, 1 for Q3_K's 4 (IQ4_XS: see [`KActBlock::seed`]).
    pub seed: usize,
    /// Whether the 4-bit quants index a codebook (IQ4_XS: `kvalues_iq4nl`), which the kernels
    /// apply with one byte shuffle per register: the quant is [`LUT`]`[q]`, the codebook
    /// value plus 128, and the offset 128.
    pub lut: bool,
}

/// The codebook of IQ4_XS and IQ4_NL (`kvalues_iq4nl`) plus 128, as unsigned bytes: the
/// `vpdpbusd` operand of both types' packed kernels (`packed::Kind::lut` uses it too).
pub(super) const LUT: [u8; 16] = {
    let mut t = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        t[i] = (crate::blocks::tables::KVALUES_IQ4NL[i] as i32 + 128) as u8;
        i += 1;
    }
    t
};

pub(super) const Q2_K: KKind = KKind {
    wb: 84,
    sb: 16,
    lbits: 2,
    hbits: 0,
    min: true,
    nib: true,
    seed: 0,
    lut: false,
};
pub(super) const Q3_K: KKind = KKind {
    wb: 110,
    sb: 16,
    lbits: 2,
    hbits: 1,
    min: false,
    nib: false,
    seed: 1,
    lut: false,
};
pub(super) const Q4_K: KKind = KKind {
    wb: 144,
    sb: 32,
    lbits: 4,
    hbits: 0,
    min: true,
    nib: false,
    seed: 0,
    lut: false,
};
pub(super) const Q5_K: KKind = KKind {
    wb: 176,
    sb: 32,
    lbits: 4,
    hbits: 1,
    min: true,
    nib: false,
    seed: 0,
    lut: false,
};
pub(super) const Q6_K: KKind = KKind {
    wb: 210,
    sb: 16,
    lbits: 4,
    hbits: 2,
    min: false,
    nib: false,
    seed: 0,
    lut: false,
};

pub(super) const IQ4_XS: KKind = KKind {
    wb: 136,
    sb: 32,
    lbits: 4,
    hbits: 0,
    min: false,
    nib: false,
    seed: 0,
    lut: true,
};

/// A packed k-quant type as a type, so the kernels see its constants at compile time.
pub(super) trait KType {
    /// The type's constants.
    const KK: KKind;
}

/// Q2_K as a [`KType`].
pub(super) struct TQ2K;
/// Q3_K as a [`KType`].
pub(super) struct TQ3K;
/// Q4_K as a [`KType`].
pub(super) struct TQ4K;
/// Q5_K as a [`KType`].
pub(super) struct TQ5K;
/// Q6_K as a [`KType`].
pub(super) struct TQ6K;
/// IQ4_XS as a [`KType`].
pub(super) struct TIQ4XS;
impl KType for TQ2K {
    const KK: KKind = Q2_K;
}
impl KType for TQ3K {
    const KK: KKind = Q3_K;
}
impl KType for TQ4K {
    const KK: KKind = Q4_K;
}
impl KType for TQ5K {
    const KK: KKind = Q5_K;
}
impl KType for TQ6K {
    const KK: KKind = Q6_K;
}
impl KType for TIQ4XS {
    const KK: KKind = IQ4_XS;
}

impl KKind {
    /// The kind of `ty`, when it is a packed k-quant.
    pub(super) fn of(ty: GgmlType) -> Option<KKind> {
        match ty {
            GgmlType::Q2_K => Some(Q2_K),
            GgmlType::Q3_K => Some(Q3_K),
            GgmlType::Q4_K => Some(Q4_K),
            GgmlType::Q5_K => Some(Q5_K),
            GgmlType::Q6_K => Some(Q6_K),
            GgmlType::IQ4_XS => Some(IQ4_XS),
            _ => None,
        }
    }

    /// Sub-blocks per superblock.
    #[inline(always)]
    pub(super) const fn subs(&self) -> usize {
        QK_K / self.sb
    }

    /// Dwords (four values) per sub-block.
    #[inline(always)]
    pub(super) const fn dwords(&self) -> usize {
        self.sb / 4
    }

    /// Offset of the scales in a group block.
    #[inline(always)]
    pub(super) const fn sc_at(&self) -> usize {
        if self.min {
            4 * GROUP
        } else {
            2 * GROUP
        }
    }

    /// Offset of the mins (Q4_K/Q5_K; Q2_K's share the scales' bytes).
    #[inline(always)]
    pub(super) const fn mn_at(&self) -> usize {
        self.sc_at() + if self.nib { 0 } else { self.subs() * GROUP }
    }

    /// Offset of the low-bit chunks.
    #[inline(always)]
    pub(super) const fn lo_at(&self) -> usize {
        let arrays = if self.min && !self.nib { 2 } else { 1 };
        self.sc_at() + arrays * self.subs() * GROUP
    }

    /// Whether the sub-blocks (of 16) are summed in pairs, one activation scale each
    /// (Q2_K, Q3_K, Q6_K), rather than one by one (Q4_K, Q5_K).
    #[inline(always)]
    pub(super) const fn pairs(&self) -> bool {
        self.sb == 16
    }

    /// The scale of a sub-block from its byte in the scales: Q3_K's and Q6_K's signed, Q2_K's
    /// the low nibble, else unsigned.
    #[cfg(test)]
    pub(super) const fn scale_of(&self, byte: u8) -> i32 {
        if !self.min {
            byte as i8 as i32
        } else if self.nib {
            (byte & 15) as i32
        } else {
            byte as i32
        }
    }

    /// The min of a sub-block from its byte in the mins (Q2_K: the high nibble).
    #[cfg(test)]
    pub(super) const fn min_of(&self, byte: u8) -> i32 {
        if self.nib {
            (byte >> 4) as i32
        } else {
            byte as i32
        }
    }

    /// Offset of the high-bit chunks.
    #[inline(always)]
    pub(super) const fn hi_at(&self) -> usize {
        self.lo_at() + QK_K * self.lbits / 8 * GROUP
    }

    /// Sub-blocks whose low bits share a byte.
    #[inline(always)]
    pub(super) const fn subs_per_lo_byte(&self) -> usize {
        8 / self.lbits
    }

    /// Sub-blocks whose high bits share a byte.
    #[inline(always)]
    pub(super) const fn subs_per_hi_byte(&self) -> usize {
        // Q4_K has no high bits: any non-zero divisor will do.
        8 / if self.hbits == 0 { 8 } else { self.hbits }
    }

    /// Offset of the chunk holding dword `c` of sub-block `s`'s low bits, and their bit.
    #[inline(always)]
    pub(super) const fn lo_chunk(&self, s: usize, c: usize) -> (usize, usize) {
        let per = self.subs_per_lo_byte();
        let at = self.lo_at() + 64 * ((s / per) * self.dwords() + c);
        (at, self.lbits * (s % per))
    }

    /// Offset of the chunk holding dword `c` of sub-block `s`'s high bits, and their bit.
    #[inline(always)]
    pub(super) const fn hi_chunk(&self, s: usize, c: usize) -> (usize, usize) {
        let per = self.subs_per_hi_byte();
        let at = self.hi_at() + 64 * ((s / per) * self.dwords() + c);
        (at, self.hbits * (s % per))
    }

    /// Bytes of one group block.
    #[inline(always)]
    pub(super) const fn group_block(&self) -> usize {
        self.hi_at() + QK_K * self.hbits / 8 * GROUP
    }
}

/// One 64-byte line of a converted tile ([`KKind::tile_lines`]), aligned so that every
/// 512-bit load of a tile is one cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
pub(super) struct TileLine(pub [u8; 64]);

impl Default for TileLine {
    fn default() -> TileLine {
        TileLine([0; 64])
    }
}

impl KKind {
    /// Lines of one superblock's tile: a group block converted for prefill, where each
    /// thread's task unpacks a group once and every eight activation rows then read plain
    /// bytes (the unpacking was a fifth of the vector work of Q5_K and Q6_K). Line by line,
    /// 16 lanes (rows) each:
    /// - [`tile_ds`](Self::tile_ds)`(s)`: `d·sc_s` as f32 (exact: an f16 times an integer
    ///   below 2⁷), one line per sub-block;
    /// - Q2_K/Q4_K/Q5_K: [`tile_m`](Self::tile_m)`(s)`: the mins `m_s` as f32 (one line per
    ///   sub-block), then [`tile_dmin`](Self::tile_dmin): `dmin` as f32;
    /// - [`tile_q`](Self::tile_q)`(s, c)`: dword `c` of sub-block `s`, the whole unsigned
    ///   quants (`lo | hi << lbits`) of the 16 rows, four bytes each.
    ///
    /// 80 lines (Q3_K, Q6_K), 81 (Q4_K, Q5_K) or 97 (Q2_K): 5.1 to 6.2 KB per superblock.
    #[inline(always)]
    pub(super) const fn tile_lines(&self) -> usize {
        self.tile_q(0, 0) + QK_K / 4
    }

    /// Line of `d·sc_s`.
    #[inline(always)]
    pub(super) const fn tile_ds(&self, s: usize) -> usize {
        s
    }

    /// Line of the min `m_s` (Q2_K/Q4_K/Q5_K).
    #[inline(always)]
    pub(super) const fn tile_m(&self, s: usize) -> usize {
        self.subs() + s
    }

    /// Line of `dmin` (Q2_K/Q4_K/Q5_K).
    #[inline(always)]
    pub(super) const fn tile_dmin(&self) -> usize {
        2 * self.subs()
    }

    /// Line of dword `c` of sub-block `s`'s quants.
    #[inline(always)]
    pub(super) const fn tile_q(&self, s: usize, c: usize) -> usize {
        self.subs() + if self.min { self.subs() + 1 } else { 0 } + s * self.dwords() + c
    }
}

/// One GGUF superblock, decoded to integers: `d`, `dmin` (0 for Q6_K and Q3_K), per sub-block
/// scales (Q3_K's with its bias 32 taken off) and (Q2_K/Q4_K/Q5_K) mins, and the 256 unsigned
/// quants (Q3_K's: ggml's signed quant plus 4).
struct Decoded {
    d: [u8; 2],
    dmin: [u8; 2],
    sc: [i8; 16],
    mn: [u8; 16],
    q: [u8; QK_K],
}

/// Decodes superblock `x` of `kk`'s type (the GGUF layouts of ggml's `block_q2_K`, `block_q3_K`,
/// `block_q4_K`, `block_q5_K`, `block_q6_K`).
fn decode(kk: &KKind, x: &[u8]) -> Decoded {
    let mut out = Decoded {
        d: [0; 2],
        dmin: [0; 2],
        sc: [0; 16],
        mn: [0; 16],
        q: [0; QK_K],
    };
    if kk.lut {
        // IQ4_XS: `d`, `scales_h` (u16: two high bits per sub-block), `scales_l[4]` (a low
        // nibble per sub-block), `qs[128]`: value `j` of sub-block `s` in the low nibble of
        // `qs[16s + j]` (j < 16) or the high one of `qs[16s + j − 16]`.
        out.d.copy_from_slice(&x[0..2]);
        let h = u16::from_le_bytes([x[2], x[3]]);
        for (s, o) in out.sc.iter_mut().take(8).enumerate() {
            let lo = (x[4 + s / 2] >> (4 * (s % 2))) & 15;
            let hi = ((h >> (2 * s)) & 3) as u8;
            *o = (i32::from(lo | (hi << 4)) - 32) as i8; // 6-bit less 32: fits
        }
        for (v, q) in out.q.iter_mut().enumerate() {
            let (s, j) = (v / 32, v % 32);
            *q = (x[8 + 16 * s + j % 16] >> (4 * (j / 16))) & 15;
        }
    } else if kk.nib {
        // Q2_K: `scales[16]` (scale | min << 4), `qs[64]`, `d`, `dmin`; value `v` as Q3_K's
        // low bits, at bit `2j` of `qs[32n + l]`.
        out.d.copy_from_slice(&x[80..82]);
        out.dmin.copy_from_slice(&x[82..84]);
        for (s, &b) in x[..16].iter().enumerate() {
            out.sc[s] = (b & 15) as i8;
            out.mn[s] = b >> 4;
        }
        for (v, q) in out.q.iter_mut().enumerate() {
            let (n, j, l) = (v / 128, v / 32 % 4, v % 32);
            *q = (x[16 + 32 * n + l] >> (2 * j)) & 3;
        }
    } else if kk.lbits == 2 {
        // Q3_K: `hmask[32]`, `qs[64]`, `scales[12]`, `d`; value `v` (`n = v / 128`,
        // `j = v / 32 mod 4`, `l = v mod 32`) has its low bits at bit `2j` of `qs[32n + l]` and
        // its third bit (ggml: set for the low bits as they are, clear for them less 4) at bit
        // `4n + j` of `hmask[l]`.
        out.d.copy_from_slice(&x[108..110]);
        for (o, v) in out.sc.iter_mut().zip(q3_k_scales(&x[96..108])) {
            *o = (i32::from(v) - 32) as i8; // 6-bit less 32: fits
        }
        for (v, q) in out.q.iter_mut().enumerate() {
            let (n, j, l) = (v / 128, v / 32 % 4, v % 32);
            let lo = (x[32 + 32 * n + l] >> (2 * j)) & 3;
            let hi = (x[l] >> (4 * n + j)) & 1;
            *q = lo | (hi << 2);
        }
    } else if kk.min {
        out.d.copy_from_slice(&x[0..2]);
        out.dmin.copy_from_slice(&x[2..4]);
        let (sc, mn) = q4_k_scales_mins(&x[4..16]);
        for (o, v) in out.sc.iter_mut().zip(sc) {
            *o = v as i8; // 6-bit: fits
        }
        out.mn[..8].copy_from_slice(&mn);
        let qs = if kk.hbits == 1 {
            &x[48..176]
        } else {
            &x[16..144]
        };
        for j in 0..QK_K / 64 {
            for l in 0..32 {
                out.q[64 * j + l] = qs[32 * j + l] & 15;
                out.q[64 * j + 32 + l] = qs[32 * j + l] >> 4;
            }
        }
        if kk.hbits == 1 {
            for (v, q) in out.q.iter_mut().enumerate() {
                *q |= ((x[16 + v % 32] >> (v / 32)) & 1) << 4;
            }
        }
    } else {
        out.d.copy_from_slice(&x[208..210]);
        for (o, &v) in out.sc.iter_mut().zip(&x[192..208]) {
            *o = v as i8;
        }
        for h in 0..2 {
            let (ql, qh) = (&x[64 * h..64 * h + 64], &x[128 + 32 * h..128 + 32 * h + 32]);
            let q = &mut out.q[128 * h..128 * h + 128];
            for l in 0..32 {
                q[l] = (ql[l] & 15) | ((qh[l] & 3) << 4);
                q[l + 32] = (ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4);
                q[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                q[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
            }
        }
    }
    out
}

/// Interleaves one group of 16 GGUF rows (`src`, stride `rb`) into `dst` (`nb` group blocks).
/// Every byte of `dst` is written (a model's load runs this over every k-quant weight).
pub(super) fn pack_group(kk: &KKind, src: &[u8], rb: usize, dst: &mut [u8]) {
    let gb = kk.group_block();
    let (sb, dw) = (kk.sb, kk.dwords());
    for (b, out) in dst.chunks_exact_mut(gb).enumerate() {
        for r in 0..GROUP {
            let x = decode(kk, &src[r * rb + b * kk.wb..r * rb + (b + 1) * kk.wb]);
            out[2 * r..2 * r + 2].copy_from_slice(&x.d);
            for (s, &sc) in x.sc.iter().take(kk.subs()).enumerate() {
                out[kk.sc_at() + GROUP * s + r] = sc as u8;
            }
            if kk.min {
                out[2 * GROUP + 2 * r..2 * GROUP + 2 * r + 2].copy_from_slice(&x.dmin);
                for (s, &m) in x.mn.iter().take(kk.subs()).enumerate() {
                    let at = kk.mn_at() + GROUP * s + r;
                    if kk.nib {
                        out[at] |= m << 4; // beside the scale written above
                    } else {
                        out[at] = m;
                    }
                }
            }
            let (per, low) = (kk.subs_per_lo_byte(), (1 << kk.lbits) - 1);
            for g in 0..kk.subs() / per {
                for c in 0..dw {
                    let at = kk.lo_chunk(g * per, c).0 + 4 * r;
                    for (t, o) in out[at..at + 4].iter_mut().enumerate() {
                        *o = (0..per).fold(0, |v, k| {
                            v | (x.q[(g * per + k) * sb + 4 * c + t] & low) << (kk.lbits * k)
                        });
                    }
                }
            }
            let per = kk.subs_per_hi_byte();
            for g in (0..kk.subs() / per).filter(|_| kk.hbits > 0) {
                for c in 0..dw {
                    let at = kk.hi_chunk(g * per, c).0 + 4 * r;
                    for (t, o) in out[at..at + 4].iter_mut().enumerate() {
                        *o = (0..per).fold(0, |v, k| {
                            v | (x.q[(g * per + k) * sb + 4 * c + t] >> kk.lbits) << (kk.hbits * k)
                        });
                    }
                }
            }
        }
    }
}

/// 256 activations as the k-quant kernels read them: int8 quants `qs` with one f32 scale `d`
/// per 32 values, for the mins (Q4_K/Q5_K) `fs[k] = d[k]·Σqs` over those 32 values and (Q2_K)
/// `fs16[s] = d[s/2]·Σqs` over the 16 values of sub-block `s`, and the
/// seeds of the sixteen 16-value sub-blocks, `seeds[0][s] = −32·Σqs` (Q6_K) and
/// `seeds[1][s] = −4·Σqs` (Q3_K). One pointer per activation row
/// reaches everything: eight rows' quants and extras in separate arrays took sixteen pointers,
/// more than the general registers, and the kernel reloaded them from the stack.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(super) struct KActBlock {
    pub d: [f32; 8],
    pub fs: [f32; 8],
    pub fs16: [f32; 16],
    pub seeds: [[i32; 16]; 2],
    pub qs: [i8; QK_K],
}

impl Default for KActBlock {
    fn default() -> KActBlock {
        KActBlock {
            d: [0.0; 8],
            fs: [0.0; 8],
            fs16: [0.0; 16],
            seeds: [[0; 16]; 2],
            qs: [0; QK_K],
        }
    }
}

impl KActBlock {
    /// The integer sum sub-block `s` of `kk` starts from: its offset's seed (Q6_K, Q3_K, and
    /// IQ4_XS's 128: `−128·Σqs` over 32 values, four times two of Q6_K's), else 0.
    #[inline(always)]
    pub(super) fn seed(&self, kk: &KKind, s: usize) -> i32 {
        if kk.min {
            0
        } else if kk.lut {
            4 * (self.seeds[0][2 * s] + self.seeds[0][2 * s + 1])
        } else {
            self.seeds[kk.seed][s]
        }
    }
}

/// Quantizes the activation row `x` (`out.len()` blocks of 256) into `out`.
pub(super) fn act_blocks(x: &[f32], out: &mut [KActBlock]) {
    for (xb, o) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let mut q = [0u8; 32];
        for k in 0..8 {
            let (d, sum) = quantize_block32(&xb[32 * k..32 * k + 32], &mut q);
            o.d[k] = d;
            o.fs[k] = d * sum as f32;
            for (a, &b) in o.qs[32 * k..32 * k + 32].iter_mut().zip(&q) {
                *a = b as i8;
            }
        }
        for s in 0..16 {
            let sum: i32 = o.qs[16 * s..16 * s + 16]
                .iter()
                .map(|&v| i32::from(v))
                .sum();
            o.fs16[s] = o.d[s / 2] * sum as f32;
            o.seeds[0][s] = -32 * sum;
            o.seeds[1][s] = -4 * sum;
        }
    }
}

/// The plain twin of the kernels: the outputs of group `w` (`nb` group blocks) for the
/// activation rows `extras` (each `nb` blocks), row `j`'s to `y[j]`.
#[cfg(test)]
pub(super) fn group_plain(
    kk: &KKind,
    w: &[u8],
    nb: usize,
    extras: &[&[KActBlock]],
    y: &mut [[f32; GROUP]],
) {
    use crate::dot::bytes::f16_at;
    let gb = kk.group_block();
    for (ex, yj) in extras.iter().zip(y.iter_mut()) {
        for (r, out) in yj.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for b in 0..nb {
                let p = &w[b * gb..(b + 1) * gb];
                let e = &ex[b];
                let d = f16_at(p, 2 * r);
                let mut t = 0.0f32;
                // Per 32 activation values (one scale `da`): one sub-block (Q4_K/Q5_K) or two.
                let per = 32 / kk.sb;
                for k in 0..8 {
                    let mut x = 0.0f32;
                    for s in per * k..per * (k + 1) {
                        let mut isum = e.seed(kk, s);
                        for v in 0..kk.sb {
                            let q = i32::from(quant_plain(kk, p, r, s, v));
                            isum += q * i32::from(e.qs[s * kk.sb + v]);
                        }
                        let sc = kk.scale_of(p[kk.sc_at() + GROUP * s + r]) as f32;
                        if !kk.pairs() {
                            t = ((d * sc) * e.d[k]).mul_add(isum as f32, t);
                        } else if s == per * k {
                            x = (d * sc) * isum as f32;
                        } else {
                            x = (d * sc).mul_add(isum as f32, x);
                        }
                    }
                    if kk.pairs() {
                        t = x.mul_add(e.d[k], t);
                    }
                }
                if kk.min {
                    let mut mn = 0.0f32;
                    let fs = if kk.pairs() { &e.fs16[..] } else { &e.fs[..] };
                    for (s, &f) in fs.iter().enumerate() {
                        let m = kk.min_of(p[kk.mn_at() + GROUP * s + r]) as f32;
                        mn = m.mul_add(f, mn);
                    }
                    t = (-f16_at(p, 2 * GROUP + 2 * r)).mul_add(mn, t);
                }
                acc += t;
            }
            *out = acc;
        }
    }
}

/// Value `v` of sub-block `s` of row `r` in the group block `p`, unsigned (`lo | hi << lbits`;
/// IQ4_XS: its [`LUT`] entry).
#[cfg(test)]
fn quant_plain(kk: &KKind, p: &[u8], r: usize, s: usize, v: usize) -> u8 {
    let (c, k) = (v / 4, v % 4);
    let (at, bit) = kk.lo_chunk(s, c);
    let lo = (p[at + 4 * r + k] >> bit) & ((1 << kk.lbits) - 1);
    let (at, bit) = kk.hi_chunk(s, c);
    let hi = if kk.hbits > 0 {
        (p[at + 4 * r + k] >> bit) & ((1 << kk.hbits) - 1)
    } else {
        0
    };
    let q = lo | (hi << kk.lbits);
    if kk.lut {
        LUT[usize::from(q)]
    } else {
        q
    }
}

/// The plain twin of the tile conversion: the `nb` group blocks of `w` as tiles (`out`: `nb`
/// tiles of [`KKind::tile_lines`] lines, superblock after superblock).
#[cfg(test)]
pub(super) fn tile_plain(kk: &KKind, w: &[u8], nb: usize, out: &mut [TileLine]) {
    use crate::dot::bytes::f16_at;
    let (gb, tl) = (kk.group_block(), kk.tile_lines());
    let put = |line: &mut TileLine, r: usize, v: f32| {
        line.0[4 * r..4 * r + 4].copy_from_slice(&v.to_le_bytes());
    };
    for (b, t) in out.chunks_exact_mut(tl).take(nb).enumerate() {
        let p = &w[b * gb..(b + 1) * gb];
        for r in 0..GROUP {
            let d = f16_at(p, 2 * r);
            for s in 0..kk.subs() {
                let sc = kk.scale_of(p[kk.sc_at() + GROUP * s + r]) as f32;
                put(&mut t[kk.tile_ds(s)], r, d * sc);
                for c in 0..kk.dwords() {
                    for k in 0..4 {
                        t[kk.tile_q(s, c)].0[4 * r + k] = quant_plain(kk, p, r, s, 4 * c + k);
                    }
                }
            }
            if kk.min {
                for s in 0..kk.subs() {
                    let m = kk.min_of(p[kk.mn_at() + GROUP * s + r]) as f32;
                    put(&mut t[kk.tile_m(s)], r, m);
                }
                put(&mut t[kk.tile_dmin()], r, f16_at(p, 2 * GROUP + 2 * r));
            }
        }
    }
}
