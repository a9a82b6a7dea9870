//! `train`'s hooks into the epoch loop: progress (bar or log lines), per-epoch evaluation,
//! metrics, the loss plot's points and epoch ends, checkpoints (also the one a signal asks for),
//! and stdout that may fail.

use std::path::PathBuf;

use super::signals;
use super::train::checkpoint_path;
use crate::error::Result;
use crate::input::vocab::Vocab;
use crate::output::checkpoint::{save_checkpoint, Checkpoint, SaveDtype};
use crate::output::metrics::{AnalogyMetrics, EpochMetrics, MetricsWriter, SimilarityMetrics};
use crate::output::plot::{LossCurve, PlotPoint};
use crate::output::vectors::Embeddings;
use crate::query::eval::{self, AnalogySection};
use crate::query::similarity::Index;
use crate::query::wordsim;
use crate::train::progress::{thousands, Progress, Verbosity};
use crate::train::{BatchProgress, EpochStats, Hooks, Snapshot, TrainConfig};

/// A similarity benchmark's scored word pairs.
pub(super) type WordPairs = Vec<(String, String, f64)>;

/// Progress bar, per-epoch evaluation, metrics, loss-plot points, checkpoints and stdout.
pub(super) struct RunHooks<'a> {
    pub progress: Progress,
    pub vocab: &'a Vocab,
    pub cfg: &'a TrainConfig,
    pub analogies: Option<Vec<AnalogySection>>,
    pub similarity: Vec<(String, WordPairs)>,
    pub metrics: Option<MetricsWriter>,
    pub curve: LossCurve,
    /// Words done at the last batch (an epoch's end, when the epoch's hook runs), and in all
    /// epochs of this run so far.
    pub last_words: f64,
    pub words_total: u64,
    pub checkpoint: Option<(PathBuf, SaveDtype)>,
    pub settings_json: String,
    /// The last checkpoint written.
    pub written: Option<PathBuf>,
    /// The first failure to print to stdout (closed pipe, full disk): printing stops there, and
    /// training and the files go on; the command reports it once they are safe.
    pub stdout_error: Option<std::io::Error>,
    /// The first failure to write `--metrics`: metrics stop there and training goes on (the
    /// vectors matter more); the command reports it once the vectors are safe.
    pub metrics_error: Option<crate::Error>,
}

impl RunHooks<'_> {
    /// Prints `line` with `-v` only.
    pub fn detail(&mut self, line: &str) {
        if self.progress.verbosity() == Verbosity::Verbose {
            self.say(line);
        }
    }

    /// Prints `line` to stdout (above the bar), unless printing already failed.
    pub fn say(&mut self, line: &str) {
        if self.stdout_error.is_none() {
            if let Err(e) = self.progress.println(line) {
                self.stdout_error = Some(e);
            }
        }
    }

    /// Writes the checkpoint of `snap` to the file `--checkpoint` names for `epoch`.
    fn save(&mut self, snap: &Snapshot, epoch: u64) -> Result<()> {
        let Some((path, dtype)) = &self.checkpoint else {
            return Ok(());
        };
        let ck = Checkpoint {
            words: self.vocab.words.clone(),
            counts: self.vocab.counts.clone(),
            dim: self.cfg.dim,
            w_in: snap.w_in.to_vec(),
            w_out: snap.w_out.to_vec(),
            adam: snap.adam.cloned(),
            adam_t: snap.adam_t,
            epoch: snap.epochs_done,
            next_token: snap.next_token,
            settings_json: self.settings_json.clone(),
            seed: self.cfg.seed,
        };
        let path = checkpoint_path(path, epoch);
        save_checkpoint(&path, &ck, *dtype)?;
        self.written = Some(path);
        Ok(())
    }
}

impl Hooks for RunHooks<'_> {
    fn on_batch(&mut self, p: &BatchProgress) {
        self.progress.update(p);
        self.last_words = p.words_done as f64;
        self.curve.points.push(PlotPoint {
            words: self.last_words,
            loss: p.loss,
            lr: p.lr,
        });
    }

    fn wants_snapshot(&self) -> bool {
        self.analogies.is_some() || !self.similarity.is_empty() || self.checkpoint.is_some()
    }

    fn on_epoch(&mut self, s: &EpochStats, snap: Option<&Snapshot>) -> Result<()> {
        self.curve.epoch_ends.push(self.last_words);
        self.words_total += s.words;
        let eval_started = std::time::Instant::now();
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
                    let r = eval::evaluate_analogies(&index, q, None);
                    line += &format!(", analogy {:.4}", r.accuracy());
                    let split = |g: &eval::SectionScore| {
                        if g.answered == 0 {
                            f64::NAN
                        } else {
                            g.accuracy()
                        }
                    };
                    analogy = Some(AnalogyMetrics {
                        total: r.accuracy(),
                        semantic: split(&r.semantic),
                        syntactic: split(&r.syntactic),
                        answered: r.total.answered,
                        skipped: r.total.skipped,
                    });
                }
                for (name, pairs) in &self.similarity {
                    let r = wordsim::evaluate_similarity(&index, name, pairs);
                    line += &format!(", {name} spearman {:.4}", r.spearman);
                    similarity.push(SimilarityMetrics {
                        name: name.clone(),
                        spearman: r.spearman,
                        pearson: r.pearson,
                        pairs: r.used,
                        skipped: r.skipped,
                    });
                }
            }
            self.save(snap, snap.epochs_done)?;
        }
        if self.progress.verbosity() == Verbosity::Verbose {
            line += &format!(
                "; trained in {:.2} s, evaluated and saved in {:.2} s, {:.1} s elapsed",
                s.seconds,
                eval_started.elapsed().as_secs_f64(),
                self.progress.elapsed()
            );
        }
        self.say(&line);
        if let Some(m) = &mut self.metrics {
            let written = m.write(&EpochMetrics {
                epoch: s.epoch,
                words: s.words,
                words_total: self.words_total,
                seconds: s.seconds,
                elapsed: self.progress.elapsed(),
                loss: s.loss,
                words_per_sec: s.words_per_sec,
                lr: s.lr,
                analogy,
                similarity,
            });
            if let Err(e) = written {
                self.metrics = None;
                self.metrics_error = Some(e);
            }
        }
        Ok(())
    }

    fn stop_requested(&self) -> bool {
        signals::received().is_some()
    }

    /// A stop between batches of epoch `epochs_done + 1`: its checkpoint is that epoch's file
    /// (overwritten when a resumed run finishes the epoch), recording where training continues.
    fn on_stop(&mut self, snap: &Snapshot) -> Result<()> {
        self.save(snap, snap.epochs_done + 1)
    }
}
