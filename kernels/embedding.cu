// embedding.cu: the Embedding layer's forward and backward, and CBOW's mean of context rows.
//
// w2v_gather       out[r, :] = table[idx[r], :]
//   table: [vocab, dim] row-major; idx: [n_rows]; out: [n_rows, dim]
// w2v_scatter_add  table[idx[r], :] += scale · rows[r, :]   (np.add.at: repeated indices accumulate)
//   rows: [n_rows, dim]; idx: [n_rows]; table: [vocab, dim]
// w2v_segment_mean out[c, :] = mean(rows[offsets[c] .. offsets[c+1], :]), zero for an empty segment
//   rows: [offsets[n_segments], dim]; offsets: [n_segments + 1]; out: [n_segments, dim]
//
// Launch geometry: any 1-D grid and 1-D block; every kernel is grid-stride over the n·dim output
// elements (one thread per element, dim fastest), so reads and writes of a row are coalesced.
// A grid of min(ceil(n·dim / 256), 32·SMs) blocks of 256 threads is a good default.
//
// Race policy: gather and segment_mean write disjoint outputs. scatter_add uses atomicAdd on the
// table because several rows may name the same index; the order of those additions is unspecified,
// so results match a sequential sum up to float rounding.
#include "common.cuh"

extern "C" __global__ void w2v_gather(const float* table, const unsigned* idx, float* out, unsigned n_rows,
                                      unsigned dim) {
    const unsigned long long total = (unsigned long long)n_rows * dim;
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += stride) {
        const unsigned long long r = i / dim;
        const unsigned long long d = i - r * dim;
        out[i] = table[(unsigned long long)idx[r] * dim + d];
    }
}

extern "C" __global__ void w2v_scatter_add(const float* rows, const unsigned* idx, float* table, unsigned n_rows,
                                           unsigned dim, float scale) {
    const unsigned long long total = (unsigned long long)n_rows * dim;
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += stride) {
        const unsigned long long r = i / dim;
        const unsigned long long d = i - r * dim;
        atomicAdd(&table[(unsigned long long)idx[r] * dim + d], scale * rows[i]);
    }
}

extern "C" __global__ void w2v_segment_mean(const float* rows, const unsigned* offsets, float* out,
                                            unsigned n_segments, unsigned dim) {
    const unsigned long long total = (unsigned long long)n_segments * dim;
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += stride) {
        const unsigned long long c = i / dim;
        const unsigned long long d = i - c * dim;
        const unsigned a = offsets[c];
        const unsigned b = offsets[c + 1];
        float sum = 0.0f;
        for (unsigned r = a; r < b; ++r) {
            sum += rows[(unsigned long long)r * dim + d];
        }
        // Multiply by the reciprocal as the CPU backend does, so both round alike.
        out[i] = b > a ? sum * (1.0f / (float)(b - a)) : 0.0f;
    }
}
