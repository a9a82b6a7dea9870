//! The narrow device interface the CUDA backend runs on: memory, copies, named kernel launches.
//!
//! Two implementations: [`super::driver::CudaDriver`] (cudarc, a real GPU) and
//! [`super::emulated::EmulatedDevice`] (the same kernels compiled as C++). Both receive exactly the
//! same kernel names, argument lists, grids and blocks, and both have every launch checked against
//! the signatures build.rs extracted from `kernels/*.cu` before it reaches the device.

use std::marker::PhantomData;

use super::kernels::KERNEL_SIGS;
use crate::backend::{Elem, ElemKind};
use crate::error::{Error, Result};

/// Scalar types a device buffer holds (the launch-signature names of the brief).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    F32,
    F16,
    Bf16,
    U32,
    U64,
    F64,
}

impl Scalar {
    /// The name used in normalised signatures (`f32`, `u32`, …).
    pub fn name(self) -> &'static str {
        match self {
            Scalar::F32 => "f32",
            Scalar::F16 => "f16",
            Scalar::Bf16 => "bf16",
            Scalar::U32 => "u32",
            Scalar::U64 => "u64",
            Scalar::F64 => "f64",
        }
    }
}

/// Plain-old-data element types of device buffers: the backend's [`Elem`] types plus `f64`
/// (the fused steps' loss accumulator).
pub trait DevElem: Copy + Default + Send + Sync + std::fmt::Debug + 'static {
    const SCALAR: Scalar;
}

impl<T: Elem> DevElem for T {
    const SCALAR: Scalar = match T::KIND {
        ElemKind::F32 => Scalar::F32,
        ElemKind::F16 => Scalar::F16,
        ElemKind::Bf16 => Scalar::Bf16,
        ElemKind::U32 => Scalar::U32,
        ElemKind::U64 => Scalar::U64,
    };
}

impl DevElem for f64 {
    const SCALAR: Scalar = Scalar::F64;
}

/// The bytes of a slice of plain-old-data elements.
fn as_bytes<T: DevElem>(s: &[T]) -> &[u8] {
    // SAFETY: every `DevElem` (f32, f16, bf16, u32, u64, f64) is plain old data with no padding, so each
    // of its bytes is initialised; the byte view covers exactly the slice's memory and borrows it.
    unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<u8>(), std::mem::size_of_val(s)) }
}

/// The bytes of a mutable slice of plain-old-data elements.
fn as_bytes_mut<T: DevElem>(s: &mut [T]) -> &mut [u8] {
    // SAFETY: as in `as_bytes`; in addition every bit pattern is a valid value of each `DevElem`
    // type, so writing arbitrary bytes through the view cannot create an invalid value.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(s)) }
}

/// A typed buffer in device memory of `D`.
pub struct DeviceBuf<D: Device, T> {
    mem: D::Mem,
    len: usize,
    _elem: PhantomData<T>,
}

impl<D: Device, T: DevElem> DeviceBuf<D, T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// This buffer as a read-only kernel argument (`const T*`).
    pub fn arg(&self) -> Arg<'_> {
        self.arg_at(0)
    }

    /// A read-only kernel argument pointing at element `offset` (`offset <= len`).
    pub fn arg_at(&self, offset: usize) -> Arg<'_> {
        assert!(
            offset <= self.len,
            "argument offset {offset} past a buffer of {}",
            self.len
        );
        Arg::Ptr {
            addr: D::addr(&self.mem) + (offset * std::mem::size_of::<T>()) as u64,
            scalar: T::SCALAR,
            constant: true,
            _borrow: PhantomData,
        }
    }

    /// This buffer as a writable kernel argument (`T*`).
    pub fn arg_mut(&mut self) -> Arg<'_> {
        Arg::Ptr {
            addr: D::addr_mut(&mut self.mem),
            scalar: T::SCALAR,
            constant: false,
            _borrow: PhantomData,
        }
    }
}

/// One kernel argument, as its value; pointers borrow the buffer they point into.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    Ptr {
        addr: u64,
        scalar: Scalar,
        constant: bool,
        _borrow: PhantomData<&'a ()>,
    },
    U32(u32),
    U64(u64),
    F32(f32),
}

impl Arg<'_> {
    /// The normalised C type of this argument (`"const f32*"`, `"u32"`, …), as in `KERNEL_SIGS`.
    pub fn type_name(&self) -> String {
        match self {
            Arg::Ptr {
                scalar,
                constant: true,
                ..
            } => format!("const {}*", scalar.name()),
            Arg::Ptr {
                scalar,
                constant: false,
                ..
            } => format!("{}*", scalar.name()),
            Arg::U32(_) => "u32".into(),
            Arg::U64(_) => "u64".into(),
            Arg::F32(_) => "f32".into(),
        }
    }

    /// A pointer to the argument's value, as `cuLaunchKernel`'s `kernelParams` wants it: the
    /// callee reads exactly the parameter's size from it (8 bytes for a device pointer).
    pub fn value_ptr(&self) -> *mut std::ffi::c_void {
        match self {
            Arg::Ptr { addr, .. } => addr as *const u64 as *mut _,
            Arg::U32(v) => v as *const u32 as *mut _,
            Arg::U64(v) => v as *const u64 as *mut _,
            Arg::F32(v) => v as *const f32 as *mut _,
        }
    }
}

/// A host size as a kernel's `u32` argument; `what` names it in the error when it does not fit.
pub(super) fn u32_arg(what: &str, n: usize) -> Result<Arg<'static>> {
    u32::try_from(n).map(Arg::U32).map_err(|_| {
        Error::Input(format!(
            "{what} = {n} exceeds the CUDA kernels' 32-bit sizes; use smaller batches or model"
        ))
    })
}

/// Grid, block and dynamic shared memory of one launch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaunchConfig {
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub shared_bytes: u32,
}

impl LaunchConfig {
    /// A one-dimensional launch.
    pub fn linear(blocks: u32, threads: u32, shared_bytes: u32) -> LaunchConfig {
        LaunchConfig {
            grid: [blocks, 1, 1],
            block: [threads, 1, 1],
            shared_bytes,
        }
    }
}

/// What the host needs to know about a device to choose launch geometry and report it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceProps {
    pub name: String,
    pub sm_count: u32,
    pub warp_size: u32,
    pub shared_per_block: u32,
    pub total_memory: u64,
    /// e.g. `"13.0"`, or `"none (emulated)"`.
    pub driver_version: String,
    /// How the kernels reached the device (nvcc PTX, NVRTC version, or the emulator).
    pub toolkit: String,
}

/// Looks a kernel up in `KERNEL_SIGS` and checks `args` against its signature; returns its module.
pub fn check_args(kernel: &str, args: &[Arg]) -> Result<&'static str> {
    let Some(&(_, module, sig)) = KERNEL_SIGS.iter().find(|(name, _, _)| *name == kernel) else {
        return Err(Error::Device(format!(
            "kernel '{kernel}' is not in this build's kernels; rebuild so build.rs embeds kernels/*.cu"
        )));
    };
    if sig.len() != args.len() {
        return Err(Error::Device(format!(
            "kernel '{kernel}' takes {} arguments, the host passed {}; host code and kernels/*.cu disagree",
            sig.len(),
            args.len()
        )));
    }
    for (i, (want, arg)) in sig.iter().zip(args).enumerate() {
        let got = arg.type_name();
        if got != *want {
            return Err(Error::Device(format!(
                "kernel '{kernel}' argument {i}: expected '{want}', the host passed '{got}'; \
                 host code and kernels/*.cu disagree"
            )));
        }
    }
    Ok(module)
}

/// A device: allocate, copy, launch a named kernel with an argument list, synchronise.
///
/// Launches are asynchronous on one in-order stream; copies back to the host wait for them.
pub trait Device: Sized + Send + Sync {
    /// One allocation of device memory (freed on drop).
    type Mem: Send + Sync;

    fn props(&self) -> &DeviceProps;

    /// Bytes of device memory currently free.
    fn free_memory(&self) -> Result<u64>;

    /// `bytes` of zeroed device memory.
    fn alloc_zeroed(&self, bytes: usize) -> Result<Self::Mem>;

    /// Copies `src` into `dst` at byte `offset` (the caller keeps it in bounds).
    fn write_bytes(&self, dst: &mut Self::Mem, offset: usize, src: &[u8]) -> Result<()>;

    /// Copies `dst.len()` bytes from `src` at byte `offset` into `dst`, after pending launches.
    fn read_bytes(&self, src: &Self::Mem, offset: usize, dst: &mut [u8]) -> Result<()>;

    /// The device address of an allocation, for read-only arguments.
    fn addr(mem: &Self::Mem) -> u64;

    /// The device address of an allocation, for arguments the kernel writes.
    fn addr_mut(mem: &mut Self::Mem) -> u64;

    /// Launches `kernel` (of `module`) without checking `args`: use [`Device::launch`].
    fn launch_unchecked(
        &self,
        kernel: &str,
        module: &str,
        cfg: LaunchConfig,
        args: &[Arg],
    ) -> Result<()>;

    /// Waits for every launch so far.
    fn synchronize(&self) -> Result<()>;

    /// Checks `args` against the kernel's signature, then launches it.
    fn launch(&self, kernel: &str, cfg: LaunchConfig, args: &[Arg]) -> Result<()> {
        let module = check_args(kernel, args)?;
        self.launch_unchecked(kernel, module, cfg, args)
    }

    /// A zeroed buffer of `len` elements.
    fn zeros<T: DevElem>(&self, len: usize) -> Result<DeviceBuf<Self, T>> {
        let bytes = len * std::mem::size_of::<T>();
        Ok(DeviceBuf {
            mem: self.alloc_zeroed(bytes)?,
            len,
            _elem: PhantomData,
        })
    }

    /// A buffer holding a copy of `host`.
    fn upload<T: DevElem>(&self, host: &[T]) -> Result<DeviceBuf<Self, T>> {
        let mut buf = self.zeros(host.len())?;
        self.write(&mut buf, 0, host)?;
        Ok(buf)
    }

    /// Copies `host` into `buf` starting at element `offset`.
    fn write<T: DevElem>(
        &self,
        buf: &mut DeviceBuf<Self, T>,
        offset: usize,
        host: &[T],
    ) -> Result<()> {
        assert!(
            offset + host.len() <= buf.len,
            "write of {} at {offset} past a buffer of {}",
            host.len(),
            buf.len
        );
        if host.is_empty() {
            return Ok(());
        }
        self.write_bytes(
            &mut buf.mem,
            offset * std::mem::size_of::<T>(),
            as_bytes(host),
        )
    }

    /// The buffer's contents (waits for pending launches).
    fn download<T: DevElem>(&self, buf: &DeviceBuf<Self, T>) -> Result<Vec<T>> {
        let mut host = vec![T::default(); buf.len];
        if !host.is_empty() {
            self.read_bytes(&buf.mem, 0, as_bytes_mut(&mut host))?;
        }
        Ok(host)
    }
}

/// Human-readable byte counts for error messages (`1.50 GiB`).
pub fn fmt_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_types_use_the_normalised_names() {
        let x = 0u64;
        let p = |scalar, constant| Arg::Ptr {
            addr: x,
            scalar,
            constant,
            _borrow: PhantomData,
        };
        assert_eq!(p(Scalar::F32, true).type_name(), "const f32*");
        assert_eq!(p(Scalar::U32, false).type_name(), "u32*");
        assert_eq!(p(Scalar::F64, false).type_name(), "f64*");
        assert_eq!(Arg::U64(3).type_name(), "u64");
        assert_eq!(Arg::F32(1.0).type_name(), "f32");
    }

    #[test]
    fn check_args_names_the_kernel_and_argument() {
        let (name, _, sig) = KERNEL_SIGS[0];
        let args: Vec<Arg> = sig.iter().map(|_| Arg::U64(0)).collect();
        let err = check_args(name, &args).unwrap_err().to_string();
        if sig[0] != "u64" {
            assert!(err.contains(name) && err.contains("argument 0"), "{err}");
        }
        let err = check_args(name, &args[1..]).unwrap_err().to_string();
        assert!(
            err.contains(&format!("takes {} arguments", sig.len())),
            "{err}"
        );
        assert!(check_args("w2v_no_such_kernel", &[])
            .unwrap_err()
            .to_string()
            .contains("w2v_no_such_kernel"));
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_bytes(3 << 29), "1.50 GiB");
    }
}
