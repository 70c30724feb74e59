// Integer views of the 256-element block types (needs dequant.glsl's readers and DATA_*), as
// the CPU's dot kernels (crates/quant/src/dot) see them. kval(b, e) is element e of the block
// at byte b times the sub-block scale wherever the CPU applies that scale in integers (every
// type but IQ4_XS, whose scales enter the float sum). kelem(lane, i) is the i-th of the 32
// elements that feed integer lane `lane` (0..7) of the CPU kernel: all lane integers are exact,
// so only which elements meet in which lane matters, not their order.

#if defined(DATA_Q2_K)
int kval(uint b, uint e) {
    uint n = e / 128u, j = (e % 128u) / 32u, l = e % 32u;
    uint q = (byte_at(b + 16u + 32u * n + l) >> (2u * j)) & 3u;
    return int(byte_at(b + e / 16u) & 15u) * int(q);
}
// The 4-bit min of sub-block j.
int kmin(uint b, uint j) { return int(byte_at(b + j) >> 4); }
#elif defined(DATA_Q3_K)
int kval(uint b, uint e) {
    uint n = e / 128u, j = (e % 128u) / 32u, l = e % 32u, is = e / 16u;
    int q = int((byte_at(b + 32u + 32u * n + l) >> (2u * j)) & 3u);
    if (((byte_at(b + l) >> (4u * n + j)) & 1u) == 0u) q -= 4;
    uint lo = (byte_at(b + 96u + is % 8u) >> (4u * (is / 8u))) & 0xFu;
    uint hi = (byte_at(b + 104u + is % 4u) >> (2u * (is / 4u))) & 3u;
    return (int(lo | (hi << 4)) - 32) * q;
}
#elif defined(DATA_Q4_K) || defined(DATA_Q5_K)
int kval(uint b, uint e) {
    uint c = e / 64u, s = e / 32u, l = e % 32u;
    uint q = (byte_at(b + QS_AT + 32u * c + l) >> (4u * (s % 2u))) & 0xFu;
#if defined(DATA_Q5_K)
    q += ((byte_at(b + 16u + l) >> s) & 1u) * 16u;
#endif
    return int(scale_min(b, s).x) * int(q);
}
// The 6-bit min of sub-block s (32 elements).
int kmin(uint b, uint s) { return int(scale_min(b, s).y); }
#elif defined(DATA_Q6_K)
int kval(uint b, uint e) {
    uint n = e / 128u, quarter = (e % 128u) / 32u, l = e % 32u;
    uint lo = (byte_at(b + 64u * n + l + 32u * (quarter & 1u)) >> (4u * (quarter / 2u))) & 0xFu;
    uint hi = (byte_at(b + 128u + 32u * n + l) >> (2u * quarter)) & 3u;
    int sc = int(byte_at(b + 192u + e / 16u) << 24) >> 24;
    return sc * (int(lo | (hi << 4)) - 32);
}
#elif defined(DATA_IQ4_XS)
const int IQ4NL_INT[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
int kval(uint b, uint e) {
    uint ib = e / 32u, j = e % 32u;
    return IQ4NL_INT[(byte_at(b + 8u + 16u * ib + (j & 15u)) >> (4u * (j >> 4))) & 0xFu];
}
// The 6-bit scale of sub-block ib, offset removed.
int kscale(uint b, uint ib) {
    uint lo = (byte_at(b + 4u + ib / 2u) >> (4u * (ib % 2u))) & 0xFu;
    uint hi = (word_at(b + 2u) >> (2u * ib)) & 3u;
    return int(lo | (hi << 4)) - 32;
}
#endif

#if defined(DATA_Q4_K) || defined(DATA_Q6_K)
// AVX2 (maddubs + madd): lane k sums bytes 4k..4k+3 of each 32-element step.
uint kelem(uint lane, uint i) { return 32u * (i / 4u) + 4u * lane + i % 4u; }
#elif defined(DATA_Q3_K) || defined(DATA_Q5_K)
// ggml's generic kernels: element l of each 16 goes to lane l mod 8.
uint kelem(uint lane, uint i) { return 16u * (i / 2u) + lane + 8u * (i % 2u); }
#else
// One sequential float sum: lane k just takes the 32 elements of sub-block k.
uint kelem(uint lane, uint i) { return 32u * lane + i; }
#endif
