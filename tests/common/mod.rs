//! Helpers shared by the test binaries: the devices and fixtures of the conformance suite, and the
//! built-in synthetic corpus with the settings the planted-analogy tests train with.
#![allow(dead_code)]

pub mod bin;
pub mod devices;
pub mod fixture;
pub mod test_kernels;
pub mod words;

use w2v_gpu::backend::{choose_step, Backend};
use w2v_gpu::input::corpus::{self, Encoded, ReadOptions, Source};
use w2v_gpu::input::synthetic;
use w2v_gpu::input::vocab::Vocab;
use w2v_gpu::train::plan::ModelKind;
use w2v_gpu::train::{train, NoHooks, TrainConfig, Trained};

/// The settings the planted-analogy tests train with: word2vec's defaults (5 epochs, fused SGD)
/// at dim 50 and seed 7.
pub fn config(model: ModelKind, lr: f64) -> TrainConfig {
    TrainConfig {
        model,
        dim: 50,
        lr,
        seed: 7,
        ..TrainConfig::default()
    }
}

/// The built-in corpus for `seed`, encoded at min-count 5, with its planted questions.
pub fn corpus(seed: u64, sentences_per_word: usize) -> (Vocab, Encoded, synthetic::Synthetic) {
    let syn = synthetic::generate(seed, sentences_per_word);
    let src = Source::Text {
        name: "synthetic".into(),
        text: syn.text.clone(),
    };
    let (vocab, enc) = corpus::load(&src, ReadOptions::default(), 5, None).unwrap();
    (vocab, enc, syn)
}

/// Trains `cfg` from scratch on `backend` with the step `choose_step` decides for it, as the
/// binary does.
pub fn train_on<B: Backend>(
    backend: &B,
    enc: &Encoded,
    vocab: &Vocab,
    cfg: &TrainConfig,
) -> w2v_gpu::Result<Trained> {
    let step = choose_step(&backend.name(), &backend.capabilities(), cfg)?;
    train(backend, enc, vocab, cfg, step, None, &mut NoHooks)
}
