#version 450
// acc[i] += x[i] for i < p0.
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Acc { float acc[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * 65535u * 256u;
    if (i >= pc.p0) return;
    acc[i] += x[i];
}
