#version 450
// The start-up fma probe: r[i] = fma(a, b, c) for p0 triples, with the device's own fma(). Where
// every result equals the correctly rounded fused value (the host's f32::mul_add), the device
// fuses fma() and the shaders built with FUSED_FMA give the same bits as the f64 emulation in
// exact.glsl, at the cost of one instruction. Vulkan allows fma() to round twice (lavapipe does).
#include "common.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer In { vec4 abc[]; };
layout(std430, binding = 1) writeonly buffer Out { float r[]; };

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= pc.p0) return;
    vec4 v = abc[i];
    precise float f = fma(v.x, v.y, v.z);
    r[i] = f;
}
