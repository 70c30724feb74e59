//! Small lookup tables of `ggml-common.h` shared by the i-quant codecs.

/// The 16 non-linear levels of IQ4_NL and IQ4_XS (ggml `kvalues_iq4nl`): denser near zero,
/// where normally distributed weights are.
pub const KVALUES_IQ4NL: [i8; 16] = [
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
];

/// Sign patterns for 8 values stored in 7 bits (ggml `ksigns_iq2xs`): bit 7 is the parity of the
/// low 7 bits, so every pattern has an even number of negatives and the 8th sign is implied.
pub const KSIGNS_IQ2XS: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        let parity = (i as u8).count_ones() as u8 & 1;
        t[i] = i as u8 | (parity << 7);
        i += 1;
    }
    t
};

/// Bit j selects the sign of value j within an 8-value group (ggml `kmask_iq2xs`).
pub const KMASK_IQ2XS: [u8; 8] = [1, 2, 4, 8, 16, 32, 64, 128];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ksigns_match_ggml_common() {
        // First and last rows of ksigns_iq2xs in ggml-common.h.
        assert_eq!(
            KSIGNS_IQ2XS[..16],
            [0, 129, 130, 3, 132, 5, 6, 135, 136, 9, 10, 139, 12, 141, 142, 15]
        );
        assert_eq!(
            KSIGNS_IQ2XS[112..],
            [240, 113, 114, 243, 116, 245, 246, 119, 120, 249, 250, 123, 252, 125, 126, 255]
        );
    }
}
