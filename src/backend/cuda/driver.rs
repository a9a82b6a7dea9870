//! The real device: cudarc 0.19 over a dynamically loaded `libcuda`, kernels from embedded PTX or NVRTC.
//!
//! Every failure becomes one `Error::Device` line naming what failed, the versions involved and
//! what to do: a missing driver is detected before cudarc is asked for a context (cudarc panics
//! then), and any panic left in cudarc is caught at this boundary as a last resort.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use cudarc::driver::sys::{CUdevice_attribute, CUresult};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, DriverError, PushKernelArg,
};
use cudarc::nvrtc::{CompileOptions, Ptx};

use super::device::{fmt_bytes, Arg, Device, DeviceProps, LaunchConfig};
use super::kernels::{BUILD_INFO, KERNEL_SIGS, PTX, PTX_SM90, SOURCES};
use crate::error::{Error, Result};

/// Runs `f`, turning a panic inside cudarc into an `Error::Device` about `what`.
fn guard<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        Err(Error::Device(format!(
            "CUDA driver failed during {what}: {msg}; check the NVIDIA driver installation (`w2v-gpu info`)"
        )))
    })
}

/// Whether `libcuda` can be loaded at all (checked before any other driver call).
pub fn driver_present() -> bool {
    // SAFETY: only tries to dlopen the driver library by its usual names and drops the handle;
    // no symbol is called.
    catch_unwind(|| unsafe { cudarc::driver::sys::is_culib_present() }).unwrap_or(false)
}

const NO_DRIVER: &str = "no CUDA driver: libcuda.so (the NVIDIA driver) could not be loaded; \
                         install the NVIDIA driver or use --device cpu";

/// The installed driver's CUDA version as `major.minor`.
pub fn driver_version() -> Result<String> {
    if !driver_present() {
        return Err(Error::Device(NO_DRIVER.into()));
    }
    guard("cuDriverGetVersion", || {
        let mut v: std::ffi::c_int = 0;
        // SAFETY: the driver library is present (checked above); the call writes one int.
        unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut v) }
            .result()
            .map_err(|e| Error::Device(format!("cuDriverGetVersion failed: {e:?}")))?;
        Ok(format!("{}.{}", v / 1000, (v % 1000) / 10))
    })
}

/// Number of CUDA devices the driver sees.
pub fn device_count() -> Result<usize> {
    if !driver_present() {
        return Err(Error::Device(NO_DRIVER.into()));
    }
    guard("device enumeration", || {
        match CudaContext::device_count() {
            Ok(n) => Ok(n.max(0) as usize),
            // cuInit reports a machine with the driver installed but no GPU this way.
            Err(e) if e.0 == CUresult::CUDA_ERROR_NO_DEVICE => Ok(0),
            Err(e) => Err(Error::Device(format!(
                "CUDA driver could not list devices: {e:?}; check the driver with nvidia-smi"
            ))),
        }
    })
}

fn nvrtc_version() -> Option<String> {
    // SAFETY: only tries to dlopen libnvrtc by its usual names.
    if !catch_unwind(|| unsafe { cudarc::nvrtc::sys::is_culib_present() }).unwrap_or(false) {
        return None;
    }
    catch_unwind(|| {
        let (mut major, mut minor) = (0, 0);
        // SAFETY: libnvrtc is present (checked above); the call writes two ints.
        let r = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) };
        (r == cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS).then(|| format!("{major}.{minor}"))
    })
    .ok()
    .flatten()
}

/// One allocation: cudarc's owning slice and its device address.
pub struct DriverMem {
    slice: CudaSlice<u8>,
    addr: u64,
}

/// A CUDA GPU reached through cudarc: one context, its default stream, every kernel loaded once.
pub struct CudaDriver {
    ordinal: usize,
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    functions: HashMap<&'static str, CudaFunction>,
    props: DeviceProps,
}

fn attr(ctx: &CudaContext, a: CUdevice_attribute) -> Result<u32> {
    ctx.attribute(a)
        .map(|v| v.max(0) as u32)
        .map_err(|e| Error::Device(format!("could not query the GPU's {a:?}: {e:?}")))
}

impl CudaDriver {
    /// Opens GPU `ordinal`, loading every kernel of this build.
    pub fn open(ordinal: usize) -> Result<CudaDriver> {
        let driver = driver_version()?;
        let count = device_count()?;
        if ordinal >= count {
            return Err(Error::Device(format!(
                "no GPU cuda:{ordinal}: the driver (CUDA {driver}) sees {count} device(s); pick cuda:0..cuda:{} or --device cpu",
                count.max(1) - 1
            )));
        }
        guard("context creation", || Self::open_checked(ordinal, driver))
    }

    fn open_checked(ordinal: usize, driver: String) -> Result<CudaDriver> {
        let ctx = CudaContext::new(ordinal).map_err(|e| {
            Error::Device(format!(
                "could not create a CUDA context on cuda:{ordinal} (driver CUDA {driver}): {e:?}; \
                 check the GPU with nvidia-smi or use --device cpu"
            ))
        })?;
        // One in-order stream: no cross-stream event bookkeeping needed.
        // SAFETY: every buffer and launch of this device uses `stream` only, so ordering on that
        // one stream is all the synchronisation there is to do.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.default_stream();
        let name = ctx
            .name()
            .map_err(|e| Error::Device(format!("could not read cuda:{ordinal}'s name: {e:?}")))?;
        let (major, minor) = ctx.compute_capability().map_err(|e| {
            Error::Device(format!(
                "could not read cuda:{ordinal}'s compute capability: {e:?}"
            ))
        })?;
        let total_memory = ctx.total_mem().map_err(|e| {
            Error::Device(format!(
                "could not read cuda:{ordinal}'s memory size: {e:?}"
            ))
        })? as u64;
        let nvrtc = |why: &str| -> Result<(Vec<(&'static str, Ptx)>, String)> {
            let Some(v) = nvrtc_version() else {
                return Err(Error::Device(format!(
                    "{why} and libnvrtc.so (CUDA's runtime compiler) is missing; install the CUDA \
                     toolkit's NVRTC, or rebuild with nvcc on PATH (or NVCC/CUDA_PATH set)"
                )));
            };
            Ok((
                compile_with_nvrtc(major, minor, &v)?,
                format!("NVRTC {v} (compute_{major}{minor})"),
            ))
        };
        let (functions, toolkit) = if PTX.is_empty() {
            let why = format!("kernels were built without nvcc ({BUILD_INFO})");
            let (modules, toolkit) = nvrtc(&why)?;
            (load_functions(&ctx, modules, &toolkit, &driver)?, toolkit)
        } else {
            // sm_90+: the compute_90 build of the modules that have sm_90-only paths.
            let native = |m: &str| {
                PTX_SM90
                    .iter()
                    .find(|(n, _)| major >= 9 && *n == m)
                    .map(|&(_, t)| t)
            };
            let ptx = PTX
                .iter()
                .map(|&(m, text)| (m, Ptx::from_src(native(m).unwrap_or(text))))
                .collect();
            match load_functions(&ctx, ptx, BUILD_INFO, &driver) {
                Ok(f) => (f, BUILD_INFO.to_string()),
                // PTX from a newer toolkit than the driver: compile the embedded sources instead.
                Err(LoadError::PtxTooNew(e)) => {
                    let (modules, toolkit) = nvrtc(&e.to_string())?;
                    let toolkit = format!("{toolkit}, as the driver cannot load {BUILD_INFO} PTX");
                    (load_functions(&ctx, modules, &toolkit, &driver)?, toolkit)
                }
                Err(LoadError::Other(e)) => return Err(e),
            }
        };
        let props = DeviceProps {
            name: format!("{name} (sm_{major}{minor})"),
            sm_count: attr(
                &ctx,
                CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
            )?,
            warp_size: attr(&ctx, CUdevice_attribute::CU_DEVICE_ATTRIBUTE_WARP_SIZE)?,
            shared_per_block: attr(
                &ctx,
                CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK,
            )?,
            total_memory,
            driver_version: driver,
            toolkit,
        };
        Ok(CudaDriver {
            ordinal,
            ctx,
            stream,
            functions,
            props,
        })
    }

    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    fn driver_error(&self, what: &str, e: DriverError) -> Error {
        Error::Device(format!("cuda:{} {what} failed: {e:?}", self.ordinal))
    }
}

/// Why kernels did not load: PTX newer than the driver (NVRTC may help), or anything else.
enum LoadError {
    PtxTooNew(Error),
    Other(Error),
}

impl From<LoadError> for Error {
    fn from(e: LoadError) -> Error {
        match e {
            LoadError::PtxTooNew(e) | LoadError::Other(e) => e,
        }
    }
}

/// Loads every module and looks up each kernel build.rs listed for it.
fn load_functions(
    ctx: &Arc<CudaContext>,
    modules: Vec<(&'static str, Ptx)>,
    toolkit: &str,
    driver: &str,
) -> std::result::Result<HashMap<&'static str, CudaFunction>, LoadError> {
    let mut functions = HashMap::new();
    for (module_name, ptx) in modules {
        let module = ctx
            .load_module(ptx)
            .map_err(|e| load_error(module_name, e, toolkit, driver))?;
        for &(kernel, _, _) in KERNEL_SIGS.iter().filter(|(_, m, _)| *m == module_name) {
            let f = module.load_function(kernel).map_err(|e| {
                LoadError::Other(Error::Device(format!(
                    "kernel '{kernel}' missing from module '{module_name}': {e:?}; rebuild"
                )))
            })?;
            functions.insert(kernel, f);
        }
    }
    Ok(functions)
}

/// Compiles every embedded kernel source for the device's architecture.
fn compile_with_nvrtc(major: i32, minor: i32, nvrtc: &str) -> Result<Vec<(&'static str, Ptx)>> {
    SOURCES
        .iter()
        .map(|&(module, src)| {
            let opts = CompileOptions {
                options: vec![format!("--gpu-architecture=compute_{major}{minor}")],
                name: Some(format!("{module}.cu")),
                ..Default::default()
            };
            cudarc::nvrtc::compile_ptx_with_opts(src, opts).map(|ptx| (module, ptx)).map_err(|e| {
                Error::Device(format!(
                    "NVRTC {nvrtc} could not compile kernels/{module}.cu for compute_{major}{minor}: {e}; \
                     rebuild with nvcc or use --device cpu"
                ))
            })
        })
        .collect()
}

fn load_error(module: &str, e: DriverError, toolkit: &str, driver: &str) -> LoadError {
    match e.0 {
        CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION => LoadError::PtxTooNew(Error::Device(format!(
            "PTX built by {toolkit} needs a newer driver than CUDA {driver}; rebuild without nvcc (NVRTC) or update the driver"
        ))),
        _ => LoadError::Other(Error::Device(format!(
            "the driver (CUDA {driver}) could not load kernels/{module}.cu built by {toolkit}: {e:?}; \
             rebuild or update the driver"
        ))),
    }
}

impl Device for CudaDriver {
    type Mem = DriverMem;

    fn props(&self) -> &DeviceProps {
        &self.props
    }

    fn free_memory(&self) -> Result<u64> {
        guard("memory query", || {
            self.ctx
                .mem_get_info()
                .map(|(free, _)| free as u64)
                .map_err(|e| self.driver_error("memory query", e))
        })
    }

    fn alloc_zeroed(&self, bytes: usize) -> Result<DriverMem> {
        guard("allocation", || {
            // A zero-byte cuMemAlloc is an error; keep every allocation addressable.
            let slice = self.stream.alloc_zeros::<u8>(bytes.max(8)).map_err(|e| {
                if e.0 == CUresult::CUDA_ERROR_OUT_OF_MEMORY {
                    let free = self.ctx.mem_get_info().map(|(f, _)| f as u64).unwrap_or(0);
                    Error::Device(format!(
                        "cuda:{}: out of GPU memory allocating {} ({} free of {}); use a smaller --dim, \
                         vocabulary or --device-chunk, or --device cpu",
                        self.ordinal,
                        fmt_bytes(bytes as u64),
                        fmt_bytes(free),
                        fmt_bytes(self.props.total_memory)
                    ))
                } else {
                    self.driver_error("allocation", e)
                }
            })?;
            let addr = {
                let (ptr, _sync) = slice.device_ptr(&self.stream);
                ptr
            };
            Ok(DriverMem { slice, addr })
        })
    }

    fn write_bytes(&self, dst: &mut DriverMem, offset: usize, src: &[u8]) -> Result<()> {
        guard("host-to-device copy", || {
            let mut view = dst.slice.slice_mut(offset..offset + src.len());
            self.stream
                .memcpy_htod(src, &mut view)
                .map_err(|e| self.driver_error("host-to-device copy", e))
        })
    }

    fn read_bytes(&self, src: &DriverMem, offset: usize, dst: &mut [u8]) -> Result<()> {
        guard("device-to-host copy", || {
            let view = src.slice.slice(offset..offset + dst.len());
            self.stream
                .memcpy_dtoh(&view, dst)
                .map_err(|e| self.driver_error("device-to-host copy", e))?;
            self.stream
                .synchronize()
                .map_err(|e| self.driver_error("device-to-host copy", e))
        })
    }

    fn addr(mem: &DriverMem) -> u64 {
        mem.addr
    }

    fn addr_mut(mem: &mut DriverMem) -> u64 {
        mem.addr
    }

    fn launch_unchecked(
        &self,
        kernel: &str,
        _module: &str,
        cfg: LaunchConfig,
        args: &[Arg],
    ) -> Result<()> {
        let f = self.functions.get(kernel).ok_or_else(|| {
            Error::Device(format!(
                "kernel '{kernel}' was not loaded on cuda:{}",
                self.ordinal
            ))
        })?;
        guard("kernel launch", || {
            let mut builder = self.stream.launch_builder(f);
            // Each value lives in `args`, borrowed for the whole launch (the builder keeps pointers).
            for a in args {
                match a {
                    Arg::Ptr { addr, .. } => builder.arg(addr),
                    Arg::U32(v) => builder.arg(v),
                    Arg::U64(v) => builder.arg(v),
                    Arg::F32(v) => builder.arg(v),
                };
            }
            let lc = cudarc::driver::LaunchConfig {
                grid_dim: (cfg.grid[0], cfg.grid[1], cfg.grid[2]),
                block_dim: (cfg.block[0], cfg.block[1], cfg.block[2]),
                shared_mem_bytes: cfg.shared_bytes,
            };
            // SAFETY: the argument count and types were checked against the kernel's C signature
            // (KERNEL_SIGS) by `Device::launch`; pointer arguments are live allocations of this
            // context borrowed by `args` for the call, and the kernels index them within the
            // lengths the backend's geometry passes.
            unsafe { builder.launch(lc) }.map(|_| ()).map_err(|e| {
                self.driver_error(
                    &format!(
                        "launch of '{kernel}' (grid {:?}, block {:?})",
                        cfg.grid, cfg.block
                    ),
                    e,
                )
            })
        })
    }

    fn synchronize(&self) -> Result<()> {
        guard("synchronise", || {
            self.stream
                .synchronize()
                .map_err(|e| self.driver_error("synchronise", e))
        })
    }
}
