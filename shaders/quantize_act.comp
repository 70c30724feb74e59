#version 450
// llama.cpp's activation rounding before a quantized matmul, applied in place of the integer
// formats: each value becomes exactly what the CPU's quantized copy represents (Q8_0/Q8_1:
// 127/amax, half-even, scale stored as f16; Q8_K: -127/max, scale f32; F16/BF16: rounded), so
// the float matmul that follows computes llama.cpp's sum up to summation order. Q8_1 also
// writes each block's f16 sum term (d · Σq), which the Q4_1/Q5_1 shaders use for the min.
// One invocation per block. p0 = row width, p1 = blocks in the batch.
#include "common.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, binding = 2) writeonly buffer Sums { float sums[]; };

#if defined(ACT_Q8_K)
#define BLOCK 256u
#elif defined(ACT_Q8_0) || defined(ACT_Q8_1)
#define BLOCK 32u
#else
#define BLOCK 32u
#endif

float to_f16(float v) { return unpackHalf2x16(packHalf2x16(vec2(v, 0.0))).x; }

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
    float iscale = amax == 0.0 ? 0.0 : -127.0 / mx;
    float d = amax == 0.0 ? 0.0 : 1.0 / iscale;
    for (uint i = 0u; i < BLOCK; i++) o[base + i] = d * min(roundEven(iscale * x[base + i]), 127.0);
#else
    float amax = 0.0;
    for (uint i = 0u; i < BLOCK; i++) amax = max(amax, abs(x[base + i]));
    float id = amax != 0.0 ? 127.0 / amax : 0.0;
    float d = to_f16(amax / 127.0);
    float sum = 0.0;
    for (uint i = 0u; i < BLOCK; i++) {
        float q = roundEven(x[base + i] * id);
        sum += q;
        o[base + i] = d * q;
    }
#if defined(ACT_Q8_1)
    sums[blk] = to_f16(sum * (amax / 127.0));
#endif
#endif
}
