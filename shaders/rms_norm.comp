#version 450
// out[r] = x[r] · 1/sqrt(mean(x[r]²) + eps) · w, one row per workgroup, in the CPU's (ggml's)
// order: squares summed sequentially in f64 (HAVE_F64; without f64, fast numerics, the
// workgroup sums them: row_sumsq.glsl), the mean rounded to f32, then the scale, then the
// weight. p0 = row width, p1 = eps as f32 bits.
#include "common.glsl"
#include "exact.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) writeonly buffer Out { float o[]; };

shared float scale;

#include "row_sumsq.glsl"

void main() {
    uint r = gl_WorkGroupID.x, t = gl_LocalInvocationID.x, n = pc.p0, base = r * n;
    WIDE sum = row_sumsq(base, n, t);
    if (t == 0u) {
        precise float mean = float(sum / WIDE(n));
        precise float m = mean + uintBitsToFloat(pc.p1);
        scale = div_rn(1.0, sqrt_rn(m));
    }
    barrier();
    for (uint i = t; i < n; i += 64u) {
        precise float v = x[base + i] * scale;
        precise float y = v * w[i];
        o[base + i] = y;
    }
}
