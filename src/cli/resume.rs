//! `train --resume`: the settings and vocabulary a checkpoint records, checked like any others.

use std::path::Path;

use anyhow::Context;

use super::FlagContext;
use crate::input::vocab::Vocab;
use crate::output::checkpoint::{load_checkpoint, Checkpoint};
use crate::train::{Resume, RunConfig};

/// A checkpoint to continue: the run it records (validated) and where training stands in it.
pub(super) struct Resumed {
    pub cfg: RunConfig,
    pub vocab: Vocab,
    pub checkpoint: Checkpoint,
}

/// Reads the checkpoint at `path`: its settings replace those of `cfg` (the device, threads and
/// a corpus given on the command line stay), and go through [`RunConfig::validate`].
pub(super) fn load(path: &Path, cfg: &RunConfig) -> anyhow::Result<Resumed> {
    let ck = load_checkpoint(path).flag("--resume")?;
    let shown = path.display();
    let resumed = cfg.resumed(&ck.settings_json).map_err(|e| {
        anyhow::anyhow!("'{shown}': checkpoint settings are not readable ({e}); train afresh")
    })?;
    resumed
        .validate()
        .with_context(|| format!("settings recorded in checkpoint '{shown}'"))?;
    if ck.epoch >= resumed.train.epochs as u64 {
        anyhow::bail!(
            "checkpoint '{shown}' already finished all {} epochs; nothing to resume",
            resumed.train.epochs
        );
    }
    Ok(Resumed {
        cfg: resumed,
        vocab: Vocab::from_parts(ck.words.clone(), ck.counts.clone()),
        checkpoint: ck,
    })
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
