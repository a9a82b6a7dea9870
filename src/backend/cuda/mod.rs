//! The CUDA backend: opening a device (a GPU through cudarc, or the emulator), reporting what is
//! there for `w2v-gpu info`, and choosing a device for `--device auto`.
//!
//! Layout: [`device`] is the narrow device interface, [`driver`] (feature `cuda`) and [`emulated`]
//! (feature `emulator`) implement it, [`geometry`] picks launch sizes, [`backend`] is
//! `CudaBackend<D>`, the `Backend` trait over any device.

pub mod backend;
pub mod device;
#[cfg(feature = "cuda")]
pub mod driver;
#[cfg(feature = "emulator")]
pub mod emulated;
pub mod geometry;

/// What build.rs embedded: PTX or sources of `kernels/*.cu`, how they were built, and every
/// kernel's normalised C signature.
pub mod kernels {
    include!(concat!(env!("OUT_DIR"), "/kernels.rs"));
}

use std::fmt;

pub use backend::CudaBackend;
pub use device::{Device, DeviceBuf, DeviceProps};
#[cfg(feature = "cuda")]
pub use driver::CudaDriver;
#[cfg(feature = "emulator")]
pub use emulated::EmulatedDevice;

use crate::backend::{OptimizerKind, Storage};
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

/// Device memory a model of `vocab × dim` needs, by part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    /// `w_in` and `w_out`: 4 bytes per weight, 2 with [`Storage::F16`].
    pub params: u64,
    /// Alias thresholds, alias targets, subsampling thresholds (u32 per word each).
    pub tables: u64,
    /// Adam's four moment matrices (zero for SGD).
    pub adam: u64,
    /// The composed path's dense gradients (allocated on its first use; zero for the fused path).
    pub grads: u64,
}

impl Footprint {
    /// Footprint of a model trained with `optimizer`; `composed` when the composed step runs.
    /// `storage` is that of `w_in`/`w_out` (f16 only trains with the fused SGD step).
    pub fn of(
        vocab: usize,
        dim: usize,
        optimizer: OptimizerKind,
        composed: bool,
        storage: Storage,
    ) -> Footprint {
        let matrix = (vocab * dim * 4) as u64;
        let adam = optimizer == OptimizerKind::Adam;
        let weight_bytes = match storage {
            Storage::F32 => 4,
            Storage::F16 => 2,
        };
        Footprint {
            params: 2 * (vocab * dim) as u64 * weight_bytes,
            tables: 3 * 4 * vocab as u64,
            adam: if adam { 4 * matrix } else { 0 },
            grads: if composed || adam { 2 * matrix } else { 0 },
        }
    }

    pub fn total(&self) -> u64 {
        self.params + self.tables + self.adam + self.grads
    }
}

impl fmt::Display for Footprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use device::fmt_bytes;
        write!(
            f,
            "{} (parameters {}, tables {}",
            fmt_bytes(self.total()),
            fmt_bytes(self.params),
            fmt_bytes(self.tables)
        )?;
        if self.adam > 0 {
            write!(f, ", Adam moments {}", fmt_bytes(self.adam))?;
        }
        if self.grads > 0 {
            write!(f, ", gradients {}", fmt_bytes(self.grads))?;
        }
        write!(f, ")")
    }
}

/// Device memory the fused path adds on top of the model: the resident corpus chunk (u32 per
/// token) and the per-span compaction buffers of one batch (two u32 per batch token).
pub fn fused_overhead(chunk_tokens: usize, batch_tokens: usize) -> u64 {
    4 * chunk_tokens as u64 + 8 * batch_tokens as u64
}

/// The device part of `w2v-gpu info`: how kernels were built, driver version, devices found.
pub fn device_report() -> String {
    let mut out = format!("kernels  {}\n", kernels::BUILD_INFO);
    #[cfg(feature = "cuda")]
    match driver::driver_version() {
        Err(e) => out.push_str(&format!("driver   {e}\n")),
        Ok(v) => {
            out.push_str(&format!("driver   CUDA {v}\n"));
            match driver::device_count() {
                Err(e) => out.push_str(&format!("devices  {e}\n")),
                Ok(0) => out.push_str("devices  none (the driver sees no GPU)\n"),
                Ok(n) => {
                    out.push_str(&format!("devices  {n}\n"));
                    for i in 0..n {
                        match CudaDriver::open(i) {
                            Ok(d) => {
                                let p = d.props();
                                out.push_str(&format!(
                                    "  cuda:{i}  {}, {} SMs, {} memory, kernels via {}\n",
                                    p.name,
                                    p.sm_count,
                                    device::fmt_bytes(p.total_memory),
                                    p.toolkit
                                ));
                            }
                            Err(e) => out.push_str(&format!("  cuda:{i}  unusable: {e}\n")),
                        }
                    }
                }
            }
        }
    }
    #[cfg(not(feature = "cuda"))]
    out.push_str("driver   not used: built without the `cuda` feature\n");
    #[cfg(feature = "emulator")]
    out.push_str(
        "emulator available (feature `emulator`: CUDA kernels on the CPU, for correctness only)\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_and_auto_choice_never_panic() {
        let report = device_report();
        assert!(report.contains(kernels::BUILD_INFO), "{report}");
        // With no GPU the reason is one line; with one, the choice is cuda:0.
        match auto_device() {
            Ok(spec) => assert_eq!(spec, "cuda:0"),
            Err(why) => assert!(!why.is_empty() && !why.contains('\n'), "{why}"),
        }
    }

    #[test]
    fn footprint_counts_every_matrix() {
        let f = Footprint::of(1000, 100, OptimizerKind::Sgd, false, Storage::F32);
        assert_eq!(f.total(), 2 * 400_000 + 12_000);
        let h = Footprint::of(1000, 100, OptimizerKind::Sgd, false, Storage::F16);
        assert_eq!(h.params, 400_000);
        let a = Footprint::of(1000, 100, OptimizerKind::Adam, true, Storage::F32);
        assert_eq!(a.total(), 8 * 400_000 + 12_000);
        assert!(a.to_string().contains("Adam moments"));
    }
}
