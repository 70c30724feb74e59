#version 450
// Embedding lookup: out[r] = dequantized table row ids[r], for the ids that fall in this
// chunk of the table. p0 = row width, p1 = bytes per row, p2 = first table row of the chunk,
// p3 = rows in the chunk.
#include "common.glsl"
#include "dequant.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 1) readonly buffer Ids { uint ids[]; };
layout(std430, binding = 2) writeonly buffer Out { vec4 o[]; };

void main() {
    uint r = gl_WorkGroupID.x, t = gl_LocalInvocationID.x, kq = pc.p0 / 4u;
    uint id = ids[r];
    if (id < pc.p2 || id - pc.p2 >= pc.p3) return;
    uint rb = (id - pc.p2) * pc.p1;
    for (uint q = t; q < kq; q += 64u) o[r * kq + q] = deq4(rb, q * 4u);
}
