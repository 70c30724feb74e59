#version 450
// y[c, row] = W[row] · x[c] for the 256-element types (Q2_K … Q6_K, IQ4_XS) against integer
// Q8_K activations, in the float order of the CPU's kernels (crates/quant/src/dot): per super-
// block the integer sums of eight lanes (blocks_k.glsl), then
//   Q4_K, Q6_K (AVX2): acc = fma_rn(dw·dx, lane, acc) per lane, lanes reduced as `hsum_ps`
//     does, minus (Q4_K) the sequential sum of (dmin·dx)·Σ bsums·mins);
//   Q3_K, Q5_K (ggml's generic): acc += (dw·dx)·lane per lane, then the lanes added one by one
//     onto 0 (Q3_K) or onto the sequential −(dmin·dx)·Σ bsums·mins (Q5_K);
//   Q2_K: sum += (dall·isum − dmin·summs) per super-block, sequentially;
//   IQ4_XS: sum += ((dw·dx)·(ls − 32))·sumi per 32-element sub-block, sequentially.
// The sequential sums are kept by lane 0 of each row, which reads the other lanes' integer sums
// (Q2_K) or terms (IQ4_XS) through shared memory. Workgroup: 8 weight rows × 8 lanes, up to NC
// activation rows (each weight decoded once for all of them).
// p0 = K, p1 = first weight row of this dispatch (within the chunk), p2 = rows in the chunk,
// p3 = first output column of the chunk, p4 = output row stride (matmul_rows.glsl has the
// MULTI builds' p1…p4), p5 = bytes per weight row,
// p6 = activation rows, p7 = 1 to add the products to y (store_y.glsl).
#include "common.glsl"
#include "dequant.glsl"
#include "matmul_rows.glsl"
#include "blocks_k.glsl"
#include "exact.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
#include "store_y.glsl"
// Per activation block: the 16 sums of 16 quants (Q8_K bsums), and the scale d.
layout(std430, binding = 3) readonly buffer S { float bsums[]; };
layout(std430, binding = 4) readonly buffer D { float xd[]; };

#define NC 8u
#if defined(SUBGROUP_SHUFFLE)
#include "reduce8.glsl"
#endif
shared float lanes[NC][64];
#if defined(DATA_Q2_K)
shared int parts[NC][64];
#endif

// Σ_j bsums[j] · min of the sub-block holding bsum j, for activation block ab.
#if defined(DATA_Q2_K) || defined(DATA_Q4_K) || defined(DATA_Q5_K)
int min_sum(uint b, uint ab) {
    int s = 0;
    for (uint j = 0u; j < 16u; j++) {
#if defined(DATA_Q2_K)
        s += int(bsums[ab * 16u + j]) * kmin(b, j);
#else
        s += int(bsums[ab * 16u + j]) * kmin(b, j / 2u);
#endif
    }
    return s;
}
#endif

void main() {
    SKIP_IDLE_GROUP();
    uint t = gl_LocalInvocationID.x, lane = t % 8u, r = t / 8u;
    uint row = gl_WorkGroupID.x * 8u + r + FIRST_ROW, c0 = gl_WorkGroupID.y * NC;
    uint nb = pc.p0 / 256u, nc = min(NC, pc.p6 - c0);
    bool live = row < CHUNK_ROWS;
    precise float acc[NC], extra[NC];
    for (uint c = 0u; c < NC; c++) {
        acc[c] = 0.0;
        extra[c] = 0.0;
    }
    for (uint blk = 0u; blk < nb; blk++) {
        uint b = row * pc.p5 + blk * BLOCK_BYTES;
        int wq[32];
        if (live) {
            for (uint i = 0u; i < 32u; i++) wq[i] = kval(b, kelem(lane, i));
            for (uint c = 0u; c < nc; c++) {
                uint ab = (c0 + c) * nb + blk;
                int s = 0;
                for (uint i = 0u; i < 32u; i++) s += wq[i] * int(x[ab * 256u + kelem(lane, i)]);
                float dx = xd[ab];
#if defined(DATA_Q4_K) || defined(DATA_Q6_K)
#if defined(DATA_Q4_K)
                precise float d = f16_at(b) * dx;
                if (lane == 0u) {
                    precise float dm = f16_at(b + 2u) * dx;
                    extra[c] += dm * float(min_sum(b, ab));
                }
#else
                precise float d = f16_at(b + 208u) * dx;
#endif
                acc[c] = fma_rn(d, float(s), acc[c]);
#elif defined(DATA_Q3_K) || defined(DATA_Q5_K)
#if defined(DATA_Q3_K)
                precise float d = f16_at(b + 108u) * dx;
#else
                precise float d = f16_at(b) * dx;
                if (lane == 0u) {
                    precise float dm = f16_at(b + 2u) * dx;
                    extra[c] -= dm * float(min_sum(b, ab));
                }
#endif
                acc[c] += d * float(s);
#elif defined(DATA_Q2_K)
                parts[c][t] = s;
#elif defined(DATA_IQ4_XS)
                precise float d = f16_at(b) * dx;
                precise float dk = d * float(kscale(b, lane));
                lanes[c][t] = dk * float(s);
#endif
            }
        }
#if defined(DATA_Q2_K) || defined(DATA_IQ4_XS)
        barrier();
        if (lane == 0u && live) {
            for (uint c = 0u; c < nc; c++) {
#if defined(DATA_Q2_K)
                uint ab = (c0 + c) * nb + blk;
                int isum = 0;
                for (uint l = 0u; l < 8u; l++) isum += parts[c][t + l];
                precise float dall = xd[ab] * f16_at(b + 80u);
                precise float dmin = xd[ab] * f16_at(b + 82u);
                acc[c] += dall * float(isum) - dmin * float(min_sum(b, ab));
#else
                for (uint l = 0u; l < 8u; l++) acc[c] += lanes[c][t + l];
#endif
            }
        }
        barrier();
#endif
    }
#if defined(DATA_Q2_K) || defined(DATA_IQ4_XS)
    if (lane == 0u && live) {
        for (uint c = 0u; c < nc; c++) store_y((c0 + c) * OUT_STRIDE + OUT_COL0 + row, acc[c]);
    }
#elif defined(SUBGROUP_SHUFFLE)
    for (uint c = 0u; c < nc; c++) {
#if defined(DATA_Q4_K) || defined(DATA_Q6_K)
        float lanes_sum = hsum8(acc[c]);
        precise float total = lanes_sum - extra[c];
#else
        float total = sum8_in_order(acc[c], extra[c]);
#endif
        if (lane == 0u && live) store_y((c0 + c) * OUT_STRIDE + OUT_COL0 + row, total);
    }
#else
    for (uint c = 0u; c < NC; c++) lanes[c][t] = acc[c];
    barrier();
    if (lane == 0u && live) {
        for (uint c = 0u; c < nc; c++) {
#if defined(DATA_Q4_K) || defined(DATA_Q6_K)
            precise float s0 = lanes[c][t] + lanes[c][t + 4u];
            precise float s1 = lanes[c][t + 1u] + lanes[c][t + 5u];
            precise float s2 = lanes[c][t + 2u] + lanes[c][t + 6u];
            precise float s3 = lanes[c][t + 3u] + lanes[c][t + 7u];
            precise float total = ((s0 + s2) + (s1 + s3)) - extra[c];
#else
            precise float total = extra[c];
            for (uint l = 0u; l < 8u; l++) total += lanes[c][t + l];
#endif
            store_y((c0 + c) * OUT_STRIDE + OUT_COL0 + row, total);
        }
    }
#endif
}
