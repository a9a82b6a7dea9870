//! `bench`: train on each named device (once, or `--repeat N` times after `--warmup` runs) and
//! report words/s (median, slowest, fastest), wall time and peak memory.

use super::device::{self, with_backend};
use super::memory::{peak_memory, reset_peak_memory};
use super::ranks::{ranks_line, Ending, Gate};
use super::train::{load_data, scale_lr, settings_line};
use crate::backend::Backend;
use crate::cli::BenchArgs;
use crate::train::progress::thousands;
use crate::train::session::CorpusIds;
use crate::train::{self, NoHooks, Trained};

/// One device's benchmark figures over its timed runs.
struct BenchRow {
    device: String,
    /// CPU worker threads actually used (`None` on a GPU).
    threads: Option<usize>,
    /// Timed runs, in the order they ran.
    runs: Vec<Trained>,
    peak: Option<u64>,
}

impl BenchRow {
    /// Words/s of every run, slowest first.
    fn sorted_rates(&self) -> Vec<f64> {
        let mut r: Vec<f64> = self.runs.iter().map(Trained::words_per_sec).collect();
        r.sort_by(f64::total_cmp);
        r
    }

    /// (median, slowest, fastest) words/s; the median of an even count is the mean of the middle two.
    fn rates(&self) -> (f64, f64, f64) {
        let r = self.sorted_rates();
        let n = r.len();
        let median = if n % 2 == 1 {
            r[n / 2]
        } else {
            (r[n / 2 - 1] + r[n / 2]) / 2.0
        };
        (median, r[0], r[n - 1])
    }

    /// The timed run whose words/s is the median (or just above it), for wall time and loss.
    fn median_run(&self) -> &Trained {
        let (median, ..) = self.rates();
        self.runs
            .iter()
            .min_by(|a, b| {
                (a.words_per_sec() - median)
                    .abs()
                    .total_cmp(&(b.words_per_sec() - median).abs())
            })
            .expect("at least one run")
    }
}

pub(super) fn bench(a: &BenchArgs) -> anyhow::Result<()> {
    // Each device once, in the order given.
    let mut devices = Vec::new();
    for d in &a.device {
        if !devices.contains(d) {
            devices.push(*d);
        }
    }
    let Some(&first) = devices.first() else {
        anyhow::bail!("no device in --device; use e.g. --device cuda:0,cpu");
    };
    if let Some(n) = crate::dist::launched_ranks().filter(|&n| n > 1) {
        if devices.len() > 1 {
            anyhow::bail!(
                "bench as {n} mpirun ranks times one device, and --device names {}; give one \
                 (e.g. --device cpu)",
                devices.len()
            );
        }
    }
    let gpu = matches!(first, crate::train::Device::Cuda(_));
    let comm = crate::dist::join(gpu).map_err(anyhow::Error::msg)?;
    let mut gate = Gate::new(&*comm);
    let result = bench_as(a, &devices, &mut gate);
    match gate.finish(result) {
        Ending::Return(r) => r,
        Ending::Exit(code) => {
            drop(comm);
            std::process::exit(code)
        }
    }
}

/// [`bench`] as one rank of the job `gate` starts (one process: the only rank); rank 0 alone
/// prints.
fn bench_as(
    a: &BenchArgs,
    devices: &[crate::train::Device],
    gate: &mut Gate,
) -> anyhow::Result<()> {
    let mut dist = a.dist.dist(gate.comm);
    let lead = dist.rank() == 0;
    let cfg = a.model.config(&a.corpus, devices[0]);
    cfg.validate()?;
    let mut opened = device::open_all(devices, &cfg)?;
    // `auto` may open the same GPU or CPU that is also named: bench it once.
    let mut seen = Vec::new();
    opened.retain(|o| {
        let name = with_backend!(o.backend, |b| b.name());
        let new = !seen.contains(&name);
        seen.push(name);
        new
    });
    let src = super::preflight::resolve_corpus(&cfg.corpus.paths, "--corpus")?;
    let data = load_data(&cfg, src.as_ref(), None, &a.cache)?;
    // Several ranks: the interval for this corpus and device, the gate every rank passes
    // together, and the learning rate scaled for the ranks (as `train`).
    #[cfg(feature = "cuda")]
    let gpu = matches!(opened[0].backend, device::Chosen::Cuda(_));
    #[cfg(not(feature = "cuda"))]
    let gpu = false;
    a.dist.settle(&mut dist, data.enc.len(), gpu);
    let mut run_cfg = cfg.train.clone();
    let mut rank_lr = None;
    if dist.is_parallel() {
        gate.pass(
            &cfg.checkpoint_json(None)?,
            &data.vocab,
            data.enc.len(),
            &dist,
        )?;
        rank_lr = scale_lr(&mut run_cfg, &dist);
    }
    let warmup = a.warmup.unwrap_or(u32::from(a.repeat > 1));
    let mut rows = Vec::new();
    for o in opened {
        let label = o.label();
        let threads = o.backend.cpu_threads();
        let mut runs = Vec::new();
        let mut peak = None;
        for i in 0..warmup + a.repeat {
            let timed = i >= warmup;
            if !a.json && lead {
                let what = if timed {
                    format!("run {} of {}", i - warmup + 1, a.repeat)
                } else {
                    format!("warm-up {} of {warmup}", i + 1)
                };
                eprintln!("benchmarking on {label}: {what}...");
            }
            reset_peak_memory();
            let trained = with_backend!(o.backend, |b| train::train_ranks(
                b,
                &data.enc,
                &data.vocab,
                &run_cfg,
                o.step,
                None,
                &mut NoHooks,
                dist
            ))?;
            if timed {
                peak = peak.max(peak_memory());
                runs.push(trained);
            }
        }
        rows.push(BenchRow {
            device: label,
            threads,
            runs,
            peak,
        });
    }
    if !lead {
        return Ok(());
    }
    let settings = settings_line(&run_cfg);
    if a.json {
        for r in &rows {
            let (median, slowest, fastest) = r.rates();
            let m = r.median_run();
            let obj = serde_json::json!({
                "device": r.device,
                "corpus": data.name,
                "vocab": data.vocab.len(),
                "words": m.words,
                "wall_s": m.seconds,
                "words_per_sec": median,
                "words_per_sec_min": slowest,
                "words_per_sec_max": fastest,
                "runs_words_per_sec": r.runs.iter().map(Trained::words_per_sec).collect::<Vec<_>>(),
                "repeat": a.repeat,
                "warmup": warmup,
                "peak_memory_bytes": r.peak,
                "final_loss": m.final_loss(),
                "settings": run_cfg,
                "threads": r.threads,
                "ranks": dist.size(),
                "rank_words_per_sec": m.ranks.iter().map(|f| f.words_per_sec).collect::<Vec<_>>(),
                "rank_sync_s": m.ranks.iter().map(|f| f.sync_seconds).collect::<Vec<_>>(),
            });
            println!("{obj}");
        }
        return Ok(());
    }
    println!("corpus         {}", data.name);
    println!("vocabulary     {}", thousands(data.vocab.len() as u64));
    println!("words trained  {}", thousands(rows[0].runs[0].words));
    println!("settings       {settings}");
    if let Some(line) = &rank_lr {
        println!("{line}");
    }
    if a.repeat > 1 {
        println!(
            "runs           {} timed after {warmup} warm-up per device; words/s is their median",
            a.repeat
        );
    }
    println!();
    let width = rows
        .iter()
        .map(|r| r.device.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let spread = a.repeat > 1;
    print!("{:<width$}  {:>14}", "device", "words/s");
    if spread {
        print!("  {:>23}", "slowest .. fastest");
    }
    println!(
        "  {:>10}  {:>12}  {:>10}",
        "wall", "peak memory", "final loss"
    );
    let rate = |x: f64| thousands(x.round() as u64);
    for r in &rows {
        let (median, slowest, fastest) = r.rates();
        let m = r.median_run();
        let mib = r.peak.map_or("n/a".to_string(), |b| {
            format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
        });
        print!("{:<width$}  {:>14}", r.device, rate(median));
        if spread {
            print!(
                "  {:>23}",
                format!("{} .. {}", rate(slowest), rate(fastest))
            );
        }
        println!(
            "  {:>10}  {:>12}  {:>10.4}",
            format!("{:.2} s", m.seconds),
            mib,
            m.final_loss()
        );
    }
    // Several ranks (one device): the median run's words/s and synchronisation time per rank.
    if let Some(line) = rows.first().and_then(|r| ranks_line(r.median_run(), &dist)) {
        println!();
        println!("{line}");
    }
    if rows.len() > 1 {
        let last = &rows[rows.len() - 1];
        let base = last.rates().0;
        println!();
        for r in &rows[..rows.len() - 1] {
            println!("{} is {:.2}x {}", r.device, r.rates().0 / base, last.device);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(rates: &[f64]) -> BenchRow {
        BenchRow {
            device: "d".into(),
            threads: Some(1),
            runs: rates
                .iter()
                .map(|&r| Trained {
                    w_in: vec![],
                    w_out: vec![],
                    epochs: vec![],
                    words: 1000,
                    seconds: 1000.0 / r,
                    ranks: vec![],
                    sync: Default::default(),
                })
                .collect(),
            peak: None,
        }
    }

    #[test]
    fn median_slowest_and_fastest_of_the_runs() {
        let (m, lo, hi) = row(&[3.0, 1.0, 2.0]).rates();
        assert_eq!((m, lo, hi), (2.0, 1.0, 3.0));
        let (m, lo, hi) = row(&[4.0, 1.0, 2.0, 10.0]).rates();
        assert!((m - 3.0).abs() < 1e-12 && lo == 1.0 && hi == 10.0);
        assert_eq!(row(&[5.0]).rates(), (5.0, 5.0, 5.0));
        assert!((row(&[3.0, 1.0, 2.0]).median_run().seconds - 500.0).abs() < 1e-9);
    }
}
