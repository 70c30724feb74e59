#version 450
// llama.cpp's activation rounding before a quantized matmul, in the CPU's exact operations
// (Q8_0/Q8_1: id = 127/amax, half-even, scale stored as f16; Q8_K: -127/max, scale f32;
// F16/BF16: rounded). By default each value becomes what the quantized copy represents
// (q · d), for the float matmul shaders. With INT_OUT it writes q itself and each block's
// scale, for the integer kernels (mul_mat_q8.comp for the Q8_0/Q8_1 partners of the 32-element
// block types, mul_mat_k.comp for Q8_K), which then sum exactly as the CPU does. Q8_1 also
// writes each block's f16 sum term (d · Σq), which Q4_1/Q5_1 use for the min; Q8_K writes its
// 16 sums of 16 quants (bsums) per block, which the k-quant mins use. One invocation per block.
// p0 = row width, p1 = blocks in the batch.
#include "common.glsl"
#include "exact.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, binding = 2) writeonly buffer Sums { float sums[]; };
layout(std430, binding = 3) writeonly buffer Scales { float scales[]; };

#if defined(ACT_Q8_K)
#define BLOCK 256u
#else
#define BLOCK 32u
#endif

void main() {
    uint blk = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * 65535u * 64u;
    if (blk >= pc.p1) return;
    uint base = blk * BLOCK;
#if defined(ACT_F16)
    for (uint i = 0u; i < BLOCK; i++) o[base + i] = to_f16(x[base + i]);
#elif defined(ACT_BF16)
    for (uint i = 0u; i < BLOCK; i++) {
        uint u = floatBitsToUint(x[base + i]);
        u = (u & 0x7fffffffu) > 0x7f800000u ? (u | 0x400000u) : u + 0x7fffu + ((u >> 16) & 1u);
        o[base + i] = uintBitsToFloat(u & 0xffff0000u);
    }
#elif defined(ACT_Q8_K)
    float amax = 0.0, mx = 0.0;
    for (uint i = 0u; i < BLOCK; i++) {
        float v = x[base + i];
        if (abs(v) > amax) {
            amax = abs(v);
            mx = v;
        }
    }
    float iscale = amax == 0.0 ? 0.0 : div_rn(-127.0, mx);
    float d = amax == 0.0 ? 0.0 : div_rn(1.0, iscale);
    int bsum = 0;
    for (uint i = 0u; i < BLOCK; i++) {
        precise float s = iscale * x[base + i];
        float q = min(roundEven(s), 127.0);
#if defined(INT_OUT)
        o[base + i] = q;
        bsum += int(q);
        if (i % 16u == 15u) {
            sums[blk * 16u + i / 16u] = float(bsum);
            bsum = 0;
        }
#else
        precise float v = d * q;
        o[base + i] = v;
#endif
    }
#if defined(INT_OUT)
    scales[blk] = d;
#endif
#else
    float amax = 0.0;
    for (uint i = 0u; i < BLOCK; i++) amax = max(amax, abs(x[base + i]));
    float id = amax != 0.0 ? div_rn(127.0, amax) : 0.0;
    float d = div_rn(amax, 127.0);
    float dh = to_f16(d);
    float sum = 0.0;
    for (uint i = 0u; i < BLOCK; i++) {
        precise float s = x[base + i] * id;
        float q = roundEven(s);
        sum += q;
#if defined(INT_OUT)
        o[base + i] = q;
#else
        precise float v = dh * q;
        o[base + i] = v;
#endif
    }
#if defined(INT_OUT)
    scales[blk] = dh;
#endif
#if defined(ACT_Q8_1)
    precise float st = sum * d;
    sums[blk] = to_f16(st);
#endif
#endif
}
