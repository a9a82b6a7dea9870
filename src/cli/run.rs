//! `train` and `bench`: read the corpus, pick the device, train, then report and save.

use std::path::{Path, PathBuf};

use crate::backend::cpu::CpuBackend;
use crate::backend::Backend;
use crate::cli::{BenchArgs, Device, RunConfig, TrainArgs};
use crate::error::{Error, Result};
use crate::input::corpus::{self, Encoded, ReadOptions, Source};
use crate::input::synthetic;
use crate::input::vocab::Vocab;
use crate::output::checkpoint::{load_checkpoint, save_checkpoint, Checkpoint, SaveDtype};
use crate::output::fsutil;
use crate::output::metrics::{EpochMetrics, MetricsWriter};
use crate::output::plot::write_loss_plot;
use crate::output::vectors::{write_vectors, Embeddings};
use crate::query::eval::{self, AnalogySection};
use crate::query::similarity::Index;
use crate::train::progress::{self, thousands, Progress};
use crate::train::{
    self, BatchProgress, EpochStats, Hooks, NoHooks, Resume, Snapshot, TrainConfig, Trained,
};

/// What a checkpoint records besides the tensors, so `--resume` can rebuild the same run.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedSettings {
    train: TrainConfig,
    read: ReadOptions,
    corpus: Option<PathBuf>,
    min_count: u64,
    max_vocab: Option<usize>,
}

/// The backend a run trains on: the CPU, a GPU, or the emulated device.
enum Chosen {
    Cpu(CpuBackend),
    #[cfg(feature = "cuda")]
    Cuda(Box<crate::backend::cuda::CudaBackend<crate::backend::cuda::CudaDriver>>),
    #[cfg(feature = "emulator")]
    Emulated(Box<crate::backend::cuda::CudaBackend<crate::backend::cuda::EmulatedDevice>>),
}

/// Runs `$body` with `$b` bound to the chosen backend, whatever its type.
macro_rules! with_backend {
    ($chosen:expr, |$b:ident| $body:expr) => {
        match $chosen {
            Chosen::Cpu(ref $b) => $body,
            #[cfg(feature = "cuda")]
            Chosen::Cuda(ref $b) => {
                let $b = &**$b;
                $body
            }
            #[cfg(feature = "emulator")]
            Chosen::Emulated(ref $b) => {
                let $b = &**$b;
                $body
            }
        }
    };
}

/// Opens the device a run asked for; the note says how `auto` chose (empty otherwise).
#[cfg_attr(
    not(any(feature = "cuda", feature = "emulator")),
    allow(clippy::only_used_in_recursion)
)]
fn choose_backend(device: Device, threads: usize, chunk: usize) -> Result<(Chosen, String)> {
    match device {
        Device::Cpu => Ok((Chosen::Cpu(CpuBackend::new(threads)), String::new())),
        Device::Auto => {
            // Opening cuda:0 is the probe: a driver, a GPU, and kernels that load.
            let gpu = if cfg!(feature = "cuda") {
                choose_backend(Device::Cuda(0), threads, chunk).map_err(|e| e.to_string())
            } else {
                Err("this binary was built without the `cuda` feature".to_string())
            };
            match gpu {
                Ok((b, _)) => Ok((b, " (auto: a working GPU was found)".into())),
                Err(why) => {
                    // The reason without the flag or the advice: "use --device cpu" is what auto
                    // just did.
                    let why = why.strip_prefix("--device cuda:0: ").unwrap_or(&why);
                    let why = why.split("; ").next().unwrap_or(why);
                    Ok((
                        Chosen::Cpu(CpuBackend::new(threads)),
                        format!(" (auto: no usable GPU: {why})"),
                    ))
                }
            }
        }
        #[cfg(feature = "cuda")]
        Device::Cuda(n) => {
            let b = crate::backend::cuda::open_device(&format!("cuda:{n}"), chunk).map_err(
                |e| match e {
                    Error::Device(msg) => Error::Device(format!("--device cuda:{n}: {msg}")),
                    other => other,
                },
            )?;
            Ok((Chosen::Cuda(Box::new(b)), String::new()))
        }
        #[cfg(not(feature = "cuda"))]
        Device::Cuda(n) => Err(Error::Device(format!(
            "device 'cuda:{n}' is not available: this binary was built without the `cuda` feature; \
             rebuild with `cargo build --release --features cuda` or use --device cpu"
        ))),
        #[cfg(feature = "emulator")]
        Device::Emulator => Ok((
            Chosen::Emulated(Box::new(crate::backend::cuda::open_emulated(chunk)?)),
            String::new(),
        )),
        #[cfg(not(feature = "emulator"))]
        Device::Emulator => Err(Error::Device(
            "device 'emulator' is not available: this binary was built without the `emulator` \
             feature; rebuild with `cargo build --release --features emulator` or use --device cpu"
                .into(),
        )),
    }
}

/// An encoded corpus with its vocabulary; the built-in one brings its analogy questions.
struct Data {
    name: String,
    vocab: Vocab,
    enc: Encoded,
    questions: Option<Vec<AnalogySection>>,
}

fn load_data(cfg: &RunConfig, vocab: Option<Vocab>) -> Result<Data> {
    let (src, questions) = match &cfg.corpus {
        Some(p) => (Source::File(p.clone()), None),
        None => {
            let s = synthetic::generate(cfg.train.seed, synthetic::DEFAULT_SENTENCES_PER_WORD);
            let name = format!("built-in synthetic corpus (seed {})", cfg.train.seed);
            (Source::Text { name, text: s.text }, Some(s.sections))
        }
    };
    let (vocab, enc) = match vocab {
        Some(v) => {
            let enc = corpus::encode(&src, cfg.read, &v)?;
            (v, enc)
        }
        None => corpus::load(&src, cfg.read, cfg.min_count, cfg.max_vocab)?,
    };
    Ok(Data {
        name: src.name(),
        vocab,
        enc,
        questions,
    })
}

fn settings_line(cfg: &TrainConfig) -> String {
    format!(
        "{:?} dim {} window {}{} negative {} ({:?}) power {} sample {} epochs {} lr {} {:?} init {:?} step {:?} storage {:?} seed {}",
        cfg.model,
        cfg.dim,
        cfg.window,
        if cfg.fixed_window { " fixed" } else { "" },
        cfg.negative,
        cfg.negatives,
        cfg.power,
        cfg.sample,
        cfg.epochs,
        cfg.lr,
        cfg.optimizer,
        cfg.init,
        cfg.step,
        cfg.storage,
        cfg.seed
    )
    .to_lowercase()
}

/// A file's stem, to name its scores.
fn stem(p: &Path) -> String {
    p.file_stem().map_or_else(
        || p.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

pub(super) fn train(a: &TrainArgs) -> Result<()> {
    let mut cfg = RunConfig::from_args(&a.corpus, &a.model)?;
    let checkpoint_probe = a.checkpoint.as_deref().map(|p| checkpoint_path(p, 0));
    let outputs = [&a.output, &a.metrics, &a.plot, &checkpoint_probe];
    for p in outputs.into_iter().flatten() {
        fsutil::check_writable(p)?;
    }
    let analogies = a
        .eval_analogies
        .as_deref()
        .map(eval::read_analogies)
        .transpose()?;
    let similarity = a
        .eval_similarity
        .iter()
        .map(|p| Ok((stem(p), eval::read_similarity(p)?)))
        .collect::<Result<Vec<_>>>()?;
    let resume = a.resume.as_deref().map(load_checkpoint).transpose()?;
    let mut vocab = None;
    if let (Some(ck), Some(path)) = (&resume, &a.resume) {
        let saved: SavedSettings = serde_json::from_str(&ck.settings_json).map_err(|e| {
            Error::format(
                path,
                format!("checkpoint settings are not readable ({e}); train afresh"),
            )
        })?;
        if ck.epoch >= saved.train.epochs as u64 {
            return Err(Error::Input(format!(
                "checkpoint '{}' already finished all {} epochs; nothing to resume",
                path.display(),
                saved.train.epochs
            )));
        }
        cfg.train = saved.train;
        cfg.read = saved.read;
        cfg.corpus = cfg.corpus.or(saved.corpus);
        cfg.min_count = saved.min_count;
        cfg.max_vocab = saved.max_vocab;
        vocab = Some(Vocab::from_parts(ck.words.clone(), ck.counts.clone()));
    }
    let (chosen, note) = choose_backend(cfg.device, cfg.threads, cfg.device_chunk)?;
    let data = load_data(&cfg, vocab)?;
    println!("device: {}{note}", with_backend!(chosen, |b| b.name()));
    println!(
        "corpus: {}: {} words, {} in vocabulary ({} distinct kept, min-count {})",
        data.name,
        thousands(data.enc.raw_words),
        thousands(data.enc.words()),
        thousands(data.vocab.len() as u64),
        cfg.min_count
    );
    println!("settings: {}", settings_line(&cfg.train));
    let resume = match (resume, &a.resume) {
        (Some(ck), Some(path)) => {
            println!(
                "resuming from '{}' after epoch {} of {}",
                path.display(),
                ck.epoch,
                cfg.train.epochs
            );
            Some(Resume {
                w_in: ck.w_in,
                w_out: ck.w_out,
                adam: ck.adam,
                adam_t: ck.adam_t,
                epoch: ck.epoch,
                next_token: ck.next_token,
            })
        }
        _ => None,
    };
    let settings_json = serde_json::to_string(&SavedSettings {
        train: cfg.train.clone(),
        read: cfg.read,
        corpus: cfg.corpus.clone(),
        min_count: cfg.min_count,
        max_vocab: cfg.max_vocab,
    })
    .map_err(|e| Error::Input(format!("cannot record the settings: {e}")))?;
    let mut hooks = RunHooks {
        progress: Progress::new(data.enc.raw_words * cfg.train.epochs as u64),
        vocab: &data.vocab,
        cfg: &cfg.train,
        analogies,
        similarity,
        metrics: a
            .metrics
            .as_deref()
            .map(MetricsWriter::create)
            .transpose()?,
        plot_points: Vec::new(),
        checkpoint: a.checkpoint.as_ref().map(|p| (p.clone(), a.save_dtype)),
        settings_json,
    };
    let trained = with_backend!(chosen, |b| train::train(
        b,
        &data.enc,
        &data.vocab,
        &cfg.train,
        resume,
        &mut hooks
    ));
    hooks.progress.finish();
    let trained = trained?;
    println!("{}", progress::summary(&trained));
    if let Some(p) = &a.plot {
        let title = format!("{:?} loss, {}", cfg.train.model, data.name).to_lowercase();
        write_loss_plot(p, &hooks.plot_points, &title)?;
        println!("loss plot written to '{}'", p.display());
    }
    let emb = Embeddings::new(
        data.vocab.words.clone(),
        cfg.train.dim,
        trained.w_in.clone(),
    );
    match &a.output {
        Some(p) => {
            write_vectors(p, &emb, a.output_format)?;
            println!(
                "vectors written to '{}' ({} words, dim {})",
                p.display(),
                emb.len(),
                emb.dim
            );
        }
        None => println!("vectors not saved (no --output FILE given)"),
    }
    if let Some(questions) = &data.questions {
        report_builtin(&emb, questions)?;
    }
    Ok(())
}

/// The built-in run's report: neighbours of the probe words and the planted-analogy accuracy.
fn report_builtin(emb: &Embeddings, questions: &[AnalogySection]) -> Result<()> {
    let index = Index::new(emb);
    println!("nearest neighbours:");
    for probe in synthetic::PROBES {
        let near = index.most_similar(probe, 5)?;
        let list: Vec<String> = near
            .iter()
            .map(|n| format!("{} {:.3}", n.word, n.similarity))
            .collect();
        println!("  {probe:<8} {}", list.join(", "));
    }
    let report = eval::evaluate_analogies(&index, questions, None);
    println!("planted analogies:\n{report}");
    println!("planted-analogy accuracy: {:.3}", report.accuracy());
    Ok(())
}

/// A similarity benchmark's scored word pairs.
type WordPairs = Vec<(String, String, f64)>;

/// Progress bar, per-epoch evaluation, metrics, loss-plot points and checkpoints.
struct RunHooks<'a> {
    progress: Progress,
    vocab: &'a Vocab,
    cfg: &'a TrainConfig,
    analogies: Option<Vec<AnalogySection>>,
    similarity: Vec<(String, WordPairs)>,
    metrics: Option<MetricsWriter>,
    plot_points: Vec<(f64, f64)>,
    checkpoint: Option<(PathBuf, SaveDtype)>,
    settings_json: String,
}

impl Hooks for RunHooks<'_> {
    fn on_batch(&mut self, p: &BatchProgress) {
        self.progress.update(p);
        self.plot_points.push((p.words_done as f64, p.loss));
    }

    fn wants_snapshot(&self) -> bool {
        self.analogies.is_some() || !self.similarity.is_empty() || self.checkpoint.is_some()
    }

    fn on_epoch(&mut self, s: &EpochStats, snap: Option<&Snapshot>) -> Result<()> {
        let mut line = format!(
            "epoch {}/{}: loss {:.4}, {} words/s, lr {:.6}",
            s.epoch,
            self.cfg.epochs,
            s.loss,
            thousands(s.words_per_sec.round() as u64),
            s.lr
        );
        let mut analogy = None;
        let mut similarity = Vec::new();
        if let Some(snap) = snap {
            if self.analogies.is_some() || !self.similarity.is_empty() {
                let emb =
                    Embeddings::new(self.vocab.words.clone(), self.cfg.dim, snap.w_in.to_vec());
                let index = Index::new(&emb);
                if let Some(q) = &self.analogies {
                    let acc = eval::evaluate_analogies(&index, q, None).accuracy();
                    line += &format!(", analogy {acc:.4}");
                    analogy = Some(acc);
                }
                for (name, pairs) in &self.similarity {
                    let r = eval::evaluate_similarity(&index, name, pairs);
                    line += &format!(", {name} spearman {:.4}", r.spearman);
                    similarity.push((name.clone(), r.spearman));
                }
            }
            if let Some((path, dtype)) = &self.checkpoint {
                let ck = Checkpoint {
                    words: self.vocab.words.clone(),
                    counts: self.vocab.counts.clone(),
                    dim: self.cfg.dim,
                    w_in: snap.w_in.to_vec(),
                    w_out: snap.w_out.to_vec(),
                    adam: snap.adam.cloned(),
                    adam_t: snap.adam_t,
                    epoch: snap.epochs_done,
                    next_token: 0,
                    settings_json: self.settings_json.clone(),
                    seed: self.cfg.seed,
                };
                save_checkpoint(&checkpoint_path(path, snap.epochs_done), &ck, *dtype)?;
            }
        }
        self.progress.println(&line);
        if let Some(m) = &mut self.metrics {
            m.write(&EpochMetrics {
                epoch: s.epoch,
                words: s.words,
                loss: s.loss,
                words_per_sec: s.words_per_sec,
                lr: s.lr,
                analogy,
                similarity,
            })?;
        }
        Ok(())
    }
}

/// The checkpoint file of an epoch: `{epoch}` in the name becomes the epoch number (one file per
/// epoch); without it every epoch overwrites the same file.
fn checkpoint_path(path: &Path, epoch: u64) -> PathBuf {
    let s = path.to_string_lossy();
    if s.contains("{epoch}") {
        PathBuf::from(s.replace("{epoch}", &epoch.to_string()))
    } else {
        path.to_path_buf()
    }
}

/// Peak resident memory of this process in bytes (`VmHWM`, Linux only).
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Starts a new peak-memory window (`VmHWM` back to the current size; Linux only, best effort).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// One device's benchmark figures.
struct BenchRow {
    device: String,
    trained: Trained,
    peak: Option<u64>,
}

/// The backends `bench --device` names: a comma-separated list; `auto` means the GPU when one
/// works, then the CPU, so both rows come from the same command. Each is opened once, here.
fn bench_backends(spec: &str, threads: usize, chunk: usize) -> Result<Vec<(Chosen, String)>> {
    let mut devices = spec
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::parse::<Device>)
        .collect::<Result<Vec<_>>>()?;
    devices.dedup();
    if devices.is_empty() {
        return Err(Error::Config(format!(
            "no device in --device '{spec}'; use e.g. --device cuda:0,cpu"
        )));
    }
    let mut out = Vec::new();
    for device in devices {
        let (chosen, note) = choose_backend(device, threads, chunk)?;
        let auto_found_gpu = device == Device::Auto && !matches!(chosen, Chosen::Cpu(_));
        out.push((chosen, note));
        if auto_found_gpu {
            out.push((Chosen::Cpu(CpuBackend::new(threads)), String::new()));
        }
    }
    Ok(out)
}

pub(super) fn bench(a: &BenchArgs) -> Result<()> {
    let mut model = a.model.clone();
    model.device = "cpu".into();
    let cfg = RunConfig::from_args(&a.corpus, &model)?;
    let backends = bench_backends(&a.model.device, cfg.threads, cfg.device_chunk)?;
    let data = load_data(&cfg, None)?;
    let mut rows = Vec::new();
    for (chosen, note) in backends {
        let name = with_backend!(chosen, |b| b.name());
        if !a.json {
            eprintln!("benchmarking on {name}{note}...");
        }
        reset_peak_memory();
        let trained = with_backend!(chosen, |b| train::train(
            b,
            &data.enc,
            &data.vocab,
            &cfg.train,
            None,
            &mut NoHooks
        ))?;
        rows.push(BenchRow {
            device: format!("{name}{note}"),
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
