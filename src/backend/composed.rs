//! The book's forward/backward, composed from a backend's layer operations.
//!
//! Per minibatch of `batch_size` centres (enumerated by [`plan::centres`]):
//! ```text
//! skip-gram: h = gather(w_in, contexts)                   [P, dim], one row per (context, centre) pair
//! cbow:      h = segment_mean(gather(w_in, contexts))     [N, dim], one row per centre
//! rows   = gather(w_out, targets)                         [P·(1+K), dim], targets = [centre, negatives…]
//! scores = batched_dot(h, rows)                           [P·(1+K)]
//! loss, g = sigmoid_bce(scores, labels)                   labels = [1, 0, …, 0] per row group
//! grad_h, grad_rows = batched_dot_backward(g, h, rows)
//! grad_out += scatter_add(grad_rows at targets); grad_in += scatter_add(grad_h at contexts)
//! optimiser rows (SGD or lazy Adam) on the distinct touched rows, which also re-zeroes the gradients
//! ```
//! All parameters are read before any is written within a minibatch (a true minibatch gradient);
//! the learning rate is the ramp's value at the minibatch's first centre.

use crate::backend::{AdamMoments, AdamStep, Backend, Gradients, Model, State, StepStats};
use crate::error::Result;
use crate::train::plan::{self, Batch, Centre, Chunk, ModelKind, StepConfig};

/// Adam's constants (the book's and PyTorch's defaults).
pub const ADAM_BETA1: f32 = 0.9;
pub const ADAM_BETA2: f32 = 0.999;
pub const ADAM_EPS: f32 = 1e-8;

/// Host-side index arrays of one minibatch.
#[derive(Default)]
struct Minibatch {
    /// Skip-gram: one context per pair. CBOW: all contexts of all centres, concatenated.
    contexts: Vec<u32>,
    /// CBOW: `offsets[c]..offsets[c+1]` are centre `c`'s contexts; skip-gram: unused.
    offsets: Vec<u32>,
    /// CBOW: for each context row, the centre it belongs to (to broadcast the gradient back).
    segment_of: Vec<u32>,
    /// `[rows of h, 1 + K]` target ids and labels.
    targets: Vec<u32>,
    labels: Vec<f32>,
    centres: u64,
    first_index: Option<usize>,
}

impl Minibatch {
    fn push(&mut self, c: &Centre, model: ModelKind) {
        if c.contexts.is_empty() {
            return;
        }
        self.first_index.get_or_insert(c.index);
        self.centres += 1;
        let push_targets = |m: &mut Self| {
            m.targets.push(c.word);
            m.targets.extend_from_slice(&c.negatives);
            m.labels.push(1.0);
            m.labels.extend(std::iter::repeat_n(0.0, c.negatives.len()));
        };
        match model {
            ModelKind::Skipgram => {
                for &ctx in &c.contexts {
                    self.contexts.push(ctx);
                    push_targets(self);
                }
            }
            ModelKind::Cbow => {
                if self.offsets.is_empty() {
                    self.offsets.push(0);
                }
                let seg = self.offsets.len() as u32 - 1;
                self.contexts.extend_from_slice(&c.contexts);
                self.segment_of
                    .extend(std::iter::repeat_n(seg, c.contexts.len()));
                self.offsets.push(self.contexts.len() as u32);
                push_targets(self);
            }
        }
    }

    fn clear(&mut self) {
        *self = Minibatch::default();
    }
}

fn distinct(ids: &[u32]) -> Vec<u32> {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// Trains `batch` with the composed layers, in minibatches of `batch_size` centres.
pub fn train_batch<B: Backend>(
    backend: &B,
    state: &mut State<B>,
    chunk: &Chunk,
    batch: &Batch,
    cfg: &StepConfig,
    batch_size: usize,
) -> Result<StepStats> {
    let mut stats = StepStats::default();
    let mut mb = Minibatch::default();
    let mut failure = None;
    let State {
        model,
        tables,
        grads,
        adam,
    } = state;
    let frozen = tables.frozen_in.as_deref();
    plan::centres(chunk, batch, &tables.keep, &tables.alias, cfg, |c| {
        if failure.is_some() {
            return;
        }
        mb.push(c, cfg.model);
        if mb.centres as usize >= batch_size.max(1) {
            match step(backend, model, grads, adam, &mb, (batch, frozen), cfg) {
                Ok(s) => stats.add(&s),
                Err(e) => failure = Some(e),
            }
            mb.clear();
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    if mb.centres > 0 {
        stats.add(&step(
            backend,
            model,
            grads,
            adam,
            &mb,
            (batch, frozen),
            cfg,
        )?);
    }
    Ok(stats)
}

/// One minibatch: forward, backward, and the optimiser on the rows it touched.
fn step<B: Backend>(
    b: &B,
    model: &mut Model<B>,
    grads: &mut Option<Gradients<B>>,
    adam: &mut Option<AdamMoments<B>>,
    mb: &Minibatch,
    (batch, frozen_in): (&Batch, Option<&[bool]>),
    cfg: &StepConfig,
) -> Result<StepStats> {
    let (dim, n) = (model.dim, model.vocab_size * model.dim);
    let (w_in, w_out) = model
        .f32_mut()
        .expect("choose_step composes f32 weights only");
    let per_row = 1 + cfg.negative as usize;
    let n_targets = mb.targets.len();
    let n_h = n_targets / per_row;
    let ctx_idx = b.upload(&mb.contexts)?;
    let tgt_idx = b.upload(&mb.targets)?;
    let labels = b.upload(&mb.labels)?;

    // Forward.
    let mut ctx_rows = b.zeros(mb.contexts.len() * dim)?;
    b.gather(w_in, dim, &ctx_idx, &mut ctx_rows)?;
    let h = match cfg.model {
        ModelKind::Skipgram => ctx_rows,
        ModelKind::Cbow => {
            let offsets = b.upload(&mb.offsets)?;
            let mut h = b.zeros(n_h * dim)?;
            b.segment_mean(&ctx_rows, dim, &offsets, &mut h)?;
            h
        }
    };
    let mut rows = b.zeros(n_targets * dim)?;
    b.gather(w_out, dim, &tgt_idx, &mut rows)?;
    let mut scores = b.zeros(n_targets)?;
    b.batched_dot(&h, &rows, dim, per_row, &mut scores)?;
    let mut loss = b.zeros(n_targets)?;
    let mut g = b.zeros(n_targets)?;
    b.sigmoid_bce(&scores, &labels, &mut loss, &mut g)?;

    // Backward.
    let mut grad_h = b.zeros(n_h * dim)?;
    let mut grad_rows = b.zeros(n_targets * dim)?;
    b.batched_dot_backward(&g, &h, &rows, dim, per_row, &mut grad_h, &mut grad_rows)?;
    if grads.is_none() {
        *grads = Some(Gradients {
            w_in: b.zeros(n)?,
            w_out: b.zeros(n)?,
        });
    }
    let Some(Gradients {
        w_in: grad_in,
        w_out: grad_out,
    }) = grads.as_mut()
    else {
        unreachable!("allocated above")
    };
    b.scatter_add(&grad_rows, dim, &tgt_idx, 1.0, grad_out)?;
    match cfg.model {
        ModelKind::Skipgram => b.scatter_add(&grad_h, dim, &ctx_idx, 1.0, grad_in)?,
        ModelKind::Cbow => {
            // word2vec.c adds the mean's gradient to every context row unscaled.
            let seg = b.upload(&mb.segment_of)?;
            let mut per_ctx = b.zeros(mb.contexts.len() * dim)?;
            b.gather(&grad_h, dim, &seg, &mut per_ctx)?;
            b.scatter_add(&per_ctx, dim, &ctx_idx, 1.0, grad_in)?;
        }
    }

    // Optimiser on the distinct touched rows.
    let lr = batch.lr_at(mb.first_index.unwrap_or(batch.start));
    let mut touched_in = distinct(&mb.contexts);
    if let Some(frozen) = frozen_in {
        // `--freeze-init`: the frozen rows' gradients are never applied.
        touched_in.retain(|&r| !frozen[r as usize]);
    }
    let rows_in = b.upload(&touched_in)?;
    let rows_out = b.upload(&distinct(&mb.targets))?;
    match adam {
        None => {
            b.sgd_rows(w_in, grad_in, dim, &rows_in, lr)?;
            b.sgd_rows(w_out, grad_out, dim, &rows_out, lr)?;
        }
        Some(adam) => {
            adam.t += 1;
            let step = AdamStep {
                lr,
                beta1: ADAM_BETA1,
                beta2: ADAM_BETA2,
                eps: ADAM_EPS,
                t: adam.t,
            };
            b.adam_rows(
                w_in,
                &mut adam.m_in,
                &mut adam.v_in,
                grad_in,
                dim,
                &rows_in,
                step,
            )?;
            let (m, v) = (&mut adam.m_out, &mut adam.v_out);
            b.adam_rows(w_out, m, v, grad_out, dim, &rows_out, step)?;
        }
    }

    let loss_sum: f64 = b.download(&loss)?.iter().map(|&l| l as f64).sum();
    Ok(StepStats {
        loss_sum,
        examples: n_targets as u64,
        centres: mb.centres,
    })
}
