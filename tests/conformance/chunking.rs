//! The CUDA backend's resident corpus chunk: training through a small chunk equals training with
//! the whole corpus resident, batch by batch and for one batch larger than the chunk (split at
//! chunk edges with the rate ramp carried over), serially to rounding and concurrently to first order.

use w2v_gpu::backend::Backend;
use w2v_gpu::train::plan::{Batch, ModelKind, SENTENCE_BREAK, SPAN_LEN};
use w2v_gpu::train::sampler::NegativeMode;

use crate::common::devices::{conformance, KernelDevice};
use crate::common::fixture::{batch, rel_err, step_cfg, Model, Step};

fn chunked<T: KernelDevice>(dev: &T) {
    let m = Model::zipf(400, 16);
    let tokens = m.corpus(5 * SPAN_LEN + 777);
    let n = tokens.len();
    let c = step_cfg(ModelKind::Skipgram, NegativeMode::Replace, 2024);
    // Serial launches, so that only the chunk scheduling differs between the runs.
    let whole = dev.with_chunk(8 * SPAN_LEN).serial();
    let small = dev.with_chunk(2 * SPAN_LEN).serial();
    assert_eq!(small.preferred_batch_tokens(), 2 * SPAN_LEN);
    // The trainer's way: batches no larger than the chunk, span-aligned.
    let pieces: Vec<Batch> = (0..n)
        .step_by(2 * SPAN_LEN)
        .map(|a| batch(a, (2 * SPAN_LEN).min(n - a), n, 0.02))
        .collect();
    let (ws, wi, wo) = m.run(&whole, &tokens, &pieces, &c, Step::Fast);
    let (ss, si, so) = m.run(&small, &tokens, &pieces, &c, Step::Fast);
    assert_eq!(ws.examples, ss.examples);
    assert_eq!(ws.words, ss.words);
    assert_eq!(
        ws.words,
        tokens.iter().filter(|&&t| t != SENTENCE_BREAK).count() as u64
    );
    let (ei, eo) = (rel_err(&si, &wi), rel_err(&so, &wo));
    assert!(
        ei < 1e-6 && eo < 1e-6,
        "chunked training differs from unchunked: {ei:.2e} {eo:.2e}"
    );
    // One batch larger than the chunk: split at chunk edges with the ramp carried over.
    let one = [batch(0, n, n, 0.02)];
    let (bs, bi, bo) = m.run(&small, &tokens, &one, &c, Step::Fast);
    let (us, ui, uo) = m.run(&whole, &tokens, &one, &c, Step::Fast);
    assert_eq!(bs.examples, us.examples);
    assert!((bs.loss_sum - us.loss_sum).abs() < 1e-6 * us.loss_sum);
    let (ei, eo) = (rel_err(&bi, &ui), rel_err(&bo, &uo));
    assert!(
        ei < 1e-6 && eo < 1e-6,
        "a batch split over chunks differs: {ei:.2e} {eo:.2e}"
    );
    // The default (concurrent) launches, chunked: the same examples, and at a small rate, where
    // Hogwild's interleaving only matters at second order, updates near the serial run's.
    let slow: Vec<Batch> = pieces
        .iter()
        .map(|b| Batch {
            lr_begin: 1e-4,
            lr_end: 5e-5,
            ..b.clone()
        })
        .collect();
    let concurrent = dev.with_chunk(2 * SPAN_LEN);
    let (cs, ci, co) = m.run(&concurrent, &tokens, &slow, &c, Step::Fast);
    let (ts, ti, to) = m.run(&whole, &tokens, &slow, &c, Step::Fast);
    assert_eq!(cs.examples, ts.examples);
    let (ei, eo) = (rel_err(&ci, &ti), rel_err(&co, &to));
    assert!(
        ei < 1e-2 && eo < 1e-2,
        "concurrent chunked run vs serial: {ei:.2e} {eo:.2e}"
    );
}
conformance!(
    chunked_training_matches_unchunked,
    chunked,
    [emulated, cuda]
);
