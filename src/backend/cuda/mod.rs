//! The CUDA backend's module tree: `CudaBackend<D>` over a device (a GPU through cudarc, or the
//! emulator), and the names the rest of the crate uses re-exported here.
//!
//! Layout: [`device`] is the narrow device interface, [`driver`] (feature `cuda`) and [`emulated`]
//! (feature `emulator`) implement it, [`kernels`] is what build.rs embedded, [`geometry`] picks
//! launch sizes, [`backend`] is `CudaBackend<D>`, the `Backend` trait over any device: `layers`
//! launches the composed step's operations, `fused` the fused step through the corpus chunk that
//! `resident` keeps on the device. `open` opens a device, `footprint` sizes device memory and
//! `report` writes the device part of `w2v-gpu info`; `traffic` (feature `emulator`) reads the
//! emulated device's memory-traffic counters; `variant` picks the fused step kernel (v1 or v2).

pub mod backend;
pub mod device;
#[cfg(feature = "cuda")]
pub mod driver;
#[cfg(feature = "emulator")]
pub mod emulated;
mod footprint;
mod fused;
pub mod geometry;
pub mod kernels;
mod layers;
mod open;
mod report;
mod resident;
#[cfg(feature = "emulator")]
pub mod traffic;
pub mod variant;

pub use backend::CudaBackend;
pub use device::{Device, DeviceBuf, DeviceProps};
#[cfg(feature = "cuda")]
pub use driver::CudaDriver;
#[cfg(feature = "emulator")]
pub use emulated::EmulatedDevice;
pub use footprint::{fused_overhead, Footprint};
pub use open::auto_device;
#[cfg(feature = "cuda")]
pub use open::open_device;
#[cfg(feature = "emulator")]
pub use open::open_emulated;
pub use report::{device_report, summary as device_summary, DeviceSummary, DriverSummary};
pub use variant::KernelVariant;
