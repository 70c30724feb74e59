#version 450
// llama.cpp's activation rounding before a quantized matmul, in the CPU's exact operations
// (Q8_0/Q8_1: id = 127/amax, half-even, scale stored as f16; Q8_K: -127/max, scale f32;
// F16/BF16: rounded). By default each value becomes what the quantized copy represents
// (q · d), for the float matmul shaders. With INT_OUT it writes q itself and each block's
// scale, for the integer kernels (mul_mat_q8.comp for the Q8_0/Q8_1 partners of the 32-element
// block types, mul_mat_k.comp for Q8_K), which then sum exactly as the CPU does. Q8_1 also
// writes each block's f16 sum term (d · Σq), which Q4_1/Q5_1 use for the min; Q8_K writes its
// 16 sums of 16 quants (bsums) per block, which the k-quant mins use. One invocation per block
// (a workgroup per 256-value Q8_K block).
// p0 = row width, p1 = blocks in the batch.
#include "common.glsl"
#include "exact.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Out { float o[]; };
layout(std430, binding = 2) writeonly buffer Sums { float sums[]; };
layout(std430, binding = 3) writeonly buffer Scales { float scales[]; };

#define QIN(i) x[i]
#define QUANT_WG
#include "quantize_block.glsl"

#if defined(ACT_Q8_K)
// 256-value blocks: a workgroup per block (quantize_block_wg).
void main() {
    uint blk = gl_WorkGroupID.x + gl_WorkGroupID.y * 65535u;
    if (blk >= pc.p1) return;
    quantize_block_wg(blk, gl_LocalInvocationID.x);
}
#else
void main() {
    uint blk = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * 65535u * 64u;
    if (blk >= pc.p1) return;
    quantize_block(blk);
}
#endif
