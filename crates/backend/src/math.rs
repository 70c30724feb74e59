//! Scalar math shared by the CPU kernels and the attention plugins, written so results are
//! reproducible bit for bit and match llama.cpp's x86 build where it matters.

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

/// Replaces every `x` by `expf(x)`, sixteen or eight at a time where AVX-512 or AVX2 is present
/// (same bits).
pub fn exp_in_place(xs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::avx512() {
        // SAFETY: the CPU supports AVX-512 F (checked just above).
        return unsafe { exp_in_place_avx512(xs) };
    }
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn exp_in_place_avx512(xs: &mut [f32]) {
    use std::arch::x86_64::*;
    let mut chunks = xs.chunks_exact_mut(16);
    for c in &mut chunks {
        // SAFETY: the chunk holds sixteen elements.
        unsafe {
            let e = crate::simd8::exp16(_mm512_loadu_ps(c.as_ptr()));
            _mm512_storeu_ps(c.as_mut_ptr(), e);
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
    if crate::simd8::avx512() {
        // SAFETY: the CPU supports AVX-512 F (checked just above).
        return unsafe { silu_mul_avx512(gate, up) };
    }
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

/// [`silu_mul_body`] sixteen lanes at a time: the same `expf`, an exact add, a correctly rounded
/// division and multiply, so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn silu_mul_avx512(gate: &mut [f32], up: &[f32]) {
    use std::arch::x86_64::*;
    let n = gate.len().min(up.len());
    let main = n - n % 16;
    for i in (0..main).step_by(16) {
        // SAFETY: i + 16 <= n, within both slices.
        unsafe {
            let g = _mm512_loadu_ps(gate.as_ptr().add(i));
            let e = crate::simd8::exp16(_mm512_sub_ps(_mm512_setzero_ps(), g));
            let s = _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0), e));
            let r = _mm512_mul_ps(s, _mm512_loadu_ps(up.as_ptr().add(i)));
            _mm512_storeu_ps(gate.as_mut_ptr().add(i), r);
        }
    }
    silu_mul_body(&mut gate[main..n], &up[main..n]);
}

/// `cap · tanh(s · inv)` with `inv = 1 / cap` (as llama.cpp scales by the rounded inverse),
/// tanh computed as `2 / (1 + expf(-2y)) − 1` in plain float operations, so a GPU shader with
/// the same `expf` and a correctly rounded division gives the same bits. Its absolute error is a
/// few float ulps of 1 (the score changes by ≤ ~1e-7·cap), saturating cleanly to ±cap.
pub fn softcap(s: f32, inv: f32, cap: f32) -> f32 {
    let y = s * inv;
    let t = 2.0 / (1.0 + expf(-2.0 * y)) - 1.0;
    t * cap
}

/// `2·√(2/π)` and GELU's cubic coefficient: `gelu(x) = x / (1 + e^(-x·C·(1 + A·x²)))`.
const GELU_C: f32 = 1.595_769_2;
const GELU_A: f32 = 0.044_715;

/// `gate = gelu(gate) · up`, GELU's tanh form as `x / (1 + expf(-x·C·(1 + A·x²)))` (see
/// [`crate::Backend::geglu`]).
pub fn gelu_mul(gate: &mut [f32], up: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::avx512() {
        // SAFETY: the CPU supports AVX-512 F (checked just above).
        return unsafe { gelu_mul_avx512(gate, up) };
    }
    gelu_mul_body(gate, up);
}

#[inline(always)]
fn gelu_mul_body(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        let x = *g;
        let z = x * (GELU_C * (1.0 + GELU_A * (x * x)));
        *g = x / (1.0 + expf(-z)) * u;
    }
}

/// [`gelu_mul_body`] sixteen lanes at a time: the same operations in the same order (no
/// fused multiply-adds), so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn gelu_mul_avx512(gate: &mut [f32], up: &[f32]) {
    use std::arch::x86_64::*;
    let n = gate.len().min(up.len());
    let main = n - n % 16;
    let (c, a, one) = (
        _mm512_set1_ps(GELU_C),
        _mm512_set1_ps(GELU_A),
        _mm512_set1_ps(1.0),
    );
    for i in (0..main).step_by(16) {
        // SAFETY: i + 16 <= n, within both slices.
        unsafe {
            let x = _mm512_loadu_ps(gate.as_ptr().add(i));
            let inner = _mm512_add_ps(one, _mm512_mul_ps(a, _mm512_mul_ps(x, x)));
            let z = _mm512_mul_ps(x, _mm512_mul_ps(c, inner));
            let e = crate::simd8::exp16(_mm512_sub_ps(_mm512_setzero_ps(), z));
            let s = _mm512_div_ps(x, _mm512_add_ps(one, e));
            let r = _mm512_mul_ps(s, _mm512_loadu_ps(up.as_ptr().add(i)));
            _mm512_storeu_ps(gate.as_mut_ptr().add(i), r);
        }
    }
    gelu_mul_body(&mut gate[main..n], &up[main..n]);
}

/// [`keep_top`] of each `width`-wide row of `rows`, the rows' candidates one after another
/// in `out` (cleared first): the host's top-k selection of [`crate::Backend::top_k`].
pub fn top_k_rows(rows: &[f32], width: usize, k: usize, out: &mut Vec<(u32, f32)>) {
    out.clear();
    let mut cand = Vec::with_capacity(width);
    for row in rows.chunks_exact(width.max(1)) {
        cand.clear();
        cand.extend(row.iter().enumerate().map(|(i, &l)| (i as u32, l)));
        keep_top(&mut cand, k);
        out.extend_from_slice(&cand);
    }
}

/// Leaves the `k` best of `cand` ((id, logit) pairs with distinct ids; all when `k` is 0 or
/// at least their number), sorted by logit, highest first, the lower id first on ties
/// (`total_cmp`'s order, NaNs included): the first `k` of a full sort, with only those `k`
/// sorted after a linear-time selection. Top-k sampling's selection; a full sort of a
/// 49152-token vocabulary took about as long as a SmolLM2 decode step's matmuls.
pub fn keep_top(cand: &mut Vec<(u32, f32)>, k: usize) {
    let by = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if k > 0 && k < cand.len() {
        cand.select_nth_unstable_by(k - 1, by);
        cand.truncate(k);
    }
    // The ids are distinct, so the order is total and an unstable sort gives the same result.
    cand.sort_unstable_by(by);
}

/// Index of the largest logit (first on ties), as llama.cpp's greedy sampler: a scan from
/// index 0 that moves only to a strictly greater value, so NaNs never win (and a NaN first
/// value keeps index 0). [`crate::Backend::argmax`] computes the same on a backend's buffers.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_mul_is_the_tanh_gelu_and_every_form_gives_the_same_bits() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.031).collect();
        let up: Vec<f32> = (0..1000).map(|i| 0.5 + (i % 7) as f32 * 0.25).collect();
        let mut got = x.clone();
        gelu_mul(&mut got, &up);
        let mut plain = x.clone();
        gelu_mul_body(&mut plain, &up);
        for i in 0..x.len() {
            assert_eq!(got[i].to_bits(), plain[i].to_bits(), "{}", x[i]);
            let v = x[i] as f64;
            let tanh = (0.797_884_560_802_865_4 * (v + 0.044_715 * v * v * v)).tanh();
            let want = 0.5 * v * (1.0 + tanh) * up[i] as f64;
            assert!(
                (got[i] as f64 - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "{v}"
            );
        }
        let mut far = vec![-200.0f32, 200.0, -0.0];
        gelu_mul(&mut far, &[1.0; 3]);
        assert_eq!(far, [0.0, 200.0, 0.0]);
    }

    #[test]
    fn softcap_is_cap_times_tanh() {
        for cap in [0.05f32, 1.0, 50.0] {
            let inv = 1.0 / cap;
            for i in -400..=400 {
                let s = i as f32 * cap / 37.0;
                let want = cap as f64 * (s as f64 / cap as f64).tanh();
                let got = softcap(s, inv, cap) as f64;
                assert!(
                    (got - want).abs() <= 4e-7 * cap as f64,
                    "{s} cap {cap}: {got} vs {want}"
                );
            }
            assert_eq!(softcap(1e30, inv, cap), cap);
            assert_eq!(softcap(-1e30, inv, cap), -cap);
        }
    }

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
        let mut xs: Vec<f32> = (-4000..4000).map(|i| i as f32 * 0.0517).collect();
        xs.extend([
            0.0, -0.0, 88.7, -88.7, 104.0, -104.0, 200.0, -200.0, 1e-30, -1e-30,
        ]);
        let mut g = xs.clone();
        silu_mul(&mut g, &xs);
        for (x, y) in xs.iter().zip(&g) {
            assert_eq!((x / (1.0 + expf(-x)) * x).to_bits(), y.to_bits(), "{x}");
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
}
