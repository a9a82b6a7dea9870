//! Carrying a model forward: `train --init-vectors FILE` (start W_in from pretrained vectors) and
//! `train --resume CK --continue-on NEW` (continue a checkpointed model on other text, its
//! vocabulary frozen or grown with `--update-vocab`).

use std::collections::HashMap;
use std::path::Path;

use super::FlagContext;
use crate::input::vocab::Vocab;
use crate::output::checkpoint::Checkpoint;
use crate::output::vectors::{read_vectors, Embeddings};
use crate::train::model::init_weights;
use crate::train::{Resume, TrainConfig};

/// How the learning rate runs when a model continues on new text (`--continue-lr`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ContinueLr {
    /// From --lr down to its floor over the new run, as a fresh run (gensim's second `train()`).
    #[default]
    Restart,
    /// From where the checkpoint's schedule stood (its completed epochs over its --epochs) down
    /// to the floor over the new run.
    Continue,
}

/// The fresh parameters of a run that starts from pretrained vectors, and what to say about them.
pub(super) struct Pretrained {
    pub start: Resume,
    pub lines: Vec<String>,
}

/// The vectors file `path` of `--init-vectors`, refused unless its dimension is `dim` (read before
/// the corpus, so that a wrong file costs no pass over it).
pub(super) fn read_init_vectors(path: &Path, dim: usize) -> anyhow::Result<Embeddings> {
    let emb = read_vectors(path).flag("--init-vectors")?;
    if emb.dim != dim {
        anyhow::bail!(
            "--init-vectors '{}' holds vectors of dimension {}, but this run trains --dim {}; give \
             --dim {} or a vectors file of dimension {}",
            path.display(),
            emb.dim,
            dim,
            emb.dim,
            dim
        );
    }
    Ok(emb)
}

/// W_in and W_out as a fresh run of `cfg` draws them, with the W_in row of every word of `vocab`
/// that `emb` (read from `path`) holds replaced by its vector. The first of duplicate words wins
/// (as gensim's loader keeps the first); each duplicate is named in a line. `freeze`: those rows
/// stay fixed in training (`--freeze-init`).
pub(super) fn init_from_vectors(
    emb: &Embeddings,
    path: &Path,
    vocab: &Vocab,
    cfg: &TrainConfig,
    freeze: bool,
) -> Pretrained {
    let (mut w_in, w_out) = init_weights(vocab.len(), cfg.dim, cfg.init, cfg.seed);
    let (matched, duplicates) = copy_matching_rows(emb, vocab, &mut w_in);
    let frozen = freeze.then(|| matched_rows(emb, vocab));
    let shown = path.display();
    let mut lines: Vec<String> = duplicates
        .iter()
        .take(5)
        .map(|d| {
            format!(
                "warning: --init-vectors '{shown}': word {:?} appears again as vector {}; the first \
                 (vector {}) is used, as gensim does",
                d.word, d.again, d.first
            )
        })
        .collect();
    if duplicates.len() > 5 {
        lines.push(format!(
            "warning: --init-vectors '{shown}': {} more duplicate words, the first of each used",
            duplicates.len() - 5
        ));
    }
    lines.push(if matched == 0 {
        format!(
            "warning: --init-vectors '{shown}': none of its {} words is in the vocabulary of {} \
             words; training from a fresh initialisation",
            emb.len(),
            vocab.len()
        )
    } else {
        format!(
            "init: {matched} of {} vocabulary words start from '{shown}' ({} vectors){}; the \
             other {} start fresh",
            vocab.len(),
            emb.len(),
            if freeze { " and stay fixed" } else { "" },
            vocab.len() - matched
        )
    });
    Pretrained {
        start: Resume {
            frozen_in: frozen,
            ..fresh_start(w_in, w_out)
        },
        lines,
    }
}

/// A word of a vectors file seen again: its 1-based vector numbers.
#[derive(Debug, PartialEq)]
struct Duplicate {
    word: String,
    first: usize,
    again: usize,
}

/// Copies into `w_in` (`[vocab.len(), dim]`) the vector of every vocabulary word `emb` holds, the
/// first one of a word given twice; returns the words matched and the duplicates seen.
fn copy_matching_rows(
    emb: &Embeddings,
    vocab: &Vocab,
    w_in: &mut [f32],
) -> (usize, Vec<Duplicate>) {
    let dim = emb.dim;
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut duplicates = Vec::new();
    let mut matched = 0;
    for (i, word) in emb.words.iter().enumerate() {
        if let Some(&f) = first.get(word.as_str()) {
            duplicates.push(Duplicate {
                word: word.clone(),
                first: f + 1,
                again: i + 1,
            });
            continue;
        }
        first.insert(word, i);
        if let Some(id) = vocab.id(word) {
            let r = id as usize * dim;
            w_in[r..r + dim].copy_from_slice(emb.row(i));
            matched += 1;
        }
    }
    (matched, duplicates)
}

/// Which words of `vocab` `emb` holds, by id.
fn matched_rows(emb: &Embeddings, vocab: &Vocab) -> Vec<bool> {
    let mut m = vec![false; vocab.len()];
    for id in emb.words.iter().filter_map(|w| vocab.id(w)) {
        m[id as usize] = true;
    }
    m
}

/// Where a run starts from given parameters: epoch 0, token 0, no optimiser state.
fn fresh_start(w_in: Vec<f32>, w_out: Vec<f32>) -> Resume {
    Resume {
        w_in,
        w_out,
        adam: None,
        adam_t: 0,
        epoch: 0,
        next_token: 0,
        frozen_in: None,
    }
}

/// The vocabulary of a checkpoint grown by the new text's (`new`, already cut at --min-count):
/// the old words keep their ids and add the new text's counts; words the checkpoint lacks follow
/// in the new text's order.
pub(super) fn merge_vocab(old: &Vocab, new: &Vocab) -> Vocab {
    let (mut words, mut counts) = (old.words.clone(), old.counts.clone());
    for (w, &c) in new.words.iter().zip(&new.counts) {
        match old.id(w) {
            Some(id) => counts[id as usize] += c,
            None => {
                words.push(w.clone());
                counts.push(c);
            }
        }
    }
    Vocab::from_parts(words, counts)
}

/// Where a model continued on new text starts: the checkpoint's parameters (and Adam's moments),
/// with rows for the `vocab_len - old` words it lacks drawn as a fresh run of `cfg` draws them
/// (zero moments), at epoch 0 of the new text.
pub(super) fn continue_start(ck: Checkpoint, vocab_len: usize, cfg: &TrainConfig) -> Resume {
    let old = ck.words.len();
    let dim = cfg.dim;
    let (mut w_in, mut w_out, mut adam) = (ck.w_in, ck.w_out, ck.adam);
    if vocab_len > old {
        let (fresh_in, fresh_out) = init_weights(vocab_len, dim, cfg.init, cfg.seed);
        w_in.extend_from_slice(&fresh_in[old * dim..]);
        w_out.extend_from_slice(&fresh_out[old * dim..]);
        if let Some(moments) = &mut adam {
            for m in moments.iter_mut() {
                m.resize(vocab_len * dim, 0.0);
            }
        }
    }
    Resume {
        adam,
        adam_t: ck.adam_t,
        ..fresh_start(w_in, w_out)
    }
}

/// The learning rate a continued run starts at: `cfg.lr` on a restart, else the checkpoint's
/// schedule at its completed epochs (an epoch stopped midway counts from its start).
pub(super) fn continue_lr(cfg: &TrainConfig, how: ContinueLr, epochs_done: u64) -> f64 {
    match how {
        ContinueLr::Restart => cfg.lr,
        ContinueLr::Continue => {
            let total = cfg.epochs.max(1) as u64;
            cfg.lr_at(epochs_done.min(total), total) as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(words: &[&str]) -> Vocab {
        let counts = (0..words.len() as u64).rev().map(|c| c + 5).collect();
        Vocab::from_parts(words.iter().map(|w| w.to_string()).collect(), counts)
    }

    #[test]
    fn matching_rows_are_copied_first_duplicate_wins_and_others_stay() {
        let v = vocab(&["the", "cat", "sat"]);
        let emb = Embeddings::new(
            ["cat", "dog", "cat", "the"].map(String::from).to_vec(),
            2,
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        );
        let mut w = vec![0.5; 6];
        let (matched, dups) = copy_matching_rows(&emb, &v, &mut w);
        assert_eq!(matched, 2);
        assert_eq!(w, [7.0, 8.0, 1.0, 2.0, 0.5, 0.5]);
        assert_eq!(
            dups,
            [Duplicate {
                word: "cat".into(),
                first: 1,
                again: 3
            }]
        );
    }

    #[test]
    fn merged_vocabulary_keeps_old_ids_adds_counts_and_appends_new_words() {
        let old = vocab(&["a", "b", "c"]);
        let new = Vocab::from_parts(["d", "b", "e"].map(String::from).to_vec(), vec![9, 4, 2]);
        let m = merge_vocab(&old, &new);
        assert_eq!(m.words, ["a", "b", "c", "d", "e"]);
        assert_eq!(m.counts, [7, 6 + 4, 5, 9, 2]);
        assert_eq!(m.id("e"), Some(4));
    }

    #[test]
    fn new_rows_are_the_fresh_rows_and_old_rows_are_the_checkpoints() {
        let cfg = TrainConfig {
            dim: 4,
            init: crate::train::model::Init::Book,
            ..TrainConfig::default()
        };
        let (w_in, w_out) = (vec![1.0; 8], vec![2.0; 8]);
        let ck = Checkpoint {
            words: vec!["a".into(), "b".into()],
            counts: vec![3, 2],
            dim: 4,
            w_in,
            w_out,
            adam: Some([vec![0.1; 8], vec![0.2; 8], vec![0.3; 8], vec![0.4; 8]]),
            adam_t: 7,
            epoch: 3,
            next_token: 0,
            settings_json: String::new(),
            seed: 1,
        };
        let r = continue_start(ck, 5, &cfg);
        let (fresh_in, fresh_out) = init_weights(5, 4, cfg.init, cfg.seed);
        assert_eq!(&r.w_in[..8], &[1.0; 8]);
        assert_eq!(&r.w_in[8..], &fresh_in[8..]);
        assert_eq!(&r.w_out[..8], &[2.0; 8]);
        assert_eq!(&r.w_out[8..], &fresh_out[8..]);
        let adam = r.adam.unwrap();
        assert_eq!(&adam[3][..8], &[0.4; 8]);
        assert!(adam
            .iter()
            .all(|m| m.len() == 20 && m[8..].iter().all(|&x| x == 0.0)));
        assert_eq!((r.adam_t, r.epoch, r.next_token), (7, 0, 0));
    }

    #[test]
    fn a_continued_schedule_starts_where_the_checkpoint_stood() {
        let cfg = TrainConfig {
            lr: 0.025,
            epochs: 4,
            ..TrainConfig::default()
        };
        assert_eq!(continue_lr(&cfg, ContinueLr::Restart, 4), 0.025);
        let half = continue_lr(&cfg, ContinueLr::Continue, 2);
        assert!((half - (0.025 + 0.025 * 1e-4) / 2.0).abs() < 1e-7, "{half}");
        let end = continue_lr(&cfg, ContinueLr::Continue, 9);
        assert!((end - 0.025e-4).abs() < 1e-9, "{end}");
    }
}
