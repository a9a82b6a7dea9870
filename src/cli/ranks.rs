//! `train` as one rank of an MPI job: the flags (`--sync-words`, `--sync`), the start-up gate
//! every rank passes together (each rank's settings and corpus fingerprinted and compared, a rank
//! that failed to start reported by the others), how a rank ends, and the summary's ranks line.

use clap::Args;

use crate::dist::{
    comm, default_sync_words, Comm, Dist, Merge, RankLr, SyncMode, DEFAULT_SYNC_WORDS,
};
use crate::input::vocab::Vocab;
use crate::train::progress::thousands;
use crate::train::Trained;

/// How several ranks train together (`mpirun -np N w2v-gpu train …`, feature `mpi`).
#[derive(Args, Debug)]
pub struct DistArgs {
    /// With several ranks: words each rank trains between two averagings of the ranks' replicas
    /// [default: 1,000,000 (10,000,000 on GPUs), or a rank's share of an epoch where that is less]
    #[arg(long, value_name = "N", value_parser = parse_sync_words)]
    pub sync_words: Option<u64>,
    /// With several ranks: which rows an averaging exchanges.
    #[arg(long, value_enum, default_value_t = SyncMode::Sparse)]
    pub sync: SyncMode,
    /// With several ranks: how an averaging combines the ranks' rows.
    #[arg(long, value_enum, default_value_t = Merge::Touched)]
    pub merge: Merge,
    /// With several ranks: how the learning rate (--lr) follows the number of ranks
    #[arg(long, value_enum, default_value_t = RankLr::Auto)]
    pub rank_lr: RankLr,
}

impl DistArgs {
    /// The job's settings; an unset `--sync-words` stands at its most until [`Self::settle`].
    pub fn dist<'c>(&self, comm: &'c dyn Comm) -> Dist<'c> {
        Dist {
            comm,
            sync_words: self.sync_words.unwrap_or(DEFAULT_SYNC_WORDS),
            mode: self.sync,
            merge: self.merge,
            rank_lr: self.rank_lr,
        }
    }
}

impl DistArgs {
    /// `dist` once the corpus (`tokens` tokens an epoch) and the device (`gpu`) are known: an
    /// unset `--sync-words` becomes [`default_sync_words`] of them.
    pub fn settle(&self, dist: &mut Dist, tokens: usize, gpu: bool) {
        if self.sync_words.is_none() {
            dist.sync_words = default_sync_words(tokens, dist.size(), gpu);
        }
    }
}

/// A positive number of words.
fn parse_sync_words(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err(
            "0 words would synchronise without training; give a positive number of \
                      words (e.g. 200000)"
                .into(),
        ),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is not a number of words (e.g. 200000)")),
    }
}

/// A rank whose failure rank 0 reports: it exits 1 without a line of its own.
#[derive(Debug)]
pub(super) struct ReportedByRankZero;

impl std::fmt::Display for ReportedByRankZero {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reported by rank 0")
    }
}

impl std::error::Error for ReportedByRankZero {}

/// The start-up gate: passed by every rank together, once.
pub(super) struct Gate<'c> {
    pub comm: &'c dyn Comm,
    /// `None` before the gate; then whether the ranks agreed to go on.
    passed: Option<bool>,
}

impl<'c> Gate<'c> {
    pub fn new(comm: &'c dyn Comm) -> Gate<'c> {
        Gate { comm, passed: None }
    }

    /// Compares this rank's fingerprint of its settings, vocabulary and corpus with the others';
    /// a mismatch, or a rank that failed before the gate, stops every rank (rank 0 says why).
    pub fn pass(
        &mut self,
        settings_json: &str,
        vocab: &Vocab,
        tokens: usize,
        dist: &Dist,
    ) -> anyhow::Result<()> {
        let counts: Vec<u8> = vocab.counts.iter().flat_map(|c| c.to_le_bytes()).collect();
        let shape = format!(
            "{tokens} {} {:?} {:?} {:?}",
            dist.sync_words, dist.mode, dist.merge, dist.rank_lr
        );
        let fp = comm::fingerprint(&[
            settings_json.as_bytes(),
            vocab.words.join("\n").as_bytes(),
            &counts,
            shape.as_bytes(),
        ]);
        let agreed = comm::agree(self.comm, Ok(fp));
        self.passed = Some(agreed.is_ok());
        match agreed {
            Ok(()) => Ok(()),
            Err(_) if self.comm.rank() != 0 => Err(ReportedByRankZero.into()),
            Err(line) => Err(anyhow::anyhow!(line)),
        }
    }

    /// How this rank's `train` ends. A failure before the gate is told to the ranks waiting at
    /// it; at a failed gate each rank with something to say prints its line, then all wait for
    /// one another and exit 1 (so mpirun cannot kill a rank before its line is out). A failure
    /// after the gate (others may wait in a synchronisation) aborts the job, except a stop the
    /// ranks agreed on.
    pub fn finish(self, result: anyhow::Result<()>) -> Ending {
        let Err(e) = result else {
            return Ending::Return(Ok(()));
        };
        if self.comm.size() == 1 {
            return Ending::Return(Err(e));
        }
        match self.passed {
            None | Some(false) => {
                if self.passed.is_none() {
                    super::print_error(&one_line(&e));
                    // The others wait at the gate: they learn this rank failed.
                    let _ = comm::agree(self.comm, Err(()));
                } else if !e.is::<ReportedByRankZero>() {
                    super::print_error(&one_line(&e));
                }
                // mpirun may end a rank still finalising when another exits 1: its SIGTERM
                // then waits silently (deferred) instead of adding a second line.
                super::signals::defer();
                self.comm.barrier();
                Ending::Exit(1)
            }
            // Rank 0 says where the agreed stop left the run (and names the checkpoint).
            Some(true) if e.is::<super::signals::Interrupted>() => {
                if self.comm.rank() == 0 {
                    Ending::Return(Err(e))
                } else {
                    super::signals::silence();
                    Ending::Exit(i32::from(super::exit_status(&e)))
                }
            }
            Some(true) => {
                super::print_error(&format!(
                    "rank {} of {}: {}",
                    self.comm.rank(),
                    self.comm.size(),
                    one_line(&e)
                ));
                self.comm.abort(1)
            }
        }
    }
}

/// What a rank does at its end: return to `main`, or exit with a status once MPI is finalised
/// (its line, if it has one, already printed).
pub(super) enum Ending {
    Return(anyhow::Result<()>),
    Exit(i32),
}

/// `e`'s context chain joined by `: `, as the binary prints it.
fn one_line(e: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for cause in e.chain() {
        parts.push(cause.to_string());
        if cause.is::<crate::Error>() {
            break;
        }
    }
    parts.join(": ")
}

/// The summary's line for a run of several ranks: each rank's words/s and time synchronising,
/// the job's words/s, and what the synchronisations exchanged.
pub(super) fn ranks_line(t: &Trained, dist: &Dist) -> Option<String> {
    if t.ranks.is_empty() {
        return None;
    }
    let each: Vec<String> = t
        .ranks
        .iter()
        .enumerate()
        .map(|(r, f)| {
            format!(
                "rank {r} {} words/s ({:.2} s synchronising)",
                thousands(f.words_per_sec.round() as u64),
                f.sync_seconds
            )
        })
        .collect();
    let s = &t.sync;
    let per_sync = s.bytes as f64 / s.syncs.max(1) as f64;
    let share = 100.0 * t.ranks[0].sync_seconds / t.seconds.max(1e-9);
    Some(
        format!(
            "ranks: {}; the job {} words/s; {} {:?} synchronisations every {} words, {:.2} MiB \
         sent by each rank each time on average ({} W_in and {} W_out rows combined in all), {share:.1}% of rank 0's time",
            each.join(", "),
            thousands(t.words_per_sec().round() as u64),
            s.syncs,
            dist.mode,
            thousands(dist.sync_words),
            per_sync / (1 << 20) as f64,
            thousands(s.rows_in),
            thousands(s.rows_out)
        )
        .replace("Sparse", "sparse")
        .replace("Dense", "dense"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_sync_words_is_refused() {
        assert!(parse_sync_words("0").unwrap_err().contains("positive"));
        assert_eq!(parse_sync_words("5000"), Ok(5000));
        assert!(parse_sync_words("x").is_err());
    }
}
