//! The epoch loop's side of data-parallel training ([`crate::dist`]): this rank's shard of each
//! epoch, the averaging of the replicas at the end of each round, and the counters (loss,
//! words, a requested stop) summed over ranks there, so that progress, the loss, metrics and
//! checkpoints are the whole job's.

use crate::backend::{Backend, Model, OptimizerKind, StepStats};
use crate::dist::shard::{shard, Rounds};
use crate::dist::sync::Replica;
use crate::dist::{Dist, SyncTotals};
use crate::error::{Error, Result};
use crate::train::plan::SPAN_LEN;
use crate::train::session::Part;
use crate::train::TrainConfig;

/// One rank's figures over a run, as every rank learns them at its end.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RankFigures {
    /// Raw words this rank trained per second of the run's training loop.
    pub words_per_sec: f64,
    /// Seconds it spent in synchronisations (waiting for slower ranks included).
    pub sync_seconds: f64,
}

/// What a synchronisation summed over ranks since the previous one.
pub(super) struct Synced {
    pub stats: StepStats,
    /// Words (non-break tokens) all ranks trained.
    pub words: u64,
    /// Whether some rank was asked to stop.
    pub stop: bool,
}

/// A rank of a job of several: its replica's base, the epoch's rounds, and what it trained
/// since the last synchronisation.
pub(super) struct Ranks<'d> {
    dist: Dist<'d>,
    replica: Replica,
    rounds: Rounds,
    /// This rank's batches trained in the epoch so far.
    batch: usize,
    pending: StepStats,
    pending_words: u64,
    /// Words this rank trained in the run.
    pub local_words: u64,
    pub totals: SyncTotals,
    /// [`SYNC_LOG`]'s file for this rank, when the variable names a folder.
    log: Option<std::path::PathBuf>,
}

/// The environment variable naming a folder where each rank appends, after every
/// synchronisation, the CRC-32s of its `W_in` and `W_out` (`rank-R.log`; tests compare them).
pub const SYNC_LOG: &str = "W2V_GPU_SYNC_LOG";

impl<'d> Ranks<'d> {
    /// `None` for one process; else the rank's state, refusing what ranks cannot train.
    pub fn new(
        dist: Dist<'d>,
        cfg: &TrainConfig,
        w_in: &[f32],
        w_out: &[f32],
    ) -> Result<Option<Ranks<'d>>> {
        if !dist.is_parallel() {
            return Ok(None);
        }
        if cfg.optimizer == OptimizerKind::Adam {
            return Err(Error::Config(format!(
                "--optimizer adam trains in one process only (its moments are not averaged \
                 across the {} ranks); use --optimizer sgd or start without mpirun",
                dist.size()
            )));
        }
        Ok(Some(Ranks {
            dist,
            replica: Replica::new(cfg.dim, w_in, w_out),
            rounds: Rounds {
                count: 1,
                per: 1,
                common: 1,
            },
            batch: 0,
            pending: StepStats::default(),
            pending_words: 0,
            local_words: 0,
            totals: SyncTotals::default(),
            log: std::env::var_os(SYNC_LOG)
                .map(|d| std::path::Path::new(&d).join(format!("rank-{}.log", dist.rank()))),
        }))
    }

    pub fn size(&self) -> usize {
        self.dist.size()
    }

    /// Words this rank trained since the last synchronisation.
    pub fn pending_words(&self) -> u64 {
        self.pending_words
    }

    /// This rank's part of the epoch's tokens `from..n`, cut into the epoch's rounds in batches of
    /// about `batch` tokens at most ([`Rounds`]); refuses a
    /// job with more ranks than the epoch has spans (a rank would have nothing to train).
    pub fn start_epoch(&mut self, from: usize, n: usize, batch: usize) -> Result<Part> {
        let (rank, size) = (self.dist.rank(), self.dist.size());
        let spans = (n - from).div_ceil(SPAN_LEN);
        if spans < size {
            return Err(Error::Input(format!(
                "the corpus has {spans} span(s) of {SPAN_LEN} tokens to train from token {from}, \
                 fewer than the {size} ranks; start at most {spans} ranks or train on a larger \
                 corpus"
            )));
        }
        self.rounds = Rounds::new(from, n, size, batch, self.dist.sync_words);
        self.batch = 0;
        let (lo, hi) = shard(from, n, rank, size);
        Ok(Part {
            from,
            lo,
            hi,
            rounds: Some(self.rounds),
        })
    }

    /// After each batch this rank trains (`s`, covering `words` words): at the end of a round,
    /// averages the replicas in `model` and sums the counters over ranks (`stop`: this rank was
    /// asked to stop), returned; else `None`.
    pub fn after_batch<B: Backend>(
        &mut self,
        backend: &B,
        model: &mut Model<B>,
        s: &StepStats,
        words: u64,
        stop: bool,
    ) -> Result<Option<Synced>> {
        self.pending.add(s);
        self.pending_words += words;
        self.local_words += words;
        let ends = self.rounds.ends_round(self.batch);
        self.batch += 1;
        if !ends {
            return Ok(None);
        }
        let t0 = std::time::Instant::now();
        let comm = self.dist.comm;
        let (mode, merge) = (self.dist.mode, self.dist.merge);
        let n = self.totals.syncs + 1;
        // Averaged in place where the weights are host memory, else downloaded and uploaded.
        let in_place = model
            .f32_mut()
            .and_then(|(a, b)| Some((backend.host_mut(a)?, backend.host_mut(b)?)));
        let mut t = match in_place {
            Some((w_in, w_out)) => {
                let t = self.replica.average(comm, mode, merge, w_in, w_out);
                if let Some(path) = &self.log {
                    log_weights(path, n, w_in, w_out)?;
                }
                t
            }
            None => {
                let (mut w_in, mut w_out) = model.download(backend)?;
                let t = self
                    .replica
                    .average(comm, mode, merge, &mut w_in, &mut w_out);
                *model = Model::upload(backend, model.dim, &w_in, &w_out, model.storage())?;
                if let Some(path) = &self.log {
                    log_weights(path, n, &w_in, &w_out)?;
                }
                t
            }
        };
        let p = &self.pending;
        let mut sums = [
            p.loss_sum,
            p.examples as f64,
            p.centres as f64,
            self.pending_words as f64,
            f64::from(u8::from(stop)),
        ];
        comm.sum_f64(&mut sums);
        t.seconds = t0.elapsed().as_secs_f64();
        self.totals.add(&t);
        self.pending = StepStats::default();
        self.pending_words = 0;
        Ok(Some(Synced {
            stats: StepStats {
                loss_sum: sums[0],
                examples: sums[1] as u64,
                centres: sums[2] as u64,
            },
            words: sums[3] as u64,
            stop: sums[4] > 0.0,
        }))
    }

    /// Whether the batch just synchronised was the epoch's last on this rank.
    pub fn epoch_done(&self) -> bool {
        self.batch >= self.rounds.batches()
    }

    /// Every rank's figures (collective), for a run whose training loop took `seconds` here;
    /// `raw_per_word` turns words into raw words.
    pub fn figures(&self, seconds: f64, raw_per_word: f64) -> Vec<RankFigures> {
        let size = self.dist.size();
        let mut v = vec![0.0; 2 * size];
        let r = self.dist.rank();
        v[2 * r] = self.local_words as f64 * raw_per_word / seconds.max(1e-9);
        v[2 * r + 1] = self.totals.seconds;
        self.dist.comm.sum_f64(&mut v);
        v.chunks_exact(2)
            .map(|c| RankFigures {
                words_per_sec: c[0],
                sync_seconds: c[1],
            })
            .collect()
    }
}

/// Appends `sync N in CRC out CRC` for the weights after synchronisation `n` to `path`.
fn log_weights(path: &std::path::Path, n: u64, w_in: &[f32], w_out: &[f32]) -> Result<()> {
    use std::io::Write;
    let crc = |w: &[f32]| crc32fast::hash(bytemuck::cast_slice(w));
    let line = format!("sync {n} in {:08x} out {:08x}\n", crc(w_in), crc(w_out));
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|source| Error::Io {
            action: "cannot append to",
            path: path.to_path_buf(),
            source,
        })
}
