#version 450
// Segment-to-segment importance (spec §1.3a) from pine_importance.comp's per-row entries:
// out[(h·n + i)·n + j] = the sum of row u's entry j over S_i's tokens u, in token order from 0
// (the CPU's order), and +∞ for j = i (the own segment always ranks first).
// p0 = query heads, p4 = segments.
#include "common.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Rows { float rows[]; };
// Segment starts (region-relative), then lengths: p4 words each.
layout(std430, binding = 1) readonly buffer Geo { uint geo[]; };
layout(std430, binding = 2) writeonly buffer Out { float o[]; };

void main() {
    uint e = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * 65535u * 64u;
    uint nh = pc.p0, n = pc.p4;
    if (e >= nh * n * n) return;
    uint j = e % n, i = (e / n) % n, h = e / (n * n);
    if (j == i) {
        o[e] = uintBitsToFloat(0x7f800000u);
        return;
    }
    precise float acc = 0.0;
    for (uint u = geo[i]; u < geo[i] + geo[n + i]; u++) acc += rows[(u * nh + h) * n + j];
    o[e] = acc;
}
