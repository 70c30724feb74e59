#version 450
// y[c, row] = W[row] · x[c] for many activation rows (prefill) in fast numerics: a tiled
// matrix product in shared memory with register blocking, as GPUs want it (llama.cpp-Vulkan's
// mul_mm without cooperative matrices). Each workgroup computes a BM × BN tile of outputs
// (BM weight rows × BN activation rows); per step of BK = 16 columns it dequantizes its BM × 16
// weights (deq4, any block type) and reads its BN × 16 activations into shared memory once,
// then each of its 16 × 16 invocations accumulates a TILE × TILE block of outputs with f32 fma:
// rows tx + 16 i and activation rows ty + 16 j (i, j < TILE), so that a half-subgroup reads 16
// consecutive shared floats and stores 16 consecutive outputs.
// TILE = 4 (BM = BN = 64) by default; 8 (128 × 128) in the _l builds, for large products.
// Activations: floats (binding 1), or with INT_IN the integer values of the rounded
// activations (quantize_act.comp's INT_OUT: Q8_0, Q8_1 blocks of 32, Q8_K of 256) times their
// block's scale (binding 3), so the product is the integer kernels' up to f32 rounding.
// p0 = K (a multiple of 16), p2 = rows in the chunk, p3 = first output column of the chunk,
// p4 = output row stride, p5 = bytes per weight row, p6 = activation rows, p7 = 1 to add the
// products to y (store_y.glsl). p1 is unused (the whole chunk is one dispatch).
#include "common.glsl"
#include "dequant.glsl"

#if !defined(TILE)
#define TILE 4u
#endif
#define BM (16u * TILE)
#define BN (16u * TILE)
#define BK 16u
// A row of 4 floats pad, so that the transposed stores of four k's of one row hit other banks.
#define PAD 4u

layout(local_size_x = 256) in;
layout(std430, binding = 1) readonly buffer X { vec4 x[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
#include "store_y.glsl"
#if defined(INT_IN)
#if defined(ACT_Q8_K)
#define ACT_BLOCK 256u
#else
#define ACT_BLOCK 32u
#endif
layout(std430, binding = 3) readonly buffer D { float xd[]; };
#endif

// Weights and activations of the current 16 columns, k-major: ws[k][row], xs[k][activation row].
shared float ws[BK][BM + PAD];
shared float xs[BK][BN + PAD];

void main() {
    uint t = gl_LocalInvocationID.x, tx = t % 16u, ty = t / 16u;
    uint row0 = gl_WorkGroupID.x * BM, col0 = gl_WorkGroupID.y * BN;
    uint rows = pc.p2, n = pc.p6, kq = pc.p0 / 4u;
    float acc[TILE][TILE];
    for (uint i = 0u; i < TILE; i++) {
        for (uint j = 0u; j < TILE; j++) acc[i][j] = 0.0;
    }
    for (uint k0 = 0u; k0 < pc.p0; k0 += BK) {
        // BM × 4 weight quads and BN × 4 activation quads, TILE / 4 … TILE of each per
        // invocation; rows and activation rows past the end read the last one (stored nowhere).
        for (uint q = t; q < BM * 4u; q += 256u) {
            uint r = q / 4u, kk = (q % 4u) * 4u;
            uint wrow = min(row0 + r, rows - 1u);
            vec4 v = deq4(wrow * pc.p5, k0 + kk);
            ws[kk][r] = v.x;
            ws[kk + 1u][r] = v.y;
            ws[kk + 2u][r] = v.z;
            ws[kk + 3u][r] = v.w;
        }
        for (uint q = t; q < BN * 4u; q += 256u) {
            uint c = q / 4u, kk = (q % 4u) * 4u;
            uint xrow = min(col0 + c, n - 1u);
            vec4 v = x[xrow * kq + (k0 + kk) / 4u];
#if defined(INT_IN)
            v *= xd[(xrow * pc.p0 + k0 + kk) / ACT_BLOCK];
#endif
            xs[kk][c] = v.x;
            xs[kk + 1u][c] = v.y;
            xs[kk + 2u][c] = v.z;
            xs[kk + 3u][c] = v.w;
        }
        barrier();
        for (uint kk = 0u; kk < BK; kk++) {
            float a[TILE], b[TILE];
            for (uint i = 0u; i < TILE; i++) a[i] = ws[kk][tx + 16u * i];
            for (uint j = 0u; j < TILE; j++) b[j] = xs[kk][ty + 16u * j];
            for (uint i = 0u; i < TILE; i++) {
                for (uint j = 0u; j < TILE; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
            }
        }
        barrier();
    }
    for (uint j = 0u; j < TILE; j++) {
        uint c = col0 + ty + 16u * j;
        if (c >= n) break;
        for (uint i = 0u; i < TILE; i++) {
            uint r = row0 + tx + 16u * i;
            if (r < rows) store_y(c * pc.p4 + pc.p3 + r, acc[i][j]);
        }
    }
}
