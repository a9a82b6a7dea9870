//! What only the CPU backend has: its name and thread count, and Hogwild over threads (each
//! worker takes an equal share of a batch's tokens; the other devices' concurrency is checked in `fused` and `chunking`).

use w2v_gpu::backend::cpu::CpuBackend;
use w2v_gpu::backend::{Backend, StepStats};
use w2v_gpu::train::plan::{Batch, ModelKind, SENTENCE_BREAK, SPAN_LEN};
use w2v_gpu::train::sampler::NegativeMode;

use crate::common::fixture::{batch, rel_err, step_cfg, Model, Step};
use crate::composed::{small_vocab_corpus, small_vocab_model};

#[test]
fn name_and_thread_count() {
    assert_eq!(CpuBackend::new(2).name(), "cpu (2 threads)");
    assert_eq!(CpuBackend::new(1).name(), "cpu (1 thread)");
    assert!(CpuBackend::new(0).threads() >= 1);
}

/// `epochs` epochs of the whole of `tokens` from `m` on `threads` threads, rate 0.025 → 0.01.
fn epochs(m: &Model, threads: usize, model: ModelKind, tokens: &[u32], epochs: u64) -> StepStats {
    let bts: Vec<Batch> = (0..epochs)
        .map(|e| Batch {
            epoch: e,
            lr_end: 0.01,
            ..batch(0, tokens.len(), tokens.len(), 0.025)
        })
        .collect();
    let cfg = step_cfg(model, NegativeMode::Replace, 17);
    m.run(&CpuBackend::new(threads), tokens, &bts, &cfg, Step::Fast)
        .0
}

/// Two and eight threads train to one thread's loss: on a 32-word vocabulary (plain Hogwild: no
/// thread keeps copies of rows there) and on a 5,000-word Zipf vocabulary, whose 64 most frequent
/// words' rows every thread keeps its own copies of, merged as often as the thread count asks.
#[test]
fn several_threads_reach_the_same_loss() {
    // Six spans, and one (a small corpus: the threads share a span's centres).
    let small = [6 * SPAN_LEN, SPAN_LEN - 100].map(|n| {
        let t = small_vocab_corpus(9, n);
        (small_vocab_model(&t, 32, 1e-3), t)
    });
    let zipf = Model::zipf(5000, 32);
    let tokens = zipf.corpus(8 * SPAN_LEN);
    for ((m, tokens), model) in small
        .into_iter()
        .chain([(zipf, tokens)])
        .flat_map(|c| [(c.clone(), ModelKind::Skipgram), (c, ModelKind::Cbow)])
    {
        let s1 = epochs(&m, 1, model, &tokens, 3);
        for threads in [2, 8] {
            let s = epochs(&m, threads, model, &tokens, 3);
            assert_eq!((s1.examples, s1.centres), (s.examples, s.centres));
            let (l1, l) = (s1.mean_loss(), s.mean_loss());
            assert!(
                (l1 - l).abs() < 0.03 * l1,
                "{model:?}: 1 thread {l1}, {threads} threads {l}"
            );
        }
    }
}

#[test]
fn sub_batches_use_the_parent_learning_rate_ramp() {
    // A batch of two short spans: words 0..25 before the span boundary, 25..50 after it, so each
    // worker of two moves its own half of w_in. A worker that restarted the ramp at its own first
    // token would train the first half with a mean rate of 5e-4 instead of 7.5e-4 and the second
    // with 5e-4 instead of 2.5e-4; Hogwild races and the order of the halves matter far less.
    let half = 1500;
    let mut tokens = small_vocab_corpus(10, 2 * SPAN_LEN);
    for (i, t) in tokens
        .iter_mut()
        .enumerate()
        .filter(|(_, t)| **t != SENTENCE_BREAK)
    {
        *t = *t / 2 + if i < SPAN_LEN { 0 } else { 25 };
    }
    let cfg = step_cfg(ModelKind::Skipgram, NegativeMode::Replace, 17);
    let bt = [Batch {
        start: SPAN_LEN - half,
        len: 2 * half,
        epoch: 0,
        lr_end: 1e-6,
        ..batch(0, tokens.len(), tokens.len(), 1e-4)
    }];
    let m: Model = small_vocab_model(&tokens, 16, 0.0);
    let (_, d1, _) = m.run(&CpuBackend::new(1), &tokens, &bt, &cfg, Step::Fast);
    let (_, d2, _) = m.run(&CpuBackend::new(2), &tokens, &bt, &cfg, Step::Fast);
    let d = rel_err(&d2, &d1);
    assert!(
        d < 0.05,
        "2-thread deltas differ from 1-thread deltas by {d}"
    );
}
