#version 450
// y[c, row] = W[row] · x[c] with float dequantization of the raw GGUF blocks (the reference
// mode, and the block types without an integer kernel). Workgroup: 8 weight rows × 8 lanes, up
// to NC activation rows); lane l takes element quads l, l+8, …, each dequantized once for every
// activation row, and the 8 lanes are summed at the end.
// p0 = K (row width), p1 = first weight row of this dispatch (within the chunk), p2 = rows in
// the chunk, p3 = first output column of the chunk, p4 = output row stride, p5 = bytes per
// weight row, p6 = activation rows, p7 = 1 to add the products to y (store_y.glsl).
#include "common.glsl"
#include "dequant.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 1) readonly buffer X { vec4 x[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
#include "store_y.glsl"

#define NC 8u
shared float lanes[NC][64];

void main() {
    uint t = gl_LocalInvocationID.x, lane = t % 8u, r = t / 8u;
    uint row = gl_WorkGroupID.x * 8u + r + pc.p1, c0 = gl_WorkGroupID.y * NC;
    uint kq = pc.p0 / 4u, nc = min(NC, pc.p6 - c0);
    float acc[NC];
    for (uint c = 0u; c < NC; c++) acc[c] = 0.0;
    if (row < pc.p2) {
        uint rb = row * pc.p5;
        for (uint q = lane; q < kq; q += 8u) {
            vec4 wv = deq4(rb, q * 4u);
            for (uint c = 0u; c < NC; c++) {
                if (c < nc) acc[c] += dot(wv, x[(c0 + c) * kq + q]);
            }
        }
    }
    for (uint c = 0u; c < NC; c++) lanes[c][t] = acc[c];
    barrier();
    if (lane == 0u && row < pc.p2) {
        for (uint c = 0u; c < nc; c++) {
            float s = 0.0;
            for (uint l = 0u; l < 8u; l++) s += lanes[c][r * 8u + l];
            store_y((c0 + c) * pc.p4 + pc.p3 + row, s);
        }
    }
}
