#version 450
// swiglu.comp and quantize_act.comp in one dispatch (the gated activation before the FFN's
// down matmul): one invocation per block (a workgroup per 256-value Q8_K block) computes the
// block's gate[i] = silu(gate[i]) * up[i] exactly as swiglu.comp does, stores it, and rounds
// the block from the stored values as quantize_act.comp does. p0 = row width, p1 = blocks in the batch.
#include "common.glsl"
#include "exact.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Gate { float g[]; };
layout(std430, binding = 1) readonly buffer Up { float u[]; };
layout(std430, binding = 2) writeonly buffer Out { float o[]; };
layout(std430, binding = 3) writeonly buffer Sums { float sums[]; };
layout(std430, binding = 4) writeonly buffer Scales { float scales[]; };

#define QIN(i) g[i]
#define QUANT_WG
#include "quantize_block.glsl"

void swiglu(uint i) {
    float x = g[i];
    precise float den = 1.0 + expf_ggml(-x);
    precise float r = div_rn(x, den) * u[i];
    g[i] = r;
}

#if defined(ACT_Q8_K)
// 256-value blocks: a workgroup per block, each invocation gating 4 values and rounding them
// with the others (quantize_block_wg), reading back only what it wrote itself.
void main() {
    uint blk = gl_WorkGroupID.x + gl_WorkGroupID.y * 65535u, t = gl_LocalInvocationID.x;
    if (blk >= pc.p1) return;
    for (uint j = 0u; j < 4u; j++) swiglu(blk * BLOCK + 4u * t + j);
    quantize_block_wg(blk, t);
}
#else
void main() {
    uint blk = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * 65535u * 64u;
    if (blk >= pc.p1) return;
    for (uint i = blk * BLOCK; i < (blk + 1u) * BLOCK; i++) swiglu(i);
    quantize_block(blk);
}
#endif
