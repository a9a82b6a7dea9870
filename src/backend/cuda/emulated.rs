//! The emulated device: `kernels/*.cu` compiled as C++ by build.rs, launched through `w2v_emu_launch`.
//!
//! Device memory is host memory, so a device address is a host pointer. The emulator runs one OS
//! thread per CUDA thread of a block and checks each launch's argument types on its side too. It is
//! for correctness only: its speed says nothing about a GPU's.

use std::ffi::{c_char, c_int, c_uint, c_void, CString};

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
        err: *mut c_char,
        err_len: c_uint,
    ) -> c_int;
}

/// Host memory standing in for device memory, 8-byte aligned for `u64`/`f64` elements.
pub struct HostMem(Vec<u64>);

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

/// Largest block the emulator accepts (CUDA's limit; the emulator spawns one OS thread per thread).
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
        let words = bytes.div_ceil(8);
        let mut v = Vec::new();
        v.try_reserve_exact(words).map_err(|_| {
            Error::Device(format!(
                "emulated device: out of host memory allocating {}; use a smaller model or corpus chunk",
                super::device::fmt_bytes(bytes as u64)
            ))
        })?;
        v.resize(words, 0);
        Ok(HostMem(v))
    }

    fn write_bytes(&self, dst: &mut HostMem, offset: usize, src: &[u8]) -> Result<()> {
        assert!(
            offset + src.len() <= dst.0.len() * 8,
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
            offset + dst.len() <= src.0.len() * 8,
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
        let type_ptrs: Vec<*const c_char> = type_names.iter().map(|s| s.as_ptr()).collect();
        let values: Vec<*mut c_void> = args.iter().map(Arg::value_ptr).collect();
        let mut err = vec![0u8; 512];
        // SAFETY: every pointer passed lives until the call returns: `name`, `type_names` and
        // `err` are owned here, `values` point into `args` (borrowed for the call), grid/block are
        // 3-element arrays. Pointer arguments are host addresses of live `HostMem` allocations
        // borrowed by `args` (shared for `const`, exclusive for written ones); the emulator checks
        // the count and types against the kernel before running it and writes at most `err_len`
        // bytes, NUL-terminated, into `err`.
        let rc = unsafe {
            w2v_emu_launch(
                name.as_ptr(),
                cfg.grid.as_ptr(),
                cfg.block.as_ptr(),
                cfg.shared_bytes,
                values.as_ptr(),
                type_ptrs.as_ptr(),
                values.len() as c_uint,
                err.as_mut_ptr().cast::<c_char>(),
                err.len() as c_uint,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let end = err.iter().position(|&b| b == 0).unwrap_or(err.len());
        Err(Error::Device(format!(
            "emulated launch of '{kernel}' failed: {}",
            String::from_utf8_lossy(&err[..end])
        )))
    }

    fn synchronize(&self) -> Result<()> {
        Ok(())
    }
}
