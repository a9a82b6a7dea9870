//! The executable reference of one training step: [`plan`]'s contract as plain sequential code.
//!
//! Every backend's fast path is checked against [`train_batch`] (tests/conformance): the CPU
//! backend with one thread and the CUDA fused kernels on a single warp train the same centres in
//! the same order with the same arithmetic, so they agree with it to float rounding; with more
//! threads or warps (Hogwild) they agree to first order in the learning rate. It is written to be
//! read, not to be fast: one centre at a time, every row copied out before it is used.
//!
//! Per centre (in corpus order, as [`plan::centres`] enumerates them):
//! - the targets are `[centre, negative_1..negative_K]`; their `w_out` rows are read once, when the
//!   centre starts, and their gradient is summed over the centre's examples;
//! - skip-gram: every context row `w_in[c]` is an input `h`; its update is applied as soon as its
//!   example is done (so a context repeated within the window sees its own earlier update);
//! - CBOW: one input, the mean of the context rows, whose gradient is added unscaled to every
//!   context row (word2vec.c);
//! - the targets' summed updates are applied at the centre's end.
//!
//! The loss of an example with score `x` and label `t` is `max(x, 0) − x·t + ln(1 + e^−|x|)`
//! (binary cross-entropy, stable for any `x`); its gradient with respect to `x` is `σ(x) − t`.

use crate::train::plan::{self, Batch, Chunk, ModelKind, StepConfig};
use crate::train::sampler::AliasTable;

/// The model a reference step updates in place: `[vocab, dim]` row-major matrices.
pub struct Weights<'a> {
    pub dim: usize,
    pub w_in: &'a mut [f32],
    pub w_out: &'a mut [f32],
}

/// What a reference step reports: the summed loss and the number of (positive or negative)
/// examples, as a backend's `StepStats::loss_sum` and `StepStats::examples`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    pub loss_sum: f64,
    pub examples: u64,
}

/// Trains `batch` of the encoded corpus `tokens` into `model`, sequentially, per [`plan`].
/// `keep` and `table` are the subsampling thresholds and the negative-sampling alias table.
pub fn train_batch(
    tokens: &[u32],
    batch: &Batch,
    cfg: &StepConfig,
    keep: &[u32],
    table: &AliasTable,
    model: Weights<'_>,
) -> Totals {
    let Weights { dim, w_in, w_out } = model;
    let row = |id: u32| id as usize * dim..(id as usize + 1) * dim;
    let mut totals = Totals::default();
    plan::centres(&Chunk::whole(tokens), batch, keep, table, cfg, |c| {
        if c.contexts.is_empty() {
            return;
        }
        let lr = batch.lr_at(c.index);
        let targets: Vec<u32> = std::iter::once(c.word)
            .chain(c.negatives.iter().copied())
            .collect();
        let rows: Vec<Vec<f32>> = targets.iter().map(|&t| w_out[row(t)].to_vec()).collect();
        match cfg.model {
            ModelKind::Skipgram => {
                let mut acc = vec![vec![0.0f32; dim]; targets.len()];
                for &ctx in &c.contexts {
                    let h = w_in[row(ctx)].to_vec();
                    let (steps, grad_h) = example(&h, &rows, lr, &mut totals.loss_sum);
                    for (a, g) in acc.iter_mut().zip(&steps) {
                        a.iter_mut().zip(&h).for_each(|(a, x)| *a += g * x);
                    }
                    subtract(&mut w_in[row(ctx)], &grad_h);
                }
                for (&id, a) in targets.iter().zip(&acc) {
                    subtract(&mut w_out[row(id)], a);
                }
                totals.examples += (c.contexts.len() * targets.len()) as u64;
            }
            ModelKind::Cbow => {
                let inv = 1.0 / c.contexts.len() as f32;
                let h: Vec<f32> = (0..dim)
                    .map(|d| {
                        c.contexts
                            .iter()
                            .map(|&x| w_in[x as usize * dim + d])
                            .sum::<f32>()
                            * inv
                    })
                    .collect();
                let (steps, grad_h) = example(&h, &rows, lr, &mut totals.loss_sum);
                for (&id, g) in targets.iter().zip(&steps) {
                    let update: Vec<f32> = h.iter().map(|x| g * x).collect();
                    subtract(&mut w_out[row(id)], &update);
                }
                for &ctx in &c.contexts {
                    subtract(&mut w_in[row(ctx)], &grad_h);
                }
                totals.examples += targets.len() as u64;
            }
        }
    });
    totals
}

/// One input `h` against the target rows (the first is the positive): adds the examples' loss to
/// `loss` and returns each target's scaled gradient `lr·(σ(h·row) − label)` and the gradient of `h`,
/// `Σ_t step_t · row_t`.
fn example(h: &[f32], rows: &[Vec<f32>], lr: f32, loss: &mut f64) -> (Vec<f32>, Vec<f32>) {
    let steps: Vec<f32> = rows
        .iter()
        .enumerate()
        .map(|(t, row)| {
            let x: f32 = h.iter().zip(row).map(|(a, b)| a * b).sum();
            let label = if t == 0 { 1.0 } else { 0.0 };
            // σ(x) from e^−|x|, which never overflows.
            let e = (-x.abs()).exp();
            let sigma = if x >= 0.0 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            };
            *loss += (x.max(0.0) - x * label + e.ln_1p()) as f64;
            lr * (sigma - label)
        })
        .collect();
    let grad_h = (0..h.len())
        .map(|d| steps.iter().zip(rows).map(|(g, r)| g * r[d]).sum())
        .collect();
    (steps, grad_h)
}

/// `row −= delta`, elementwise.
fn subtract(row: &mut [f32], delta: &[f32]) {
    row.iter_mut().zip(delta).for_each(|(w, d)| *w -= d);
}
