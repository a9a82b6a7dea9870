//! The CPU backend: buffers are `ndarray` arrays, the book's layer operations are array
//! expressions over them (`layers.rs`), and `train_batch` is a multi-threaded Hogwild step
//! (`fused.rs`, the fast path the trainer runs on `--device cpu`).
//!
//! A buffer is a flat `Array1`, as the trait's row-major contract with an explicit `dim` has it;
//! each operation views it as the `[rows, dim]` matrix it stands for, here at the boundary.
//! The fast path's workers share `W_in` and `W_out` through [`hogwild`]'s handle, which owns the
//! unsafe of lock-free row updates.

mod fused;
mod hogwild;
mod layers;
mod simd;

use ndarray::{Array1, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3, Zip};

use crate::backend::{
    AdamStep, Backend, Capabilities, Elem, Model, OptimizerKind, StepStats, Storage, Tables,
};
use crate::error::Result;
use crate::train::plan::{Batch, Chunk, StepConfig};
use crate::train::sampler::{negatives_for_centre, NegativeMode};

/// The CPU device: `threads` workers for the Hogwild fast path.
#[derive(Clone, Debug)]
pub struct CpuBackend {
    threads: usize,
}

impl CpuBackend {
    /// A backend with `threads` Hogwild workers; `0` uses every core the OS reports.
    pub fn new(threads: usize) -> CpuBackend {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        CpuBackend { threads }
    }

    /// Number of worker threads of the fast path.
    pub fn threads(&self) -> usize {
        self.threads
    }
}

const CONTIGUOUS: &str = "a CPU buffer is one contiguous array";

/// A flat buffer as its `[rows, cols]` row-major matrix.
fn grid<T: Elem>(buf: &Array1<T>, rows: usize, cols: usize) -> ArrayView2<'_, T> {
    buf.view()
        .into_shape_with_order((rows, cols))
        .expect(CONTIGUOUS)
}

/// [`grid`] for writing.
fn grid_mut<T: Elem>(buf: &mut Array1<T>, rows: usize, cols: usize) -> ArrayViewMut2<'_, T> {
    buf.view_mut()
        .into_shape_with_order((rows, cols))
        .expect(CONTIGUOUS)
}

/// A flat buffer as its `[len / dim, dim]` matrix (`dim > 0`).
fn matrix<T: Elem>(buf: &Array1<T>, dim: usize) -> ArrayView2<'_, T> {
    grid(buf, buf.len() / dim, dim)
}

/// [`matrix`] for writing.
fn matrix_mut<T: Elem>(buf: &mut Array1<T>, dim: usize) -> ArrayViewMut2<'_, T> {
    grid_mut(buf, buf.len() / dim, dim)
}

/// A flat buffer of `groups · per_row` rows as `[groups, per_row, dim]`.
fn blocks(buf: &Array1<f32>, groups: usize, per_row: usize, dim: usize) -> ArrayView3<'_, f32> {
    buf.view()
        .into_shape_with_order((groups, per_row, dim))
        .expect(CONTIGUOUS)
}

/// [`blocks`] for writing.
fn blocks_mut(
    buf: &mut Array1<f32>,
    groups: usize,
    per_row: usize,
    dim: usize,
) -> ArrayViewMut3<'_, f32> {
    buf.view_mut()
        .into_shape_with_order((groups, per_row, dim))
        .expect(CONTIGUOUS)
}

impl Backend for CpuBackend {
    type Buf<T: Elem> = Array1<T>;

    fn name(&self) -> String {
        let s = if self.threads == 1 { "" } else { "s" };
        format!("cpu ({} thread{s})", self.threads)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            fused_optimizers: &[OptimizerKind::Sgd],
            fused_storages: &[Storage::F32],
            max_fused_negative: None,
            fused_shared_bytes: None,
            fused_frozen_rows: true,
            fused_bf16_limits: None,
        }
    }

    fn upload<T: Elem>(&self, host: &[T]) -> Result<Array1<T>> {
        Ok(Array1::from(host.to_vec()))
    }

    fn download<T: Elem>(&self, buf: &Array1<T>) -> Result<Vec<T>> {
        Ok(buf.to_vec())
    }

    fn host_mut<'b, T: Elem>(&self, buf: &'b mut Array1<T>) -> Option<&'b mut [T]> {
        buf.as_slice_mut()
    }

    fn zeros<T: Elem>(&self, len: usize) -> Result<Array1<T>> {
        Ok(Array1::from_elem(len, T::default()))
    }

    fn gather(
        &self,
        table: &Array1<f32>,
        dim: usize,
        idx: &Array1<u32>,
        out: &mut Array1<f32>,
    ) -> Result<()> {
        debug_assert_eq!(out.len(), idx.len() * dim);
        layers::gather(matrix(table, dim), idx.view(), matrix_mut(out, dim));
        Ok(())
    }

    fn batched_dot(
        &self,
        h: &Array1<f32>,
        rows: &Array1<f32>,
        dim: usize,
        per_row: usize,
        out: &mut Array1<f32>,
    ) -> Result<()> {
        debug_assert_eq!(rows.len(), out.len() * dim);
        debug_assert_eq!(h.len() * per_row, rows.len());
        let groups = h.len() / dim;
        layers::batched_dot(
            matrix(h, dim),
            blocks(rows, groups, per_row, dim),
            grid_mut(out, groups, per_row),
        );
        Ok(())
    }

    fn batched_dot_backward(
        &self,
        g: &Array1<f32>,
        h: &Array1<f32>,
        rows: &Array1<f32>,
        dim: usize,
        per_row: usize,
        grad_h: &mut Array1<f32>,
        grad_rows: &mut Array1<f32>,
    ) -> Result<()> {
        debug_assert_eq!(grad_h.len(), h.len());
        debug_assert_eq!(grad_rows.len(), rows.len());
        debug_assert_eq!(g.len() * dim, rows.len());
        let groups = h.len() / dim;
        layers::batched_dot_backward(
            grid(g, groups, per_row),
            matrix(h, dim),
            blocks(rows, groups, per_row, dim),
            matrix_mut(grad_h, dim),
            blocks_mut(grad_rows, groups, per_row, dim),
        );
        Ok(())
    }

    fn sigmoid_bce(
        &self,
        scores: &Array1<f32>,
        labels: &Array1<f32>,
        loss: &mut Array1<f32>,
        grad: &mut Array1<f32>,
    ) -> Result<()> {
        debug_assert!(
            labels.len() == scores.len()
                && loss.len() == scores.len()
                && grad.len() == scores.len()
        );
        layers::sigmoid_bce(
            scores.view(),
            labels.view(),
            loss.view_mut(),
            grad.view_mut(),
        );
        Ok(())
    }

    fn scatter_add(
        &self,
        rows: &Array1<f32>,
        dim: usize,
        idx: &Array1<u32>,
        scale: f32,
        table: &mut Array1<f32>,
    ) -> Result<()> {
        debug_assert_eq!(rows.len(), idx.len() * dim);
        layers::scatter_add(matrix(rows, dim), idx.view(), scale, matrix_mut(table, dim));
        Ok(())
    }

    fn segment_mean(
        &self,
        rows: &Array1<f32>,
        dim: usize,
        offsets: &Array1<u32>,
        out: &mut Array1<f32>,
    ) -> Result<()> {
        debug_assert_eq!(out.len() + dim, offsets.len() * dim);
        layers::segment_mean(matrix(rows, dim), offsets.view(), matrix_mut(out, dim));
        Ok(())
    }

    fn sample_negatives(
        &self,
        tables: &Tables<Self>,
        centres: &Array1<u32>,
        positions: &Array1<u64>,
        k: usize,
        mode: NegativeMode,
        seed: u64,
        out: &mut Array1<u32>,
    ) -> Result<()> {
        debug_assert_eq!(out.len(), centres.len() * k);
        if k == 0 {
            return Ok(());
        }
        Zip::from(matrix_mut(out, k).rows_mut())
            .and(centres)
            .and(positions)
            .for_each(|o, &c, &pos| {
                let o = o.into_slice().expect(CONTIGUOUS);
                negatives_for_centre(&tables.alias, seed, pos, c, mode, o);
            });
        Ok(())
    }

    fn sgd_rows(
        &self,
        w: &mut Array1<f32>,
        grad: &mut Array1<f32>,
        dim: usize,
        rows: &Array1<u32>,
        lr: f32,
    ) -> Result<()> {
        layers::sgd_rows(matrix_mut(w, dim), matrix_mut(grad, dim), rows.view(), lr);
        Ok(())
    }

    fn adam_rows(
        &self,
        w: &mut Array1<f32>,
        m: &mut Array1<f32>,
        v: &mut Array1<f32>,
        grad: &mut Array1<f32>,
        dim: usize,
        rows: &Array1<u32>,
        step: AdamStep,
    ) -> Result<()> {
        layers::adam_rows(
            matrix_mut(w, dim),
            matrix_mut(m, dim),
            matrix_mut(v, dim),
            matrix_mut(grad, dim),
            rows.view(),
            step,
        );
        Ok(())
    }

    /// The Hogwild fast path (SGD on f32 weights); see [`fused::train_batch`].
    fn train_batch(
        &self,
        model: &mut Model<Self>,
        tables: &Tables<Self>,
        chunk: &Chunk,
        batch: &Batch,
        cfg: &StepConfig,
    ) -> Result<StepStats> {
        Ok(fused::train_batch(
            self.threads,
            model,
            tables,
            chunk,
            batch,
            cfg,
        ))
    }
}
