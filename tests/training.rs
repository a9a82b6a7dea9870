//! The planted-analogy threshold means something (untrained vectors fail it; trained ones pass it on
//! every device in tests/conformance/training.rs), and subsampling keeps word2vec's fraction of each
//! word of an encoded corpus.

mod common;

use w2v_gpu::output::vectors::Embeddings;
use w2v_gpu::query::eval::evaluate_analogies;
use w2v_gpu::query::similarity::Index;
use w2v_gpu::train::model::Init;
use w2v_gpu::train::plan::SENTENCE_BREAK;
use w2v_gpu::train::sampler::{keep_thresholds, keep_token};

use common::corpus;

#[test]
fn untrained_vectors_fail_the_planted_analogies() {
    // Random initial vectors score near zero against the threshold trained vectors reach (0.9).
    let (vocab, _, syn) = corpus(11, 20);
    let (w_in, _) = w2v_gpu::train::model::init_weights(vocab.len(), 50, Init::Word2vec, 7);
    let emb = Embeddings::new(vocab.words.clone(), 50, w_in);
    let report = evaluate_analogies(&Index::new(&emb), &syn.sections, None);
    assert!(report.accuracy() < 0.1, "{report}");
}

#[test]
fn subsampling_keeps_word2vec_fraction_of_each_word() {
    let (vocab, enc, _) = corpus(5, 200);
    let sample = 1e-3;
    let keep = keep_thresholds(&vocab.counts, sample);
    let mut kept = vec![0u64; vocab.len()];
    for epoch in 0..4u64 {
        for (i, &w) in enc.tokens.iter().enumerate() {
            let pos = epoch * enc.tokens.len() as u64 + i as u64;
            if w != SENTENCE_BREAK && keep_token(&keep, 3, pos, w) {
                kept[w as usize] += 1;
            }
        }
    }
    let total = vocab.total() as f64;
    let mut checked = 0;
    for (id, &f) in vocab.counts.iter().enumerate() {
        let st = sample * total;
        let p = (((f as f64 / st).sqrt() + 1.0) * st / f as f64).min(1.0);
        let n = 4.0 * f as f64;
        let sd = (n * p * (1.0 - p)).sqrt().max(1.0);
        assert!(
            (kept[id] as f64 - n * p).abs() < 5.0 * sd,
            "'{}' count {f}: kept {} of {n}, expected {:.0}",
            vocab.words[id],
            kept[id],
            n * p
        );
        checked += (p < 0.9) as usize;
    }
    assert!(
        checked > 10,
        "too few words are subsampled to test anything"
    );
}
