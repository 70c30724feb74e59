#version 450
// rms_norm.comp and quantize_act.comp in one dispatch (the normalisation before a quantized
// matmul): one workgroup per row computes the row's scale exactly as rms_norm.comp does,
// writes the normalised row to h, and rounds the row's blocks as quantize_act.comp does, each
// block's inputs recomputed with the same operations (so the same bits as h holds, without
// reading back what other invocations wrote): an invocation per 32-value block, the whole
// workgroup per 256-value (Q8_K) block. p0 = row width, p1 = eps as f32 bits.
#include "common.glsl"
#include "exact.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) writeonly buffer H { float h[]; };
layout(std430, binding = 3) writeonly buffer Out { float o[]; };
layout(std430, binding = 4) writeonly buffer Sums { float sums[]; };
layout(std430, binding = 5) writeonly buffer Scales { float scales[]; };

shared float scale;
uint row_base;

#include "row_sumsq.glsl"

float normed(uint i) {
    precise float v = x[i] * scale;
    precise float y = v * w[i - row_base];
    return y;
}

#define QIN(i) normed(i)
#define QUANT_WG
#include "quantize_block.glsl"

void main() {
    uint r = gl_WorkGroupID.x, t = gl_LocalInvocationID.x, n = pc.p0;
    row_base = r * n;
    WIDE sum = row_sumsq(row_base, n, t);
    if (t == 0u) {
        precise float mean = float(sum / WIDE(n));
        precise float m = mean + uintBitsToFloat(pc.p1);
        scale = div_rn(1.0, sqrt_rn(m));
    }
    barrier();
    for (uint i = t; i < n; i += 64u) h[row_base + i] = normed(row_base + i);
    uint blocks = n / BLOCK;
#if defined(ACT_Q8_K)
    // 256-value blocks: the workgroup rounds each together.
    for (uint b = 0u; b < blocks; b++) quantize_block_wg(r * blocks + b, t);
#else
    for (uint b = t; b < blocks; b += 64u) quantize_block(r * blocks + b);
#endif
}
