// cuda_emu.h: just enough of CUDA's device-side language for kernels/*.cu to compile as C++17 and run
// on the CPU (the emulated device, cargo feature `emulator`). It checks correctness, never speed.
//
// Model: build.rs compiles every kernel file as one C++ translation unit with this header included
// first. A launch (kernels/emulator/runtime.cpp) runs the grid's blocks on a few OS worker threads at
// once (one per available core, each claiming whole blocks), so atomics race as they do on a GPU.
// Inside a worker each CUDA thread of the block is a fiber (a user-space coroutine with its own stack)
// and the worker switches between them only at barriers; fibers rather than one OS thread per CUDA
// thread because a warp operation then costs a few nanoseconds instead of dozens of kernel context
// switches, which a training run on a 2-core CI machine cannot afford. From the kernels' point of view:
// - threadIdx / blockIdx / blockDim / gridDim / w2v_emu_tid are thread_local variables the worker
//   sets before it resumes a CUDA thread's fiber (a fiber never moves to another OS thread);
// - __syncthreads() is a barrier over the block's threads still running the kernel; __syncwarp()
//   and the warp shuffles and votes are barriers over the live lanes of the warp (32 consecutive
//   linear thread ids) that exchange one 64-bit value per lane. The mask must name every live lane
//   (the kernels only use full masks in warp-uniform code); anything else fails the launch loudly;
// - a thread that returns early stops counting for barriers, as on the GPU, so it never deadlocks
//   the others; when every remaining thread waits at a barrier that can no longer complete
//   (a divergent barrier), the launch fails at once with the kernel, block and barriers, never hangs;
// - between barriers a CUDA thread runs alone on its worker, so the threads of one block interleave
//   only at barriers (a GPU may interleave them anywhere); blocks on different workers run truly
//   in parallel;
// - static __shared__ variables are function-local `static thread_local` (one block per worker at
//   a time), dynamic shared memory is a per-worker buffer (W2V_DYNAMIC_SHARED in common.cuh),
//   filled with 0xFF bytes before each block so that reading it uninitialised shows;
// - atomicAdd is a compare-and-swap loop on float/double and a fetch-add on integers, atomicCAS a
//   __atomic_compare_exchange; the math
//   intrinsics map to <math.h>, the fast-math ones (__expf…) to the accurate functions.
#pragma once

#define W2V_EMULATOR 1

#include <math.h>
#include <stdint.h>
#include <string.h>

// common.cuh's bfloat16 bits, named here for build.rs's launch table (kernels/*.cu define it).
struct W2vBf16;

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
};

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static thread_local
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
// Linear thread id within the block (x fastest), which fixes warp and lane as on the GPU.
inline thread_local unsigned w2v_emu_tid;

// Runtime entry points (runtime.cpp). Barriers throw out of the kernel when the launch has failed
// (the exception is caught on the same fiber, at the bottom of its stack).
void w2v_emu_syncthreads();
uint64_t w2v_emu_warp_exchange(unsigned mask, uint64_t value, unsigned src_lane, unsigned* lanes);
void* w2v_emu_dynamic_shared();

inline void __syncthreads() { w2v_emu_syncthreads(); }

// Traffic counting (kernels/emulator/traffic.cpp): the access helpers in common.cuh note every
// global access while it is on. A call site is its file and line.
extern int w2v_emu_counting;
void w2v_emu_note_slow(unsigned kind, const void* p, unsigned bytes, unsigned long long site);
void w2v_emu_traffic_flush(unsigned warp);
void w2v_emu_traffic_flush_all();
void w2v_emu_traffic_commit(const char* kernel, bool launch);
inline bool w2v_emu_counting_on() { return __atomic_load_n(&w2v_emu_counting, __ATOMIC_RELAXED) != 0; }
inline unsigned long long w2v_emu_site(const char* file, unsigned line) {
    return ((unsigned long long)(uintptr_t)file << 16) ^ line;
}
inline void w2v_emu_note(unsigned kind, const void* p, unsigned bytes, unsigned long long site) {
    if (w2v_emu_counting_on()) {
        w2v_emu_note_slow(kind, p, bytes, site);
    }
}

inline void __syncwarp(unsigned mask = 0xFFFFFFFFu) {
    unsigned lanes;
    w2v_emu_warp_exchange(mask, 0, 0, &lanes);
}

template <class T>
inline uint64_t w2v_emu_bits(T v) {
    static_assert(sizeof(T) <= 8, "warp exchange moves at most 64 bits");
    uint64_t b = 0;
    memcpy(&b, &v, sizeof(T));
    return b;
}

template <class T>
inline T w2v_emu_from_bits(uint64_t b) {
    T v;
    memcpy(&v, &b, sizeof(T));
    return v;
}

// Warp shuffles: `width` (a power of two up to 32) splits the warp into segments as on the GPU; a
// source outside the caller's segment returns the caller's own value.
template <class T>
inline T w2v_emu_shuffle_from(unsigned mask, T v, unsigned src) {
    unsigned lanes;
    return w2v_emu_from_bits<T>(w2v_emu_warp_exchange(mask, w2v_emu_bits(v), src, &lanes));
}

template <class T>
inline T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32) {
    const unsigned lane = w2v_emu_tid % 32u;
    const unsigned w = (unsigned)width;
    return w2v_emu_shuffle_from(mask, v, (lane & ~(w - 1u)) + ((unsigned)src_lane & (w - 1u)));
}

template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
    const unsigned lane = w2v_emu_tid % 32u;
    const unsigned w = (unsigned)width;
    const unsigned src = lane ^ (unsigned)lane_mask;
    return w2v_emu_shuffle_from(mask, v, (src & ~(w - 1u)) == (lane & ~(w - 1u)) ? src : lane);
}

template <class T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    const unsigned lane = w2v_emu_tid % 32u;
    const unsigned w = (unsigned)width;
    return w2v_emu_shuffle_from(mask, v, (lane & (w - 1u)) + delta < w ? lane + delta : lane);
}

template <class T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    const unsigned lane = w2v_emu_tid % 32u;
    const unsigned w = (unsigned)width;
    return w2v_emu_shuffle_from(mask, v, (lane & (w - 1u)) >= delta ? lane - delta : lane);
}

// Votes: every live lane publishes its predicate; the result has a bit per live lane whose
// predicate holds, and `lanes` says which lanes took part.
unsigned w2v_emu_ballot(unsigned mask, int predicate, unsigned* lanes);

inline unsigned __ballot_sync(unsigned mask, int predicate) {
    unsigned lanes;
    return w2v_emu_ballot(mask, predicate, &lanes) & mask;
}

inline int __any_sync(unsigned mask, int predicate) {
    unsigned lanes;
    return w2v_emu_ballot(mask, predicate, &lanes) != 0u;
}

inline int __all_sync(unsigned mask, int predicate) {
    unsigned lanes;
    return w2v_emu_ballot(mask, predicate, &lanes) == lanes;
}

inline float atomicAdd(float* address, float v) {
    float old;
    __atomic_load(address, &old, __ATOMIC_RELAXED);
    float next = old + v;
    while (!__atomic_compare_exchange(address, &old, &next, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        next = old + v;
    }
    return old;
}

inline double atomicAdd(double* address, double v) {
    double old;
    __atomic_load(address, &old, __ATOMIC_RELAXED);
    double next = old + v;
    while (!__atomic_compare_exchange(address, &old, &next, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        next = old + v;
    }
    return old;
}

inline unsigned atomicAdd(unsigned* address, unsigned v) { return __atomic_fetch_add(address, v, __ATOMIC_RELAXED); }

inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long v) {
    return __atomic_fetch_add(address, v, __ATOMIC_RELAXED);
}

inline unsigned atomicCAS(unsigned* address, unsigned compare, unsigned val) {
    __atomic_compare_exchange(address, &compare, &val, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return compare;
}

// Integer and float intrinsics. The *_rn forms round each operation once, as plain C++ does with
// -ffp-contract=off (build.rs passes it, so no multiply-add is fused behind the kernels' back).
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fdividef(float a, float b) { return a / b; }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __uint_as_float(unsigned x) { return w2v_emu_from_bits<float>(x); }
inline unsigned __float_as_uint(float x) { return (unsigned)w2v_emu_bits(x); }
inline double __longlong_as_double(long long x) { return w2v_emu_from_bits<double>((uint64_t)x); }

// The launcher's table of kernels, generated by build.rs from the `extern "C" __global__` signatures:
// name, a trampoline that unpacks cuLaunchKernel-style arguments, and the normalised argument types.
struct W2vEmuKernel {
    const char* name;
    void (*call)(void* const* args);
    const char* const* arg_types;
    unsigned nargs;
};
extern const W2vEmuKernel w2v_emu_kernels[];
extern const unsigned w2v_emu_kernel_count;
