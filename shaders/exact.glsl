// Arithmetic that reproduces the CPU backend (and so llama.cpp's x86 build) bit for bit: the
// activations are re-rounded before every quantized matmul, so a last-bit difference anywhere
// can flip a rounding and move logits by ~1e-2, or change greedy text. With HAVE_F64, divisions
// and square roots run in double and are rounded once to float, which equals the correctly
// rounded float operation (Vulkan lets float division be off by 2.5 ulp); ggml's f64 sums are
// f64 too. Results of fused-multiply-add patterns are marked precise so no compiler fuses them.
// The builds without HAVE_F64 are the Vulkan backend's fast numerics (its default, and exact
// numerics on a device without f64): the device's fma(), float division and sums.
#if defined(HAVE_F64)
#extension GL_ARB_gpu_shader_fp64 : require
#define WIDE double
#else
#define WIDE float
#endif

float div_rn(float a, float b) { return float(WIDE(a) / WIDE(b)); }

// a·b + c rounded once. Vulkan does not promise that fma() is fused (lavapipe splits it), so
// with f64 it is built exactly: the product is exact in double, the sum's rounding error comes
// from TwoSum, and a round-to-odd fix-up of the double makes the final rounding to float
// correct (53 ≥ 24 + 2 bits). FUSED_FMA builds (the `_f64fma` shaders) use fma() itself: the
// backend picks them only where its start-up probe found fma() fused and correctly rounded.
float fma_rn(float a, float b, float c) {
#if defined(HAVE_F64) && !defined(FUSED_FMA)
    precise double p = double(a) * double(b);
    precise double s = p + double(c);
    precise double bb = s - p;
    precise double e = (p - (s - bb)) + (double(c) - bb);
    if (e != 0.0) {
        uvec2 u = unpackDouble2x32(s);
        if ((u.x & 1u) == 0u) {
            if ((e > 0.0) == (s > 0.0)) {
                u.x += 1u;
                if (u.x == 0u) u.y += 1u;
            } else {
                if (u.x == 0u) u.y -= 1u;
                u.x -= 1u;
            }
            s = packDouble2x32(u);
        }
    }
    return float(s);
#else
    return fma(a, b, c);
#endif
}
float sqrt_rn(float a) { return float(sqrt(WIDE(a))); }
float to_f16(float v) { return unpackHalf2x16(packHalf2x16(vec2(v, 0.0))).x; }

// `j · 2^n` with one rounding (n in [-192, 192]), as the CPU's expf finishes.
float scale2(float j, int n) {
    precise float r;
    if (n > 127) {
        r = j * uintBitsToFloat(uint(254) << 23) * uintBitsToFloat(uint(n - 127 + 127) << 23);
    } else if (n < -126) {
        r = j * uintBitsToFloat(uint(n + 126 + 127) << 23) * uintBitsToFloat(uint(1) << 23);
    } else {
        r = j * uintBitsToFloat(uint(n + 127) << 23);
    }
    return r;
}

// ggml's vectorised expf (≤ 1.5 ulp), the same fused operations as the CPU's `math::expf`.
float expf_ggml(float x) {
    const float SHIFT = 12582912.0;
    precise float z = fma_rn(x, uintBitsToFloat(0x3fb8aa3bu), SHIFT);
    precise float n = z - SHIFT;
    precise float b = fma_rn(-n, uintBitsToFloat(0x35bfbe8eu), fma_rn(-n, uintBitsToFloat(0x3f317200u), x));
    if (abs(n) > 192.0) return n > 0.0 ? uintBitsToFloat(0x7f800000u) : 0.0;
    precise float u = b * b;
    precise float j = fma_rn(fma_rn(fma_rn(uintBitsToFloat(0x3c072010u), b, uintBitsToFloat(0x3d2b9f17u)), u,
                              fma_rn(uintBitsToFloat(0x3e2aaf33u), b, uintBitsToFloat(0x3efffedbu))),
                          u, fma_rn(uintBitsToFloat(0x3f7ffff6u), b, 1.0));
    return scale2(j, int(n));
}

// cap · tanh(s / cap) as the CPU's math::softcap: s times the rounded 1/cap, tanh as
// 2 / (1 + expf(-2y)) - 1.
float softcap_rn(float s, float cap) {
    precise float inv = div_rn(1.0, cap);
    precise float y = s * inv;
    precise float t = div_rn(2.0, 1.0 + expf_ggml(-2.0 * y)) - 1.0;
    precise float r = t * cap;
    return r;
}

// _mm512_reduce_add_ps's tree over 16 lanes: halves, quarters, then pairs.
float reduce16(float v[16]) {
    precise float t3[8];
    for (uint i = 0u; i < 8u; i++) t3[i] = v[i + 8u] + v[i];
    precise float t6[4];
    for (uint i = 0u; i < 4u; i++) t6[i] = t3[i + 4u] + t3[i];
    precise float r = (t6[0] + t6[2]) + (t6[1] + t6[3]);
    return r;
}
