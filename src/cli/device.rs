//! Choosing and opening the device a run trains on: the CPU, a GPU, or the emulated device.

use crate::backend::cpu::CpuBackend;
use crate::cli::Device;
use crate::error::{Error, Result};

/// The backend a run trains on: the CPU, a GPU, or the emulated device.
pub(super) enum Chosen {
    Cpu(CpuBackend),
    #[cfg(feature = "cuda")]
    Cuda(Box<crate::backend::cuda::CudaBackend<crate::backend::cuda::CudaDriver>>),
    #[cfg(feature = "emulator")]
    Emulated(Box<crate::backend::cuda::CudaBackend<crate::backend::cuda::EmulatedDevice>>),
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

/// Opens the device a run asked for; the note says how `auto` chose (empty otherwise).
#[cfg_attr(
    not(any(feature = "cuda", feature = "emulator")),
    allow(clippy::only_used_in_recursion)
)]
pub(super) fn choose_backend(
    device: Device,
    threads: usize,
    chunk: usize,
) -> Result<(Chosen, String)> {
    match device {
        Device::Cpu => Ok((Chosen::Cpu(CpuBackend::new(threads)), String::new())),
        Device::Auto => {
            // Opening cuda:0 is the probe: a driver, a GPU, and kernels that load.
            let gpu = if cfg!(feature = "cuda") {
                choose_backend(Device::Cuda(0), threads, chunk).map_err(|e| e.to_string())
            } else {
                Err("this binary was built without the `cuda` feature".to_string())
            };
            match gpu {
                Ok((b, _)) => Ok((b, " (auto: a working GPU was found)".into())),
                Err(why) => {
                    // The reason without the flag or the advice: "use --device cpu" is what auto
                    // just did.
                    let why = why.strip_prefix("--device cuda:0: ").unwrap_or(&why);
                    let why = why.split("; ").next().unwrap_or(why);
                    Ok((
                        Chosen::Cpu(CpuBackend::new(threads)),
                        format!(" (auto: no usable GPU: {why})"),
                    ))
                }
            }
        }
        #[cfg(feature = "cuda")]
        Device::Cuda(n) => {
            let b = crate::backend::cuda::open_device(&format!("cuda:{n}"), chunk).map_err(
                |e| match e {
                    Error::Device(msg) => Error::Device(format!("--device cuda:{n}: {msg}")),
                    other => other,
                },
            )?;
            Ok((Chosen::Cuda(Box::new(b)), String::new()))
        }
        #[cfg(not(feature = "cuda"))]
        Device::Cuda(n) => Err(Error::Device(format!(
            "device 'cuda:{n}' is not available: this binary was built without the `cuda` feature; \
             rebuild with `cargo build --release --features cuda` or use --device cpu"
        ))),
        #[cfg(feature = "emulator")]
        Device::Emulator => Ok((
            Chosen::Emulated(Box::new(crate::backend::cuda::open_emulated(chunk)?)),
            String::new(),
        )),
        #[cfg(not(feature = "emulator"))]
        Device::Emulator => Err(Error::Device(
            "device 'emulator' is not available: this binary was built without the `emulator` \
             feature; rebuild with `cargo build --release --features emulator` or use --device cpu"
                .into(),
        )),
    }
}
pub(super) use with_backend;

/// The backends `bench --device` names: a comma-separated list; `auto` means the GPU when one
/// works, then the CPU, so both rows come from the same command. Each is opened once, here.
pub(super) fn bench_backends(
    spec: &str,
    threads: usize,
    chunk: usize,
) -> Result<Vec<(Chosen, String)>> {
    let mut devices = spec
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::parse::<Device>)
        .collect::<Result<Vec<_>>>()?;
    devices.dedup();
    if devices.is_empty() {
        return Err(Error::Config(format!(
            "no device in --device '{spec}'; use e.g. --device cuda:0,cpu"
        )));
    }
    let mut out = Vec::new();
    for device in devices {
        let (chosen, note) = choose_backend(device, threads, chunk)?;
        let auto_found_gpu = device == Device::Auto && !matches!(chosen, Chosen::Cpu(_));
        out.push((chosen, note));
        if auto_found_gpu {
            out.push((Chosen::Cpu(CpuBackend::new(threads)), String::new()));
        }
    }
    Ok(out)
}
