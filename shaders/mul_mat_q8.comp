#version 450
// y[c, row] = W[row] · x[c] for the 32-element block types against integer Q8_0/Q8_1
// activations, in llama.cpp's x86 float order: per block an exact integer sum in eight lanes
// of four elements, accumulated as fma_rn(dw·dx, lane, acc) in block order; the lanes then reduced
// as `hsum_ps` does, plus (Q4_1/Q5_1) the min terms fused in block order. Workgroup: 8 weight
// rows × 8 lanes, one activation row. p0 = K, p1 = first weight row of this dispatch (within
// the chunk), p2 = rows in the chunk, p3 = first output column of the chunk, p4 = output row
// stride, p5 = bytes per weight row.
#include "common.glsl"
#include "dequant.glsl"
#include "blocks_int.glsl"
#include "exact.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 1) readonly buffer X { vec4 x[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(std430, binding = 3) readonly buffer S { float sums[]; };
layout(std430, binding = 4) readonly buffer D { float xd[]; };

shared float lanes[64];

void main() {
    uint t = gl_LocalInvocationID.x, lane = t % 8u, r = t / 8u;
    uint row = gl_WorkGroupID.x * 8u + r + pc.p1, col = gl_WorkGroupID.y;
    uint nb = pc.p0 / 32u;
    float acc = 0.0;
    float extra = 0.0;
    if (row < pc.p2) {
        uint rb = row * pc.p5;
        for (uint blk = 0u; blk < nb; blk++) {
            uint b = rb + blk * BLOCK_BYTES;
            precise float d = f16_at(b) * xd[col * nb + blk];
            ivec4 w4 = qint4(b, 4u * lane);
            ivec4 x4 = ivec4(x[(col * pc.p0 + blk * 32u) / 4u + lane]);
            int p = w4.x * x4.x + w4.y * x4.y + w4.z * x4.z + w4.w * x4.w;
            acc = fma_rn(d, float(p), acc);
#if defined(HAS_MIN)
            extra = fma_rn(f16_at(b + 2u), sums[col * nb + blk], extra);
#endif
        }
    }
    lanes[t] = acc;
    barrier();
    if (lane == 0u && row < pc.p2) {
        uint o = r * 8u;
        precise float s0 = lanes[o] + lanes[o + 4u];
        precise float s1 = lanes[o + 1u] + lanes[o + 5u];
        precise float s2 = lanes[o + 2u] + lanes[o + 6u];
        precise float s3 = lanes[o + 3u] + lanes[o + 7u];
        precise float total = ((s0 + s2) + (s1 + s3)) + extra;
        y[col * pc.p4 + pc.p3 + row] = total;
    }
}
