#version 450
// y[c, row] = W[row] · x[c] for up to NC activation rows per workgroup: one weight row per
// workgroup, dequantized once from its raw GGUF blocks and used for every activation row.
// p0 = K (row width), p1 = first weight row of this dispatch (within the chunk), p2 = n
// (activation rows), p3 = first output column of this weight chunk, p4 = output row stride,
// p5 = bytes per weight row.
#include "common.glsl"
#include "dequant.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 1) readonly buffer X { vec4 x[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

#define NC 8u
shared float partial[NC][64];

void main() {
    uint row = gl_WorkGroupID.x + pc.p1, c0 = gl_WorkGroupID.y * NC, t = gl_LocalInvocationID.x;
    uint kq = pc.p0 / 4u, nc = min(NC, pc.p2 - c0), rb = row * pc.p5;
    float acc[NC];
    for (uint c = 0u; c < NC; c++) acc[c] = 0.0;
    for (uint q = t; q < kq; q += 64u) {
        vec4 wv = deq4(rb, q * 4u);
        for (uint c = 0u; c < NC; c++) {
            if (c < nc) acc[c] += dot(wv, x[(c0 + c) * kq + q]);
        }
    }
    for (uint c = 0u; c < NC; c++) partial[c][t] = acc[c];
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (t < s) {
            for (uint c = 0u; c < NC; c++) partial[c][t] += partial[c][t + s];
        }
        barrier();
    }
    if (t < nc) y[(c0 + t) * pc.p4 + pc.p3 + row] = partial[t][0];
}
