// sgns.cu: the fused training step (the fast path): subsampling + compaction of a batch, then
// skip-gram or CBOW with negative sampling, Hogwild, exactly the semantics of src/train/plan.rs.
//
// A batch is `batch_len` consecutive corpus tokens whose first token sits on a multiple of SPAN_LEN
// (8192), so span s covers batch offsets [s·SPAN_LEN, min((s+1)·SPAN_LEN, batch_len)). The token at
// batch offset t has key position key_first + t (epoch·corpus_len + corpus index).
//
// w2v_subsample_compact(tokens, batch_len, batch_off, keep, seed, key_first, kept_ids, kept_off, kept_count)
//   tokens: [batch_len]; keep: [vocab] u32 keep thresholds (sampler::keep_token);
//   kept_ids, kept_off: [n_spans, SPAN_LEN]; kept_count: [n_spans].
//   Span s's kept tokens (sentence breaks always kept) go, in order, to kept_ids[s·SPAN_LEN + j] with
//   their offsets plus batch_off in kept_off[...]; kept_count[s] is how many. The host compacts a
//   *piece* of a batch this way (plan.rs): tokens and key_first are the piece's, batch_off its
//   offset in its batch, so kept_off holds batch offsets and the step kernels below, given the
//   batch's key_first, batch_len and ramp, train every piece with its batch's learning rates.
//   Geometry: blocks grid-stride over spans (one block per span is the intent: grid = n_spans);
//   blockDim.x a multiple of 32, at most 1024 (256 is a good choice). Thread i owns a contiguous run
//   of ceil(SPAN_LEN / blockDim.x) tokens: count kept, block-wide exclusive scan (warp shuffles,
//   then the warp totals through static shared memory), write. Three __syncthreads per span.
//   Races: none; each output element has one writer.
//
// w2v_skipgram_step / w2v_cbow_step(w_in, w_out, dim, kept_ids, kept_off, kept_count, n_spans,
//     alias_prob, alias_alias, vocab, seed, key_first, batch_len, lr_begin, lr_end, window,
//     fixed_window, negative, distinct, loss_acc)
//   w_in, w_out: [vocab, dim] row-major, updated in place; kept_*: as written by subsample_compact;
//   alias_prob, alias_alias: [vocab]; loss_acc: [2] doubles, += (loss sum, example count).
//   Per centre (kept, non-break token k of span s), as plan.rs: half-width b = window or word2vec's
//   shrink; contexts = kept tokens within b compacted places each side, stopping at a break or the
//   span edge; targets = [centre, K negatives] (K = negative ≤ 31; distinct ≠ 0: no repeats, centre
//   excluded); lr = lr_begin + (lr_end − lr_begin)·(off / batch_len) for the centre's batch offset.
//   Skip-gram: for each context c, h = w_in[c], scores h·w_out[t], g_t = lr·(σ(score) − label);
//     w_in[c] −= Σ_t g_t·w_out[t];  w_out[t] −= Σ_c g_t·h_c  (accumulated over the contexts).
//   CBOW: h = mean of the context rows, the same targets once;
//     w_out[t] −= g_t·h;  every context row w_in[c] −= Σ_t g_t·w_out[t] (unscaled, word2vec.c).
//   Geometry: one warp per centre; warps grid-stride over the virtual centres v in
//   [0, n_spans·SPAN_LEN) (span v / SPAN_LEN, place v % SPAN_LEN), skipping places ≥ kept_count.
//   blockDim.x a multiple of 32. Dynamic shared memory, sized by the host:
//       shared_bytes = (blockDim.x / 32) · 2 · (1 + negative) · dim · 4
//   i.e. per warp the (1+K) target rows and, for skip-gram, their gradient accumulators (CBOW keeps
//   h there instead); the host must also keep it within the device's limit (48 KiB without opt-in).
//   Inside a warp: targets are staged, scored and (skip-gram) written back in the "group" mapping:
//   G = 32 / pow2ceil(1+K) lanes per target, each lane a strided share of dim, a log2(G) shuffle
//   reduction per score. The (1+K) gradients are then broadcast with one shuffle each, and the input
//   side is updated in the "lane" mapping (dims strided over the 32 lanes). Replace-mode negatives are
//   drawn by their own group; distinct mode is sequential, drawn by lane 0 into shared scratch.
//   Syncs per skip-gram centre: contexts·(1+K+log2 G+1) + 1 (+2 in distinct mode); CBOW: 1+K+log2 G+2.
//   Races: one warp trains its centre's contexts strictly in order (a __syncwarp after each context
//   and after each centre), so a single warp reproduces the sequential order of plan.rs exactly.
//   Between warps it is Hogwild (word2vec.c, the CPU backend): each centre reads its target rows once
//   into shared memory and writes their gradient, summed over its contexts, back once with
//   atomicAdd; context rows are read per use and updated with atomicAdd. Other warps may read rows
//   mid-update (the accepted staleness); no update is lost.
//   loss_acc: each warp sums its examples' binary cross-entropy in f64 and adds once at the end.
//
// w2v_skipgram_step_f16 / w2v_cbow_step_f16(same arguments)
//   The same steps (one template, `W2vStepArgs<T>`) with w_in and w_out stored as IEEE half:
//   `unsigned short*` holding binary16 bits ([vocab, dim] row-major, 2 bytes per weight), the
//   `--storage f16` layout. Every value is widened to f32 when read (w2v_f16_to_f32, exact); target
//   rows and accumulators are staged in shared memory as f32, so shared_bytes is as above; all
//   arithmetic is f32. Stores round to nearest even (w2v_f32_to_f16): each atomicAdd above becomes
//   w2v_atomic_add_f16, a compare-and-swap loop on the aligned 32-bit word holding the half, so no
//   update is lost and the neighbouring half is untouched; an update that rounds away writes nothing.
//   Races: as the f32 steps (Hogwild between warps, strict order within a warp).
//
// w2v_skipgram_step_wide / w2v_cbow_step_wide / w2v_skipgram_step_f16_wide / w2v_cbow_step_f16_wide
//   The same four steps for 9..32 targets (negative 8..31). The kernels above are compiled for at
//   most 8 targets (negative ≤ 7, word2vec's usual 5) alone: their per-lane gradient array has 8
//   entries instead of 32. With __launch_bounds__(256, 4) (256, 3 for `_wide`) ptxas fits them in
//   44-54 registers (70-80 for `_wide`) with no spills (scripts/check-ptx.sh prints and gates this),
//   so an SM can hold 4 blocks of 8 warps where shared memory allows (4 × 48 KiB ≤ 228 KiB on an
//   H100) instead of 2 at ~105 registers. The host (geometry::step_kernel) picks the kernel by
//   negative; a launch outside a kernel's range trains nothing and sets the loss to NaN.
#include "common.cuh"

extern "C" __global__ void w2v_subsample_compact(const unsigned* tokens, unsigned batch_len, unsigned batch_off,
                                                 const unsigned* keep, unsigned long long seed,
                                                 unsigned long long key_first,
                                                 unsigned* kept_ids, unsigned* kept_off, unsigned* kept_count) {
    __shared__ unsigned warp_base[32];
    const unsigned tid = threadIdx.x;
    const unsigned lane = tid % W2V_WARP;
    const unsigned warp = tid / W2V_WARP;
    const unsigned nwarps = blockDim.x / W2V_WARP;
    const unsigned per_thread = (W2V_SPAN_LEN + blockDim.x - 1u) / blockDim.x;
    const unsigned n_spans = (unsigned)(((unsigned long long)batch_len + W2V_SPAN_LEN - 1u) / W2V_SPAN_LEN);
    for (unsigned s = blockIdx.x; s < n_spans; s += gridDim.x) {
        const unsigned span_begin = s * W2V_SPAN_LEN;
        const unsigned span_end = batch_len - span_begin < W2V_SPAN_LEN ? batch_len : span_begin + W2V_SPAN_LEN;
        const unsigned mine = span_begin + tid * per_thread;
        const unsigned lo = mine < span_end ? mine : span_end;
        const unsigned hi = span_end - lo < per_thread ? span_end : lo + per_thread;

        unsigned count = 0;
        for (unsigned t = lo; t < hi; ++t) {
            count += w2v_compacts(keep, seed, key_first + t, w2v_gld(&tokens[t])) ? 1u : 0u;
        }
        // Block-wide exclusive scan of the counts: within warps, then over the warp totals.
        const unsigned inclusive = w2v_warp_inclusive_scan(count, lane);
        if (lane == W2V_WARP - 1u) {
            warp_base[warp] = inclusive;
        }
        __syncthreads();
        if (warp == 0) {
            const unsigned total = lane < nwarps ? warp_base[lane] : 0u;
            const unsigned scanned = w2v_warp_inclusive_scan(total, lane);
            if (lane < nwarps) {
                warp_base[lane] = scanned - total;
            }
            if (lane == nwarps - 1u) {
                w2v_gst(&kept_count[s], scanned);
            }
        }
        __syncthreads();

        unsigned j = s * W2V_SPAN_LEN + warp_base[warp] + inclusive - count;
        for (unsigned t = lo; t < hi; ++t) {
            const unsigned w = w2v_gld(&tokens[t]);
            if (w2v_compacts(keep, seed, key_first + t, w)) {
                w2v_gst(&kept_ids[j], w);
                w2v_gst(&kept_off[j], batch_off + t);
                ++j;
            }
        }
        // warp_base is rewritten for the next span only after everyone has read it.
        __syncthreads();
    }
}

// The step for targets T = 1 + negative ≤ MAXT (MAXT ∈ {8, 16, 32} bounds the register array of
// gradients). Lane roles: "group" mapping (group g = target g, G lanes, dims member, member+G, …)
// for staging, dot products and target write-back; "lane" mapping (dims lane, lane+32, …) for the
// input-side updates. A lane only crosses from one mapping to the other after a warp sync.
template <unsigned MAXT, bool CBOW, class T>
__device__ __forceinline__ void w2v_step(const W2vStepArgs<T> a) {
    W2V_DYNAMIC_SHARED(float, smem);
    const unsigned lane = threadIdx.x % W2V_WARP;
    const unsigned warps_per_block = blockDim.x / W2V_WARP;
    const unsigned dim = a.dim;
    const unsigned n_targets = 1u + a.negative;
    // Per warp: target rows [T, dim], then accumulators [T, dim] (skip-gram) or h [dim] (CBOW).
    float* rows = smem + (unsigned long long)(threadIdx.x / W2V_WARP) * 2u * n_targets * dim;
    float* acc = rows + (unsigned long long)n_targets * dim;

    unsigned groups = 1;
    while (groups < n_targets) {
        groups <<= 1;
    }
    const unsigned group_lanes = W2V_WARP / groups;
    const unsigned group = lane / group_lanes;
    const unsigned member = lane % group_lanes;
    const bool in_group = group < n_targets;
    // Rotates each group's walk over dim so that the groups' shared-memory reads hit distinct banks;
    // a multiple of group_lanes, so a lane visits the same dims as in the unrotated staging loop.
    const unsigned rot = dim % group_lanes == 0u
                             ? ((group_lanes + W2V_WARP - dim % W2V_WARP) * group) % W2V_WARP % dim
                             : 0u;
    const float label = group == 0u ? 1.0f : 0.0f;
    float* my_row = rows + (unsigned long long)(in_group ? group : 0u) * dim;
    float* my_acc = acc + (unsigned long long)(in_group ? group : 0u) * dim;

    double loss = 0.0;
    double examples = 0.0;
    const unsigned long long n_virtual = (unsigned long long)a.n_spans * W2V_SPAN_LEN;
    const unsigned long long stride = (unsigned long long)gridDim.x * warps_per_block;
    for (unsigned long long v = (unsigned long long)blockIdx.x * warps_per_block + threadIdx.x / W2V_WARP;
         v < n_virtual; v += stride) {
        // Up to the first warp sync every lane computes the same values: these branches are uniform.
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

        // My group's target: the centre, or one negative. Replace mode draws each slot independently;
        // distinct mode is sequential, so lane 0 draws the row into shared scratch for everyone.
        unsigned my_target = centre;
        if (a.distinct != 0u) {
            unsigned* scratch = reinterpret_cast<unsigned*>(acc);
            if (lane == 0u) {
                W2vPtrOut out{scratch};
                w2v_negatives_for_centre(a.alias_prob, a.alias_alias, a.vocab, a.seed, pos, centre, a.negative,
                                         true, out);
            }
            __syncwarp();
            if (in_group && group > 0u) {
                my_target = scratch[group - 1u];
            }
            __syncwarp();
        } else if (in_group && group > 0u) {
            my_target = w2v_negative_slot(a.alias_prob, a.alias_alias, a.vocab, a.seed, pos, group - 1u);
        }

        // Stage: my group's target row (and zeroed accumulator); CBOW also builds h = mean of contexts.
        if (in_group) {
            const T* src = a.w_out + (unsigned long long)my_target * dim;
            for (unsigned i = member; i < dim; i += group_lanes) {
                my_row[i] = w2v_load(&src[i]);
                if (!CBOW) {
                    my_acc[i] = 0.0f;
                }
            }
        }
        if (CBOW) {
            const float inv = 1.0f / (float)n_ctx;
            for (unsigned d = lane; d < dim; d += W2V_WARP) {
                float sum = 0.0f;
                for (unsigned j = first; j <= last; ++j) {
                    if (j != k) {
                        sum += w2v_load(&a.w_in[(unsigned long long)w2v_gld(&ids[j]) * dim + d]);
                    }
                }
                acc[d] = sum * inv;
            }
        }
        __syncwarp();

        // CBOW trains one input (h in shared memory) per centre; skip-gram one per context.
        const unsigned n_inputs = CBOW ? 1u : n_ctx;
        for (unsigned c = 0; c < n_inputs; ++c) {
            const unsigned j = first + c < k ? first + c : first + c + 1u;
            // The input: h in shared memory (CBOW) or the context's row of w_in (skip-gram).
            T* h_row = a.w_in + (CBOW ? 0ull : (unsigned long long)w2v_gld(&ids[j]) * dim);

            // Group mapping: my group's score h · rows[group], reduced over the group's lanes.
            float score = 0.0f;
            if (in_group) {
                for (unsigned i = member; i < dim; i += group_lanes) {
                    const unsigned d = i + rot < dim ? i + rot : i + rot - dim;
                    const float hd = CBOW ? acc[d] : w2v_load(&h_row[d]);
                    score += hd * my_row[d];
                }
            }
            for (unsigned o = group_lanes >> 1; o > 0u; o >>= 1) {
                score += __shfl_xor_sync(W2V_FULL_MASK, score, o);
            }
            const float e = expf(-fabsf(score));
            const float step = lr * (w2v_sigmoid_e(score, e) - label);
            if (member == 0u && in_group) {
                loss += (double)w2v_bce_e(score, label, e);
            }
            if (CBOW && in_group) {
                // The target's update g_t·h; h is not written again before the end-of-centre sync.
                T* dst = a.w_out + (unsigned long long)my_target * dim;
                for (unsigned i = member; i < dim; i += group_lanes) {
                    w2v_atomic_add_w(&dst[i], -step * acc[i]);
                }
            }
            float g[MAXT] = {};
#pragma unroll
            for (unsigned t = 0; t < MAXT; ++t) {
                if (t < n_targets) {
                    g[t] = __shfl_sync(W2V_FULL_MASK, step, t * group_lanes);
                }
            }

            // Lane mapping: the input's gradient Σ_t g_t·rows[t]; skip-gram also accumulates g_t·h.
            for (unsigned d = lane; d < dim; d += W2V_WARP) {
                const float hd = CBOW ? acc[d] : w2v_load(&h_row[d]);
                float grad_h = 0.0f;
#pragma unroll
                for (unsigned t = 0; t < MAXT; ++t) {
                    if (t < n_targets) {
                        grad_h += g[t] * rows[t * dim + d];
                        if (!CBOW) {
                            acc[t * dim + d] += g[t] * hd;
                        }
                    }
                }
                if (CBOW) {
                    for (unsigned i = first; i <= last; ++i) {
                        if (i != k) {
                            w2v_atomic_add_w(&a.w_in[(unsigned long long)w2v_gld(&ids[i]) * dim + d], -grad_h);
                        }
                    }
                } else {
                    w2v_atomic_add_w(&h_row[d], -grad_h);
                }
            }
            // The next context may be the same word: its reads in the group mapping must see these
            // updates, so one warp trains its centre's contexts exactly in order.
            if (!CBOW) {
                __syncwarp();
            }
        }
        examples += (double)(n_inputs * n_targets);

        // Skip-gram: one write-back per target row of its gradient summed over the contexts (the
        // last context's sync made the lane-mapped accumulators visible to the group mapping).
        if (!CBOW && in_group) {
            T* dst = a.w_out + (unsigned long long)my_target * dim;
            for (unsigned i = member; i < dim; i += group_lanes) {
                w2v_atomic_add_w(&dst[i], -my_acc[i]);
            }
        }
        // The next centre stages rows in the group mapping: it must see these updates of w_out (its
        // targets may repeat ours) and may overwrite rows that other lanes read in the lane mapping.
        __syncwarp();
    }
    loss = w2v_warp_sum_f64(loss);
    if (lane == 0u) {
        w2v_gred(&a.loss_acc[0], loss);
        w2v_gred(&a.loss_acc[1], examples);
    }
}

// Picks the register-array size for 1 + negative targets. The plain kernels take up to 8 targets
// (negative ≤ 7, the common case) and compile for that size alone, so they need far fewer registers
// (more warps per SM); the `_wide` kernels take 9..32 targets. A launch outside its kernel's range
// (the host never makes one) trains nothing and makes the loss NaN, so it cannot pass unseen.
template <bool CBOW, bool WIDE, class T>
__device__ __forceinline__ void w2v_step_dispatch(const W2vStepArgs<T> a) {
    const unsigned n_targets = 1u + a.negative;
    if (!WIDE && n_targets <= 8u) {
        w2v_step<8, CBOW, T>(a);
    } else if (WIDE && n_targets > 8u && n_targets <= 16u) {
        w2v_step<16, CBOW, T>(a);
    } else if (WIDE && n_targets > 16u && n_targets <= 32u) {
        w2v_step<32, CBOW, T>(a);
    } else if (blockIdx.x == 0u && threadIdx.x == 0u) {
        atomicAdd(&a.loss_acc[0], __longlong_as_double(0x7FF8000000000000ll));
    }
}

// f32 storage, negative ≤ 7.
extern "C" __global__ void __launch_bounds__(256, 4)
w2v_skipgram_step(float* w_in, float* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                  const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                  unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                  float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                  double* loss_acc) {
    w2v_step_dispatch<false, false, float>(W2vStepArgs<float> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 4)
w2v_cbow_step(float* w_in, float* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
              const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
              unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
              float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
              double* loss_acc) {
    w2v_step_dispatch<true, false, float>(W2vStepArgs<float> W2V_STEP_ARGS);
}

// Half storage (binary16 bits; arithmetic stays f32), negative ≤ 7.
extern "C" __global__ void __launch_bounds__(256, 4)
w2v_skipgram_step_f16(unsigned short* w_in, unsigned short* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                      const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                      unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                      float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                      double* loss_acc) {
    w2v_step_dispatch<false, false, unsigned short>(W2vStepArgs<unsigned short> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 4)
w2v_cbow_step_f16(unsigned short* w_in, unsigned short* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                  const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                  unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                  float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                  double* loss_acc) {
    w2v_step_dispatch<true, false, unsigned short>(W2vStepArgs<unsigned short> W2V_STEP_ARGS);
}

// The `_wide` steps: 9..32 targets (negative 8..31), f32 then half storage.
extern "C" __global__ void __launch_bounds__(256, 3)
w2v_skipgram_step_wide(float* w_in, float* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                       const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                       unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                       float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                       double* loss_acc) {
    w2v_step_dispatch<false, true, float>(W2vStepArgs<float> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 3)
w2v_cbow_step_wide(float* w_in, float* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                   const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                   unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                   float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                   double* loss_acc) {
    w2v_step_dispatch<true, true, float>(W2vStepArgs<float> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 3)
w2v_skipgram_step_f16_wide(unsigned short* w_in, unsigned short* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                           const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                           unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                           float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                           double* loss_acc) {
    w2v_step_dispatch<false, true, unsigned short>(W2vStepArgs<unsigned short> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 3)
w2v_cbow_step_f16_wide(unsigned short* w_in, unsigned short* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                       const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                       unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                       float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                       double* loss_acc) {
    w2v_step_dispatch<true, true, unsigned short>(W2vStepArgs<unsigned short> W2V_STEP_ARGS);
}
