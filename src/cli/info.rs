//! `info`: the devices this binary can train on, how its kernels were built, and a model's memory.

use crate::cli::InfoArgs;

pub(super) fn info(a: &InfoArgs) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("cpu      {cores} cores available (--device cpu, --threads N; 0 = all)");
    print!("{}", crate::dist::report());
    let words = |n: usize| crate::train::progress::thousands(n as u64);
    let matrix = a.vocab as u64 * a.dim as u64 * 4;
    #[cfg(any(feature = "cuda", feature = "emulator"))]
    {
        use crate::backend::cuda;
        print!("{}", cuda::device_report());
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
        println!(
            "model    {} words x dim {}, {:?}, {:?} storage: {fused} on the device, plus {} for a \
             resident corpus chunk of 100M tokens",
            words(a.vocab),
            a.dim,
            a.optimizer,
            a.storage,
            cuda::device::fmt_bytes(cuda::fused_overhead(100_000_000, 1 << 20))
        );
    }
    #[cfg(not(any(feature = "cuda", feature = "emulator")))]
    println!("cuda     not available: this binary was built without the `cuda` feature");
    println!(
        "model    {} words x dim {}: {:.1} MiB for W_in and W_out in host memory (f32)",
        words(a.vocab),
        a.dim,
        (2 * matrix) as f64 / (1 << 20) as f64
    );
    Ok(())
}
