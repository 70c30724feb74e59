#version 450
// gate[i] = silu(gate[i]) * up[i] for i < p0, with SiLU as x / (1 + expf(-x)) in the CPU's
// exact operations (exact.glsl).
#include "common.glsl"
#include "exact.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Gate { float g[]; };
layout(std430, binding = 1) readonly buffer Up { float u[]; };

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * 65535u * 256u;
    if (i >= pc.p0) return;
    float x = g[i];
    precise float den = 1.0 + expf_ggml(-x);
    precise float r = div_rn(x, den) * u[i];
    g[i] = r;
}
