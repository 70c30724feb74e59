// The matmul shaders' stores. p7 = 0: y[i] = v; p7 = 1: y[i] += v (the residual add of a
// projection, in the matmul's epilogue: the same f32 sum as a separate add of the stored
// product, so the exact builds keep the CPU's bits). Included after the Y buffer.
// MULTI builds (matmul_rows.glsl): workgroup z stores to Y (binding 2), Y1 (7) or Y2 (8).
#if defined(MULTI)
layout(std430, binding = 7) buffer Y1 { float y1[]; };
layout(std430, binding = 8) buffer Y2 { float y2[]; };
void store_y(uint i, float v) {
    uint z = gl_WorkGroupID.z;
    if (pc.p7 != 0u) {
        precise float s = (z == 0u ? y[i] : (z == 1u ? y1[i] : y2[i])) + v;
        v = s;
    }
    if (z == 0u) {
        y[i] = v;
    } else if (z == 1u) {
        y1[i] = v;
    } else {
        y2[i] = v;
    }
}
#else
void store_y(uint i, float v) {
    if (pc.p7 != 0u) {
        precise float s = y[i] + v;
        y[i] = s;
    } else {
        y[i] = v;
    }
}
#endif
