// test/half.cu: checks of common.cuh's half (binary16) helpers, for the tests only: build.rs keeps
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
