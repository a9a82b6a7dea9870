//! `bench`: train once on each named device and report words/s, wall time and peak memory.

use super::device::{self, with_backend};
use super::memory::{peak_memory, reset_peak_memory};
use super::train::{load_data, settings_line};
use crate::cli::BenchArgs;
use crate::train::progress::thousands;
use crate::train::{self, NoHooks, Trained};

/// One device's benchmark figures.
struct BenchRow {
    device: String,
    trained: Trained,
    peak: Option<u64>,
}

pub(super) fn bench(a: &BenchArgs) -> anyhow::Result<()> {
    let mut devices = a.device.clone();
    devices.dedup();
    let Some(&first) = devices.first() else {
        anyhow::bail!("no device in --device; use e.g. --device cuda:0,cpu");
    };
    let cfg = a.model.config(&a.corpus, first);
    cfg.validate()?;
    let opened = device::open_all(&devices, &cfg)?;
    let data = load_data(&cfg, None, &a.cache)?;
    let mut rows = Vec::new();
    for o in opened {
        let label = o.label();
        if !a.json {
            eprintln!("benchmarking on {label}...");
        }
        reset_peak_memory();
        let trained = with_backend!(o.backend, |b| train::train(
            b,
            &data.enc,
            &data.vocab,
            &cfg.train,
            o.step,
            None,
            &mut NoHooks
        ))?;
        rows.push(BenchRow {
            device: label,
            trained,
            peak: peak_memory(),
        });
    }
    let settings = settings_line(&cfg.train);
    if a.json {
        for r in &rows {
            let obj = serde_json::json!({
                "device": r.device,
                "corpus": data.name,
                "vocab": data.vocab.len(),
                "words": r.trained.words,
                "wall_s": r.trained.seconds,
                "words_per_sec": r.trained.words_per_sec(),
                "peak_memory_bytes": r.peak,
                "final_loss": r.trained.final_loss(),
                "settings": cfg.train,
                "threads": cfg.threads,
            });
            println!("{obj}");
        }
        return Ok(());
    }
    println!("corpus         {}", data.name);
    println!("vocabulary     {}", thousands(data.vocab.len() as u64));
    println!("words trained  {}", thousands(rows[0].trained.words));
    println!("settings       {settings}");
    println!();
    let width = rows
        .iter()
        .map(|r| r.device.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "{:<width$}  {:>14}  {:>10}  {:>12}  {:>10}",
        "device", "words/s", "wall", "peak memory", "final loss"
    );
    for r in &rows {
        let mib = r.peak.map_or("n/a".to_string(), |b| {
            format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
        });
        println!(
            "{:<width$}  {:>14}  {:>10}  {:>12}  {:>10.4}",
            r.device,
            thousands(r.trained.words_per_sec().round() as u64),
            format!("{:.2} s", r.trained.seconds),
            mib,
            r.trained.final_loss()
        );
    }
    if rows.len() > 1 {
        let base = rows.last().map_or(1.0, |r| r.trained.words_per_sec());
        println!();
        for r in &rows[..rows.len() - 1] {
            println!(
                "{} is {:.2}x {}",
                r.device,
                r.trained.words_per_sec() / base,
                rows[rows.len() - 1].device
            );
        }
    }
    Ok(())
}
