#version 450
// Plan-driven attention for one (batch row, query head) per workgroup. The row reads its key
// ranges in plan order; before each range the pre-RoPE query is rotated to (position + the
// range's shift), which equals shifting that range's cached keys (DESIGN §3). Softmax runs
// online over blocks of 64 keys: each thread scores one key of the block, then owns head
// dims t, t+64, … of the value sum.
// p0 = query heads, p1 = KV heads, p2 = head dim, p3 = rotated pairs, p4 = pairs per table
// position, p5 = first table position (int), p6 = score scale (f32 bits).
#include "common.glsl"
#include "cache.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer KC { CACHE_T kc[]; };
layout(std430, binding = 2) readonly buffer VC { CACHE_T vc[]; };
layout(std430, binding = 3) readonly buffer Rope { vec2 rope[]; };
// Per batch row: (position, own cache index).
layout(std430, binding = 4) readonly buffer Rows { ivec2 rows[]; };
// Per (row, head): (first range, range count).
layout(std430, binding = 5) readonly buffer Lists { uvec2 lists[]; };
// Per range: (first key, end key, causal, shift).
layout(std430, binding = 6) readonly buffer Ranges { ivec4 ranges[]; };
layout(std430, binding = 7) writeonly buffer Out { float o[]; };

#define HD_MAX 256u
#define PER_THREAD (HD_MAX / 64u)
shared float qs[HD_MAX];
shared float score[64];

void main() {
    uint h = gl_WorkGroupID.x, r = gl_WorkGroupID.y, t = gl_LocalInvocationID.x;
    uint nh = pc.p0, hd = pc.p2, kvw = pc.p1 * hd;
    uint kv_base = (h / (nh / pc.p1)) * hd;
    uint qbase = (r * nh + h) * hd;
    int pos = rows[r].x;
    uint own = uint(rows[r].y);
    uvec2 list = lists[r * nh + h];
    float scale = uintBitsToFloat(pc.p6);
    float m = -1.0 / 0.0, l = 0.0;
    float acc[PER_THREAD];
    for (uint d = 0u; d < PER_THREAD; d++) acc[d] = 0.0;
    for (uint ri = list.x; ri < list.x + list.y; ri++) {
        ivec4 range = ranges[ri];
        uint start = uint(range.x), end = uint(range.y);
        if (range.z != 0) end = min(end, own + 1u);
        if (end <= start) continue;
        uint tab = uint(pos + range.w - int(pc.p5)) * pc.p4;
        barrier();
        for (uint p = t; p < hd / 2u; p += 64u) {
            float x0 = q[qbase + 2u * p], x1 = q[qbase + 2u * p + 1u];
            if (p < pc.p3) {
                vec2 cs = rope[tab + p];
                float y0 = x0 * cs.x - x1 * cs.y, y1 = x0 * cs.y + x1 * cs.x;
                x0 = y0;
                x1 = y1;
            }
            qs[2u * p] = cache_round(x0);
            qs[2u * p + 1u] = cache_round(x1);
        }
        barrier();
        for (uint kb = start; kb < end; kb += 64u) {
            uint j = kb + t, count = min(64u, end - kb);
            float s = -1.0 / 0.0;
            if (t < count) {
                uint at = j * kvw + kv_base;
                s = 0.0;
                for (uint d = 0u; d < hd; d++) s += qs[d] * cache_load(kc[at + d]);
                s *= scale;
            }
            score[t] = s;
            barrier();
            float bm = m;
            for (uint i = 0u; i < count; i++) bm = max(bm, score[i]);
            float corr = exp(m - bm);
            l *= corr;
            for (uint d = 0u; d < PER_THREAD; d++) acc[d] *= corr;
            for (uint i = 0u; i < count; i++) {
                float p = exp(score[i] - bm);
                l += p;
                uint at = (kb + i) * kvw + kv_base;
                for (uint d = 0u; d < PER_THREAD; d++) {
                    uint dim = t + 64u * d;
                    if (dim < hd) acc[d] += p * cache_load(vc[at + dim]);
                }
            }
            m = bm;
            barrier();
        }
    }
    for (uint d = 0u; d < PER_THREAD; d++) {
        uint dim = t + 64u * d;
        if (dim < hd) o[qbase + dim] = acc[d] / l;
    }
}
