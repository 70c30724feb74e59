#version 450
// Copies a segment batch's pre-RoPE keys (row u = region token u, [token][KV head][dim] f32) into
// PINE's region store in the cache precision, laid out [KV head][dim][token] so that the
// importance pass's neighbouring threads read neighbouring keys.
// p0 = KV row width, p1 = region tokens.
#include "common.glsl"
#include "cache.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer K { float k[]; };
layout(std430, binding = 1) writeonly buffer Region { CACHE_T region[]; };

void main() {
    uint e = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * 65535u * 256u;
    uint width = pc.p0, tokens = pc.p1;
    if (e >= width * tokens) return;
    uint u = e / width, c = e % width;
    region[c * tokens + u] = cache_store(k[e]);
}
