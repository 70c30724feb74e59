//! SIMD kernels for the 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL), written
//! once as a macro and instantiated for AVX2 (maddubs) and the two VNNI flavours (vpdpbusd).
//! Per block the integer sum is exact (bit-identical to scalar). Q4_0 then follows the scalar
//! block order exactly (`scalar::legacy::q4_0`, llama.cpp's repacked order), so it equals the
//! scalar kernel bit for bit; the others accumulate in eight lanes with FMA, like ggml's x86
//! kernels, and differ from scalar by rounding only.

macro_rules! legacy_kernels {
    ($feat:literal, $mulsum:path) => {
        use crate::blocks::tables::KVALUES_IQ4NL;
        use crate::dot::x86::prims::{bytes_from_bits32, f16_at, hsum_epi32, hsum_ps, nibbles32};
        use std::arch::x86_64::*;

        /// Signed × signed pair sums via the sign trick (|x| into the unsigned operand).
        #[inline]
        #[target_feature(enable = $feat)]
        fn mul_sum_i8(x: __m256i, y: __m256i) -> __m256i {
            $mulsum(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x))
        }

        /// One block: `acc += dx·dy · Σ x·y` in eight lanes.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn block(
            qx: &impl Fn(*const u8) -> __m256i,
            signed: bool,
            x: &[u8],
            y: &[u8],
            acc: __m256,
        ) -> __m256 {
            let vx = qx(x.as_ptr());
            let vy = _mm256_loadu_si256(y.as_ptr().add(y.len() - 32).cast());
            let p = if signed {
                mul_sum_i8(vx, vy)
            } else {
                $mulsum(vx, vy)
            };
            let d = _mm256_set1_ps(f16_at(x, 0) * f16_at(y, 0));
            _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc)
        }

        /// Shared loop: `qx(block)` builds the 32 weight bytes, `signed` picks the sign trick,
        /// `offset(block, act, sum)` adds the Q4_1/Q5_1 min term. One accumulator and a
        /// sequential, fused offset sum: exactly the float order of llama.cpp's x86 kernels, so
        /// results match it bit for bit (a last-bit difference can flip the next layer's Q8
        /// rounding and move logits by ~1e-2).
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn run(
            w: &[u8],
            a: &[u8],
            (wb, ab): (usize, usize),
            signed: bool,
            qx: impl Fn(*const u8) -> __m256i,
            offset: impl Fn(&[u8], &[u8], f32) -> f32,
        ) -> f32 {
            let mut acc = _mm256_setzero_ps();
            let mut extra = 0.0f32;
            for (x, y) in w.chunks_exact(wb).zip(a.chunks_exact(ab)) {
                acc = block(&qx, signed, x, y, acc);
                extra = offset(x, y, extra);
            }
            hsum_ps(acc) + extra
        }

        /// Q4_0 × Q8_0 in the block order (`scalar::legacy::q4_0`): per block the exact integer
        /// sum, then `acc = fma(dx·dy, sumi, acc)`.
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn q4_0(w: &[u8], a: &[u8]) -> f32 {
            let mut acc = 0.0f32;
            for (x, y) in w.chunks_exact(18).zip(a.chunks_exact(34)) {
                let vx = _mm256_sub_epi8(nibbles32(x.as_ptr().add(2)), _mm256_set1_epi8(8));
                let vy = _mm256_loadu_si256(y.as_ptr().add(2).cast());
                let sumi = hsum_epi32(mul_sum_i8(vx, vy));
                acc = (f16_at(x, 0) * f16_at(y, 0)).mul_add(sumi as f32, acc);
            }
            acc
        }

        /// Q4_1 × Q8_1.
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn q4_1(w: &[u8], a: &[u8]) -> f32 {
            let q = |p: *const u8| nibbles32(p.add(4));
            run(w, a, (20, 36), false, q, |x, y, e| {
                f16_at(x, 2).mul_add(f16_at(y, 2), e)
            })
        }

        /// Q5_0 × Q8_0: a clear fifth bit turns the nibble into nibble − 16 (`| 0xF0`).
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn q5_0(w: &[u8], a: &[u8]) -> f32 {
            let q = |p: *const u8| {
                let hi = _mm256_andnot_si256(bytes_from_bits32(p.add(2)), _mm256_set1_epi8(-16));
                _mm256_or_si256(nibbles32(p.add(6)), hi)
            };
            run(w, a, (22, 34), true, q, |_, _, e| e)
        }

        /// Q5_1 × Q8_1.
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn q5_1(w: &[u8], a: &[u8]) -> f32 {
            let q = |p: *const u8| {
                let hi = _mm256_and_si256(bytes_from_bits32(p.add(4)), _mm256_set1_epi8(0x10));
                _mm256_or_si256(nibbles32(p.add(8)), hi)
            };
            run(w, a, (24, 36), false, q, |x, y, e| {
                f16_at(x, 2).mul_add(f16_at(y, 2), e)
            })
        }

        /// Q8_0 × Q8_0.
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn q8_0(w: &[u8], a: &[u8]) -> f32 {
            let q = |p: *const u8| _mm256_loadu_si256(p.add(2).cast());
            run(w, a, (34, 34), true, q, |_, _, e| e)
        }

        /// IQ4_NL × Q8_0: the nibbles index `kvalues_iq4nl` with one byte shuffle.
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn iq4_nl(w: &[u8], a: &[u8]) -> f32 {
            let t = _mm_loadu_si128(KVALUES_IQ4NL.as_ptr().cast());
            let table = _mm256_set_m128i(t, t);
            let q = |p: *const u8| _mm256_shuffle_epi8(table, nibbles32(p.add(2)));
            run(w, a, (18, 34), true, q, |_, _, e| e)
        }
    };
}

/// AVX2 + FMA (maddubs/madd pair sums).
pub(crate) mod avx2 {
    legacy_kernels!("avx2,fma,f16c", crate::dot::x86::prims::mul_sum_us8_avx2);
}

/// AVX-VNNI (VEX `vpdpbusd`, e.g. Alder Lake and later).
pub(crate) mod avxvnni {
    legacy_kernels!(
        "avx2,fma,f16c,avxvnni",
        crate::dot::x86::prims::mul_sum_us8_avxvnni
    );
}

/// AVX-512 VNNI with 256-bit vectors (Ice Lake / Sapphire Rapids / Zen 4 servers).
pub(crate) mod avx512vnni {
    legacy_kernels!(
        "avx2,fma,f16c,avx512vnni,avx512vl",
        crate::dot::x86::prims::mul_sum_us8_avx512vnni
    );
}
