#version 450
// PINE's importance (spec §1.3) of one batch row's query for one query head per workgroup,
// over the region keys of pine_region_keys.comp, in the CPU's order (pine_backend's key_blocks
// and lanes): a score is one FMA chain over the dims from 0, times the scale; the max is over
// every key outside the skipped segment; per segment, the sum of ggml's expf(score − max) in 16
// lanes counted from the segment's own start (lane l: its tokens l, l + 16, …), the lanes
// tree-reduced; the total over the segments in canonical order; each entry sum / total /
// length. Nothing depends on where a segment sits in the region, so neither does the result.
// Suffix rows (p6 = 0) skip nothing and write their entries. Segment rows (p6 = 1: row u is
// region token u) skip their own segment (entry 0); pine_importance_sum.comp adds them up.
// Scores are computed twice (for the max, then for the sums) rather than kept: no scratch.
// p0 = query heads, p1 = KV heads, p2 = head dim, p3 = region tokens, p4 = segments,
// p5 = score scale (f32 bits), p6 = segment rows.
#include "common.glsl"
#include "cache.glsl"
#include "exact.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer Region { CACHE_T region[]; };
// Segment starts (region-relative), lengths, then the canonical order: p4 words each.
layout(std430, binding = 2) readonly buffer Geo { uint geo[]; };
// p4 entries per (row, head); the per-segment sums stay here until the total is known.
layout(std430, binding = 3) coherent buffer Out { float o[]; };

#define HD_MAX 256u
#define LANES 16u
shared float qs[HD_MAX];
shared float red[64];
shared float total;

float score(uint base, uint u) {
    uint hd = pc.p2, tokens = pc.p3;
    precise float acc = 0.0;
    for (uint d = 0u; d < hd; d++) acc = fma_rn(qs[d], cache_load(region[base + d * tokens + u]), acc);
    precise float s = acc * uintBitsToFloat(pc.p5);
    return s;
}

void main() {
    uint h = gl_WorkGroupID.x, r = gl_WorkGroupID.y, t = gl_LocalInvocationID.x;
    uint nh = pc.p0, hd = pc.p2, tokens = pc.p3, n = pc.p4;
    uint base = (h / (nh / pc.p1)) * hd * tokens;
    uint obase = (r * nh + h) * n;

    // The skipped segment: the one holding token r for segment rows, none for suffix rows.
    uint own = n, own_start = 0u, own_end = 0u;
    if (pc.p6 != 0u) {
        for (uint j = 0u; j < n; j++) {
            if (r >= geo[j] && r < geo[j] + geo[n + j]) {
                own = j;
                own_start = geo[j];
                own_end = geo[j] + geo[n + j];
            }
        }
    }
    for (uint d = t; d < hd; d += 64u) qs[d] = q[(r * nh + h) * hd + d];
    barrier();

    // The max (exact whatever the order).
    float m = -1.0 / 0.0;
    for (uint u = t; u < tokens; u += 64u) {
        if (u < own_start || u >= own_end) m = max(m, score(base, u));
    }
    red[t] = m;
    barrier();
    if (t == 0u) {
        for (uint i = 1u; i < 64u; i++) m = max(m, red[i]);
        red[0] = m;
    }
    barrier();
    m = red[0];
    barrier();

    // Per-segment sums: four segments at a time, sixteen lane threads each.
    uint g = t / LANES, l = t % LANES;
    for (uint j0 = 0u; j0 < n; j0 += 4u) {
        uint j = j0 + g;
        precise float acc = uintBitsToFloat(0x80000000u);
        if (j < n && j != own) {
            uint start = geo[j], len = geo[n + j];
            for (uint i = l; i < len; i += LANES) {
                precise float z = score(base, start + i) - m;
                acc += expf_ggml(z);
            }
        }
        red[t] = acc;
        barrier();
        if (l == 0u && j < n) {
            float lane[16];
            for (uint k = 0u; k < LANES; k++) lane[k] = red[g * LANES + k];
            o[obase + j] = j == own ? 0.0 : reduce16(lane);
        }
        barrier();
    }
    memoryBarrierBuffer();
    barrier();

    // The total in canonical order, then each segment's mean probability.
    if (t == 0u) {
        precise float sum = uintBitsToFloat(0x80000000u);
        for (uint c = 0u; c < n; c++) sum += o[obase + geo[2u * n + c]];
        total = sum;
    }
    barrier();
    for (uint j = t; j < n; j += 64u) {
        float s = o[obase + j];
        o[obase + j] = j == own ? 0.0 : div_rn(div_rn(s, total), float(geo[n + j]));
    }
}
