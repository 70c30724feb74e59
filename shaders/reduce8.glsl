// Sums of the eight lanes of a row (invocations 8r … 8r+7 of the workgroup), in the CPU's
// orders, without shared memory or a barrier where the device shuffles within subgroups of at
// least eight invocations (SUBGROUP_SHUFFLE builds, the `_sg` shaders; the host picks them from
// the device's subgroup properties). Subgroups hold consecutive invocations, so lane l's value
// sits at subgroup invocation (id & ~7) + l, and xor-shuffles by 4, 2 and 1 pair the lanes as
// `hsum_ps` does: (l0+l4)+(l2+l6) and (l1+l5)+(l3+l7), then those two. Float addition is
// commutative, so every pairing gives the CPU's bits. Every invocation of the workgroup must
// call these (uniform control flow); the row's lane 0 gets the sum.
#extension GL_KHR_shader_subgroup_shuffle : require

float hsum8(float v) {
    precise float a = v + subgroupShuffleXor(v, 4u);
    precise float b = a + subgroupShuffleXor(a, 2u);
    precise float c = b + subgroupShuffleXor(b, 1u);
    return c;
}

// start + l0 + l1 + … + l7, added one by one.
float sum8_in_order(float v, float start) {
    uint base = gl_SubgroupInvocationID & ~7u;
    precise float s = start;
    for (uint l = 0u; l < 8u; l++) {
        float x = subgroupShuffle(v, base + l);
        s += x;
    }
    return s;
}
