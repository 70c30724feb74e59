// The matmul shaders' stores. p7 = 0: y[i] = v; p7 = 1: y[i] += v (the residual add of a
// projection, in the matmul's epilogue: the same f32 sum as a separate add of the stored
// product, so the exact builds keep the CPU's bits). Included after the Y buffer.
void store_y(uint i, float v) {
    if (pc.p7 != 0u) {
        precise float s = y[i] + v;
        y[i] = s;
    } else {
        y[i] = v;
    }
}
