#version 450
// Greedy sampling on the device: o[r] = the index of the largest of the p0 values of row r of
// x, the first on ties, as the host's `argmax` (crates/model/src/sampler.rs) scans: NaNs never
// win, except that a NaN first value keeps index 0 (the scan starts there and nothing compares
// greater than a NaN). One workgroup per row: each invocation scans a stride of the row, then
// a tree over shared memory keeps the larger value, the lower index on ties.
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Out { uint o[]; };

shared float best_v[256];
shared uint best_i[256];

void main() {
    uint r = gl_WorkGroupID.x, t = gl_LocalInvocationID.x, n = pc.p0, base = r * n;
    // 0xffffffff: no candidate yet (only NaNs seen).
    float bv = 0.0;
    uint bi = 0xffffffffu;
    for (uint i = t; i < n; i += 256u) {
        float v = x[base + i];
        if (!isnan(v) && (bi == 0xffffffffu || v > bv)) {
            bv = v;
            bi = i;
        }
    }
    best_v[t] = bv;
    best_i[t] = bi;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1) {
        if (t < s) {
            float ov = best_v[t + s];
            uint oi = best_i[t + s];
            float mv = best_v[t];
            uint mi = best_i[t];
            bool take = oi != 0xffffffffu
                && (mi == 0xffffffffu || ov > mv || (ov == mv && oi < mi));
            if (take) {
                best_v[t] = ov;
                best_i[t] = oi;
            }
        }
        barrier();
    }
    if (t == 0u) {
        uint i = best_i[0];
        o[r] = (i == 0xffffffffu || isnan(x[base])) ? 0u : i;
    }
}
