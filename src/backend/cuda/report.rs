//! The device part of `w2v-gpu info`: how the kernels were built, the driver, the GPUs it sees,
//! gathered once as data ([`summary`]) and shown as text ([`device_report`]) or JSON (`info --json`).

#[cfg(feature = "cuda")]
use super::device::Device;
use super::device::{fmt_bytes, DeviceProps};
#[cfg(feature = "cuda")]
use super::driver::{self, CudaDriver};
use super::kernels;

/// What this binary and the machine say about training on a GPU.
pub struct DeviceSummary {
    /// How the kernels were built (nvcc PTX, or NVRTC at run time).
    pub kernels: &'static str,
    /// `None` when built without the `cuda` feature; else the driver, or why it is unusable.
    pub driver: Option<Result<DriverSummary, String>>,
    /// Built with the `emulator` feature (`--device emulator`).
    pub emulator: bool,
}

/// A working CUDA driver and the devices it lists.
pub struct DriverSummary {
    pub version: String,
    /// The devices, each opened or with why it could not be; or why none could be counted.
    pub devices: Result<Vec<Result<DeviceProps, String>>, String>,
}

/// Probes the driver and opens each GPU it lists.
pub fn summary() -> DeviceSummary {
    #[cfg(feature = "cuda")]
    let driver = Some(
        driver::driver_version()
            .map(|version| DriverSummary {
                version,
                devices: driver::device_count()
                    .map(|n| {
                        (0..n)
                            .map(|i| {
                                CudaDriver::open(i)
                                    .map(|d| d.props().clone())
                                    .map_err(|e| e.to_string())
                            })
                            .collect()
                    })
                    .map_err(|e| e.to_string()),
            })
            .map_err(|e| e.to_string()),
    );
    #[cfg(not(feature = "cuda"))]
    let driver = None;
    DeviceSummary {
        kernels: kernels::BUILD_INFO,
        driver,
        emulator: cfg!(feature = "emulator"),
    }
}

/// The device part of `w2v-gpu info`: how kernels were built, driver version, devices found.
pub fn device_report() -> String {
    let s = summary();
    let mut out = format!("kernels  {}\n", s.kernels);
    match &s.driver {
        None => out.push_str("driver   not used: built without the `cuda` feature\n"),
        Some(Err(e)) => out.push_str(&format!("driver   {e}\n")),
        Some(Ok(d)) => {
            out.push_str(&format!("driver   CUDA {}\n", d.version));
            match &d.devices {
                Err(e) => out.push_str(&format!("devices  {e}\n")),
                Ok(list) if list.is_empty() => {
                    out.push_str("devices  none (the driver sees no GPU)\n")
                }
                Ok(list) => {
                    out.push_str(&format!("devices  {}\n", list.len()));
                    for (i, d) in list.iter().enumerate() {
                        out.push_str(&device_line(i, d));
                    }
                }
            }
        }
    }
    if s.emulator {
        out.push_str(
            "emulator available (feature `emulator`: CUDA kernels on the CPU, for correctness only)\n",
        );
    }
    out
}

fn device_line(i: usize, d: &Result<DeviceProps, String>) -> String {
    match d {
        Ok(p) => format!(
            "  cuda:{i}  {}, {} SMs, {} memory, kernels via {}\n",
            p.name,
            p.sm_count,
            fmt_bytes(p.total_memory),
            p.toolkit
        ),
        Err(e) => format!("  cuda:{i}  unusable: {e}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_the_kernel_build() {
        let report = device_report();
        assert!(report.contains(kernels::BUILD_INFO), "{report}");
    }
}
