//! The devices the conformance suite runs each test body on, and the macro that instantiates a
//! body per device (candle's `test_device!`): `layers::gather::cpu`, `…::emulated`, `…::cuda`.
//!
//! - `cpu`: the CPU backend, always.
//! - `emulated`: the CUDA backend on the emulated device (feature `emulator`: the kernels compiled
//!   as C++ for the CPU), so CI runs the CUDA host code and kernels with no GPU;
//!   `emulated_v1` the same with the v1 step kernels (`--kernel v1`), for the fused bodies.
//! - `cuda`: the CUDA backend on the GPU `W2V_TEST_DEVICE` names (`cuda:N`, default `cuda:0`),
//!   feature `cuda`. Ignored unless asked for, as no GPU is expected:
//!   `W2V_TEST_DEVICE=cuda:0 cargo test --release --test conformance -- --ignored ::cuda`
//!   (what scripts/gpu-check.sh runs). A device that does not open fails the test.

use w2v_gpu::backend::cpu::CpuBackend;
#[cfg(any(feature = "emulator", feature = "cuda"))]
use w2v_gpu::backend::cuda::{CudaBackend, Device};
use w2v_gpu::backend::Backend;

/// A device under test: how to open its backend for each kind of check.
pub trait TestDevice {
    type B: Backend;
    /// The backend as training uses it: concurrent (CPU threads, CUDA warps: Hogwild).
    fn open(&self) -> Self::B;
    /// One worker: centres update the model one after another in corpus order, as
    /// `w2v_gpu::train::reference` does (CPU: one thread; CUDA: one warp).
    fn serial(&self) -> Self::B;
    /// Whether float arithmetic is plain IEEE with no fused multiply-add (CPU, emulator), so an
    /// update such as `w − lr·g` equals the host's bit for bit; a GPU contracts it into an FMA.
    fn exact(&self) -> bool;
    /// Whether the backend trains `--storage f16`.
    fn f16_storage(&self) -> bool;
    /// Whether the fast path reports `StepStats::centres` (the CUDA fused steps leave it 0).
    fn fast_path_counts_centres(&self) -> bool;
    /// The resident corpus chunk in tokens (CUDA), when the backend streams the corpus through one.
    fn open_chunked(&self, chunk_tokens: usize) -> (Self::B, Option<usize>);
}

/// A device that runs `kernels/*.cu`: the CUDA backend over some [`Device`].
#[cfg(any(feature = "emulator", feature = "cuda"))]
pub trait KernelDevice: TestDevice<B = CudaBackend<Self::D>> {
    type D: Device;
    /// The backend with a resident corpus chunk of `chunk_tokens` tokens (0: sized from memory).
    fn with_chunk(&self, chunk_tokens: usize) -> CudaBackend<Self::D>;
    /// Launches a test-only kernel (`kernels/test/*.cu`, never in the production PTX).
    fn launch_test_kernel(&self, kernel: &str, cfg: LaunchSpec, args: &mut [TestArg<'_>]);
}

/// Blocks and threads per block of a test-only kernel launch (1-D, no dynamic shared memory).
#[derive(Clone, Copy, Debug)]
pub struct LaunchSpec {
    pub blocks: u32,
    pub threads: u32,
}

/// An argument of a test-only kernel: host data copied to the device (and back when mutable).
pub enum TestArg<'a> {
    F32(&'a [f32]),
    U32(&'a [u32]),
    F32Mut(&'a mut [f32]),
    F16Mut(&'a mut [half::f16]),
    Bf16Mut(&'a mut [half::bf16]),
    Scalar(u32),
}

pub struct Cpu;

impl TestDevice for Cpu {
    type B = CpuBackend;
    fn open(&self) -> CpuBackend {
        CpuBackend::new(2)
    }
    fn serial(&self) -> CpuBackend {
        CpuBackend::new(1)
    }
    fn exact(&self) -> bool {
        true
    }
    fn f16_storage(&self) -> bool {
        false
    }
    fn fast_path_counts_centres(&self) -> bool {
        true
    }
    fn open_chunked(&self, _chunk_tokens: usize) -> (CpuBackend, Option<usize>) {
        (self.open(), None)
    }
}

#[cfg(any(feature = "emulator", feature = "cuda"))]
macro_rules! cuda_test_device {
    ($ty:ty, $dev:ty, $open:expr, $exact:expr, $launch:path) => {
        impl TestDevice for $ty {
            type B = CudaBackend<$dev>;
            fn open(&self) -> Self::B {
                self.with_chunk(0)
            }
            fn serial(&self) -> Self::B {
                self.with_chunk(0).serial()
            }
            fn exact(&self) -> bool {
                $exact
            }
            fn f16_storage(&self) -> bool {
                true
            }
            fn fast_path_counts_centres(&self) -> bool {
                false
            }
            fn open_chunked(&self, chunk_tokens: usize) -> (Self::B, Option<usize>) {
                let b = self.with_chunk(chunk_tokens);
                let chunk = b.chunk_tokens();
                (b, Some(chunk))
            }
        }
        impl KernelDevice for $ty {
            type D = $dev;
            fn with_chunk(&self, chunk_tokens: usize) -> CudaBackend<$dev> {
                #[allow(clippy::redundant_closure_call)]
                ($open)(self, chunk_tokens)
            }
            fn launch_test_kernel(&self, kernel: &str, cfg: LaunchSpec, args: &mut [TestArg<'_>]) {
                $launch(self, kernel, cfg, args)
            }
        }
    };
}

#[cfg(feature = "emulator")]
pub struct Emulated;

#[cfg(feature = "emulator")]
cuda_test_device!(
    Emulated,
    w2v_gpu::backend::cuda::EmulatedDevice,
    |_: &Emulated, chunk| w2v_gpu::backend::cuda::open_emulated(chunk)
        .expect("the emulated device opens"),
    true,
    crate::common::test_kernels::launch_emulated
);

/// The emulated device running the v1 step kernels (`kernels/sgns.cu`, the reference variant)
/// where `Emulated` runs v2: the fused bodies run on both.
#[cfg(feature = "emulator")]
pub struct EmulatedV1;

#[cfg(feature = "emulator")]
cuda_test_device!(
    EmulatedV1,
    w2v_gpu::backend::cuda::EmulatedDevice,
    |_: &EmulatedV1, chunk| w2v_gpu::backend::cuda::open_emulated(chunk)
        .expect("the emulated device opens")
        .with_kernel(w2v_gpu::backend::cuda::KernelVariant::V1),
    true,
    crate::common::test_kernels::launch_emulated_v1
);

#[cfg(feature = "cuda")]
pub struct Gpu(pub String);

#[cfg(feature = "cuda")]
impl Gpu {
    /// The GPU `W2V_TEST_DEVICE` names, default `cuda:0`.
    pub fn from_env() -> Gpu {
        let spec = std::env::var("W2V_TEST_DEVICE").unwrap_or_else(|_| "cuda:0".into());
        assert!(
            spec.starts_with("cuda"),
            "W2V_TEST_DEVICE={spec}: the cuda tests need a GPU spec such as cuda:0"
        );
        Gpu(spec)
    }

    /// The ordinal `N` of its `cuda:N`.
    pub fn ordinal(&self) -> usize {
        match self.0.parse() {
            Ok(w2v_gpu::train::Device::Cuda(n)) => n,
            _ => panic!("W2V_TEST_DEVICE={}: use cuda:N", self.0),
        }
    }
}

#[cfg(feature = "cuda")]
cuda_test_device!(
    Gpu,
    w2v_gpu::backend::cuda::CudaDriver,
    |g: &Gpu, chunk| w2v_gpu::backend::cuda::open_device(g.ordinal(), chunk)
        .unwrap_or_else(|e| panic!("{}: {e}", g.0)),
    false,
    crate::common::test_kernels::launch_gpu
);

/// `conformance!(name, body)` makes `mod name` with one `#[test]` per device running `body(&dev)`;
/// `conformance!(name, body, [emulated, cuda])` picks the devices (a body over
/// [`KernelDevice`] runs on `emulated` and `cuda` only).
#[allow(unused_macros)]
macro_rules! conformance {
    ($name:ident, $body:ident) => {
        $crate::common::devices::conformance!($name, $body, [cpu, emulated, cuda]);
    };
    ($name:ident, $body:ident, [$($dev:ident),+]) => {
        mod $name {
            $($crate::common::devices::conformance!(@on $dev, $body);)+
        }
    };
    (@on cpu, $body:ident) => {
        #[test]
        fn cpu() {
            super::$body(&$crate::common::devices::Cpu)
        }
    };
    (@on emulated, $body:ident) => {
        #[cfg(feature = "emulator")]
        #[test]
        fn emulated() {
            super::$body(&$crate::common::devices::Emulated)
        }
    };
    (@on emulated_v1, $body:ident) => {
        #[cfg(feature = "emulator")]
        #[test]
        fn emulated_v1() {
            super::$body(&$crate::common::devices::EmulatedV1)
        }
    };
    (@on cuda, $body:ident) => {
        #[cfg(feature = "cuda")]
        #[test]
        #[ignore = "needs a GPU: W2V_TEST_DEVICE=cuda:N, run with --ignored (scripts/gpu-check.sh)"]
        fn cuda() {
            super::$body(&$crate::common::devices::Gpu::from_env())
        }
    };
}
#[allow(unused_imports)]
pub(crate) use conformance;
