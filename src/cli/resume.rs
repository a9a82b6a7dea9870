//! `train --resume`: the settings and vocabulary a checkpoint records, checked like any others,
//! against the flags given with it, and against the corpus it was trained on.

use std::path::Path;

use anyhow::Context;

use super::FlagContext;
use crate::input::identity::{self, CorpusIdentity};
use crate::input::source::Source;
use crate::input::vocab::Vocab;
use crate::output::checkpoint::{load_checkpoint, Checkpoint};
use crate::train::{Resume, RunConfig};

/// A checkpoint to continue: the run it records (validated) and where training stands in it.
pub(super) struct Resumed {
    pub cfg: RunConfig,
    pub vocab: Vocab,
    pub checkpoint: Checkpoint,
    /// The corpus the checkpoint was trained on, when it says (checkpoints before it did not).
    pub corpus_identity: Option<CorpusIdentity>,
}

/// Reads the checkpoint at `path`: its settings replace those of `cfg` (the device, threads, a
/// corpus given on the command line and `--epochs` stay), a flag that was `given` on the command
/// line with another value than the checkpoint's is refused naming both, and the result goes
/// through [`RunConfig::validate`]. `new_text`: the model continues on other text
/// (`--continue-on`) as a new run, which a finished checkpoint may start.
pub(super) fn load(
    path: &Path,
    cfg: &RunConfig,
    given: &dyn Fn(&str) -> bool,
    new_text: bool,
) -> anyhow::Result<Resumed> {
    let ck = load_checkpoint(path).flag("--resume")?;
    let shown = path.display();
    let resumed = cfg.resumed(&ck.settings_json, given).map_err(|e| {
        anyhow::anyhow!("'{shown}': checkpoint settings are not readable ({e}); train afresh")
    })?;
    let recorded = cfg
        .resumed(&ck.settings_json, &|_| false)
        .map_err(anyhow::Error::new)?
        .cfg;
    if let Some(c) = cfg.contradiction(&recorded, given) {
        anyhow::bail!(
            "{flag} {} contradicts checkpoint '{shown}', which was trained with {flag} {}; leave \
             {flag} out to resume that run, or train afresh without --resume",
            c.given,
            c.recorded,
            flag = c.flag
        );
    }
    resumed
        .cfg
        .validate()
        .with_context(|| format!("settings recorded in checkpoint '{shown}'"))?;
    let epochs = resumed.cfg.train.epochs;
    if ck.epoch >= epochs as u64 && !new_text {
        if given("epochs") {
            anyhow::bail!(
                "--epochs {epochs}: checkpoint '{shown}' already trained {} epochs; give more \
                 epochs to extend the run",
                ck.epoch
            );
        }
        anyhow::bail!(
            "checkpoint '{shown}' already finished all {epochs} epochs; nothing to resume (give \
             --epochs N above {epochs} to train on, or --continue-on NEW to train it on other text)"
        );
    }
    Ok(Resumed {
        cfg: resumed.cfg,
        vocab: Vocab::from_parts(ck.words.clone(), ck.counts.clone()),
        checkpoint: ck,
        corpus_identity: resumed.corpus_identity,
    })
}

/// Checks that the corpus `cfg` names (now) is the one `r` was trained on; returns the identity
/// to record in this run's checkpoints, a line saying how far the corpus was verified, and the
/// corpus resolved (once, for the run to read; `None` for the built-in one).
/// `from_checkpoint`: the corpus path was read from the checkpoint (an error says so).
pub(super) fn verify_corpus(
    r: &Resumed,
    ck_path: &Path,
    from_checkpoint: bool,
) -> anyhow::Result<(Option<CorpusIdentity>, String, Option<Source>)> {
    let paths = &r.cfg.corpus.paths;
    if paths.is_empty() {
        return Ok((
            None,
            "the built-in corpus of the recorded seed".into(),
            None,
        ));
    }
    let shown = ck_path.display();
    let context = || {
        if from_checkpoint {
            format!("the corpus recorded in checkpoint '{shown}' (give --corpus if it moved)")
        } else {
            "--corpus".to_string()
        }
    };
    let src = Source::resolve(paths).with_context(context)?;
    let now = identity::identify_source(&src).with_context(context)?;
    let (id, line) = match (&r.corpus_identity, now) {
        (Some(was), Some(now)) => match was.differs_from(&now) {
            Some(why) => anyhow::bail!(
                "{why}: this is not the corpus checkpoint '{shown}' was trained on; give --corpus \
                 with that file, or train afresh without --resume"
            ),
            None => (Some(now), "verified (size and content of each end)"),
        },
        (None, now) => (
            now,
            "not verified (the checkpoint predates corpus identities)",
        ),
        (Some(_), None) => (None, "not verified (the corpus is not a regular file)"),
    };
    Ok((id, line.into(), Some(src)))
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
        frozen_in: None,
    }
}
