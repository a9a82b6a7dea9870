//! The book's layer operations on a CUDA device: one kernel launch each (gather, batched dot and
//! its backward, sigmoid-BCE, scatter-add, segment mean, negative sampling, SGD and Adam on rows),
//! for the composed step. [`super::backend`] forwards the `Backend` trait's methods here.
//!
//! Every launch returns at once when there is nothing to do, so no kernel sees an empty grid.

use super::backend::CudaBackend;
use super::device::{u32_arg, Arg, Device, DeviceBuf};
use super::geometry;
use crate::backend::{AdamStep, Tables};
use crate::error::Result;
use crate::train::sampler::NegativeMode;

/// `Backend::gather`: one `w2v_gather` launch over the gathered elements.
pub(super) fn gather<D: Device>(
    dev: &D,
    table: &DeviceBuf<D, f32>,
    dim: usize,
    idx: &DeviceBuf<D, u32>,
    out: &mut DeviceBuf<D, f32>,
) -> Result<()> {
    let n = idx.len();
    if n == 0 || dim == 0 {
        return Ok(());
    }
    dev.launch(
        "w2v_gather",
        geometry::rows(dev.props(), n, dim),
        &[
            table.arg(),
            idx.arg(),
            out.arg_mut(),
            u32_arg("rows", n)?,
            u32_arg("dim", dim)?,
        ],
    )
}

/// `Backend::batched_dot`: one `w2v_batched_dot` launch, a warp per score.
pub(super) fn batched_dot<D: Device>(
    dev: &D,
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
    dev.launch(
        "w2v_batched_dot",
        geometry::warps(dev.props(), n_h * per_row),
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

/// `Backend::batched_dot_backward`: one `w2v_batched_dot_backward` launch over the elements of `h`.
#[allow(clippy::too_many_arguments)]
pub(super) fn batched_dot_backward<D: Device>(
    dev: &D,
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
    dev.launch(
        "w2v_batched_dot_backward",
        geometry::rows(dev.props(), n_h, dim),
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

/// `Backend::sigmoid_bce`: one `w2v_sigmoid_bce` launch, a thread per score.
pub(super) fn sigmoid_bce<D: Device>(
    dev: &D,
    scores: &DeviceBuf<D, f32>,
    labels: &DeviceBuf<D, f32>,
    loss: &mut DeviceBuf<D, f32>,
    grad: &mut DeviceBuf<D, f32>,
) -> Result<()> {
    let n = scores.len();
    if n == 0 {
        return Ok(());
    }
    dev.launch(
        "w2v_sigmoid_bce",
        geometry::elementwise(dev.props(), n),
        &[
            scores.arg(),
            labels.arg(),
            loss.arg_mut(),
            grad.arg_mut(),
            u32_arg("scores", n)?,
        ],
    )
}

/// `Backend::scatter_add`: one `w2v_scatter_add` launch (atomic adds, as rows may repeat).
pub(super) fn scatter_add<D: Device>(
    dev: &D,
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
    dev.launch(
        "w2v_scatter_add",
        geometry::rows(dev.props(), n, dim),
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

/// `Backend::segment_mean`: one `w2v_segment_mean` launch over the output elements.
pub(super) fn segment_mean<D: Device>(
    dev: &D,
    rows: &DeviceBuf<D, f32>,
    dim: usize,
    offsets: &DeviceBuf<D, u32>,
    out: &mut DeviceBuf<D, f32>,
) -> Result<()> {
    let n = offsets.len().saturating_sub(1);
    if n == 0 || dim == 0 {
        return Ok(());
    }
    dev.launch(
        "w2v_segment_mean",
        geometry::rows(dev.props(), n, dim),
        &[
            rows.arg(),
            offsets.arg(),
            out.arg_mut(),
            u32_arg("segments", n)?,
            u32_arg("dim", dim)?,
        ],
    )
}

/// `Backend::sample_negatives`: one `w2v_sample_negatives` launch, a thread per centre.
#[allow(clippy::too_many_arguments)]
pub(super) fn sample_negatives<D: Device>(
    dev: &D,
    tables: &Tables<CudaBackend<D>>,
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
    dev.launch(
        "w2v_sample_negatives",
        geometry::elementwise(dev.props(), n),
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

/// `Backend::sgd_rows`: one `w2v_sgd_rows` launch over the elements of the listed rows.
pub(super) fn sgd_rows<D: Device>(
    dev: &D,
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
    dev.launch(
        "w2v_sgd_rows",
        geometry::rows(dev.props(), n, dim),
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

/// `Backend::adam_rows`: one `w2v_adam_rows` launch over the elements of the listed rows; the
/// bias corrections are computed here in f64.
#[allow(clippy::too_many_arguments)]
pub(super) fn adam_rows<D: Device>(
    dev: &D,
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
    dev.launch(
        "w2v_adam_rows",
        geometry::rows(dev.props(), n, dim),
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
