//! `CudaBackend<D>`: the `Backend` trait on a [`Device`]. The layer operations are launched by
//! `layers`, the fused `train_batch` by `fused` through the corpus chunk that `resident` keeps on
//! the device.
//!
//! The same code drives the real GPU and the emulated device; only `D` differs. Launch geometry
//! comes from [`super::geometry`] and the device's properties.

use std::sync::Mutex;

use super::device::{Device, DeviceBuf};
use super::resident::{self, Resident};
use super::{geometry, layers, variant};
use crate::backend::{
    AdamStep, Backend, Capabilities, Elem, Model, OptimizerKind, StepStats, Storage, Tables,
};
use crate::error::Result;
use crate::train::plan::{Batch, Chunk, StepConfig};
use crate::train::sampler::NegativeMode;

/// Tokens per `train_batch` call the trainer is asked for (a batch larger than the device chunk
/// is trained piece by piece, exactly as it would be in one).
pub const PREFERRED_BATCH_TOKENS: usize = 16 << 20;

/// The CUDA backend over device `D` (a real GPU or the emulator).
pub struct CudaBackend<D: Device> {
    pub(super) dev: D,
    pub(super) label: String,
    pub(super) chunk_tokens: usize,
    pub(super) serial: bool,
    pub(super) kernel: super::KernelVariant,
    pub(super) resident: Mutex<Resident<D>>,
}

impl<D: Device> CudaBackend<D> {
    /// A backend on `dev`, named `label` (e.g. `cuda:0 NVIDIA H100`). `chunk_tokens` = 0 sizes the
    /// resident corpus chunk from free device memory (a quarter of it, at most 256M tokens).
    pub fn new(dev: D, label: String, chunk_tokens: usize) -> Result<CudaBackend<D>> {
        let chunk_tokens = resident::chunk_tokens(&dev, chunk_tokens)?;
        Ok(CudaBackend {
            dev,
            label,
            chunk_tokens,
            serial: false,
            kernel: super::KernelVariant::default(),
            resident: Mutex::new(Resident::empty()),
        })
    }

    /// Runs the fused steps on a single warp, so centres update the model one after another in
    /// corpus order, as the CPU backend's fast path does with one thread. For parity tests, where
    /// Hogwild's concurrent updates would otherwise blur the comparison; slow on a real GPU.
    pub fn serial(mut self) -> CudaBackend<D> {
        self.serial = true;
        self
    }

    /// Runs the fused step kernel family `kernel` where it applies (v2 by default; v1, the
    /// reference variant, for measurement and tests): see [`super::variant`].
    pub fn with_kernel(mut self, kernel: super::KernelVariant) -> CudaBackend<D> {
        self.kernel = kernel;
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
}

/// What the fused CUDA step trains, on a device with `shared_per_block` bytes of shared memory per
/// block (`None` where no device is open, e.g. `info`): SGD, f32, f16 or bf16 weights (bf16 in
/// the v2 kernels' range only), at most [`geometry::MAX_FUSED_NEGATIVE`] negatives, rows that fit
/// shared memory.
pub fn capabilities(shared_per_block: Option<usize>) -> Capabilities {
    Capabilities {
        fused_optimizers: &[OptimizerKind::Sgd],
        fused_storages: &[Storage::F32, Storage::F16, Storage::Bf16],
        max_fused_negative: Some(geometry::MAX_FUSED_NEGATIVE),
        fused_shared_bytes: shared_per_block,
        fused_frozen_rows: false,
        fused_bf16_limits: Some((variant::V2_MAX_NEGATIVE, variant::V2_MAX_DIM)),
    }
}

impl<D: Device> Backend for CudaBackend<D> {
    type Buf<T: Elem> = DeviceBuf<D, T>;

    fn name(&self) -> String {
        self.label.clone()
    }

    fn preferred_batch_tokens(&self) -> usize {
        // Not clamped to the device chunk: batches (and so the learning-rate ramps) stay the same
        // whatever the chunk, and a batch larger than it is trained piece by piece.
        PREFERRED_BATCH_TOKENS
    }

    fn capabilities(&self) -> Capabilities {
        let caps = capabilities(Some(self.dev.props().shared_per_block as usize));
        match self.kernel {
            // bf16 has only v2 kernels.
            super::KernelVariant::V1 => Capabilities {
                fused_storages: &[Storage::F32, Storage::F16],
                fused_bf16_limits: None,
                ..caps
            },
            super::KernelVariant::V2 => caps,
        }
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
        layers::gather(&self.dev, table, dim, idx, out)
    }

    fn batched_dot(
        &self,
        h: &DeviceBuf<D, f32>,
        rows: &DeviceBuf<D, f32>,
        dim: usize,
        per_row: usize,
        out: &mut DeviceBuf<D, f32>,
    ) -> Result<()> {
        layers::batched_dot(&self.dev, h, rows, dim, per_row, out)
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
        layers::batched_dot_backward(&self.dev, g, h, rows, dim, per_row, grad_h, grad_rows)
    }

    fn sigmoid_bce(
        &self,
        scores: &DeviceBuf<D, f32>,
        labels: &DeviceBuf<D, f32>,
        loss: &mut DeviceBuf<D, f32>,
        grad: &mut DeviceBuf<D, f32>,
    ) -> Result<()> {
        layers::sigmoid_bce(&self.dev, scores, labels, loss, grad)
    }

    fn scatter_add(
        &self,
        rows: &DeviceBuf<D, f32>,
        dim: usize,
        idx: &DeviceBuf<D, u32>,
        scale: f32,
        table: &mut DeviceBuf<D, f32>,
    ) -> Result<()> {
        layers::scatter_add(&self.dev, rows, dim, idx, scale, table)
    }

    fn segment_mean(
        &self,
        rows: &DeviceBuf<D, f32>,
        dim: usize,
        offsets: &DeviceBuf<D, u32>,
        out: &mut DeviceBuf<D, f32>,
    ) -> Result<()> {
        layers::segment_mean(&self.dev, rows, dim, offsets, out)
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
        layers::sample_negatives(&self.dev, tables, centres, positions, k, mode, seed, out)
    }

    fn sgd_rows(
        &self,
        w: &mut DeviceBuf<D, f32>,
        grad: &mut DeviceBuf<D, f32>,
        dim: usize,
        rows: &DeviceBuf<D, u32>,
        lr: f32,
    ) -> Result<()> {
        layers::sgd_rows(&self.dev, w, grad, dim, rows, lr)
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
        layers::adam_rows(&self.dev, w, m, v, grad, dim, rows, step)
    }

    fn train_batch(
        &self,
        model: &mut Model<Self>,
        tables: &Tables<Self>,
        chunk: &Chunk,
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
        self.fused_batch(model, tables, chunk, batch, cfg)
    }
}
