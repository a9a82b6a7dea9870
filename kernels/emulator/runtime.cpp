// runtime.cpp: the emulated device's launcher, `w2v_emu_launch`, and the barriers behind
// __syncthreads, __syncwarp, shuffles and votes (see cuda_emu.h for the model).
//
// A launch checks the kernel name and argument types against the table build.rs generated, then
// starts one pthread per CUDA thread of a block and runs the grid's blocks one after another with
// those threads. Launches are serialised by a global mutex (static __shared__ variables are
// function-local statics, and the emulator is for correctness, not speed).
#include "cuda_emu.h"

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

namespace {

constexpr unsigned kWarp = 32;
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxSharedBytes = 48 * 1024;
constexpr auto kBarrierTimeout = std::chrono::seconds(60);
constexpr size_t kThreadStack = 1 << 20;

// Thrown out of a barrier once the launch has failed, to unwind the kernel's threads.
struct Abort {};

// A barrier over the threads (block) or lanes (warp) still running the kernel. Warps also carry
// the double-buffered exchange slots: generation g writes slots[g & 1], and nobody can write that
// buffer again before every lane has arrived at generation g + 1, i.e. has read it.
struct Barrier {
    std::condition_variable cv;
    unsigned live = 0;
    unsigned arrived = 0;
    uint64_t gen = 0;
    unsigned live_lanes = 0;
    unsigned arrived_lanes = 0;
    unsigned released_lanes[2] = {0, 0};
    uint64_t slots[2][kWarp] = {};
};

struct Launch {
    std::mutex m;
    const W2vEmuKernel* kernel = nullptr;
    void* const* args = nullptr;
    dim3 grid{1, 1, 1};
    dim3 block{1, 1, 1};
    unsigned nthreads = 0;
    std::vector<uint64_t> shared;
    Barrier block_barrier;
    std::vector<Barrier> warps;
    uint3 block_idx{0, 0, 0};
    uint64_t block_gen = 0;
    unsigned done = 0;
    bool quit = false;
    std::condition_variable start_cv;
    std::condition_variable done_cv;
    bool failed = false;
    std::string error;
};

thread_local Launch* tl_launch = nullptr;

std::mutex g_launch_mutex;

// Records the first failure and wakes every waiter so that all threads unwind. Lock held.
void fail(Launch& l, const std::string& msg) {
    if (!l.failed) {
        l.failed = true;
        l.error = msg;
    }
    l.block_barrier.cv.notify_all();
    for (Barrier& w : l.warps) {
        w.cv.notify_all();
    }
}

void release(Barrier& b) {
    b.released_lanes[b.gen & 1] = b.arrived_lanes;
    b.arrived_lanes = 0;
    b.arrived = 0;
    ++b.gen;
    b.cv.notify_all();
}

// Arrives at `b` and waits for the other live members. Lock held through `lk`.
void arrive_and_wait(Launch& l, std::unique_lock<std::mutex>& lk, Barrier& b, const char* what) {
    const uint64_t g = b.gen;
    ++b.arrived;
    if (b.arrived >= b.live) {
        release(b);
        return;
    }
    if (!b.cv.wait_for(lk, kBarrierTimeout, [&] { return b.gen != g || l.failed; })) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "%s: block (%u, %u, %u) waited 60 s at %s: some threads never reached it "
                 "(divergent barrier in the kernel?)",
                 l.kernel->name, l.block_idx.x, l.block_idx.y, l.block_idx.z, what);
        fail(l, msg);
    }
    if (b.gen == g) {
        throw Abort{};
    }
}

// A thread leaves the kernel: it stops counting for its block's and warp's barriers.
void leave(Barrier& b, unsigned lane_bit) {
    --b.live;
    b.live_lanes &= ~lane_bit;
    if (b.arrived > 0 && b.arrived >= b.live) {
        release(b);
    }
}

// Warp barrier with a published value; returns the generation whose slots hold everyone's values.
uint64_t warp_arrive(Launch& l, std::unique_lock<std::mutex>& lk, unsigned mask, uint64_t value) {
    if (l.failed) {
        throw Abort{};
    }
    const unsigned lane = w2v_emu_tid % kWarp;
    Barrier& w = l.warps[w2v_emu_tid / kWarp];
    if ((mask & w.live_lanes) != w.live_lanes) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "%s: warp operation with mask %08x while lanes %08x of warp %u are live; the emulator "
                 "supports masks naming every live lane only",
                 l.kernel->name, mask, w.live_lanes, w2v_emu_tid / kWarp);
        fail(l, msg);
        throw Abort{};
    }
    const uint64_t g = w.gen;
    w.slots[g & 1][lane] = value;
    w.arrived_lanes |= 1u << lane;
    arrive_and_wait(l, lk, w, "a warp barrier (__syncwarp, shuffle or vote)");
    return g;
}

struct Worker {
    Launch* launch;
    unsigned tid;
    pthread_t handle;
};

void* worker_main(void* p) {
    Worker* wk = static_cast<Worker*>(p);
    Launch& l = *wk->launch;
    tl_launch = &l;
    w2v_emu_tid = wk->tid;
    threadIdx = uint3{wk->tid % l.block.x, wk->tid / l.block.x % l.block.y, wk->tid / (l.block.x * l.block.y)};
    blockDim = l.block;
    gridDim = l.grid;
    const unsigned lane_bit = 1u << (wk->tid % kWarp);
    uint64_t seen = 0;
    for (;;) {
        {
            std::unique_lock<std::mutex> lk(l.m);
            l.start_cv.wait(lk, [&] { return l.block_gen != seen || l.quit; });
            if (l.quit) {
                break;
            }
            seen = l.block_gen;
            blockIdx = l.block_idx;
        }
        try {
            l.kernel->call(l.args);
        } catch (const Abort&) {
            // The launch already failed and recorded why.
        } catch (...) {
            std::lock_guard<std::mutex> lk(l.m);
            fail(l, std::string(l.kernel->name) + ": a kernel thread threw a C++ exception");
        }
        std::lock_guard<std::mutex> lk(l.m);
        leave(l.block_barrier, lane_bit);
        leave(l.warps[wk->tid / kWarp], lane_bit);
        if (++l.done == l.nthreads) {
            l.done_cv.notify_all();
        }
    }
    return nullptr;
}

int report(char* err, unsigned err_len, const std::string& msg) {
    if (err != nullptr && err_len > 0) {
        snprintf(err, err_len, "%s", msg.c_str());
    }
    return 1;
}

// Runs every block of the grid; returns the failure message, empty on success.
std::string run_grid(Launch& l) {
    std::vector<Worker> workers(l.nthreads);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kThreadStack);
    unsigned started = 0;
    std::string error;
    for (; started < l.nthreads; ++started) {
        workers[started] = Worker{&l, started, pthread_t{}};
        if (pthread_create(&workers[started].handle, &attr, worker_main, &workers[started]) != 0) {
            error = std::string(l.kernel->name) + ": could not start emulated thread " + std::to_string(started) +
                    " (too many threads for this machine?)";
            break;
        }
    }
    pthread_attr_destroy(&attr);
    if (error.empty()) {
        const unsigned nwarps = (l.nthreads + kWarp - 1) / kWarp;
        for (unsigned bz = 0; bz < l.grid.z && error.empty(); ++bz) {
            for (unsigned by = 0; by < l.grid.y && error.empty(); ++by) {
                for (unsigned bx = 0; bx < l.grid.x && error.empty(); ++bx) {
                    std::unique_lock<std::mutex> lk(l.m);
                    l.block_barrier.live = l.nthreads;
                    l.block_barrier.arrived = 0;
                    for (unsigned w = 0; w < nwarps; ++w) {
                        const unsigned lanes = l.nthreads - w * kWarp < kWarp ? l.nthreads - w * kWarp : kWarp;
                        l.warps[w].live = lanes;
                        l.warps[w].arrived = 0;
                        l.warps[w].arrived_lanes = 0;
                        l.warps[w].live_lanes = lanes == kWarp ? 0xFFFFFFFFu : (1u << lanes) - 1u;
                    }
                    memset(l.shared.data(), 0xFF, l.shared.size() * sizeof(uint64_t));
                    l.block_idx = uint3{bx, by, bz};
                    l.done = 0;
                    ++l.block_gen;
                    l.start_cv.notify_all();
                    l.done_cv.wait(lk, [&] { return l.done == l.nthreads; });
                    if (l.failed) {
                        error = l.error;
                    }
                }
            }
        }
    }
    {
        std::lock_guard<std::mutex> lk(l.m);
        l.quit = true;
        l.start_cv.notify_all();
    }
    for (unsigned i = 0; i < started; ++i) {
        pthread_join(workers[i].handle, nullptr);
    }
    return error;
}

}  // namespace

void w2v_emu_syncthreads() {
    Launch& l = *tl_launch;
    std::unique_lock<std::mutex> lk(l.m);
    if (l.failed) {
        throw Abort{};
    }
    arrive_and_wait(l, lk, l.block_barrier, "__syncthreads");
}

uint64_t w2v_emu_warp_exchange(unsigned mask, uint64_t value, unsigned src_lane, unsigned* lanes) {
    Launch& l = *tl_launch;
    std::unique_lock<std::mutex> lk(l.m);
    const uint64_t g = warp_arrive(l, lk, mask, value);
    Barrier& w = l.warps[w2v_emu_tid / kWarp];
    *lanes = w.released_lanes[g & 1];
    return w.slots[g & 1][src_lane % kWarp];
}

unsigned w2v_emu_ballot(unsigned mask, int predicate, unsigned* lanes) {
    Launch& l = *tl_launch;
    std::unique_lock<std::mutex> lk(l.m);
    const uint64_t g = warp_arrive(l, lk, mask, predicate != 0 ? 1u : 0u);
    Barrier& w = l.warps[w2v_emu_tid / kWarp];
    *lanes = w.released_lanes[g & 1];
    unsigned ballot = 0;
    for (unsigned i = 0; i < kWarp; ++i) {
        if ((*lanes >> i & 1u) != 0u && w.slots[g & 1][i] != 0u) {
            ballot |= 1u << i;
        }
    }
    return ballot;
}

void* w2v_emu_dynamic_shared() { return tl_launch->shared.data(); }

extern "C" int w2v_emu_launch(const char* name, const unsigned grid[3], const unsigned block[3],
                              unsigned shared_bytes, void* const* args, const char* const* arg_types,
                              unsigned nargs, char* err, unsigned err_len) {
    if (name == nullptr || grid == nullptr || block == nullptr) {
        return report(err, err_len, "w2v_emu_launch: null kernel name, grid or block");
    }
    const W2vEmuKernel* kernel = nullptr;
    for (unsigned i = 0; i < w2v_emu_kernel_count; ++i) {
        if (strcmp(w2v_emu_kernels[i].name, name) == 0) {
            kernel = &w2v_emu_kernels[i];
        }
    }
    const std::string kname(name);
    if (kernel == nullptr) {
        return report(err, err_len, "unknown kernel '" + kname + "' (not in kernels/*.cu)");
    }
    if (nargs != kernel->nargs) {
        return report(err, err_len,
                      kname + ": expected " + std::to_string(kernel->nargs) + " arguments, given " +
                          std::to_string(nargs));
    }
    if (nargs > 0 && (args == nullptr || arg_types == nullptr)) {
        return report(err, err_len, kname + ": null argument list");
    }
    for (unsigned i = 0; i < nargs; ++i) {
        const char* given = arg_types[i] == nullptr ? "(null)" : arg_types[i];
        if (strcmp(given, kernel->arg_types[i]) != 0) {
            return report(err, err_len,
                          kname + ": argument " + std::to_string(i) + " (counting from 0) has type '" + given +
                              "', expected '" + kernel->arg_types[i] + "'");
        }
        if (args[i] == nullptr) {
            return report(err, err_len, kname + ": argument " + std::to_string(i) + " points at nothing");
        }
    }
    const uint64_t nthreads = (uint64_t)block[0] * block[1] * block[2];
    if (nthreads == 0 || nthreads > kMaxThreadsPerBlock) {
        return report(err, err_len,
                      kname + ": block of " + std::to_string(nthreads) + " threads; the emulated device runs 1.." +
                          std::to_string(kMaxThreadsPerBlock));
    }
    if (grid[0] == 0 || grid[1] == 0 || grid[2] == 0) {
        return report(err, err_len, kname + ": empty grid");
    }
    if (shared_bytes > kMaxSharedBytes) {
        return report(err, err_len,
                      kname + ": " + std::to_string(shared_bytes) +
                          " bytes of dynamic shared memory; the emulated device has 48 KiB per block");
    }
    std::lock_guard<std::mutex> serial(g_launch_mutex);
    Launch l;
    l.kernel = kernel;
    l.args = args;
    l.grid = dim3{grid[0], grid[1], grid[2]};
    l.block = dim3{block[0], block[1], block[2]};
    l.nthreads = (unsigned)nthreads;
    l.shared.assign(shared_bytes / sizeof(uint64_t) + 2, 0);
    l.warps = std::vector<Barrier>((l.nthreads + kWarp - 1) / kWarp);
    const std::string error = run_grid(l);
    if (!error.empty()) {
        return report(err, err_len, error);
    }
    return 0;
}
