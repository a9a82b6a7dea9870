//! The book's composed path (gather, batched dot, fused BCE, scatter-add, SGD or lazy Adam rows):
//! every device's fast path agrees with it to first order at a small rate, serially and (CUDA)
//! concurrently; a CUDA device's composition agrees with the CPU's (whose layers `layers` checks)
//! to float rounding; and Adam trains through it.

use w2v_gpu::backend::cpu::CpuBackend;
use w2v_gpu::backend::{Backend, OptimizerKind, Storage};
use w2v_gpu::train::plan::{ModelKind, SENTENCE_BREAK, SPAN_LEN};
use w2v_gpu::train::rng;
use w2v_gpu::train::sampler::NegativeMode;

#[cfg(any(feature = "emulator", feature = "cuda"))]
use crate::common::devices::KernelDevice;
use crate::common::devices::{conformance, TestDevice};
use crate::common::fixture::{batch, delta, rel_err, step_cfg, train, uniform, Model, Step};

const VOCAB: usize = 50;

/// A skewed random corpus over `VOCAB` words with a sentence break every 5..=24 tokens.
pub fn small_vocab_corpus(seed: u64, len: usize) -> Vec<u32> {
    let mut tokens = Vec::with_capacity(len);
    let mut until_break = 5;
    for i in 0..len as u64 {
        let r = rng::draw(seed, i, 9, 0);
        if until_break == 0 {
            tokens.push(SENTENCE_BREAK);
            until_break = 5 + rng::below(r[2], 20);
        } else {
            // The product of two uniforms skews toward small (frequent) ids.
            let v = VOCAB as u32;
            tokens.push(rng::below(r[0], v) * rng::below(r[1], v) / v);
            until_break -= 1;
        }
    }
    tokens
}

/// A model of the words of `tokens` (each counted once more), weights uniform in ±0.5.
pub fn small_vocab_model(tokens: &[u32], dim: usize, sample: f64) -> Model {
    let mut counts = vec![1u64; VOCAB];
    for &t in tokens.iter().filter(|&&t| t != SENTENCE_BREAK) {
        counts[t as usize] += 1;
    }
    let (w_in, w_out) = (
        uniform(3, VOCAB * dim, -0.5, 0.5),
        uniform(4, VOCAB * dim, -0.5, 0.5),
    );
    Model::new(&counts, sample, dim, w_in, w_out)
}

fn fast_matches_composed<T: TestDevice>(dev: &T) {
    // One worker against the composed path (the CPU's, minibatches of 32 centres: a CUDA device's
    // own composition is checked against it below).
    let (b, cpu) = (dev.serial(), CpuBackend::new(1));
    let tokens = small_vocab_corpus(5, 2 * SPAN_LEN + 3000);
    let m = small_vocab_model(&tokens, 16, 1e-2);
    let bt = [w2v_gpu::train::plan::Batch {
        epoch: 1,
        lr_end: 5e-4,
        ..batch(0, tokens.len(), tokens.len(), 1e-3)
    }];
    for model in [ModelKind::Skipgram, ModelKind::Cbow] {
        for negatives in [NegativeMode::Replace, NegativeMode::Distinct] {
            let cfg = step_cfg(model, negatives, 17);
            let what = format!("{model:?} {negatives:?} on {}", b.name());
            let (sf, fi, fo) = m.run(&b, &tokens, &bt, &cfg, Step::Fast);
            let (ss, si, so) = m.run(&cpu, &tokens, &bt, &cfg, Step::Composed { minibatch: 32 });
            assert_eq!(sf.examples, ss.examples, "{what}");
            if dev.fast_path_counts_centres() {
                assert_eq!(sf.centres, ss.centres, "{what}: centres");
            }
            assert!(ss.centres > 1000, "{what}: {ss:?}");
            assert!(
                (sf.loss_sum - ss.loss_sum).abs() < 2e-3 * ss.loss_sum,
                "{what}: {sf:?} vs {ss:?}"
            );
            let (d_in, d_out) = (rel_err(&fi, &si), rel_err(&fo, &so));
            assert!(
                d_in < 0.02 && d_out < 0.02,
                "{what}: relative delta differences {d_in} (w_in) {d_out} (w_out)"
            );
            // The deltas are real (not both ~zero).
            assert!(fi.iter().any(|&x| x.abs() > 1e-4), "{what}");
        }
    }
}
// Not on the emulator, to keep CI short: its serial steps equal the reference step (`fused`) and its
// composition the CPU's (below).
conformance!(
    fast_path_matches_composed_to_first_order,
    fast_matches_composed,
    [cpu, cuda]
);

#[cfg(any(feature = "emulator", feature = "cuda"))]
/// The default (concurrent) fused steps against the CPU's composition, minibatches of 64.
fn concurrent_matches_composed<T: KernelDevice>(dev: &T) {
    let (fast, cpu) = (dev.open(), CpuBackend::new(1));
    let m = Model::zipf(400, 24);
    let tokens = m.corpus(3 * SPAN_LEN + 1000);
    let bt = [batch(100, tokens.len() - 200, tokens.len(), 1e-4)];
    for model in [ModelKind::Skipgram, ModelKind::Cbow] {
        for mode in [NegativeMode::Replace, NegativeMode::Distinct] {
            let cfg = step_cfg(model, mode, 2024);
            let what = format!("{model:?} {mode:?} on {}", fast.name());
            let (fs, fi, fo) = m.run(&fast, &tokens, &bt, &cfg, Step::Fast);
            let (cs, ci, co) = m.run(&cpu, &tokens, &bt, &cfg, Step::Composed { minibatch: 64 });
            assert_eq!(fs.examples, cs.examples, "{what}: examples vs composed");
            let loss_rel = (fs.loss_sum - cs.loss_sum).abs() / cs.loss_sum;
            assert!(
                loss_rel < 1e-3,
                "{what}: loss {} vs composed {}",
                fs.loss_sum,
                cs.loss_sum
            );
            for (name, f, c) in [("w_in", &fi, &ci), ("w_out", &fo, &co)] {
                let e = rel_err(f, c);
                assert!(
                    e < 2e-2,
                    "{what}: {name} update differs from composed by {e:.2e}"
                );
            }
        }
    }
}
#[cfg(any(feature = "emulator", feature = "cuda"))]
conformance!(
    concurrent_fused_steps_match_composed_to_first_order,
    concurrent_matches_composed,
    [emulated, cuda]
);

#[cfg(any(feature = "emulator", feature = "cuda"))]
/// The same minibatches on the device and on the CPU: only the order of float additions in the
/// device's atomic scatter differs.
fn composed_matches_cpu<T: KernelDevice>(dev: &T) {
    let (g, cpu) = (dev.open(), CpuBackend::new(1));
    let m = Model::zipf(300, 20);
    let tokens = m.corpus(SPAN_LEN + 3000);
    let bt = [batch(0, tokens.len(), tokens.len(), 0.02)];
    for optimizer in [OptimizerKind::Sgd, OptimizerKind::Adam] {
        for model in [ModelKind::Skipgram, ModelKind::Cbow] {
            let cfg = step_cfg(model, NegativeMode::Distinct, 2024);
            let step = Step::Composed { minibatch: 64 };
            let (gs, gi, go) = m.run_with(&g, &tokens, &bt, &cfg, step, Storage::F32, optimizer);
            let (cs, ci, co) = m.run_with(&cpu, &tokens, &bt, &cfg, step, Storage::F32, optimizer);
            let what = format!("{optimizer:?} {model:?}");
            assert_eq!(gs.examples, cs.examples, "{what}: examples");
            assert!(gs.examples > 0);
            assert!(
                (gs.loss_sum - cs.loss_sum).abs() < 1e-5 * cs.loss_sum,
                "{what}: loss"
            );
            let (ei, eo) = (rel_err(&gi, &ci), rel_err(&go, &co));
            assert!(
                ei < 1e-5 && eo < 1e-5,
                "{what}: composed updates differ: {ei:.2e} {eo:.2e}"
            );
        }
    }
}
#[cfg(any(feature = "emulator", feature = "cuda"))]
conformance!(
    composed_path_matches_the_cpu,
    composed_matches_cpu,
    [emulated, cuda]
);

/// Adam is the composed path's: the step decision gives Adam the composed step on every device,
/// which applies one update per minibatch and moves the weights.
fn adam_is_composed<T: TestDevice>(dev: &T) {
    let b = dev.open();
    let adam_cfg = w2v_gpu::train::TrainConfig {
        optimizer: OptimizerKind::Adam,
        ..w2v_gpu::train::TrainConfig::default()
    };
    let decided = w2v_gpu::backend::choose_step(&b.name(), &b.capabilities(), &adam_cfg);
    assert_eq!(decided.unwrap(), w2v_gpu::backend::Step::Composed);
    let tokens = small_vocab_corpus(12, 3000);
    let m = small_vocab_model(&tokens, 8, 0.0);
    let cfg = step_cfg(ModelKind::Skipgram, NegativeMode::Replace, 17);
    let bt = [w2v_gpu::train::plan::Batch {
        epoch: 0,
        lr_end: 0.001,
        ..batch(0, tokens.len(), tokens.len(), 0.01)
    }];
    let mut st = m.state_with(&b, Storage::F32, OptimizerKind::Adam);
    let stats = train(
        &b,
        &mut st,
        &tokens,
        &bt,
        &cfg,
        Step::Composed { minibatch: 64 },
    );
    let t = st.adam.as_ref().expect("Adam moments").t;
    assert!(
        t > 1 && t == stats.centres.div_ceil(64),
        "{t} updates, {stats:?}"
    );
    let (w_in, _) = st.model.download(&b).unwrap();
    assert!(delta(&w_in, &m.w_in).iter().any(|&x| x != 0.0));
}
conformance!(adam_trains_through_the_composed_path, adam_is_composed);
