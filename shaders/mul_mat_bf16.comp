#version 450
// y[c, row] = W[row] · x[c] for BF16 weights and BF16-rounded activations, in the CPU's (and
// llama.cpp's x86) two orders); bf16 products are exact in f32, so only the sums' order
// matters. BATCH (several activation rows, tinyBLAS): lane l sums products l, l+16, …, the
// lanes are tree-reduced, a tail is added in f64. Otherwise (one row, ggml_vec_dot_bf16): two
// 16-lane accumulators over 32-element steps, each reduced, added in f64 with the tail.
// One invocation per output. p0 = K, p1 = first weight row of this dispatch (within the
// chunk), p2 = rows in the chunk, p3 = first output column of the chunk, p4 = output row
// stride, p5 = bytes per weight row, p7 = 1 to add the products to y (store_y.glsl).
#include "common.glsl"
#define DATA_BF16
#include "dequant.glsl"
#include "exact.glsl"

layout(local_size_x = 64) in;
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
#include "store_y.glsl"

void main() {
    uint row = gl_WorkGroupID.x * 64u + gl_LocalInvocationID.x + pc.p1, col = gl_WorkGroupID.y;
    if (row >= pc.p2) return;
    uint k = pc.p0, rb = row * pc.p5, xb = col * k;
#define PRODUCT(i) (uintBitsToFloat(word_at(rb + 2u * (i)) << 16) * x[xb + (i)])
#if defined(BATCH)
    float acc[16];
    for (uint l = 0u; l < 16u; l++) acc[l] = 0.0;
    uint main_end = k - k % 16u;
    for (uint base = 0u; base < main_end; base += 16u) {
        for (uint l = 0u; l < 16u; l++) acc[l] += PRODUCT(base + l);
    }
    WIDE tail = WIDE(0.0);
    for (uint i = main_end; i < k; i++) tail += WIDE(PRODUCT(i));
    store_y(col * pc.p4 + pc.p3 + row, float(WIDE(reduce16(acc)) + tail));
#else
    float c1[16], c2[16];
    for (uint l = 0u; l < 16u; l++) {
        c1[l] = 0.0;
        c2[l] = 0.0;
    }
    uint main_end = k - k % 32u;
    for (uint base = 0u; base < main_end; base += 32u) {
        for (uint l = 0u; l < 16u; l++) {
            c1[l] += PRODUCT(base + l);
            c2[l] += PRODUCT(base + 16u + l);
        }
    }
    WIDE sum = WIDE(reduce16(c1)) + WIDE(reduce16(c2));
    for (uint i = main_end; i < k; i++) sum += WIDE(PRODUCT(i));
    store_y(col * pc.p4 + pc.p3 + row, float(sum));
#endif
}
