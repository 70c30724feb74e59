// The sum of the squares of x[base, base + n) for rms_norm.comp and rms_norm_quant.comp, which
// every invocation of the 64 calls and invocation 0 uses. With f64 (exact numerics): ggml's
// order, the squares added one after another in f64 by invocation 0. Without (fast numerics):
// each invocation adds a strided share in f32, then a tree over shared memory adds the shares,
// as llama.cpp's Vulkan rms_norm does: one invocation walking a 2048–4096 wide row waited on
// memory once per element, every norm of every token.
#if !defined(HAVE_F64)
shared float sumsq_part[64];
#endif

WIDE row_sumsq(uint base, uint n, uint t) {
    WIDE sum = WIDE(0.0);
#if defined(HAVE_F64)
    if (t == 0u) {
        for (uint i = 0u; i < n; i++) {
            precise float sq = x[base + i] * x[base + i];
            sum += WIDE(sq);
        }
    }
#else
    for (uint i = t; i < n; i += 64u) {
        precise float sq = x[base + i] * x[base + i];
        sum += sq;
    }
    sumsq_part[t] = sum;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (t < s) sumsq_part[t] += sumsq_part[t + s];
        barrier();
    }
    sum = sumsq_part[0];
#endif
    return sum;
}
