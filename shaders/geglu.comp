#version 450
// gate[i] = gelu(gate[i]) * up[i] for i < p0, GELU's tanh form as x / (1 + expf(-z)) with
// z = x·(C·(1 + A·x²)), C = 2·√(2/π), A = 0.044715, in the CPU's exact operations and order
// (exact.glsl; the CPU's math::gelu_mul).
#include "common.glsl"
#include "exact.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Gate { float g[]; };
layout(std430, binding = 1) readonly buffer Up { float u[]; };

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * 65535u * 256u;
    if (i >= pc.p0) return;
    const float C = 1.5957692;
    const float A = 0.044715;
    float x = g[i];
    precise float sq = x * x;
    precise float inner = 1.0 + A * sq;
    precise float z = x * (C * inner);
    precise float den = 1.0 + expf_ggml(-z);
    precise float r = div_rn(x, den) * u[i];
    g[i] = r;
}
