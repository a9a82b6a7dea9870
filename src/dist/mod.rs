//! Data-parallel training over several processes: each rank trains its shard of the corpus on
//! its own replica of the model, and every `--sync-words` words the replicas are averaged.
//!
//! [`comm`] is the small set of collectives training needs ([`comm::Single`] for one process,
//! [`mpi`] over MPI with the feature `mpi`); [`shard`] says which tokens each rank trains and
//! when the ranks synchronise; [`sync`] averages the replicas (sparse: only the rows touched
//! since the last synchronisation). The epoch loop (`train::epoch`) drives them.

pub mod comm;
#[cfg(feature = "mpi")]
pub mod mpi;
#[cfg(feature = "nccl")]
pub mod nccl;
pub mod shard;
pub mod sync;

pub use comm::{Comm, Single};
pub use sync::{Merge, SyncMode, SyncTotals};

/// How the learning rate of a job of several ranks follows the number of ranks.
///
/// A merge that averages the ranks' changes of a row ([`Merge::Touched`], [`Merge::Mean`])
/// moves a row every rank trained by one rank's change, learnt on a `1/ranks` share of the
/// words: the frequent words progress as if at a `1/ranks` rate. Scaling the rate by √ranks
/// brought two ranks on KJV back into one process's seed spread on analogy, WordSim-353 and
/// SimLex-999 and eight ranks' loss most of the way back to one process's, where the linear
/// rule (× ranks) overshoots the rows only one rank trains (benches/RESULTS.md, "The learning
/// rate of several ranks").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RankLr {
    /// √ranks with a merge that averages ([`Merge::Touched`], [`Merge::Mean`]); 1 with one that
    /// sums ([`Merge::Sum`], [`Merge::Mixed`]), which already keeps every change whole.
    #[default]
    Auto,
    /// The rate as given, whatever the number of ranks.
    Same,
    /// × √ranks.
    Sqrt,
    /// × ranks (the linear scaling rule).
    Linear,
}

impl RankLr {
    /// The factor on `--lr` for `ranks` ranks merging by `merge` (1 for one rank).
    pub fn factor(self, ranks: usize, merge: Merge) -> f64 {
        let n = ranks.max(1) as f64;
        match self {
            RankLr::Auto if matches!(merge, Merge::Touched | Merge::Mean) => n.sqrt(),
            RankLr::Auto | RankLr::Same => 1.0,
            RankLr::Sqrt => n.sqrt(),
            RankLr::Linear => n,
        }
    }
}

/// The most words a rank trains between synchronisations unless `--sync-words` says otherwise.
pub const DEFAULT_SYNC_WORDS: u64 = 1_000_000;

/// [`DEFAULT_SYNC_WORDS`] for ranks on GPUs: a GPU trains a hundred times as many words a second
/// as a CPU core while a synchronisation moves the same bytes, so its interval is longer (on 8
/// GPUs over NVLink, 1M words a rank spend a fifth of the time synchronising, 10M a thirtieth;
/// benches/MODEL.md, modelled).
pub const DEFAULT_GPU_SYNC_WORDS: u64 = 10_000_000;

/// Synchronisations in each rank's share of an epoch at least, unless `--sync-words` says
/// otherwise. With `--merge mixed` one an epoch kept KJV within one process's seed spread at a
/// third of the cost of eight (benches/RESULTS.md, "Cheaper synchronisation"), and so does the
/// default `--merge touched` ("Eight ranks"); with `--merge sum` it did not, which is why this
/// was 8 before.
pub const MIN_SYNCS_PER_EPOCH: u64 = 1;

/// The default round: [`DEFAULT_SYNC_WORDS`] ([`DEFAULT_GPU_SYNC_WORDS`] for ranks on GPUs), or
/// a rank's share of an epoch of `tokens` tokens over [`MIN_SYNCS_PER_EPOCH`] where that is less
/// (never under one span).
pub fn default_sync_words(tokens: usize, ranks: usize, gpu: bool) -> u64 {
    let share = tokens as u64 / ranks.max(1) as u64;
    let most = if gpu {
        DEFAULT_GPU_SYNC_WORDS
    } else {
        DEFAULT_SYNC_WORDS
    };
    (share / MIN_SYNCS_PER_EPOCH).clamp(crate::train::plan::SPAN_LEN as u64, most)
}

/// How a run is spread over ranks: the job, and how often and how its replicas are averaged.
#[derive(Clone, Copy)]
pub struct Dist<'c> {
    pub comm: &'c dyn Comm,
    /// Words (tokens) a rank trains between synchronisations, about.
    pub sync_words: u64,
    pub mode: SyncMode,
    pub merge: Merge,
    pub rank_lr: RankLr,
}

impl Dist<'static> {
    /// One process: no shards, no synchronisation.
    pub fn single() -> Dist<'static> {
        static ONE: Single = Single;
        Dist {
            comm: &ONE,
            sync_words: DEFAULT_SYNC_WORDS,
            mode: SyncMode::Sparse,
            merge: Merge::Touched,
            rank_lr: RankLr::Auto,
        }
    }
}

impl Dist<'_> {
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    pub fn size(&self) -> usize {
        self.comm.size()
    }

    /// More than one rank.
    pub fn is_parallel(&self) -> bool {
        self.size() > 1
    }

    /// The factor on the learning rate for this job's ranks and merge ([`RankLr::factor`]).
    pub fn lr_factor(&self) -> f64 {
        self.rank_lr.factor(self.size(), self.merge)
    }
}

/// The number of processes of the MPI job this process was started in by `mpirun`/`mpiexec`
/// (OpenMPI's `OMPI_COMM_WORLD_SIZE`, MPICH's and Slurm's `PMI_SIZE`), if any.
pub fn launched_ranks() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.trim().parse().ok())
}

/// Whether this binary was built with MPI, and what it found, for `info`.
pub fn report() -> String {
    let mut out = String::new();
    if cfg!(feature = "mpi") {
        match launched_ranks() {
            Some(n) => {
                out += &format!("mpi      compiled in; this process is one of {n} ranks (mpirun)\n")
            }
            None => {
                out +=
                    "mpi      compiled in; not started by mpirun (mpirun -np N w2v-gpu train …)\n"
            }
        }
    } else {
        out += "mpi      not compiled in (cargo build --release --features mpi)\n";
    }
    #[cfg(feature = "nccl")]
    match nccl::library() {
        Some(v) => out += &format!("nccl     compiled in; library {v} found (sums of --device cuda ranks)\n"),
        None => out += "nccl     compiled in; library not found (libnccl.so.2): --device cuda ranks refuse to start\n",
    }
    #[cfg(not(feature = "nccl"))]
    {
        out += "nccl     not compiled in (cargo build --release --features nccl)\n";
    }
    out
}

/// The job this process belongs to: MPI's world when started by `mpirun` (feature `mpi`; with
/// `nccl` and `gpu`, its f32 sums on the GPUs), else one process. Started by `mpirun` without
/// the feature, the one-line refusal.
pub fn join(gpu: bool) -> Result<Box<dyn Comm>, String> {
    let ranks = launched_ranks().unwrap_or(1);
    #[cfg(feature = "mpi")]
    if ranks > 1 {
        let Some(world) = mpi::MpiComm::init() else {
            return Err("MPI was initialised twice in one process".into());
        };
        #[cfg(feature = "nccl")]
        if gpu {
            return nccl::NcclRows::open(world).map(|c| Box::new(c) as Box<dyn Comm>);
        }
        return Ok(Box::new(world));
    }
    let _ = gpu;
    if ranks > 1 {
        return Err(format!(
            "this w2v-gpu was started by mpirun as one of {ranks} ranks but was built without \
             MPI; rebuild with --features mpi (cargo build --release --features mpi) or start \
             it without mpirun"
        ));
    }
    Ok(Box::new(Single))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_interval_is_a_rank_share_up_to_the_device_limit() {
        // KJV on 2 ranks: a rank's share of an epoch, on any device.
        assert_eq!(default_sync_words(790_000, 2, false), 395_000);
        assert_eq!(default_sync_words(790_000, 2, true), 395_000);
        // text8 on 8 ranks: 1M words on CPUs, a rank's share (one an epoch) on GPUs.
        assert_eq!(default_sync_words(17_005_207, 8, false), DEFAULT_SYNC_WORDS);
        assert_eq!(default_sync_words(17_005_207, 8, true), 17_005_207 / 8);
        // A huge corpus: the device's limit; a tiny one: one span at least.
        assert_eq!(default_sync_words(1 << 36, 8, true), DEFAULT_GPU_SYNC_WORDS);
        assert_eq!(
            default_sync_words(100, 4, false),
            crate::train::plan::SPAN_LEN as u64
        );
    }

    #[test]
    fn the_rank_learning_rate_factor_follows_the_merge() {
        let two = 2f64.sqrt();
        assert_eq!(RankLr::Auto.factor(2, Merge::Touched), two);
        assert_eq!(RankLr::Auto.factor(8, Merge::Mean), 8f64.sqrt());
        assert_eq!(RankLr::Auto.factor(2, Merge::Sum), 1.0);
        assert_eq!(RankLr::Auto.factor(2, Merge::Mixed), 1.0);
        assert_eq!(RankLr::Auto.factor(1, Merge::Touched), 1.0);
        assert_eq!(RankLr::Same.factor(4, Merge::Touched), 1.0);
        assert_eq!(RankLr::Sqrt.factor(4, Merge::Sum), 2.0);
        assert_eq!(RankLr::Linear.factor(3, Merge::Touched), 3.0);
    }
}
