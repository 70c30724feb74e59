#version 450
// x[i] += bias[i % p1] for i < p0: a bias vector of p1 values added to every row.
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Bias { float bias[]; };

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * 65535u * 256u;
    if (i >= pc.p0) return;
    x[i] += bias[i % pc.p1];
}
