// sgns_v2.cu: the fused training step, version 2 (issue 11): skip-gram and CBOW with negative
// sampling, Hogwild, exactly the semantics of src/train/plan.rs, with the centre's target rows and
// their gradient accumulators in registers, skip-gram's context rows resident in static shared
// memory (FULL-W2V's lifetime reuse) and no dynamic shared memory. Version 1 (sgns.cu) stays as
// the reference variant (`--kernel v1`) and for what v2 does not take.
//
// w2v_skipgram_step_v2_N / w2v_cbow_step_v2_N, N = 1, 2, 3 (dim ≤ 128·N); `_f16_N` for half storage
//   (the `--storage f16` layout of sgns.cu's `_f16` steps; dim even) and `_bf16_N` for bfloat16
//   (`--storage bf16`, W2vBf16 bits; dim even): see "Half storage" below.
//   Arguments, inputs and outputs: exactly those of w2v_skipgram_step / w2v_cbow_step (sgns.cu),
//   for f32 storage, negative ≤ 5 (1 + negative ≤ 6 targets) and dim ≤ 128·N. A launch outside that
//   range trains nothing and makes the loss NaN.
//   Layout: each lane owns 4·N slots of every row. Where the compilation has vector atomics
//   (W2V_VECTOR_ATOMICS: sm_90+, and the emulator) and dim % 4 == 0, in every storage, slot e is dim
//   4·(lane + 32·(e/4)) + e%4: each lane a contiguous run of 4 dims per chunk, read with one vector
//   load and updated with one vector atomic: f32 a 16-byte load and `red.global.add.v4.f32` (a warp
//   touches 512 contiguous bytes an instruction), half and bfloat16 an 8-byte load and
//   `red.global.add.noftz.v2.f16x2` / `.v2.bf16x2` (256 bytes). Otherwise f32's slot e is dim
//   lane + 32·e (scalar loads and atomics), and half storage's slots 2p, 2p+1 are dims
//   2·(lane + 32·p), + 1 (one 32-bit load and one packed f16x2 / bf16x2 atomic a pair; bf16 on sm_80:
//   a compare-and-swap loop): coalesced, 128 contiguous bytes an instruction. Slots past dim hold 0
//   and touch no memory. Rows are f32 in registers and in the rings whatever the storage.
//   Per centre (one warp, as v1): the targets (centre, K negatives; replace mode: lane s draws slot s;
//   distinct mode: lane 0 draws them into static shared memory) and their rows are loaded into
//   registers once; skip-gram then, for each context in order, finds the context row in the warp's
//   ring (loading it on a miss, see "resident context rows" below), forms the 1+K partial dot
//   products per lane and reduces all of them with one butterfly (8 values, 9 shuffles; lanes
//   4t..4t+3 end with target t's score), broadcasts the 1+K gradients, updates the resident context
//   row and accumulates g_t·h per target in registers; the accumulators are written back once per
//   centre. CBOW forms h = mean of the context rows (from global memory), the same one reduction,
//   w_out[t] −= g_t·h and every context row −= Σ_t g_t·w_out[t] with one atomic per slot.
//   Geometry: CBOW blockDim.x = 256 (8 warps), warps grid-stride over the virtual centres as v1.
//   Skip-gram blockDim.x = 32·W (W = 4, 2, 1 warps for N = 1, 2, 3: the rings' static shared
//   memory, 11·N KiB a warp, fits 48 KiB a block), warps grid-stride over runs of W2V_V2_RUN
//   virtual centres of a span. Any grid (the host launches a persistent grid of as many blocks as
//   the device holds at once). Shared memory, static: 128 bytes a warp (distinct-mode negatives),
//   skip-gram's rings, and for CBOW an unused 1-slot stand-in (N KiB).
//   Races: a lane reads and writes only its own slots of any row (global or resident), so a single
//   warp trains its centres' contexts strictly in order with no warp barrier between them: one warp
//   reproduces the sequential order of plan.rs (to float rounding: a resident row goes back as
//   row + (resident − loaded), exact unless the row changed sign or scale by 2 meanwhile). Between
//   warps it is Hogwild as v1: no update is lost, and a row resident in one warp does not see
//   another warp's updates until it is reloaded (at most a run of 128 centres later).
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

// Half storage (`_f16` steps, dim % 2 == 0), values widened to f32 in registers. VEC (vector
// atomics, dim % 4 == 0): the lane layout of f32's VEC path, the lane's 4 contiguous halves of a
// chunk read with one 8-byte load and updated with one `red.global.add.noftz.v2.f16x2` (a warp
// touches 256 contiguous bytes an instruction). Otherwise slot pair p of a lane is the half2 at
// dims 2·(lane + 32·p) and + 1: one 32-bit load, one packed f16x2 atomic (128 contiguous bytes).
template <unsigned N, bool VEC>
__device__ __forceinline__ void w2v_v2_load(const unsigned short* row, unsigned dim, unsigned lane,
                                            W2vSlots<N>& x) {
    if (VEC) {
#pragma unroll
        for (unsigned j = 0; j < N; ++j) {
            const unsigned d = 4u * (lane + 32u * j);
            const W2vH4 h = w2v_gld8_if(d < dim, reinterpret_cast<const W2vH4*>(row + d));
            x.v[4u * j] = w2v_h2f(h.x);
            x.v[4u * j + 1u] = w2v_h2f(h.y);
            x.v[4u * j + 2u] = w2v_h2f(h.z);
            x.v[4u * j + 3u] = w2v_h2f(h.w);
        }
    } else {
#pragma unroll
        for (unsigned p = 0; p < 2u * N; ++p) {
            const unsigned d = 2u * (lane + 32u * p);
            const unsigned w = w2v_gld_if(d < dim, reinterpret_cast<const unsigned*>(row + d), 0u);
            x.v[2u * p] = w2v_h2f((unsigned short)w);
            x.v[2u * p + 1u] = w2v_h2f((unsigned short)(w >> 16));
        }
    }
}

// bfloat16 storage (`_bf16` steps, dim % 2 == 0): the layouts of half storage, bf16x2 atomics.
template <unsigned N, bool VEC>
__device__ __forceinline__ void w2v_v2_load(const W2vBf16* row, unsigned dim, unsigned lane, W2vSlots<N>& x) {
    if (VEC) {
#pragma unroll
        for (unsigned j = 0; j < N; ++j) {
            const unsigned d = 4u * (lane + 32u * j);
            // Each word is a pair (low dim in the low bits): the shift and the mask widen it.
            const W2vU2 w = w2v_gld8_if(d < dim, reinterpret_cast<const W2vU2*>(row + d));
            x.v[4u * j] = __uint_as_float(w.x << 16);
            x.v[4u * j + 1u] = __uint_as_float(w.x & 0xFFFF0000u);
            x.v[4u * j + 2u] = __uint_as_float(w.y << 16);
            x.v[4u * j + 3u] = __uint_as_float(w.y & 0xFFFF0000u);
        }
    } else {
#pragma unroll
        for (unsigned p = 0; p < 2u * N; ++p) {
            const unsigned d = 2u * (lane + 32u * p);
            const unsigned w = w2v_gld_if(d < dim, reinterpret_cast<const unsigned*>(row + d), 0u);
            x.v[2u * p] = w2v_bf2f((unsigned short)w);
            x.v[2u * p + 1u] = w2v_bf2f((unsigned short)(w >> 16));
        }
    }
}

// The packed 16-bit atomics by storage type (half: `unsigned short`; bfloat16: W2vBf16), so that
// one `w2v_v2_add` below serves both: four values (the vector layout) or a pair.
__device__ __forceinline__ void w2v_gred16x4_if(bool on, unsigned short* p, W2vF4 v W2V_SITE_PARAM) {
    w2v_gred_h4_if(on, p, v W2V_SITE_ARG);
}
__device__ __forceinline__ void w2v_gred16x4_if(bool on, W2vBf16* p, W2vF4 v W2V_SITE_PARAM) {
    w2v_gred_bf4_if(on, p, v W2V_SITE_ARG);
}
__device__ __forceinline__ void w2v_gred16x2_if(bool on, unsigned short* p, float a, float b W2V_SITE_PARAM) {
    w2v_gred_h2_if(on, p, a, b W2V_SITE_ARG);
}
__device__ __forceinline__ void w2v_gred16x2_if(bool on, W2vBf16* p, float a, float b W2V_SITE_PARAM) {
    w2v_gred_bf2_if(on, p, a, b W2V_SITE_ARG);
}

// row[slot] += scale · x[slot] for a 16-bit storage H (half or bfloat16), in either layout.
template <unsigned N, bool VEC, class H>
__device__ __forceinline__ void w2v_v2_add(H* row, unsigned dim, unsigned lane, const W2vSlots<N>& x, float scale) {
    if (VEC) {
#pragma unroll
        for (unsigned j = 0; j < N; ++j) {
            const unsigned d = 4u * (lane + 32u * j);
            const W2vF4 f{scale * x.v[4u * j], scale * x.v[4u * j + 1u], scale * x.v[4u * j + 2u],
                          scale * x.v[4u * j + 3u]};
            w2v_gred16x4_if(d < dim, row + d, f);
        }
    } else {
#pragma unroll
        for (unsigned p = 0; p < 2u * N; ++p) {
            const unsigned d = 2u * (lane + 32u * p);
            w2v_gred16x2_if(d < dim, row + d, scale * x.v[2u * p], scale * x.v[2u * p + 1u]);
        }
    }
}

// Skip-gram's resident context rows (FULL-W2V's lifetime reuse): a warp walks a run of
// W2V_V2_RUN consecutive kept centres of a span and keeps the `w_in` rows its contexts read in a
// ring of W2V_V2_RING slots in static shared memory, keyed by word: a row is loaded once when a
// context first needs it, read and updated there by every later context of the run (so the
// resident copy *is* the row for this warp, as sequential code has it), and written back once,
// as one atomic add of (row − row as loaded) per slot, when the least recently used slot is
// needed for another word or the run ends. 11 slots hold a whole window of 5 on each side.
// Each lane keeps its own slots of every resident row (the [slot][chunk][lane] float4s below),
// so no barrier is needed; lane s < RING holds slot s's word (`tag`) and 1 + the centre that last
// used it (`last`), and a lookup is one ballot.
#define W2V_V2_RING 11u
#define W2V_V2_RUN 128u
#define W2V_V2_EMPTY 0xFFFFFFFFu

// Warps per block of the skip-gram steps: their rings take 11·N KiB a warp, ≤ 48 KiB a block.
template <unsigned N>
struct W2vV2Warps {
    static constexpr unsigned skipgram = N == 1u ? 4u : N == 2u ? 2u : 1u;
};

template <unsigned N>
struct W2vRing {
    W2vF4 (*cur)[N][32];
    W2vF4 (*base)[N][32];
    unsigned tag;
    unsigned last;
};

template <unsigned N>
__device__ __forceinline__ void w2v_ring_get(const W2vF4 (*rows)[N][32], unsigned slot, unsigned lane,
                                             W2vSlots<N>& x) {
#pragma unroll
    for (unsigned j = 0; j < N; ++j) {
        const W2vF4 f = rows[slot][j][lane];
        x.v[4u * j] = f.x;
        x.v[4u * j + 1u] = f.y;
        x.v[4u * j + 2u] = f.z;
        x.v[4u * j + 3u] = f.w;
    }
}

template <unsigned N>
__device__ __forceinline__ void w2v_ring_put(W2vF4 (*rows)[N][32], unsigned slot, unsigned lane,
                                             const W2vSlots<N>& x) {
#pragma unroll
    for (unsigned j = 0; j < N; ++j) {
        rows[slot][j][lane] = W2vF4{x.v[4u * j], x.v[4u * j + 1u], x.v[4u * j + 2u], x.v[4u * j + 3u]};
    }
}

// w_in[word] += (resident row − row as loaded), for the lane's slots: the slot's one write-back.
template <unsigned N, bool VEC, class T>
__device__ __forceinline__ void w2v_ring_write_back(const W2vRing<N>& r, unsigned slot, unsigned word, T* w_in,
                                                    unsigned dim, unsigned lane) {
    W2vSlots<N> c, b;
    w2v_ring_get<N>(r.cur, slot, lane, c);
    w2v_ring_get<N>(r.base, slot, lane, b);
#pragma unroll
    for (unsigned e = 0; e < 4u * N; ++e) {
        c.v[e] -= b.v[e];
    }
    w2v_v2_add<N, VEC>(w_in + (unsigned long long)word * dim, dim, lane, c, 1.0f);
}

// The slot holding `word`'s row for centre k, loading it (after writing back the least recently
// used slot) when it is not resident. Warp-uniform: every lane gets the same slot.
template <unsigned N, bool VEC, class T>
__device__ __forceinline__ unsigned w2v_ring_slot(W2vRing<N>& r, unsigned word, unsigned k, T* w_in, unsigned dim,
                                                  unsigned lane) {
    const unsigned hit = __ballot_sync(W2V_FULL_MASK, lane < W2V_V2_RING && r.tag == word);
    unsigned slot;
    if (hit != 0u) {
        slot = (unsigned)__ffs((int)hit) - 1u;
    } else {
        // The least (last use, lane) over the ring's lanes: an empty slot first, else the LRU one.
        unsigned key = lane < W2V_V2_RING ? (r.last << 5) | lane : 0xFFFFFFFFu;
#pragma unroll
        for (unsigned o = 16u; o > 0u; o >>= 1) {
            const unsigned other = __shfl_xor_sync(W2V_FULL_MASK, key, o);
            key = other < key ? other : key;
        }
        slot = key & 31u;
        const unsigned old = __shfl_sync(W2V_FULL_MASK, r.tag, slot);
        if (old != W2V_V2_EMPTY) {
            w2v_ring_write_back<N, VEC>(r, slot, old, w_in, dim, lane);
        }
        W2vSlots<N> x;
        w2v_v2_load<N, VEC>(w_in + (unsigned long long)word * dim, dim, lane, x);
        w2v_ring_put<N>(r.cur, slot, lane, x);
        w2v_ring_put<N>(r.base, slot, lane, x);
        if (lane == slot) {
            r.tag = word;
        }
    }
    if (lane == slot) {
        r.last = k + 1u;
    }
    return slot;
}

// Every resident row written back (the end of a run).
template <unsigned N, bool VEC, class T>
__device__ __forceinline__ void w2v_ring_flush(W2vRing<N>& r, T* w_in, unsigned dim, unsigned lane) {
    for (unsigned s = 0; s < W2V_V2_RING; ++s) {
        const unsigned word = __shfl_sync(W2V_FULL_MASK, r.tag, s);
        if (word != W2V_V2_EMPTY) {
            w2v_ring_write_back<N, VEC>(r, s, word, w_in, dim, lane);
        }
    }
    r.tag = W2V_V2_EMPTY;
    r.last = 0u;
}

// One kept centre k of span s (its `count` kept tokens at `ids`): everything up to the targets is
// warp-uniform (every lane computes the same values). Skip-gram reads and updates its context
// rows in `ring`; CBOW (ring unused) in global memory.
template <unsigned N, bool CBOW, bool VEC, class T>
__device__ __forceinline__ void w2v_v2_centre(const W2vStepArgs<T>& a, unsigned s, unsigned k, unsigned count,
                                              const unsigned* ids, unsigned* scratch, W2vRing<N>& ring,
                                              unsigned lane, double& loss, double& examples) {
    const unsigned dim = a.dim;
    const unsigned n_targets = 1u + a.negative;
    // This lane's target in the reduction (lanes 4t..4t+3 hold target t's score).
    const unsigned my_t = lane >> 2;
    const float label = my_t == 0u ? 1.0f : 0.0f;
    const unsigned centre = w2v_gld(&ids[k]);
    if (centre == W2V_SENTENCE_BREAK) {
        return;
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
        return;
    }

    // The targets: [centre, negatives...], every lane holding all of them.
    unsigned tgt[W2V_V2_TARGETS];
    tgt[0] = centre;
    if (a.distinct != 0u) {
        if (lane == 0u) {
            W2vPtrOut out{scratch};
            w2v_negatives_for_centre(a.alias_prob, a.alias_alias, a.vocab, a.seed, pos, centre, a.negative, true,
                                     out);
        }
        __syncwarp();
#pragma unroll
        for (unsigned t = 1; t < W2V_V2_TARGETS; ++t) {
            tgt[t] = t < n_targets ? scratch[t - 1u] : centre;
        }
        __syncwarp();
    } else {
        const unsigned mine =
            lane < a.negative ? w2v_negative_slot(a.alias_prob, a.alias_alias, a.vocab, a.seed, pos, lane) : centre;
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
        unsigned slot = 0u;
        if (!CBOW) {
            slot = w2v_ring_slot<N, VEC>(ring, w2v_gld(&ids[j]), k, a.w_in, dim, lane);
            w2v_ring_get<N>(ring.cur, slot, lane, h);
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
                    w2v_v2_add<N, VEC>(a.w_in + (unsigned long long)w2v_gld(&ids[i]) * dim, dim, lane, grad, -1.0f);
                }
            }
        } else {
            // The context row's update lands in its resident copy, which the next context (maybe
            // the same word) reads: w_in[context] −= grad, as plan.rs.
#pragma unroll
            for (unsigned e = 0; e < 4u * N; ++e) {
                h.v[e] -= grad.v[e];
            }
            w2v_ring_put<N>(ring.cur, slot, lane, h);
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

// CBOW: warps grid-stride over the virtual centres as v1. Skip-gram: over runs of W2V_V2_RUN
// virtual centres of a span, each walked in order by one warp with its ring (so one warp walks
// the whole batch in plan.rs's order).
// The v2 steps' static shared memory: distinct-mode negatives, and skip-gram's rings (CBOW has
// none: one slot of one warp stands in, unused). Declared once per kernel (in the dispatch, not in
// the templates it instantiates twice, which would allocate it twice).
template <unsigned N, bool CBOW>
struct W2vV2Shared {
    static constexpr unsigned warps = CBOW ? W2V_V2_WARPS : W2vV2Warps<N>::skipgram;
    static constexpr unsigned ring_warps = CBOW ? 1u : warps;
    static constexpr unsigned ring_slots = CBOW ? 1u : W2V_V2_RING;
    unsigned scratch[warps][32];
    W2vF4 cur[ring_warps][ring_slots][N][32];
    W2vF4 base[ring_warps][ring_slots][N][32];
};

template <unsigned N, bool CBOW, bool VEC, class T>
__device__ __forceinline__ void w2v_step_v2(const W2vStepArgs<T>& a, W2vV2Shared<N, CBOW>& sh) {
    const unsigned lane = threadIdx.x % W2V_WARP;
    const unsigned warp = threadIdx.x / W2V_WARP;
    const unsigned warps_per_block = blockDim.x / W2V_WARP;
    W2vRing<N> ring{sh.cur[CBOW ? 0u : warp], sh.base[CBOW ? 0u : warp], W2V_V2_EMPTY, 0u};

    double loss = 0.0;
    double examples = 0.0;
    const unsigned run = CBOW ? 1u : W2V_V2_RUN;
    const unsigned long long n_runs = (unsigned long long)a.n_spans * (W2V_SPAN_LEN / run);
    const unsigned long long stride = (unsigned long long)gridDim.x * warps_per_block;
    for (unsigned long long r = (unsigned long long)blockIdx.x * warps_per_block + warp; r < n_runs; r += stride) {
        const unsigned long long v = r * run;
        const unsigned s = (unsigned)(v / W2V_SPAN_LEN);
        const unsigned k0 = (unsigned)(v % W2V_SPAN_LEN);
        const unsigned count = w2v_gld(&a.kept_count[s]);
        if (k0 >= count) {
            continue;
        }
        const unsigned* ids = a.kept_ids + (unsigned long long)s * W2V_SPAN_LEN;
        const unsigned end = count - k0 < run ? count : k0 + run;
        for (unsigned k = k0; k < end; ++k) {
            w2v_v2_centre<N, CBOW, VEC, T>(a, s, k, count, ids, sh.scratch[warp], ring, lane, loss, examples);
        }
        if (!CBOW) {
            w2v_ring_flush<N, VEC>(ring, a.w_in, a.dim, lane);
        }
    }
    loss = w2v_warp_sum_f64(loss);
    if (lane == 0u) {
        w2v_gred(&a.loss_acc[0], loss);
        w2v_gred(&a.loss_acc[1], examples);
    }
}

// The range checks and the layout choice, for every storage: vector only with vector atomics and
// dim % 4 == 0.
template <unsigned N, bool CBOW, class T>
__device__ __forceinline__ void w2v_step_v2_dispatch(const W2vStepArgs<T> a) {
    const bool half = sizeof(T) == 2u;
    __shared__ W2vV2Shared<N, CBOW> sh;
    if (1u + a.negative > W2V_V2_TARGETS || a.dim > 128u * N || blockDim.x > 32u * sh.warps ||
        (half && a.dim % 2u != 0u)) {
        if (blockIdx.x == 0u && threadIdx.x == 0u) {
            atomicAdd(&a.loss_acc[0], __longlong_as_double(0x7FF8000000000000ll));
        }
        return;
    }
    if (W2V_VECTOR_ATOMICS && a.dim % 4u == 0u) {
        w2v_step_v2<N, CBOW, true, T>(a, sh);
    } else {
        w2v_step_v2<N, CBOW, false, T>(a, sh);
    }
}

// The entry points: skip-gram then CBOW, dim ≤ 128, 256, 384. With 2 blocks of 8 warps an SM
// (`_1`) or 1 (`_2`, `_3`) ptxas keeps every row in registers with no spills (check-ptx.sh gates it).
extern "C" __global__ void __launch_bounds__(128, 4)
w2v_skipgram_step_v2_1(float* w_in, float* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                   const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                   unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                   float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                   double* loss_acc) {
    w2v_step_v2_dispatch<1, false, float>(W2vStepArgs<float> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(64, 4)
w2v_skipgram_step_v2_2(float* w_in, float* w_out, unsigned dim, const unsigned* kept_ids, const unsigned* kept_off,
                   const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob, const unsigned* alias_alias,
                   unsigned vocab, unsigned long long seed, unsigned long long key_first, unsigned batch_len, float lr_begin,
                   float lr_end, unsigned window, unsigned fixed_window, unsigned negative, unsigned distinct,
                   double* loss_acc) {
    w2v_step_v2_dispatch<2, false, float>(W2vStepArgs<float> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(32, 6)
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
extern "C" __global__ void __launch_bounds__(128, 4)
w2v_skipgram_step_v2_f16_1(unsigned short* w_in, unsigned short* w_out, unsigned dim, const unsigned* kept_ids,
                   const unsigned* kept_off, const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob,
                   const unsigned* alias_alias, unsigned vocab, unsigned long long seed, unsigned long long key_first,
                   unsigned batch_len, float lr_begin, float lr_end, unsigned window, unsigned fixed_window,
                   unsigned negative, unsigned distinct, double* loss_acc) {
    w2v_step_v2_dispatch<1, false, unsigned short>(W2vStepArgs<unsigned short> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(64, 4)
w2v_skipgram_step_v2_f16_2(unsigned short* w_in, unsigned short* w_out, unsigned dim, const unsigned* kept_ids,
                   const unsigned* kept_off, const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob,
                   const unsigned* alias_alias, unsigned vocab, unsigned long long seed, unsigned long long key_first,
                   unsigned batch_len, float lr_begin, float lr_end, unsigned window, unsigned fixed_window,
                   unsigned negative, unsigned distinct, double* loss_acc) {
    w2v_step_v2_dispatch<2, false, unsigned short>(W2vStepArgs<unsigned short> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(32, 6)
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

// bfloat16 storage (dim % 2 == 0): the same steps again.
// (3 blocks an SM, as an A100's shared memory holds: the compute_75 PTX's software bf16 path
// needs more than 128 registers there.)
extern "C" __global__ void __launch_bounds__(128, 3)
w2v_skipgram_step_v2_bf16_1(W2vBf16* w_in, W2vBf16* w_out, unsigned dim, const unsigned* kept_ids,
                   const unsigned* kept_off, const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob,
                   const unsigned* alias_alias, unsigned vocab, unsigned long long seed, unsigned long long key_first,
                   unsigned batch_len, float lr_begin, float lr_end, unsigned window, unsigned fixed_window,
                   unsigned negative, unsigned distinct, double* loss_acc) {
    w2v_step_v2_dispatch<1, false, W2vBf16>(W2vStepArgs<W2vBf16> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(64, 4)
w2v_skipgram_step_v2_bf16_2(W2vBf16* w_in, W2vBf16* w_out, unsigned dim, const unsigned* kept_ids,
                   const unsigned* kept_off, const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob,
                   const unsigned* alias_alias, unsigned vocab, unsigned long long seed, unsigned long long key_first,
                   unsigned batch_len, float lr_begin, float lr_end, unsigned window, unsigned fixed_window,
                   unsigned negative, unsigned distinct, double* loss_acc) {
    w2v_step_v2_dispatch<2, false, W2vBf16>(W2vStepArgs<W2vBf16> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(32, 6)
w2v_skipgram_step_v2_bf16_3(W2vBf16* w_in, W2vBf16* w_out, unsigned dim, const unsigned* kept_ids,
                   const unsigned* kept_off, const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob,
                   const unsigned* alias_alias, unsigned vocab, unsigned long long seed, unsigned long long key_first,
                   unsigned batch_len, float lr_begin, float lr_end, unsigned window, unsigned fixed_window,
                   unsigned negative, unsigned distinct, double* loss_acc) {
    w2v_step_v2_dispatch<3, false, W2vBf16>(W2vStepArgs<W2vBf16> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 2)
w2v_cbow_step_v2_bf16_1(W2vBf16* w_in, W2vBf16* w_out, unsigned dim, const unsigned* kept_ids,
                   const unsigned* kept_off, const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob,
                   const unsigned* alias_alias, unsigned vocab, unsigned long long seed, unsigned long long key_first,
                   unsigned batch_len, float lr_begin, float lr_end, unsigned window, unsigned fixed_window,
                   unsigned negative, unsigned distinct, double* loss_acc) {
    w2v_step_v2_dispatch<1, true, W2vBf16>(W2vStepArgs<W2vBf16> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 1)
w2v_cbow_step_v2_bf16_2(W2vBf16* w_in, W2vBf16* w_out, unsigned dim, const unsigned* kept_ids,
                   const unsigned* kept_off, const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob,
                   const unsigned* alias_alias, unsigned vocab, unsigned long long seed, unsigned long long key_first,
                   unsigned batch_len, float lr_begin, float lr_end, unsigned window, unsigned fixed_window,
                   unsigned negative, unsigned distinct, double* loss_acc) {
    w2v_step_v2_dispatch<2, true, W2vBf16>(W2vStepArgs<W2vBf16> W2V_STEP_ARGS);
}

extern "C" __global__ void __launch_bounds__(256, 1)
w2v_cbow_step_v2_bf16_3(W2vBf16* w_in, W2vBf16* w_out, unsigned dim, const unsigned* kept_ids,
                   const unsigned* kept_off, const unsigned* kept_count, unsigned n_spans, const unsigned* alias_prob,
                   const unsigned* alias_alias, unsigned vocab, unsigned long long seed, unsigned long long key_first,
                   unsigned batch_len, float lr_begin, float lr_end, unsigned window, unsigned fixed_window,
                   unsigned negative, unsigned distinct, double* loss_acc) {
    w2v_step_v2_dispatch<3, true, W2vBf16>(W2vStepArgs<W2vBf16> W2V_STEP_ARGS);
}
