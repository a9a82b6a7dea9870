//! The epoch loop: the training session's batches to the chosen step, and per-epoch hooks.
//!
//! The session ([`crate::train::session`]) cuts the corpus into batches of whole spans
//! (`plan::SPAN_LEN`), about the backend's preferred size, starting at multiples of that size so
//! every batch start is span-aligned, and gives each its chunk and word count. The schedule is a
//! pure function of a token's global position `g = epoch · corpus_len + index`:
//! SGD decays linearly from `lr` at `g = 0` to `lr · 1e-4` at the end of the last epoch (word2vec.c);
//! each batch gets the schedule's values at its two ends as its ramp. Adam keeps `lr` constant.
//! Because nothing depends on wall time or thread timing, resuming at an epoch boundary with one
//! thread replays the uninterrupted run exactly.

use std::time::Instant;

use crate::backend::{composed, AdamMoments, Backend, State, Step, StepStats};
use crate::dist::{Dist, SyncTotals};
use crate::error::{Error, Result};
use crate::input::vocab::Vocab;
use crate::train::model::init_weights;
use crate::train::plan::SPAN_LEN;
pub use crate::train::ranks::RankFigures;
use crate::train::ranks::Ranks;
use crate::train::sampler::{keep_thresholds, AliasTable};
use crate::train::session::{CorpusIds, Part, Session};
use crate::train::TrainConfig;

/// What one epoch did.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochStats {
    /// 1-based epoch number.
    pub epoch: u32,
    /// Mean binary cross-entropy per example over the epoch.
    pub loss: f64,
    /// Raw corpus words covered (word2vec.c's count, out-of-vocabulary words included).
    pub words: u64,
    /// Training time of the epoch (hooks excluded).
    pub seconds: f64,
    pub words_per_sec: f64,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
}

/// Progress after a batch, for progress bars.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchProgress {
    /// Raw words trained so far in this run, and the run's total.
    pub words_done: u64,
    pub words_total: u64,
    /// Mean loss of the last batch.
    pub loss: f64,
    pub lr: f64,
    pub epoch: u32,
}

/// The complete trainable state at an epoch boundary (for checkpoints and evaluation).
pub struct Snapshot<'a> {
    pub w_in: &'a [f32],
    pub w_out: &'a [f32],
    pub adam: Option<&'a [Vec<f32>; 4]>,
    pub adam_t: u64,
    /// Epochs completed so far (the next epoch to train, 0-based).
    pub epochs_done: u64,
    /// Where training continues in that epoch: 0 at an epoch's end, else the span-aligned
    /// corpus offset where a run stopped between batches.
    pub next_token: u64,
}

/// Where a resumed run starts: parameters, optimiser state and position.
pub struct Resume {
    pub w_in: Vec<f32>,
    pub w_out: Vec<f32>,
    pub adam: Option<[Vec<f32>; 4]>,
    pub adam_t: u64,
    /// 0-based epoch to continue, and the corpus offset in it (span-aligned).
    pub epoch: u64,
    pub next_token: u64,
    /// `W_in` rows kept fixed ([`crate::backend::state::Tables::frozen_in`]).
    pub frozen_in: Option<Vec<bool>>,
}

/// Callbacks between batches and after epochs; every method has a do-nothing default.
pub trait Hooks {
    fn on_batch(&mut self, _progress: &BatchProgress) {}
    /// Whether [`Hooks::on_epoch`] needs the parameters (they are downloaded from the device).
    fn wants_snapshot(&self) -> bool {
        false
    }
    fn on_epoch(&mut self, _stats: &EpochStats, _snapshot: Option<&Snapshot>) -> Result<()> {
        Ok(())
    }
    /// Whether to stop after the batch that just finished (a signal arrived); asked between
    /// batches and after each epoch.
    fn stop_requested(&self) -> bool {
        false
    }
    /// The state where a requested stop left it (to checkpoint it), before [`train`] returns
    /// [`Error::Stopped`].
    fn on_stop(&mut self, _snapshot: &Snapshot) -> Result<()> {
        Ok(())
    }
}

/// Hooks that do nothing.
pub struct NoHooks;
impl Hooks for NoHooks {}

/// The result of a run.
pub struct Trained {
    pub w_in: Vec<f32>,
    pub w_out: Vec<f32>,
    pub epochs: Vec<EpochStats>,
    /// Raw words trained in this run (all epochs).
    pub words: u64,
    /// Wall time of the whole loop, hooks included.
    pub seconds: f64,
    /// With several ranks: each rank's figures, and this rank's synchronisations.
    pub ranks: Vec<RankFigures>,
    pub sync: SyncTotals,
}

impl Trained {
    pub fn final_loss(&self) -> f64 {
        self.epochs.last().map_or(f64::NAN, |e| e.loss)
    }

    pub fn words_per_sec(&self) -> f64 {
        self.words as f64 / self.seconds.max(1e-9)
    }
}

/// Corpus tokens per batch for a corpus of `n` tokens on `backend` ([`crate::train::session::batch_tokens`]).
pub fn batch_tokens<B: Backend>(backend: &B, n: usize) -> usize {
    crate::train::session::batch_tokens(backend.preferred_batch_tokens(), n)
}

/// The one line for a run whose loss or weights became `what` (NaN or infinite) in `epoch`
/// (1-based).
fn diverged(epoch: u64, lr: f32, what: &str, lr_setting: f64) -> Error {
    Error::Diverged(format!(
        "training diverged in epoch {epoch} at learning rate {lr:e}: {what}; no vectors were \
         written and earlier checkpoints are kept; lower --lr (e.g. --lr {:.1e})",
        lr_setting / 10.0
    ))
}

/// Refuses weights that hold a NaN or an infinity (one pass over them: cheap next to an epoch),
/// so that no checkpoint or vectors file is ever written from them.
fn check_weights(w_in: &[f32], w_out: &[f32], epoch: u64, lr: f32, lr_setting: f64) -> Result<()> {
    for (name, w) in [("W_in", w_in), ("W_out", w_out)] {
        if let Some(v) = w.iter().find(|v| !v.is_finite()) {
            return Err(diverged(
                epoch,
                lr,
                &format!("a weight of {name} became {v}"),
                lr_setting,
            ));
        }
    }
    Ok(())
}

/// Downloads the weights (and Adam's moments), refuses them if one is not finite, and hands
/// them to `f` as the snapshot at `at` = (epochs done, next token); `lr` is the learning rate
/// there, for the divergence line.
fn with_snapshot<B: Backend>(
    backend: &B,
    state: &State<B>,
    at: (u64, u64),
    lr: f32,
    lr_setting: f64,
    f: impl FnOnce(&Snapshot) -> Result<()>,
) -> Result<()> {
    let (w_in, w_out) = state.model.download(backend)?;
    // The epoch in progress (1-based) is the one a divergence is reported in.
    let epoch = if at.1 > 0 { at.0 + 1 } else { at.0 };
    check_weights(&w_in, &w_out, epoch, lr, lr_setting)?;
    let adam = state
        .adam
        .as_ref()
        .map(|m| m.download(backend))
        .transpose()?;
    f(&Snapshot {
        w_in: &w_in,
        w_out: &w_out,
        adam: adam.as_ref(),
        adam_t: state.adam.as_ref().map_or(0, |m| m.t),
        epochs_done: at.0,
        next_token: at.1,
    })
}

/// Trains `cfg.epochs` epochs over `corpus` (from `resume`'s position, or from a fresh
/// initialisation) with the step [`crate::backend::choose_step`] chose for `cfg` on `backend`.
pub fn train<B: Backend>(
    backend: &B,
    corpus: &dyn CorpusIds,
    vocab: &Vocab,
    cfg: &TrainConfig,
    step: Step,
    resume: Option<Resume>,
    hooks: &mut dyn Hooks,
) -> Result<Trained> {
    let one = Dist::single();
    train_ranks(backend, corpus, vocab, cfg, step, resume, hooks, one)
}

/// [`train`] as one rank of `dist`: this rank trains its shard of each epoch
/// ([`crate::dist::shard`]) and averages its replica with the others' every round; the hooks
/// see the whole job's progress, loss and (identical) weights. With one process, [`train`].
#[allow(clippy::too_many_arguments)]
pub fn train_ranks<B: Backend>(
    backend: &B,
    corpus: &dyn CorpusIds,
    vocab: &Vocab,
    cfg: &TrainConfig,
    step: Step,
    mut resume: Option<Resume>,
    hooks: &mut dyn Hooks,
    dist: Dist,
) -> Result<Trained> {
    debug_assert_eq!(
        crate::backend::choose_step(&backend.name(), &backend.capabilities(), cfg).ok(),
        Some(step),
        "train() runs the step choose_step decided"
    );
    cfg.check_vocabulary(vocab.len())?;
    let started = Instant::now();
    let mut session = Session::new(corpus, cfg, backend.preferred_batch_tokens())?;
    let n = session.len();
    let alias = AliasTable::unigram(&vocab.counts, cfg.power);
    let keep = keep_thresholds(&vocab.counts, cfg.sample);
    let frozen_in = resume.as_mut().and_then(|r| r.frozen_in.take());
    let (w_in, w_out, adam, adam_t, first_epoch, first_token) = match resume {
        Some(r) => (
            r.w_in,
            r.w_out,
            r.adam,
            r.adam_t,
            r.epoch,
            r.next_token as usize,
        ),
        None => {
            let (w_in, w_out) = init_weights(vocab.len(), cfg.dim, cfg.init, cfg.seed);
            (w_in, w_out, None, 0, 0, 0)
        }
    };
    if first_token % SPAN_LEN != 0 || first_token > n {
        return Err(Error::Input(format!(
            "cannot resume at token {first_token}: it is not a span boundary of this {n}-token corpus; resume from a checkpoint of the same corpus"
        )));
    }
    let mut state = State::with_storage(
        backend,
        cfg.dim,
        &w_in,
        &w_out,
        alias,
        keep,
        cfg.optimizer,
        cfg.storage,
    )?;
    let mut ranks = Ranks::new(dist, cfg, &w_in, &w_out)?;
    if ranks.is_some() {
        session.limit_batch_tokens(dist.sync_words.min(usize::MAX as u64) as usize);
    }
    drop((w_in, w_out));
    state.tables.frozen_in = frozen_in;
    if let (Some(moments), Some(host)) = (&mut state.adam, adam) {
        *moments = AdamMoments::upload(backend, &host, adam_t)?;
    }

    let step_cfg = cfg.step_config();
    let total_tokens = cfg.epochs as u64 * n as u64;
    // Raw words per in-vocabulary word, to report word2vec.c's words from the words a batch covers.
    let raw_per_word = session.raw_per_word();
    let epochs_left = (cfg.epochs as u64).saturating_sub(first_epoch);
    let words_total = (epochs_left as f64 * session.raw_words() as f64
        - first_token as f64 * raw_per_word) as u64;
    let mut words_done = 0u64;
    let mut epochs = Vec::new();
    for epoch in first_epoch..cfg.epochs as u64 {
        let t0 = Instant::now();
        let mut stats = StepStats::default();
        let mut epoch_words = 0u64;
        let start = if epoch == first_epoch { first_token } else { 0 };
        let mut lr_end = cfg.lr_at(epoch * n as u64 + start as u64, total_tokens);
        let part = match &mut ranks {
            Some(r) => r.start_epoch(start, n, session.batch_tokens())?,
            None => Part::whole(start, n),
        };
        let mut stop_agreed = false;
        session.epoch_part(epoch, part, |fed| {
            let (chunk, batch) = (&fed.chunk, &fed.batch);
            lr_end = batch.lr_end;
            let s = match step {
                Step::Fused => {
                    let State { model, tables, .. } = &mut state;
                    backend.train_batch(model, tables, chunk, batch, &step_cfg)?
                }
                Step::Composed => composed::train_batch(
                    backend,
                    &mut state,
                    chunk,
                    batch,
                    &step_cfg,
                    cfg.batch_size,
                )?,
            };
            // One NaN or infinite weight makes every later loss non-finite; stop before it
            // reaches a checkpoint, the vectors or the next epoch.
            if !s.loss_sum.is_finite() {
                let what = format!("the loss became {}", s.loss_sum);
                return Err(diverged(epoch + 1, batch.lr_begin, &what, cfg.lr));
            }
            // One process counts each batch; ranks count the job's words at each
            // synchronisation and, between two, guess the others trained as much as this one.
            let mut reported = words_done;
            match &mut ranks {
                None => {
                    stats.add(&s);
                    epoch_words += fed.words;
                    words_done += (fed.words as f64 * raw_per_word).round() as u64;
                    reported = words_done;
                }
                Some(r) => {
                    let stop = hooks.stop_requested();
                    if let Some(synced) =
                        r.after_batch(backend, &mut state.model, &s, fed.words, stop)?
                    {
                        stats.add(&synced.stats);
                        epoch_words += synced.words;
                        words_done += (synced.words as f64 * raw_per_word).round() as u64;
                        reported = words_done;
                        stop_agreed = synced.stop;
                        if stop_agreed && !r.epoch_done() {
                            return Err(Error::Stopped(format!(
                                "stopped in epoch {} at a synchronisation of the {} ranks (they \
                                 checkpoint at epochs' ends only)",
                                epoch + 1,
                                r.size()
                            )));
                        }
                    } else {
                        let guess = r.pending_words() as f64 * raw_per_word * r.size() as f64;
                        reported += guess.round() as u64;
                    }
                }
            }
            hooks.on_batch(&BatchProgress {
                words_done: reported.min(words_total),
                words_total,
                loss: s.mean_loss(),
                lr: lr_end as f64,
                epoch: epoch as u32 + 1,
            });
            let next = batch.start + batch.len;
            if ranks.is_none() && next < n && hooks.stop_requested() {
                let at = (epoch, next as u64);
                with_snapshot(backend, &state, at, lr_end, cfg.lr, |snap| {
                    hooks.on_stop(snap)
                })?;
                return Err(Error::Stopped(format!(
                    "stopped in epoch {} at token {next} of {n}",
                    epoch + 1
                )));
            }
            Ok(())
        })?;
        let seconds = t0.elapsed().as_secs_f64();
        let words = (epoch_words as f64 * raw_per_word).round() as u64;
        let es = EpochStats {
            epoch: epoch as u32 + 1,
            loss: stats.mean_loss(),
            words,
            seconds,
            words_per_sec: words as f64 / seconds.max(1e-9),
            lr: lr_end as f64,
        };
        if hooks.wants_snapshot() {
            with_snapshot(backend, &state, (epoch + 1, 0), lr_end, cfg.lr, |snap| {
                hooks.on_epoch(&es, Some(snap))
            })?;
        } else {
            hooks.on_epoch(&es, None)?;
        }
        epochs.push(es);
        // At an epoch's end the epoch's own checkpoint (if any) is the state to resume from.
        let stop = match &ranks {
            Some(_) => stop_agreed,
            None => hooks.stop_requested(),
        };
        if epoch + 1 < cfg.epochs as u64 && stop {
            return Err(Error::Stopped(format!("stopped after epoch {}", epoch + 1)));
        }
    }
    let (w_in, w_out) = state.model.download(backend)?;
    let last_lr = cfg.lr_at(total_tokens, total_tokens);
    check_weights(&w_in, &w_out, cfg.epochs as u64, last_lr, cfg.lr)?;
    let seconds = started.elapsed().as_secs_f64();
    let (figures, sync) = match &ranks {
        Some(r) => (r.figures(seconds, raw_per_word), r.totals),
        None => (Vec::new(), SyncTotals::default()),
    };
    Ok(Trained {
        w_in,
        w_out,
        words: epochs.iter().map(|e| e.words).sum(),
        epochs,
        seconds,
        ranks: figures,
        sync,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;
    use crate::backend::{choose_step, OptimizerKind};
    use crate::input::corpus::{self, Encoded, ReadOptions, Source};
    use crate::train::plan::ModelKind;
    use crate::train::StepKind;

    fn config(model: ModelKind, epochs: u32) -> TrainConfig {
        TrainConfig {
            model,
            dim: 32,
            epochs,
            batch_size: 100,
            ..TrainConfig::default()
        }
    }

    /// [`train`] with the step the backend's capabilities give `cfg`.
    fn run(
        backend: &CpuBackend,
        enc: &Encoded,
        vocab: &Vocab,
        cfg: &TrainConfig,
        resume: Option<Resume>,
        hooks: &mut dyn Hooks,
    ) -> Result<Trained> {
        let step = choose_step(&backend.name(), &backend.capabilities(), cfg)?;
        train(backend, enc, vocab, cfg, step, resume, hooks)
    }

    fn small_corpus() -> (Vocab, Encoded) {
        let syn = crate::input::synthetic::generate(3, 30);
        let src = Source::Text {
            name: "synthetic".into(),
            text: syn.text,
        };
        corpus::load(&src, ReadOptions::default(), 1, None).unwrap()
    }

    #[derive(Default)]
    struct Record {
        batches: Vec<BatchProgress>,
        epochs: Vec<EpochStats>,
    }
    impl Hooks for Record {
        fn on_batch(&mut self, p: &BatchProgress) {
            self.batches.push(*p);
        }
        fn on_epoch(&mut self, s: &EpochStats, _: Option<&Snapshot>) -> Result<()> {
            self.epochs.push(s.clone());
            Ok(())
        }
    }

    #[test]
    fn sgd_schedule_decays_linearly_to_one_ten_thousandth() {
        let cfg = config(ModelKind::Skipgram, 3);
        assert_eq!(cfg.lr_at(0, 1000), 0.05);
        assert!((cfg.lr_at(500, 1000) - 0.05 * (1.0 + 1e-4) / 2.0).abs() < 1e-8);
        assert!((cfg.lr_at(1000, 1000) - 0.05e-4).abs() < 1e-10);
        let adam = TrainConfig {
            optimizer: OptimizerKind::Adam,
            lr: 0.001,
            ..cfg
        };
        assert_eq!(adam.lr_at(700, 1000), 0.001);
    }

    #[test]
    fn loss_decreases_over_epochs_for_both_models_and_steps() {
        let (vocab, enc) = small_corpus();
        let backend = CpuBackend::new(1);
        for model in [ModelKind::Skipgram, ModelKind::Cbow] {
            for step in [StepKind::Fused, StepKind::Composed] {
                let cfg = TrainConfig {
                    step,
                    ..config(model, 4)
                };
                let mut rec = Record::default();
                let t = run(&backend, &enc, &vocab, &cfg, None, &mut rec).unwrap();
                let l: Vec<f64> = t.epochs.iter().map(|e| e.loss).collect();
                assert!(
                    l.windows(2).all(|w| w[1] < w[0]),
                    "{model:?} {step:?}: {l:?}"
                );
                assert!(l[3] < 0.9 * l[0], "{model:?} {step:?}: {l:?}");
                assert_eq!(t.words, 4 * enc.raw_words);
                assert_eq!(rec.epochs.len(), 4);
                let last = rec.batches.last().unwrap();
                assert_eq!(last.words_done, last.words_total);
                assert!(t.w_in.iter().all(|v| v.is_finite()));
            }
        }
    }

    #[test]
    fn resuming_at_an_epoch_boundary_replays_the_uninterrupted_run() {
        let (vocab, enc) = small_corpus();
        let backend = CpuBackend::new(1);
        for optimizer in [OptimizerKind::Sgd, OptimizerKind::Adam] {
            let cfg = TrainConfig {
                optimizer,
                ..config(ModelKind::Skipgram, 3)
            };
            let whole = run(&backend, &enc, &vocab, &cfg, None, &mut NoHooks).unwrap();

            struct Stop(Option<Resume>);
            impl Hooks for Stop {
                fn wants_snapshot(&self) -> bool {
                    self.0.is_none()
                }
                fn on_epoch(&mut self, _: &EpochStats, s: Option<&Snapshot>) -> Result<()> {
                    if let (None, Some(s)) = (&self.0, s) {
                        self.0 = Some(Resume {
                            w_in: s.w_in.to_vec(),
                            w_out: s.w_out.to_vec(),
                            adam: s.adam.cloned(),
                            adam_t: s.adam_t,
                            epoch: s.epochs_done,
                            next_token: 0,
                            frozen_in: None,
                        });
                    }
                    Ok(())
                }
            }
            // The state after epoch 1 of the same run is what a checkpoint would hold.
            let mut stop = Stop(None);
            run(&backend, &enc, &vocab, &cfg, None, &mut stop).unwrap();
            let resumed = run(&backend, &enc, &vocab, &cfg, stop.0, &mut NoHooks).unwrap();
            assert_eq!(resumed.w_in, whole.w_in, "{optimizer:?}");
            assert_eq!(resumed.w_out, whole.w_out, "{optimizer:?}");
            assert_eq!(resumed.epochs.len(), 2);
        }
    }

    /// A NaN weight the loss never sees (the row of a word absent from the corpus) still stops
    /// the run before any vectors exist; so does a snapshot for a checkpoint.
    #[test]
    fn a_nonfinite_weight_stops_training_with_one_line() {
        let (vocab, enc) = small_corpus();
        let mut words = vocab.words.clone();
        let mut counts = vocab.counts.clone();
        words.push("absent".into());
        counts.push(1);
        let vocab = Vocab::from_parts(words, counts);
        let cfg = config(ModelKind::Skipgram, 2);
        let (mut w_in, w_out) = init_weights(vocab.len(), cfg.dim, cfg.init, cfg.seed);
        let last = w_in.len() - 1;
        w_in[last] = f32::NAN;
        let resume = || Resume {
            w_in: w_in.clone(),
            w_out: w_out.clone(),
            adam: None,
            adam_t: 0,
            epoch: 0,
            next_token: 0,
            frozen_in: None,
        };
        let backend = CpuBackend::new(1);
        let e = run(&backend, &enc, &vocab, &cfg, Some(resume()), &mut NoHooks)
            .err()
            .expect("a NaN weight is refused")
            .to_string();
        assert!(
            e.contains("epoch 2") && e.contains("a weight of W_in became NaN"),
            "{e}"
        );
        assert!(e.contains("lower --lr") && !e.contains('\n'), "{e}");

        struct Checkpointing(u32);
        impl Hooks for Checkpointing {
            fn wants_snapshot(&self) -> bool {
                true
            }
            fn on_epoch(&mut self, _: &EpochStats, _: Option<&Snapshot>) -> Result<()> {
                self.0 += 1;
                Ok(())
            }
        }
        let mut hooks = Checkpointing(0);
        let e = run(&backend, &enc, &vocab, &cfg, Some(resume()), &mut hooks)
            .err()
            .expect("a NaN weight is refused")
            .to_string();
        assert!(e.contains("epoch 1"), "{e}");
        assert_eq!(hooks.0, 0, "no snapshot reaches the hooks");
    }

    /// A stop between batches hands the hooks the state and where to continue, and resuming
    /// there (one thread) replays the uninterrupted run.
    #[test]
    fn a_stop_between_batches_resumes_exactly() {
        let (vocab, enc) = small_corpus();
        let backend = CpuBackend::new(1);
        let cfg = config(ModelKind::Skipgram, 2);
        let whole = run(&backend, &enc, &vocab, &cfg, None, &mut NoHooks).unwrap();

        #[derive(Default)]
        struct StopAfter(usize, Option<Resume>);
        impl Hooks for StopAfter {
            fn on_batch(&mut self, _: &BatchProgress) {
                self.0 = self.0.saturating_sub(1);
            }
            fn stop_requested(&self) -> bool {
                self.0 == 0
            }
            fn on_stop(&mut self, s: &Snapshot) -> Result<()> {
                self.1 = Some(Resume {
                    w_in: s.w_in.to_vec(),
                    w_out: s.w_out.to_vec(),
                    adam: None,
                    adam_t: 0,
                    epoch: s.epochs_done,
                    next_token: s.next_token,
                    frozen_in: None,
                });
                Ok(())
            }
        }
        let batches = enc
            .tokens
            .len()
            .div_ceil(batch_tokens(&backend, enc.tokens.len()));
        let mut stop = StopAfter(batches + 2, None);
        let e = run(&backend, &enc, &vocab, &cfg, None, &mut stop)
            .err()
            .unwrap();
        assert!(matches!(e, Error::Stopped(_)), "{e}");
        let at = stop.1.expect("the state at the stop");
        assert_eq!((at.epoch, at.next_token % SPAN_LEN as u64), (1, 0));
        assert!(at.next_token > 0);
        let resumed = run(&backend, &enc, &vocab, &cfg, Some(at), &mut NoHooks).unwrap();
        assert_eq!(resumed.w_in, whole.w_in);
        assert_eq!(resumed.w_out, whole.w_out);
    }
}
