#version 450
// Rotates each batch row's keys to its position (NORM RoPE: pairs 2i, 2i+1, (cos, sin) from a
// table the host computed in f64) and stores keys and values at the row's cache slot.
// p0 = KV row width, p1 = head dim, p2 = rotated pairs per head, p3 = pairs per table
// position, p4 = first table position (as int).
#include "common.glsl"
#include "cache.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer K { float k[]; };
layout(std430, binding = 1) readonly buffer V { float v[]; };
layout(std430, binding = 2) writeonly buffer KC { CACHE_T kc[]; };
layout(std430, binding = 3) writeonly buffer VC { CACHE_T vc[]; };
layout(std430, binding = 4) readonly buffer Rope { vec2 rope[]; };
layout(std430, binding = 5) readonly buffer Rows { ivec2 rows[]; };

void main() {
    uint r = gl_WorkGroupID.x, t = gl_LocalInvocationID.x, width = pc.p0, hd = pc.p1;
    uint slot = uint(rows[r].x);
    uint tab = uint(rows[r].y - int(pc.p4)) * pc.p3;
    uint src = r * width, dst = slot * width;
    for (uint p = t; p < width / 2u; p += 64u) {
        uint pi = p % (hd / 2u), i = (p / (hd / 2u)) * hd + 2u * pi;
        float x0 = k[src + i], x1 = k[src + i + 1u];
        if (pi < pc.p2) {
            vec2 cs = rope[tab + pi];
            precise float y0 = x0 * cs.x - x1 * cs.y;
            precise float y1 = x0 * cs.y + x1 * cs.x;
            x0 = y0;
            x1 = y1;
        }
        kc[dst + i] = cache_store(x0);
        kc[dst + i + 1u] = cache_store(x1);
        vc[dst + i] = cache_store(v[src + i]);
        vc[dst + i + 1u] = cache_store(v[src + i + 1u]);
    }
}
