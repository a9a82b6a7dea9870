//! What the conformance tests train on and how they train it: test data, a model with its tables,
//! the backend `State`, one call of a training step, and the reference step to compare with. The
//! only place tests build a `State` or call a step, so an API change lands here.

use w2v_gpu::backend::{composed, Backend, OptimizerKind, State, StepStats, Storage};
use w2v_gpu::train::plan::{Batch, Chunk, ModelKind, StepConfig, SENTENCE_BREAK};
use w2v_gpu::train::reference::{self, Totals, Weights};
use w2v_gpu::train::rng::{draw, unit_f32, PURPOSE_INIT};
use w2v_gpu::train::sampler::{keep_thresholds, AliasTable, NegativeMode};

/// Uniform values in `[lo, hi)` keyed by `seed` (the project's Philox, so runs repeat).
pub fn uniform(seed: u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n as u64)
        .map(|i| lo + (hi - lo) * unit_f32(draw(seed, i, PURPOSE_INIT, 0)[0]))
        .collect()
}

/// `n` ids below `below` keyed by `seed`.
pub fn ids(seed: u64, n: usize, below: u32) -> Vec<u32> {
    (0..n as u64)
        .map(|i| w2v_gpu::train::rng::below(draw(seed, i, PURPOSE_INIT, 1)[1], below))
        .collect()
}

/// `|got − want| ≤ atol + rtol·|want|` elementwise, with a message naming the first failure.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= atol + rtol * w.abs(),
            "{what}: element {i} is {g}, want {w}"
        );
    }
}

/// `‖a − b‖ / ‖b‖`.
pub fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (num / den).sqrt()
}

pub fn delta(after: &[f32], before: &[f32]) -> Vec<f32> {
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}

/// A step configuration with window 4 and 5 negatives.
pub fn step_cfg(model: ModelKind, negatives: NegativeMode, seed: u64) -> StepConfig {
    StepConfig {
        model,
        window: 4,
        fixed_window: false,
        negative: 5,
        negatives,
        seed,
    }
}

/// A batch in epoch 1 whose rate ramps from `lr` down to `lr / 2`.
pub fn batch(start: usize, len: usize, corpus_len: usize, lr: f32) -> Batch {
    Batch {
        start,
        len,
        epoch: 1,
        corpus_len: corpus_len as u64,
        lr_begin: lr,
        lr_end: lr * 0.5,
    }
}

/// Which step trains: the backend's fast path or the book's composed layers (minibatches of
/// `minibatch` centres).
#[derive(Clone, Copy, Debug)]
pub enum Step {
    Fast,
    Composed { minibatch: usize },
}

/// A model and its tables: the initial weights, the sampling table and the subsampling thresholds.
#[derive(Clone)]
pub struct Model {
    pub counts: Vec<u64>,
    pub dim: usize,
    pub w_in: Vec<f32>,
    pub w_out: Vec<f32>,
    pub alias: AliasTable,
    pub keep: Vec<u32>,
}

impl Model {
    /// Word counts `counts`, subsampling at `sample`, weights as given.
    pub fn new(counts: &[u64], sample: f64, dim: usize, w_in: Vec<f32>, w_out: Vec<f32>) -> Model {
        Model {
            counts: counts.to_vec(),
            dim,
            w_in,
            w_out,
            alias: AliasTable::unigram(counts, 0.75),
            keep: keep_thresholds(counts, sample),
        }
    }

    /// A Zipf-like vocabulary (`1 + 20000 / rank`) subsampled at 1e-3, small random weights.
    pub fn zipf(vocab: usize, dim: usize) -> Model {
        let counts: Vec<u64> = (1..=vocab as u64).map(|r| 1 + 20_000 / r).collect();
        let scale = 0.5 / dim as f32;
        let w_in = uniform(1, vocab * dim, -scale, scale);
        Model::new(&counts, 1e-3, dim, w_in, uniform(2, vocab * dim, -0.1, 0.1))
    }

    pub fn vocab(&self) -> usize {
        self.alias.len()
    }

    /// `len` corpus tokens drawn from the word counts, with a sentence break about every 25 tokens.
    pub fn corpus(&self, len: usize) -> Vec<u32> {
        let table = AliasTable::unigram(&self.counts, 1.0);
        (0..len as u64)
            .map(|i| {
                let r = draw(77, i, PURPOSE_INIT, 2);
                if r[2].is_multiple_of(25) {
                    SENTENCE_BREAK
                } else {
                    table.sample(r[0], r[1])
                }
            })
            .collect()
    }

    /// The model on backend `b` with f32 storage and SGD.
    pub fn state<B: Backend>(&self, b: &B) -> State<B> {
        self.state_with(b, Storage::F32, OptimizerKind::Sgd)
    }

    pub fn state_with<B: Backend>(
        &self,
        b: &B,
        storage: Storage,
        optimizer: OptimizerKind,
    ) -> State<B> {
        State::with_storage(
            b,
            self.dim,
            &self.w_in,
            &self.w_out,
            self.alias.clone(),
            self.keep.clone(),
            optimizer,
            storage,
        )
        .unwrap()
    }

    /// The reference step ([`reference::train_batch`]) over `batches` from this model's weights:
    /// its totals and the updates of `w_in` and `w_out`.
    pub fn reference(
        &self,
        tokens: &[u32],
        batches: &[Batch],
        cfg: &StepConfig,
    ) -> (Totals, Vec<f32>, Vec<f32>) {
        let (mut w_in, mut w_out) = (self.w_in.clone(), self.w_out.clone());
        let mut totals = Totals::default();
        for bt in batches {
            let model = Weights {
                dim: self.dim,
                w_in: &mut w_in,
                w_out: &mut w_out,
            };
            let t = reference::train_batch(tokens, bt, cfg, &self.keep, &self.alias, model);
            totals.loss_sum += t.loss_sum;
            totals.examples += t.examples;
        }
        (totals, delta(&w_in, &self.w_in), delta(&w_out, &self.w_out))
    }

    /// Trains `batches` on `b` from a fresh state with `storage` and `optimizer`: the summed
    /// stats and the updates of `w_in` and `w_out`.
    #[allow(clippy::too_many_arguments)]
    pub fn run_with<B: Backend>(
        &self,
        b: &B,
        tokens: &[u32],
        batches: &[Batch],
        cfg: &StepConfig,
        step: Step,
        storage: Storage,
        optimizer: OptimizerKind,
    ) -> (StepStats, Vec<f32>, Vec<f32>) {
        let mut st = self.state_with(b, storage, optimizer);
        let stats = train(b, &mut st, tokens, batches, cfg, step);
        let (w_in, w_out) = st.model.download(b).unwrap();
        (stats, delta(&w_in, &self.w_in), delta(&w_out, &self.w_out))
    }

    /// [`Model::run_with`] with f32 storage and SGD.
    pub fn run<B: Backend>(
        &self,
        b: &B,
        tokens: &[u32],
        batches: &[Batch],
        cfg: &StepConfig,
        step: Step,
    ) -> (StepStats, Vec<f32>, Vec<f32>) {
        self.run_with(
            b,
            tokens,
            batches,
            cfg,
            step,
            Storage::F32,
            OptimizerKind::Sgd,
        )
    }
}

/// Trains `batches` of `tokens` into `st` with `step`; the summed stats.
pub fn train<B: Backend>(
    b: &B,
    st: &mut State<B>,
    tokens: &[u32],
    batches: &[Batch],
    cfg: &StepConfig,
    step: Step,
) -> StepStats {
    let mut stats = StepStats::default();
    let chunk = Chunk::whole(tokens);
    for bt in batches {
        let r = match step {
            Step::Fast => b.train_batch(&mut st.model, &st.tables, &chunk, bt, cfg),
            Step::Composed { minibatch } => {
                composed::train_batch(b, st, &chunk, bt, cfg, minibatch)
            }
        };
        stats.add(&r.unwrap_or_else(|e| panic!("{} {step:?}: {e}", b.name())));
    }
    stats
}

/// Device bytes of a state's `w_in` and `w_out` (f32 buffers, or the 16-bit ones with f16/bf16 storage).
#[cfg(any(feature = "emulator", feature = "cuda"))]
pub fn weight_bytes<D: w2v_gpu::backend::cuda::Device>(
    st: &State<w2v_gpu::backend::cuda::CudaBackend<D>>,
) -> usize {
    use w2v_gpu::backend::Weights as Stored;
    match &st.model.weights {
        Stored::F32 { w_in, w_out } => 4 * (w_in.len() + w_out.len()),
        Stored::F16 { w_in, w_out } => 2 * (w_in.len() + w_out.len()),
        Stored::Bf16 { w_in, w_out } => 2 * (w_in.len() + w_out.len()),
    }
}
