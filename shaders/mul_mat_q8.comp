#version 450
// y[c, row] = W[row] · x[c] for the 32-element block types against integer Q8_0/Q8_1
// activations, in llama.cpp's x86 float order: per block an exact integer sum in eight lanes
// of four elements, accumulated as fma_rn(dw·dx, lane, acc) in block order; the lanes then reduced
// as `hsum_ps` does, plus (Q4_1/Q5_1) the min terms fused in block order. Workgroup: 8 weight
// rows × 8 lanes, up to NC activation rows (each weight block decoded once for all of them).
// p0 = K, p1 = first weight row of this dispatch (within the chunk), p2 = rows in the chunk,
// p3 = first output column of the chunk, p4 = output row stride, p5 = bytes per weight row,
// p6 = activation rows.
#include "common.glsl"
#include "dequant.glsl"
#include "blocks_int.glsl"
#include "exact.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 1) readonly buffer X { vec4 x[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(std430, binding = 3) readonly buffer S { float sums[]; };
layout(std430, binding = 4) readonly buffer D { float xd[]; };

#define NC 8u
#if defined(SUBGROUP_SHUFFLE)
#include "reduce8.glsl"
#else
shared float lanes[NC][64];
#endif

void main() {
    uint t = gl_LocalInvocationID.x, lane = t % 8u, r = t / 8u;
    uint row = gl_WorkGroupID.x * 8u + r + pc.p1, c0 = gl_WorkGroupID.y * NC;
    uint nb = pc.p0 / 32u, nc = min(NC, pc.p6 - c0);
    float acc[NC], extra[NC];
    for (uint c = 0u; c < NC; c++) {
        acc[c] = 0.0;
        extra[c] = 0.0;
    }
    if (row < pc.p2) {
        uint rb = row * pc.p5;
        for (uint blk = 0u; blk < nb; blk++) {
            uint b = rb + blk * BLOCK_BYTES;
            float dw = f16_at(b);
            ivec4 w4 = qint4(b, 4u * lane);
#if defined(HAS_MIN)
            float mw = f16_at(b + 2u);
#endif
            for (uint c = 0u; c < NC; c++) {
                if (c >= nc) break;
                uint col = c0 + c;
                precise float d = dw * xd[col * nb + blk];
                ivec4 x4 = ivec4(x[(col * pc.p0 + blk * 32u) / 4u + lane]);
                int p = w4.x * x4.x + w4.y * x4.y + w4.z * x4.z + w4.w * x4.w;
                acc[c] = fma_rn(d, float(p), acc[c]);
#if defined(HAS_MIN)
                extra[c] = fma_rn(mw, sums[col * nb + blk], extra[c]);
#endif
            }
        }
    }
#if defined(SUBGROUP_SHUFFLE)
    for (uint c = 0u; c < nc; c++) {
        float lanes_sum = hsum8(acc[c]);
        precise float total = lanes_sum + extra[c];
        if (lane == 0u && row < pc.p2) y[(c0 + c) * pc.p4 + pc.p3 + row] = total;
    }
#else
    for (uint c = 0u; c < NC; c++) lanes[c][t] = acc[c];
    barrier();
    if (lane == 0u && row < pc.p2) {
        uint o = r * 8u;
        for (uint c = 0u; c < nc; c++) {
            precise float s0 = lanes[c][o] + lanes[c][o + 4u];
            precise float s1 = lanes[c][o + 1u] + lanes[c][o + 5u];
            precise float s2 = lanes[c][o + 2u] + lanes[c][o + 6u];
            precise float s3 = lanes[c][o + 3u] + lanes[c][o + 7u];
            precise float total = ((s0 + s2) + (s1 + s3)) + extra[c];
            y[(c0 + c) * pc.p4 + pc.p3 + row] = total;
        }
    }
#endif
}
