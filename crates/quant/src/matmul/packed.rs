//! Weights repacked at load time, [`GROUP`] rows interleaved, for the 512-bit kernels of Q4_0,
//! Q4_1, Q5_0 and Q8_0 (`packed_avx512`), the 256-bit ones of Q4_0 and Q5_0 (`packed_avx2`), and
//! the 512- and 256-bit ones of the k-quants Q2_K to Q6_K (`packed_k`, `packed_k_avx512`,
//! `packed_k_avx2`: their own layout and float order, described there; the rest of this page is
//! about the 32-element types).
//!
//! Why: a 512-bit register then holds the same four weight bytes of 16 rows, so one `vpdpbusd`
//! against a broadcast activation dword advances 16 (row, activation) pairs, and the float work
//! of a block is shared by 16 pairs. Q4_0, Q4_1 and Q8_0 keep the float order of their per-pair
//! kernels, which is llama.cpp's on x86: Q4_0 the block order of its repacked kernels (one
//! convert and one FMA per block), Q4_1 and Q8_0 the eight-lane order (lane `l` sums bytes
//! `4l..4l+4`, accumulated per lane, `hsum_ps`'s tree at the end); their every output is
//! bit-identical to the per-pair kernel. Q5_0 (llama-quantize's fallback for Q4_K_M's attention
//! and gate/up tensors when the width is not a multiple of 256) runs in the block order too,
//! not its per-pair kernels' eight lanes: one convert and one FMA per block instead of eight
//! each, and fewer roundings; `block_order_plain` is its plain twin (tests only). The outputs
//! of 16 rows come out as one vector, already in `y`'s layout.
//!
//! Layout: full groups of 16 rows back to back; a group is its `nb` blocks in order; a group
//! block is the 16 rows' f16 scales `d[16]`, (Q4_1) their f16 mins `m[16]`, (Q5_0) the fifth
//! bits as eight 64-bit masks (`HI_BYTES`), then the quants in chunks of 64 bytes: chunk `c`
//! holds bytes `4c..4c+4` of each row's quants, row after row (so register `l` of the unpacked
//! nibbles holds values `4l..4l+4` of every row, and mask `l` sets their fifth bits). Q5_0 keeps
//! its 22 bytes per row and block. Q8_0 quants are stored as `x ^ 0x80` (`x + 128`, unsigned).
//! Rows past the last full group stay in the GGUF layout (`tail`) and go through the per-pair
//! kernel.

use std::ops::Range;

use pine_gguf::GgmlType;
use pine_pool::Pool;

use super::packed_k::{self, KActBlock, KKind, TileLine};
use super::{check_len, MatmulScratch};
use crate::activation::{activation_type, quantize_activation_row};
use crate::dot::{kernels, DotFn};
use crate::huge::HugeBuf;
use crate::QuantError;

/// Rows per interleaved group: the f32 lanes of a 512-bit register.
pub const GROUP: usize = 16;

/// Activation rows per prefill kernel call.
const NA: usize = 8;

/// The per-type constants of the packed layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Kind {
    /// Bytes of one GGUF block.
    pub wb: usize,
    /// Byte offset of the quants within a GGUF block.
    pub qoff: usize,
    /// Whether the block has a min (Q4_1).
    pub min: bool,
    /// Whether the quants are packed nibbles (Q4_0, Q4_1, Q5_0) rather than bytes (Q8_0).
    pub nibbles: bool,
    /// Whether a fifth bit per value completes the nibbles (Q5_0's `qh`, at byte 2 of a block).
    pub hi: bool,
    /// The weight offset `c` (`x = u − c`, `u` the stored unsigned value).
    pub c: i32,
    /// Bytes of one quantized activation block (Q8_0: 34, Q8_1: 36).
    pub ab: usize,
    /// Whether the float sums run in llama.cpp's eight lanes (Q4_1) rather than in the block
    /// order (Q4_0, Q5_0, Q8_0).
    pub lanes: bool,
    /// Whether the nibbles index a codebook (IQ4_NL: `kvalues_iq4nl`), applied by the kernels
    /// with one byte shuffle: the quant is [`packed_k::LUT`]`[nibble]`, the codebook value
    /// plus 128, with the offset `c` = 128.
    pub lut: bool,
}

impl Kind {
    /// The kind of `ty`, when it has a packed layout.
    pub(super) fn of(ty: GgmlType) -> Option<Kind> {
        match ty {
            GgmlType::Q4_0 => Some(Q4_0),
            GgmlType::Q4_1 => Some(Q4_1),
            GgmlType::Q5_0 => Some(Q5_0),
            GgmlType::Q8_0 => Some(Q8_0),
            GgmlType::IQ4_NL => Some(IQ4_NL),
            _ => None,
        }
    }

    /// Bytes of the 64-byte quant chunks of a group block.
    fn quant_bytes(&self) -> usize {
        if self.nibbles {
            4 * 64
        } else {
            8 * 64
        }
    }

    /// Byte offset of the fifth-bit masks (Q5_0) within a group block: after the scales.
    pub(super) fn hi_at(&self) -> usize {
        if self.min {
            4 * GROUP
        } else {
            2 * GROUP
        }
    }

    /// Byte offset of the quant chunks within a group block.
    pub(super) fn chunks_at(&self) -> usize {
        self.hi_at() + if self.hi { HI_BYTES } else { 0 }
    }

    /// Bytes of one group block (16 rows of one block).
    pub(super) fn group_block(&self) -> usize {
        self.chunks_at() + self.quant_bytes()
    }

    /// Byte offset of the quantized values within an activation block.
    pub(super) fn act_qoff(&self) -> usize {
        self.ab - 32
    }
}

/// A packed matrix's layout: one of the 32-element types or a k-quant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Legacy(Kind),
    K(KKind),
}

impl Format {
    /// The format of `ty`, when it has a packed layout.
    fn of(ty: GgmlType) -> Option<Format> {
        Kind::of(ty)
            .map(Format::Legacy)
            .or_else(|| KKind::of(ty).map(Format::K))
    }

    /// Elements per GGUF block (32, or 256 for a k-quant superblock).
    fn block_elems(&self) -> usize {
        match self {
            Format::Legacy(_) => 32,
            Format::K(_) => pine_gguf::QK_K,
        }
    }

    /// Bytes of one GGUF block.
    fn wb(&self) -> usize {
        match self {
            Format::Legacy(k) => k.wb,
            Format::K(k) => k.wb,
        }
    }

    /// Bytes of one group block (16 rows of one block).
    fn group_block(&self) -> usize {
        match self {
            Format::Legacy(k) => k.group_block(),
            Format::K(k) => k.group_block(),
        }
    }
}

/// Bytes of a group block's fifth-bit masks (Q5_0): eight masks of 64 bits, mask `l` holding
/// bit `4l + k` of row `r`'s `qh` at bit `4r + k` (the byte of register `l` it completes).
pub(super) const HI_BYTES: usize = 64;

pub(super) const Q4_0: Kind = Kind {
    wb: 18,
    qoff: 2,
    min: false,
    nibbles: true,
    hi: false,
    c: 8,
    ab: 34,
    lanes: false,
    lut: false,
};
pub(super) const Q4_1: Kind = Kind {
    wb: 20,
    qoff: 4,
    min: true,
    nibbles: true,
    hi: false,
    c: 0,
    ab: 36,
    lanes: true,
    lut: false,
};
pub(super) const Q5_0: Kind = Kind {
    wb: 22,
    qoff: 6,
    min: false,
    nibbles: true,
    hi: true,
    c: 16,
    ab: 34,
    lanes: false,
    lut: false,
};
pub(super) const Q8_0: Kind = Kind {
    wb: 34,
    qoff: 2,
    min: false,
    nibbles: false,
    hi: false,
    c: 128,
    ab: 34,
    lanes: false,
    lut: false,
};

pub(super) const IQ4_NL: Kind = Kind {
    wb: 18,
    qoff: 2,
    min: false,
    nibbles: true,
    hi: false,
    c: 128,
    ab: 34,
    lanes: false,
    lut: true,
};

/// What the kernels need of one quantized activation block besides its quants: the seed
/// `−c·Σy` of the block's integer sum, the scale `dy` and (Q8_1) the sum term `sy`, widened
/// once. Small, because the kernels stream it beside the quants.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(super) struct ActBlock {
    pub seed: i32,
    pub dy: f32,
    pub sy: f32,
}

/// Fills `out` (one entry per block) from the quantized activation row `act`.
fn act_blocks(kind: &Kind, act: &[u8], out: &mut [ActBlock]) {
    // The plain conversion: `to_f32` re-detects F16C on every call, which costs more here.
    let f16 = |b: &[u8], o: usize| half::f16::from_le_bytes([b[o], b[o + 1]]).to_f32_const();
    for (blk, o) in act.chunks_exact(kind.ab).zip(out.iter_mut()) {
        let sums = dword_sums(&blk[kind.act_qoff()..]);
        *o = ActBlock {
            seed: -kind.c * sums.iter().sum::<i32>(),
            dy: f16(blk, 0),
            sy: if kind.min { f16(blk, 2) } else { 0.0 },
        };
    }
}

/// The sums of the eight dwords (four signed bytes each) of 32 quants.
pub(super) fn dword_sums(qs: &[u8]) -> [i32; 8] {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        return super::packed_avx2::dword_sums(qs);
    }
    dword_sums_plain(qs)
}

/// The plain form of [`dword_sums`].
pub(super) fn dword_sums_plain(qs: &[u8]) -> [i32; 8] {
    std::array::from_fn(|i| {
        qs[4 * i..4 * i + 4]
            .iter()
            .map(|&q| i32::from(q as i8))
            .sum()
    })
}

/// The block order of the packed Q4_0, Q5_0 and Q8_0 kernels for one GGUF row `w` of `kind`
/// against one Q8_0 activation row `a`: per block the exact integer sum `sumi` of `x·y` (`x = u −
/// c` for the nibble types, Q8_0's signed bytes), then `acc = fma(dx·dy, sumi, acc)`, blocks in
/// order. The kernels' plain twin.
#[cfg(test)]
pub(super) fn block_order_plain(kind: &Kind, w: &[u8], a: &[u8]) -> f32 {
    assert!(!kind.lanes && !kind.min);
    let f16 = |b: &[u8], o: usize| half::f16::from_le_bytes([b[o], b[o + 1]]).to_f32();
    let mut acc = 0.0f32;
    for (x, y) in w.chunks_exact(kind.wb).zip(a.chunks_exact(kind.ab)) {
        let qh = match kind.hi {
            true => u32::from_le_bytes([x[2], x[3], x[4], x[5]]),
            false => 0,
        };
        let sumi: i32 = (0..32)
            .map(|v| {
                let x = if kind.nibbles {
                    let q = x[kind.qoff + v % 16];
                    let nib = if v < 16 { q & 15 } else { q >> 4 };
                    let u = if kind.lut {
                        packed_k::LUT[usize::from(nib)]
                    } else {
                        nib
                    };
                    (i32::from(u) | (((qh >> v) & 1) << 4) as i32) - kind.c
                } else {
                    i32::from(x[kind.qoff + v] as i8)
                };
                x * i32::from(y[kind.act_qoff() + v] as i8)
            })
            .sum();
        acc = (f16(x, 0) * f16(y, 0)).mul_add(sumi as f32, acc);
    }
    acc
}

/// A weight matrix in the interleaved layout (see the module docs), with the rows past the last
/// full group in the GGUF layout.
#[derive(Debug)]
pub struct PackedWeights {
    ty: GgmlType,
    format: Format,
    rows: usize,
    cols: usize,
    groups: HugeBuf,
    tail: Vec<u8>,
}

impl PackedWeights {
    /// Whether weights of type `ty` can be packed on this CPU: the type has a packed layout and
    /// the 512-bit kernels are available (and the per-pair kernels are not forced to scalar).
    pub fn supported(ty: GgmlType) -> bool {
        Format::of(ty).is_some() && kernels_for(ty).is_some()
    }

    /// Repacks `rows` GGUF rows of `cols` elements of type `ty` (`data`, packed back to back),
    /// the groups split across `pool`.
    pub fn pack(
        pool: &Pool,
        ty: GgmlType,
        rows: usize,
        cols: usize,
        data: &[u8],
    ) -> Result<PackedWeights, QuantError> {
        let format = Format::of(ty).ok_or(QuantError::Unsupported { ty, op: "pack" })?;
        if !cols.is_multiple_of(format.block_elems()) {
            return Err(QuantError::NotBlockMultiple { ty, n: cols });
        }
        let nb = cols / format.block_elems();
        let rb = nb * format.wb();
        check_len("weight bytes", rows.checked_mul(rb), data.len())?;
        let full = rows / GROUP;
        let gb = format.group_block();
        let mut groups = HugeBuf::zeroed(full * nb * gb);
        pool.chunks_mut(&mut groups, nb * gb, |g, dst| {
            let src = &data[g * GROUP * rb..(g + 1) * GROUP * rb];
            match &format {
                Format::Legacy(kind) => pack_group(kind, src, rb, dst),
                Format::K(kk) => packed_k::pack_group(kk, src, rb, dst),
            }
        });
        Ok(PackedWeights {
            ty,
            format,
            rows,
            cols,
            groups,
            tail: data[full * GROUP * rb..].to_vec(),
        })
    }

    /// Whether `self` and `other` can share one quantized input in [`matmul_packed_many`]:
    /// the same 32-element type, or any two k-quants (both read Q8_K activations), of one width.
    pub fn shares_input(&self, other: &PackedWeights) -> bool {
        let same_format = match (self.format, other.format) {
            (Format::Legacy(a), Format::Legacy(b)) => a == b,
            (Format::K(_), Format::K(_)) => true,
            _ => false,
        };
        same_format && self.cols == other.cols
    }

    /// The weight type.
    pub fn ty(&self) -> GgmlType {
        self.ty
    }

    /// Output features.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input features.
    pub fn cols(&self) -> usize {
        self.cols
    }
}

/// Interleaves one group of 16 GGUF rows (`src`, stride `rb`) into `dst`.
fn pack_group(kind: &Kind, src: &[u8], rb: usize, dst: &mut [u8]) {
    let gb = kind.group_block();
    let nq = if kind.nibbles { 16 } else { 32 };
    for (b, out) in dst.chunks_exact_mut(gb).enumerate() {
        if kind.hi {
            let qh = |r: usize| {
                let o = r * rb + b * kind.wb + 2;
                u32::from_le_bytes([src[o], src[o + 1], src[o + 2], src[o + 3]])
            };
            for l in 0..8 {
                let mask = (0..GROUP).fold(0u64, |m, r| {
                    m | u64::from((qh(r) >> (4 * l)) & 0xf) << (4 * r)
                });
                let at = kind.hi_at() + 8 * l;
                out[at..at + 8].copy_from_slice(&mask.to_le_bytes());
            }
        }
        for r in 0..GROUP {
            let blk = &src[r * rb + b * kind.wb..r * rb + (b + 1) * kind.wb];
            out[2 * r..2 * r + 2].copy_from_slice(&blk[0..2]);
            if kind.min {
                out[2 * GROUP + 2 * r..2 * GROUP + 2 * r + 2].copy_from_slice(&blk[2..4]);
            }
            let qs = &blk[kind.qoff..kind.qoff + nq];
            for (c, four) in qs.chunks_exact(4).enumerate() {
                let at = kind.chunks_at() + 64 * c + 4 * r;
                for (d, &q) in out[at..at + 4].iter_mut().zip(four) {
                    *d = if kind.nibbles { q } else { q ^ 0x80 };
                }
            }
        }
    }
}

/// What a kernel reads of `M` consecutive activation rows of `nb` blocks each: their quants,
/// their blocks' extras (the 32-element types' `blocks`, the k-quants' `kblocks`; the other
/// empty) and (where the kind needs them, else empty) their lane seeds, each row's after the
/// previous one's. Plain slices, so a call builds no per-row tables.
#[derive(Clone, Copy)]
pub(super) struct Acts<'a> {
    pub act: &'a [u8],
    pub blocks: &'a [ActBlock],
    pub kblocks: &'a [KActBlock],
}

impl Acts<'_> {
    /// Checks that the slices hold `m` rows of `nb` blocks of `kind` and that `y` holds `m`
    /// output rows of [`GROUP`] at row stride `stride`.
    pub(super) fn check(&self, kind: &Kind, nb: usize, m: usize, y: &[f32], stride: usize) {
        assert!(self.act.len() >= m * nb * kind.ab && self.blocks.len() >= m * nb);
        assert!(m == 0 || (stride >= GROUP && y.len() >= (m - 1) * stride + GROUP));
    }
}

/// A safe kernel entry: `(group, blocks, M activation rows, y, stride)` writes the 16 outputs of
/// the group for activation row `j` to `y[j * stride..][..16]`, straight from the registers.
pub(super) type GroupFn = fn(&[u8], usize, Acts<'_>, &mut [f32], usize);

/// A safe prefill entry: `(group, blocks, 8 activation rows, y, stride, ahead)` runs as a
/// [`GroupFn`] and asks the cache for the bytes `ahead` (its share of the group the task runs
/// next) a few lines per block ([`prefetch_part`]).
pub(super) type EightFn = fn(&[u8], usize, Acts<'_>, &mut [f32], usize, &[u8]);

/// The kernel entries of one type.
#[derive(Clone, Copy)]
pub(super) struct GroupKernels {
    /// Decode: one activation row, the group's weights streamed from memory (asking ahead).
    pub one: GroupFn,
    /// One activation row against a group whose weights are already in cache (prefill's rows
    /// after the group's eight-row calls or first row): [`GroupKernels::one`] without the
    /// requests, where they change the code (the k-quants), else the same entry.
    pub row: GroupFn,
    pub eight: EightFn,
    /// Where the type has them (the 512-bit k-quants), prefill's tile path.
    pub tile: Option<TileKernels>,
}

/// Prefill through converted tiles (`packed_k::KKind::tile_lines`): `convert(group, blocks,
/// tile)` unpacks a group once per task, then `eight(tile, blocks, 8 activation rows, y,
/// stride, ahead)` runs as [`GroupKernels::eight`] on it, bit for bit.
#[derive(Clone, Copy)]
pub(super) struct TileKernels {
    pub convert: fn(&[u8], usize, &mut [TileLine]),
    pub eight: TileFn,
}

/// A safe tile kernel entry: `(tile, blocks, 8 activation rows, y, stride, ahead)`.
pub(super) type TileFn = fn(&[TileLine], usize, Acts<'_>, &mut [f32], usize, &[u8]);

/// Outputs of a short prefill gathered across the pool rather than on the calling thread.
const GATHER_PARALLEL: usize = 1 << 16;

/// Activation rows a prefill task needs before it converts each group to a tile: two eight-row
/// calls, so that the conversion replaces at least two unpackings.
const TILE_ROWS: usize = 2 * NA;

std::thread_local! {
    /// The calling thread's tile: `blocks × tile_lines` lines of the group being run, kept
    /// between calls (5.1 to 6.2 KB per 256 columns: at most 199 KB at 8192, 348 KB at 14336).
    static TILE: std::cell::RefCell<Vec<TileLine>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The group kernels for `ty` on this CPU, detected once: every matmul asks, decode included.
/// None where the per-pair kernels are the scalar ones (no SIMD, or `PINE_CPU_KERNELS=scalar`,
/// which the dot table already read).
fn kernels_for(ty: GgmlType) -> Option<GroupKernels> {
    use std::sync::OnceLock;
    const TYPES: [GgmlType; 11] = [
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q8_0,
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
        GgmlType::IQ4_XS,
        GgmlType::IQ4_NL,
    ];
    static TABLE: OnceLock<[Option<GroupKernels>; 11]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        TYPES.map(|t| {
            // The k-quants' per-pair kernels are partly scalar (Q5_K) even with SIMD; Q8_0's
            // say whether SIMD is allowed at all.
            let probe = if KKind::of(t).is_some() {
                GgmlType::Q8_0
            } else {
                t
            };
            if kernels().isa(probe) == Some("scalar") {
                return None;
            }
            #[cfg(target_arch = "x86_64")]
            return super::packed_avx512::detect(t)
                .or_else(|| super::packed_avx2::detect(t))
                .or_else(|| super::packed_k_avx512::detect(t))
                .or_else(|| super::packed_k_avx2::detect(t));
            #[cfg(not(target_arch = "x86_64"))]
            return None;
        })
    });
    table[TYPES.iter().position(|&t| t == ty)?]
}

/// `y = x · Wᵀ` for packed weights: `x` is `n × cols`, `y` is `n × rows`, both row-major.
pub fn matmul_packed(
    pool: &Pool,
    w: &PackedWeights,
    x: &[f32],
    n: usize,
    y: &mut [f32],
    scratch: &mut MatmulScratch,
) -> Result<(), QuantError> {
    matmul_packed_many(pool, [w], x, n, [y], scratch)
}

/// `ys[i] = x · ws[i]ᵀ` for weights that read the same input (a layer's Q, K and V; its gate
/// and up) and can share its quantization ([`PackedWeights::shares_input`]: one 32-element
/// type, or k-quants mixed, as Q4_K_M's Q4_K and Q6_K): `x` is quantized once and all products
/// run as one pool job, so a decode step pays one hand-off instead of `N`.
pub fn matmul_packed_many<const N: usize>(
    pool: &Pool,
    ws: [&PackedWeights; N],
    x: &[f32],
    n: usize,
    ys: [&mut [f32]; N],
    scratch: &mut MatmulScratch,
) -> Result<(), QuantError> {
    let mut ks = [None; N];
    for (k, w) in ks.iter_mut().zip(&ws) {
        let ty = w.ty;
        *k = Some(kernels_for(ty).ok_or(QuantError::Unsupported { ty, op: "matmul" })?);
    }
    let ks = ks.map(|k| k.expect("every entry was set above"));
    matmul_packed_with(ks, pool, ws, x, n, ys, scratch)
}

/// [`matmul_packed_many`] with the kernels `ks` of each product (tests pick each instruction
/// set's).
pub(super) fn matmul_packed_with<const N: usize>(
    ks: [GroupKernels; N],
    pool: &Pool,
    ws: [&PackedWeights; N],
    x: &[f32],
    n: usize,
    ys: [&mut [f32]; N],
    scratch: &mut MatmulScratch,
) -> Result<(), QuantError> {
    let Some(w) = ws.first() else {
        return Ok(());
    };
    let (ty, cols) = (w.ty, w.cols);
    if let Some(other) = ws.iter().find(|o| !o.shares_input(w)) {
        return Err(QuantError::Unsupported {
            ty: other.ty,
            op: "matmul together with a weight whose input is quantized otherwise",
        });
    }
    let mut tail_dots = [None; N];
    for (d, w) in tail_dots.iter_mut().zip(&ws) {
        let ty = w.ty;
        *d = Some(
            kernels()
                .get(ty)
                .ok_or(QuantError::Unsupported { ty, op: "matmul" })?,
        );
    }
    let aty = activation_type(ty).ok_or(QuantError::Unsupported { ty, op: "matmul" })?;
    for (w, y) in ws.iter().zip(&ys) {
        check_len(
            "activation elements (n × cols)",
            n.checked_mul(w.cols),
            x.len(),
        )?;
        check_len("output elements (n × rows)", n.checked_mul(w.rows), y.len())?;
    }
    if n == 0 {
        return Ok(());
    }
    let format = w.format;
    let nb = cols / format.block_elems();
    let tails = ws.iter().any(|w| !w.rows.is_multiple_of(GROUP));
    let per = PerRow::of(&format, nb, aty, tails);
    scratch.act.resize(n * per.act, 0);
    scratch.blocks.resize(n * per.blocks, ActBlock::default());
    scratch
        .kblocks
        .resize(n * per.kblocks, KActBlock::default());
    let rows = ActRowsMut {
        act: &mut scratch.act[..n * per.act],
        blocks: &mut scratch.blocks[..n * per.blocks],
        kblocks: &mut scratch.kblocks[..n * per.kblocks],
    };
    quantize_rows(pool, aty, &format, x, cols, n, per, rows)?;
    let all = Acts {
        act: &scratch.act[..n * per.act],
        blocks: &scratch.blocks[..n * per.blocks],
        kblocks: &scratch.kblocks[..n * per.kblocks],
    };
    // A prefill whose tasks would take fewer rows than a tile pays for (a short prompt, a
    // chat turn, PINE's prefix and suffix) splits the weights' groups instead: every task
    // takes all rows, so each group is read once, not once per eight rows, and the k-quants
    // convert it to a tile. Its outputs go to `by_group`, then into `ys`.
    let by_groups = n > 1 && n.div_ceil(pool.threads() * 4).next_multiple_of(NA) < TILE_ROWS;
    // Per product: its inputs and the rows each task takes (decode: output rows, a whole
    // number of groups; a short prefill: groups; prefill: activation rows).
    let jobs: [_; N] = std::array::from_fn(|i| {
        let w = ws[i];
        let rows_per_task = match n == 1 || by_groups {
            true => (w.rows / GROUP).div_ceil(pool.threads() * 4).max(1) * GROUP,
            false => n.div_ceil(pool.threads() * 4).next_multiple_of(NA),
        };
        let run = Product {
            w,
            k: ks[i],
            tail_dot: tail_dots[i].expect("every entry was set above"),
            nb,
            per,
            all,
        };
        (run, rows_per_task)
    });
    // Where product i's outputs go: `ys[i]`, or (by groups) its part of `by_group`, which
    // holds only the full groups' outputs.
    let full = |i: usize| ws[i].rows / GROUP * GROUP;
    let mut at = [0; N];
    for i in 1..N {
        at[i] = at[i - 1] + n * full(i - 1);
    }
    if by_groups {
        scratch.by_group.resize(at[N - 1] + n * full(N - 1), 0.0);
    }
    let mut ys = ys;
    let outs: [_; N] = std::array::from_fn(|i| match by_groups {
        true => SharedRows(scratch.by_group[at[i]..].as_mut_ptr()),
        false => SharedRows(ys[i].as_mut_ptr()),
    });
    // Elements of output i per task: its groups' outputs for every row (decode: one row).
    let part = |i: usize| match n == 1 || by_groups {
        true => n * jobs[i].1,
        false => (jobs[i].1 * ws[i].rows).max(1),
    };
    let len = |i: usize| match by_groups {
        true => n * full(i),
        false => n * ws[i].rows,
    };
    let tasks: [usize; N] = std::array::from_fn(|i| len(i).div_ceil(part(i)));
    let outs = &outs;
    pool.for_each(tasks.iter().sum(), |mut t| {
        let mut i = 0;
        while t >= tasks[i] {
            t -= tasks[i];
            i += 1;
        }
        let (start, end) = (t * part(i), ((t + 1) * part(i)).min(len(i)));
        // SAFETY: task (i, t) alone writes elements start..end of output i (of its part of
        // `by_group`, by groups), which lie inside it; the outputs are borrowed mutably until
        // every task has returned.
        let y = unsafe { std::slice::from_raw_parts_mut(outs[i].0.add(start), end - start) };
        let (run, rows_per_task) = &jobs[i];
        match n {
            1 => run.decode_rows(t * rows_per_task, y),
            _ if by_groups => {
                let g0 = t * rows_per_task / GROUP;
                let groups = g0..g0 + y.len() / n / GROUP;
                run.prefill(0, n, groups, y)
            }
            _ => run.prefill_acts(t * rows_per_task, y),
        }
    });
    if by_groups {
        // Task by task, each activation row's run of groups, then the tail rows: on this
        // thread when it is little to copy (a pool job per product cost a few sequences'
        // decode step a sixth of its time on SmolLM2), else across the pool.
        let by_group = &scratch.by_group;
        for (i, y) in ys.iter_mut().enumerate() {
            let (run, per_task) = (&jobs[i].0, jobs[i].1);
            let (rows, full) = (ws[i].rows, full(i));
            let gather = |j: usize, out: &mut [f32]| {
                for o0 in (0..full).step_by(per_task) {
                    let width = per_task.min(full - o0);
                    let src = &by_group[at[i] + n * o0 + j * width..][..width];
                    out[o0..o0 + width].copy_from_slice(src);
                }
                for (o, v) in out.iter_mut().enumerate().skip(full) {
                    *v = run.tail(o, j);
                }
            };
            let y = &mut y[..n * rows];
            match y.len() < GATHER_PARALLEL {
                true => y
                    .chunks_mut(rows)
                    .enumerate()
                    .for_each(|(j, o)| gather(j, o)),
                false => pool.chunks_mut(y, rows, gather),
            }
        }
    }
    Ok(())
}

/// Per activation row: its quantized bytes and how many entries it has of each extra (0 where
/// the format has none).
#[derive(Clone, Copy, Debug)]
struct PerRow {
    act: usize,
    blocks: usize,
    kblocks: usize,
}

impl PerRow {
    /// The counts for rows of `nb` blocks of `format`, quantized to `aty` (for the k-quants
    /// only where a product has `tails`: rows past its last full group).
    fn of(format: &Format, nb: usize, aty: GgmlType, tails: bool) -> PerRow {
        let (blocks, kblocks) = match format {
            Format::Legacy(_) => (nb, 0),
            Format::K(_) => (0, nb),
        };
        let act = match format {
            Format::K(_) if !tails => 0,
            _ => nb * aty.block_bytes(),
        };
        PerRow {
            act,
            blocks,
            kblocks,
        }
    }
}

/// The buffers [`quantize_rows`] fills: [`Acts`], writable.
struct ActRowsMut<'a> {
    act: &'a mut [u8],
    blocks: &'a mut [ActBlock],
    kblocks: &'a mut [KActBlock],
}

/// Quantizes the `n` rows of `x` and derives their extras (`per` entries of each per row),
/// one row per task across the pool.
#[allow(clippy::too_many_arguments)]
fn quantize_rows(
    pool: &Pool,
    aty: GgmlType,
    format: &Format,
    x: &[f32],
    cols: usize,
    n: usize,
    per: PerRow,
    out: ActRowsMut<'_>,
) -> Result<(), QuantError> {
    let failed = std::sync::Mutex::new(None);
    let act = SharedRows(out.act.as_mut_ptr());
    let blocks = SharedRows(out.blocks.as_mut_ptr());
    let kblocks = SharedRows(out.kblocks.as_mut_ptr());
    let (act, blocks, kblocks) = (&act, &blocks, &kblocks);
    pool.for_each(n, |r| {
        // SAFETY: task `r` alone touches row `r` of each buffer (`per` entries each, lengths
        // `n × per` checked by the caller's slicing); they are borrowed mutably until every
        // task has returned.
        let (a, b, k) = unsafe {
            (
                std::slice::from_raw_parts_mut(act.0.add(r * per.act), per.act),
                std::slice::from_raw_parts_mut(blocks.0.add(r * per.blocks), per.blocks),
                std::slice::from_raw_parts_mut(kblocks.0.add(r * per.kblocks), per.kblocks),
            )
        };
        let xr = &x[r * cols..(r + 1) * cols];
        if let Format::K(_) = format {
            packed_k::act_blocks(xr, k);
        }
        // The k-quants need their `aty` rows only for the tail rows' per-pair kernel.
        if a.is_empty() {
            return;
        }
        match quantize_activation_row(aty, xr, a) {
            Ok(()) => {
                if let Format::Legacy(kind) = format {
                    act_blocks(kind, a, b)
                }
            }
            Err(e) => *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e),
        }
    });
    match failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Prefill's prefetch: asks the cache for block `b`'s share (of `nb` blocks' shares) of
/// `ahead`, the part of the next group's weights a kernel call brings in while it runs on this
/// one. Without it each group's first call waited on memory (a 21 MB Q4_0 matrix streamed by
/// the isolated kernel: 2.41 → 2.71 G `vpdpbusd`/s); spread over the blocks, the prefetches no
/// longer stall on full line-fill buffers as one burst before each call did (1B-shaped Q8_0
/// pp512: +10 %).
#[inline(always)]
pub(super) fn prefetch_part(ahead: &[u8], b: usize, nb: usize) {
    let per = ahead.len().div_ceil(64).div_ceil(nb.max(1));
    #[cfg(target_arch = "x86_64")]
    for at in (b * per..(b + 1) * per)
        .map(|l| 64 * l)
        .take_while(|&at| at < ahead.len())
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is only a hint: it cannot fault, and the address lies in `ahead`.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(ahead.as_ptr().add(at).cast()) };
    }
}

/// Piece `i` of `n` of `ahead`, whole cache lines each (the last may be shorter or empty): the
/// share of a kernel that runs its activation rows in `n` passes.
pub(super) fn piece(ahead: &[u8], i: usize, n: usize) -> &[u8] {
    let per = ahead.len().div_ceil(n.max(1)).next_multiple_of(64);
    &ahead[ahead.len().min(i * per)..ahead.len().min((i + 1) * per)]
}

/// Bytes ahead of the one it reads that decode asks the cache for.
pub(super) const STREAM_AHEAD: usize = 16 * 1024;

/// Decode's prefetch: asks for part `i` of `n` (whole cache lines) of the `len` bytes
/// [`STREAM_AHEAD`] past `p`, a group block the kernel streams next (past a group's end: the
/// next group's, which the same task reads next). Decode reads every weight once, and without
/// this the stream stalled where the hardware prefetcher stops, at page boundaries (1B-shaped
/// Q4_K tg64: 9.5 → 30 t/s). The k-quants' group blocks (37–53 lines) ask in parts, one per
/// sub-block (on AVX2 only Q4_K and IQ4_XS, see `packed_k_avx2`): asked in one burst per
/// block, the requests overran the core's miss buffers and the stream from memory fell to
/// ~70 % (Zen 5, `kernels --dram`, 1 thread: Q4_K 27 → 33 GB/s, Q6_K 22 → 36 GB/s); the
/// legacy types' blocks (5–9 lines) gain nothing from parts.
#[inline(always)]
pub(super) fn prefetch_ahead(p: *const u8, len: usize, i: usize, n: usize) {
    let lines = len.div_ceil(64);
    #[cfg(target_arch = "x86_64")]
    let nta = stream_nta();
    #[cfg(target_arch = "x86_64")]
    for line in i * lines / n..(i + 1) * lines / n {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_NTA, _MM_HINT_T0};
        // SAFETY: a prefetch is only a hint and cannot fault, whatever the address; the
        // pointer is made with `wrapping_add` and never dereferenced.
        unsafe {
            let at = p.wrapping_add(STREAM_AHEAD + 64 * line).cast();
            match nta {
                true => _mm_prefetch::<_MM_HINT_NTA>(at),
                false => _mm_prefetch::<_MM_HINT_T0>(at),
            }
        };
    }
}

/// Whether decode's weight stream is fetched non-temporally (`prefetchnta`): on AMD CPUs,
/// whose L3 then is not filled with weights read once per token, so the KV cache and the
/// activations stay in it (Zen 5, SmolLM2 Q4_0/Q4_1/Q8_0 tg64 +12–17 %, 1B-shaped Q4_0 and
/// Q4_K_M +5 %; PINE decode, which reads keys and values in many runs, gains most). Intel CPUs
/// keep T0, the hint they were tuned with.
#[cfg(target_arch = "x86_64")]
fn stream_nta() -> bool {
    static AMD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AMD.get_or_init(|| {
        let id = std::arch::x86_64::__cpuid(0);
        [id.ebx, id.edx, id.ecx].map(u32::to_le_bytes).concat() == *b"AuthenticAMD"
    })
}

/// A raw pointer to rows that tasks write disjointly.
struct SharedRows<T>(*mut T);
// SAFETY: only used for disjoint per-task parts (rows in `quantize_rows`, output ranges in
// `matmul_packed_with`).
unsafe impl<T> Sync for SharedRows<T> {}

/// One packed product's inputs, shared by its tasks.
struct Product<'a> {
    w: &'a PackedWeights,
    k: GroupKernels,
    tail_dot: DotFn,
    nb: usize,
    per: PerRow,
    all: Acts<'a>,
}

impl Product<'_> {
    /// Activation rows `r0..r0 + m` as the kernels take them.
    fn acts(&self, r0: usize, m: usize) -> Acts<'_> {
        let (p, a) = (&self.per, &self.all);
        Acts {
            act: &a.act[r0 * p.act..(r0 + m) * p.act],
            blocks: &a.blocks[r0 * p.blocks..(r0 + m) * p.blocks],
            kblocks: &a.kblocks[r0 * p.kblocks..(r0 + m) * p.kblocks],
        }
    }

    /// The GGUF bytes of tail row `o` (`o ≥` the full groups' rows).
    fn tail_row(&self, o: usize) -> &[u8] {
        let rb = self.nb * self.w.format.wb();
        let t = o - self.w.rows / GROUP * GROUP;
        &self.w.tail[t * rb..(t + 1) * rb]
    }

    /// The bytes of group `g`.
    fn group(&self, g: usize) -> &[u8] {
        let gbytes = self.nb * self.w.format.group_block();
        &self.w.groups[g * gbytes..(g + 1) * gbytes]
    }

    /// Decode: outputs `o0..o0 + ys.len()` (a whole number of groups, or the last part with the
    /// tail rows) for the single activation row.
    fn decode_rows(&self, o0: usize, ys: &mut [f32]) {
        let a = self.acts(0, 1);
        let full = self.w.rows / GROUP * GROUP;
        for (i, out) in ys.chunks_mut(GROUP).enumerate() {
            let o = o0 + i * GROUP;
            if o + GROUP <= full {
                (self.k.one)(self.group(o / GROUP), self.nb, a, out, GROUP);
            } else {
                for (t, v) in out.iter_mut().enumerate() {
                    *v = self.tail(o + t, 0);
                }
            }
        }
    }

    /// Prefill: every output of activation rows `r0..r0 + ys.len() / rows` (`ys` is their
    /// part of `y`).
    fn prefill_acts(&self, r0: usize, ys: &mut [f32]) {
        let rows = self.w.rows;
        let n = ys.len() / rows;
        self.prefill(r0, n, 0..rows / GROUP, ys);
        for o in rows / GROUP * GROUP..rows {
            for jj in 0..n {
                ys[jj * rows + o] = self.tail(o, r0 + jj);
            }
        }
    }

    /// Output `o` (a tail row, past the full groups) of activation row `r`, by the per-pair
    /// kernel.
    fn tail(&self, o: usize, r: usize) -> f32 {
        (self.tail_dot)(self.tail_row(o), self.acts(r, 1).act)
    }

    /// Groups `gs` against activation rows `r0..r0 + n`: the outputs of row `j` and group `g`
    /// at `ys[j · stride + (g − gs.start) · GROUP..]`, `stride` = `ys.len() / n` (all the
    /// weight's rows, or the groups' own). Each group's weights (or its tile) stay in cache
    /// while the rows pass over them.
    fn prefill(&self, r0: usize, n: usize, gs: Range<usize>, ys: &mut [f32]) {
        let stride = ys.len() / n;
        // Each call also fetches its share of the next group's weights into the cache.
        let share = (self.nb * self.w.format.group_block())
            .div_ceil((n / NA).max(1))
            .next_multiple_of(64);
        let tiled = match (self.k.tile, self.w.format) {
            (Some(tk), Format::K(kk)) if n >= TILE_ROWS => Some((tk, self.nb * kk.tile_lines())),
            _ => None,
        };
        TILE.with_borrow_mut(|tile| {
            if let Some((_, len)) = tiled {
                tile.resize(len, TileLine::default());
            }
            for g in gs.clone() {
                let wg = self.group(g);
                if let Some((tk, _)) = tiled {
                    (tk.convert)(wg, self.nb, tile);
                }
                let next = if g + 1 < gs.end {
                    self.group(g + 1)
                } else {
                    &[]
                };
                let col = (g - gs.start) * GROUP;
                let mut j = 0;
                while j + NA <= n {
                    let part = next.len().min(j / NA * share)..next.len().min((j / NA + 1) * share);
                    let y = &mut ys[j * stride + col..];
                    let acts = self.acts(r0 + j, NA);
                    match tiled {
                        Some((tk, _)) => (tk.eight)(tile, self.nb, acts, y, stride, &next[part]),
                        None => (self.k.eight)(wg, self.nb, acts, y, stride, &next[part]),
                    }
                    j += NA;
                }
                for jj in j..n {
                    let y = &mut ys[jj * stride + col..];
                    // Only a group's first row with no eight-row call before it streams the
                    // group from memory; the rows after it find it in cache.
                    let f = if jj == 0 { self.k.one } else { self.k.row };
                    f(wg, self.nb, self.acts(r0 + jj, 1), y, stride);
                }
            }
        });
    }
}
