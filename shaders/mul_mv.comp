#version 450
// y[c, row] = W[row] · x[c] for a few activation rows (decode, small batches) in fast numerics,
// for the twelve integer block types against their integer activations (quantize_act.comp's
// INT_OUT): 8 weight rows × 8 lanes per workgroup, up to NC activation rows, as the exact
// order's mul_mat_q8.comp and mul_mat_k.comp, but each lane takes whole 32-element chunks of its
// row (chunks lane, lane + 8, …, so a row's lanes read consecutive bytes) through
// blocks_dot.glsl's granules: w = scale · q + min per 16 elements, each granule's products
// summed exactly (integers in f32, see below), then in f32
//   acc += x_scale · (w_scale · sum + w_min · Σx)
// with Σx the activations' integer sum over the granule (Q8_K's bsums, binding 3), or for
// Q8_1's types (Q4_1, Q5_1) llama.cpp's term w_min · s per block (s = x_scale · Σx rounded to
// f16, binding 3). The weights of a chunk are decoded once for all activation rows; the eight
// lanes are summed by subgroup shuffles (SUBGROUP_SHUFFLE builds) or through shared memory.
// p0 = K, p1 = first weight row of this dispatch (within the chunk), p2 = rows in the chunk,
// p3 = first output column of the chunk, p4 = output row stride (matmul_rows.glsl has the
// MULTI builds' p1…p4), p5 = bytes per weight row, p6 = activation rows, p7 = 1 to add the
// products to y (store_y.glsl).
#include "common.glsl"
#include "dequant.glsl"
#include "matmul_rows.glsl"
#include "blocks_dot.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 1) readonly buffer X { vec4 x[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
#include "store_y.glsl"
layout(std430, binding = 3) readonly buffer S { float sums[]; };
layout(std430, binding = 4) readonly buffer D { float xd[]; };

#define NC 8u
#if defined(ACT_Q8_K)
#define ACT_BLOCK 256u
#else
#define ACT_BLOCK 32u
#endif

#if defined(SUBGROUP_SHUFFLE)
#include "reduce8.glsl"
#else
shared float lanes[NC][64];
#endif

void main() {
    SKIP_IDLE_GROUP();
    uint t = gl_LocalInvocationID.x, lane = t % 8u, r = t / 8u;
    uint row = gl_WorkGroupID.x * 8u + r + FIRST_ROW, c0 = gl_WorkGroupID.y * NC;
    uint k = pc.p0, nc = min(NC, pc.p6 - c0);
    float acc[NC];
    for (uint c = 0u; c < NC; c++) acc[c] = 0.0;
    if (row < CHUNK_ROWS) {
        uint rb = row * pc.p5;
        for (uint ch = lane; ch < k / 32u; ch += 8u) {
            uint e = ch * 32u;
            uint b = rb + (e / QK) * BLOCK_BYTES, i = e % QK;
            ivec4 wq[8];
            gq32(b, i, wq);
            // The quants as floats, once for every activation row: quants and activations are
            // integers of at most 128 in magnitude, so their products and the sums over a
            // 16-element granule (at most 16 · 128 · 128 = 2^18 < 2^24) are exact in f32: these
            // float products and sums are the integer ones, at the rate of float multiply-adds
            // instead of 32-bit integer multiplies.
            vec4 wf[8];
            for (uint w = 0u; w < 8u; w++) wf[w] = vec4(wq[w]);
            vec2 sm[2] = vec2[2](gsm(b, i / 16u), gsm(b, i / 16u + 1u));
            for (uint c = 0u; c < NC; c++) {
                if (c >= nc) break;
                uint xe = (c0 + c) * k + e;
                float v = 0.0;
                for (uint g = 0u; g < 2u; g++) {
                    float s = 0.0;
                    for (uint w = 4u * g; w < 4u * g + 4u; w++) {
                        vec4 p = wf[w] * x[xe / 4u + w];
                        s += (p.x + p.y) + (p.z + p.w);
                    }
                    v = fma(sm[g].x, s, v);
#if defined(GMIN) && defined(ACT_Q8_K)
                    v = fma(sm[g].y, sums[xe / 16u + g], v);
#endif
                }
                acc[c] = fma(xd[xe / ACT_BLOCK], v, acc[c]);
#if defined(GMIN) && !defined(ACT_Q8_K)
                acc[c] = fma(sm[0].y, sums[xe / 32u], acc[c]);
#endif
            }
        }
    }
#if defined(SUBGROUP_SHUFFLE)
    for (uint c = 0u; c < nc; c++) {
        float total = hsum8(acc[c]);
        if (lane == 0u && row < CHUNK_ROWS) store_y((c0 + c) * OUT_STRIDE + OUT_COL0 + row, total);
    }
#else
    for (uint c = 0u; c < NC; c++) lanes[c][t] = acc[c];
    barrier();
    if (lane == 0u && row < CHUNK_ROWS) {
        for (uint c = 0u; c < nc; c++) {
            float total = 0.0;
            for (uint l = 0u; l < 8u; l++) total += lanes[c][r * 8u + l];
            store_y((c0 + c) * OUT_STRIDE + OUT_COL0 + row, total);
        }
    }
#endif
}
