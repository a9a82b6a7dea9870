//! The device part of `w2v-gpu info`: how the kernels were built, the driver, the GPUs it sees.

#[cfg(feature = "cuda")]
use super::device::{fmt_bytes, Device};
#[cfg(feature = "cuda")]
use super::driver::{self, CudaDriver};
use super::kernels;

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
                                    fmt_bytes(p.total_memory),
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
    fn report_names_the_kernel_build() {
        let report = device_report();
        assert!(report.contains(kernels::BUILD_INFO), "{report}");
    }
}
