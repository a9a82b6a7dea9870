// sgns_v2.cu: the fused training step, version 2 (issue 11): skip-gram and CBOW with negative
// sampling, Hogwild, exactly the semantics of src/train/plan.rs, with the centre's target rows and
// their gradient accumulators in registers and no dynamic shared memory. Version 1 (sgns.cu) stays
// as the reference variant (`--kernel v1`) and for what v2 does not take.
//
// w2v_skipgram_step_v2_N / w2v_cbow_step_v2_N, N = 1, 2, 3 (dim ≤ 128·N); `_f16_N` for half storage
//   (the `--storage f16` layout of sgns.cu's `_f16` steps; dim even): see "Half storage" below.
//   Arguments, inputs and outputs: exactly those of w2v_skipgram_step / w2v_cbow_step (sgns.cu),
//   for f32 storage, negative ≤ 5 (1 + negative ≤ 6 targets) and dim ≤ 128·N. A launch outside that
//   range trains nothing and makes the loss NaN.
//   Layout: each lane owns 4·N slots of every row. Where the compilation has 16-byte vector atomics
//   (W2V_VECTOR_ATOMICS: sm_90+, and the emulator) and dim % 4 == 0, slot e is dim
//   4·(lane + 32·(e/4)) + e%4: each lane a contiguous run of 4 dims per chunk, read with one 16-byte
//   load and updated with one `red.global.add.v4.f32` (a warp touches 512 contiguous bytes an
//   instruction). Otherwise slot e is dim lane + 32·e: scalar loads and atomics, coalesced (128
//   contiguous bytes an instruction). Slots past dim hold 0 and touch no memory.
//   Per centre (one warp, as v1): the targets (centre, K negatives; replace mode: lane s draws slot s;
//   distinct mode: lane 0 draws them into static shared memory) and their rows are loaded into
//   registers once; skip-gram then, for each context in order, loads the context row, forms the
//   1+K partial dot products per lane and reduces all of them with one butterfly (8 values, 9
//   shuffles; lanes 4t..4t+3 end with target t's score), broadcasts the 1+K gradients, updates the
//   context row with one atomic per slot and accumulates g_t·h per target in registers; the
//   accumulators are written back once per centre. CBOW forms h = mean of the context rows, the
//   same one reduction, w_out[t] −= g_t·h and every context row −= Σ_t g_t·w_out[t].
//   Geometry: blockDim.x = 256 (8 warps; static shared memory is sized for 8), any grid: warps
//   grid-stride over the virtual centres as v1 (the host launches a persistent grid of as many
//   blocks as the device holds at once). Shared memory: 1 KiB static (distinct-mode negatives).
//   Races: a lane reads and writes only its own slots of any row, so a single warp trains its
//   centres' contexts strictly in order with no warp barrier between them: one warp reproduces
//   the sequential order of plan.rs. Between warps it is Hogwild as v1 (no update is lost).
//   loss_acc: as v1.
#include "common.cuh"

// Most targets (1 + negative) the v2 steps take; the reduction works on 8 (padded with zeros).
#define W2V_V2_TARGETS 6u
#define W2V_V2_WARPS 8u

// The 8 partial sums of a lane reduced over the warp, all at once: after it, lanes 4t..4t+3 hold
// the total of p[t]. Level by level each lane keeps half of its values and sends the other half to
// its partner, so 8 values cost 4 + 2 + 1 + 1 + 1 shuffles instead of 8 · 5.
__device__ __forceinline__ float w2v_v2_reduce8(const float (&p)[8], unsigned lane) {
    const bool b4 = (lane & 16u) != 0u;
    float w[4];
#pragma unroll
    for (unsigned i = 0; i < 4u; ++i) {
        const float send = b4 ? p[i] : p[i + 4u];
        w[i] = (b4 ? p[i + 4u] : p[i]) + __shfl_xor_sync(W2V_FULL_MASK, send, 16);
    }
    const bool b3 = (lane & 8u) != 0u;
    float x[2];
#pragma unroll
    for (unsigned i = 0; i < 2u; ++i) {
        const float send = b3 ? w[i] : w[i + 2u];
        x[i] = (b3 ? w[i + 2u] : w[i]) + __shfl_xor_sync(W2V_FULL_MASK, send, 8);
    }
    const bool b2 = (lane & 4u) != 0u;
    float y = (b2 ? x[1] : x[0]) + __shfl_xor_sync(W2V_FULL_MASK, b2 ? x[0] : x[1], 4);
    y += __shfl_xor_sync(W2V_FULL_MASK, y, 2);
    y += __shfl_xor_sync(W2V_FULL_MASK, y, 1);
    return y;
}

// A lane's 4·N slots of one row.
template <unsigned N>
struct W2vSlots {
    float v[4u * N];
};

// Loads the lane's slots of `row` (zeros past dim).
template <unsigned N, bool VEC>
__device__ __forceinline__ void w2v_v2_load(const float* row, unsigned dim, unsigned lane, W2vSlots<N>& x) {
#pragma unroll
    for (unsigned j = 0; j < N; ++j) {
        if (VEC) {
            const unsigned d = 4u * (lane + 32u * j);
            const W2vF4 f = w2v_gld4_if(d < dim, row + d);
            x.v[4u * j] = f.x;
            x.v[4u * j + 1u] = f.y;
            x.v[4u * j + 2u] = f.z;
            x.v[4u * j + 3u] = f.w;
        } else {
#pragma unroll
            for (unsigned i = 0; i < 4u; ++i) {
                const unsigned d = lane + 32u * (4u * j + i);
                x.v[4u * j + i] = w2v_gld_if(d < dim, row + d, 0.0f);
            }
        }
    }
}

// row[slot] += scale · x[slot] for the lane's slots, atomically.
template <unsigned N, bool VEC>
__device__ __forceinline__ void w2v_v2_add(float* row, unsigned dim, unsigned lane, const W2vSlots<N>& x,
                                           float scale) {
#pragma unroll
    for (unsigned j = 0; j < N; ++j) {
        if (VEC) {
            const unsigned d = 4u * (lane + 32u * j);
            const W2vF4 f{scale * x.v[4u * j], scale * x.v[4u * j + 1u], scale * x.v[4u * j + 2u],
                          scale * x.v[4u * j + 3u]};
            w2v_gred4_if(d < dim, row + d, f);
        } else {
#pragma unroll
            for (unsigned i = 0; i < 4u; ++i) {
                const unsigned d = lane + 32u * (4u * j + i);
                w2v_gred_if(d < dim, row + d, scale * x.v[4u * j + i]);
            }
        }
    }
}

// Half storage (`_f16` steps, dim % 2 == 0): slot pair p of a lane is the half2 at dims
// 2·(lane + 32·p) and + 1, so a warp reads and updates 128 contiguous bytes an instruction (one
// 32-bit load, one packed f16x2 atomic); values are widened to f32 in registers.
template <unsigned N, bool VEC>
__device__ __forceinline__ void w2v_v2_load(const unsigned short* row, unsigned dim, unsigned lane,
                                            W2vSlots<N>& x) {
#pragma unroll
    for (unsigned p = 0; p < 2u * N; ++p) {
        const unsigned d = 2u * (lane + 32u * p);
        const unsigned w = w2v_gld_if(d < dim, reinterpret_cast<const unsigned*>(row + d), 0u);
        x.v[2u * p] = w2v_h2f((unsigned short)w);
        x.v[2u * p + 1u] = w2v_h2f((unsigned short)(w >> 16));
    }
}

template <unsigned N, bool VEC>
__device__ __forceinline__ void w2v_v2_add(unsigned short* row, unsigned dim, unsigned lane, const W2vSlots<N>& x,
                                           float scale) {
#pragma unroll
    for (unsigned p = 0; p < 2u * N; ++p) {
        const unsigned d = 2u * (lane + 32u * p);
        w2v_gred_h2_if(d < dim, row + d, scale * x.v[2u * p], scale * x.v[2u * p + 1u]);
    }
}

template <unsigned N, bool CBOW, bool VEC, class T>
__device__ __forceinline__ void w2v_step_v2(const W2vStepArgs<T>& a) {
    __shared__ unsigned scratch[W2V_V2_WARPS][32];
    const unsigned lane = threadIdx.x % W2V_WARP;
    const unsigned warp = threadIdx.x / W2V_WARP;
    const unsigned warps_per_block = blockDim.x / W2V_WARP;
    const unsigned dim = a.dim;
    const unsigned n_targets = 1u + a.negative;
    // This lane's target in the reduction (lanes 4t..4t+3 hold target t's score).
    const unsigned my_t = lane >> 2;
    const float label = my_t == 0u ? 1.0f : 0.0f;

    double loss = 0.0;
    double examples = 0.0;
    const unsigned long long n_virtual = (unsigned long long)a.n_spans * W2V_SPAN_LEN;
    const unsigned long long stride = (unsigned long long)gridDim.x * warps_per_block;
    for (unsigned long long v = (unsigned long long)blockIdx.x * warps_per_block + warp; v < n_virtual;
         v += stride) {
        // Everything up to the targets is warp-uniform (every lane computes the same values).
        const unsigned s = (unsigned)(v / W2V_SPAN_LEN);
        const unsigned k = (unsigned)(v % W2V_SPAN_LEN);
        const unsigned count = w2v_gld(&a.kept_count[s]);
        const unsigned* ids = a.kept_ids + (unsigned long long)s * W2V_SPAN_LEN;
        if (k >= count) {
            continue;
        }
        const unsigned centre = w2v_gld(&ids[k]);
        if (centre == W2V_SENTENCE_BREAK) {
            continue;
        }
        const unsigned off = w2v_gld(&a.kept_off[(unsigned long long)s * W2V_SPAN_LEN + k]);
        const unsigned long long pos = a.key_first + off;
        const float lr = w2v_lr_at(a.lr_begin, a.lr_end, off, a.batch_len);
        const unsigned b = w2v_effective_window(a.seed, pos, a.window, a.fixed_window != 0u);
        unsigned first = k;
        while (first > 0u && k - first < b && w2v_gld(&ids[first - 1u]) != W2V_SENTENCE_BREAK) {
            --first;
        }
        unsigned last = k;
        while (last + 1u < count && last - k < b && w2v_gld(&ids[last + 1u]) != W2V_SENTENCE_BREAK) {
            ++last;
        }
        const unsigned n_ctx = last - first;
        if (n_ctx == 0u) {
            continue;
        }

        // The targets: [centre, negatives...], every lane holding all of them.
        unsigned tgt[W2V_V2_TARGETS];
        tgt[0] = centre;
        if (a.distinct != 0u) {
            if (lane == 0u) {
                W2vPtrOut out{scratch[warp]};
                w2v_negatives_for_centre(a.alias_prob, a.alias_alias, a.vocab, a.seed, pos, centre, a.negative,
                                         true, out);
            }
            __syncwarp();
#pragma unroll
            for (unsigned t = 1; t < W2V_V2_TARGETS; ++t) {
                tgt[t] = t < n_targets ? scratch[warp][t - 1u] : centre;
            }
            __syncwarp();
        } else {
            const unsigned mine = lane < a.negative
                                      ? w2v_negative_slot(a.alias_prob, a.alias_alias, a.vocab, a.seed, pos, lane)
                                      : centre;
#pragma unroll
            for (unsigned t = 1; t < W2V_V2_TARGETS; ++t) {
                tgt[t] = __shfl_sync(W2V_FULL_MASK, mine, t - 1u);
            }
        }

        // The target rows, in registers for the whole centre.
        W2vSlots<N> rows[W2V_V2_TARGETS];
#pragma unroll
        for (unsigned t = 0; t < W2V_V2_TARGETS; ++t) {
            if (t < n_targets) {
                w2v_v2_load<N, VEC>(a.w_out + (unsigned long long)tgt[t] * dim, dim, lane, rows[t]);
            } else {
#pragma unroll
                for (unsigned e = 0; e < 4u * N; ++e) {
                    rows[t].v[e] = 0.0f;
                }
            }
        }
        W2vSlots<N> acc[CBOW ? 1 : W2V_V2_TARGETS];
        if (!CBOW) {
#pragma unroll
            for (unsigned t = 0; t < (CBOW ? 1u : W2V_V2_TARGETS); ++t) {
#pragma unroll
                for (unsigned e = 0; e < 4u * N; ++e) {
                    acc[t].v[e] = 0.0f;
                }
            }
        }

        W2vSlots<N> h;
        if (CBOW) {
#pragma unroll
            for (unsigned e = 0; e < 4u * N; ++e) {
                h.v[e] = 0.0f;
            }
            for (unsigned j = first; j <= last; ++j) {
                if (j != k) {
                    W2vSlots<N> c;
                    w2v_v2_load<N, VEC>(a.w_in + (unsigned long long)w2v_gld(&ids[j]) * dim, dim, lane, c);
#pragma unroll
                    for (unsigned e = 0; e < 4u * N; ++e) {
                        h.v[e] += c.v[e];
                    }
                }
            }
            const float inv = 1.0f / (float)n_ctx;
#pragma unroll
            for (unsigned e = 0; e < 4u * N; ++e) {
                h.v[e] *= inv;
            }
        }

        const unsigned n_inputs = CBOW ? 1u : n_ctx;
        for (unsigned c = 0; c < n_inputs; ++c) {
            const unsigned j = first + c < k ? first + c : first + c + 1u;
            T* h_row = nullptr;
            if (!CBOW) {
                h_row = a.w_in + (unsigned long long)w2v_gld(&ids[j]) * dim;
                w2v_v2_load<N, VEC>(h_row, dim, lane, h);
            }
            float p[8] = {};
#pragma unroll
            for (unsigned t = 0; t < W2V_V2_TARGETS; ++t) {
#pragma unroll
                for (unsigned e = 0; e < 4u * N; ++e) {
                    p[t] += h.v[e] * rows[t].v[e];
                }
            }
            const float score = w2v_v2_reduce8(p, lane);
            const bool valid = my_t < n_targets;
            const float e = expf(-fabsf(score));
            const float step = valid ? lr * (w2v_sigmoid_e(score, e) - label) : 0.0f;
            if (valid && (lane & 3u) == 0u) {
                loss += (double)w2v_bce_e(score, label, e);
            }
            float g[W2V_V2_TARGETS];
#pragma unroll
            for (unsigned t = 0; t < W2V_V2_TARGETS; ++t) {
                g[t] = __shfl_sync(W2V_FULL_MASK, step, 4u * t);
            }
            // The input's gradient Σ_t g_t·rows[t] (rows as loaded: the centre's targets are
            // written back only after its last context, as v1 and plan.rs).
            W2vSlots<N> grad;
#pragma unroll
            for (unsigned e = 0; e < 4u * N; ++e) {
                float sum = 0.0f;
#pragma unroll
                for (unsigned t = 0; t < W2V_V2_TARGETS; ++t) {
                    sum += g[t] * rows[t].v[e];
                    if (!CBOW) {
                        acc[t].v[e] += g[t] * h.v[e];
                    }
                }
                grad.v[e] = sum;
            }
            if (CBOW) {
#pragma unroll
                for (unsigned t = 0; t < W2V_V2_TARGETS; ++t) {
                    if (t < n_targets) {
                        w2v_v2_add<N, VEC>(a.w_out + (unsigned long long)tgt[t] * dim, dim, lane, h, -g[t]);
                    }
                }
                for (unsigned i = first; i <= last; ++i) {
                    if (i != k) {
                        w2v_v2_add<N, VEC>(a.w_in + (unsigned long long)w2v_gld(&ids[i]) * dim, dim, lane, grad,
                                           -1.0f);
                    }
                }
            } else {
                // The next context may be the same word: this lane reads back only its own slots,
                // after its own atomics, so no warp barrier is needed.
                w2v_v2_add<N, VEC>(h_row, dim, lane, grad, -1.0f);
            }
        }
        examples += (double)(n_inputs * n_targets);
        if (!CBOW) {
#pragma unroll
            for (unsigned t = 0; t < (CBOW ? 1u : W2V_V2_TARGETS); ++t) {
                if (t < n_targets) {
                    w2v_v2_add<N, VEC>(a.w_out + (unsigned long long)tgt[t] * dim, dim, lane, acc[t], -1.0f);
                }
            }
        }
    }
    loss = w2v_warp_sum_f64(loss);
    if (lane == 0u) {
        w2v_gred(&a.loss_acc[0], loss);
        w2v_gred(&a.loss_acc[1], examples);
    }
}

// The range checks and the layout choice (vector only with vector atomics and dim % 4 == 0).
template <unsigned N, bool CBOW, class T>
__device__ __forceinline__ void w2v_step_v2_dispatch(const W2vStepArgs<T> a) {
    const bool half = sizeof(T) == 2u;
    if (1u + a.negative > W2V_V2_TARGETS || a.dim > 128u * N || blockDim.x > 32u * W2V_V2_WARPS ||
        (half && a.dim % 2u != 0u)) {
        if (blockIdx.x == 0u && threadIdx.x == 0u) {
            atomicAdd(&a.loss_acc[0], __longlong_as_double(0x7FF8000000000000ll));
        }
        return;
    }
    if (!half && W2V_VECTOR_ATOMICS && a.dim % 4u == 0u) {
        w2v_step_v2<N, CBOW, true, T>(a);
    } else {
        w2v_step_v2<N, CBOW, false, T>(a);
    }
}

// The entry points: skip-gram then CBOW, dim ≤ 128, 256, 384. With 2 blocks of 8 warps an SM
// (`_1`) or 1 (`_2`, `_3`) ptxas keeps every row in registers with no spills (check-ptx.sh gates it).
extern "C" __global__ void __launch_bounds__(256, 2)
w2v_skipgram_step_v2_1(float* w_in, float* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                   const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                   unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                   float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                   double* loss_acc) {
    w2v_step_v2_dispatch<1, false, float>(W2vStepArgs<float> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 1)
w2v_skipgram_step_v2_2(float* w_in, float* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                   const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                   unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                   float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                   double* loss_acc) {
    w2v_step_v2_dispatch<2, false, float>(W2vStepArgs<float> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 1)
w2v_skipgram_step_v2_3(float* w_in, float* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                   const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                   unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                   float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                   double* loss_acc) {
    w2v_step_v2_dispatch<3, false, float>(W2vStepArgs<float> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 2)
w2v_cbow_step_v2_1(float* w_in, float* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                   const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                   unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                   float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                   double* loss_acc) {
    w2v_step_v2_dispatch<1, true, float>(W2vStepArgs<float> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 1)
w2v_cbow_step_v2_2(float* w_in, float* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                   const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                   unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                   float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                   double* loss_acc) {
    w2v_step_v2_dispatch<2, true, float>(W2vStepArgs<float> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 1)
w2v_cbow_step_v2_3(float* w_in, float* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                   const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                   unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                   float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                   double* loss_acc) {
    w2v_step_v2_dispatch<3, true, float>(W2vStepArgs<float> W2V_STEP_ARGS);
}

// Half storage (binary16 bits, dim % 2 == 0): the same steps, rows widened to f32 in registers.
extern "C" __global__ void __launch_bounds__(256, 2)
w2v_skipgram_step_v2_f16_1(unsigned short* w_in, unsigned short* w_out, unsigned dim, const unsigned* kept_ids,
                   const unsigned* kept_off, const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob,
                   const unsigned* alias_alias, unsigned vocab, unsigned long long seed, unsigned long long key_first,
                   unsigned batch_len, float lr_begin, float lr_end, unsigned window, unsigned fixed_window,
                   unsigned negative, unsigned distinct, double* loss_acc) {
    w2v_step_v2_dispatch<1, false, unsigned short>(W2vStepArgs<unsigned short> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 1)
w2v_skipgram_step_v2_f16_2(unsigned short* w_in, unsigned short* w_out, unsigned dim, const unsigned* kept_ids,
                   const unsigned* kept_off, const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob,
                   const unsigned* alias_alias, unsigned vocab, unsigned long long seed, unsigned long long key_first,
                   unsigned batch_len, float lr_begin, float lr_end, unsigned window, unsigned fixed_window,
                   unsigned negative, unsigned distinct, double* loss_acc) {
    w2v_step_v2_dispatch<2, false, unsigned short>(W2vStepArgs<unsigned short> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 1)
w2v_skipgram_step_v2_f16_3(unsigned short* w_in, unsigned short* w_out, unsigned dim, const unsigned* kept_ids,
                   const unsigned* kept_off, const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob,
                   const unsigned* alias_alias, unsigned vocab, unsigned long long seed, unsigned long long key_first,
                   unsigned batch_len, float lr_begin, float lr_end, unsigned window, unsigned fixed_window,
                   unsigned negative, unsigned distinct, double* loss_acc) {
    w2v_step_v2_dispatch<3, false, unsigned short>(W2vStepArgs<unsigned short> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 2)
w2v_cbow_step_v2_f16_1(unsigned short* w_in, unsigned short* w_out, unsigned dim, const unsigned* kept_ids,
                   const unsigned* kept_off, const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob,
                   const unsigned* alias_alias, unsigned vocab, unsigned long long seed, unsigned long long key_first,
                   unsigned batch_len, float lr_begin, float lr_end, unsigned window, unsigned fixed_window,
                   unsigned negative, unsigned distinct, double* loss_acc) {
    w2v_step_v2_dispatch<1, true, unsigned short>(W2vStepArgs<unsigned short> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 1)
w2v_cbow_step_v2_f16_2(unsigned short* w_in, unsigned short* w_out, unsigned dim, const unsigned* kept_ids,
                   const unsigned* kept_off, const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob,
                   const unsigned* alias_alias, unsigned vocab, unsigned long long seed, unsigned long long key_first,
                   unsigned batch_len, float lr_begin, float lr_end, unsigned window, unsigned fixed_window,
                   unsigned negative, unsigned distinct, double* loss_acc) {
    w2v_step_v2_dispatch<2, true, unsigned short>(W2vStepArgs<unsigned short> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 1)
w2v_cbow_step_v2_f16_3(unsigned short* w_in, unsigned short* w_out, unsigned dim, const unsigned* kept_ids,
                   const unsigned* kept_off, const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob,
                   const unsigned* alias_alias, unsigned vocab, unsigned long long seed, unsigned long long key_first,
                   unsigned batch_len, float lr_begin, float lr_end, unsigned window, unsigned fixed_window,
                   unsigned negative, unsigned distinct, double* loss_acc) {
    w2v_step_v2_dispatch<3, true, unsigned short>(W2vStepArgs<unsigned short> W2V_STEP_ARGS);
}
