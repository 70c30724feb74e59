// Integer views of every quantized block type for fast numerics' integer kernels (the tiled
// mul_mmq.comp and the row kernel mul_mv.comp; needs dequant.glsl's readers and DATA_*): a weight is w = scale * q + min with q a signed
// 8-bit integer and (scale, min) one pair per 16-element granule of the block, so that a
// granule's dot product with integer activations is one integer sum and two float terms.
//   ivec4 gq4(b, i): q of elements i..i+3 (i a multiple of 4) of the block at byte b;
//   vec2 gsm(b, g): (scale, min) of granule g (elements 16g..16g+15) of that block.
// GMIN is defined for the types with a min term (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K).

#if defined(DATA_Q4_0) || defined(DATA_Q4_1) || defined(DATA_Q5_0) || defined(DATA_Q5_1) || \
    defined(DATA_Q8_0) || defined(DATA_IQ4_NL)
#include "blocks_int.glsl"
ivec4 gq4(uint b, uint i) { return qint4(b, i); }
#if defined(HAS_MIN)
#define GMIN
vec2 gsm(uint b, uint g) { return vec2(f16_at(b), f16_at(b + 2u)); }
#else
vec2 gsm(uint b, uint g) { return vec2(f16_at(b), 0.0); }
#endif
#elif defined(DATA_Q4_K) || defined(DATA_Q5_K)
#define GMIN
ivec4 gq4(uint b, uint i) {
    uint c = i / 64u, half_ = (i / 32u) % 2u, l = i % 32u;
    ivec4 q = ivec4(nibbles(bytes4_at(b + QS_AT + 32u * c + l), half_ * 4u));
#if defined(DATA_Q5_K)
    uint s = 2u * c + half_;
    q += ivec4(uvec4(bytes4_at(b + 16u + l)) >> uvec4(s, 8u + s, 16u + s, 24u + s) & 1u) * 16;
#endif
    return q;
}
vec2 gsm(uint b, uint g) {
    vec2 sm = scale_min(b, g / 2u);
    return vec2(f16_at(b) * sm.x, -f16_at(b + 2u) * sm.y);
}
#elif defined(DATA_Q6_K)
ivec4 gq4(uint b, uint i) {
    uint n = i / 128u, r = i % 128u, quarter = r / 32u, l = r % 32u;
    uint ql = bytes4_at(b + 64u * n + l + 32u * (quarter & 1u));
    uint qh = bytes4_at(b + 128u + 32u * n + l);
    uint hs = 2u * quarter;
    ivec4 lo = ivec4(nibbles(ql, (quarter / 2u) * 4u));
    ivec4 hi = ivec4(uvec4(qh) >> uvec4(hs, 8u + hs, 16u + hs, 24u + hs) & 3u);
    return lo + hi * 16 - 32;
}
vec2 gsm(uint b, uint g) {
    int sc = int(byte_at(b + 192u + g) << 24) >> 24;
    return vec2(f16_at(b + 208u) * float(sc), 0.0);
}
#elif defined(DATA_Q3_K)
ivec4 gq4(uint b, uint i) {
    uint n = i / 128u, r = i % 128u, j = r / 32u, l = r % 32u, sh = 2u * j;
    ivec4 q = ivec4(uvec4(bytes4_at(b + 32u + 32u * n + l)) >> uvec4(sh, 8u + sh, 16u + sh, 24u + sh) & 3u);
    uint m = 4u * n + j;
    ivec4 h = ivec4(uvec4(bytes4_at(b + l)) >> uvec4(m, 8u + m, 16u + m, 24u + m) & 1u);
    return q - 4 * (1 - h);
}
vec2 gsm(uint b, uint g) {
    uint lo = (byte_at(b + 96u + g % 8u) >> (4u * (g / 8u))) & 0xFu;
    uint hi = (byte_at(b + 104u + g % 4u) >> (2u * (g / 4u))) & 3u;
    return vec2(f16_at(b + 108u) * (float(lo | (hi << 4)) - 32.0), 0.0);
}
#elif defined(DATA_Q2_K)
#define GMIN
ivec4 gq4(uint b, uint i) {
    uint n = i / 128u, r = i % 128u, j = r / 32u, l = r % 32u, sh = 2u * j;
    return ivec4(uvec4(bytes4_at(b + 16u + 32u * n + l)) >> uvec4(sh, 8u + sh, 16u + sh, 24u + sh) & 3u);
}
vec2 gsm(uint b, uint g) {
    uint sc = byte_at(b + g);
    return vec2(f16_at(b + 80u) * float(sc & 0xFu), -f16_at(b + 82u) * float(sc >> 4));
}
#elif defined(DATA_IQ4_XS)
const int IQ4NL_INT[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
ivec4 gq4(uint b, uint i) {
    uint ib = i / 32u, j = i % 32u;
    ivec4 n = ivec4(nibbles(bytes4_at(b + 8u + 16u * ib + (j & 15u)), (j >> 4) * 4u));
    return ivec4(IQ4NL_INT[n.x], IQ4NL_INT[n.y], IQ4NL_INT[n.z], IQ4NL_INT[n.w]);
}
vec2 gsm(uint b, uint g) {
    uint ib = g / 2u;
    uint lo = (byte_at(b + 4u + ib / 2u) >> (4u * (ib % 2u))) & 0xFu;
    uint hi = (word_at(b + 2u) >> (2u * ib)) & 3u;
    return vec2(f16_at(b) * (float(lo | (hi << 4)) - 32.0), 0.0);
}
#endif

// gq32(b, i, q): q of the 32 elements i..i+31 (i a multiple of 32) of the block at byte b, as
// q[w] = gq4(b, i + 4w); the 4- and 5-bit 32-element types of mul_mv.comp read each quant byte
// once, with integer shifts only.
#if defined(DATA_Q4_0) || defined(DATA_Q4_1) || defined(DATA_Q5_0) || defined(DATA_Q5_1) || \
    defined(DATA_IQ4_NL)
#if defined(DATA_IQ4_NL) || defined(DATA_Q4_0)
#define GQ_QS 2u
#elif defined(DATA_Q4_1)
#define GQ_QS 4u
#elif defined(DATA_Q5_0)
#define GQ_QS 6u
#define GQ_QH 2u
#else
#define GQ_QS 8u
#define GQ_QH 4u
#endif
void gq32(uint b, uint i, out ivec4 q[8]) {
#if defined(GQ_QH)
    uint qh = u32_at(b + GQ_QH);
#endif
    for (uint w = 0u; w < 4u; w++) {
        uvec4 v = uvec4(u32_at(b + GQ_QS + 4u * w));
        uvec4 lo = v >> uvec4(0u, 8u, 16u, 24u) & 0xFu, hi = v >> uvec4(4u, 12u, 20u, 28u) & 0xFu;
#if defined(GQ_QH)
        lo |= (uvec4(qh) >> uvec4(4u * w, 4u * w + 1u, 4u * w + 2u, 4u * w + 3u) & 1u) << 4;
        hi |= (uvec4(qh) >> uvec4(4u * w + 16u, 4u * w + 17u, 4u * w + 18u, 4u * w + 19u) & 1u) << 4;
#endif
#if defined(DATA_IQ4_NL)
        q[w] = ivec4(IQ4NL_INT[lo.x], IQ4NL_INT[lo.y], IQ4NL_INT[lo.z], IQ4NL_INT[lo.w]);
        q[w + 4u] = ivec4(IQ4NL_INT[hi.x], IQ4NL_INT[hi.y], IQ4NL_INT[hi.z], IQ4NL_INT[hi.w]);
#else
        q[w] = ivec4(lo);
        q[w + 4u] = ivec4(hi);
#if defined(DATA_Q5_0)
        q[w] -= 16;
        q[w + 4u] -= 16;
#elif defined(DATA_Q4_0)
        q[w] -= 8;
        q[w + 4u] -= 8;
#endif
#endif
    }
}
#else
void gq32(uint b, uint i, out ivec4 q[8]) {
    for (uint w = 0u; w < 8u; w++) q[w] = gq4(b, i + 4u * w);
}
#endif

// Four signed 8-bit integers packed little-endian into one 32-bit word.
int pack4x8(ivec4 v) {
    return int((uint(v.x) & 0xFFu) | ((uint(v.y) & 0xFFu) << 8) | ((uint(v.z) & 0xFFu) << 16) |
               (uint(v.w) << 24));
}
