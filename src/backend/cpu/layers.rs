//! The book's layers as ndarray expressions, one function per [`crate::backend::Backend`]
//! operation, written the way the book's numpy writes them (the teaching path: clarity first,
//! the fast path is `fused.rs`).
//!
//! Matrices arrive as `[rows, dim]` views of the backend's flat buffers (`mod.rs` reshapes them);
//! the batched dot's rows arrive as `[inputs, per_row, dim]`.

use ndarray::{
    s, ArrayView1, ArrayView2, ArrayView3, ArrayViewMut1, ArrayViewMut2, ArrayViewMut3, Axis, Zip,
};

use super::simd::sigmoid_and_e;
use crate::backend::AdamStep;

/// Row indices as ndarray indexes them.
fn indices(idx: ArrayView1<u32>) -> Vec<usize> {
    idx.iter().map(|&i| i as usize).collect()
}

/// Embedding forward: `out = table[idx]`.
pub fn gather(table: ArrayView2<f32>, idx: ArrayView1<u32>, mut out: ArrayViewMut2<f32>) {
    out.assign(&table.select(Axis(0), &indices(idx)));
}

/// EmbeddingDot forward: `out = np.sum(rows * h[:, None, :], axis=2)`, the score of each of the
/// `per_row` rows against its group's input.
pub fn batched_dot(h: ArrayView2<f32>, rows: ArrayView3<f32>, mut out: ArrayViewMut2<f32>) {
    out.assign(&(&rows * &h.insert_axis(Axis(1))).sum_axis(Axis(2)));
}

/// EmbeddingDot backward: `grad_h = np.sum(g[:, :, None] * rows, axis=1)` and
/// `grad_rows = g[:, :, None] * h[:, None, :]`.
pub fn batched_dot_backward(
    g: ArrayView2<f32>,
    h: ArrayView2<f32>,
    rows: ArrayView3<f32>,
    mut grad_h: ArrayViewMut2<f32>,
    mut grad_rows: ArrayViewMut3<f32>,
) {
    let g = g.insert_axis(Axis(2));
    grad_h.assign(&(&g * &rows).sum_axis(Axis(1)));
    grad_rows.assign(&(&g * &h.insert_axis(Axis(1))));
}

/// SigmoidWithLoss, elementwise: `loss = max(x, 0) − x·t + log1p(e^−|x|)` (binary cross-entropy
/// of `σ(x)` in a form that never overflows) and `grad = σ(x) − t`.
pub fn sigmoid_bce(
    scores: ArrayView1<f32>,
    labels: ArrayView1<f32>,
    loss: ArrayViewMut1<f32>,
    grad: ArrayViewMut1<f32>,
) {
    Zip::from(loss)
        .and(grad)
        .and(scores)
        .and(labels)
        .for_each(|loss, grad, &x, &t| {
            let (s, e) = sigmoid_and_e(x);
            *loss = x.max(0.0) - x * t + e.ln_1p();
            *grad = s - t;
        });
}

/// `np.add.at(table, idx, scale * rows)`: row by row, so repeated indices accumulate.
pub fn scatter_add(
    rows: ArrayView2<f32>,
    idx: ArrayView1<u32>,
    scale: f32,
    mut table: ArrayViewMut2<f32>,
) {
    for (row, &i) in rows.outer_iter().zip(idx) {
        table.row_mut(i as usize).scaled_add(scale, &row);
    }
}

/// CBOW's mean: `out[c] = rows[offsets[c]:offsets[c + 1]].mean(axis=0)`, zero for an empty segment.
pub fn segment_mean(rows: ArrayView2<f32>, offsets: ArrayView1<u32>, mut out: ArrayViewMut2<f32>) {
    let (starts, ends) = (offsets.slice(s![..-1]), offsets.slice(s![1..]));
    Zip::from(out.rows_mut())
        .and(&starts)
        .and(&ends)
        .for_each(|mut o, &a, &b| {
            match rows
                .slice(s![a as usize..b as usize, ..])
                .mean_axis(Axis(0))
            {
                Some(mean) => o.assign(&mean),
                None => o.fill(0.0),
            }
        });
}

/// SGD on the listed rows: `w[r] -= lr * grad[r]; grad[r] = 0`.
pub fn sgd_rows(
    mut w: ArrayViewMut2<f32>,
    mut grad: ArrayViewMut2<f32>,
    rows: ArrayView1<u32>,
    lr: f32,
) {
    for &r in rows {
        let r = r as usize;
        w.row_mut(r).scaled_add(-lr, &grad.row(r));
        grad.row_mut(r).fill(0.0);
    }
}

/// Lazy Adam on the listed rows (moments and weights of untouched rows stay as they are), with
/// the bias correction folded into one rate: `m = β1 m + (1−β1) g; v = β2 v + (1−β2) g²;
/// w −= lr·√(1−β2^t)/(1−β1^t) · m / (√v + ε); g = 0`.
pub fn adam_rows(
    mut w: ArrayViewMut2<f32>,
    mut m: ArrayViewMut2<f32>,
    mut v: ArrayViewMut2<f32>,
    mut grad: ArrayViewMut2<f32>,
    rows: ArrayView1<u32>,
    step: AdamStep,
) {
    let t = step.t as f64;
    let bias1 = 1.0 - (step.beta1 as f64).powf(t);
    let bias2 = 1.0 - (step.beta2 as f64).powf(t);
    let rate = (step.lr as f64 * bias2.sqrt() / bias1) as f32;
    let (b1, b2, eps) = (step.beta1, step.beta2, step.eps);
    for &r in rows {
        let r = r as usize;
        Zip::from(w.row_mut(r))
            .and(m.row_mut(r))
            .and(v.row_mut(r))
            .and(grad.row_mut(r))
            .for_each(|w, m, v, g| {
                *m = b1 * *m + (1.0 - b1) * *g;
                *v = b2 * *v + (1.0 - b2) * *g * *g;
                *w -= rate * *m / (v.sqrt() + eps);
                *g = 0.0;
            });
    }
}
