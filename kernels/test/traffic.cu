// test/traffic.cu: known global-access patterns for the emulated device's traffic counters
// (kernels/emulator/traffic.cpp), for the tests only: build.rs keeps kernels/test/ out of the
// production PTX.
//
// w2v_test_traffic(x, pattern, reps)
//   x: floats, at least 32·64 of them, 16-byte aligned. Each thread repeats `reps` times one access
//   of `pattern` through common.cuh's helpers: 0 coalesced load x[lane]; 1 strided load
//   x[32·lane] (one sector a lane); 2 the same address x[0]; 3 coalesced atomic add x[lane];
//   4 row-scattered atomic add x[64·lane]; 5 coalesced load by lanes 0..15 only (the others
//   predicated off); 6 coalesced 16-byte load of x[4·lane..4·lane + 4). A warp's loop iteration is one
//   warp instruction: per warp and repetition 4, 32, 1, 4, 32, 2 and 16 sectors.
//   Geometry: any; meant for one block of whole warps. Races: the atomics add 0, so x is unchanged.
#include "common.cuh"

extern "C" __global__ void w2v_test_traffic(float* x, unsigned pattern, unsigned reps) {
    const unsigned lane = threadIdx.x % W2V_WARP;
    float sink = 0.0f;
    for (unsigned r = 0; r < reps; ++r) {
        switch (pattern) {
        case 0: sink += w2v_gld(&x[lane]); break;
        case 1: sink += w2v_gld(&x[32u * lane]); break;
        case 2: sink += w2v_gld(&x[0]); break;
        case 3: w2v_gred(&x[lane], 0.0f); break;
        case 4: w2v_gred(&x[64u * lane], 0.0f); break;
        case 5: sink += w2v_gld_if(lane < 16u, &x[lane], 0.0f); break;
        case 6: {
            const W2vF4 v = w2v_gld4_if(true, x + 4u * lane);
            sink += v.x + v.y + v.z + v.w;
            break;
        }
        default: break;
        }
    }
    // Keeps the loads alive under nvcc; never true for the tests' finite inputs.
    if (sink != sink) {
        x[0] = sink;
    }
}
