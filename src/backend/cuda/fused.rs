//! The fused SGD step's launches: a `train_batch` call cut into pieces that lie in the resident
//! device chunk, each piece two kernel launches.
//!
//! Per [`crate::backend::Backend::train_batch`] call: a window of the host chunk lives on the
//! device in a device chunk of `chunk_tokens` tokens ([`super::resident`]); each span-aligned
//! piece of the batch is two launches (`w2v_subsample_compact`, then `w2v_skipgram_step` or
//! `w2v_cbow_step`) that take their learning rates from the *batch's* ramp (the piece's offset in
//! its batch goes to the compaction, the batch's start, length and ramp to the step), so a batch
//! trains the same whether it is one piece or many; the loss accumulates on the device and 16
//! bytes come back once per call.
//!
//! With `--storage f16` or `bf16` ([`crate::backend::Storage`]) the model's weights are its 16-bit
//! buffers and the step kernels are the `_f16` or `_bf16` ones (same arguments, 16-bit
//! `w_in`/`w_out`). Which
//! step kernel (v1 or v2, same arguments) and its geometry come from [`super::variant`].

use super::backend::{CudaBackend, PREFERRED_BATCH_TOKENS};
use super::device::{u32_arg, Arg, Device};
use super::resident::{next_span_start, Resident};
use super::{geometry, variant};
use crate::backend::{Model, StepStats, Tables, Weights};
use crate::error::Result;
use crate::train::plan::{Batch, Chunk, ModelKind, StepConfig, SPAN_LEN};
use crate::train::sampler::NegativeMode;

impl<D: Device> CudaBackend<D> {
    /// The fused step over the whole of `batch` (inside `chunk`), piece by piece through the
    /// device chunk.
    pub(super) fn fused_batch(
        &self,
        model: &mut Model<Self>,
        tables: &Tables<Self>,
        chunk: &Chunk,
        batch: &Batch,
        cfg: &StepConfig,
    ) -> Result<StepStats> {
        let mut res = self.resident.lock().unwrap_or_else(|p| p.into_inner());
        let res = &mut *res;
        if res.loss.is_none() {
            res.loss = Some(self.dev.zeros::<f64>(2)?);
        }
        self.dev
            .write(res.loss.as_mut().expect("allocated above"), 0, &[0.0, 0.0])?;
        let end = batch.start + batch.len;
        let mut s = batch.start;
        while s < end {
            if !res.holds(chunk, s) {
                res.upload(&self.dev, self.chunk_tokens, chunk, s)?;
            }
            let mut e = end
                .min(res.start + res.len)
                .min(s + self.chunk_tokens.min(PREFERRED_BATCH_TOKENS));
            if !s.is_multiple_of(SPAN_LEN) {
                // A piece that starts inside a span ends at that span's end (the kernels' spans
                // are counted from the piece's start).
                e = e.min(next_span_start(s));
            }
            self.fused_piece(res, model, tables, batch, &batch.piece(s, e), cfg)?;
            s = e;
        }
        let loss = self
            .dev
            .download(res.loss.as_ref().expect("allocated above"))?;
        let examples = loss[1].round() as u64;
        let centres = match cfg.model {
            ModelKind::Cbow => examples / (1 + cfg.negative as u64),
            // The skip-gram kernel counts (context, centre) examples, not centres.
            ModelKind::Skipgram => 0,
        };
        Ok(StepStats {
            loss_sum: loss[0],
            examples,
            centres,
        })
    }

    /// Two launches for the piece `sub` of `batch` that lies in the device chunk and starts a span
    /// or lies in one.
    fn fused_piece(
        &self,
        res: &mut Resident<D>,
        model: &mut Model<Self>,
        tables: &Tables<Self>,
        batch: &Batch,
        sub: &Batch,
        cfg: &StepConfig,
    ) -> Result<()> {
        let n_spans = sub.len.div_ceil(SPAN_LEN);
        if res.spans < n_spans {
            // Grow for the largest piece this backend can be given, so this happens once.
            let spans = n_spans.max(
                self.chunk_tokens
                    .min(PREFERRED_BATCH_TOKENS)
                    .div_ceil(SPAN_LEN)
                    + 1,
            );
            res.kept_ids = None;
            res.kept_off = None;
            res.kept_ids = Some(self.dev.zeros::<u32>(spans * SPAN_LEN)?);
            res.kept_off = Some(self.dev.zeros::<u32>(spans * SPAN_LEN)?);
            res.kept_count = Some(self.dev.zeros::<u32>(spans)?);
            res.spans = spans;
        }
        let (Some(chunk), Some(kept_ids), Some(kept_off), Some(kept_count), Some(loss)) = (
            &res.tokens,
            &mut res.kept_ids,
            &mut res.kept_off,
            &mut res.kept_count,
            &mut res.loss,
        ) else {
            unreachable!("resident buffers are allocated before a piece runs");
        };
        let piece_len = u32_arg("piece length", sub.len)?;
        let n_spans_arg = u32_arg("spans", n_spans)?;
        self.dev.launch(
            "w2v_subsample_compact",
            geometry::subsample_compact(n_spans),
            &[
                chunk.arg_at(sub.start - res.start),
                piece_len,
                u32_arg("piece offset", sub.start - batch.start)?,
                tables.keep_dev.arg(),
                Arg::U64(cfg.seed),
                Arg::U64(sub.key_pos(sub.start)),
                kept_ids.arg_mut(),
                kept_off.arg_mut(),
                kept_count.arg_mut(),
            ],
        )?;
        let storage = model.storage();
        let dim = model.dim;
        let v2 = variant::runs_v2(self.kernel, storage, cfg.negative, dim);
        let kernel = variant::step_kernel(self.kernel, cfg.model, storage, cfg.negative, dim);
        let (w_in, w_out) = match &mut model.weights {
            Weights::F32 { w_in, w_out } => (w_in.arg_mut(), w_out.arg_mut()),
            Weights::F16 { w_in, w_out } => (w_in.arg_mut(), w_out.arg_mut()),
            Weights::Bf16 { w_in, w_out } => (w_in.arg_mut(), w_out.arg_mut()),
        };
        let props = self.dev.props();
        let step_launch = variant::step_launch(
            props,
            v2,
            self.serial,
            cfg.model,
            n_spans,
            dim,
            cfg.negative,
        );
        let step_launch =
            step_launch.expect("choose_step keeps --dim within the fused step's shared memory");
        let vocab = u32_arg("vocabulary size", model.vocab_size)?;
        let distinct = Arg::U32((cfg.negatives == NegativeMode::Distinct) as u32);
        self.dev.launch(
            kernel,
            step_launch,
            &[
                w_in,
                w_out,
                u32_arg("dim", dim)?,
                kept_ids.arg(),
                kept_off.arg(),
                kept_count.arg(),
                n_spans_arg,
                tables.alias_prob.arg(),
                tables.alias_alias.arg(),
                vocab,
                Arg::U64(cfg.seed),
                Arg::U64(batch.key_pos(batch.start)),
                u32_arg("batch length", batch.len)?,
                Arg::F32(batch.lr_begin),
                Arg::F32(batch.lr_end),
                Arg::U32(cfg.window),
                Arg::U32(cfg.fixed_window as u32),
                Arg::U32(cfg.negative),
                distinct,
                loss.arg_mut(),
            ],
        )
    }
}
