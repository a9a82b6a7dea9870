//! Opening a CUDA device: a GPU named `cuda:N`, the emulated device, or the choice for
//! `--device auto`.

#[cfg(feature = "cuda")]
use super::device::Device;
#[cfg(feature = "cuda")]
use super::driver::CudaDriver;
#[cfg(feature = "emulator")]
use super::emulated::EmulatedDevice;
use super::CudaBackend;
#[cfg(feature = "cuda")]
use crate::error::Result;

/// Opens GPU `cuda:{ordinal}` with a resident corpus chunk of `chunk_tokens` tokens
/// (0 = sized from free memory).
#[cfg(feature = "cuda")]
pub fn open_device(ordinal: usize, chunk_tokens: usize) -> Result<CudaBackend<CudaDriver>> {
    let dev = CudaDriver::open(ordinal)?;
    let label = format!("cuda:{ordinal} {}", dev.props().name);
    CudaBackend::new(dev, label, chunk_tokens)
}

/// The emulated device (kernels compiled as C++ for the CPU), for tests and machines without a GPU.
#[cfg(feature = "emulator")]
pub fn open_emulated(chunk_tokens: usize) -> crate::error::Result<CudaBackend<EmulatedDevice>> {
    CudaBackend::new(
        EmulatedDevice::new(),
        "emulated device (CUDA kernels on the CPU)".into(),
        chunk_tokens,
    )
}

/// `--device auto`: `Ok("cuda:0")` when a driver and a GPU work (the device opens and its kernels
/// load), else `Err(reason)` in one line for the "using the CPU" notice.
pub fn auto_device() -> std::result::Result<String, String> {
    #[cfg(feature = "cuda")]
    {
        CudaDriver::open(0)
            .map(|_| "cuda:0".to_string())
            .map_err(|e| e.to_string())
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err("this build has no CUDA support (built without the `cuda` feature)".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_choice_is_cuda_0_or_one_line_why_not() {
        // With no GPU the reason is one line; with one, the choice is cuda:0.
        match auto_device() {
            Ok(spec) => assert_eq!(spec, "cuda:0"),
            Err(why) => assert!(!why.is_empty() && !why.contains('\n'), "{why}"),
        }
    }
}
