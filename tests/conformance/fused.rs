//! The fast path (CPU Hogwild, CUDA fused steps) on every device against the reference step
//! `w2v_gpu::train::reference`: serially (one thread, one warp) to float rounding, for both models
//! and negative modes, fixed and shrunk windows, the plain and the `_wide` kernels (negative 2..31)
//! and batches that do not start on a span; concurrently (Hogwild) to first order at a small rate;
//! and bit-reproducible when serial. The emulated device runs each body with the v2 step kernels
//! (`emulated`, where they apply: f32, negative ≤ 5) and the v1 ones (`emulated_v1`).

use w2v_gpu::train::plan::{Batch, ModelKind, StepConfig, SENTENCE_BREAK, SPAN_LEN};
use w2v_gpu::train::rng::{self, draw, PURPOSE_INIT};
use w2v_gpu::train::sampler::{AliasTable, NegativeMode};

#[cfg(any(feature = "emulator", feature = "cuda"))]
use crate::common::devices::KernelDevice;
use crate::common::devices::{conformance, TestDevice};
use crate::common::fixture::{assert_close, batch, rel_err, step_cfg, train, uniform, Model, Step};

/// A corpus with one very frequent word (mostly subsampled away), sentence breaks, and `n` tokens.
pub fn skewed_corpus(n: usize, vocab: u32, seed: u64) -> Vec<u32> {
    (0..n as u64)
        .map(|i| {
            let r = draw(seed, i, PURPOSE_INIT, 2);
            if r[0].is_multiple_of(53) {
                SENTENCE_BREAK
            } else if r[1] % 10 < 8 {
                0
            } else {
                1 + rng::below(r[2], vocab - 1)
            }
        })
        .collect()
}

/// Keep thresholds that drop most of word 0, a quarter of the others kept, the last word always.
pub fn keep_table(vocab: u32) -> Vec<u32> {
    let mut keep = vec![u32::MAX / 4; vocab as usize];
    keep[0] = u32::MAX / 40;
    keep[vocab as usize - 1] = u32::MAX;
    keep
}

pub struct Case {
    pub model: ModelKind,
    pub negatives: NegativeMode,
    pub fixed_window: bool,
    pub negative: u32,
    pub dim: usize,
}

/// Two spans from corpus span 1 in epoch 1 (a full one, mostly subsampled away, and a short
/// tail), window 3: the model, the corpus, the batch and the configuration.
pub fn two_spans(case: &Case) -> (Model, Vec<u32>, Batch, StepConfig) {
    let vocab = 40u32;
    let tokens = skewed_corpus(3 * SPAN_LEN, vocab, 5);
    let bt = Batch {
        start: SPAN_LEN,
        len: SPAN_LEN + 700,
        epoch: 1,
        corpus_len: tokens.len() as u64,
        lr_begin: 0.05,
        lr_end: 0.01,
    };
    let counts: Vec<u64> = (1..=vocab as u64).map(|r| 10_000 / r).collect();
    let n = vocab as usize * case.dim;
    let model = Model {
        alias: AliasTable::unigram(&counts, 0.75),
        counts,
        dim: case.dim,
        w_in: uniform(31, n, -0.5, 0.5),
        w_out: uniform(32, n, -0.5, 0.5),
        keep: keep_table(vocab),
    };
    let cfg = StepConfig {
        model: case.model,
        window: 3,
        fixed_window: case.fixed_window,
        negative: case.negative,
        negatives: case.negatives,
        seed: 0x1234_5678_9ABC,
    };
    (model, tokens, bt, cfg)
}

fn serial_matches_reference<T: TestDevice>(dev: &T) {
    let b = dev.serial();
    // Elementwise on two spans: each model and mode, fixed and shrunk windows, 2 to 9 negatives.
    let cases = [
        (ModelKind::Skipgram, NegativeMode::Replace, false, 5, 40),
        (ModelKind::Skipgram, NegativeMode::Distinct, true, 9, 33),
        (ModelKind::Cbow, NegativeMode::Replace, false, 5, 64),
        (ModelKind::Cbow, NegativeMode::Distinct, true, 2, 17),
    ];
    for (model, negatives, fixed_window, negative, dim) in cases {
        let case = Case {
            model,
            negatives,
            fixed_window,
            negative,
            dim,
        };
        let (m, tokens, bt, cfg) = two_spans(&case);
        let what = format!("{model:?} {negatives:?} fixed {fixed_window} negative {negative}");
        let bts = std::slice::from_ref(&bt);
        let (stats, d_in, d_out) = m.run(&b, &tokens, bts, &cfg, Step::Fast);
        let (r, r_in, r_out) = m.reference(&tokens, bts, &cfg);
        assert!(r.examples > 1000, "{what}: the batch trains something");
        assert_eq!(stats.examples, r.examples, "{what}: examples");
        assert!(
            (stats.loss_sum - r.loss_sum).abs() <= 1e-4 * r.loss_sum,
            "{what}: loss {} vs reference {}",
            stats.loss_sum,
            r.loss_sum
        );
        let after =
            |w0: &[f32], d: &[f32]| -> Vec<f32> { w0.iter().zip(d).map(|(a, b)| a + b).collect() };
        let tol = |name: &str| format!("{what}: {name}");
        assert_close(
            &tol("w_in"),
            &after(&m.w_in, &d_in),
            &after(&m.w_in, &r_in),
            2e-5,
            1e-4,
        );
        assert_close(
            &tol("w_out"),
            &after(&m.w_out, &d_out),
            &after(&m.w_out, &r_out),
            2e-5,
            1e-4,
        );
        // The step moved the parameters by far more than the tolerance.
        let moved = d_out.iter().map(|x| x.abs()).fold(0.0f32, f32::max);
        assert!(moved > 1e-2, "{what}: w_out barely moved: {moved}");
    }

    // In norm, a Zipf vocabulary over four spans from a batch that starts and ends mid-span;
    // then the plain kernels at their edge (negative 7) and the `_wide` ones (8..31).
    let m = Model::zipf(400, 24);
    let tokens = m.corpus(3 * SPAN_LEN + 1000);
    let mut runs = Vec::new();
    for model in [ModelKind::Skipgram, ModelKind::Cbow] {
        for mode in [NegativeMode::Replace, NegativeMode::Distinct] {
            let bt = batch(100, tokens.len() - 200, tokens.len(), 2e-3);
            runs.push((step_cfg(model, mode, 2024), bt, tokens.clone()));
        }
    }
    let short = m.corpus(SPAN_LEN + 2000);
    for negative in [7, 8, 15, 16, 31] {
        for model in [ModelKind::Skipgram, ModelKind::Cbow] {
            let cfg = StepConfig {
                negative,
                ..step_cfg(model, NegativeMode::Replace, 2024)
            };
            runs.push((cfg, batch(0, short.len(), short.len(), 2e-3), short.clone()));
        }
    }
    for (cfg, bt, tokens) in runs {
        let what = format!(
            "{:?} {:?} negative {}",
            cfg.model, cfg.negatives, cfg.negative
        );
        let bts = std::slice::from_ref(&bt);
        let (s, d_in, d_out) = m.run(&b, &tokens, bts, &cfg, Step::Fast);
        let (r, r_in, r_out) = m.reference(&tokens, bts, &cfg);
        assert_eq!(s.examples, r.examples, "{what}: examples");
        assert!(s.examples > 0, "{what}");
        assert_eq!(
            s.examples % (1 + cfg.negative as u64),
            0,
            "{what}: examples"
        );
        let loss_rel = (s.loss_sum - r.loss_sum).abs() / r.loss_sum;
        assert!(
            loss_rel < 1e-5,
            "{what}: loss {} vs {}",
            s.loss_sum,
            r.loss_sum
        );
        for (name, got, want) in [("w_in", &d_in, &r_in), ("w_out", &d_out, &r_out)] {
            let e = rel_err(got, want);
            assert!(
                e < 1e-4,
                "{what}: {name} update differs from the reference by {e:.2e}"
            );
        }
    }
}
conformance!(
    serial_fast_path_matches_the_reference_step,
    serial_matches_reference,
    [cpu, emulated, emulated_v1, cuda]
);

#[cfg(any(feature = "emulator", feature = "cuda"))]
fn concurrent_matches_serial<T: KernelDevice>(dev: &T) {
    use w2v_gpu::backend::Backend;
    let (fast, serial) = (dev.open(), dev.serial());
    let m = Model::zipf(400, 24);
    let tokens = m.corpus(3 * SPAN_LEN + 1000);
    let bt = [batch(100, tokens.len() - 200, tokens.len(), 1e-4)];
    for model in [ModelKind::Skipgram, ModelKind::Cbow] {
        for mode in [NegativeMode::Replace, NegativeMode::Distinct] {
            let cfg = step_cfg(model, mode, 2024);
            let what = format!("{model:?} {mode:?} on {}", fast.name());
            // Many centres at once (Hogwild): at a small rate the interleaving changes updates
            // only at second order, so they stay near the serial run's.
            let (fs, fi, fo) = m.run(&fast, &tokens, &bt, &cfg, Step::Fast);
            let (ss, si, so) = m.run(&serial, &tokens, &bt, &cfg, Step::Fast);
            assert_eq!(
                fs.examples, ss.examples,
                "{what}: examples, concurrent vs serial"
            );
            for (name, f, s) in [("w_in", &fi, &si), ("w_out", &fo, &so)] {
                let e = rel_err(f, s);
                assert!(
                    e < 1e-2,
                    "{what}: concurrent {name} update differs from serial by {e:.2e}"
                );
            }
        }
    }
}
#[cfg(any(feature = "emulator", feature = "cuda"))]
// The CPU's threads take equal token ranges each: `cpu::several_threads_reach_the_same_loss` checks them.
conformance!(
    concurrent_fast_path_matches_serial_to_first_order,
    concurrent_matches_serial,
    [emulated, emulated_v1, cuda]
);

fn serial_is_reproducible<T: TestDevice>(dev: &T) {
    let b = dev.serial();
    let m = Model::zipf(50, 32);
    let tokens = m.corpus(3 * SPAN_LEN);
    let bts: Vec<Batch> = (0..2)
        .map(|e| Batch {
            epoch: e,
            ..batch(0, tokens.len(), tokens.len(), 0.025)
        })
        .collect();
    for model in [ModelKind::Skipgram, ModelKind::Cbow] {
        let cfg = step_cfg(model, NegativeMode::Replace, 17);
        let run = || {
            let mut st = m.state(&b);
            let stats = train(&b, &mut st, &tokens, &bts, &cfg, Step::Fast);
            (stats, st.model.download(&b).unwrap())
        };
        let ((sa, (ia, oa)), (sb, (ib, ob))) = (run(), run());
        assert_eq!(sa, sb, "{model:?}");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&ia), bits(&ib), "{model:?}: w_in");
        assert_eq!(bits(&oa), bits(&ob), "{model:?}: w_out");
    }
}
conformance!(
    serial_fast_path_is_bit_reproducible,
    serial_is_reproducible,
    [cpu, emulated, emulated_v1, cuda]
);
