//! Known-value and error tests for the dequantizers (the fixture test covers real data).

use super::*;
use crate::blocks::put_f16;
use GgmlType::*;

#[test]
fn q4_0_known_block() {
    let mut b = [0u8; 18];
    put_f16(&mut b, 0, 0.5);
    for j in 0..16 {
        b[2 + j] = (j as u8) | ((15 - j as u8) << 4);
    }
    let mut y = [0f32; 32];
    dequantize_row(Q4_0, &b, &mut y).unwrap();
    for j in 0..16 {
        assert_eq!(y[j], (j as f32 - 8.0) * 0.5);
        assert_eq!(y[j + 16], (7.0 - j as f32) * 0.5);
    }
}

#[test]
fn q5_1_uses_high_bits_and_min() {
    let mut b = [0u8; 24];
    put_f16(&mut b, 0, 2.0);
    put_f16(&mut b, 2, -1.0);
    b[4..8].copy_from_slice(&0x8000_0001u32.to_le_bytes()); // elements 0 and 31 get bit 4
    b[8] = 0x03; // element 0 low nibble 3, element 16 low nibble 0
    b[8 + 15] = 0xF0; // element 31 low nibble 15
    let mut y = [0f32; 32];
    dequantize_row(Q5_1, &b, &mut y).unwrap();
    assert_eq!(y[0], 19.0 * 2.0 - 1.0);
    assert_eq!(y[16], -1.0);
    assert_eq!(y[31], 31.0 * 2.0 - 1.0);
}

#[test]
fn q8_0_and_float_types() {
    let mut b = [0u8; 34];
    put_f16(&mut b, 0, 0.25);
    b[2] = (-128i8) as u8;
    b[3] = 127;
    let mut y = [0f32; 32];
    dequantize_row(Q8_0, &b, &mut y).unwrap();
    assert_eq!((y[0], y[1], y[2]), (-32.0, 31.75, 0.0));

    let f = [1.5f32, -2.0];
    let bytes: Vec<u8> = f.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut y = [0f32; 2];
    dequantize_row(F32, &bytes, &mut y).unwrap();
    assert_eq!(y, f);
    dequantize_row(BF16, &[0xc0, 0x3f, 0x00, 0xc0], &mut y).unwrap();
    assert_eq!(y, [1.5, -2.0]);
    dequantize_row(F16, &[0x00, 0x3e, 0x00, 0xc0], &mut y).unwrap();
    assert_eq!(y, [1.5, -2.0]);
}

#[test]
fn tq2_0_planes() {
    let mut b = [0u8; 66];
    put_f16(&mut b, 64, 3.0);
    b[0] = 0b10_01_00_10; // planes 0..4 of element 0: q = 2, 0, 1, 2
    let mut y = [0f32; 256];
    dequantize_row(TQ2_0, &b, &mut y).unwrap();
    assert_eq!((y[0], y[32], y[64], y[96]), (3.0, -3.0, 0.0, 3.0));
    assert_eq!(y[1], -3.0);
}

#[test]
fn tq1_0_trits() {
    // Byte for trits (t0..t4) = (2,0,1,1,0): q = Σ t_n·3^(4−n) = 162+0+9+3+0 = 174,
    // stored as ⌈174·256/243⌉.
    let q = (174u16 * 256).div_ceil(243) as u8;
    let mut b = [0u8; 54];
    b[0] = q;
    put_f16(&mut b, 52, 1.0);
    let mut y = [0f32; 256];
    dequantize_row(TQ1_0, &b, &mut y).unwrap();
    assert_eq!(
        [y[0], y[32], y[64], y[96], y[128]],
        [1.0, -1.0, 0.0, 0.0, -1.0]
    );
}

#[test]
fn length_and_type_errors_name_the_type() {
    let mut y = [0f32; 32];
    let e = dequantize_row(Q4_0, &[0u8; 17], &mut y).unwrap_err();
    assert_eq!(
        e,
        QuantError::RowLength {
            ty: Q4_0,
            what: "source bytes",
            expected: 18,
            got: 17
        }
    );
    assert!(e.to_string().contains("Q4_0"));
    let mut y = [0f32; 33];
    let e = dequantize_row(Q4_0, &[0u8; 18], &mut y).unwrap_err();
    assert!(matches!(
        e,
        QuantError::NotBlockMultiple { ty: Q4_0, n: 33 }
    ));
    let mut y = [0f32; 256];
    let e = dequantize_row(IQ2_XXS, &[0u8; 66], &mut y).unwrap_err();
    assert!(e.to_string().contains("IQ2_XXS"), "{e}");
}

#[test]
fn tensor_matches_row_decode() {
    let n = 3 * CHUNK_ELEMS + 512;
    let bytes: Vec<u8> = (0..n / 256 * Q4_K.block_bytes())
        .map(|i| ((i * 2_654_435_761usize) >> 7) as u8)
        .collect();
    let mut a = vec![0f32; n];
    let mut b = vec![0f32; n];
    dequantize_row(Q4_K, &bytes, &mut a).unwrap();
    dequantize_tensor(Q4_K, &bytes, &mut b).unwrap();
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
}
