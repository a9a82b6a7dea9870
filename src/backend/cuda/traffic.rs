//! Global-memory traffic counted by the emulated device (kernels/emulator/traffic.cpp): per kernel,
//! the warp instructions, bytes and 32-byte sectors of its loads, stores and atomics, measured from
//! the lanes' real addresses. The inputs of the traffic model (`benches/MODEL.md`).
//!
//! Counting is one process-wide switch: turn it on only while no other emulated launch runs whose
//! counts you do not want (the `kernel-cost` bench does, a test binary running tests in parallel
//! would not), and expect the emulator to run a few times slower while it is on.

use std::ffi::{c_char, c_int, c_uint, CStr};

use serde::Serialize;

extern "C" {
    fn w2v_emu_traffic_enable(on: c_int);
    fn w2v_emu_traffic_reset();
    fn w2v_emu_traffic_kernels() -> c_uint;
    fn w2v_emu_traffic_get(
        i: c_uint,
        name: *mut c_char,
        name_len: c_uint,
        out: *mut u64,
        n: c_uint,
    ) -> c_int;
}

/// Counters per kernel in traffic.cpp's order.
const COUNTERS: usize = 11;

/// One kind of access: warp instructions that touched memory, bytes moved by their lanes, and the
/// distinct 32-byte sectors each instruction touched, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Access {
    pub instructions: u64,
    pub bytes: u64,
    pub sectors: u64,
}

/// Everything counted for one kernel since the last [`reset`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Traffic {
    pub loads: Access,
    pub stores: Access,
    pub atomics: Access,
    /// Atomic element operations (one per lane per atomic instruction it took part in).
    pub atomic_lane_ops: u64,
    pub launches: u64,
}

impl Traffic {
    /// Sectors of every kind.
    pub fn sectors(&self) -> u64 {
        self.loads.sectors + self.stores.sectors + self.atomics.sectors
    }

    /// Warp memory instructions of every kind.
    pub fn instructions(&self) -> u64 {
        self.loads.instructions + self.stores.instructions + self.atomics.instructions
    }
}

/// Turns counting on or off for every later emulated launch.
pub fn set_counting(on: bool) {
    // SAFETY: sets an int in the emulator runtime; no pointers.
    unsafe { w2v_emu_traffic_enable(on as c_int) }
}

/// Forgets every count.
pub fn reset() {
    // SAFETY: clears the runtime's table under its lock; no pointers.
    unsafe { w2v_emu_traffic_reset() }
}

/// The counts so far, per kernel name, in name order.
pub fn snapshot() -> Vec<(String, Traffic)> {
    // SAFETY: no pointers.
    let n = unsafe { w2v_emu_traffic_kernels() };
    let mut rows = Vec::new();
    for i in 0..n {
        let mut name = [0 as c_char; 128];
        let mut c = [0u64; COUNTERS];
        // SAFETY: both buffers outlive the call and their lengths are passed; the runtime writes a
        // NUL-terminated name of at most `name.len()` bytes and exactly COUNTERS values.
        let ok = unsafe {
            w2v_emu_traffic_get(
                i,
                name.as_mut_ptr(),
                name.len() as c_uint,
                c.as_mut_ptr(),
                COUNTERS as c_uint,
            )
        };
        if ok == 0 {
            continue;
        }
        // SAFETY: the runtime NUL-terminated the name inside the buffer.
        let name = unsafe { CStr::from_ptr(name.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        let access = |k: usize| Access {
            instructions: c[3 * k],
            bytes: c[3 * k + 1],
            sectors: c[3 * k + 2],
        };
        rows.push((
            name,
            Traffic {
                loads: access(0),
                stores: access(1),
                atomics: access(2),
                atomic_lane_ops: c[9],
                launches: c[10],
            },
        ));
    }
    rows
}
