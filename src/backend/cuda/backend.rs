//! `CudaBackend<D>`: the `Backend` trait on a [`Device`], one kernel launch per operation, and the
//! fused `train_batch` with the corpus resident on the device.
//!
//! The same code drives the real GPU and the emulated device; only `D` differs. Launch geometry
//! comes from [`super::geometry`] and the device's properties.
//!
//! Fast path per [`Backend::train_batch`] call: the encoded corpus lives on the device in a chunk of
//! `chunk_tokens` tokens (uploaded again only when a batch leaves it); each span-aligned piece of
//! the batch is two launches (`w2v_subsample_compact`, then `w2v_skipgram_step` or `w2v_cbow_step`);
//! the loss accumulates on the device and 16 bytes come back once per call.
//!
//! With `--storage f16` ([`crate::backend::Storage::F16`]) the state's weights live only in its half
//! buffers and the step kernels are the `_f16` ones (same arguments, half `w_in`/`w_out`).

use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use super::device::{fmt_bytes, Arg, Device, DeviceBuf, LaunchConfig};
use super::geometry;
use crate::backend::{
    AdamStep, Backend, Capabilities, Elem, Model, OptimizerKind, StepStats, Storage, Tables,
    Weights,
};
use crate::error::{Error, Result};
use crate::train::plan::{Batch, ModelKind, StepConfig, SENTENCE_BREAK, SPAN_LEN};
use crate::train::sampler::NegativeMode;

/// Tokens per `train_batch` call the trainer is asked for (clamped to the chunk).
pub const PREFERRED_BATCH_TOKENS: usize = 16 << 20;

/// Largest default chunk: 256M tokens (1 GiB of u32) covers any corpus a single run streams.
const MAX_DEFAULT_CHUNK: usize = 256 << 20;

/// The CUDA backend over device `D` (a real GPU or the emulator).
pub struct CudaBackend<D: Device> {
    dev: D,
    label: String,
    chunk_tokens: usize,
    serial: bool,
    resident: Mutex<Resident<D>>,
}

/// Device-side state of the fast path, reused across calls.
struct Resident<D: Device> {
    /// The resident corpus chunk: corpus tokens `start..start + len` (`start` span-aligned).
    tokens: Option<DeviceBuf<D, u32>>,
    start: usize,
    len: usize,
    fingerprint: u64,
    /// Non-break tokens of each whole span of the chunk (for `StepStats::words`).
    span_words: Vec<u32>,
    /// Per-span compaction output of `w2v_subsample_compact`, sized for `spans` spans.
    kept_ids: Option<DeviceBuf<D, u32>>,
    kept_off: Option<DeviceBuf<D, u32>>,
    kept_count: Option<DeviceBuf<D, u32>>,
    spans: usize,
    loss: Option<DeviceBuf<D, f64>>,
}

fn u32_arg(what: &str, n: usize) -> Result<Arg<'static>> {
    u32::try_from(n).map(Arg::U32).map_err(|_| {
        Error::Input(format!(
            "{what} = {n} exceeds the CUDA kernels' 32-bit sizes; use smaller batches or model"
        ))
    })
}

/// The first multiple of `SPAN_LEN` after `s`.
fn next_span_start(s: usize) -> usize {
    s - s % SPAN_LEN + SPAN_LEN
}

fn round_to_spans(tokens: usize) -> usize {
    tokens.div_ceil(SPAN_LEN).max(1) * SPAN_LEN
}

impl<D: Device> CudaBackend<D> {
    /// A backend on `dev`, named `label` (e.g. `cuda:0 NVIDIA H100`). `chunk_tokens` = 0 sizes the
    /// resident corpus chunk from free device memory (a quarter of it, at most 256M tokens).
    pub fn new(dev: D, label: String, chunk_tokens: usize) -> Result<CudaBackend<D>> {
        let chunk_tokens = if chunk_tokens == 0 {
            let free = dev.free_memory()? as usize;
            (free / 4 / std::mem::size_of::<u32>()).min(MAX_DEFAULT_CHUNK)
        } else {
            chunk_tokens
        };
        Ok(CudaBackend {
            dev,
            label,
            chunk_tokens: round_to_spans(chunk_tokens),
            serial: false,
            resident: Mutex::new(Resident {
                tokens: None,
                start: 0,
                len: 0,
                fingerprint: 0,
                span_words: Vec::new(),
                kept_ids: None,
                kept_off: None,
                kept_count: None,
                spans: 0,
                loss: None,
            }),
        })
    }

    /// Runs the fused steps on a single warp, so centres update the model one after another in
    /// corpus order, as the CPU backend's fast path does with one thread. For parity tests, where
    /// Hogwild's concurrent updates would otherwise blur the comparison; slow on a real GPU.
    pub fn serial(mut self) -> CudaBackend<D> {
        self.serial = true;
        self
    }

    /// The device this backend launches on.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// Corpus tokens kept resident on the device (a multiple of `SPAN_LEN`).
    pub fn chunk_tokens(&self) -> usize {
        self.chunk_tokens
    }

    fn launch(&self, kernel: &str, cfg: LaunchConfig, args: &[Arg]) -> Result<()> {
        self.dev.launch(kernel, cfg, args)
    }

    /// The fused step over the whole of `batch`, piece by piece through the resident chunk.
    fn fused_batch(
        &self,
        model: &mut Model<Self>,
        tables: &Tables<Self>,
        tokens: &[u32],
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
        let mut words = 0u64;
        let mut s = batch.start;
        while s < end {
            let resident = res.tokens.is_some()
                && (res.start..res.start + res.len).contains(&s)
                && res.start + res.len <= tokens.len()
                && res.fingerprint == fingerprint(tokens, res.start, res.len);
            if !resident {
                self.upload_chunk(res, tokens, s)?;
            }
            let mut e = end
                .min(res.start + res.len)
                .min(s + self.chunk_tokens.min(PREFERRED_BATCH_TOKENS));
            if s % SPAN_LEN != 0 {
                // A piece that starts inside a span ends at that span's end (the kernels' spans
                // are counted from the piece's start).
                e = e.min(next_span_start(s));
            }
            let sub = if (s, e) == (batch.start, end) {
                batch.clone()
            } else {
                let lr_at = |i: usize| {
                    batch.lr_begin
                        + (batch.lr_end - batch.lr_begin)
                            * ((i - batch.start) as f32 / batch.len as f32)
                };
                Batch {
                    start: s,
                    len: e - s,
                    lr_begin: lr_at(s),
                    lr_end: lr_at(e),
                    ..batch.clone()
                }
            };
            words += res.words(tokens, s, e);
            self.fused_piece(res, model, tables, &sub, cfg)?;
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
            words,
            centres,
        })
    }

    /// Uploads the chunk of the corpus that starts at the span holding token `s`.
    fn upload_chunk(&self, res: &mut Resident<D>, tokens: &[u32], s: usize) -> Result<()> {
        let start = s - s % SPAN_LEN;
        let len = self.chunk_tokens.min(tokens.len() - start);
        if res.tokens.as_ref().is_none_or(|b| b.len() < len) {
            res.tokens = None;
            res.tokens = Some(self.dev.zeros::<u32>(len).map_err(|e| {
                Error::Device(format!(
                    "{e} (corpus chunk of {len} tokens, {}; lower the chunk size)",
                    fmt_bytes(len as u64 * 4)
                ))
            })?);
        }
        let chunk = &tokens[start..start + len];
        self.dev
            .write(res.tokens.as_mut().expect("allocated above"), 0, chunk)?;
        res.span_words.clear();
        res.span_words.extend(
            chunk
                .chunks(SPAN_LEN)
                .map(|sp| sp.iter().filter(|&&w| w != SENTENCE_BREAK).count() as u32),
        );
        res.start = start;
        res.len = len;
        res.fingerprint = fingerprint(tokens, start, len);
        Ok(())
    }

    /// Two launches for one piece that lies in the resident chunk and starts a span or lies in one.
    fn fused_piece(
        &self,
        res: &mut Resident<D>,
        model: &mut Model<Self>,
        tables: &Tables<Self>,
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
        let key_first = sub.key_pos(sub.start);
        let batch_len = u32_arg("batch length", sub.len)?;
        let n_spans_arg = u32_arg("spans", n_spans)?;
        self.launch(
            "w2v_subsample_compact",
            geometry::subsample_compact(n_spans),
            &[
                chunk.arg_at(sub.start - res.start),
                batch_len,
                tables.keep_dev.arg(),
                Arg::U64(cfg.seed),
                Arg::U64(key_first),
                kept_ids.arg_mut(),
                kept_off.arg_mut(),
                kept_count.arg_mut(),
            ],
        )?;
        let half = model.storage() == Storage::F16;
        let kernel = geometry::step_kernel(cfg.model, half, cfg.negative);
        let (w_in, w_out) = match &mut model.weights {
            Weights::F32 { w_in, w_out } => (w_in.arg_mut(), w_out.arg_mut()),
            Weights::F16 { w_in, w_out } => (w_in.arg_mut(), w_out.arg_mut()),
        };
        let dim = model.dim;
        let props = self.dev.props();
        let step_launch = if self.serial {
            geometry::sgns_step_serial(props, dim, cfg.negative)
        } else {
            geometry::sgns_step(props, n_spans, dim, cfg.negative)
        };
        let step_launch =
            step_launch.expect("choose_step keeps --dim within the fused step's shared memory");
        let vocab = u32_arg("vocabulary size", model.vocab_size)?;
        let distinct = Arg::U32((cfg.negatives == NegativeMode::Distinct) as u32);
        self.launch(
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
                Arg::U64(key_first),
                batch_len,
                Arg::F32(sub.lr_begin),
                Arg::F32(sub.lr_end),
                Arg::U32(cfg.window),
                Arg::U32(cfg.fixed_window as u32),
                Arg::U32(cfg.negative),
                distinct,
                loss.arg_mut(),
            ],
        )
    }
}

impl<D: Device> Resident<D> {
    /// Non-break tokens in `s..e` (inside the resident chunk): whole spans from the per-span
    /// counts, at most two partial spans counted on the host.
    fn words(&self, tokens: &[u32], s: usize, e: usize) -> u64 {
        let count = |a: usize, b: usize| {
            tokens[a..b]
                .iter()
                .filter(|&&w| w != SENTENCE_BREAK)
                .count() as u64
        };
        let first_full = if s % SPAN_LEN == 0 {
            s
        } else {
            next_span_start(s)
        };
        let last_full = e - e % SPAN_LEN;
        if first_full >= last_full {
            return count(s, e);
        }
        let spans = &self.span_words
            [(first_full - self.start) / SPAN_LEN..(last_full - self.start) / SPAN_LEN];
        count(s, first_full) + spans.iter().map(|&n| n as u64).sum::<u64>() + count(last_full, e)
    }
}

/// Identifies the chunk `start..start + len` of `tokens` cheaply: where the corpus is, its length,
/// and 64 tokens sampled across the chunk (a different corpus at the same address differs there).
fn fingerprint(tokens: &[u32], start: usize, len: usize) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (tokens.as_ptr() as usize, tokens.len(), start, len).hash(&mut h);
    if len > 0 {
        for i in 0..64 {
            tokens[start + i * (len - 1) / 63].hash(&mut h);
        }
    }
    h.finish()
}

/// What the fused CUDA step trains, on a device with `shared_per_block` bytes of shared memory per
/// block (`None` where no device is open, e.g. `info`): SGD, f32 or f16 weights, at most
/// [`geometry::MAX_FUSED_NEGATIVE`] negatives, rows that fit shared memory.
pub fn capabilities(shared_per_block: Option<usize>) -> Capabilities {
    Capabilities {
        fused_optimizers: &[OptimizerKind::Sgd],
        fused_storages: &[Storage::F32, Storage::F16],
        max_fused_negative: Some(geometry::MAX_FUSED_NEGATIVE),
        fused_shared_bytes: shared_per_block,
    }
}

impl<D: Device> Backend for CudaBackend<D> {
    type Buf<T: Elem> = DeviceBuf<D, T>;

    fn name(&self) -> String {
        self.label.clone()
    }

    fn preferred_batch_tokens(&self) -> usize {
        PREFERRED_BATCH_TOKENS.min(self.chunk_tokens)
    }

    fn capabilities(&self) -> Capabilities {
        capabilities(Some(self.dev.props().shared_per_block as usize))
    }

    fn upload<T: Elem>(&self, host: &[T]) -> Result<DeviceBuf<D, T>> {
        self.dev.upload(host)
    }

    fn download<T: Elem>(&self, buf: &DeviceBuf<D, T>) -> Result<Vec<T>> {
        self.dev.download(buf)
    }

    fn zeros<T: Elem>(&self, len: usize) -> Result<DeviceBuf<D, T>> {
        self.dev.zeros(len)
    }

    fn gather(
        &self,
        table: &DeviceBuf<D, f32>,
        dim: usize,
        idx: &DeviceBuf<D, u32>,
        out: &mut DeviceBuf<D, f32>,
    ) -> Result<()> {
        let n = idx.len();
        if n == 0 || dim == 0 {
            return Ok(());
        }
        self.launch(
            "w2v_gather",
            geometry::rows(self.dev.props(), n, dim),
            &[
                table.arg(),
                idx.arg(),
                out.arg_mut(),
                u32_arg("rows", n)?,
                u32_arg("dim", dim)?,
            ],
        )
    }

    fn batched_dot(
        &self,
        h: &DeviceBuf<D, f32>,
        rows: &DeviceBuf<D, f32>,
        dim: usize,
        per_row: usize,
        out: &mut DeviceBuf<D, f32>,
    ) -> Result<()> {
        let n_h = h.len().checked_div(dim).unwrap_or(0);
        if n_h == 0 || per_row == 0 {
            return Ok(());
        }
        self.launch(
            "w2v_batched_dot",
            geometry::warps(self.dev.props(), n_h * per_row),
            &[
                h.arg(),
                rows.arg(),
                out.arg_mut(),
                u32_arg("rows of h", n_h)?,
                u32_arg("rows per h", per_row)?,
                u32_arg("dim", dim)?,
            ],
        )
    }

    fn batched_dot_backward(
        &self,
        g: &DeviceBuf<D, f32>,
        h: &DeviceBuf<D, f32>,
        rows: &DeviceBuf<D, f32>,
        dim: usize,
        per_row: usize,
        grad_h: &mut DeviceBuf<D, f32>,
        grad_rows: &mut DeviceBuf<D, f32>,
    ) -> Result<()> {
        let n_h = h.len().checked_div(dim).unwrap_or(0);
        if n_h == 0 || per_row == 0 {
            return Ok(());
        }
        self.launch(
            "w2v_batched_dot_backward",
            geometry::rows(self.dev.props(), n_h, dim),
            &[
                g.arg(),
                h.arg(),
                rows.arg(),
                grad_h.arg_mut(),
                grad_rows.arg_mut(),
                u32_arg("rows of h", n_h)?,
                u32_arg("rows per h", per_row)?,
                u32_arg("dim", dim)?,
            ],
        )
    }

    fn sigmoid_bce(
        &self,
        scores: &DeviceBuf<D, f32>,
        labels: &DeviceBuf<D, f32>,
        loss: &mut DeviceBuf<D, f32>,
        grad: &mut DeviceBuf<D, f32>,
    ) -> Result<()> {
        let n = scores.len();
        if n == 0 {
            return Ok(());
        }
        self.launch(
            "w2v_sigmoid_bce",
            geometry::elementwise(self.dev.props(), n),
            &[
                scores.arg(),
                labels.arg(),
                loss.arg_mut(),
                grad.arg_mut(),
                u32_arg("scores", n)?,
            ],
        )
    }

    fn scatter_add(
        &self,
        rows: &DeviceBuf<D, f32>,
        dim: usize,
        idx: &DeviceBuf<D, u32>,
        scale: f32,
        table: &mut DeviceBuf<D, f32>,
    ) -> Result<()> {
        let n = idx.len();
        if n == 0 || dim == 0 {
            return Ok(());
        }
        self.launch(
            "w2v_scatter_add",
            geometry::rows(self.dev.props(), n, dim),
            &[
                rows.arg(),
                idx.arg(),
                table.arg_mut(),
                u32_arg("rows", n)?,
                u32_arg("dim", dim)?,
                Arg::F32(scale),
            ],
        )
    }

    fn segment_mean(
        &self,
        rows: &DeviceBuf<D, f32>,
        dim: usize,
        offsets: &DeviceBuf<D, u32>,
        out: &mut DeviceBuf<D, f32>,
    ) -> Result<()> {
        let n = offsets.len().saturating_sub(1);
        if n == 0 || dim == 0 {
            return Ok(());
        }
        self.launch(
            "w2v_segment_mean",
            geometry::rows(self.dev.props(), n, dim),
            &[
                rows.arg(),
                offsets.arg(),
                out.arg_mut(),
                u32_arg("segments", n)?,
                u32_arg("dim", dim)?,
            ],
        )
    }

    fn sample_negatives(
        &self,
        tables: &Tables<Self>,
        centres: &DeviceBuf<D, u32>,
        positions: &DeviceBuf<D, u64>,
        k: usize,
        mode: NegativeMode,
        seed: u64,
        out: &mut DeviceBuf<D, u32>,
    ) -> Result<()> {
        let n = centres.len();
        if n == 0 || k == 0 {
            return Ok(());
        }
        self.launch(
            "w2v_sample_negatives",
            geometry::elementwise(self.dev.props(), n),
            &[
                tables.alias_prob.arg(),
                tables.alias_alias.arg(),
                u32_arg("vocabulary size", tables.vocab_size())?,
                centres.arg(),
                positions.arg(),
                u32_arg("centres", n)?,
                u32_arg("negatives", k)?,
                Arg::U32((mode == NegativeMode::Distinct) as u32),
                Arg::U64(seed),
                out.arg_mut(),
            ],
        )
    }

    fn sgd_rows(
        &self,
        w: &mut DeviceBuf<D, f32>,
        grad: &mut DeviceBuf<D, f32>,
        dim: usize,
        rows: &DeviceBuf<D, u32>,
        lr: f32,
    ) -> Result<()> {
        let n = rows.len();
        if n == 0 || dim == 0 {
            return Ok(());
        }
        self.launch(
            "w2v_sgd_rows",
            geometry::rows(self.dev.props(), n, dim),
            &[
                w.arg_mut(),
                grad.arg_mut(),
                rows.arg(),
                u32_arg("rows", n)?,
                u32_arg("dim", dim)?,
                Arg::F32(lr),
            ],
        )
    }

    fn adam_rows(
        &self,
        w: &mut DeviceBuf<D, f32>,
        m: &mut DeviceBuf<D, f32>,
        v: &mut DeviceBuf<D, f32>,
        grad: &mut DeviceBuf<D, f32>,
        dim: usize,
        rows: &DeviceBuf<D, u32>,
        step: AdamStep,
    ) -> Result<()> {
        let n = rows.len();
        if n == 0 || dim == 0 {
            return Ok(());
        }
        let t = step.t.min(i32::MAX as u64) as i32;
        let bias1 = 1.0 - (step.beta1 as f64).powi(t);
        let bias2 = 1.0 - (step.beta2 as f64).powi(t);
        self.launch(
            "w2v_adam_rows",
            geometry::rows(self.dev.props(), n, dim),
            &[
                w.arg_mut(),
                m.arg_mut(),
                v.arg_mut(),
                grad.arg_mut(),
                rows.arg(),
                u32_arg("rows", n)?,
                u32_arg("dim", dim)?,
                Arg::F32(step.lr),
                Arg::F32(step.beta1),
                Arg::F32(step.beta2),
                Arg::F32(step.eps),
                Arg::F32(bias1 as f32),
                Arg::F32(bias2 as f32),
            ],
        )
    }

    fn train_batch(
        &self,
        model: &mut Model<Self>,
        tables: &Tables<Self>,
        tokens: &[u32],
        batch: &Batch,
        cfg: &StepConfig,
    ) -> Result<StepStats> {
        debug_assert!(
            cfg.negative <= geometry::MAX_FUSED_NEGATIVE,
            "choose_step keeps the fused step's negatives in range"
        );
        if batch.len == 0 {
            return Ok(StepStats::default());
        }
        self.fused_batch(model, tables, tokens, batch, cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_round_up() {
        assert_eq!(round_to_spans(1), SPAN_LEN);
        assert_eq!(round_to_spans(SPAN_LEN), SPAN_LEN);
        assert_eq!(round_to_spans(SPAN_LEN + 1), 2 * SPAN_LEN);
    }
}
