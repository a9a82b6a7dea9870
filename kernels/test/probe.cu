// test/probe.cu: the float-atomics probe (scripts/gpu-check.sh via benches/atomics_probe.rs), for
// the tests and the probe only: build.rs keeps kernels/test/ out of the production PTX.
//
// w2v_test_atomic_probe(x, n, pattern, reps)
//   x: [n] floats, n a multiple of 128 and at least 128. Every thread adds 1.0 to each of its
//   elements `reps` times, through common.cuh's helpers, so afterwards sum(x) = threads · reps · w
//   (w = 1 scalar, 4 vector). Warp g (global), lane l, repetition r:
//   0 coalesced scalar:     x[(32·g + l) mod n]                 (a warp covers 128 contiguous bytes)
//   1 row-scattered scalar: x[32·h(g, l, r) mod n]              (every lane its own 128-byte row)
//   2 same-address scalar:  x[0]
//   3 coalesced vector:     x[4·((32·g + l) mod n/4) .. + 4)   (512 contiguous bytes a warp)
//   4 row-scattered vector: x[32·h(g, l, r) mod n .. + 4)
//   5 same-address vector:  x[0 .. 4)
//   h is a multiplicative hash. Vector adds are one `red.global.add.v4.f32` where the compilation
//   has them (sm_90), four scalar ones elsewhere. Geometry: any 1-D grid of whole warps.
//   Races: by design (that is what is measured); atomics lose nothing, so the sum is exact while
//   it stays below 2^24 per element.
#include "common.cuh"

__device__ __forceinline__ unsigned w2v_probe_hash(unsigned g, unsigned l, unsigned r) {
    unsigned h = g * 0x9E3779B1u ^ l * 0x85EBCA77u ^ r * 0xC2B2AE3Du;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    return h;
}

extern "C" __global__ void w2v_test_atomic_probe(float* x, unsigned n, unsigned pattern, unsigned reps) {
    const unsigned lane = threadIdx.x % W2V_WARP;
    const unsigned g = (blockIdx.x * blockDim.x + threadIdx.x) / W2V_WARP;
    const unsigned rows = n / 32u;
    const W2vF4 one{1.0f, 1.0f, 1.0f, 1.0f};
    for (unsigned r = 0; r < reps; ++r) {
        switch (pattern) {
        case 0: w2v_gred(&x[(32u * g + lane) % n], 1.0f); break;
        case 1: w2v_gred(&x[32u * (w2v_probe_hash(g, lane, r) % rows)], 1.0f); break;
        case 2: w2v_gred(&x[0], 1.0f); break;
        case 3: w2v_gred4_if(true, &x[4u * ((32u * g + lane) % (n / 4u))], one); break;
        case 4: w2v_gred4_if(true, &x[32u * (w2v_probe_hash(g, lane, r) % rows)], one); break;
        case 5: w2v_gred4_if(true, &x[0], one); break;
        default: break;
        }
    }
}
