// common.cuh: device helpers shared by every kernel file; no kernels here.
//
// - Philox4x32-10 keyed exactly as src/train/rng.rs (key = [seed lo, seed hi], counter = [pos lo, pos hi,
//   purpose, block]) so the GPU draws the same numbers as the CPU for the same key.
// - `w2v_below` (Lemire's multiply-shift), the alias draw with u32 thresholds and the negatives of a
//   centre in both modes, as src/train/sampler.rs; the effective window as src/train/plan.rs.
// - Numerically stable sigmoid / binary cross-entropy, warp reductions.
// - IEEE binary16 ("half") storage for `--storage f16`, written out here because cuda_fp16.h is a
//   system header: a half is its 16 bits in an `unsigned short`. f16 → f32 is exact; f32 → f16 rounds
//   to nearest even, with subnormals, overflow to ±inf and NaN (quiet, top payload bits kept) as
//   IEEE 754 and the `half` crate's f16::from_f32. `w2v_atomic_add_f16` adds an f32 to a half in
//   memory: read, add in f32, round, compare-and-swap of the aligned 32-bit word holding the half
//   (its neighbour is carried along unchanged), retried until no other thread wrote the word in
//   between, so no update is lost; an update that rounds away writes nothing.
//
// - The global-memory access helpers of the step kernels (w2v_gld, w2v_gst, w2v_gred, w2v_gcas and
//   their `_if` forms; 16-byte float4 forms; packed 16-bit forms: two halves or bfloat16s in 4
//   bytes, four in 8): one memory instruction each under nvcc, counted per warp instruction by the
//   emulator (the traffic model, benches/MODEL.md).
// - Hardware half conversions (w2v_h2f, w2v_f2h: `cvt`) and the packed f16x2 atomics of the v2
//   steps (`red.global.add.noftz.f16x2`; `.v2.f16x2`, four halves, on sm_90).
// - bfloat16 storage for `--storage bf16` (W2vBf16, w2v_bf2f, w2v_f2bf, the packed bf16x2 atomics):
//   f32's top 16 bits, widened exactly by a shift, rounded to nearest even as the `half` crate's
//   bf16::from_f32.
// - W2vStepArgs, the fused steps' arguments (sgns.cu, sgns_v2.cu).
//
// The same text compiles three ways: nvcc (PTX at build time), NVRTC (at start-up, with this file
// inlined by build.rs) and g++ for the emulated device (kernels/emulator/cuda_emu.h is included
// first and defines W2V_EMULATOR). Nothing here includes a system header, because NVRTC has none.
#pragma once

// Mirrors of the Rust constants (src/train/plan.rs, src/train/rng.rs, src/train/sampler.rs). Keep them in step.
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

// Global-memory access in the step kernels goes through the helpers below (the traffic model,
// benches/MODEL.md). Under nvcc and NVRTC each is one plain instruction (a load, a store, a `red`
// or an atomic). Under the emulator each also notes (kind, address, bytes) for the calling lane;
// the runtime groups the i-th access of every lane of a warp at one call site between two warp
// barriers into one warp instruction and counts its distinct 32-byte sectors from the lanes' real
// addresses (kernels/emulator/runtime.cpp), so coalescing is measured, not assumed. A lane that
// takes part in an access's iteration but does not touch memory (a predicated-off lane) notes
// 0 bytes so that the lanes' iterations stay aligned. W2V_SITE_PARAM is the hidden call-site
// argument (file and line of the caller), passed on with W2V_SITE_ARG by wrapping helpers.
#define W2V_ACC_LOAD 0u
#define W2V_ACC_STORE 1u
#define W2V_ACC_ATOMIC 2u
#ifdef W2V_EMULATOR
#define W2V_SITE_PARAM , unsigned long long w2v_site = w2v_emu_site(__builtin_FILE(), __builtin_LINE())
#define W2V_SITE_ARG , w2v_site
#define W2V_NOTE(kind, p, bytes) w2v_emu_note((kind), (const void*)(p), (bytes), w2v_site)
#else
#define W2V_SITE_PARAM
#define W2V_SITE_ARG
#define W2V_NOTE(kind, p, bytes) ((void)0)
#endif

// A global load of one value (4 or 8 bytes).
template <class T>
__device__ __forceinline__ T w2v_gld(const T* p W2V_SITE_PARAM) {
    W2V_NOTE(W2V_ACC_LOAD, p, sizeof(T));
    return *p;
}

// A global store of one value.
template <class T>
__device__ __forceinline__ void w2v_gst(T* p, T v W2V_SITE_PARAM) {
    W2V_NOTE(W2V_ACC_STORE, p, sizeof(T));
    *p = v;
}

// A global atomic add whose result is unused (`red.global.add`).
template <class T>
__device__ __forceinline__ void w2v_gred(T* p, T v W2V_SITE_PARAM) {
    W2V_NOTE(W2V_ACC_ATOMIC, p, sizeof(T));
    atomicAdd(p, v);
}

// A global 32-bit compare-and-swap; returns the word it found.
__device__ __forceinline__ unsigned w2v_gcas(unsigned* p, unsigned compare, unsigned v W2V_SITE_PARAM) {
    W2V_NOTE(W2V_ACC_ATOMIC, p, 4u);
    return atomicCAS(p, compare, v);
}

// The lane takes part in this iteration of an access but touches nothing: pass the access's site
// (W2V_SITE_ARG inside a helper), or the skip and the access are different instructions.
__device__ __forceinline__ void w2v_gskip(unsigned kind W2V_SITE_PARAM) {
    W2V_NOTE(kind, 0, 0u);
    (void)kind;
}

// A load that only the lanes with `on` make (the others get `otherwise`): one instruction whose
// predicated-off lanes are counted as such.
template <class T>
__device__ __forceinline__ T w2v_gld_if(bool on, const T* p, T otherwise W2V_SITE_PARAM) {
    if (!on) {
        w2v_gskip(W2V_ACC_LOAD W2V_SITE_ARG);
        return otherwise;
    }
    return w2v_gld(p W2V_SITE_ARG);
}

// Four floats, 16-byte aligned: a vector access (`ld.global.v4.f32`).
struct __align__(16) W2vF4 {
    float x, y, z, w;
};

// A 16-byte load of p[0..4) (p 16-byte aligned) by the lanes with `on`; the others get zeros.
__device__ __forceinline__ W2vF4 w2v_gld4_if(bool on, const float* p W2V_SITE_PARAM) {
    W2vF4 v{0.0f, 0.0f, 0.0f, 0.0f};
    if (!on) {
        W2V_NOTE(W2V_ACC_LOAD, 0, 0u);
        return v;
    }
    W2V_NOTE(W2V_ACC_LOAD, p, 16u);
#ifdef W2V_EMULATOR
    memcpy(&v, p, sizeof v);
#else
    v = *reinterpret_cast<const W2vF4*>(p);
#endif
    return v;
}

// An atomic add of one float by the lanes with `on` (`red.global.add.f32`).
__device__ __forceinline__ void w2v_gred_if(bool on, float* p, float v W2V_SITE_PARAM) {
    if (!on) {
        W2V_NOTE(W2V_ACC_ATOMIC, 0, 0u);
        return;
    }
    W2V_NOTE(W2V_ACC_ATOMIC, p, 4u);
    atomicAdd(p, v);
}

// Whether this compilation has 16-byte vector atomics (`red.global.add.v4.f32`, sm_90 and PTX 8.1):
// sm_90 and later under nvcc/NVRTC, and the emulator (which counts the sm_90 path).
#if defined(W2V_EMULATOR) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900)
#define W2V_VECTOR_ATOMICS 1
#else
#define W2V_VECTOR_ATOMICS 0
#endif

// An atomic add of p[0..4) += v (p 16-byte aligned) by the lanes with `on`: one vector atomic where
// W2V_VECTOR_ATOMICS, else four scalar ones (callers use the vector layout only with vector atomics).
__device__ __forceinline__ void w2v_gred4_if(bool on, float* p, W2vF4 v W2V_SITE_PARAM) {
    if (!on) {
        W2V_NOTE(W2V_ACC_ATOMIC, 0, 0u);
        return;
    }
    W2V_NOTE(W2V_ACC_ATOMIC, p, 16u);
#if W2V_VECTOR_ATOMICS && !defined(W2V_EMULATOR)
    asm volatile("red.global.add.v4.f32 [%0], {%1, %2, %3, %4};" ::"l"(p), "f"(v.x), "f"(v.y), "f"(v.z), "f"(v.w)
                 : "memory");
#else
    // The emulator counts one 16-byte atomic (noted above) and adds element by element.
    atomicAdd(p, v.x);
    atomicAdd(p + 1, v.y);
    atomicAdd(p + 2, v.z);
    atomicAdd(p + 3, v.w);
#endif
}

// Half (binary16 bits) ↔ f32 in one hardware instruction each (`cvt`) under nvcc and NVRTC, the
// exact software conversions below under the emulator (the same results).
__device__ __forceinline__ float w2v_f16_to_f32(unsigned short h);
__device__ __forceinline__ unsigned short w2v_f32_to_f16(float f);
__device__ __forceinline__ float w2v_h2f(unsigned short h) {
#ifdef W2V_EMULATOR
    return w2v_f16_to_f32(h);
#else
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
#endif
}
__device__ __forceinline__ unsigned short w2v_f2h(float f) {
#ifdef W2V_EMULATOR
    return w2v_f32_to_f16(f);
#else
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
#endif
}

#ifdef W2V_EMULATOR
// *word += pack for the two halves of one aligned 32-bit word (pack: two halves already rounded),
// each half sum rounded again: a compare-and-swap loop on the word (the sum in f32, exact but for
// ties of a double rounding), as the GPU's packed f16x2 atomics round.
__device__ __forceinline__ void w2v_emu_add_h2(unsigned* word, unsigned pack) {
    unsigned old = __atomic_load_n(word, __ATOMIC_RELAXED);
    for (;;) {
        const unsigned short lo = w2v_f2h(w2v_h2f((unsigned short)old) + w2v_h2f((unsigned short)pack));
        const unsigned short hi = w2v_f2h(w2v_h2f((unsigned short)(old >> 16)) + w2v_h2f((unsigned short)(pack >> 16)));
        const unsigned next = (unsigned)lo | ((unsigned)hi << 16);
        const unsigned seen = atomicCAS(word, old, next);
        if (seen == old) {
            return;
        }
        old = seen;
    }
}
#endif

// p[0] += a, p[1] += b for two halves in one aligned 32-bit word, by the lanes with `on`: one packed
// `red.global.add.noftz.f16x2` (sm_60+). As on the GPU, each update is rounded to half first (round
// to nearest even), then the half sum is rounded again; the emulator does the same with a
// compare-and-swap on the word (w2v_emu_add_h2).
__device__ __forceinline__ void w2v_gred_h2_if(bool on, unsigned short* p, float a, float b W2V_SITE_PARAM) {
    if (!on) {
        W2V_NOTE(W2V_ACC_ATOMIC, 0, 0u);
        return;
    }
    W2V_NOTE(W2V_ACC_ATOMIC, p, 4u);
    const unsigned pack = (unsigned)w2v_f2h(a) | ((unsigned)w2v_f2h(b) << 16);
#ifdef W2V_EMULATOR
    w2v_emu_add_h2(reinterpret_cast<unsigned*>(p), pack);
#else
    asm volatile("red.global.add.noftz.f16x2 [%0], %1;" ::"l"(p), "r"(pack) : "memory");
#endif
}

// Eight bytes, 8-byte aligned, as four 16-bit values (half bits: `ld.global.v4.u16`, each ready for
// `cvt.f32.f16`) or as two 32-bit words (bfloat16 pairs: `ld.global.v2.u32`, each value one shift
// or mask from its f32).
struct __align__(8) W2vH4 {
    unsigned short x, y, z, w;
};
struct __align__(8) W2vU2 {
    unsigned x, y;
};

// An 8-byte load of *p (a W2vH4 or W2vU2, 8-byte aligned) by the lanes with `on`; the others get
// zero bits (+0 as a half and as a bfloat16).
template <class V>
__device__ __forceinline__ V w2v_gld8_if(bool on, const V* p W2V_SITE_PARAM) {
    static_assert(sizeof(V) == 8u, "an 8-byte access");
    V v{};
    if (!on) {
        W2V_NOTE(W2V_ACC_LOAD, 0, 0u);
        return v;
    }
    W2V_NOTE(W2V_ACC_LOAD, p, 8u);
#ifdef W2V_EMULATOR
    memcpy(&v, p, sizeof v);
#else
    v = *p;
#endif
    return v;
}

// p[0..4) += v for four halves (p 8-byte aligned) by the lanes with `on`, rounded as
// w2v_gred_h2_if element by element: where W2V_VECTOR_ATOMICS, two packed conversions
// (`cvt.rn.f16x2.f32`) and one `red.global.add.noftz.v2.f16x2` (sm_90, PTX 8.1), under the emulator
// one 8-byte atomic noted and a compare-and-swap on each 32-bit word; elsewhere two f16x2 atomics
// (callers use the vector layout only with vector atomics).
__device__ __forceinline__ void w2v_gred_h4_if(bool on, unsigned short* p, W2vF4 v W2V_SITE_PARAM) {
    if (!on) {
        W2V_NOTE(W2V_ACC_ATOMIC, 0, 0u);
        return;
    }
    W2V_NOTE(W2V_ACC_ATOMIC, p, 8u);
#if W2V_VECTOR_ATOMICS && !defined(W2V_EMULATOR)
    // cvt.rn.f16x2.f32 d, a, b puts a in the upper half of d, b in the lower.
    unsigned lo, hi;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(lo) : "f"(v.y), "f"(v.x));
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(hi) : "f"(v.w), "f"(v.z));
    asm volatile("red.global.add.noftz.v2.f16x2 [%0], {%1, %2};" ::"l"(p), "r"(lo), "r"(hi) : "memory");
#else
    const unsigned lo = (unsigned)w2v_f2h(v.x) | ((unsigned)w2v_f2h(v.y) << 16);
    const unsigned hi = (unsigned)w2v_f2h(v.z) | ((unsigned)w2v_f2h(v.w) << 16);
#ifdef W2V_EMULATOR
    w2v_emu_add_h2(reinterpret_cast<unsigned*>(p), lo);
    w2v_emu_add_h2(reinterpret_cast<unsigned*>(p) + 1, hi);
#else
    asm volatile("red.global.add.noftz.f16x2 [%0], %1;" ::"l"(p), "r"(lo) : "memory");
    asm volatile("red.global.add.noftz.f16x2 [%0], %1;" ::"l"(p + 2), "r"(hi) : "memory");
#endif
#endif
}

// bfloat16 bits (`--storage bf16`), a struct so that templates tell it from a half's
// `unsigned short`. A bfloat16 is the top half of an f32: widening is a shift, exact.
struct W2vBf16 {
    unsigned short bits;
};

__device__ __forceinline__ float w2v_bf2f(unsigned short b) {
    return __uint_as_float((unsigned)b << 16);
}

// f32 → bfloat16 bits, rounded to nearest, ties to even (`cvt.rn.bf16.f32` on sm_80+; the same
// in integer arithmetic elsewhere and under the emulator, as the `half` crate: a NaN stays a
// quiet NaN with its top payload bits).
__device__ __forceinline__ unsigned short w2v_f2bf(float f) {
#if !defined(W2V_EMULATOR) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    unsigned short h;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
#else
    const unsigned x = __float_as_uint(f);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) {
        return (unsigned short)((x >> 16) | 0x40u);
    }
    return (unsigned short)((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
#endif
}

// *word += pack for the two bfloat16s of one aligned 32-bit word (pack: two bfloat16s already
// rounded), each sum rounded again: a compare-and-swap loop on the word, where there is no bf16x2
// atomic (sm_80) and under the emulator.
__device__ __forceinline__ void w2v_cas_add_bf2(unsigned* word, unsigned pack) {
    unsigned old = *(volatile unsigned*)word;
    for (;;) {
        const unsigned short lo = w2v_f2bf(w2v_bf2f((unsigned short)old) + w2v_bf2f((unsigned short)pack));
        const unsigned short hi =
            w2v_f2bf(w2v_bf2f((unsigned short)(old >> 16)) + w2v_bf2f((unsigned short)(pack >> 16)));
        const unsigned next = (unsigned)lo | ((unsigned)hi << 16);
        const unsigned seen = atomicCAS(word, old, next);
        if (seen == old) {
            return;
        }
        old = seen;
    }
}

// p[0] += a, p[1] += b for two bfloat16s in one aligned 32-bit word, by the lanes with `on`, each
// update rounded to bfloat16 first and the sum rounded again: one packed
// `red.global.add.noftz.bf16x2` on sm_90+; a compare-and-swap loop on the word elsewhere (sm_80
// has no bf16 atomic add; both halves move in one CAS) and under the emulator, which counts one
// atomic as sm_90 issues.
__device__ __forceinline__ void w2v_gred_bf2_if(bool on, W2vBf16* p, float a, float b W2V_SITE_PARAM) {
    if (!on) {
        W2V_NOTE(W2V_ACC_ATOMIC, 0, 0u);
        return;
    }
    W2V_NOTE(W2V_ACC_ATOMIC, p, 4u);
    const unsigned pack = (unsigned)w2v_f2bf(a) | ((unsigned)w2v_f2bf(b) << 16);
#if !defined(W2V_EMULATOR) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("red.global.add.noftz.bf16x2 [%0], %1;" ::"l"(p), "r"(pack) : "memory");
#else
    w2v_cas_add_bf2(reinterpret_cast<unsigned*>(p), pack);
#endif
}

// p[0..4) += v for four bfloat16s (p 8-byte aligned) by the lanes with `on`, rounded as
// w2v_gred_bf2_if element by element: where W2V_VECTOR_ATOMICS, two packed conversions
// (`cvt.rn.bf16x2.f32`) and one `red.global.add.noftz.v2.bf16x2` (sm_90, PTX 8.1); under the emulator
// one 8-byte atomic noted and a compare-and-swap on each 32-bit word, as elsewhere (callers use the
// vector layout only with vector atomics).
__device__ __forceinline__ void w2v_gred_bf4_if(bool on, W2vBf16* p, W2vF4 v W2V_SITE_PARAM) {
    if (!on) {
        W2V_NOTE(W2V_ACC_ATOMIC, 0, 0u);
        return;
    }
    W2V_NOTE(W2V_ACC_ATOMIC, p, 8u);
#if W2V_VECTOR_ATOMICS && !defined(W2V_EMULATOR)
    // cvt.rn.bf16x2.f32 d, a, b puts a in the upper half of d, b in the lower.
    unsigned lo, hi;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(lo) : "f"(v.y), "f"(v.x));
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(hi) : "f"(v.w), "f"(v.z));
    asm volatile("red.global.add.noftz.v2.bf16x2 [%0], {%1, %2};" ::"l"(p), "r"(lo), "r"(hi) : "memory");
#else
    unsigned* word = reinterpret_cast<unsigned*>(p);
    w2v_cas_add_bf2(word, (unsigned)w2v_f2bf(v.x) | ((unsigned)w2v_f2bf(v.y) << 16));
    w2v_cas_add_bf2(word + 1, (unsigned)w2v_f2bf(v.z) | ((unsigned)w2v_f2bf(v.w) << 16));
#endif
}

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
    const bool mine = b < w2v_gld(&prob[i]);
    return w2v_gld_if(!mine, &alias[i], i);
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

// Whether the token `w` at key position pos goes to the compacted span: a sentence break always
// does; a word survives subsampling as sampler::keep_token says.
__device__ __forceinline__ bool w2v_compacts(const unsigned* keep, unsigned long long seed,
                                             unsigned long long pos, unsigned w) {
    const unsigned t = w2v_gld_if(w != W2V_SENTENCE_BREAK, &keep[w], 0xFFFFFFFFu);
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

// binary16 bits → f32, exactly (every half is a float; a signalling NaN comes back quiet).
__device__ __forceinline__ float w2v_f16_to_f32(unsigned short h) {
    const unsigned sign = ((unsigned)h & 0x8000u) << 16;
    const unsigned exp = ((unsigned)h >> 10) & 0x1Fu;
    const unsigned man = (unsigned)h & 0x3FFu;
    if (exp == 0u) {
        // Zero or subnormal: man · 2^-24, exact in f32 (a small integer times a power of two).
        const float f = (float)man * 5.9604644775390625e-8f;
        return sign != 0u ? -f : f;
    }
    if (exp == 0x1Fu) {
        // inf, or NaN made quiet (as IEEE 754's conversion and the `half` crate do).
        return __uint_as_float(sign | 0x7F800000u | (man != 0u ? 0x400000u | (man << 13) : 0u));
    }
    return __uint_as_float(sign | ((exp + 112u) << 23) | (man << 13));
}

// f32 → binary16 bits, rounded to nearest, ties to even.
__device__ __forceinline__ unsigned short w2v_f32_to_f16(float f) {
    const unsigned x = __float_as_uint(f);
    const unsigned sign = (x >> 16) & 0x8000u;
    const unsigned ax = x & 0x7FFFFFFFu;
    if (ax >= 0x7F800000u) {
        // inf stays inf; NaN stays NaN (quiet bit set, top payload bits kept).
        return (unsigned short)(sign | 0x7C00u | (ax > 0x7F800000u ? 0x200u | ((ax >> 13) & 0x3FFu) : 0u));
    }
    if (ax >= 0x477FF000u) {
        // ≥ 65520 (halfway between 65504, the largest half, and 2^16) rounds to inf.
        return (unsigned short)(sign | 0x7C00u);
    }
    if (ax >= 0x38800000u) {
        // Normal half (≥ 2^-14): rebias the exponent by 127 − 15 and round off 13 mantissa bits;
        // a carry out of the mantissa correctly bumps the exponent.
        const unsigned m = ax - 0x38000000u;
        const unsigned rem = m & 0x1FFFu;
        unsigned h = m >> 13;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u)) {
            ++h;
        }
        return (unsigned short)(sign | h);
    }
    if (ax <= 0x33000000u) {
        // ≤ 2^-25, half the smallest subnormal: rounds to (signed) zero.
        return (unsigned short)sign;
    }
    // Subnormal half: round(|f| · 2^24) = mantissa (with its implicit bit) >> (126 − exponent).
    const unsigned e = ax >> 23;
    const unsigned mant = (ax & 0x7FFFFFu) | 0x800000u;
    const unsigned shift = 126u - e;
    unsigned h = mant >> shift;
    const unsigned rem = mant & ((1u << shift) - 1u);
    const unsigned halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (h & 1u) != 0u)) {
        ++h;
    }
    return (unsigned short)(sign | h);
}

// Loads of a weight as f32 from either storage.
__device__ __forceinline__ float w2v_load(const float* p W2V_SITE_PARAM) {
    return w2v_gld(p W2V_SITE_ARG);
}
__device__ __forceinline__ float w2v_load(const unsigned short* p W2V_SITE_PARAM) {
    return w2v_f16_to_f32(w2v_gld(p W2V_SITE_ARG));
}

// *p += v for a half in memory, atomically (see the header): a CAS loop on its aligned 32-bit word.
__device__ __forceinline__ void w2v_atomic_add_f16(unsigned short* p, float v W2V_SITE_PARAM) {
    const unsigned long long addr = (unsigned long long)p;
    unsigned* word = (unsigned*)(addr & ~3ull);
    const unsigned shift = (addr & 2ull) != 0ull ? 16u : 0u;
    W2V_NOTE(W2V_ACC_LOAD, word, 4u);
    unsigned old = *(volatile unsigned*)word;
    for (;;) {
        const unsigned short cur = (unsigned short)(old >> shift);
        const unsigned short next = w2v_f32_to_f16(w2v_f16_to_f32(cur) + v);
        if (next == cur) {
            w2v_gskip(W2V_ACC_ATOMIC W2V_SITE_ARG);
            return;
        }
        const unsigned desired = (old & ~(0xFFFFu << shift)) | ((unsigned)next << shift);
        const unsigned seen = w2v_gcas(word, old, desired W2V_SITE_ARG);
        if (seen == old) {
            return;
        }
        old = seen;
    }
}

// The Hogwild update of a weight in either storage.
__device__ __forceinline__ void w2v_atomic_add_w(float* p, float v W2V_SITE_PARAM) {
    w2v_gred(p, v W2V_SITE_ARG);
}
__device__ __forceinline__ void w2v_atomic_add_w(unsigned short* p, float v W2V_SITE_PARAM) {
    w2v_atomic_add_f16(p, v W2V_SITE_ARG);
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

// Every argument of the fused step kernels (sgns.cu, sgns_v2.cu), bundled for their templates.
// T is the weights' storage: float, unsigned short holding IEEE half bits (`_f16` kernels), or
// W2vBf16 (`_bf16` kernels, v2 only).
template <class T>
struct W2vStepArgs {
    T* w_in;
    T* w_out;
    unsigned dim;
    const unsigned* kept_ids;
    const unsigned* kept_off;
    const unsigned* kept_count;
    unsigned n_spans;
    const unsigned* alias_prob;
    const unsigned* alias_alias;
    unsigned vocab;
    unsigned long long seed;
    unsigned long long key_first;
    unsigned batch_len;
    float lr_begin;
    float lr_end;
    unsigned window;
    unsigned fixed_window;
    unsigned negative;
    unsigned distinct;
    double* loss_acc;
};

// Every step kernel below has the same argument names; this bundles them for the shared template.
#define W2V_STEP_ARGS                                                                                   \
    {w_in,   w_out,       dim,   kept_ids, kept_off,  kept_count, n_spans,  alias_prob,   alias_alias, vocab, \
     seed,   key_first,   batch_len, lr_begin, lr_end, window,   fixed_window, negative, distinct,   loss_acc}
