//! AVX-512 forms of the Q8_0/Q8_1/Q8_K activation quantizers (`activation.rs` has the plain forms
//! they equal byte for byte). Per block: `amax` by `vmaxps` (exact, order-free), the same scalar
//! `127/amax` and `amax/127`, `x·id` rounded half to even by `vcvtps2dq`, F16C for the stored
//! scales. Prefill quantizes every activation row before each matmul, so this is on the hot path.

use std::arch::x86_64::*;

/// Whether this CPU runs the AVX-512 quantizers.
pub(crate) fn available() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("f16c")
    })
}

/// One f32 as IEEE half bits, round to nearest even.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,f16c")]
fn half_bits(v: f32) -> [u8; 2] {
    let h = _mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm_set_ss(v));
    (_mm_extract_epi16::<0>(h) as u16).to_le_bytes()
}

/// Quantizes one block of 32 values into `q` (32 bytes); returns `(d, Σq)`.
///
/// # Safety
/// AVX-512 F/BW and F16C must be present; `x` holds 32 values and `q` 32 bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,f16c")]
pub(crate) unsafe fn block(x: &[f32], q: &mut [u8]) -> (f32, i32) {
    // SAFETY: the caller's contract: 32 values and 32 bytes.
    unsafe {
        let (a, b) = (
            _mm512_loadu_ps(x.as_ptr()),
            _mm512_loadu_ps(x.as_ptr().add(16)),
        );
        let amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        let idv = _mm512_set1_ps(id);
        let qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, idv));
        let qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, idv));
        _mm_storeu_si128(q.as_mut_ptr().cast(), _mm512_cvtsepi32_epi8(qa));
        _mm_storeu_si128(q.as_mut_ptr().add(16).cast(), _mm512_cvtsepi32_epi8(qb));
        (
            amax / 127.0,
            _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb)),
        )
    }
}

/// Q8_0: `out` holds `x.len() / 32` blocks of 34 bytes.
///
/// # Safety
/// [`available`] must be true.
#[target_feature(enable = "avx512f,avx512bw,f16c")]
pub(crate) unsafe fn q8_0(x: &[f32], out: &mut [u8]) {
    for (xb, ob) in x.chunks_exact(32).zip(out.chunks_exact_mut(34)) {
        // SAFETY: 32 values, 32 quant bytes; the caller's contract for the features.
        let (d, _) = unsafe { block(xb, &mut ob[2..]) };
        ob[0..2].copy_from_slice(&half_bits(d));
    }
}

/// Q8_1: Q8_0's scheme plus `s = d·Σq`; `out` holds `x.len() / 32` blocks of 36 bytes.
///
/// # Safety
/// [`available`] must be true.
#[target_feature(enable = "avx512f,avx512bw,f16c")]
pub(crate) unsafe fn q8_1(x: &[f32], out: &mut [u8]) {
    for (xb, ob) in x.chunks_exact(32).zip(out.chunks_exact_mut(36)) {
        // SAFETY: as in `q8_0`.
        let (d, sum) = unsafe { block(xb, &mut ob[4..]) };
        ob[0..2].copy_from_slice(&half_bits(d));
        ob[2..4].copy_from_slice(&half_bits(sum as f32 * d));
    }
}

/// Q8_K (ggml's `quantize_row_q8_K_ref`, as `activation.rs` has it): per 256 values the value of
/// largest magnitude `max` (the first one on ties), `q = min(127, x·(−127/max))` rounded half to
/// even, `d = 1/(−127/max)`, and the sums of every 16 quants; `out` holds `x.len() / 256`
/// blocks of 292 bytes. Equal to the plain form byte for byte on finite inputs.
///
/// # Safety
/// [`available`] must be true.
#[target_feature(enable = "avx512f,avx512bw,f16c")]
pub(crate) unsafe fn q8_k(x: &[f32], out: &mut [u8]) {
    for (xb, ob) in x.chunks_exact(256).zip(out.chunks_exact_mut(292)) {
        // SAFETY: every load reads 16 of the block's 256 values; every store writes 16 of the
        // quant bytes 4..260.
        unsafe {
            let v: [__m512; 16] = std::array::from_fn(|i| _mm512_loadu_ps(xb.as_ptr().add(16 * i)));
            let amax = _mm512_reduce_max_ps(v.iter().fold(_mm512_setzero_ps(), |m, &vi| {
                _mm512_max_ps(m, _mm512_abs_ps(vi))
            }));
            ob.fill(0);
            if amax == 0.0 {
                continue;
            }
            let amaxv = _mm512_set1_ps(amax);
            let first = v
                .iter()
                .enumerate()
                .find_map(|(i, &vi)| {
                    let m = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(_mm512_abs_ps(vi), amaxv);
                    (m != 0).then(|| 16 * i + m.trailing_zeros() as usize)
                })
                .unwrap_or(0);
            let iscale = -127.0 / xb[first];
            let is = _mm512_set1_ps(iscale);
            let top = _mm512_set1_epi32(127);
            for (i, &vi) in v.iter().enumerate() {
                let q = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(vi, is)), top);
                _mm_storeu_si128(
                    ob.as_mut_ptr().add(4 + 16 * i).cast(),
                    _mm512_cvtepi32_epi8(q),
                );
                let sum = _mm512_reduce_add_epi32(q) as i16;
                ob[260 + 2 * i..262 + 2 * i].copy_from_slice(&sum.to_le_bytes());
            }
            ob[0..4].copy_from_slice(&(1.0 / iscale).to_le_bytes());
        }
    }
}
