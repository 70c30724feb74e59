// llama.cpp's activation rounding of one block (quantize_act.comp has the details), for
// quantize_act.comp and the fused rms_norm_quant.comp: the block's input values are QIN(i)
// (global element index i), its outputs go to o, sums and scales as quantize_act.comp says.
#if defined(ACT_Q8_K)
#define BLOCK 256u
#else
#define BLOCK 32u
#endif

void quantize_block(uint blk) {
    uint base = blk * BLOCK;
#if defined(ACT_F16)
    for (uint i = 0u; i < BLOCK; i++) o[base + i] = to_f16(QIN(base + i));
#elif defined(ACT_BF16)
    for (uint i = 0u; i < BLOCK; i++) {
        uint u = floatBitsToUint(QIN(base + i));
        u = (u & 0x7fffffffu) > 0x7f800000u ? (u | 0x400000u) : u + 0x7fffu + ((u >> 16) & 1u);
        o[base + i] = uintBitsToFloat(u & 0xffff0000u);
    }
#elif defined(ACT_Q8_K)
    float amax = 0.0, mx = 0.0;
    for (uint i = 0u; i < BLOCK; i++) {
        float v = QIN(base + i);
        if (abs(v) > amax) {
            amax = abs(v);
            mx = v;
        }
    }
    float iscale = amax == 0.0 ? 0.0 : div_rn(-127.0, mx);
    float d = amax == 0.0 ? 0.0 : div_rn(1.0, iscale);
    int bsum = 0;
    for (uint i = 0u; i < BLOCK; i++) {
        precise float s = iscale * QIN(base + i);
        float q = min(roundEven(s), 127.0);
#if defined(INT_OUT)
        o[base + i] = q;
        bsum += int(q);
        if (i % 16u == 15u) {
            sums[blk * 16u + i / 16u] = float(bsum);
            bsum = 0;
        }
#else
        precise float v = d * q;
        o[base + i] = v;
#endif
    }
#if defined(INT_OUT)
    scales[blk] = d;
#endif
#else
    float amax = 0.0;
    for (uint i = 0u; i < BLOCK; i++) amax = max(amax, abs(QIN(base + i)));
    float id = amax != 0.0 ? div_rn(127.0, amax) : 0.0;
    float d = div_rn(amax, 127.0);
    float dh = to_f16(d);
    float sum = 0.0;
    for (uint i = 0u; i < BLOCK; i++) {
        precise float s = QIN(base + i) * id;
        float q = roundEven(s);
        sum += q;
#if defined(INT_OUT)
        o[base + i] = q;
#else
        precise float v = dh * q;
        o[base + i] = v;
#endif
    }
#if defined(INT_OUT)
    scales[blk] = dh;
#endif
#if defined(ACT_Q8_1)
    precise float st = sum * d;
    sums[blk] = to_f16(st);
#endif
#endif
}
