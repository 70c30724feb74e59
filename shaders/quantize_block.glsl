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

#if defined(ACT_Q8_K) && defined(QUANT_WG)
// quantize_block for one Q8_K block by a whole workgroup of 64 invocations (every one calls it,
// in uniform control flow), each taking 4 consecutive values: the largest magnitude (the
// first on ties, as the serial scan keeps it) and the 16-value sums come from trees over
// shared memory, every value is rounded as the serial loop rounds it, so the bits are
// quantize_block's; one invocation walking 256 values (twice) waited on memory at each.
shared float qwg_abs[64];
shared float qwg_val[64];
shared uint qwg_idx[64];
shared int qwg_sum[64];

void quantize_block_wg(uint blk, uint t) {
    uint base = blk * BLOCK, first = 4u * t;
    float v[4];
    float a = 0.0, mv = 0.0;
    uint ai = 0xffffffffu;
    for (uint j = 0u; j < 4u; j++) {
        v[j] = QIN(base + first + j);
        if (abs(v[j]) > a) {
            a = abs(v[j]);
            mv = v[j];
            ai = first + j;
        }
    }
    qwg_abs[t] = a;
    qwg_val[t] = mv;
    qwg_idx[t] = ai;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (t < s) {
            float b = qwg_abs[t + s];
            uint bi = qwg_idx[t + s];
            if (b > qwg_abs[t] || (b == qwg_abs[t] && bi < qwg_idx[t])) {
                qwg_abs[t] = b;
                qwg_val[t] = qwg_val[t + s];
                qwg_idx[t] = bi;
            }
        }
        barrier();
    }
    float amax = qwg_abs[0], mx = qwg_val[0];
    float iscale = amax == 0.0 ? 0.0 : div_rn(-127.0, mx);
    float d = amax == 0.0 ? 0.0 : div_rn(1.0, iscale);
    int part = 0;
    for (uint j = 0u; j < 4u; j++) {
        precise float s = iscale * v[j];
        float q = min(roundEven(s), 127.0);
#if defined(INT_OUT)
        o[base + first + j] = q;
        part += int(q);
#else
        precise float w = d * q;
        o[base + first + j] = w;
#endif
    }
#if defined(INT_OUT)
    qwg_sum[t] = part;
    barrier();
    if (t % 4u == 0u) {
        sums[blk * 16u + t / 4u] = float(qwg_sum[t] + qwg_sum[t + 1u] + qwg_sum[t + 2u] + qwg_sum[t + 3u]);
    }
    if (t == 0u) scales[blk] = d;
#endif
    barrier();
}
#endif
