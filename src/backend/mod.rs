//! The one seam between training logic and hardware.
//!
//! Two levels (see `plan.rs` for what a step trains):
//! 1. the book's layers as operations on device buffers — gather, batched dot and its backward,
//!    fused sigmoid + binary cross-entropy, scatter-add, segment mean, unigram sampling, optimiser
//!    row updates — each testable on every backend against the same inputs;
//! 2. [`Backend::train_batch`], whose default ([`composed::train_batch`]) composes those operations
//!    exactly as the book's forward/backward do. Backends override it with their fast path.

pub mod composed;
pub mod cpu;
#[cfg(any(feature = "cuda", feature = "emulator"))]
pub mod cuda;

use crate::error::Result;
use crate::train::plan::{Batch, StepConfig};
use crate::train::sampler::{AliasTable, NegativeMode};

/// Kinds of element a device buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemKind {
    F32,
    F16,
    U32,
    U64,
}

/// Element types the backends move to and from devices (sealed: f32, f16, u32, u64).
pub trait Elem:
    Copy + Default + Send + Sync + std::fmt::Debug + PartialEq + 'static + sealed::Sealed
{
    const KIND: ElemKind;
}
mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
    impl Sealed for u32 {}
    impl Sealed for u64 {}
}
impl Elem for f32 {
    const KIND: ElemKind = ElemKind::F32;
}
impl Elem for half::f16 {
    const KIND: ElemKind = ElemKind::F16;
}
impl Elem for u32 {
    const KIND: ElemKind = ElemKind::U32;
}
impl Elem for u64 {
    const KIND: ElemKind = ElemKind::U64;
}

/// Optimiser of a run.
#[derive(
    Clone, Copy, Debug, PartialEq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum OptimizerKind {
    /// Plain SGD with word2vec.c's linear decay (the fused fast path).
    #[default]
    Sgd,
    /// Row-sparse ("lazy") Adam, the book's choice: only rows touched by a minibatch update their
    /// moments, with bias correction by the global step count (composed path).
    Adam,
}

/// How the device stores `W_in` and `W_out` (arithmetic is f32 either way).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum Storage {
    /// 32-bit floats, as the CPU backend (the default).
    #[default]
    F32,
    /// IEEE half (16-bit): half the device memory and traffic of the two matrices; each update is
    /// computed in f32 and rounded to the nearest half when stored. CUDA fused SGD step only.
    F16,
}

/// The one-line error for `--storage f16` where `what` (e.g. "the CPU backend") keeps f32.
pub fn f16_storage_unsupported(what: &str) -> crate::error::Error {
    crate::error::Error::Config(format!(
        "--storage f16 needs --device cuda:N (or emulator) with the fused SGD step (--optimizer sgd, \
         --step fused); {what} keeps f32: drop --storage f16 or use --storage f32"
    ))
}

/// Adam's constants and the global step number (1-based) of the update being applied.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub t: u64,
}

/// What a training step reports: loss sum and count over examples, tokens and centres covered.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepStats {
    pub loss_sum: f64,
    pub examples: u64,
    /// Corpus words covered by the batch (sentence breaks excluded), trained or subsampled away.
    pub words: u64,
    pub centres: u64,
}

impl StepStats {
    pub fn add(&mut self, o: &StepStats) {
        self.loss_sum += o.loss_sum;
        self.examples += o.examples;
        self.words += o.words;
        self.centres += o.centres;
    }
    pub fn mean_loss(&self) -> f64 {
        if self.examples == 0 {
            0.0
        } else {
            self.loss_sum / self.examples as f64
        }
    }
}

/// The model and its tables as a backend holds them.
pub struct State<B: Backend> {
    pub vocab_size: usize,
    pub dim: usize,
    /// `[vocab_size, dim]` row-major input embeddings (the vectors users get); empty (zero-length)
    /// with [`Storage::F16`], whose copy is `w_in_h`.
    pub w_in: B::Buf<f32>,
    /// `[vocab_size, dim]` row-major output embeddings; empty with [`Storage::F16`].
    pub w_out: B::Buf<f32>,
    /// With [`Storage::F16`]: `W_in` and `W_out` as IEEE half, the only copies on the device.
    pub w_in_h: Option<B::Buf<half::f16>>,
    pub w_out_h: Option<B::Buf<half::f16>>,
    /// Dense gradient accumulators for the composed path (allocated on first use, kept zero between steps).
    pub grad_in: Option<B::Buf<f32>>,
    pub grad_out: Option<B::Buf<f32>>,
    /// Adam moments `(m_in, v_in, m_out, v_out)`, allocated when the optimiser is Adam.
    pub adam: Option<[B::Buf<f32>; 4]>,
    /// Adam's global step count (number of minibatch updates applied so far).
    pub adam_t: u64,
    pub optimizer: OptimizerKind,
    /// Host copies of the sampling tables (the composed path enumerates centres on the host).
    pub alias: AliasTable,
    pub keep: Vec<u32>,
    /// Device copies: alias thresholds, alias targets, subsampling thresholds.
    pub alias_prob: B::Buf<u32>,
    pub alias_alias: B::Buf<u32>,
    pub keep_dev: B::Buf<u32>,
}

impl<B: Backend> State<B> {
    /// Uploads parameters (as f32) and tables to the backend.
    pub fn new(
        backend: &B,
        dim: usize,
        w_in: &[f32],
        w_out: &[f32],
        alias: AliasTable,
        keep: Vec<u32>,
        optimizer: OptimizerKind,
    ) -> Result<Self> {
        Self::with_storage(
            backend,
            dim,
            w_in,
            w_out,
            alias,
            keep,
            optimizer,
            Storage::F32,
        )
    }

    /// Uploads parameters stored as `storage` (f16: rounded to the nearest half) and tables.
    /// Whether the backend can train that storage is the caller's check
    /// ([`Backend::supports_f16_storage`]).
    #[allow(clippy::too_many_arguments)]
    pub fn with_storage(
        backend: &B,
        dim: usize,
        w_in: &[f32],
        w_out: &[f32],
        alias: AliasTable,
        keep: Vec<u32>,
        optimizer: OptimizerKind,
        storage: Storage,
    ) -> Result<Self> {
        let vocab_size = alias.len();
        assert_eq!(w_in.len(), vocab_size * dim);
        assert_eq!(w_out.len(), vocab_size * dim);
        let adam = if optimizer == OptimizerKind::Adam {
            let n = vocab_size * dim;
            Some([
                backend.zeros(n)?,
                backend.zeros(n)?,
                backend.zeros(n)?,
                backend.zeros(n)?,
            ])
        } else {
            None
        };
        let halves =
            |w: &[f32]| -> Vec<half::f16> { w.iter().map(|&x| half::f16::from_f32(x)).collect() };
        let (w_in_f, w_out_f, w_in_h, w_out_h) = match storage {
            Storage::F32 => (backend.upload(w_in)?, backend.upload(w_out)?, None, None),
            Storage::F16 => (
                backend.zeros(0)?,
                backend.zeros(0)?,
                Some(backend.upload(&halves(w_in))?),
                Some(backend.upload(&halves(w_out))?),
            ),
        };
        Ok(Self {
            vocab_size,
            dim,
            w_in: w_in_f,
            w_out: w_out_f,
            w_in_h,
            w_out_h,
            grad_in: None,
            grad_out: None,
            adam,
            adam_t: 0,
            optimizer,
            alias_prob: backend.upload(&alias.prob)?,
            alias_alias: backend.upload(&alias.alias)?,
            keep_dev: backend.upload(&keep)?,
            alias,
            keep,
        })
    }

    /// How `W_in` and `W_out` are stored on the device.
    pub fn storage(&self) -> Storage {
        if self.w_in_h.is_some() {
            Storage::F16
        } else {
            Storage::F32
        }
    }

    /// `W_in` and `W_out` downloaded as f32 (from half storage, exactly: every half is an f32).
    pub fn weights(&self, backend: &B) -> Result<(Vec<f32>, Vec<f32>)> {
        match (&self.w_in_h, &self.w_out_h) {
            (Some(h_in), Some(h_out)) => {
                let widen = |h: Vec<half::f16>| h.into_iter().map(f32::from).collect();
                Ok((
                    widen(backend.download(h_in)?),
                    widen(backend.download(h_out)?),
                ))
            }
            _ => Ok((
                backend.download(&self.w_in)?,
                backend.download(&self.w_out)?,
            )),
        }
    }
}

/// A device: memory, the book's layers as operations, and a training step.
///
/// Matrices are flat row-major buffers with an explicit `dim`. Operations check nothing the caller
/// guarantees (lengths match their documented shapes); backends may `debug_assert` them.
pub trait Backend: Sized {
    type Buf<T: Elem>;

    /// One line: which device, e.g. `cpu (2 threads)` or `cuda:0 NVIDIA H100 (emulated)`.
    fn name(&self) -> String;

    /// Corpus tokens per [`Backend::train_batch`] call that keep this device busy; the trainer
    /// rounds it to whole spans and updates progress and the learning-rate ramp between calls.
    fn preferred_batch_tokens(&self) -> usize {
        1 << 20
    }

    /// Whether [`Backend::train_batch`]'s fast path trains [`Storage::F16`] weights (only the CUDA
    /// backend's fused SGD step does; everything else keeps f32).
    fn supports_f16_storage(&self) -> bool {
        false
    }

    fn upload<T: Elem>(&self, host: &[T]) -> Result<Self::Buf<T>>;
    fn download<T: Elem>(&self, buf: &Self::Buf<T>) -> Result<Vec<T>>;
    fn zeros<T: Elem>(&self, len: usize) -> Result<Self::Buf<T>>;

    /// Embedding forward: `out[r, :] = table[idx[r], :]`.
    fn gather(
        &self,
        table: &Self::Buf<f32>,
        dim: usize,
        idx: &Self::Buf<u32>,
        out: &mut Self::Buf<f32>,
    ) -> Result<()>;

    /// EmbeddingDot forward over groups of `per_row` rows: `out[p·r + t] = h[p, :] · rows[p·r + t, :]`.
    fn batched_dot(
        &self,
        h: &Self::Buf<f32>,
        rows: &Self::Buf<f32>,
        dim: usize,
        per_row: usize,
        out: &mut Self::Buf<f32>,
    ) -> Result<()>;

    /// EmbeddingDot backward: `grad_h[p, :] = Σ_t g[p·r+t] rows[p·r+t, :]`, `grad_rows[p·r+t, :] = g[p·r+t] h[p, :]`.
    #[allow(clippy::too_many_arguments)]
    fn batched_dot_backward(
        &self,
        g: &Self::Buf<f32>,
        h: &Self::Buf<f32>,
        rows: &Self::Buf<f32>,
        dim: usize,
        per_row: usize,
        grad_h: &mut Self::Buf<f32>,
        grad_rows: &mut Self::Buf<f32>,
    ) -> Result<()>;

    /// SigmoidWithLoss, fused and stable for large |x|: `loss[i] = −t log σ(x) − (1−t) log(1−σ(x))`,
    /// `grad[i] = σ(x_i) − t_i`.
    fn sigmoid_bce(
        &self,
        scores: &Self::Buf<f32>,
        labels: &Self::Buf<f32>,
        loss: &mut Self::Buf<f32>,
        grad: &mut Self::Buf<f32>,
    ) -> Result<()>;

    /// `np.add.at`: `table[idx[r], :] += scale · rows[r, :]`; repeated indices accumulate.
    fn scatter_add(
        &self,
        rows: &Self::Buf<f32>,
        dim: usize,
        idx: &Self::Buf<u32>,
        scale: f32,
        table: &mut Self::Buf<f32>,
    ) -> Result<()>;

    /// CBOW's mean: `out[c, :] = mean(rows[offsets[c]..offsets[c+1], :])` (`offsets` has `n + 1` entries).
    fn segment_mean(
        &self,
        rows: &Self::Buf<f32>,
        dim: usize,
        offsets: &Self::Buf<u32>,
        out: &mut Self::Buf<f32>,
    ) -> Result<()>;

    /// UnigramSampler: `out[c·k + s]` is negative `s` of the centre word `centres[c]` at key position
    /// `positions[c]`, exactly as [`crate::train::sampler::negatives_for_centre`] draws it.
    #[allow(clippy::too_many_arguments)]
    fn sample_negatives(
        &self,
        state: &State<Self>,
        centres: &Self::Buf<u32>,
        positions: &Self::Buf<u64>,
        k: usize,
        mode: NegativeMode,
        seed: u64,
        out: &mut Self::Buf<u32>,
    ) -> Result<()>;

    /// SGD on the listed (distinct) rows: `w[r] −= lr · grad[r]`, then `grad[r] = 0`.
    fn sgd_rows(
        &self,
        w: &mut Self::Buf<f32>,
        grad: &mut Self::Buf<f32>,
        dim: usize,
        rows: &Self::Buf<u32>,
        lr: f32,
    ) -> Result<()>;

    /// Lazy Adam on the listed (distinct) rows, then `grad[r] = 0`:
    /// `m = β1 m + (1−β1) g; v = β2 v + (1−β2) g²; w −= lr·√(1−β2^t)/(1−β1^t) · m / (√v + ε)`.
    #[allow(clippy::too_many_arguments)]
    fn adam_rows(
        &self,
        w: &mut Self::Buf<f32>,
        m: &mut Self::Buf<f32>,
        v: &mut Self::Buf<f32>,
        grad: &mut Self::Buf<f32>,
        dim: usize,
        rows: &Self::Buf<u32>,
        step: AdamStep,
    ) -> Result<()>;

    /// Trains one batch of the encoded corpus (`tokens` is the whole corpus) per `plan.rs`.
    /// The default composes the operations above in minibatches of `batch_size` centres; a backend
    /// overrides it with its fast path, which the trainer calls only with SGD (Adam and
    /// `--step composed` call [`composed::train_batch`] directly).
    fn train_batch(
        &self,
        state: &mut State<Self>,
        tokens: &[u32],
        batch: &Batch,
        cfg: &StepConfig,
        batch_size: usize,
    ) -> Result<StepStats> {
        composed::train_batch(self, state, tokens, batch, cfg, batch_size)
    }
}
