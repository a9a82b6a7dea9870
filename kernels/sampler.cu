// sampler.cu: UnigramSampler, the negatives of a list of centres (alias table + Philox).
//
// w2v_sample_negatives  out[c·k + s] = negative s of centre word centres[c] at key position positions[c],
//   bit-identical to sampler::negatives_for_centre (distinct = 0: with replacement, the centre may be
//   drawn; distinct = 1: centre excluded, no repeats in a row, by rejection then the upward scan).
//   alias_prob, alias_alias: [vocab] u32 thresholds and targets; centres: [n]; positions: [n];
//   out: [n, k]. Distinct mode needs vocab > k (the caller checks).
//
// Launch geometry: any 1-D grid and block; grid-stride over centres, one thread per centre (a row
// of k draws is sequential in distinct mode, and k is small).
//
// Race policy: each thread writes only its own row of `out`; distinct mode reads that row back.
#include "common.cuh"

extern "C" __global__ void w2v_sample_negatives(const unsigned* alias_prob, const unsigned* alias_alias,
                                                unsigned vocab, const unsigned* centres,
                                                const unsigned long long* positions, unsigned n, unsigned k,
                                                unsigned distinct, unsigned long long seed, unsigned* out) {
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    for (unsigned long long c = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; c < n; c += stride) {
        W2vPtrOut row{out + c * k};
        w2v_negatives_for_centre(alias_prob, alias_alias, vocab, seed, positions[c], centres[c], k, distinct != 0u,
                                 row);
    }
}
