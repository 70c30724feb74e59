//! Scalar math shared by the CPU kernels and the attention plugins, written so results are
//! reproducible bit for bit and match llama.cpp's x86 build where it matters.

use crate::packed_queries::KeyRows;

/// ggml's vectorised `expf` (an Arm optimized-routines polynomial, ≤ 1.5 ulp), evaluated with
/// the same fused operations one lane at a time. `mul_add` is always fused, so the result is the
/// same with or without an FMA unit; the slice helpers below just run faster where there is one.
#[inline(always)]
pub fn expf(x: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 0x1.8p23
    let z = x.mul_add(f32::from_bits(0x3fb8_aa3b), SHIFT); // log2(e)
    let n = z - SHIFT;
    let b = (-n).mul_add(
        f32::from_bits(0x35bf_be8e),
        (-n).mul_add(f32::from_bits(0x3f31_7200), x),
    );
    if n.abs() > 192.0 {
        return if n > 0.0 { f32::INFINITY } else { 0.0 };
    }
    let u = b * b;
    let c5 = f32::from_bits(0x3c07_2010);
    let c4 = f32::from_bits(0x3d2b_9f17);
    let c3 = f32::from_bits(0x3e2a_af33);
    let c2 = f32::from_bits(0x3eff_fedb);
    let c1 = f32::from_bits(0x3f7f_fff6);
    let j = c5
        .mul_add(b, c4)
        .mul_add(u, c3.mul_add(b, c2))
        .mul_add(u, c1.mul_add(b, 1.0));
    scale2(j, n as i32)
}

/// `j · 2^n` with one rounding, like `_mm512_scalef_ps` (n in [-192, 192]).
#[inline(always)]
fn scale2(j: f32, n: i32) -> f32 {
    let pow = |e: i32| f32::from_bits(((e + 127) as u32) << 23);
    if n > 127 {
        j * pow(127) * pow(n - 127)
    } else if n < -126 {
        // 2^n is subnormal: scale in two exact steps, the last one rounding once.
        j * pow(n + 126) * pow(-126)
    } else {
        j * pow(n)
    }
}

/// Replaces every `x` by `expf(x)`, eight at a time where AVX2 is present (same bits).
pub fn exp_in_place(xs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::available() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { exp_in_place_avx2(xs) };
    }
    xs.iter_mut().for_each(|x| *x = expf(*x));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn exp_in_place_avx2(xs: &mut [f32]) {
    use std::arch::x86_64::*;
    let mut chunks = xs.chunks_exact_mut(8);
    for c in &mut chunks {
        // SAFETY: the chunk holds eight elements.
        unsafe {
            let e = crate::simd8::exp8(_mm256_loadu_ps(c.as_ptr()));
            _mm256_storeu_ps(c.as_mut_ptr(), e);
        }
    }
    chunks
        .into_remainder()
        .iter_mut()
        .for_each(|x| *x = expf(*x));
}

/// `gate = silu(gate) · up`, SiLU as llama.cpp's x86 build computes it: x / (1 + expf(-x)).
pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports FMA (checked just above).
        return unsafe { silu_mul_fma(gate, up) };
    }
    silu_mul_body(gate, up);
}

#[inline(always)]
fn silu_mul_body(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + expf(-*g)) * u;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
fn silu_mul_fma(gate: &mut [f32], up: &[f32]) {
    silu_mul_body(gate, up);
}

/// Appends, for `count` rows of `width` elements each (row r's `q.len()` elements start at
/// `r * width + offset` of `rows`, f32 or f16), `scale ·` the f32 dot product of `q` and the
/// row, computed in eight interleaved lanes (lane l sums elements l, l+8, …) then the lanes
/// pairwise: a fixed order without fused operations, so every CPU gives the same bits, and one
/// that vectorises.
pub fn dot8_rows(
    q: &[f32],
    rows: KeyRows<'_>,
    width: usize,
    offset: usize,
    count: usize,
    scale: f32,
    out: &mut Vec<f32>,
) {
    let n = q.len();
    assert!(count == 0 || (count - 1) * width + offset + n <= rows.len());
    let mut r = 0;
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::available() {
        let (base, bytes) = rows.raw();
        out.reserve(count);
        while r + 8 <= count {
            let mut lanes = [0.0f32; 8];
            // SAFETY: AVX2/F16C are present; rows r..r + 8 hold n elements each (asserted
            // above), so every pointer stays inside `rows`.
            unsafe {
                let b: [*const u8; 8] =
                    std::array::from_fn(|p| base.add(((r + p) * width + offset) * bytes));
                let d = match rows {
                    KeyRows::F32(_) => crate::simd8::dot8_pairs::<false>(q.as_ptr(), &b, n, scale),
                    KeyRows::F16(_) => crate::simd8::dot8_pairs::<true>(q.as_ptr(), &b, n, scale),
                };
                std::arch::x86_64::_mm256_storeu_ps(lanes.as_mut_ptr(), d);
            }
            out.extend_from_slice(&lanes);
            r += 8;
        }
    }
    dot8_rows_scalar(q, rows, width, offset + r * width, count - r, scale, out);
}

/// [`dot8_rows`] for several queries against the same rows (`outs[g]` gets query g's
/// products, the same bits as `dot8_rows` for it): with AVX-512, up to four queries share each
/// pass over the rows, so a KV head's keys are read once for all the query heads that use it.
pub fn dot8_rows_multi(
    qs: &[&[f32]],
    rows: KeyRows<'_>,
    width: usize,
    offset: usize,
    count: usize,
    scale: f32,
    outs: &mut [Vec<f32>],
) {
    assert_eq!(qs.len(), outs.len());
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::avx512() && is_x86_feature_detected!("avx512vl") {
        match qs.len() {
            2 => return multi::<2>(qs, rows, width, offset, count, scale, outs),
            3 => return multi::<3>(qs, rows, width, offset, count, scale, outs),
            4 => return multi::<4>(qs, rows, width, offset, count, scale, outs),
            _ => {}
        }
    }
    for (q, out) in qs.iter().zip(outs) {
        dot8_rows(q, rows, width, offset, count, scale, out);
    }
}

/// [`dot8_rows_multi`] for `G` queries on the AVX-512 kernel; AVX-512F/VL were detected.
#[cfg(target_arch = "x86_64")]
fn multi<const G: usize>(
    qs: &[&[f32]],
    rows: KeyRows<'_>,
    width: usize,
    offset: usize,
    count: usize,
    scale: f32,
    outs: &mut [Vec<f32>],
) {
    let n = qs[0].len();
    assert!(qs.len() == G && qs.iter().all(|q| q.len() == n));
    assert!(count == 0 || (count - 1) * width + offset + n <= rows.len());
    let (base, bytes) = rows.raw();
    let q: [*const f32; G] = std::array::from_fn(|g| qs[g].as_ptr());
    let mut r = 0;
    while r + 8 <= count {
        // SAFETY: AVX-512F/VL (hence AVX2/F16C) were detected by the caller; rows r..r + 8 hold
        // n elements each (asserted above) and every query n.
        let d = unsafe {
            let b: [*const u8; 8] =
                std::array::from_fn(|p| base.add(((r + p) * width + offset) * bytes));
            match rows {
                KeyRows::F32(_) => crate::simd8::dot8_pairs_multi::<G, false>(q, &b, n, scale),
                KeyRows::F16(_) => crate::simd8::dot8_pairs_multi::<G, true>(q, &b, n, scale),
            }
        };
        for (dg, out) in d.iter().zip(outs.iter_mut()) {
            let mut lanes = [0.0f32; 8];
            // SAFETY: AVX was detected.
            unsafe { std::arch::x86_64::_mm256_storeu_ps(lanes.as_mut_ptr(), *dg) };
            out.extend_from_slice(&lanes);
        }
        r += 8;
    }
    for (qg, out) in qs.iter().zip(outs.iter_mut()) {
        dot8_rows_scalar(qg, rows, width, offset + r * width, count - r, scale, out);
    }
}

/// The plain form of [`dot8_rows`], one row at a time.
fn dot8_rows_scalar(
    q: &[f32],
    rows: KeyRows<'_>,
    width: usize,
    offset: usize,
    count: usize,
    scale: f32,
    out: &mut Vec<f32>,
) {
    let mut row = Vec::with_capacity(q.len());
    for r in 0..count {
        rows.widen(r * width + offset, q.len(), &mut row);
        out.push(dot8_body(q, &row) * scale);
    }
}

/// One `Σ a·b` in the fixed 8-lane order: lane l sums products l, l+8, … unfused, then the
/// tree `((0+4)+(2+6))+((1+5)+(3+7))`, then the tail summed in order.
#[inline(always)]
pub(crate) fn dot8_body(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7])) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expf_is_within_two_ulp_of_exp() {
        for i in -2000..2000 {
            let x = i as f32 * 0.04321;
            let (a, b) = (expf(x), x.exp());
            assert!(((a - b) / b).abs() < 2.5e-7, "{x}: {a} vs {b}");
        }
        assert_eq!(expf(-200.0), 0.0);
        assert_eq!(expf(200.0), f32::INFINITY);
    }

    #[test]
    fn scale2_matches_powi_including_subnormals() {
        for n in -192..=192 {
            for j in [1.0f32, 1.5, 1.999_999] {
                let want = (j as f64 * 2f64.powi(n)) as f32;
                assert_eq!(scale2(j, n).to_bits(), want.to_bits(), "{j} · 2^{n}");
            }
        }
    }

    #[test]
    fn slice_helpers_match_the_scalar_forms() {
        let xs: Vec<f32> = (0..100).map(|i| i as f32 * 0.37 - 18.0).collect();
        let mut e = xs.clone();
        exp_in_place(&mut e);
        for (x, y) in xs.iter().zip(&e) {
            assert_eq!(expf(*x).to_bits(), y.to_bits());
        }
        let mut g = xs.clone();
        silu_mul(&mut g, &xs);
        for (x, y) in xs.iter().zip(&g) {
            assert_eq!((x / (1.0 + expf(-x)) * x).to_bits(), y.to_bits());
        }
    }

    #[test]
    fn exp_in_place_matches_expf_bit_for_bit() {
        let mut xs: Vec<f32> = (-40_000..40_000).map(|i| i as f32 * 0.0029).collect();
        xs.extend([
            0.0,
            -0.0,
            -87.5,
            -88.7,
            -103.0,
            -104.0,
            88.5,
            89.0,
            -200.0,
            200.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE,
        ]);
        xs.extend((0..2000).map(|i| -100.0 - i as f32 * 0.017));
        let mut got = xs.clone();
        exp_in_place(&mut got);
        for (x, g) in xs.iter().zip(&got) {
            assert_eq!(expf(*x).to_bits(), g.to_bits(), "expf({x})");
        }
        let mut nan = [f32::NAN; 9];
        exp_in_place(&mut nan);
        assert!(nan.iter().all(|x| x.is_nan()));
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    fn wavy(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * seed).sin() * 3.0).collect()
    }

    #[test]
    fn dot8_kernels_match_their_scalar_forms_bit_for_bit() {
        for n in [1, 7, 8, 16, 64, 70, 128] {
            let width = n + 5;
            let rows = wavy(21 * width, 0.61);
            let rows16: Vec<half::f16> = rows.iter().map(|&x| half::f16::from_f32(x)).collect();
            let q = wavy(n, 0.37);
            for count in [0, 1, 8, 13, 21] {
                for keys in [KeyRows::F32(&rows), KeyRows::F16(&rows16)] {
                    let (mut got, mut want) = (Vec::new(), Vec::new());
                    dot8_rows(&q, keys, width, 3, count, 0.125, &mut got);
                    dot8_rows_scalar(&q, keys, width, 3, count, 0.125, &mut want);
                    assert_eq!(bits(&got), bits(&want), "n={n} count={count} {keys:?}");
                }
            }
        }
    }

    #[test]
    fn dot8_rows_multi_equals_one_query_at_a_time() {
        for n in [8, 64, 70] {
            let width = n + 3;
            let rows = wavy(21 * width, 0.57);
            let rows16: Vec<half::f16> = rows.iter().map(|&x| half::f16::from_f32(x)).collect();
            let qs: Vec<Vec<f32>> = (0..5).map(|g| wavy(n, 0.3 + g as f32 * 0.11)).collect();
            let refs: Vec<&[f32]> = qs.iter().map(|q| &q[..]).collect();
            for keys in [KeyRows::F32(&rows), KeyRows::F16(&rows16)] {
                for g in 1..=5 {
                    for count in [0, 7, 8, 21] {
                        let mut got = vec![Vec::new(); g];
                        dot8_rows_multi(&refs[..g], keys, width, 2, count, 0.2, &mut got);
                        for (q, out) in refs.iter().zip(&got) {
                            let mut want = Vec::new();
                            dot8_rows(q, keys, width, 2, count, 0.2, &mut want);
                            assert_eq!(bits(out), bits(&want), "n={n} g={g} count={count}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn dot8_rows_matches_a_plain_sum() {
        for n in [0, 3, 8, 64, 70] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).sin()).collect();
            let rows: Vec<f32> = (0..3 * (n + 2)).map(|i| (i as f32 * 0.7).cos()).collect();
            let mut got = Vec::new();
            dot8_rows(&a, KeyRows::F32(&rows), n + 2, 1, 3, 0.5, &mut got);
            for (r, g) in got.iter().enumerate() {
                let row = &rows[r * (n + 2) + 1..][..n];
                let want: f64 = a.iter().zip(row).map(|(x, y)| (x * y) as f64).sum::<f64>() * 0.5;
                assert!((*g as f64 - want).abs() < 1e-5);
            }
        }
    }
}
