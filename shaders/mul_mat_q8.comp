#version 450
// y[c, row] = W[row] · x[c] for the 32-element block types against integer Q8_0/Q8_1
// activations, in the CPU's float order (crates/quant/src/dot/scalar/legacy.rs). Each row's
// eight lanes take four elements of every block and form their exact integer products, then
//   Q4_0 (BLOCK_ORDER, the block order of llama.cpp's repacked Q4_0 kernels): the eight lanes'
//     integers are summed exactly into the block's sumi, acc = fma_rn(dw·dx, sumi, acc) in block
//     order, and the result is acc plus the (zero) min terms, with no lane reduction.
//     The sums reach lane c of the row for activation row c by subgroup xor-shuffles
//     (SUBGROUP_SHUFFLE builds: a reduce-scatter, or for one activation row a plain reduction)
//     or through shared memory (one barrier per block), and lane c keeps that activation row's
//     acc);
//   Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL (llama.cpp's x86 order): acc = fma_rn(dw·dx, lane, acc) per lane in
//     block order, the lanes then reduced as `hsum_ps` does, plus (Q4_1, Q5_1) the min terms fused in
//     block order.
// Workgroup: 8 weight rows × 8 lanes, up to NC activation rows (each weight block decoded once
// for all of them).
// p0 = K, p1 = first weight row of this dispatch (within the chunk), p2 = rows in the chunk,
// p3 = first output column of the chunk, p4 = output row stride (matmul_rows.glsl has the
// MULTI builds' p1…p4), p5 = bytes per weight row,
// p6 = activation rows, p7 = 1 to add the products to y (store_y.glsl).
#include "common.glsl"
#include "dequant.glsl"
#include "matmul_rows.glsl"
#include "blocks_int.glsl"
#include "exact.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 1) readonly buffer X { vec4 x[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
#include "store_y.glsl"
layout(std430, binding = 3) readonly buffer S { float sums[]; };
layout(std430, binding = 4) readonly buffer D { float xd[]; };

#define NC 8u
#if defined(DATA_Q4_0)
#define BLOCK_ORDER
#endif

#if defined(BLOCK_ORDER)
#if defined(SUBGROUP_SHUFFLE)
#extension GL_KHR_shader_subgroup_shuffle : require
#else
// Each lane's products for every activation row; two copies, alternating by block, so that one
// barrier per block suffices (a lane writes one copy only after every lane passed the barrier
// that follows its reads of that copy).
shared int parts[2][NC][64];
#endif

void main() {
    SKIP_IDLE_GROUP();
    uint t = gl_LocalInvocationID.x, lane = t % 8u, r = t / 8u;
    uint row = gl_WorkGroupID.x * 8u + r + FIRST_ROW, c0 = gl_WorkGroupID.y * NC;
    uint nb = pc.p0 / 32u, nc = min(NC, pc.p6 - c0);
    // Rows past the chunk compute on its last row, so that every invocation runs the block loop
    // (shuffles and barriers in uniform control flow), and store nothing.
    uint rb = min(row, CHUNK_ROWS - 1u) * pc.p5;
    // Lane `lane` accumulates activation row c0 + lane.
    uint col = c0 + lane;
    float acc = 0.0, extra = 0.0;
    for (uint blk = 0u; blk < nb; blk++) {
        uint b = rb + blk * BLOCK_BYTES;
        float dw = f16_at(b);
        ivec4 w4 = qint4(b, 4u * lane);
        int p[NC];
        for (uint c = 0u; c < NC; c++) {
            p[c] = 0;
            if (c < nc) {
                ivec4 x4 = ivec4(x[((c0 + c) * pc.p0 + blk * 32u) / 4u + lane]);
                p[c] = w4.x * x4.x + w4.y * x4.y + w4.z * x4.z + w4.w * x4.w;
            }
        }
#if defined(SUBGROUP_SHUFFLE)
        // The row's lanes are subgroup invocations (id & ~7) + 0 … 7 (see reduce8.glsl); nc is
        // the same for the whole workgroup, so both branches are uniform control flow.
        int sumi;
        if (nc == 1u) {
            // One activation row (decode): xor-shuffles by 4, 2 and 1 sum it in every lane.
            sumi = p[0];
            sumi += subgroupShuffleXor(sumi, 4u);
            sumi += subgroupShuffleXor(sumi, 2u);
            sumi += subgroupShuffleXor(sumi, 1u);
        } else {
            // Reduce-scatter: each xor-shuffle stage halves the activation rows a lane holds
            // and adds the partner lane's, so lane l ends with the sum for activation row l.
            bool h4 = (lane & 4u) != 0u, h2 = (lane & 2u) != 0u, h1 = (lane & 1u) != 0u;
            int q4[4];
            for (uint i = 0u; i < 4u; i++) {
                int keep = h4 ? p[i + 4u] : p[i], send = h4 ? p[i] : p[i + 4u];
                q4[i] = keep + subgroupShuffleXor(send, 4u);
            }
            int q2[2];
            for (uint i = 0u; i < 2u; i++) {
                int keep = h2 ? q4[i + 2u] : q4[i], send = h2 ? q4[i] : q4[i + 2u];
                q2[i] = keep + subgroupShuffleXor(send, 2u);
            }
            int keep = h1 ? q2[1] : q2[0], send = h1 ? q2[0] : q2[1];
            sumi = keep + subgroupShuffleXor(send, 1u);
        }
#else
        uint buf = blk & 1u;
        for (uint c = 0u; c < NC; c++) parts[buf][c][t] = p[c];
        barrier();
        int sumi = 0;
        for (uint l = 0u; l < 8u; l++) sumi += parts[buf][lane][r * 8u + l];
#endif
        if (lane < nc) {
            precise float d = dw * xd[col * nb + blk];
            acc = fma_rn(d, float(sumi), acc);
#if defined(HAS_MIN)
            float mw = f16_at(b + 2u);
            extra = fma_rn(mw, sums[col * nb + blk], extra);
#endif
        }
    }
    precise float total = acc + extra;
    if (lane < nc && row < CHUNK_ROWS) store_y(col * OUT_STRIDE + OUT_COL0 + row, total);
}
#else
#if defined(SUBGROUP_SHUFFLE)
#include "reduce8.glsl"
#else
shared float lanes[NC][64];
#endif

void main() {
    SKIP_IDLE_GROUP();
    uint t = gl_LocalInvocationID.x, lane = t % 8u, r = t / 8u;
    uint row = gl_WorkGroupID.x * 8u + r + FIRST_ROW, c0 = gl_WorkGroupID.y * NC;
    uint nb = pc.p0 / 32u, nc = min(NC, pc.p6 - c0);
    float acc[NC], extra[NC];
    for (uint c = 0u; c < NC; c++) {
        acc[c] = 0.0;
        extra[c] = 0.0;
    }
    if (row < CHUNK_ROWS) {
        uint rb = row * pc.p5;
        for (uint blk = 0u; blk < nb; blk++) {
            uint b = rb + blk * BLOCK_BYTES;
            float dw = f16_at(b);
            ivec4 w4 = qint4(b, 4u * lane);
#if defined(HAS_MIN)
            float mw = f16_at(b + 2u);
#endif
            for (uint c = 0u; c < NC; c++) {
                if (c >= nc) break;
                uint col = c0 + c;
                precise float d = dw * xd[col * nb + blk];
                ivec4 x4 = ivec4(x[(col * pc.p0 + blk * 32u) / 4u + lane]);
                int p = w4.x * x4.x + w4.y * x4.y + w4.z * x4.z + w4.w * x4.w;
                acc[c] = fma_rn(d, float(p), acc[c]);
#if defined(HAS_MIN)
                extra[c] = fma_rn(mw, sums[col * nb + blk], extra[c]);
#endif
            }
        }
    }
#if defined(SUBGROUP_SHUFFLE)
    for (uint c = 0u; c < nc; c++) {
        float lanes_sum = hsum8(acc[c]);
        precise float total = lanes_sum + extra[c];
        if (lane == 0u && row < CHUNK_ROWS) store_y((c0 + c) * OUT_STRIDE + OUT_COL0 + row, total);
    }
#else
    for (uint c = 0u; c < NC; c++) lanes[c][t] = acc[c];
    barrier();
    if (lane == 0u && row < CHUNK_ROWS) {
        uint o = r * 8u;
        for (uint c = 0u; c < nc; c++) {
            precise float s0 = lanes[c][o] + lanes[c][o + 4u];
            precise float s1 = lanes[c][o + 1u] + lanes[c][o + 5u];
            precise float s2 = lanes[c][o + 2u] + lanes[c][o + 6u];
            precise float s3 = lanes[c][o + 3u] + lanes[c][o + 7u];
            precise float total = ((s0 + s2) + (s1 + s3)) + extra[c];
            store_y((c0 + c) * OUT_STRIDE + OUT_COL0 + row, total);
        }
    }
#endif
}
#endif
