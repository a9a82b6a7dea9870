//! Whole training runs on every device: the trainer reaches the planted-analogy threshold on the
//! built-in synthetic corpus with both models (and with `--storage f16` and `bf16` where the device has them,
//! streaming the corpus through a chunk smaller than itself on a CUDA device), and the fast path
//! separates two groups of words that never share a sentence.

use w2v_gpu::backend::{Backend, Storage};
use w2v_gpu::output::vectors::Embeddings;
use w2v_gpu::query::eval::evaluate_analogies;
use w2v_gpu::query::similarity::Index;
use w2v_gpu::train::plan::{Batch, ModelKind, StepConfig, SENTENCE_BREAK, SPAN_LEN};
use w2v_gpu::train::rng;
use w2v_gpu::train::sampler::NegativeMode;
use w2v_gpu::train::TrainConfig;

use crate::common::devices::{conformance, TestDevice};
use crate::common::fixture::{self, step_cfg, uniform, Model, Step};

/// Trains the built-in corpus with `model` at rate `lr` and `storage`, and checks the planted
/// analogies (a backend that keeps f32 must refuse `--storage f16`/`bf16` before training instead).
fn planted_analogies<T: TestDevice>(dev: &T, model: ModelKind, lr: f64, storage: Storage) {
    let (vocab, enc, syn) = crate::common::corpus(11, 150);
    // A chunk smaller than the corpus, so a CUDA device streams it through in pieces.
    let (b, chunk) = dev.open_chunked(4 * SPAN_LEN);
    if let Some(chunk) = chunk {
        assert!(enc.tokens.len() > chunk, "the corpus fits one chunk");
    }
    let cfg = TrainConfig {
        storage,
        ..crate::common::config(model, lr)
    };
    if storage != Storage::F32 && !dev.f16_storage() {
        let flag = match storage {
            Storage::Bf16 => "--storage bf16",
            _ => "--storage f16",
        };
        let Err(err) = crate::common::train_on(&b, &enc, &vocab, &cfg) else {
            panic!("{} trained {flag}", b.name());
        };
        assert!(err.to_string().contains(flag), "{err}");
        return;
    }
    let t = crate::common::train_on(&b, &enc, &vocab, &cfg).unwrap();
    let emb = Embeddings::new(vocab.words.clone(), cfg.dim, t.w_in);
    let report = evaluate_analogies(&Index::new(&emb), &syn.sections, None);
    assert_eq!(report.total.skipped, 0);
    assert!(
        report.accuracy() >= 0.9,
        "{model:?} {storage:?} on {}:\n{report}",
        b.name()
    );
}

// One test per run, so that the three (the longest of the suite on the emulator) run in parallel.
fn planted_skipgram<T: TestDevice>(dev: &T) {
    planted_analogies(dev, ModelKind::Skipgram, 0.025, Storage::F32);
}
conformance!(
    skipgram_reaches_the_planted_analogy_threshold,
    planted_skipgram
);

fn planted_cbow<T: TestDevice>(dev: &T) {
    planted_analogies(dev, ModelKind::Cbow, 0.05, Storage::F32);
}
conformance!(cbow_reaches_the_planted_analogy_threshold, planted_cbow);

/// Half storage (skip-gram only, to keep the suite short).
fn planted_skipgram_f16<T: TestDevice>(dev: &T) {
    planted_analogies(dev, ModelKind::Skipgram, 0.025, Storage::F16);
}
conformance!(
    f16_skipgram_reaches_the_planted_analogy_threshold,
    planted_skipgram_f16
);

/// bfloat16 storage likewise (the v2 kernels: the built-in corpus's dim and negatives are theirs).
fn planted_skipgram_bf16<T: TestDevice>(dev: &T) {
    planted_analogies(dev, ModelKind::Skipgram, 0.025, Storage::Bf16);
}
conformance!(
    bf16_skipgram_reaches_the_planted_analogy_threshold,
    planted_skipgram_bf16
);

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn separates_groups<T: TestDevice>(dev: &T) {
    // Words 0..10 and 10..20 only ever share sentences with their own group.
    let mut tokens = Vec::new();
    for s in 0..3000u64 {
        let group = (s % 2) as u32 * 10;
        for i in 0..8 {
            tokens.push(group + rng::below(rng::draw(21, s * 8 + i, 9, 0)[0], 10));
        }
        tokens.push(SENTENCE_BREAK);
    }
    let mut counts = vec![0u64; 20];
    for &t in tokens.iter().filter(|&&t| t != SENTENCE_BREAK) {
        counts[t as usize] += 1;
    }
    let b = dev.open();
    let dim = 16;
    let w_in = uniform(5, 20 * dim, -0.5 / dim as f32, 0.5 / dim as f32);
    let m = Model::new(&counts, 0.0, dim, w_in, vec![0.0; 20 * dim]);
    for model in [ModelKind::Skipgram, ModelKind::Cbow] {
        let cfg = StepConfig {
            window: 3,
            ..step_cfg(model, NegativeMode::Distinct, 17)
        };
        let epochs: Vec<Batch> = (0..5)
            .map(|e| Batch {
                start: 0,
                len: tokens.len(),
                epoch: e,
                corpus_len: tokens.len() as u64,
                lr_begin: 0.05,
                lr_end: 0.01,
            })
            .collect();
        let mut st = m.state(&b);
        fixture::train(&b, &mut st, &tokens, &epochs, &cfg, Step::Fast);
        let (w, _) = st.model.download(&b).unwrap();
        let row = |i: usize| &w[i * dim..(i + 1) * dim];
        let (mut within, mut across) = (Vec::new(), Vec::new());
        for i in 0..20 {
            for j in i + 1..20 {
                let c = cosine(row(i), row(j));
                if (i < 10) == (j < 10) {
                    within.push(c)
                } else {
                    across.push(c)
                }
            }
        }
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        let min_within = within.iter().cloned().fold(f32::INFINITY, f32::min);
        let max_across = across.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        assert!(
            min_within > max_across && mean(&within) > mean(&across) + 0.5,
            "{model:?} on {}: within {} (min {min_within}), across {} (max {max_across})",
            b.name(),
            mean(&within),
            mean(&across)
        );
    }
}
// Not on the emulator, to keep CI short: its concurrent fused steps are checked in `fused`, and it
// trains the planted analogies above.
conformance!(
    training_separates_words_that_never_co_occur,
    separates_groups,
    [cpu, cuda]
);
