//! Scale unpacking shared by the scalar and SIMD k-quant kernels (ggml's `kmask` shuffles).

/// Q4_K/Q5_K: the 12 packed bytes hold eight 6-bit scales and eight 6-bit mins.
#[inline(always)]
pub(crate) fn q4_k_scales_mins(p: &[u8]) -> ([u8; 8], [u8; 8]) {
    const KMASK1: u32 = 0x3f3f_3f3f;
    const KMASK2: u32 = 0x0f0f_0f0f;
    const KMASK3: u32 = 0x0303_0303;
    let u = |i: usize| u32::from_le_bytes([p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]]);
    let (u0, u1, u2) = (u(0), u(1), u(2));
    let t3 = ((u2 >> 4) & KMASK2) | (((u1 >> 6) & KMASK3) << 4);
    let t2 = u1 & KMASK1;
    let t1 = (u2 & KMASK2) | (((u0 >> 6) & KMASK3) << 4);
    let t0 = u0 & KMASK1;
    let mut sc = [0u8; 8];
    let mut mn = [0u8; 8];
    sc[..4].copy_from_slice(&t0.to_le_bytes());
    sc[4..].copy_from_slice(&t1.to_le_bytes());
    mn[..4].copy_from_slice(&t2.to_le_bytes());
    mn[4..].copy_from_slice(&t3.to_le_bytes());
    (sc, mn)
}

/// Q3_K: the 12 packed bytes hold sixteen 6-bit scales (still offset by 32).
#[inline(always)]
pub(crate) fn q3_k_scales(p: &[u8]) -> [u8; 16] {
    const KMASK1: u32 = 0x0303_0303;
    const KMASK2: u32 = 0x0f0f_0f0f;
    let u = |i: usize| u32::from_le_bytes([p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]]);
    let (a0, a1, tmp) = (u(0), u(1), u(2));
    let words = [
        (a0 & KMASK2) | ((tmp & KMASK1) << 4),
        (a1 & KMASK2) | (((tmp >> 2) & KMASK1) << 4),
        ((a0 >> 4) & KMASK2) | (((tmp >> 4) & KMASK1) << 4),
        ((a1 >> 4) & KMASK2) | (((tmp >> 6) & KMASK1) << 4),
    ];
    let mut out = [0u8; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(words) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}
