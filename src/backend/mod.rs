//! The one seam between training logic and hardware.
//!
//! Two levels (see `plan.rs` for what a step trains):
//! 1. the book's layers as operations on device buffers — gather, batched dot and its backward,
//!    fused sigmoid + binary cross-entropy, scatter-add, segment mean, unigram sampling, optimiser
//!    row updates — each testable on every backend against the same inputs;
//! 2. a training step: [`composed::train_batch`] composes those operations exactly as the book's
//!    forward/backward do; [`Backend::train_batch`] is the backend's fused fast path.
//!
//! Which of the two trains a run is decided once, before training, by [`choose_step`] from the
//! backend's [`Backend::capabilities`]; the fast paths themselves decide nothing.

pub mod composed;
pub mod cpu;
#[cfg(any(feature = "cuda", feature = "emulator"))]
pub mod cuda;
pub mod state;
pub mod step;

pub use state::{AdamMoments, Gradients, Model, State, Tables, Weights};
pub use step::{choose_step, Capabilities, Step};

use crate::error::Result;
use crate::train::plan::{Batch, Chunk, StepConfig};
use crate::train::sampler::NegativeMode;

/// Kinds of element a device buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemKind {
    F32,
    F16,
    Bf16,
    U32,
    U64,
}

/// Element types the backends move to and from devices (sealed: f32, f16, bf16, u32, u64).
pub trait Elem:
    Copy + Default + Send + Sync + std::fmt::Debug + PartialEq + 'static + sealed::Sealed
{
    const KIND: ElemKind;
}
mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
    impl Sealed for u32 {}
    impl Sealed for u64 {}
}
impl Elem for f32 {
    const KIND: ElemKind = ElemKind::F32;
}
impl Elem for half::f16 {
    const KIND: ElemKind = ElemKind::F16;
}
impl Elem for half::bf16 {
    const KIND: ElemKind = ElemKind::Bf16;
}
impl Elem for u32 {
    const KIND: ElemKind = ElemKind::U32;
}
impl Elem for u64 {
    const KIND: ElemKind = ElemKind::U64;
}

/// Optimiser of a run.
#[derive(Clone, Copy, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub enum OptimizerKind {
    /// Plain SGD with word2vec.c's linear decay (the fused fast path).
    #[default]
    Sgd,
    /// Row-sparse ("lazy") Adam, the book's choice: only rows touched by a minibatch update their
    /// moments, with bias correction by the global step count (composed path).
    Adam,
}

/// How the device stores `W_in` and `W_out` (arithmetic is f32 either way).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Storage {
    /// 32-bit floats, as the CPU backend (the default).
    #[default]
    F32,
    /// IEEE half (16-bit): half the device memory and traffic of the two matrices; each update is
    /// computed in f32 and rounded to the nearest half when stored. CUDA fused SGD step only.
    F16,
    /// bfloat16 (f32's 8-bit exponent, 8 significant bits): as f16, with f32's range and a third
    /// of f16's precision. CUDA fused SGD step with the v2 kernels only.
    Bf16,
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

/// What a training step reports: loss sum and count over examples, and centres trained. (The
/// words a batch covers are the training session's count, `train::session`, not a step's.)
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepStats {
    pub loss_sum: f64,
    pub examples: u64,
    pub centres: u64,
}

impl StepStats {
    pub fn add(&mut self, o: &StepStats) {
        self.loss_sum += o.loss_sum;
        self.examples += o.examples;
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

    /// What [`Backend::train_batch`]'s fast path trains, for [`choose_step`].
    fn capabilities(&self) -> Capabilities;

    fn upload<T: Elem>(&self, host: &[T]) -> Result<Self::Buf<T>>;
    fn download<T: Elem>(&self, buf: &Self::Buf<T>) -> Result<Vec<T>>;
    /// `buf`'s elements to read and write in place, where the device's memory is the host's
    /// (the CPU backend); `None` (the default) where they must be downloaded and uploaded.
    fn host_mut<'b, T: Elem>(&self, _buf: &'b mut Self::Buf<T>) -> Option<&'b mut [T]> {
        None
    }
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
        tables: &Tables<Self>,
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

    /// The fused fast path: trains one batch of the encoded corpus per `plan.rs`, reading its
    /// tokens from `chunk` (which holds the batch; a chunk's `id` says whether a copy the backend
    /// kept is still this chunk's). The trainer calls it only where [`choose_step`] chose [`Step::Fused`] from
    /// [`Backend::capabilities`], so `model`'s storage, the optimiser (SGD) and the settings are
    /// ones the path trains.
    fn train_batch(
        &self,
        model: &mut Model<Self>,
        tables: &Tables<Self>,
        chunk: &Chunk,
        batch: &Batch,
        cfg: &StepConfig,
    ) -> Result<StepStats>;
}
