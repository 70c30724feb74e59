//! Reductions in 16 interleaved lanes (lane l takes elements l, l + 16, …; then the lanes
//! pairwise: l + 8, l + 4, l + 2, l + 1). The order is fixed, so the result does not depend on
//! the CPU, and the lane loop is independent per lane, so the compiler turns it into vector
//! adds without reassociating anything.

const LANES: usize = 16;

/// `xs` folded into 16 lanes by `op`, then the lanes pairwise; `init` for an empty slice.
fn fold16(xs: &[f32], init: f32, op: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in chunks.by_ref() {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = op(*a, x);
        }
    }
    for (a, &x) in acc.iter_mut().zip(chunks.remainder()) {
        *a = op(*a, x);
    }
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            acc[l] = op(acc[l], acc[l + width]);
        }
        width /= 2;
    }
    acc[0]
}

/// The sum of `xs` in the fixed 16-lane order (−0.0 for an empty slice): the order
/// [`exp_sum16`] keeps, which the tests state with it.
#[cfg(test)]
pub(crate) fn sum16(xs: &[f32]) -> f32 {
    fold16(xs, -0.0, |a, b| a + b)
}

/// [`exp_sum16`] of every part `xs[starts[j]..][..lens[j]]` into `sums[j]` (0 for `skip`), the
/// same bits: PINE's importance sums each segment's softmax mass of a query this way. With
/// AVX-512 the exponentials of all of `xs` are taken in one pass into `scratch` and each part
/// is summed from there, so many short parts (a prompt of hundreds of short segments) cost a
/// few vector operations each rather than a call with its own lane reduction.
pub fn exp_sums16(
    xs: &[f32],
    max: f32,
    starts: &[usize],
    lens: &[usize],
    skip: Option<usize>,
    scratch: &mut Vec<f32>,
    sums: &mut [f32],
) {
    assert!(starts.len() == lens.len() && sums.len() == lens.len());
    assert!(starts.iter().zip(lens).all(|(&s, &l)| s + l <= xs.len()));
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::avx512() {
        scratch.resize(xs.len(), 0.0);
        // SAFETY: the CPU supports AVX-512F (checked above); `scratch` holds `xs.len()` values.
        unsafe { sub_exp_avx512(xs, max, scratch) };
        for (j, sum) in sums.iter_mut().enumerate() {
            *sum = match Some(j) == skip {
                true => 0.0,
                // SAFETY: the CPU supports AVX-512F (checked above).
                false => unsafe { sum16_avx512(&scratch[starts[j]..][..lens[j]]) },
            };
        }
        return;
    }
    let _ = scratch;
    exp_sums16_plain(xs, max, starts, lens, skip, sums);
}

/// `out[i] = expf(xs[i] − max)` in one pass, sixteen at a time with ggml's exponential and the
/// tail one by one: the bits of subtracting and then [`crate::math::exp_in_place`].
///
/// # Safety
/// AVX-512F must be present and `out.len() == xs.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sub_exp_avx512(xs: &[f32], max: f32, out: &mut [f32]) {
    use std::arch::x86_64::*;
    assert_eq!(xs.len(), out.len());
    let m = _mm512_set1_ps(max);
    let mut chunks = xs.chunks_exact(LANES);
    let mut outs = out.chunks_exact_mut(LANES);
    for (c, o) in (&mut chunks).zip(&mut outs) {
        // SAFETY: both chunks hold sixteen elements.
        unsafe {
            let x = _mm512_sub_ps(_mm512_loadu_ps(c.as_ptr()), m);
            _mm512_storeu_ps(o.as_mut_ptr(), crate::simd8::exp16(x));
        }
    }
    for (o, &x) in outs.into_remainder().iter_mut().zip(chunks.remainder()) {
        *o = crate::math::expf(x - max);
    }
}

/// The plain form of [`exp_sums16`]: one [`exp_sum16`] per part.
pub(crate) fn exp_sums16_plain(
    xs: &[f32],
    max: f32,
    starts: &[usize],
    lens: &[usize],
    skip: Option<usize>,
    sums: &mut [f32],
) {
    for (j, sum) in sums.iter_mut().enumerate() {
        *sum = match Some(j) == skip {
            true => 0.0,
            false => exp_sum16(&xs[starts[j]..][..lens[j]], max),
        };
    }
}

/// [`sum16`] with the 16 lanes in one register and the pairwise steps as vector adds of
/// halves (lane l + lane l + 8, then + 4, + 2, + 1: the same pairs).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sum16_avx512(xs: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = _mm512_set1_ps(-0.0);
    let mut chunks = xs.chunks_exact(LANES);
    for c in chunks.by_ref() {
        // SAFETY: the chunk holds sixteen elements.
        acc = _mm512_add_ps(acc, unsafe { _mm512_loadu_ps(c.as_ptr()) });
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mask: __mmask16 = (1u16 << rest.len()) - 1;
        // SAFETY: the masked load reads only the `rest.len()` elements of `rest`.
        let x = unsafe { _mm512_maskz_loadu_ps(mask, rest.as_ptr()) };
        acc = _mm512_mask_add_ps(acc, mask, acc, x);
    }
    let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1));
    let t8 = _mm256_add_ps(_mm512_castps512_ps256(acc), hi);
    let t4 = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
    let t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
    _mm_cvtss_f32(_mm_add_ss(t2, _mm_movehdup_ps(t2)))
}

/// `sum16` of `expf(x − max)` over `xs` (ggml's `expf`, [`crate::math::expf`]): the same
/// bits as subtracting, exponentiating and summing in three passes, in one pass over `xs`,
/// sixteen lanes per AVX-512 register where there is one. PINE's importance sums each
/// segment's softmax mass this way.
pub fn exp_sum16(xs: &[f32], max: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::simd8::avx512() {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            return unsafe { exp_sum16_avx512(xs, max) };
        }
        if crate::simd8::available() {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { exp_sum16_avx2(xs, max) };
        }
    }
    exp_sum16_plain(xs, max)
}

fn exp_sum16_plain(xs: &[f32], max: f32) -> f32 {
    let mut acc = [-0.0f32; LANES];
    for (i, &x) in xs.iter().enumerate() {
        acc[i % LANES] += crate::math::expf(x - max);
    }
    fold16(&acc, -0.0, |a, b| a + b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn exp_sum16_avx512(xs: &[f32], max: f32) -> f32 {
    use std::arch::x86_64::*;
    let m = _mm512_set1_ps(max);
    let mut acc = _mm512_set1_ps(-0.0);
    let mut chunks = xs.chunks_exact(LANES);
    for c in chunks.by_ref() {
        // SAFETY: the chunk holds sixteen elements.
        let x = unsafe { _mm512_loadu_ps(c.as_ptr()) };
        acc = _mm512_add_ps(acc, crate::simd8::exp16(_mm512_sub_ps(x, m)));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mask: __mmask16 = (1u16 << rest.len()) - 1;
        // SAFETY: the masked load reads only the `rest.len()` elements of `rest`.
        let x = unsafe { _mm512_maskz_loadu_ps(mask, rest.as_ptr()) };
        let e = crate::simd8::exp16(_mm512_sub_ps(x, m));
        acc = _mm512_mask_add_ps(acc, mask, acc, e);
    }
    let mut lanes = [0.0f32; LANES];
    // SAFETY: `lanes` holds sixteen f32.
    unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), acc) };
    fold16(&lanes, -0.0, |a, b| a + b)
}

/// [`exp_sum16`] with lanes 0–7 and 8–15 in two AVX2 registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn exp_sum16_avx2(xs: &[f32], max: f32) -> f32 {
    use std::arch::x86_64::*;
    let m = _mm256_set1_ps(max);
    let mut acc = [_mm256_set1_ps(-0.0); 2];
    let mut chunks = xs.chunks_exact(LANES);
    for c in chunks.by_ref() {
        for (h, a) in acc.iter_mut().enumerate() {
            // SAFETY: the chunk holds sixteen elements.
            let x = unsafe { _mm256_loadu_ps(c.as_ptr().add(8 * h)) };
            *a = _mm256_add_ps(*a, crate::simd8::exp8(_mm256_sub_ps(x, m)));
        }
    }
    let mut lanes = [0.0f32; LANES];
    // SAFETY: `lanes` holds sixteen f32.
    unsafe {
        _mm256_storeu_ps(lanes.as_mut_ptr(), acc[0]);
        _mm256_storeu_ps(lanes.as_mut_ptr().add(8), acc[1]);
    }
    for (a, &x) in lanes.iter_mut().zip(chunks.remainder()) {
        *a += crate::math::expf(x - max);
    }
    fold16(&lanes, -0.0, |a, b| a + b)
}

/// The largest element of `xs` (−∞ for an empty slice); exact, so any order gives it, except
/// that a tie between +0 and −0 may give either (the importance pass subtracts the maximum,
/// and `x − (±0)` differ only for x = −0, whose exponentials are both exactly 1). NaNs are
/// passed over, as [`f32::max`] does.
pub fn max16(xs: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::avx512() {
        // SAFETY: the CPU supports AVX-512F (checked just above).
        return unsafe { max16_avx512(xs) };
    }
    max16_plain(xs)
}

/// The plain form of [`max16`].
fn max16_plain(xs: &[f32]) -> f32 {
    fold16(xs, f32::NEG_INFINITY, f32::max)
}

/// [`max16`] sixteen lanes per register.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn max16_avx512(xs: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = _mm512_set1_ps(f32::NEG_INFINITY);
    let mut chunks = xs.chunks_exact(LANES);
    for c in chunks.by_ref() {
        // SAFETY: the chunk holds sixteen elements. `max_ps(x, acc)` gives `acc` where `x` is
        // NaN, so NaNs are passed over.
        acc = _mm512_max_ps(unsafe { _mm512_loadu_ps(c.as_ptr()) }, acc);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mask: __mmask16 = (1u16 << rest.len()) - 1;
        // SAFETY: the masked load reads only the `rest.len()` elements of `rest`.
        let x =
            unsafe { _mm512_mask_loadu_ps(_mm512_set1_ps(f32::NEG_INFINITY), mask, rest.as_ptr()) };
        acc = _mm512_max_ps(x, acc);
    }
    _mm512_reduce_max_ps(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum16_follows_the_stated_lane_order() {
        let xs: Vec<f32> = (0..53).map(|i| (i as f32 * 0.61).sin() * 1e3).collect();
        let mut lanes = [-0.0f32; 16];
        for (i, &x) in xs.iter().enumerate() {
            lanes[i % 16] += x;
        }
        for w in [8, 4, 2, 1] {
            for l in 0..w {
                lanes[l] += lanes[l + w];
            }
        }
        assert_eq!(sum16(&xs).to_bits(), lanes[0].to_bits());
        assert_eq!(sum16(&[]).to_bits(), (-0.0f32).to_bits());
        assert_eq!(sum16(&[2.5]), 2.5);
    }

    #[test]
    fn exp_sum16_equals_three_passes_bit_for_bit() {
        use crate::math::exp_in_place;
        for len in [0usize, 1, 5, 16, 17, 31, 64, 100, 517] {
            let xs: Vec<f32> = (0..len)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.9 + (i as f32 * 0.31).sin())
                .collect();
            for max in [0.0f32, 45.5, 150.0, -3.25] {
                let mut e: Vec<f32> = xs.iter().map(|x| x - max).collect();
                exp_in_place(&mut e);
                let want = sum16(&e).to_bits();
                assert_eq!(exp_sum16(&xs, max).to_bits(), want, "len {len}, max {max}");
                assert_eq!(
                    exp_sum16_plain(&xs, max).to_bits(),
                    want,
                    "len {len}, max {max}"
                );
            }
        }
        let edges = [f32::NEG_INFINITY, -200.0, -104.0, -88.7, 0.0, -0.0];
        assert_eq!(exp_sum16(&edges, 0.0).to_bits(), {
            let mut e = edges;
            exp_in_place(&mut e);
            sum16(&e).to_bits()
        });
    }

    /// The parts' sums from one exponential pass equal one [`exp_sum16`] per part, bit for bit:
    /// parts of every length around the 16 lanes, empty ones, overlapping and skipped ones.
    #[test]
    fn exp_sums16_equal_one_exp_sum16_per_part() {
        let xs: Vec<f32> = (0..300)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.9 + (i as f32 * 0.31).sin())
            .collect();
        let mut starts = Vec::new();
        let mut lens = Vec::new();
        let mut at = 0;
        for len in [1usize, 2, 3, 15, 16, 17, 31, 32, 33, 0, 5, 64, 7] {
            starts.push(at);
            lens.push(len);
            at += len;
        }
        starts.push(10);
        lens.push(100);
        let n = lens.len();
        let mut scratch = Vec::new();
        for max in [0.0f32, 45.5, -3.25] {
            for skip in [None, Some(0), Some(n - 1)] {
                let mut got = vec![1.0; n];
                exp_sums16(&xs, max, &starts, &lens, skip, &mut scratch, &mut got);
                let mut want = vec![2.0; n];
                exp_sums16_plain(&xs, max, &starts, &lens, skip, &mut want);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "max {max} skip {skip:?}");
                for (j, &w) in want.iter().enumerate() {
                    if Some(j) != skip {
                        let one = exp_sum16(&xs[starts[j]..][..lens[j]], max);
                        assert_eq!(w.to_bits(), one.to_bits());
                    }
                }
            }
        }
    }

    #[test]
    fn max16_is_the_maximum() {
        let xs: Vec<f32> = (0..37).map(|i| ((i * 7919) % 101) as f32 - 50.0).collect();
        assert_eq!(max16(&xs), 50.0);
        assert_eq!(max16(&[]), f32::NEG_INFINITY);
        assert_eq!(max16(&[-3.0]), -3.0);
    }

    /// The vector maximum equals the plain fold on every length around the lanes, with the
    /// maximum anywhere, infinities and NaNs (passed over by both).
    #[test]
    fn max16_equals_its_plain_form() {
        for len in [0usize, 1, 7, 15, 16, 17, 33, 100] {
            for at in 0..len {
                let mut xs: Vec<f32> = (0..len).map(|i| (i as f32 * 0.73).sin() - 2.0).collect();
                xs[at] = 3.5;
                assert_eq!(
                    max16(&xs).to_bits(),
                    max16_plain(&xs).to_bits(),
                    "{len} {at}"
                );
                xs[(at + 1) % len] = f32::NAN;
                assert_eq!(
                    max16(&xs).to_bits(),
                    max16_plain(&xs).to_bits(),
                    "NaN {len} {at}"
                );
                xs[at] = f32::INFINITY;
                assert_eq!(max16(&xs), f32::INFINITY);
            }
        }
        assert_eq!(max16(&[f32::NEG_INFINITY; 5]), f32::NEG_INFINITY);
    }
}
