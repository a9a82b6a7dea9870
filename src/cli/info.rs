//! `info`: the devices this binary can train on, how its kernels were built, and a model's memory,
//! as a report or (`--json`) one JSON object.

use clap::ValueEnum;
use serde_json::{json, Value};

use crate::cli::InfoArgs;

pub(super) fn info(a: &InfoArgs) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let host_bytes = 2 * a.vocab as u64 * a.dim as u64 * 4;
    let device = device(a)?;
    if a.json {
        let name = |v: Option<clap::builder::PossibleValue>| v.map(|v| v.get_name().to_string());
        let doc = json!({
            "cpu": {"cores": cores},
            "mpi": {
                "compiled": cfg!(feature = "mpi"),
                "ranks": crate::dist::launched_ranks(),
            },
            "nccl": {"compiled": cfg!(feature = "nccl")},
            "cuda": device.as_ref().map(|d| &d.json),
            "model": {
                "vocab": a.vocab,
                "dim": a.dim,
                "optimizer": name(a.optimizer.to_possible_value()),
                "storage": name(a.storage.to_possible_value()),
                "host_bytes": host_bytes,
                "device": device.as_ref().map(|d| &d.model),
            },
        });
        println!("{doc}");
        return Ok(());
    }
    println!("cpu      {cores} cores available (--device cpu, --threads N; 0 = all)");
    print!("{}", crate::dist::report());
    match &device {
        Some(d) => print!("{}", d.text),
        None => {
            println!("cuda     not available: this binary was built without the `cuda` feature")
        }
    }
    println!(
        "model    {} words x dim {}: {:.1} MiB for W_in and W_out in host memory (f32)",
        crate::train::progress::thousands(a.vocab as u64),
        a.dim,
        host_bytes as f64 / (1 << 20) as f64
    );
    Ok(())
}

/// The CUDA side of the report: its text lines and the same as JSON (the devices, and the
/// model's device footprint).
struct DeviceInfo {
    text: String,
    json: Value,
    model: Value,
}

/// Tokens of the resident corpus chunk the footprint line counts beside the model.
#[cfg(any(feature = "cuda", feature = "emulator"))]
const CHUNK_TOKENS: usize = 100_000_000;

#[cfg(any(feature = "cuda", feature = "emulator"))]
fn device(a: &InfoArgs) -> anyhow::Result<Option<DeviceInfo>> {
    use crate::backend::cuda;
    use crate::backend::{choose_step, Step};
    // The step these settings would train with on any GPU (its shared memory unknown here).
    let cfg = crate::train::TrainConfig {
        dim: a.dim,
        optimizer: a.optimizer,
        storage: a.storage,
        ..Default::default()
    };
    let caps = cuda::backend::capabilities(None);
    let composed = choose_step("the CUDA backend", &caps, &cfg)? == Step::Composed;
    let fused = cuda::Footprint::of(a.vocab, a.dim, a.optimizer, composed, a.storage);
    let chunk = cuda::fused_overhead(CHUNK_TOKENS, 1 << 20);
    let text = format!(
        "{}model    {} words x dim {}, {:?}, {:?} storage: {fused} on the device, plus {} for a \
         resident corpus chunk of 100M tokens\n",
        cuda::device_report(),
        crate::train::progress::thousands(a.vocab as u64),
        a.dim,
        a.optimizer,
        a.storage,
        cuda::device::fmt_bytes(chunk)
    );
    let model = json!({
        "step": if composed { "composed" } else { "fused" },
        "bytes": fused.total(),
        "parameters_bytes": fused.params,
        "tables_bytes": fused.tables,
        "adam_bytes": fused.adam,
        "gradients_bytes": fused.grads,
        "chunk_tokens": CHUNK_TOKENS,
        "chunk_bytes": chunk,
    });
    Ok(Some(DeviceInfo {
        text,
        json: summary_json(&cuda::device_summary()),
        model,
    }))
}

#[cfg(not(any(feature = "cuda", feature = "emulator")))]
fn device(_: &InfoArgs) -> anyhow::Result<Option<DeviceInfo>> {
    Ok(None)
}

#[cfg(any(feature = "cuda", feature = "emulator"))]
fn summary_json(s: &crate::backend::cuda::DeviceSummary) -> Value {
    let driver = match &s.driver {
        None => json!({"built": false}),
        Some(Err(e)) => json!({"built": true, "error": e}),
        Some(Ok(d)) => {
            let devices = match &d.devices {
                Err(e) => json!({"error": e}),
                Ok(list) => list
                    .iter()
                    .enumerate()
                    .map(|(i, d)| match d {
                        Ok(p) => json!({"device": format!("cuda:{i}"), "name": p.name,
                            "sm_count": p.sm_count, "memory_bytes": p.total_memory,
                            "kernels_via": p.toolkit}),
                        Err(e) => json!({"device": format!("cuda:{i}"), "error": e}),
                    })
                    .collect(),
            };
            json!({"built": true, "version": d.version, "devices": devices})
        }
    };
    json!({"kernels": s.kernels, "driver": driver, "emulator": s.emulator})
}
