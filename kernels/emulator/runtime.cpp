// runtime.cpp: the emulated device's launcher, `w2v_emu_launch`, and the barriers behind
// __syncthreads, __syncwarp, shuffles and votes (see cuda_emu.h for the model).
//
// A launch checks the kernel name and argument types against the table build.rs generated, then
// runs the grid's blocks on a few OS worker threads (the calling thread plus up to `workers - 1`
// more, never more than there are blocks); each worker claims blocks one at a time from a shared
// counter. Inside a worker every CUDA thread of the block is a fiber (a stackful coroutine with its
// own stack) whose context switches the Rust side provides through `W2vEmuFiberOps` (corosensei).
// Why fibers: with one OS thread per CUDA thread, every warp operation cost dozens of kernel context
// switches, far too slow for a training run on a 2-core CI machine. The emulator still checks
// correctness only; its speed says nothing about a GPU's.
//
// Scheduling inside a worker is cooperative and single-threaded, so barriers need no lock: a fiber
// runs until it waits at a barrier (it records its arrival and suspends) or leaves the kernel; the
// worker resumes, round-robin in linear thread order, every fiber whose barrier has been released. A
// round that can resume nobody while some threads still wait is a deadlock: the launch fails with
// the kernel, the block and the barriers the threads wait at. Fibers and their stacks are created
// once per worker and launch and loop over the worker's blocks; at the end each fiber's body returns
// normally (a suspended coroutine is never dropped, which would unwind through C++ frames). C++
// exceptions never cross a context switch: Abort is thrown and caught inside one fiber. Launches
// share no state, so launches from different host threads may run at the same time.
#include "cuda_emu.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

// Context switching, provided by the Rust side (src/backend/cuda/emulated.rs) with every launch.
// Every fiber is created, resumed and destroyed on one OS thread, so thread_local state (threadIdx,
// static __shared__ variables) never moves under a running kernel.
struct W2vEmuFiberOps {
    // A suspended fiber that will run body(arg, yielder) when first resumed; null if no stack.
    void* (*create)(void (*body)(void* arg, void* yielder), void* arg);
    // Runs the fiber until it suspends (returns 1) or its body returns (returns 0).
    int (*resume)(void* fiber);
    // Called on the fiber's own stack: switches back to whoever resumed it.
    void (*suspend)(void* yielder);
    // Frees a fiber whose body has returned (or that never ran).
    void (*destroy)(void* fiber);
    // How many OS threads may run blocks at once (at least 1).
    unsigned workers;
};

namespace {

constexpr unsigned kWarp = 32;
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxSharedBytes = 48 * 1024;
constexpr const char* kSyncthreads = "__syncthreads";
constexpr const char* kWarpBarrier = "a warp barrier (__syncwarp, shuffle or vote)";

// Thrown out of a barrier once the launch has failed, to unwind the kernel on its own fiber.
struct Abort {};

// A barrier over the threads (block) or lanes (warp) still running the kernel. Warps also carry
// the double-buffered exchange slots: generation g writes slots[g & 1], and nobody can write that
// buffer again before every lane has arrived at generation g + 1, i.e. has read it.
struct Barrier {
    unsigned live = 0;
    unsigned arrived = 0;
    uint64_t gen = 0;
    unsigned live_lanes = 0;
    unsigned arrived_lanes = 0;
    unsigned released_lanes[2] = {0, 0};
    uint64_t slots[2][kWarp] = {};
};

// What every worker of a launch shares; everything else is per worker.
struct Launch {
    const W2vEmuKernel* kernel = nullptr;
    void* const* args = nullptr;
    const W2vEmuFiberOps* ops = nullptr;
    dim3 grid{1, 1, 1};
    dim3 block{1, 1, 1};
    unsigned nthreads = 0;
    unsigned shared_bytes = 0;
    uint64_t nblocks = 0;
    std::atomic<uint64_t> next_block{0};
    std::atomic<bool> failed{false};
    std::mutex error_mutex;
    std::string error;
};

struct Worker;

// One CUDA thread of the worker's current block.
struct Fiber {
    Worker* worker = nullptr;
    unsigned tid = 0;
    uint3 thread_idx{0, 0, 0};
    void* handle = nullptr;
    void* yielder = nullptr;
    // Left the kernel for the current block (or has not been given one yet).
    bool done = true;
    // The barrier and generation it waits at, null while runnable.
    const Barrier* waiting_on = nullptr;
    uint64_t waiting_gen = 0;
    const char* waiting_what = nullptr;
};

// One OS thread running blocks: its block's barriers, its dynamic shared memory, its fibers.
struct Worker {
    Launch* launch = nullptr;
    std::vector<uint64_t> shared;
    Barrier block_barrier;
    std::vector<Barrier> warps;
    std::vector<Fiber> fibers;
    uint3 block_idx{0, 0, 0};
    bool quit = false;
};

thread_local Worker* tl_worker = nullptr;
thread_local Fiber* tl_fiber = nullptr;

// Records the first failure; every barrier reached afterwards throws Abort.
void fail(Launch& l, const std::string& msg) {
    std::lock_guard<std::mutex> lk(l.error_mutex);
    if (!l.failed.load(std::memory_order_relaxed)) {
        l.error = msg;
        l.failed.store(true, std::memory_order_release);
    }
}

void release(Barrier& b) {
    if (w2v_emu_counting_on() && tl_worker != nullptr) {
        // Every lane of the warp (or block) has arrived: its accesses since the last barrier are complete.
        if (&b == &tl_worker->block_barrier) {
            w2v_emu_traffic_flush_all();
        } else {
            w2v_emu_traffic_flush((unsigned)(&b - tl_worker->warps.data()));
        }
    }
    b.released_lanes[b.gen & 1] = b.arrived_lanes;
    b.arrived_lanes = 0;
    b.arrived = 0;
    ++b.gen;
}

// Arrives at `b`; the last live member releases it and goes on, the others suspend until released.
void arrive_and_wait(Barrier& b, const char* what) {
    Fiber& f = *tl_fiber;
    const uint64_t g = b.gen;
    ++b.arrived;
    if (b.arrived >= b.live) {
        release(b);
        return;
    }
    f.waiting_on = &b;
    f.waiting_gen = g;
    f.waiting_what = what;
    f.worker->launch->ops->suspend(f.yielder);
    f.waiting_on = nullptr;
    if (b.gen == g) {
        // Resumed without a release: the launch failed.
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
uint64_t warp_arrive(unsigned mask, uint64_t value) {
    Worker& w = *tl_worker;
    Launch& l = *w.launch;
    if (l.failed.load(std::memory_order_acquire)) {
        throw Abort{};
    }
    const unsigned lane = w2v_emu_tid % kWarp;
    Barrier& b = w.warps[w2v_emu_tid / kWarp];
    if ((mask & b.live_lanes) != b.live_lanes) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "%s: warp operation with mask %08x while lanes %08x of warp %u are live; the emulator "
                 "supports masks naming every live lane only",
                 l.kernel->name, mask, b.live_lanes, w2v_emu_tid / kWarp);
        fail(l, msg);
        throw Abort{};
    }
    const uint64_t g = b.gen;
    b.slots[g & 1][lane] = value;
    b.arrived_lanes |= 1u << lane;
    arrive_and_wait(b, kWarpBarrier);
    return g;
}

// The body of every fiber: runs the kernel once per block the worker hands it, until told to quit.
void fiber_body(void* arg, void* yielder) {
    Fiber& f = *static_cast<Fiber*>(arg);
    f.yielder = yielder;
    Worker& w = *f.worker;
    Launch& l = *w.launch;
    const unsigned lane_bit = 1u << (f.tid % kWarp);
    while (!w.quit) {
        try {
            l.kernel->call(l.args);
        } catch (const Abort&) {
            // The launch already failed and recorded why.
        } catch (...) {
            fail(l, std::string(l.kernel->name) + ": a kernel thread threw a C++ exception");
        }
        leave(w.block_barrier, lane_bit);
        leave(w.warps[f.tid / kWarp], lane_bit);
        f.done = true;
        l.ops->suspend(yielder);
    }
}

// Switches to `f` with its CUDA thread's identity in the worker's thread_local variables.
int resume(Worker& w, Fiber& f) {
    threadIdx = f.thread_idx;
    w2v_emu_tid = f.tid;
    tl_fiber = &f;
    const int suspended = w.launch->ops->resume(f.handle);
    tl_fiber = nullptr;
    return suspended;
}

std::string deadlock_message(const Worker& w) {
    const Launch& l = *w.launch;
    unsigned at_block = 0;
    unsigned at_warp = 0;
    unsigned first_block = 0;
    unsigned first_warp = 0;
    for (const Fiber& f : w.fibers) {
        if (f.done || f.waiting_on == nullptr) {
            continue;
        }
        if (f.waiting_what == kSyncthreads) {
            first_block = at_block++ == 0 ? f.tid : first_block;
        } else {
            first_warp = at_warp++ == 0 ? f.tid : first_warp;
        }
    }
    char msg[512];
    snprintf(msg, sizeof msg,
             "%s: block (%u, %u, %u) deadlocked: %u threads wait at %s (first: thread %u) and %u at %s "
             "(first: thread %u, warp %u), and none of those barriers can complete: some threads never "
             "reached them (divergent barrier in the kernel?)",
             l.kernel->name, w.block_idx.x, w.block_idx.y, w.block_idx.z, at_block, kSyncthreads, first_block,
             at_warp, kWarpBarrier, first_warp, first_warp / kWarp);
    return msg;
}

// Runs the worker's current block until every fiber has left the kernel.
void run_block(Worker& w) {
    Launch& l = *w.launch;
    for (;;) {
        bool all_done = true;
        bool ran = false;
        const bool failed = l.failed.load(std::memory_order_acquire);
        for (Fiber& f : w.fibers) {
            if (f.done) {
                continue;
            }
            all_done = false;
            if (f.waiting_on != nullptr && f.waiting_on->gen == f.waiting_gen && !failed) {
                continue;
            }
            resume(w, f);
            ran = true;
        }
        if (all_done) {
            return;
        }
        if (!ran) {
            // Nobody could move: fail, and the next round resumes the waiters so that they unwind.
            fail(l, deadlock_message(w));
        }
    }
}

bool create_fibers(Worker& w) {
    Launch& l = *w.launch;
    w.fibers.resize(l.nthreads);
    for (unsigned t = 0; t < l.nthreads; ++t) {
        Fiber& f = w.fibers[t];
        f.worker = &w;
        f.tid = t;
        f.thread_idx = uint3{t % l.block.x, t / l.block.x % l.block.y, t / (l.block.x * l.block.y)};
        f.handle = l.ops->create(fiber_body, &f);
        if (f.handle == nullptr) {
            fail(l, std::string(l.kernel->name) + ": could not allocate a stack for emulated thread " +
                        std::to_string(t) + " (out of memory?)");
            return false;
        }
    }
    return true;
}

void start_block(Worker& w, uint64_t linear) {
    const Launch& l = *w.launch;
    const unsigned nwarps = (l.nthreads + kWarp - 1) / kWarp;
    w.block_barrier = Barrier{};
    w.block_barrier.live = l.nthreads;
    for (unsigned i = 0; i < nwarps; ++i) {
        const unsigned lanes = l.nthreads - i * kWarp < kWarp ? l.nthreads - i * kWarp : kWarp;
        w.warps[i] = Barrier{};
        w.warps[i].live = lanes;
        w.warps[i].live_lanes = lanes == kWarp ? 0xFFFFFFFFu : (1u << lanes) - 1u;
    }
    memset(w.shared.data(), 0xFF, w.shared.size() * sizeof(uint64_t));
    w.block_idx = uint3{(unsigned)(linear % l.grid.x), (unsigned)(linear / l.grid.x % l.grid.y),
                        (unsigned)(linear / ((uint64_t)l.grid.x * l.grid.y))};
    blockIdx = w.block_idx;
    for (Fiber& f : w.fibers) {
        f.done = false;
        f.waiting_on = nullptr;
    }
}

// One worker: claims blocks until none are left or the launch failed, then ends its fibers.
void run_worker(Launch& l) {
    Worker w;
    w.launch = &l;
    w.shared.assign(l.shared_bytes / sizeof(uint64_t) + 2, 0);
    w.warps.resize((l.nthreads + kWarp - 1) / kWarp);
    tl_worker = &w;
    blockDim = l.block;
    gridDim = l.grid;
    bool have_fibers = false;
    while (!l.failed.load(std::memory_order_acquire)) {
        const uint64_t linear = l.next_block.fetch_add(1, std::memory_order_relaxed);
        if (linear >= l.nblocks) {
            break;
        }
        if (!have_fibers && !(have_fibers = create_fibers(w))) {
            break;
        }
        start_block(w, linear);
        run_block(w);
        if (w2v_emu_counting_on()) {
            w2v_emu_traffic_flush_all();
        }
    }
    if (w2v_emu_counting_on()) {
        w2v_emu_traffic_commit(l.kernel->name, false);
    }
    // Every fiber is between blocks (or never ran): resuming it with `quit` set returns its body.
    w.quit = true;
    for (Fiber& f : w.fibers) {
        if (f.handle != nullptr) {
            if (resume(w, f) != 0) {
                fprintf(stderr, "w2v emulator: a fiber of %s did not end when told to; aborting\n", l.kernel->name);
                abort();
            }
            l.ops->destroy(f.handle);
        }
    }
    tl_worker = nullptr;
}

// Runs every block of the grid; returns the failure message, empty on success.
std::string run_grid(Launch& l, unsigned workers) {
    const uint64_t n = workers < l.nblocks ? workers : l.nblocks;
    std::vector<std::thread> extra;
    for (uint64_t i = 1; i < n; ++i) {
        try {
            extra.emplace_back(run_worker, std::ref(l));
        } catch (const std::system_error&) {
            // Fewer workers only means less parallelism; the calling thread always runs blocks.
            break;
        }
    }
    run_worker(l);
    for (std::thread& t : extra) {
        t.join();
    }
    return l.failed.load(std::memory_order_acquire) ? l.error : std::string();
}

int report(char* err, unsigned err_len, const std::string& msg) {
    if (err != nullptr && err_len > 0) {
        snprintf(err, err_len, "%s", msg.c_str());
    }
    return 1;
}

}  // namespace

void w2v_emu_syncthreads() {
    Worker& w = *tl_worker;
    if (w.launch->failed.load(std::memory_order_acquire)) {
        throw Abort{};
    }
    arrive_and_wait(w.block_barrier, kSyncthreads);
}

uint64_t w2v_emu_warp_exchange(unsigned mask, uint64_t value, unsigned src_lane, unsigned* lanes) {
    const uint64_t g = warp_arrive(mask, value);
    const Barrier& b = tl_worker->warps[w2v_emu_tid / kWarp];
    *lanes = b.released_lanes[g & 1];
    return b.slots[g & 1][src_lane % kWarp];
}

unsigned w2v_emu_ballot(unsigned mask, int predicate, unsigned* lanes) {
    const uint64_t g = warp_arrive(mask, predicate != 0 ? 1u : 0u);
    const Barrier& b = tl_worker->warps[w2v_emu_tid / kWarp];
    *lanes = b.released_lanes[g & 1];
    unsigned ballot = 0;
    for (unsigned i = 0; i < kWarp; ++i) {
        if ((*lanes >> i & 1u) != 0u && b.slots[g & 1][i] != 0u) {
            ballot |= 1u << i;
        }
    }
    return ballot;
}

void* w2v_emu_dynamic_shared() { return tl_worker->shared.data(); }

extern "C" int w2v_emu_launch(const char* name, const unsigned grid[3], const unsigned block[3],
                              unsigned shared_bytes, void* const* args, const char* const* arg_types,
                              unsigned nargs, const W2vEmuFiberOps* fibers, char* err, unsigned err_len) {
    if (name == nullptr || grid == nullptr || block == nullptr) {
        return report(err, err_len, "w2v_emu_launch: null kernel name, grid or block");
    }
    if (fibers == nullptr || fibers->create == nullptr || fibers->resume == nullptr || fibers->suspend == nullptr ||
        fibers->destroy == nullptr) {
        return report(err, err_len, "w2v_emu_launch: missing fiber operations");
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
    Launch l;
    l.kernel = kernel;
    l.args = args;
    l.ops = fibers;
    l.grid = dim3{grid[0], grid[1], grid[2]};
    l.block = dim3{block[0], block[1], block[2]};
    l.nthreads = (unsigned)nthreads;
    l.shared_bytes = shared_bytes;
    l.nblocks = (uint64_t)grid[0] * grid[1] * grid[2];
    const std::string error = run_grid(l, fibers->workers > 0 ? fibers->workers : 1);
    if (w2v_emu_counting_on()) {
        w2v_emu_traffic_commit(kernel->name, true);
    }
    if (!error.empty()) {
        return report(err, err_len, error);
    }
    return 0;
}
