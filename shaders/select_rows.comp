#version 450
// out[r] = x[rows[r]], rows p0 wide.
#include "common.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Rows { uint rows[]; };
layout(std430, binding = 2) writeonly buffer Out { float o[]; };

void main() {
    uint r = gl_WorkGroupID.x, n = pc.p0, src = rows[r] * n;
    for (uint i = gl_LocalInvocationID.x; i < n; i += 64u) o[r * n + i] = x[src + i];
}
