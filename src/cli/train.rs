//! `train`: read the corpus, train on the chosen device, evaluate and checkpoint each epoch, then
//! report and save.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::device::{self, with_backend};
use super::{resume, FlagContext};
use crate::cli::{CacheArgs, TrainArgs};
use crate::error::Result;
use crate::input::corpus::{self, Source};
use crate::input::synthetic;
use crate::input::vocab::Vocab;
use crate::output::checkpoint::{save_checkpoint, Checkpoint, SaveDtype};
use crate::output::fsutil;
use crate::output::metrics::{EpochMetrics, MetricsWriter};
use crate::output::plot::write_loss_plot;
use crate::output::vectors::{write_vectors, Embeddings};
use crate::query::eval::{self, AnalogySection};
use crate::query::similarity::Index;
use crate::query::wordsim;
use crate::train::progress::{self, thousands, Progress};
use crate::train::session::{Corpus, CorpusIds};
use crate::train::{self, BatchProgress, EpochStats, Hooks, RunConfig, Snapshot, TrainConfig};

/// An encoded corpus with its vocabulary; the built-in one brings its analogy questions.
pub(super) struct Data {
    pub name: String,
    pub vocab: Vocab,
    pub enc: Corpus,
    pub questions: Option<Vec<AnalogySection>>,
}

/// Reads the corpus `cfg` names (the built-in one without a path; a file through the cache that
/// `cache` configures), encoded with `vocab` when resuming, else with the vocabulary it builds.
pub(super) fn load_data(
    cfg: &RunConfig,
    vocab: Option<Vocab>,
    cache: &CacheArgs,
) -> anyhow::Result<Data> {
    let c = &cfg.corpus;
    if let Some(p) = &c.path {
        let l = super::encode::load_file(p, c, vocab, cache)?;
        return Ok(Data {
            name: l.name,
            vocab: l.vocab,
            enc: l.corpus,
            questions: None,
        });
    }
    let s = synthetic::generate(cfg.train.seed, synthetic::DEFAULT_SENTENCES_PER_WORD);
    let name = format!("built-in synthetic corpus (seed {})", cfg.train.seed);
    let src = Source::Text { name, text: s.text };
    let (vocab, enc) = match vocab {
        Some(v) => {
            let enc = corpus::encode(&src, c.read, &v)?;
            (v, enc)
        }
        None => corpus::load(&src, c.read, c.min_count, c.max_vocab)?,
    };
    Ok(Data {
        name: src.name(),
        vocab,
        enc: Corpus::Memory(enc),
        questions: Some(s.sections),
    })
}

pub(super) fn settings_line(cfg: &TrainConfig) -> String {
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

pub(super) fn train(a: &TrainArgs) -> anyhow::Result<()> {
    let cfg = a.model.config(&a.corpus, a.device);
    let checkpoint_probe = a.checkpoint.as_deref().map(|p| checkpoint_path(p, 0));
    let outputs = [
        (&a.output, "--output"),
        (&a.metrics, "--metrics"),
        (&a.plot, "--plot"),
        (&checkpoint_probe, "--checkpoint"),
    ];
    for (path, flag) in outputs {
        if let Some(p) = path {
            fsutil::check_writable(p).flag(flag)?;
        }
    }
    let analogies = a
        .eval_analogies
        .as_deref()
        .map(eval::read_analogies)
        .transpose()
        .flag("--eval-analogies")?;
    let similarity = a
        .eval_similarity
        .iter()
        .map(|p| Ok((stem(p), wordsim::read_similarity(p)?)))
        .collect::<Result<Vec<_>>>()
        .flag("--eval-similarity")?;
    // With --resume the checkpoint's settings replace the flags' (and are validated there).
    let resumed = a
        .resume
        .as_deref()
        .map(|p| resume::load(p, &cfg))
        .transpose()?;
    let (cfg, vocab, checkpoint) = match resumed {
        Some(r) => (r.cfg, Some(r.vocab), Some(r.checkpoint)),
        None => {
            cfg.validate()?;
            (cfg, None, None)
        }
    };
    let opened = device::open(cfg.device, &cfg)?;
    let data = match (&a.resume, &a.corpus.corpus) {
        (Some(ck), None) => load_data(&cfg, vocab, &a.cache)
            .with_context(|| format!("the corpus recorded in checkpoint '{}'", ck.display()))?,
        _ => load_data(&cfg, vocab, &a.cache)?,
    };
    println!("device: {}", opened.label());
    println!(
        "corpus: {}: {} words, {} in vocabulary ({} distinct kept, min-count {})",
        data.name,
        thousands(data.enc.raw_words()),
        thousands(data.enc.words()),
        thousands(data.vocab.len() as u64),
        cfg.corpus.min_count
    );
    println!("settings: {}", settings_line(&cfg.train));
    let resume = match (checkpoint, &a.resume) {
        (Some(ck), Some(path)) => {
            println!(
                "resuming from '{}' after epoch {} of {}",
                path.display(),
                ck.epoch,
                cfg.train.epochs
            );
            Some(resume::start(ck))
        }
        _ => None,
    };
    let settings_json = cfg.checkpoint_json()?;
    let mut hooks = RunHooks {
        progress: Progress::new(data.enc.raw_words() * cfg.train.epochs as u64),
        vocab: &data.vocab,
        cfg: &cfg.train,
        analogies,
        similarity,
        metrics: a
            .metrics
            .as_deref()
            .map(MetricsWriter::create)
            .transpose()
            .flag("--metrics")?,
        plot_points: Vec::new(),
        checkpoint: a.checkpoint.as_ref().map(|p| (p.clone(), a.save_dtype)),
        settings_json,
    };
    let trained = with_backend!(opened.backend, |b| train::train(
        b,
        &data.enc,
        &data.vocab,
        &cfg.train,
        opened.step,
        resume,
        &mut hooks
    ));
    hooks.progress.finish();
    let trained = trained?;
    println!("{}", progress::summary(&trained));
    if let Some(p) = &a.plot {
        let title = format!("{:?} loss, {}", cfg.train.model, data.name).to_lowercase();
        write_loss_plot(p, &hooks.plot_points, &title).flag("--plot")?;
        println!("loss plot written to '{}'", p.display());
    }
    let emb = Embeddings::new(data.vocab.words.clone(), cfg.train.dim, trained.w_in);
    match &a.output {
        Some(p) => {
            write_vectors(p, &emb, a.output_format).flag("--output")?;
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
                    let r = wordsim::evaluate_similarity(&index, name, pairs);
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
