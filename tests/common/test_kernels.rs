//! Launching the test-only kernels (`kernels/test/*.cu`), which build.rs keeps out of the
//! production PTX: the emulator has them in its launch table; on a GPU this file loads them itself,
//! from the PTX build.rs embedded in this test binary (or with NVRTC when it was built without nvcc),
//! so a test binary built on another machine runs as it is.
#![cfg(any(feature = "emulator", feature = "cuda"))]

#[cfg(feature = "emulator")]
use w2v_gpu::backend::cuda::device::{Arg, LaunchConfig};
#[cfg(feature = "emulator")]
use w2v_gpu::backend::cuda::Device;

use super::devices::{LaunchSpec, TestArg};

mod generated {
    include!(concat!(env!("OUT_DIR"), "/test/test_kernels.rs"));
}
use generated::{TEST_KERNELS, TEST_PTX, TEST_SOURCES};

/// The module (file stem under `kernels/test/`) that defines `kernel`.
fn module_of(kernel: &str) -> &'static str {
    TEST_KERNELS
        .iter()
        .find(|(k, _)| *k == kernel)
        .map(|(_, m)| *m)
        .unwrap_or_else(|| panic!("'{kernel}' is not a kernel of kernels/test/*.cu"))
}

/// On the emulator: the host arguments uploaded, the launch (the emulator checks the argument
/// types against the kernel's signature itself), and the writable ones downloaded back.
#[cfg(feature = "emulator")]
pub fn launch_emulated(
    _: &super::devices::Emulated,
    kernel: &str,
    cfg: LaunchSpec,
    args: &mut [TestArg<'_>],
) {
    use w2v_gpu::backend::cuda::{DeviceBuf, EmulatedDevice};
    enum Buf {
        F32(DeviceBuf<EmulatedDevice, f32>),
        U32(DeviceBuf<EmulatedDevice, u32>),
        F16(DeviceBuf<EmulatedDevice, half::f16>),
        Bf16(DeviceBuf<EmulatedDevice, half::bf16>),
        Scalar(u32),
    }
    let dev = EmulatedDevice::new();
    let mut bufs: Vec<Buf> = args
        .iter()
        .map(|a| match a {
            TestArg::F32(s) => Buf::F32(dev.upload(s).unwrap()),
            TestArg::F32Mut(s) => Buf::F32(dev.upload(s).unwrap()),
            TestArg::U32(s) => Buf::U32(dev.upload(s).unwrap()),
            TestArg::F16Mut(s) => Buf::F16(dev.upload(s).unwrap()),
            TestArg::Bf16Mut(s) => Buf::Bf16(dev.upload(s).unwrap()),
            TestArg::Scalar(v) => Buf::Scalar(*v),
        })
        .collect();
    let launch_args: Vec<Arg> = bufs
        .iter_mut()
        .zip(args.iter())
        .map(|(b, a)| match (b, a) {
            (Buf::F32(b), TestArg::F32(_)) => b.arg(),
            (Buf::U32(b), _) => b.arg(),
            (Buf::F32(b), _) => b.arg_mut(),
            (Buf::F16(b), _) => b.arg_mut(),
            (Buf::Bf16(b), _) => b.arg_mut(),
            (Buf::Scalar(v), _) => Arg::U32(*v),
        })
        .collect();
    let lc = LaunchConfig::linear(cfg.blocks, cfg.threads, 0);
    dev.launch_unchecked(kernel, module_of(kernel), lc, &launch_args)
        .unwrap_or_else(|e| panic!("{kernel}: {e}"));
    drop(launch_args);
    for (b, a) in bufs.iter().zip(args.iter_mut()) {
        match (b, a) {
            (Buf::F32(b), TestArg::F32Mut(s)) => s.copy_from_slice(&dev.download(b).unwrap()),
            (Buf::F16(b), TestArg::F16Mut(s)) => s.copy_from_slice(&dev.download(b).unwrap()),
            (Buf::Bf16(b), TestArg::Bf16Mut(s)) => s.copy_from_slice(&dev.download(b).unwrap()),
            _ => {}
        }
    }
}

/// [`launch_emulated`] for the v1 instance (the test kernels do not depend on the variant).
#[cfg(feature = "emulator")]
pub fn launch_emulated_v1(
    _: &super::devices::EmulatedV1,
    kernel: &str,
    cfg: LaunchSpec,
    args: &mut [TestArg<'_>],
) {
    launch_emulated(&super::devices::Emulated, kernel, cfg, args)
}

/// On a GPU, through cudarc directly: the test module loaded from the embedded PTX, or compiled
/// with NVRTC for the device when there is none or the driver cannot load it.
#[cfg(feature = "cuda")]
pub fn launch_gpu(
    g: &super::devices::Gpu,
    kernel: &str,
    cfg: LaunchSpec,
    args: &mut [TestArg<'_>],
) {
    use cudarc::driver::{CudaContext, CudaSlice, PushKernelArg};
    use cudarc::nvrtc::{CompileOptions, Ptx};
    enum Buf {
        F32(CudaSlice<f32>),
        U32(CudaSlice<u32>),
        U16(CudaSlice<u16>),
        Scalar(u32),
    }
    let ordinal = g.ordinal();
    let ctx = CudaContext::new(ordinal).unwrap_or_else(|e| panic!("{}: {e:?}", g.0));
    let stream = ctx.default_stream();
    let module = module_of(kernel);
    let embedded = TEST_PTX
        .iter()
        .find(|(m, _)| *m == module)
        .and_then(|(_, text)| ctx.load_module(Ptx::from_src(*text)).ok());
    let loaded = embedded.unwrap_or_else(|| {
        let (major, minor) = ctx.compute_capability().unwrap();
        let src = TEST_SOURCES
            .iter()
            .find(|(m, _)| *m == module)
            .map(|(_, s)| *s)
            .expect("build.rs embeds every test module's source");
        let opts = CompileOptions {
            options: vec![format!("--gpu-architecture=compute_{major}{minor}")],
            ..Default::default()
        };
        let ptx = cudarc::nvrtc::compile_ptx_with_opts(src, opts)
            .unwrap_or_else(|e| panic!("NVRTC could not compile kernels/test/{module}.cu: {e}"));
        ctx.load_module(ptx).unwrap()
    });
    let f = loaded.load_function(kernel).unwrap();
    let bufs: Vec<Buf> = args
        .iter()
        .map(|a| match a {
            TestArg::F32(s) => Buf::F32(stream.clone_htod(*s).unwrap()),
            TestArg::F32Mut(s) => Buf::F32(stream.clone_htod(&**s).unwrap()),
            TestArg::U32(s) => Buf::U32(stream.clone_htod(*s).unwrap()),
            TestArg::F16Mut(s) => {
                let bits: Vec<u16> = s.iter().map(|h| h.to_bits()).collect();
                Buf::U16(stream.clone_htod(&bits).unwrap())
            }
            TestArg::Bf16Mut(s) => {
                let bits: Vec<u16> = s.iter().map(|h| h.to_bits()).collect();
                Buf::U16(stream.clone_htod(&bits).unwrap())
            }
            TestArg::Scalar(v) => Buf::Scalar(*v),
        })
        .collect();
    let mut builder = stream.launch_builder(&f);
    for b in &bufs {
        match b {
            Buf::F32(s) => builder.arg(s),
            Buf::U32(s) => builder.arg(s),
            Buf::U16(s) => builder.arg(s),
            Buf::Scalar(v) => builder.arg(v),
        };
    }
    let lc = cudarc::driver::LaunchConfig {
        grid_dim: (cfg.blocks, 1, 1),
        block_dim: (cfg.threads, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: the test passes the arguments kernels/test/*.cu declares, in order (buffers as long
    // as the kernel indexes for the sizes passed); every buffer lives in `bufs` past the launch.
    unsafe { builder.launch(lc) }.unwrap_or_else(|e| panic!("{kernel}: {e:?}"));
    for (b, a) in bufs.iter().zip(args.iter_mut()) {
        match (b, a) {
            (Buf::F32(b), TestArg::F32Mut(s)) => stream.memcpy_dtoh(b, &mut **s).unwrap(),
            (Buf::U16(b), TestArg::F16Mut(s)) => {
                let bits = stream.clone_dtoh(b).unwrap();
                for (h, b) in s.iter_mut().zip(bits) {
                    *h = half::f16::from_bits(b);
                }
            }
            (Buf::U16(b), TestArg::Bf16Mut(s)) => {
                let bits = stream.clone_dtoh(b).unwrap();
                for (h, b) in s.iter_mut().zip(bits) {
                    *h = half::bf16::from_bits(b);
                }
            }
            _ => {}
        }
    }
    stream.synchronize().unwrap();
}
