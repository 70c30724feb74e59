//! Field readers the dot kernels need beyond `crate::blocks` (signed bytes, i16 sums) and the
//! Q8_K activation block offsets.

pub(crate) use crate::blocks::{f16_at, f32_at, u32_at};

/// The i16 at byte offset `o` (Q8_K `bsums`).
#[inline(always)]
pub(crate) fn i16_at(b: &[u8], o: usize) -> i16 {
    i16::from_le_bytes([b[o], b[o + 1]])
}

/// The i8 at byte offset `o`, widened.
#[inline(always)]
pub(crate) fn i8_at(b: &[u8], o: usize) -> i32 {
    i32::from(b[o] as i8)
}

/// Offsets of the fields of a Q8_K activation block (`f32 d, i8 qs[256], i16 bsums[16]`).
pub(crate) mod q8k {
    /// Byte offset of `qs`.
    pub const QS: usize = 4;
    /// Byte offset of `bsums`.
    pub const BSUMS: usize = 4 + 256;
    /// Bytes per block.
    pub const BYTES: usize = 292;
}
