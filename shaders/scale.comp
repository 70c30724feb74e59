#version 450
// x[i] *= s for i < p0, s the float whose bits are p1.
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer X { float x[]; };

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * 65535u * 256u;
    if (i >= pc.p0) return;
    x[i] *= uintBitsToFloat(pc.p1);
}
