#version 450
// out[r] = x[r] / sqrt(mean(x[r]²) + eps) * w, one row per workgroup (llama.cpp's order:
// normalise, then scale by the weight). p0 = row width, p1 = eps as f32 bits.
#include "common.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) writeonly buffer Out { float o[]; };

shared float partial[64];

void main() {
    uint r = gl_WorkGroupID.x, t = gl_LocalInvocationID.x, n = pc.p0, base = r * n;
    float s = 0.0;
    for (uint i = t; i < n; i += 64u) s += x[base + i] * x[base + i];
    partial[t] = s;
    barrier();
    for (uint k = 32u; k > 0u; k >>= 1) {
        if (t < k) partial[t] += partial[t + k];
        barrier();
    }
    float scale = 1.0 / sqrt(partial[0] / float(n) + uintBitsToFloat(pc.p1));
    for (uint i = t; i < n; i += 64u) o[base + i] = (x[base + i] * scale) * w[i];
}
