//! Field offsets of each block struct in `ggml-common.h` (`QK_K` = 256).
//!
//! One module per type; `BYTES` equals `GgmlType::block_bytes` (checked in tests) and the other
//! constants are byte offsets of the struct fields, in declaration order.

use pine_gguf::QK_K;

/// `block_q4_0`: f16 `d`, 16 bytes of 4-bit quants (low nibbles = first 16 values).
pub mod q4_0 {
    /// Bytes per block.
    pub const BYTES: usize = 18;
    /// Offset of the quant nibbles.
    pub const QS: usize = 2;
}

/// `block_q4_1`: f16 `d`, f16 `m`, 16 bytes of nibbles; value = d·q + m.
pub mod q4_1 {
    /// Bytes per block.
    pub const BYTES: usize = 20;
    /// Offset of the f16 minimum.
    pub const M: usize = 2;
    /// Offset of the quant nibbles.
    pub const QS: usize = 4;
}

/// `block_q5_0`: f16 `d`, u32 `qh` (5th bits), 16 bytes of nibbles.
pub mod q5_0 {
    /// Bytes per block.
    pub const BYTES: usize = 22;
    /// Offset of the 32 high bits.
    pub const QH: usize = 2;
    /// Offset of the quant nibbles.
    pub const QS: usize = 6;
}

/// `block_q5_1`: f16 `d`, f16 `m`, u32 `qh`, 16 bytes of nibbles.
pub mod q5_1 {
    /// Bytes per block.
    pub const BYTES: usize = 24;
    /// Offset of the f16 minimum.
    pub const M: usize = 2;
    /// Offset of the 32 high bits.
    pub const QH: usize = 4;
    /// Offset of the quant nibbles.
    pub const QS: usize = 8;
}

/// `block_q8_0`: f16 `d`, 32 signed bytes.
pub mod q8_0 {
    /// Bytes per block.
    pub const BYTES: usize = 34;
    /// Offset of the int8 quants.
    pub const QS: usize = 2;
}

/// `block_q8_1`: f16 `d`, f16 `s` (= d·Σq), 32 signed bytes.
pub mod q8_1 {
    /// Bytes per block.
    pub const BYTES: usize = 36;
    /// Offset of the f16 sum.
    pub const S: usize = 2;
    /// Offset of the int8 quants.
    pub const QS: usize = 4;
}

/// `block_q2_K`: 16 scale bytes (low nibble scale, high nibble min), 64 bytes of 2-bit quants,
/// f16 `d`, f16 `dmin`.
pub mod q2_k {
    use super::QK_K;
    /// Bytes per block.
    pub const BYTES: usize = 84;
    /// Offset of the 2-bit quants.
    pub const QS: usize = QK_K / 16;
    /// Offset of the f16 super-block scale.
    pub const D: usize = QS + QK_K / 4;
    /// Offset of the f16 super-block min scale.
    pub const DMIN: usize = D + 2;
}

/// `block_q3_K`: 32 bytes `hmask` (3rd bits), 64 bytes low 2 bits, 12 bytes of 6-bit scales,
/// f16 `d`.
pub mod q3_k {
    use super::QK_K;
    /// Bytes per block.
    pub const BYTES: usize = 110;
    /// Offset of the low 2-bit quants.
    pub const QS: usize = QK_K / 8;
    /// Offset of the packed 6-bit scales.
    pub const SCALES: usize = QS + QK_K / 4;
    /// Offset of the f16 super-block scale.
    pub const D: usize = SCALES + 12;
}

/// `block_q4_K`: f16 `d`, f16 `dmin`, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles.
pub mod q4_k {
    /// Bytes per block.
    pub const BYTES: usize = 144;
    /// Offset of the f16 min scale.
    pub const DMIN: usize = 2;
    /// Offset of the packed scales and mins.
    pub const SCALES: usize = 4;
    /// Offset of the quant nibbles.
    pub const QS: usize = 16;
}

/// `block_q5_K`: like Q4_K plus 32 bytes `qh` of 5th bits before the nibbles.
pub mod q5_k {
    use super::QK_K;
    /// Bytes per block.
    pub const BYTES: usize = 176;
    /// Offset of the f16 min scale.
    pub const DMIN: usize = 2;
    /// Offset of the packed scales and mins.
    pub const SCALES: usize = 4;
    /// Offset of the high bits.
    pub const QH: usize = 16;
    /// Offset of the quant nibbles.
    pub const QS: usize = QH + QK_K / 8;
}

/// `block_q6_K`: 128 bytes low nibbles `ql`, 64 bytes high 2 bits `qh`, 16 int8 scales, f16 `d`.
pub mod q6_k {
    use super::QK_K;
    /// Bytes per block.
    pub const BYTES: usize = 210;
    /// Offset of the high 2-bit parts.
    pub const QH: usize = QK_K / 2;
    /// Offset of the int8 sub-block scales.
    pub const SCALES: usize = QH + QK_K / 4;
    /// Offset of the f16 super-block scale.
    pub const D: usize = SCALES + QK_K / 16;
}

/// `block_q8_K`: f32 `d`, 256 int8 quants, 16 i16 sums of 16 quants each.
pub mod q8_k {
    use super::QK_K;
    /// Bytes per block.
    pub const BYTES: usize = 292;
    /// Offset of the int8 quants.
    pub const QS: usize = 4;
    /// Offset of the i16 group sums.
    pub const BSUMS: usize = QS + QK_K;
}

/// `block_iq4_nl`: f16 `d`, 16 bytes of 4-bit indices into `KVALUES_IQ4NL`.
pub mod iq4_nl {
    /// Bytes per block.
    pub const BYTES: usize = 18;
    /// Offset of the index nibbles.
    pub const QS: usize = 2;
}

/// `block_iq4_xs`: f16 `d`, u16 `scales_h`, 4 bytes `scales_l`, 128 bytes of index nibbles.
pub mod iq4_xs {
    use super::QK_K;
    /// Bytes per block.
    pub const BYTES: usize = 136;
    /// Offset of the high 2 bits of the eight 6-bit scales.
    pub const SCALES_H: usize = 2;
    /// Offset of the low 4 bits of the scales.
    pub const SCALES_L: usize = 4;
    /// Offset of the index nibbles.
    pub const QS: usize = SCALES_L + QK_K / 64;
}

/// `block_iq3_xxs`: f16 `d`, 64 grid indices, 8 u32 words of (4 × 7-bit signs, 4-bit scale).
pub mod iq3_xxs {
    use super::QK_K;
    /// Bytes per block.
    pub const BYTES: usize = 98;
    /// Offset of the grid indices.
    pub const QS: usize = 2;
    /// Offset of the scale-and-sign words.
    pub const SCALES_AND_SIGNS: usize = QS + QK_K / 4;
}

/// `block_iq3_s`: f16 `d`, 64 low index bytes, 8 bytes 9th index bits, 32 sign bytes,
/// 4 bytes of 4-bit scales.
pub mod iq3_s {
    use super::QK_K;
    /// Bytes per block.
    pub const BYTES: usize = 110;
    /// Offset of the low 8 bits of the grid indices.
    pub const QS: usize = 2;
    /// Offset of the 9th index bits.
    pub const QH: usize = QS + QK_K / 4;
    /// Offset of the explicit sign bits.
    pub const SIGNS: usize = QH + QK_K / 32;
    /// Offset of the 4-bit scales.
    pub const SCALES: usize = SIGNS + QK_K / 8;
}

/// `block_tq1_0`: 48 bytes of 5 trits each, 4 bytes of 4 trits each, f16 `d` last.
pub mod tq1_0 {
    use super::QK_K;
    /// Bytes per block.
    pub const BYTES: usize = 54;
    /// Length of the 5-trits-per-byte part.
    pub const QS_LEN: usize = (QK_K - 4 * QK_K / 64) / 5;
    /// Offset of the 4-trits-per-byte part.
    pub const QH: usize = QS_LEN;
    /// Offset of the f16 scale.
    pub const D: usize = QH + QK_K / 64;
}

/// `block_tq2_0`: 64 bytes of 2-bit values (q − 1 ∈ {−1, 0, 1}), f16 `d` last.
pub mod tq2_0 {
    use super::QK_K;
    /// Bytes per block.
    pub const BYTES: usize = 66;
    /// Offset of the f16 scale.
    pub const D: usize = QK_K / 4;
}

#[cfg(test)]
mod tests {
    use pine_gguf::GgmlType::{self, *};

    #[test]
    fn sizes_agree_with_the_type_table() {
        let sizes: [(GgmlType, usize); 18] = [
            (Q4_0, super::q4_0::BYTES),
            (Q4_1, super::q4_1::BYTES),
            (Q5_0, super::q5_0::BYTES),
            (Q5_1, super::q5_1::BYTES),
            (Q8_0, super::q8_0::BYTES),
            (Q8_1, super::q8_1::BYTES),
            (Q2_K, super::q2_k::BYTES),
            (Q3_K, super::q3_k::BYTES),
            (Q4_K, super::q4_k::BYTES),
            (Q5_K, super::q5_k::BYTES),
            (Q6_K, super::q6_k::BYTES),
            (Q8_K, super::q8_k::BYTES),
            (IQ4_NL, super::iq4_nl::BYTES),
            (IQ4_XS, super::iq4_xs::BYTES),
            (IQ3_XXS, super::iq3_xxs::BYTES),
            (IQ3_S, super::iq3_s::BYTES),
            (TQ1_0, super::tq1_0::BYTES),
            (TQ2_0, super::tq2_0::BYTES),
        ];
        for (t, b) in sizes {
            assert_eq!(t.block_bytes(), b, "{t}");
        }
        assert_eq!(super::q2_k::DMIN + 2, super::q2_k::BYTES);
        assert_eq!(super::q3_k::D + 2, super::q3_k::BYTES);
        assert_eq!(super::q5_k::QS + 128, super::q5_k::BYTES);
        assert_eq!(super::q6_k::D + 2, super::q6_k::BYTES);
        assert_eq!(super::q8_k::BSUMS + 32, super::q8_k::BYTES);
        assert_eq!(super::iq4_xs::QS + 128, super::iq4_xs::BYTES);
        assert_eq!(super::iq3_xxs::SCALES_AND_SIGNS + 32, super::iq3_xxs::BYTES);
        assert_eq!(super::iq3_s::SCALES + 4, super::iq3_s::BYTES);
        assert_eq!(super::tq1_0::D + 2, super::tq1_0::BYTES);
    }
}
