#version 450
// mul_mm.comp's tiled product on 8-bit integers, for devices with integer dot products
// (VK_KHR_shader_integer_dot_product; llama.cpp-Vulkan's mul_mmq): per step of 32 columns a
// workgroup packs its BM weight rows' quants and its BN activation rows' rounded integers four
// to a word in shared memory (blocks_dot.glsl: w = scale * q + min per 16-element granule),
// then each invocation forms, for each of its TILE × TILE outputs and each granule, the exact
// integer sum of 16 products in four packed dot products (OpSDot), and adds
//   x_scale · (w_scale · sum + w_min · Σ x)
// to its f32 accumulator (Σ x, the activation granule's integer sum, is formed once per step
// for the types with a min term). Activations: quantize_act.comp's INT_OUT integers (binding 1,
// as floats) and their block scales (binding 3: Q8_0, Q8_1 per 32, Q8_K per 256 with ACT_Q8_K).
// TILE = 4 (64 × 64 outputs) by default, 8 (128 × 128) in the _l builds.
// p0 = K (a multiple of 32), p2 = rows in the chunk, p3 = first output column of the chunk,
// p4 = output row stride, p5 = bytes per weight row, p6 = activation rows, p7 = 1 to add the
// products to y (store_y.glsl). p1 is unused.
#extension GL_EXT_spirv_intrinsics : require
#include "common.glsl"
#include "dequant.glsl"
#include "blocks_dot.glsl"

// OpSDot of two words of four signed 8-bit integers (SPV_KHR_integer_dot_product: capabilities
// DotProduct = 6019 and DotProductInput4x8BitPacked = 6018, packed vector format 4x8Bit = 0).
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot4x8(int a, int b, spirv_literal int packed_format);

#if !defined(TILE)
#define TILE 4u
#endif
#define BM (16u * TILE)
#define BN (16u * TILE)
// Columns per step and packed words per row and step.
#define BK 32u
#define WORDS 8u
#if defined(ACT_Q8_K)
#define ACT_BLOCK 256u
#else
#define ACT_BLOCK 32u
#endif

layout(local_size_x = 256) in;
layout(std430, binding = 1) readonly buffer X { vec4 x[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
#include "store_y.glsl"
layout(std430, binding = 3) readonly buffer D { float xd[]; };

// The step's packed quants, word-major: wq[word][row], xq[word][activation row].
shared int wq[WORDS][BM];
shared int xq[WORDS][BN];
// Each row's (scale, min) of its two granules; each activation row's block scale.
shared vec2 wsm[2][BM];
shared float xs[BN];
#if defined(GMIN)
// Each activation row's integer sum over each granule.
shared int xsum[2][BN];
#endif

void main() {
    uint t = gl_LocalInvocationID.x, tx = t % 16u, ty = t / 16u;
    uint row0 = gl_WorkGroupID.x * BM, col0 = gl_WorkGroupID.y * BN;
    uint rows = pc.p2, n = pc.p6, kq = pc.p0 / 4u;
    float acc[TILE][TILE];
    for (uint i = 0u; i < TILE; i++) {
        for (uint j = 0u; j < TILE; j++) acc[i][j] = 0.0;
    }
    for (uint k0 = 0u; k0 < pc.p0; k0 += BK) {
        // Rows and activation rows past the end read the last one (stored nowhere).
        for (uint q = t; q < BM * WORDS; q += 256u) {
            uint r = q / WORDS, w = q % WORDS;
            uint e = k0 + 4u * w;
            uint b = min(row0 + r, rows - 1u) * pc.p5 + (e / QK) * BLOCK_BYTES, i = e % QK;
            wq[w][r] = pack4x8(gq4(b, i));
            if (w % 4u == 0u) wsm[w / 4u][r] = gsm(b, i / 16u);
        }
        for (uint q = t; q < BN * WORDS; q += 256u) {
            uint c = q / WORDS, w = q % WORDS;
            uint xrow = min(col0 + c, n - 1u);
            xq[w][c] = pack4x8(ivec4(x[xrow * kq + (k0 + 4u * w) / 4u]));
            if (w == 0u) xs[c] = xd[(xrow * pc.p0 + k0) / ACT_BLOCK];
        }
        barrier();
#if defined(GMIN)
        for (uint q = t; q < 2u * BN; q += 256u) {
            uint c = q % BN, g = q / BN;
            int s = 0;
            for (uint w = 4u * g; w < 4u * g + 4u; w++) s = sdot4x8(xq[w][c], 0x01010101, 0) + s;
            xsum[g][c] = s;
        }
        barrier();
#endif
        for (uint g = 0u; g < 2u; g++) {
            int sum[TILE][TILE];
            for (uint i = 0u; i < TILE; i++) {
                for (uint j = 0u; j < TILE; j++) sum[i][j] = 0;
            }
            for (uint w = 4u * g; w < 4u * g + 4u; w++) {
                int a[TILE], b[TILE];
                for (uint i = 0u; i < TILE; i++) a[i] = wq[w][tx + 16u * i];
                for (uint j = 0u; j < TILE; j++) b[j] = xq[w][ty + 16u * j];
                for (uint i = 0u; i < TILE; i++) {
                    for (uint j = 0u; j < TILE; j++) sum[i][j] = sdot4x8(a[i], b[j], 0) + sum[i][j];
                }
            }
            for (uint i = 0u; i < TILE; i++) {
                vec2 sm = wsm[g][tx + 16u * i];
                for (uint j = 0u; j < TILE; j++) {
                    uint c = ty + 16u * j;
                    float v = sm.x * float(sum[i][j]);
#if defined(GMIN)
                    v = fma(sm.y, float(xsum[g][c]), v);
#endif
                    acc[i][j] = fma(xs[c], v, acc[i][j]);
                }
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
