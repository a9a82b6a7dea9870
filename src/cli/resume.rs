//! `train --resume`: the settings and vocabulary a checkpoint records, and where it continues.

use std::path::{Path, PathBuf};

use crate::cli::RunConfig;
use crate::error::{Error, Result};
use crate::input::corpus::ReadOptions;
use crate::input::vocab::Vocab;
use crate::output::checkpoint::{load_checkpoint, Checkpoint};
use crate::train::{Resume, TrainConfig};

/// What a checkpoint records besides the tensors, so `--resume` can rebuild the same run.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedSettings {
    train: TrainConfig,
    read: ReadOptions,
    corpus: Option<PathBuf>,
    min_count: u64,
    max_vocab: Option<usize>,
}

/// The settings of `cfg` as a checkpoint records them.
pub(super) fn settings_json(cfg: &RunConfig) -> Result<String> {
    serde_json::to_string(&SavedSettings {
        train: cfg.train.clone(),
        read: cfg.read,
        corpus: cfg.corpus.clone(),
        min_count: cfg.min_count,
        max_vocab: cfg.max_vocab,
    })
    .map_err(|e| Error::Input(format!("cannot record the settings: {e}")))
}

/// Reads the checkpoint at `path` and puts its settings into `cfg` (the corpus given on the
/// command line wins); returns the checkpoint and its vocabulary.
pub(super) fn load(path: &Path, cfg: &mut RunConfig) -> Result<(Checkpoint, Vocab)> {
    let ck = load_checkpoint(path)?;
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
    cfg.corpus = cfg.corpus.take().or(saved.corpus);
    cfg.min_count = saved.min_count;
    cfg.max_vocab = saved.max_vocab;
    let vocab = Vocab::from_parts(ck.words.clone(), ck.counts.clone());
    Ok((ck, vocab))
}

/// Where training continues from `ck`.
pub(super) fn start(ck: Checkpoint) -> Resume {
    Resume {
        w_in: ck.w_in,
        w_out: ck.w_out,
        adam: ck.adam,
        adam_t: ck.adam_t,
        epoch: ck.epoch,
        next_token: ck.next_token,
    }
}
