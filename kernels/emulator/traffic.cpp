// traffic.cpp: the emulated device's global-memory traffic counters (benches/MODEL.md's inputs).
//
// The kernels' access helpers (common.cuh: w2v_gld, w2v_gst, w2v_gred, w2v_gcas, w2v_gskip) note,
// while counting is on, (call site, kind, address, bytes) for the calling CUDA thread into this
// worker's log. At every warp barrier the runtime flushes that warp's log; at a block barrier and
// at the end of a block, every warp's. A flush rebuilds the warp instructions: the i-th note of
// each lane at one call site and kind since the last flush is the same instruction (what a GPU
// issues for the warp's i-th iteration of that access, with the lanes that take part), so its
// cost is the number of distinct 32-byte sectors its lanes' real addresses touch. Notes of 0 bytes
// are lanes that take part in an iteration without touching memory. Per kernel name the table
// keeps, for loads, stores and atomics: warp instructions, bytes, sectors; and the atomic lane
// operations, and launches. Counting is for the traffic model only (it slows the emulator down).
#include "cuda_emu.h"

#include <algorithm>
#include <cstdio>
#include <array>
#include <map>
#include <mutex>
#include <string>
#include <vector>

int w2v_emu_counting = 0;

namespace {

using u64 = unsigned long long;

// Counter layout (emulated.rs reads it in this order).
constexpr unsigned kCounters = 11;
constexpr unsigned kLaunches = 10;
constexpr unsigned kAtomicLaneOps = 9;

struct Note {
    u64 site;
    u64 addr;
    unsigned bytes;
    unsigned kind;
};

// One sector of one lane's access (or a 0-byte participation), keyed to its warp instruction.
struct Row {
    u64 key;
    unsigned ord;
    u64 sector;
    unsigned bytes;
    bool lane_op;
};

struct Log {
    std::vector<std::vector<Note>> lanes;
    std::vector<Row> rows;
    std::vector<std::pair<u64, unsigned>> ords;
    std::array<u64, kCounters> counts{};
};

thread_local Log tl_log;
std::mutex table_mutex;
std::map<std::string, std::array<u64, kCounters>> table;

constexpr u64 kNoSector = ~0ull;

unsigned next_ordinal(Log& l, u64 key) {
    for (auto& o : l.ords) {
        if (o.first == key) {
            return o.second++;
        }
    }
    l.ords.emplace_back(key, 1u);
    return 0u;
}

// Turns the notes of threads [first, first + n) (one warp) into counted warp instructions.
void flush_warp(Log& l, unsigned first, unsigned n) {
    l.rows.clear();
    for (unsigned t = first; t < first + n && t < l.lanes.size(); ++t) {
        l.ords.clear();
        for (const Note& note : l.lanes[t]) {
            const u64 key = note.site * 4u + note.kind;
            const unsigned ord = next_ordinal(l, key);
            if (note.bytes == 0u) {
                l.rows.push_back(Row{key, ord, kNoSector, 0u, false});
                continue;
            }
            const u64 lo = note.addr / 32u;
            const u64 hi = (note.addr + note.bytes - 1u) / 32u;
            for (u64 s = lo; s <= hi; ++s) {
                l.rows.push_back(Row{key, ord, s, s == lo ? note.bytes : 0u, s == lo});
            }
        }
        l.lanes[t].clear();
    }
    std::sort(l.rows.begin(), l.rows.end(), [](const Row& a, const Row& b) {
        return a.key != b.key ? a.key < b.key : a.ord != b.ord ? a.ord < b.ord : a.sector < b.sector;
    });
    for (size_t i = 0; i < l.rows.size();) {
        const size_t begin = i;
        const unsigned kind = (unsigned)(l.rows[i].key % 4u);
        u64 sectors = 0;
        u64 bytes = 0;
        u64 lane_ops = 0;
        for (; i < l.rows.size() && l.rows[i].key == l.rows[begin].key && l.rows[i].ord == l.rows[begin].ord; ++i) {
            const Row& r = l.rows[i];
            if (r.sector != kNoSector && (i == begin || l.rows[i - 1].sector != r.sector)) {
                ++sectors;
            }
            bytes += r.bytes;
            lane_ops += r.lane_op ? 1u : 0u;
        }
        if (lane_ops == 0u) {
            continue;  // every lane was predicated off: nothing issued to memory
        }
        l.counts[kind * 3u] += 1u;
        l.counts[kind * 3u + 1u] += bytes;
        l.counts[kind * 3u + 2u] += sectors;
        if (kind == 2u) {  // W2V_ACC_ATOMIC (common.cuh)
            l.counts[kAtomicLaneOps] += lane_ops;
        }
    }
}

}  // namespace

void w2v_emu_note_slow(unsigned kind, const void* p, unsigned bytes, unsigned long long site) {
    Log& l = tl_log;
    if (w2v_emu_tid >= l.lanes.size()) {
        l.lanes.resize(w2v_emu_tid + 1u);
    }
    l.lanes[w2v_emu_tid].push_back(Note{site, (u64)(uintptr_t)p, bytes, kind});
}

void w2v_emu_traffic_flush(unsigned warp) { flush_warp(tl_log, warp * 32u, 32u); }

void w2v_emu_traffic_flush_all() {
    Log& l = tl_log;
    for (unsigned w = 0; w * 32u < l.lanes.size(); ++w) {
        flush_warp(l, w * 32u, 32u);
    }
}

void w2v_emu_traffic_commit(const char* kernel, bool launch) {
    Log& l = tl_log;
    w2v_emu_traffic_flush_all();
    std::lock_guard<std::mutex> lk(table_mutex);
    auto& row = table[kernel];
    for (unsigned i = 0; i < kCounters; ++i) {
        row[i] += l.counts[i];
        l.counts[i] = 0;
    }
    row[kLaunches] += launch ? 1u : 0u;
}

extern "C" void w2v_emu_traffic_enable(int on) { __atomic_store_n(&w2v_emu_counting, on != 0, __ATOMIC_RELAXED); }

extern "C" void w2v_emu_traffic_reset() {
    std::lock_guard<std::mutex> lk(table_mutex);
    table.clear();
}

extern "C" unsigned w2v_emu_traffic_kernels() {
    std::lock_guard<std::mutex> lk(table_mutex);
    return (unsigned)table.size();
}

// Kernel i of the table (in name order): its name (NUL-terminated, truncated to name_len) and its
// kCounters counters; 0 when i is out of range or the buffers are too small.
extern "C" int w2v_emu_traffic_get(unsigned i, char* name, unsigned name_len, unsigned long long* out, unsigned n) {
    std::lock_guard<std::mutex> lk(table_mutex);
    if (i >= table.size() || n < kCounters || name == nullptr || name_len == 0u) {
        return 0;
    }
    auto it = table.begin();
    std::advance(it, i);
    snprintf(name, name_len, "%s", it->first.c_str());
    for (unsigned c = 0; c < kCounters; ++c) {
        out[c] = it->second[c];
    }
    return 1;
}
