// Integer views of the 32-element block types (needs dequant.glsl's readers and DATA_*): the
// signed weights of elements i..i+3 of the block at byte b, its scale and (Q4_1/Q5_1) its min,
// exactly as llama.cpp's x86 dot kernels see them.
ivec4 sbyte4(uint q) { return ivec4(int(q << 24) >> 24, int(q << 16) >> 24, int(q << 8) >> 24, int(q) >> 24); }
ivec4 nib4(uint b, uint i) { return ivec4(nibbles(bytes4_at(b + (i & 15u)), (i >> 4) * 4u)); }

#if defined(DATA_Q4_0)
#define QS_OFF 2u
ivec4 qint4(uint b, uint i) { return nib4(b + QS_OFF, i) - 8; }
#elif defined(DATA_Q4_1)
ivec4 qint4(uint b, uint i) { return nib4(b + 4u, i); }
#define HAS_MIN
#elif defined(DATA_Q5_0)
ivec4 qint4(uint b, uint i) {
    uint qh = u32_at(b + 2u) >> i;
    ivec4 hi = ivec4(qh & 1u, (qh >> 1) & 1u, (qh >> 2) & 1u, (qh >> 3) & 1u) * 16;
    return nib4(b + 6u, i) + hi - 16;
}
#elif defined(DATA_Q5_1)
ivec4 qint4(uint b, uint i) {
    uint qh = u32_at(b + 4u) >> i;
    ivec4 hi = ivec4(qh & 1u, (qh >> 1) & 1u, (qh >> 2) & 1u, (qh >> 3) & 1u) * 16;
    return nib4(b + 8u, i) + hi;
}
#define HAS_MIN
#elif defined(DATA_Q8_0)
ivec4 qint4(uint b, uint i) { return sbyte4(bytes4_at(b + 2u + i)); }
#elif defined(DATA_IQ4_NL)
const int IQ4NL_INT[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
ivec4 qint4(uint b, uint i) {
    ivec4 n = nib4(b + 2u, i);
    return ivec4(IQ4NL_INT[n.x], IQ4NL_INT[n.y], IQ4NL_INT[n.z], IQ4NL_INT[n.w]);
}
#endif
