// optim.cu: optimiser updates of the listed rows of a parameter matrix, then zeroing their gradient.
//
// w2v_sgd_rows   w[r, :] -= lr · grad[r, :];  grad[r, :] = 0           for r in rows
// w2v_adam_rows  m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²;
//                w -= lr·√bias2 / bias1 · m / (√v + ε);  grad = 0      for the elements of rows r
//   w, grad (and m, v): [vocab, dim] row-major; rows: [n_rows] distinct row ids.
//   bias1 = 1 - β1^t, bias2 = 1 - β2^t, computed by the host in f64 (t = global step, 1-based).
//
// Launch geometry: any 1-D grid and block; grid-stride over the n_rows·dim elements (dim fastest).
//
// Race policy: the host passes distinct row ids, so each element has one writer; no atomics.
#include "common.cuh"

extern "C" __global__ void w2v_sgd_rows(float* w, float* grad, const unsigned* rows, unsigned n_rows, unsigned dim,
                                        float lr) {
    const unsigned long long total = (unsigned long long)n_rows * dim;
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += stride) {
        const unsigned long long r = i / dim;
        const unsigned long long j = (unsigned long long)rows[r] * dim + (i - r * dim);
        w[j] -= lr * grad[j];
        grad[j] = 0.0f;
    }
}

extern "C" __global__ void w2v_adam_rows(float* w, float* m, float* v, float* grad, const unsigned* rows,
                                         unsigned n_rows, unsigned dim, float lr, float beta1, float beta2, float eps,
                                         float bias1, float bias2) {
    // The step size with both bias corrections folded in, as the CPU backend computes it.
    const float rate = lr * sqrtf(bias2) / bias1;
    const unsigned long long total = (unsigned long long)n_rows * dim;
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += stride) {
        const unsigned long long r = i / dim;
        const unsigned long long j = (unsigned long long)rows[r] * dim + (i - r * dim);
        const float g = grad[j];
        const float mj = beta1 * m[j] + (1.0f - beta1) * g;
        const float vj = beta2 * v[j] + (1.0f - beta2) * g * g;
        m[j] = mj;
        v[j] = vj;
        w[j] -= rate * mj / (sqrtf(vj) + eps);
        grad[j] = 0.0f;
    }
}
