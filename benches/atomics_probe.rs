//! `atomics-probe`: float-atomic throughput on a GPU, the measurement that replaces the traffic
//! model's assumed atomic rate (benches/MODEL.md). Needs a GPU; `scripts/gpu-check.sh` runs it.
//!
//! Times `w2v_test_atomic_probe` (kernels/test/probe.cu) in its six patterns (coalesced,
//! row-scattered and same-address; scalar and 16-byte vector) over a 64 MiB buffer, one JSON line
//! each: lane operations per second, bytes added per second, and whether the sum came out exact.
//! Usage: `atomics-probe [--device cuda:N]` (the compiled bench binary, from target/release/deps).

use std::process::ExitCode;
use std::time::Instant;

use cudarc::driver::sys::CUdevice_attribute;
use cudarc::driver::{CudaContext, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::{CompileOptions, Ptx};

mod generated {
    // The generated file also lists every test kernel (TEST_KERNELS), which the probe does not need.
    #![allow(dead_code)]
    include!(concat!(env!("OUT_DIR"), "/test/test_kernels.rs"));
}

const PATTERNS: [&str; 6] = [
    "coalesced scalar",
    "row-scattered scalar",
    "same-address scalar",
    "coalesced vector",
    "row-scattered vector",
    "same-address vector",
];
/// Floats in the buffer (64 MiB: larger than any L2 so far).
const N: u32 = 1 << 24;
const THREADS: u32 = 256;

fn run() -> Result<(), String> {
    let mut ordinal = 0usize;
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--device" => {
                let v = args.next().unwrap_or_default();
                ordinal = v
                    .strip_prefix("cuda:")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| format!("--device {v}: use cuda:N"))?;
            }
            other => return Err(format!("unknown argument {other}; use --device cuda:N")),
        }
    }
    let ctx = CudaContext::new(ordinal).map_err(|e| format!("cuda:{ordinal}: {e:?}"))?;
    let stream = ctx.default_stream();
    let (major, minor) = ctx.compute_capability().map_err(|e| format!("{e:?}"))?;
    let sms = ctx
        .attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
        .map_err(|e| format!("{e:?}"))? as u32;
    let embedded = generated::TEST_PTX
        .iter()
        .find(|(m, _)| *m == "probe")
        .and_then(|(_, text)| ctx.load_module(Ptx::from_src(*text)).ok());
    let module = match embedded {
        Some(m) => m,
        None => {
            let src = generated::TEST_SOURCES
                .iter()
                .find(|(m, _)| *m == "probe")
                .map(|(_, s)| *s)
                .ok_or("build.rs embeds kernels/test/probe.cu")?;
            let opts = CompileOptions {
                options: vec![format!("--gpu-architecture=compute_{major}{minor}")],
                ..Default::default()
            };
            let ptx = cudarc::nvrtc::compile_ptx_with_opts(src, opts)
                .map_err(|e| format!("NVRTC: {e}"))?;
            ctx.load_module(ptx).map_err(|e| format!("{e:?}"))?
        }
    };
    let f = module
        .load_function("w2v_test_atomic_probe")
        .map_err(|e| format!("{e:?}"))?;
    let blocks = sms * 8;
    let cfg = LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    for (pattern, name) in PATTERNS.iter().enumerate() {
        // Same-address patterns serialise: fewer repetitions keep them short (and exact in f32).
        let reps: u32 = if pattern % 3 == 2 { 2 } else { 64 };
        let mut x = stream
            .alloc_zeros::<f32>(N as usize)
            .map_err(|e| format!("{e:?}"))?;
        let launch = |x: &mut cudarc::driver::CudaSlice<f32>| -> Result<f64, String> {
            let p = pattern as u32;
            let mut b = stream.launch_builder(&f);
            b.arg(x).arg(&N).arg(&p).arg(&reps);
            stream.synchronize().map_err(|e| format!("{e:?}"))?;
            let t = Instant::now();
            // SAFETY: the arguments kernels/test/probe.cu declares, in order; `x` holds N floats
            // and the kernel indexes below N.
            unsafe { b.launch(cfg) }.map_err(|e| format!("{e:?}"))?;
            stream.synchronize().map_err(|e| format!("{e:?}"))?;
            Ok(t.elapsed().as_secs_f64())
        };
        launch(&mut x)?; // warm-up (and module load)
        let x_host = stream.clone_dtoh(&x).map_err(|e| format!("{e:?}"))?;
        let width = if pattern >= 3 { 4.0 } else { 1.0 };
        let ops = (blocks * THREADS) as f64 * reps as f64;
        let exact = x_host.iter().map(|&v| v as f64).sum::<f64>() == ops * width;
        let secs = launch(&mut x)?;
        println!(
            "{{\"pattern\":\"{name}\",\"lane_ops_per_s\":{:.4e},\"bytes_per_s\":{:.4e},\"seconds\":{secs:.6},\"exact\":{exact},\"sm\":\"{major}{minor}\"}}",
            ops / secs,
            ops * width * 4.0 / secs
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("atomics-probe: {e}");
            ExitCode::FAILURE
        }
    }
}
