//! Byte layouts of the GGML block formats, read from raw little-endian slices.
//!
//! Tensor data comes straight from a memory-mapped GGUF file, which gives no alignment
//! guarantee, so every field is read byte-wise (`from_le_bytes`) instead of through `repr(C)`
//! structs and transmutes. Each submodule names the byte offsets of one block struct of
//! `ggml-common.h` so the codecs and kernels agree on a single description.

pub mod grids;
pub mod layout;
pub mod tables;

pub use layout::*;

use half::{bf16, f16};

/// Reads an IEEE half at `off`; ggml stores every block scale (`ggml_half`) this way.
#[inline(always)]
pub fn f16_at(b: &[u8], off: usize) -> f32 {
    f16::from_bits(u16_at(b, off)).to_f32()
}

/// Reads a bfloat16 at `off` (BF16 tensors); widening is exact, a 16-bit shift.
#[inline(always)]
pub fn bf16_at(b: &[u8], off: usize) -> f32 {
    bf16::from_bits(u16_at(b, off)).to_f32()
}

/// Reads a little-endian `u16` at `off` (IQ4_XS `scales_h`, raw f16 bits).
#[inline(always)]
pub fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

/// Reads a little-endian `u32` at `off` (Q5 high bits, IQ3_XXS scale-and-sign words).
#[inline(always)]
pub fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Reads a little-endian `f32` at `off` (Q8_K's scale `d` is a full float).
#[inline(always)]
pub fn f32_at(b: &[u8], off: usize) -> f32 {
    f32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Writes `v` as an IEEE half at `off`, rounding to nearest even like `GGML_FP32_TO_FP16`.
#[inline(always)]
pub fn put_f16(b: &mut [u8], off: usize, v: f32) {
    b[off..off + 2].copy_from_slice(&f16::from_f32(v).to_bits().to_le_bytes());
}

/// Unpacks the 6-bit scale and min of sub-block `j` (0..8) from the 12 packed bytes of a
/// Q4_K/Q5_K block (ggml's `get_scale_min_k4`): scales and mins share bytes so 8+8 six-bit
/// values fit in 12 bytes.
#[inline(always)]
pub fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_are_little_endian() {
        let b = [0x00, 0x3c, 0x78, 0x56, 0x34, 0x12];
        assert_eq!(f16_at(&b, 0), 1.0);
        assert_eq!(u32_at(&b, 2), 0x1234_5678);
        assert_eq!(u16_at(&b, 4), 0x1234);
        let mut out = [0u8; 2];
        put_f16(&mut out, 0, -2.0);
        assert_eq!(out, [0x00, 0xc0]);
    }

    #[test]
    fn scale_min_k4_round_trips_the_packing() {
        // Pack eight 6-bit scales and mins the way quantize_row_q4_K_ref does, then unpack.
        let ls: [u8; 8] = [1, 63, 17, 40, 5, 62, 33, 48];
        let lm: [u8; 8] = [60, 2, 31, 9, 63, 0, 44, 21];
        let mut s = [0u8; 12];
        for j in 0..8 {
            if j < 4 {
                s[j] = ls[j];
                s[j + 4] = lm[j];
            } else {
                s[j + 4] = (ls[j] & 0xF) | ((lm[j] & 0xF) << 4);
                s[j - 4] |= (ls[j] >> 4) << 6;
                s[j] |= (lm[j] >> 4) << 6;
            }
        }
        for j in 0..8 {
            assert_eq!(scale_min_k4(j, &s), (ls[j], lm[j]), "j={j}");
        }
    }
}
