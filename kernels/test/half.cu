// test/half.cu: checks of common.cuh's half (binary16) and bfloat16 helpers, for the tests only: build.rs keeps
// kernels/test/ out of the production PTX (the emulator and the test binaries get it). The fused `_f16`
// steps use exactly these helpers, so the tests compare them with the `half` crate bit for bit.
//
// w2v_test_half_convert(x, h, back, n)
//   x: [n] floats; h: [n] half bits; back: [n] floats. h[i] = f32 → f16 of x[i] (round to nearest
//   even), back[i] = f16 → f32 of h[i]. Geometry: any 1-D grid (grid-stride). Races: none.
//
// w2v_test_half_atomic_add(h, idx, v, n)
//   h: half array; idx, v: [n]. For every i, h[idx[i]] += v[i] with w2v_atomic_add_f16. Geometry:
//   any 1-D grid (grid-stride). Races: by design (neighbouring halves share a 32-bit word and indices
//   repeat): the compare-and-swap loop must lose no update and leave neighbours unchanged.
#include "common.cuh"

extern "C" __global__ void w2v_test_half_convert(const float* x, unsigned short* h, float* back, unsigned n) {
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const unsigned short b = w2v_f32_to_f16(x[i]);
        h[i] = b;
        back[i] = w2v_f16_to_f32(b);
    }
}

extern "C" __global__ void w2v_test_half_atomic_add(unsigned short* h, const unsigned* idx, const float* v,
                                                    unsigned n) {
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        w2v_atomic_add_f16(&h[idx[i]], v[i]);
    }
}

// w2v_test_bf16_convert(x, b, back, n)
//   x: [n] floats; b: [n] bfloat16 bits; back: [n] floats. b[i] = f32 → bf16 of x[i] (w2v_f2bf,
//   round to nearest even), back[i] = bf16 → f32 of b[i] (w2v_bf2f). Geometry: any 1-D grid
//   (grid-stride). Races: none.
//
// w2v_test_bf16_pair_add(b, idx, v, n)
//   b: bfloat16 array of pairs; idx, v: [n]. For every i, the pair idx[i] gets (+v[i], −v[i]) with
//   the v2 steps' packed atomic (w2v_gred_bf2_if). Geometry: any 1-D grid (grid-stride). Races: by
//   design (indices repeat across the grid): no update may be lost, neither half of a pair.
extern "C" __global__ void w2v_test_bf16_convert(const float* x, W2vBf16* b, float* back, unsigned n) {
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const unsigned short bits = w2v_f2bf(x[i]);
        b[i].bits = bits;
        back[i] = w2v_bf2f(bits);
    }
}

extern "C" __global__ void w2v_test_bf16_pair_add(W2vBf16* b, const unsigned* idx, const float* v, unsigned n) {
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        w2v_gred_bf2_if(true, &b[2u * idx[i]], v[i], -v[i]);
    }
}
