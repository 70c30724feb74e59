#version 450
// Plan-driven attention for one (batch row, query head) per workgroup, in the CPU backend's
// exact order (llama.cpp's x86 non-flash path). The row reads its key ranges in plan order;
// before each range the pre-RoPE query is rotated to (position + the range's shift), which
// equals shifting that range's cached keys (DESIGN §3), and rounded to f16 for an f16 cache.
// Scores: tinyBLAS's 16-lane fused dots, times the scale, kept in a scratch buffer; softmax
// with ggml's expf and its sum in 16-key chunks (tree-reduced, chunks added in f64); the
// probabilities (rounded to f16 for an f16 cache) then weight the values, key k feeding lane
// k mod 16 of each output dim, lanes tree-reduced at the end.
// p0 = query heads, p1 = KV heads, p2 = head dim, p3 = rotated pairs, p4 = scratch floats per
// (row, head), p5 = first table position (int), p6 = score scale (f32 bits), p7 = the scores'
// soft-cap (f32 bits; 0 = none: Gemma 2's cap · tanh(s / cap), exact.glsl's softcap_rn).
// QUANT_OUT builds (with an ACT_* type and INT_OUT as quantize_act.comp) also round the output.
// A Q8_K block (256 values) spans 256 / head dim heads, so those builds count the workgroups in
// at binding 12 and the block's last one to finish rounds it.
#include "common.glsl"
#include "cache.glsl"
#include "exact.glsl"

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
#if defined(QUANT_OUT)
// The output rounded for the matmul after it as well (quantize_act.comp's operations): each
// workgroup rounds its (row, head)'s blocks once it has written them (head dim a multiple of
// the block), to bindings 9 … 11.
layout(std430, binding = 7) coherent buffer Out { float o[]; };
layout(std430, binding = 9) writeonly buffer QOut { float qo[]; };
layout(std430, binding = 10) writeonly buffer Sums { float sums[]; };
layout(std430, binding = 11) writeonly buffer Scales { float scales[]; };
float attn_out(uint i) { return o[i]; }
#define QIN(i) attn_out(i)
#define o qo
#define QUANT_WG
#include "quantize_block.glsl"
#undef o
#if defined(ACT_Q8_K)
// Per block of the output: how many of its heads' workgroups have written their values; the
// last one resets it to 0 (zero-filled once by the host), so it is 0 before every dispatch.
layout(std430, binding = 12) coherent buffer Arrived { uint arrived[]; };
shared bool last_in;
#endif
#else
layout(std430, binding = 7) writeonly buffer Out { float o[]; };
#endif
// Scores, then probabilities, of each (row, head): p4 floats each.
layout(std430, binding = 8) coherent buffer Scratch { float sc[]; };

#define HD_MAX 256u
#define LANES 16u
shared float qs[HD_MAX];
shared float red[64];
shared WIDE total;

uint visible_end(ivec4 range, uint own) {
    uint end = uint(range.y);
    if (range.z != 0) end = min(end, own + 1u);
    return max(end, uint(range.x));
}

void main() {
    uint h = gl_WorkGroupID.x, r = gl_WorkGroupID.y, t = gl_LocalInvocationID.x;
    uint nh = pc.p0, hd = pc.p2, kvw = pc.p1 * hd;
    uint kv_base = (h / (nh / pc.p1)) * hd;
    uint qbase = (r * nh + h) * hd;
    uint sbase = (r * nh + h) * pc.p4;
    int pos = rows[r].x;
    uint own = uint(rows[r].y);
    uvec2 list = lists[r * nh + h];
    float scale = uintBitsToFloat(pc.p6);

    // Scores, range by range, in plan order.
    uint n = 0u;
    for (uint ri = list.x; ri < list.x + list.y; ri++) {
        ivec4 range = ranges[ri];
        uint start = uint(range.x), end = visible_end(range, own);
        if (end <= start) continue;
        uint tab = uint(pos + range.w - int(pc.p5)) * pc.p3;
        barrier();
        for (uint p = t; p < hd / 2u; p += 64u) {
            float x0 = q[qbase + 2u * p], x1 = q[qbase + 2u * p + 1u];
            if (p < pc.p3) {
                vec2 cs = rope[tab + p];
                precise float y0 = x0 * cs.x - x1 * cs.y;
                precise float y1 = x0 * cs.y + x1 * cs.x;
                x0 = y0;
                x1 = y1;
            }
            qs[2u * p] = cache_round(x0);
            qs[2u * p + 1u] = cache_round(x1);
        }
        barrier();
        for (uint j = start + t; j < end; j += 64u) {
            uint at = j * kvw + kv_base;
            float lane[16];
            for (uint l = 0u; l < LANES; l++) lane[l] = 0.0;
            uint main_dims = hd - hd % LANES;
            for (uint i = 0u; i < main_dims; i += LANES) {
                for (uint l = 0u; l < LANES; l++) {
                    lane[l] = fma_rn(qs[i + l], cache_load(kc[at + i + l]), lane[l]);
                }
            }
            precise float d = reduce16(lane);
            for (uint i = main_dims; i < hd; i++) d = fma_rn(qs[i], cache_load(kc[at + i]), d);
            precise float s = d * scale;
            if (pc.p7 != 0u) s = softcap_rn(s, uintBitsToFloat(pc.p7));
            sc[sbase + n + (j - start)] = s;
        }
        n += end - start;
    }
    memoryBarrierBuffer();
    barrier();

    // Maximum (exact whatever the order), exponentials, and the chunked sum.
    float m = -1.0 / 0.0;
    for (uint k = t; k < n; k += 64u) m = max(m, sc[sbase + k]);
    red[t] = m;
    barrier();
    if (t == 0u) {
        for (uint i = 1u; i < 64u; i++) m = max(m, red[i]);
        red[0] = m;
    }
    barrier();
    m = red[0];
    for (uint k = t; k < n; k += 64u) {
        precise float z = sc[sbase + k] - m;
        sc[sbase + k] = expf_ggml(z);
    }
    memoryBarrierBuffer();
    barrier();
    // The sum: 16-key chunks tree-reduced, the chunks added in order. Each invocation reduces
    // one chunk of every 64 and invocation 0 adds them from shared memory: the serial sum's
    // order and bits, without its n / 16 dependent reads of device memory.
    WIDE sum = WIDE(0.0);
    for (uint c0 = 0u; c0 < n; c0 += 64u * LANES) {
        uint c = c0 + t * LANES;
        float part = 0.0;
        if (c < n) {
            float lane[16];
            for (uint l = 0u; l < LANES; l++) lane[l] = c + l < n ? sc[sbase + c + l] : 0.0;
            part = reduce16(lane);
        }
        red[t] = part;
        barrier();
        if (t == 0u) {
            uint chunks = min(64u, (n - c0 + LANES - 1u) / LANES);
            for (uint i = 0u; i < chunks; i++) sum += WIDE(red[i]);
        }
        barrier();
    }
    if (t == 0u) total = sum;
    barrier();
    float inv = float(WIDE(1.0) / total);
    for (uint k = t; k < n; k += 64u) {
        precise float p = sc[sbase + k] * inv;
        sc[sbase + k] = cache_round(p);
    }
    memoryBarrierBuffer();
    barrier();

    // Value sums: thread t owns dims t, t+64, …; key k feeds lane k mod 16.
    for (uint dim = t; dim < hd; dim += 64u) {
        float acc[16];
        for (uint l = 0u; l < LANES; l++) acc[l] = 0.0;
        uint k = 0u;
        for (uint ri = list.x; ri < list.x + list.y; ri++) {
            ivec4 range = ranges[ri];
            uint start = uint(range.x), end = visible_end(range, own);
            for (uint j = start; j < end; j++, k++) {
                acc[k % LANES] = fma_rn(sc[sbase + k], cache_load(vc[j * kvw + kv_base + dim]), acc[k % LANES]);
            }
        }
        o[qbase + dim] = reduce16(acc);
    }
#if defined(QUANT_OUT)
    memoryBarrierBuffer();
    barrier();
#if defined(ACT_Q8_K)
    // Head dims below the block divide it (the host checks): the block's last workgroup to
    // count itself in, after every one made its values visible, rounds it (all its
    // invocations together, as for head dims the block divides).
    if (hd < BLOCK) {
        uint blk = qbase / BLOCK;
        if (t == 0u) {
            last_in = atomicAdd(arrived[blk], 1u) + 1u == BLOCK / hd;
            if (last_in) arrived[blk] = 0u;
        }
        barrier();
        if (last_in) {
            memoryBarrierBuffer();
            quantize_block_wg(blk, t);
        }
        return;
    }
    for (uint b = 0u; b < hd / BLOCK; b++) quantize_block_wg(qbase / BLOCK + b, t);
#else
    if (t < hd / BLOCK) quantize_block(qbase / BLOCK + t);
#endif
#endif
}
