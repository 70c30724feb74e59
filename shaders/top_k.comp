#version 450
// Top-k selection for sampling on the device: for each row of x (a workgroup each), the k (p1,
// 1 ≤ k ≤ 256, at most p0) largest of its p0 values as (id, value) pairs, highest first, the lower id first on ties, in f32's total order
// (NaNs included): crates/backend/src/math.rs's keep_top, so the host samples from exactly the
// candidates it would have selected from the whole row. A row's workgroup of 256 invocations:
// 1. a radix select over the values' order-preserving 32-bit keys, four 8-bit digits from the
//    most significant: each pass counts the digits of the keys still tied with the k-th (eight
//    histogram copies, one per 32 invocations, against shared-memory atomic contention) and
//    fixes one more digit of the k-th key T;
// 2. every key above T and the first keys equal to T (by id: an ordered scan only when more
//    keys equal T than are taken, i.e. a tie at the k-th place) are gathered;
// 3. a bitonic sort of the gathered 256 (padded) in shared memory.
// o: 2k words per row, the ids then the values' bits.
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Out { uint o[]; };

#define COPIES 8u
shared uint hist[COPIES * 256u];
shared uint sel_key[256];
shared uint sel_id[256];
shared uint scan[256];
shared uint prefix_s, need_s, equal_s, taken_s, base_s;

// f32's total order (Rust's total_cmp) as an unsigned order: negatives' bits flipped,
// non-negatives' sign bit set.
uint key_of(float v) {
    uint u = floatBitsToUint(v);
    return (u & 0x80000000u) != 0u ? ~u : (u | 0x80000000u);
}

void main() {
    uint t = gl_LocalInvocationID.x, n = pc.p0, k = min(pc.p1, n);
    uint base = gl_WorkGroupID.x * n, out_base = gl_WorkGroupID.x * 2u * k;
    uint copy = (t / 32u) * 256u;
    if (t == 0u) {
        prefix_s = 0u;
        need_s = k;
    }
    uint mask = 0u;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (uint c = 0u; c < COPIES; c++) hist[c * 256u + t] = 0u;
        barrier();
        uint prefix = prefix_s;
        for (uint i = t; i < n; i += 256u) {
            uint kk = key_of(x[base + i]);
            if ((kk & mask) == prefix) atomicAdd(hist[copy + ((kk >> uint(shift)) & 255u)], 1u);
        }
        barrier();
        uint total = 0u;
        for (uint c = 0u; c < COPIES; c++) total += hist[c * 256u + t];
        barrier();
        hist[t] = total;
        barrier();
        if (t == 0u) {
            // The digit at which the count from the top reaches the keys still needed: the
            // keys above it are all taken.
            uint need = need_s, above = 0u, digit = 0u;
            for (int d = 255; d >= 0; d--) {
                if (above + hist[d] >= need) {
                    digit = uint(d);
                    break;
                }
                above += hist[d];
            }
            need_s = need - above;
            equal_s = hist[digit];
            prefix_s = prefix | (digit << uint(shift));
        }
        barrier();
        mask |= 255u << uint(shift);
    }
    // Keys above T: k - need of them, all taken; keys equal to T: equal_s, need taken.
    uint T = prefix_s, need = need_s, above = k - need;
    bool every_equal = equal_s == need;
    if (t == 0u) {
        taken_s = 0u;
        base_s = 0u;
    }
    barrier();
    for (uint c0 = 0u; c0 < n; c0 += 256u) {
        uint i = c0 + t;
        uint kk = i < n ? key_of(x[base + i]) : 0u;
        bool gt = i < n && kk > T;
        bool eq = i < n && kk == T;
        if (gt || (eq && every_equal)) {
            uint at = atomicAdd(taken_s, 1u);
            sel_key[at] = kk;
            sel_id[at] = i;
        }
        if (!every_equal) {
            // The first `need` equal keys by id: an inclusive scan of the chunk's flags.
            scan[t] = eq ? 1u : 0u;
            barrier();
            for (uint off = 1u; off < 256u; off <<= 1) {
                uint v = t >= off ? scan[t - off] : 0u;
                barrier();
                scan[t] += v;
                barrier();
            }
            uint before = base_s + scan[t] - (eq ? 1u : 0u);
            if (eq && before < need) {
                sel_key[above + before] = kk;
                sel_id[above + before] = i;
            }
            barrier();
            if (t == 0u) base_s += scan[255];
        }
        barrier();
    }
    // Padding after the k gathered sorts last: key 0, the largest id.
    if (t >= k) {
        sel_key[t] = 0u;
        sel_id[t] = 0xffffffffu;
    }
    barrier();
    // Bitonic sort, "better" (larger key, then lower id) first.
    for (uint size = 2u; size <= 256u; size <<= 1) {
        for (uint j = size >> 1; j > 0u; j >>= 1) {
            uint p = t ^ j;
            if (p > t) {
                uint ka = sel_key[t], kb = sel_key[p], ia = sel_id[t], ib = sel_id[p];
                bool a_better = ka > kb || (ka == kb && ia < ib);
                bool forward = (t & size) == 0u;
                if (forward != a_better) {
                    sel_key[t] = kb;
                    sel_key[p] = ka;
                    sel_id[t] = ib;
                    sel_id[p] = ia;
                }
            }
            barrier();
        }
    }
    if (t < k) {
        uint id = sel_id[t];
        o[out_base + t] = id;
        o[out_base + k + t] = floatBitsToUint(x[base + id]);
    }
}
