//! The emulated device: `kernels/*.cu` compiled as C++ by build.rs, launched through `w2v_emu_launch`.
//!
//! Device memory is host memory, so a device address is a host pointer. The emulator runs a launch's
//! blocks on a few OS worker threads (one per available core, at most 16) and every CUDA
//! thread of a block as a fiber, a stackful coroutine, on its worker; this file provides the fibers'
//! context switches ([`corosensei`]) to the C++ runtime as plain C function pointers with every
//! launch (see kernels/emulator/runtime.cpp). Fibers because a warp operation must cost nanoseconds,
//! not OS context switches, for a training run to finish on a 2-core CI machine. The emulator checks
//! each launch's argument types on its side too. It is for correctness only: its speed says nothing
//! about a GPU's.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::sync::Mutex;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::device::{Arg, Device, DeviceProps, LaunchConfig};
use crate::error::{Error, Result};

extern "C" {
    fn w2v_emu_launch(
        name: *const c_char,
        grid: *const c_uint,
        block: *const c_uint,
        shared_bytes: c_uint,
        args: *const *mut c_void,
        arg_types: *const *const c_char,
        nargs: c_uint,
        fibers: *const FiberOps,
        err: *mut c_char,
        err_len: c_uint,
    ) -> c_int;
}

/// A fiber's body as the C++ runtime writes it: `body(arg, yielder)`, never unwinding.
type FiberBody = unsafe extern "C" fn(arg: *mut c_void, yielder: *mut c_void);

/// The context switches the C++ runtime runs its fibers with (`W2vEmuFiberOps` in runtime.cpp).
#[repr(C)]
struct FiberOps {
    create: unsafe extern "C" fn(body: FiberBody, arg: *mut c_void) -> *mut c_void,
    resume: unsafe extern "C" fn(fiber: *mut c_void) -> c_int,
    suspend: unsafe extern "C" fn(yielder: *mut c_void),
    destroy: unsafe extern "C" fn(fiber: *mut c_void),
    workers: c_uint,
}

/// One emulated CUDA thread.
type Fiber = Coroutine<(), (), (), DefaultStack>;

/// Stack size of a fiber: kernels keep a few KiB of locals; untouched pages cost no memory.
const FIBER_STACK_BYTES: usize = 256 << 10;

/// Most OS threads one launch runs blocks on.
const MAX_WORKERS: usize = 16;

/// Stacks of finished fibers, reused by later ones (a launch creates up to 1024 per worker).
static STACKS: Mutex<Vec<DefaultStack>> = Mutex::new(Vec::new());

/// `W2vEmuFiberOps::create`: a fiber that runs `body(arg, yielder)` when first resumed, or null
/// when no stack can be had.
unsafe extern "C" fn fiber_create(body: FiberBody, arg: *mut c_void) -> *mut c_void {
    let pooled = STACKS.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let stack = match pooled.map_or_else(|| DefaultStack::new(FIBER_STACK_BYTES), Ok) {
        Ok(stack) => stack,
        Err(_) => return std::ptr::null_mut(),
    };
    let fiber: Fiber = Coroutine::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
        let yielder = std::ptr::from_ref(yielder).cast_mut().cast::<c_void>();
        // SAFETY: the runtime passes a body that catches every C++ exception on this stack and an
        // `arg` that outlives the fiber; `yielder` stays valid while the body runs.
        unsafe { body(arg, yielder) }
    });
    Box::into_raw(Box::new(fiber)).cast()
}

/// `W2vEmuFiberOps::resume`: 1 when the fiber suspended, 0 when its body returned.
unsafe extern "C" fn fiber_resume(fiber: *mut c_void) -> c_int {
    // SAFETY: the runtime passes a pointer from `fiber_create` that it has not destroyed, resumes
    // it only on the OS thread that created it and never after its body returned.
    let fiber = unsafe { &mut *fiber.cast::<Fiber>() };
    match fiber.resume(()) {
        CoroutineResult::Yield(()) => 1,
        CoroutineResult::Return(()) => 0,
    }
}

/// `W2vEmuFiberOps::suspend`: back to the runtime's scheduler, from the fiber's own stack.
unsafe extern "C" fn fiber_suspend(yielder: *mut c_void) {
    // SAFETY: `yielder` is the pointer the running fiber's body was given, and the runtime calls
    // this only from that fiber.
    unsafe { &*yielder.cast::<Yielder<(), ()>>() }.suspend(());
}

/// `W2vEmuFiberOps::destroy`: frees a fiber whose body returned (or never ran) and keeps its stack.
unsafe extern "C" fn fiber_destroy(fiber: *mut c_void) {
    // SAFETY: a pointer from `fiber_create`, destroyed once, by the OS thread that ran it.
    let fiber = unsafe { Box::from_raw(fiber.cast::<Fiber>()) };
    if fiber.done() {
        let stack = fiber.into_stack();
        STACKS.lock().unwrap_or_else(|e| e.into_inner()).push(stack);
    } else if !fiber.started() {
        // Never ran: dropping it only drops the closure, nothing unwinds.
        drop(fiber);
    } else {
        // Suspended inside C++ frames: dropping would unwind through them, so leak it instead.
        std::mem::forget(fiber);
    }
}

fn fiber_ops() -> FiberOps {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_WORKERS);
    FiberOps {
        create: fiber_create,
        resume: fiber_resume,
        suspend: fiber_suspend,
        destroy: fiber_destroy,
        workers: workers as c_uint,
    }
}

/// Launches `kernel` on the emulated device with cuLaunchKernel-style arguments: `args[i]` points
/// at the value of argument `i`, whose normalised type (`"const f32*"`, `"u32"`…) is `types[i]`.
/// The emulator checks the name, the count and the types against the kernel and the geometry
/// against its limits; Err carries its one-line message (also for a failed launch: a divergent
/// barrier, a partial warp mask).
///
/// # Safety
/// Each `args[i]` must point at a live value of the type `types[i]` names, and every pointer
/// argument must be a host address valid for all the accesses the kernel makes with this
/// geometry (reads for `const` pointers, reads and writes otherwise) while nothing else uses it.
pub unsafe fn launch_raw(
    kernel: &CStr,
    grid: [u32; 3],
    block: [u32; 3],
    shared_bytes: u32,
    args: &[*mut c_void],
    types: &[&CStr],
) -> std::result::Result<(), String> {
    if args.len() != types.len() {
        return Err(format!(
            "{} argument values but {} argument types",
            args.len(),
            types.len()
        ));
    }
    let type_ptrs: Vec<*const c_char> = types.iter().map(|t| t.as_ptr()).collect();
    let fibers = fiber_ops();
    let mut err = vec![0u8; 512];
    // SAFETY: every pointer passed lives until the call returns: `kernel`, `types` and `err` are
    // borrowed or owned here, grid/block are 3-element arrays, `fibers` holds functions with the
    // signatures runtime.cpp declares; the caller vouches for `args` (see # Safety). The emulator
    // writes at most `err_len` bytes, NUL-terminated, into `err`.
    let rc = unsafe {
        w2v_emu_launch(
            kernel.as_ptr(),
            grid.as_ptr(),
            block.as_ptr(),
            shared_bytes,
            args.as_ptr(),
            type_ptrs.as_ptr(),
            args.len() as c_uint,
            &fibers,
            err.as_mut_ptr().cast::<c_char>(),
            err.len() as c_uint,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let end = err.iter().position(|&b| b == 0).unwrap_or(err.len());
    Err(String::from_utf8_lossy(&err[..end]).into_owned())
}

/// Host memory standing in for device memory, 256-byte aligned as `cuMemAlloc`'s, so that rows
/// fall on the same 32-byte sectors as on a GPU (the traffic counts depend on it).
pub struct HostMem(Vec<Block>);

/// The allocation unit of [`HostMem`].
#[derive(Clone, Copy)]
#[repr(C, align(256))]
struct Block([u64; 32]);

/// Bytes in a [`Block`].
const BLOCK_BYTES: usize = std::mem::size_of::<Block>();

/// A device that runs the kernels on the CPU (feature `emulator`).
pub struct EmulatedDevice {
    props: DeviceProps,
}

impl EmulatedDevice {
    pub fn new() -> EmulatedDevice {
        EmulatedDevice {
            props: DeviceProps {
                name: "emulated device".into(),
                sm_count: 2,
                warp_size: 32,
                shared_per_block: 48 * 1024,
                total_memory: 1 << 30,
                driver_version: "none (emulated)".into(),
                toolkit: "kernels/*.cu compiled as C++ (emulator)".into(),
            },
        }
    }
}

impl Default for EmulatedDevice {
    fn default() -> Self {
        Self::new()
    }
}

/// Largest block the emulator accepts (CUDA's limit).
const MAX_THREADS_PER_BLOCK: u32 = 1024;

impl Device for EmulatedDevice {
    type Mem = HostMem;

    fn props(&self) -> &DeviceProps {
        &self.props
    }

    fn free_memory(&self) -> Result<u64> {
        Ok(self.props.total_memory)
    }

    fn alloc_zeroed(&self, bytes: usize) -> Result<HostMem> {
        let blocks = bytes.div_ceil(BLOCK_BYTES);
        let mut v = Vec::new();
        v.try_reserve_exact(blocks).map_err(|_| {
            Error::Device(format!(
                "emulated device: out of host memory allocating {}; use a smaller model or corpus chunk",
                super::device::fmt_bytes(bytes as u64)
            ))
        })?;
        v.resize(blocks, Block([0; 32]));
        Ok(HostMem(v))
    }

    fn write_bytes(&self, dst: &mut HostMem, offset: usize, src: &[u8]) -> Result<()> {
        assert!(
            offset + src.len() <= dst.0.len() * BLOCK_BYTES,
            "emulated write past the end of an allocation"
        );
        // SAFETY: the range `offset..offset + src.len()` lies inside `dst`'s allocation (asserted
        // above); `src` is a distinct host slice, so the regions do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                src.as_ptr(),
                dst.0.as_mut_ptr().cast::<u8>().add(offset),
                src.len(),
            );
        }
        Ok(())
    }

    fn read_bytes(&self, src: &HostMem, offset: usize, dst: &mut [u8]) -> Result<()> {
        assert!(
            offset + dst.len() <= src.0.len() * BLOCK_BYTES,
            "emulated read past the end of an allocation"
        );
        // SAFETY: the source range lies inside `src`'s allocation (asserted above) and `dst` is a
        // distinct host slice of exactly the copied length.
        unsafe {
            std::ptr::copy_nonoverlapping(
                src.0.as_ptr().cast::<u8>().add(offset),
                dst.as_mut_ptr(),
                dst.len(),
            );
        }
        Ok(())
    }

    fn addr(mem: &HostMem) -> u64 {
        mem.0.as_ptr() as u64
    }

    fn addr_mut(mem: &mut HostMem) -> u64 {
        mem.0.as_mut_ptr() as u64
    }

    fn launch_unchecked(
        &self,
        kernel: &str,
        _module: &str,
        cfg: LaunchConfig,
        args: &[Arg],
    ) -> Result<()> {
        let threads: u64 = cfg.block.iter().map(|&b| b as u64).product();
        if threads == 0 || threads > MAX_THREADS_PER_BLOCK as u64 || cfg.grid.contains(&0) {
            return Err(Error::Device(format!(
                "kernel '{kernel}': invalid launch geometry grid {:?} block {:?}",
                cfg.grid, cfg.block
            )));
        }
        if cfg.shared_bytes > self.props.shared_per_block {
            return Err(Error::Device(format!(
                "kernel '{kernel}' asks for {} bytes of shared memory, the device has {} per block",
                cfg.shared_bytes, self.props.shared_per_block
            )));
        }
        let name = CString::new(kernel)
            .map_err(|_| Error::Device(format!("kernel name {kernel:?} has a NUL byte")))?;
        let type_names: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.type_name()).expect("normalised type names have no NUL"))
            .collect();
        let types: Vec<&CStr> = type_names.iter().map(CString::as_c_str).collect();
        let values: Vec<*mut c_void> = args.iter().map(Arg::value_ptr).collect();
        // SAFETY: `values` point into `args` (borrowed for the call) at values of the types named
        // by `types`; pointer arguments are host addresses of live `HostMem` allocations borrowed
        // by `args` (shared for `const`, exclusive for written ones), checked against the kernel's
        // signature on the host side before this.
        unsafe {
            launch_raw(
                &name,
                cfg.grid,
                cfg.block,
                cfg.shared_bytes,
                &values,
                &types,
            )
        }
        .map_err(|msg| Error::Device(format!("emulated launch of '{kernel}' failed: {msg}")))
    }

    fn synchronize(&self) -> Result<()> {
        Ok(())
    }
}
