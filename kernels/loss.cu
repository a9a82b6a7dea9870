// loss.cu: EmbeddingDot forward/backward over groups of rows, and the fused sigmoid + binary
// cross-entropy (SigmoidWithLoss).
//
// w2v_batched_dot           out[p·R + t] = h[p, :] · rows[p·R + t, :]          (R = per_row)
//   h: [n_h, dim]; rows: [n_h·R, dim]; out: [n_h·R]
// w2v_batched_dot_backward  grad_h[p, :]       = Σ_t g[p·R+t] · rows[p·R+t, :]
//                           grad_rows[p·R+t, :] = g[p·R+t] · h[p, :]
//   g: [n_h·R]; h: [n_h, dim]; rows: [n_h·R, dim]; grad_h: [n_h, dim]; grad_rows: [n_h·R, dim]
// w2v_sigmoid_bce           loss[i] = -t log σ(x) - (1-t) log(1-σ(x)),  grad[i] = σ(x) - t
//   scores, labels, loss, grad: [n]. Stable for any finite x: both come from e = exp(-|x|),
//   loss = max(x, 0) - x·t + log1p(e) (no log of 0, no overflow of exp).
//
// Launch geometry: any 1-D grid and 1-D block whose size is a multiple of 32.
// - batched_dot: one warp per output element (grid-stride over warps); lanes stride over dim and
//   reduce with shuffles, so a row is read coalesced.
// - batched_dot_backward: grid-stride over the n_h·dim elements of grad_h, one thread per (p, d);
//   that thread also writes the R grad_rows elements of column d, so every output has one writer.
// - sigmoid_bce: grid-stride, one thread per element.
//
// Race policy: every output element has exactly one writer; no atomics.
#include "common.cuh"

extern "C" __global__ void w2v_batched_dot(const float* h, const float* rows, float* out, unsigned n_h,
                                           unsigned per_row, unsigned dim) {
    const unsigned lane = threadIdx.x % W2V_WARP;
    const unsigned long long warp = ((unsigned long long)blockIdx.x * blockDim.x + threadIdx.x) / W2V_WARP;
    const unsigned long long warps = (unsigned long long)gridDim.x * blockDim.x / W2V_WARP;
    const unsigned long long total = (unsigned long long)n_h * per_row;
    // The loop bound is warp-uniform, so the shuffles below run with all 32 lanes.
    for (unsigned long long i = warp; i < total; i += warps) {
        const float* hp = h + (i / per_row) * dim;
        const float* rp = rows + i * dim;
        float partial = 0.0f;
        for (unsigned d = lane; d < dim; d += W2V_WARP) {
            partial += hp[d] * rp[d];
        }
        const float dot = w2v_warp_sum(partial);
        if (lane == 0) {
            out[i] = dot;
        }
    }
}

extern "C" __global__ void w2v_batched_dot_backward(const float* g, const float* h, const float* rows,
                                                    float* grad_h, float* grad_rows, unsigned n_h,
                                                    unsigned per_row, unsigned dim) {
    const unsigned long long total = (unsigned long long)n_h * dim;
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += stride) {
        const unsigned long long p = i / dim;
        const unsigned long long d = i - p * dim;
        const float hd = h[i];
        float acc = 0.0f;
        for (unsigned t = 0; t < per_row; ++t) {
            const unsigned long long r = p * per_row + t;
            const float gr = g[r];
            acc += gr * rows[r * dim + d];
            grad_rows[r * dim + d] = gr * hd;
        }
        grad_h[i] = acc;
    }
}

extern "C" __global__ void w2v_sigmoid_bce(const float* scores, const float* labels, float* loss, float* grad,
                                           unsigned n) {
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float x = scores[i];
        const float t = labels[i];
        const float e = expf(-fabsf(x));
        loss[i] = w2v_bce_e(x, t, e);
        grad[i] = w2v_sigmoid_e(x, e) - t;
    }
}
