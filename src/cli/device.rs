//! Opening the devices a run names (the CPU, a GPU, or the emulated device) and choosing, for
//! each, the step it trains with, before the corpus is read.

use anyhow::Context;

use crate::backend::cpu::CpuBackend;
use crate::backend::step::KernelVariant;
use crate::backend::{choose_step, Backend, Step};
use crate::train::{Device, RunConfig};

/// The backend a run trains on: the CPU, a GPU, or the emulated device.
pub(super) enum Chosen {
    Cpu(CpuBackend),
    #[cfg(feature = "cuda")]
    Cuda(Box<crate::backend::cuda::CudaBackend<crate::backend::cuda::CudaDriver>>),
    #[cfg(feature = "emulator")]
    Emulated(Box<crate::backend::cuda::CudaBackend<crate::backend::cuda::EmulatedDevice>>),
}

impl Chosen {
    /// The CPU worker threads really used (`None` on a GPU or the emulated device).
    pub fn cpu_threads(&self) -> Option<usize> {
        #[allow(unreachable_patterns)] // only the CPU variant exists without `cuda`/`emulator`
        match self {
            Chosen::Cpu(b) => Some(b.threads()),
            _ => None,
        }
    }
}

/// Runs `$body` with `$b` bound to the chosen backend, whatever its type.
macro_rules! with_backend {
    ($chosen:expr, |$b:ident| $body:expr) => {
        match $chosen {
            $crate::cli::device::Chosen::Cpu(ref $b) => $body,
            #[cfg(feature = "cuda")]
            $crate::cli::device::Chosen::Cuda(ref $b) => {
                let $b = &**$b;
                $body
            }
            #[cfg(feature = "emulator")]
            $crate::cli::device::Chosen::Emulated(ref $b) => {
                let $b = &**$b;
                $body
            }
        }
    };
}
pub(super) use with_backend;

/// An open device, how `auto` chose it (empty otherwise), and the step it trains the run with.
pub(super) struct Opened {
    pub backend: Chosen,
    pub note: String,
    pub step: Step,
}

impl Opened {
    /// The device's name and how it was chosen, e.g. `cpu (2 threads) (auto: no usable GPU: …)`.
    pub fn label(&self) -> String {
        format!("{}{}", with_backend!(self.backend, |b| b.name()), self.note)
    }
}

/// Opens `device` for the run `cfg` and decides its step: a combination the device cannot train
/// fails here, in one line, before any work.
pub(super) fn open(device: Device, cfg: &RunConfig) -> anyhow::Result<Opened> {
    let (backend, note) = open_backend(device, cfg)?;
    let step = with_backend!(backend, |b| choose_step(
        &b.name(),
        &b.capabilities(),
        &cfg.train
    ))?;
    Ok(Opened {
        backend,
        note,
        step,
    })
}

/// The devices `bench --device` lists, each opened once, in order; `auto` means the GPU when one
/// works, then the CPU, so both rows come from the same command.
pub(super) fn open_all(devices: &[Device], cfg: &RunConfig) -> anyhow::Result<Vec<Opened>> {
    let mut out = Vec::new();
    for &device in devices {
        let opened = open(device, cfg)?;
        let auto_found_gpu = device == Device::Auto && !matches!(opened.backend, Chosen::Cpu(_));
        out.push(opened);
        if auto_found_gpu {
            out.push(open(Device::Cpu, cfg)?);
        }
    }
    Ok(out)
}

fn open_backend(device: Device, cfg: &RunConfig) -> anyhow::Result<(Chosen, String)> {
    let (threads, chunk) = (cfg.threads, cfg.device_chunk);
    match device {
        Device::Cpu => Ok((Chosen::Cpu(CpuBackend::new(threads)), String::new())),
        // Opening cuda:0 is the probe: a driver, a GPU, and kernels that load.
        Device::Auto => match open_cuda(0, chunk, cfg.kernel) {
            Ok(gpu) => Ok((gpu, " (auto: a working GPU was found)".into())),
            Err(why) => {
                // The reason without its advice: "use --device cpu" is what auto just did.
                let why = why.to_string();
                let why = why.split("; ").next().unwrap_or(&why);
                Ok((
                    Chosen::Cpu(CpuBackend::new(threads)),
                    format!(" (auto: no usable GPU: {why})"),
                ))
            }
        },
        Device::Cuda(n) => {
            let gpu =
                open_cuda(n, chunk, cfg.kernel).with_context(|| format!("--device cuda:{n}"))?;
            Ok((gpu, String::new()))
        }
        Device::Emulator => Ok((open_emulated(chunk, cfg.kernel)?, String::new())),
    }
}

#[cfg(feature = "cuda")]
fn open_cuda(ordinal: usize, chunk: usize, kernel: KernelVariant) -> crate::Result<Chosen> {
    let gpu = crate::backend::cuda::open_device(ordinal, chunk)?.with_kernel(kernel);
    Ok(Chosen::Cuda(Box::new(gpu)))
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(_ordinal: usize, _chunk: usize, _kernel: KernelVariant) -> crate::Result<Chosen> {
    Err(crate::Error::Device(
        "this binary was built without the `cuda` feature; rebuild with `cargo build --release \
         --features cuda` or use --device cpu"
            .into(),
    ))
}

#[cfg(feature = "emulator")]
fn open_emulated(chunk: usize, kernel: KernelVariant) -> anyhow::Result<Chosen> {
    let emulated = crate::backend::cuda::open_emulated(chunk)
        .context("--device emulator")?
        .with_kernel(kernel);
    Ok(Chosen::Emulated(Box::new(emulated)))
}

#[cfg(not(feature = "emulator"))]
fn open_emulated(_chunk: usize, _kernel: KernelVariant) -> anyhow::Result<Chosen> {
    anyhow::bail!(
        "--device emulator: this binary was built without the `emulator` feature; rebuild with \
         `cargo build --release --features emulator` or use --device cpu"
    )
}
