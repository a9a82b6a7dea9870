// common.cuh: device helpers shared by every kernel file; no kernels here.
//
// - Philox4x32-10 keyed exactly as src/rng.rs (key = [seed lo, seed hi], counter = [pos lo, pos hi,
//   purpose, block]) so the GPU draws the same numbers as the CPU for the same key.
// - `w2v_below` (Lemire's multiply-shift), the alias draw with u32 thresholds and the negatives of a
//   centre in both modes, as src/sampler.rs; the effective window as src/plan.rs.
// - Numerically stable sigmoid / binary cross-entropy, warp reductions.
//
// The same text compiles three ways: nvcc (PTX at build time), NVRTC (at start-up, with this file
// inlined by build.rs) and g++ for the emulated device (kernels/emulator/cuda_emu.h is included
// first and defines W2V_EMULATOR). Nothing here includes a system header, because NVRTC has none.
#pragma once

// Mirrors of the Rust constants (src/plan.rs, src/rng.rs, src/sampler.rs). Keep them in step.
#define W2V_SPAN_LEN 8192u
#define W2V_SENTENCE_BREAK 0xFFFFFFFFu
#define W2V_PURPOSE_SUBSAMPLE 0u
#define W2V_PURPOSE_WINDOW 1u
#define W2V_PURPOSE_NEGATIVE 2u
#define W2V_DISTINCT_MAX_SLOTS 64u
#define W2V_FULL_MASK 0xFFFFFFFFu
#define W2V_WARP 32u

// Dynamic shared memory: CUDA's `extern __shared__` array, or the emulator's per-block buffer.
#ifdef W2V_EMULATOR
#define W2V_DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(w2v_emu_dynamic_shared())
#else
#define W2V_DYNAMIC_SHARED(T, name) extern __shared__ __align__(16) T name[]
#endif

struct W2vPhilox {
    unsigned v[4];
};

// One Philox4x32 block, 10 rounds, Random123's schedule (the key is bumped before rounds 2..10).
__device__ __forceinline__ W2vPhilox w2v_philox4x32_10(unsigned c0, unsigned c1, unsigned c2,
                                                              unsigned c3, unsigned k0, unsigned k1) {
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        const unsigned hi0 = __umulhi(0xD2511F53u, c0);
        const unsigned lo0 = 0xD2511F53u * c0;
        const unsigned hi1 = __umulhi(0xCD9E8D57u, c2);
        const unsigned lo1 = 0xCD9E8D57u * c2;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    W2vPhilox r;
    r.v[0] = c0;
    r.v[1] = c1;
    r.v[2] = c2;
    r.v[3] = c3;
    return r;
}

// The four words for (seed, pos, purpose, block): rng::draw.
__device__ __forceinline__ W2vPhilox w2v_draw(unsigned long long seed, unsigned long long pos,
                                                     unsigned purpose, unsigned block) {
    return w2v_philox4x32_10((unsigned)pos, (unsigned)(pos >> 32), purpose, block, (unsigned)seed,
                             (unsigned)(seed >> 32));
}

// A uniform u32 onto 0..n without division: rng::below.
__device__ __forceinline__ unsigned w2v_below(unsigned r, unsigned n) {
    return __umulhi(r, n);
}

// One alias draw from two uniform words: AliasTable::sample.
__device__ __forceinline__ unsigned w2v_alias_draw(const unsigned* prob, const unsigned* alias,
                                                          unsigned vocab, unsigned a, unsigned b) {
    const unsigned i = w2v_below(a, vocab);
    return b < prob[i] ? i : alias[i];
}

// Negative slot s of the centre at key position pos: words 2(s%2), 2(s%2)+1 of Philox block s/2.
__device__ __forceinline__ unsigned w2v_negative_slot(const unsigned* prob, const unsigned* alias,
                                                             unsigned vocab, unsigned long long seed,
                                                             unsigned long long pos, unsigned s) {
    const W2vPhilox w = w2v_draw(seed, pos, W2V_PURPOSE_NEGATIVE, s / 2u);
    const bool odd = (s & 1u) != 0u;
    return w2v_alias_draw(prob, alias, vocab, odd ? w.v[2] : w.v[0], odd ? w.v[3] : w.v[1]);
}

// The k negatives of a centre, sampler::negatives_for_centre in both modes. `Out` is anything with
// set(i, v) and contains(n, v) (is v among the first n set): a plain pointer or registers.
// Distinct mode: rejection of the centre and of repeats over at most DISTINCT_MAX_SLOTS·k slots,
// then the deterministic upward scan from the centre (callers guarantee vocab > k).
template <class Out>
__device__ __forceinline__ void w2v_negatives_for_centre(const unsigned* prob, const unsigned* alias,
                                                                unsigned vocab, unsigned long long seed,
                                                                unsigned long long pos, unsigned centre,
                                                                unsigned k, bool distinct, Out& out) {
    if (!distinct) {
        for (unsigned s = 0; s < k; ++s) {
            out.set(s, w2v_negative_slot(prob, alias, vocab, seed, pos, s));
        }
        return;
    }
    unsigned filled = 0;
    for (unsigned s = 0; filled < k && s < W2V_DISTINCT_MAX_SLOTS * k; ++s) {
        const unsigned cand = w2v_negative_slot(prob, alias, vocab, seed, pos, s);
        if (cand != centre && !out.contains(filled, cand)) {
            out.set(filled, cand);
            ++filled;
        }
    }
    unsigned cand = centre;
    while (filled < k) {
        cand = (cand + 1u) % vocab;
        if (cand != centre && !out.contains(filled, cand)) {
            out.set(filled, cand);
            ++filled;
        }
    }
}

// `Out` over a plain pointer.
struct W2vPtrOut {
    unsigned* p;
    __device__ __forceinline__ void set(unsigned i, unsigned v) { p[i] = v; }
    __device__ __forceinline__ bool contains(unsigned n, unsigned v) const {
        for (unsigned j = 0; j < n; ++j) {
            if (p[j] == v) {
                return true;
            }
        }
        return false;
    }
};

// Half-width of the window around the centre at key position pos: plan::effective_window.
__device__ __forceinline__ unsigned w2v_effective_window(unsigned long long seed, unsigned long long pos,
                                                                unsigned window, bool fixed) {
    if (fixed) {
        return window;
    }
    return window - w2v_below(w2v_draw(seed, pos, W2V_PURPOSE_WINDOW, 0u).v[0], window);
}

// Whether a token of word `id` at key position pos survives subsampling: sampler::keep_token.
__device__ __forceinline__ bool w2v_keep_token(const unsigned* keep, unsigned long long seed,
                                                      unsigned long long pos, unsigned id) {
    const unsigned t = keep[id];
    return t == 0xFFFFFFFFu || w2v_draw(seed, pos, W2V_PURPOSE_SUBSAMPLE, 0u).v[0] < t;
}

// σ(x) and the binary cross-entropy with label t, both from e = exp(-|x|) so nothing overflows:
// loss = max(x, 0) - x·t + log1p(e), the CPU backend's form.
__device__ __forceinline__ float w2v_sigmoid_e(float x, float e) {
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

__device__ __forceinline__ float w2v_bce_e(float x, float t, float e) {
    return fmaxf(x, 0.0f) - x * t + log1pf(e);
}

// Sum over the 32 lanes of a warp; every lane gets the total. Call from warp-uniform control flow.
__device__ __forceinline__ float w2v_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(W2V_FULL_MASK, v, o);
    }
    return v;
}

__device__ __forceinline__ double w2v_warp_sum_f64(double v) {
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(W2V_FULL_MASK, v, o);
    }
    return v;
}

// Inclusive prefix sum over the lanes of a warp.
__device__ __forceinline__ unsigned w2v_warp_inclusive_scan(unsigned v, unsigned lane) {
    for (unsigned o = 1; o < W2V_WARP; o <<= 1) {
        const unsigned u = __shfl_up_sync(W2V_FULL_MASK, v, o);
        if (lane >= o) {
            v += u;
        }
    }
    return v;
}

// The learning rate of the token at batch offset `off`: lr_begin + (lr_end - lr_begin)·(off / len),
// rounded step by step as the Rust f32 expression (no fused multiply-add), plan::Batch::lr_at.
__device__ __forceinline__ float w2v_lr_at(float lr_begin, float lr_end, unsigned off, unsigned len) {
    const float t = __fdiv_rn((float)off, (float)len);
    return __fadd_rn(lr_begin, __fmul_rn(__fsub_rn(lr_end, lr_begin), t));
}
