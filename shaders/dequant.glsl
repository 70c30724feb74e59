// Reading raw GGUF blocks: the weight buffer is bound as 16-bit words (every ggml block size
// here is even, so every block starts on a word), and deq4(row_byte, e) returns elements
// e..e+3 (e a multiple of 4) of the row that starts at byte row_byte. Exactly one DATA_*
// macro selects the block type; QK is its elements per block and BLOCK_BYTES its size.

layout(std430, binding = 0) readonly buffer Weights { uint16_t w[]; };

#if defined(MULTI)
// Several weights of one type and width in one dispatch (matmul_rows.glsl): workgroup z reads
// weight z, bound at binding 0, 5 or 6.
layout(std430, binding = 5) readonly buffer Weights1 { uint16_t w1[]; };
layout(std430, binding = 6) readonly buffer Weights2 { uint16_t w2[]; };
uint word_at(uint byte_off) {
    // Widened before the choice: 16-bit storage allows loads and conversions only.
    uint i = byte_off >> 1, z = gl_WorkGroupID.z;
    return z == 0u ? uint(w[i]) : (z == 1u ? uint(w1[i]) : uint(w2[i]));
}
#else
uint word_at(uint byte_off) { return uint(w[byte_off >> 1]); }
#endif
uint u32_at(uint byte_off) { return word_at(byte_off) | (word_at(byte_off + 2u) << 16); }
uint byte_at(uint byte_off) { return (word_at(byte_off & ~1u) >> ((byte_off & 1u) * 8u)) & 0xFFu; }
float f16_at(uint byte_off) { return unpackHalf2x16(word_at(byte_off)).x; }
// Four bytes starting at an even offset (as one little-endian word pair).
uint bytes4_at(uint byte_off) { return u32_at(byte_off); }
vec4 nibbles(uint q, uint shift) {
    return vec4((q >> shift) & 0xFu, (q >> (8u + shift)) & 0xFu, (q >> (16u + shift)) & 0xFu,
                (q >> (24u + shift)) & 0xFu);
}
vec4 sbytes(uint q) {
    return vec4(int(q << 24) >> 24, int(q << 16) >> 24, int(q << 8) >> 24, int(q) >> 24);
}

const float IQ4NL_VALUES[16] = float[16](-127., -104., -83., -65., -49., -35., -22., -10., 1.,
                                         13., 25., 38., 53., 69., 89., 113.);
vec4 iq4nl(uvec4 q) {
    return vec4(IQ4NL_VALUES[q.x], IQ4NL_VALUES[q.y], IQ4NL_VALUES[q.z], IQ4NL_VALUES[q.w]);
}

#if defined(DATA_F32)
#define QK 1u
#define BLOCK_BYTES 4u
vec4 deq4(uint row, uint e) {
    uint o = row + e * 4u;
    return vec4(uintBitsToFloat(u32_at(o)), uintBitsToFloat(u32_at(o + 4u)),
                uintBitsToFloat(u32_at(o + 8u)), uintBitsToFloat(u32_at(o + 12u)));
}
#elif defined(DATA_F16)
#define QK 1u
#define BLOCK_BYTES 2u
vec4 deq4(uint row, uint e) {
    uint o = row + e * 2u;
    return vec4(unpackHalf2x16(u32_at(o)), unpackHalf2x16(u32_at(o + 4u)));
}
#elif defined(DATA_BF16)
#define QK 1u
#define BLOCK_BYTES 2u
vec4 deq4(uint row, uint e) {
    uint o = row + e * 2u;
    uint a = u32_at(o), b = u32_at(o + 4u);
    return vec4(uintBitsToFloat(a << 16), uintBitsToFloat(a & 0xFFFF0000u),
                uintBitsToFloat(b << 16), uintBitsToFloat(b & 0xFFFF0000u));
}
#elif defined(DATA_Q4_0)
#define QK 32u
#define BLOCK_BYTES 18u
vec4 deq4(uint row, uint e) {
    uint b = row + (e / QK) * BLOCK_BYTES, i = e % QK;
    vec4 q = nibbles(bytes4_at(b + 2u + (i & 15u)), (i >> 4) * 4u);
    return (q - 8.0) * f16_at(b);
}
#elif defined(DATA_Q4_1)
#define QK 32u
#define BLOCK_BYTES 20u
vec4 deq4(uint row, uint e) {
    uint b = row + (e / QK) * BLOCK_BYTES, i = e % QK;
    vec4 q = nibbles(bytes4_at(b + 4u + (i & 15u)), (i >> 4) * 4u);
    return q * f16_at(b) + f16_at(b + 2u);
}
#elif defined(DATA_Q5_0)
#define QK 32u
#define BLOCK_BYTES 22u
vec4 deq4(uint row, uint e) {
    uint b = row + (e / QK) * BLOCK_BYTES, i = e % QK;
    uint qh = u32_at(b + 2u) >> i;
    vec4 hi = vec4(qh & 1u, (qh >> 1) & 1u, (qh >> 2) & 1u, (qh >> 3) & 1u) * 16.0;
    vec4 q = nibbles(bytes4_at(b + 6u + (i & 15u)), (i >> 4) * 4u) + hi;
    return (q - 16.0) * f16_at(b);
}
#elif defined(DATA_Q5_1)
#define QK 32u
#define BLOCK_BYTES 24u
vec4 deq4(uint row, uint e) {
    uint b = row + (e / QK) * BLOCK_BYTES, i = e % QK;
    uint qh = u32_at(b + 4u) >> i;
    vec4 hi = vec4(qh & 1u, (qh >> 1) & 1u, (qh >> 2) & 1u, (qh >> 3) & 1u) * 16.0;
    vec4 q = nibbles(bytes4_at(b + 8u + (i & 15u)), (i >> 4) * 4u) + hi;
    return q * f16_at(b) + f16_at(b + 2u);
}
#elif defined(DATA_Q8_0)
#define QK 32u
#define BLOCK_BYTES 34u
vec4 deq4(uint row, uint e) {
    uint b = row + (e / QK) * BLOCK_BYTES, i = e % QK;
    return sbytes(bytes4_at(b + 2u + i)) * f16_at(b);
}
#elif defined(DATA_IQ4_NL)
#define QK 32u
#define BLOCK_BYTES 18u
vec4 deq4(uint row, uint e) {
    uint b = row + (e / QK) * BLOCK_BYTES, i = e % QK;
    uvec4 q = uvec4(nibbles(bytes4_at(b + 2u + (i & 15u)), (i >> 4) * 4u));
    return iq4nl(q) * f16_at(b);
}
#elif defined(DATA_IQ4_XS)
#define QK 256u
#define BLOCK_BYTES 136u
vec4 deq4(uint row, uint e) {
    uint b = row + (e / QK) * BLOCK_BYTES, i = e % QK;
    uint ib = i / 32u, j = i % 32u;
    uint lo = (byte_at(b + 4u + ib / 2u) >> (4u * (ib % 2u))) & 0xFu;
    uint hi = (word_at(b + 2u) >> (2u * ib)) & 3u;
    float dl = f16_at(b) * (float(lo | (hi << 4)) - 32.0);
    uvec4 q = uvec4(nibbles(bytes4_at(b + 8u + 16u * ib + (j & 15u)), (j >> 4) * 4u));
    return iq4nl(q) * dl;
}
#elif defined(DATA_Q2_K)
#define QK 256u
#define BLOCK_BYTES 84u
vec4 deq4(uint row, uint e) {
    uint b = row + (e / QK) * BLOCK_BYTES, i = e % QK;
    uint n = i / 128u, r = i % 128u, j = r / 32u, l = r % 32u;
    uint sc = byte_at(b + 8u * n + 2u * j + l / 16u);
    vec4 q = vec4(uvec4(bytes4_at(b + 16u + 32u * n + l)) >> uvec4(2u * j, 8u + 2u * j,
                                                                  16u + 2u * j, 24u + 2u * j) & 3u);
    return q * (f16_at(b + 80u) * float(sc & 0xFu)) - f16_at(b + 82u) * float(sc >> 4);
}
#elif defined(DATA_Q3_K)
#define QK 256u
#define BLOCK_BYTES 110u
vec4 deq4(uint row, uint e) {
    uint b = row + (e / QK) * BLOCK_BYTES, i = e % QK;
    uint n = i / 128u, r = i % 128u, j = r / 32u, l = r % 32u;
    uint is = 8u * n + 2u * j + l / 16u;
    uint lo = (byte_at(b + 96u + is % 8u) >> (4u * (is / 8u))) & 0xFu;
    uint hi = (byte_at(b + 104u + is % 4u) >> (2u * (is / 4u))) & 3u;
    float dl = f16_at(b + 108u) * (float(lo | (hi << 4)) - 32.0);
    uint sh = 2u * j;
    vec4 q = vec4(uvec4(bytes4_at(b + 32u + 32u * n + l)) >> uvec4(sh, 8u + sh, 16u + sh, 24u + sh) & 3u);
    uint m = 4u * n + j;
    uvec4 h = uvec4(bytes4_at(b + l)) >> uvec4(m, 8u + m, 16u + m, 24u + m) & 1u;
    return (q - 4.0 * (1.0 - vec4(h))) * dl;
}
#elif defined(DATA_Q4_K) || defined(DATA_Q5_K)
#define QK 256u
#if defined(DATA_Q4_K)
#define BLOCK_BYTES 144u
#define QS_AT 16u
#else
#define BLOCK_BYTES 176u
#define QS_AT 48u
#endif
// The 6-bit scale and min of sub-block s (ggml's get_scale_min_k4).
vec2 scale_min(uint b, uint s) {
    uint sc, m;
    if (s < 4u) {
        sc = byte_at(b + 4u + s) & 63u;
        m = byte_at(b + 8u + s) & 63u;
    } else {
        uint a = byte_at(b + 8u + s);
        sc = (a & 0xFu) | ((byte_at(b + s) >> 6) << 4);
        m = (a >> 4) | ((byte_at(b + 4u + s) >> 6) << 4);
    }
    return vec2(sc, m);
}
vec4 deq4(uint row, uint e) {
    uint b = row + (e / QK) * BLOCK_BYTES, i = e % QK;
    uint c = i / 64u, half_ = (i / 32u) % 2u, l = i % 32u;
    vec2 sm = scale_min(b, 2u * c + half_);
    vec4 q = nibbles(bytes4_at(b + QS_AT + 32u * c + l), half_ * 4u);
#if defined(DATA_Q5_K)
    uint s = 2u * c + half_;
    q += vec4(uvec4(bytes4_at(b + 16u + l)) >> uvec4(s, 8u + s, 16u + s, 24u + s) & 1u) * 16.0;
#endif
    return q * (f16_at(b) * sm.x) - f16_at(b + 2u) * sm.y;
}
#elif defined(DATA_Q6_K)
#define QK 256u
#define BLOCK_BYTES 210u
vec4 deq4(uint row, uint e) {
    uint b = row + (e / QK) * BLOCK_BYTES, i = e % QK;
    uint n = i / 128u, r = i % 128u, quarter = r / 32u, l = r % 32u;
    uint ql = bytes4_at(b + 64u * n + l + 32u * (quarter & 1u));
    uint qh = bytes4_at(b + 128u + 32u * n + l);
    uint hs = 2u * quarter;
    vec4 lo = nibbles(ql, (quarter / 2u) * 4u);
    vec4 hi = vec4(uvec4(qh) >> uvec4(hs, 8u + hs, 16u + hs, 24u + hs) & 3u);
    int sc = int(byte_at(b + 192u + 8u * n + l / 16u + 2u * quarter) << 24) >> 24;
    return (lo + hi * 16.0 - 32.0) * (f16_at(b + 208u) * float(sc));
}
#else
#error "no DATA_* type selected"
#endif
