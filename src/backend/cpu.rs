//! The CPU backend: the book's layer operations on `Vec` buffers, and a multi-threaded Hogwild
//! `train_batch` (the fast path the trainer runs on `--device cpu`).
//!
//! The operations are straight loops over contiguous rows; the fast path lives in
//! [`crate::backend::hogwild`]'s shared-matrix handle plus the per-centre step below, which follows
//! `plan.rs` exactly (same centres, contexts, negatives and learning rates as the composed path).

use crate::backend::hogwild::HogwildMatrix;
use crate::backend::{composed, AdamStep, Backend, Elem, OptimizerKind, State, StepStats};
use crate::error::Result;
use crate::plan::{self, Batch, Centre, ModelKind, StepConfig, SENTENCE_BREAK};
use crate::sampler::{negatives_for_centre, AliasTable, NegativeMode};

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

/// Dot product with eight independent partial sums, so LLVM keeps them in vector lanes
/// (a single running sum is a serial dependency it may not reorder).
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 8;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = [0.0f32; L];
    for (x, y) in ca.zip(cb) {
        for i in 0..L {
            acc[i] += x[i] * y[i];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `y += a · x` over equal-length rows.
#[inline(always)]
pub(crate) fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// `(σ(x), exp(−|x|))`: the one transcendental that both σ and the stable binary cross-entropy
/// `max(x, 0) − x·t + log1p(exp(−|x|))` are built from; nothing overflows for any finite `x`.
#[inline(always)]
pub(crate) fn sigmoid_and_e(x: f32) -> (f32, f32) {
    let e = (-x.abs()).exp();
    let s = if x >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (s, e)
}

impl Backend for CpuBackend {
    type Buf<T: Elem> = Vec<T>;

    fn name(&self) -> String {
        let s = if self.threads == 1 { "" } else { "s" };
        format!("cpu ({} thread{s})", self.threads)
    }

    fn upload<T: Elem>(&self, host: &[T]) -> Result<Vec<T>> {
        Ok(host.to_vec())
    }

    fn download<T: Elem>(&self, buf: &Vec<T>) -> Result<Vec<T>> {
        Ok(buf.clone())
    }

    fn zeros<T: Elem>(&self, len: usize) -> Result<Vec<T>> {
        Ok(vec![T::default(); len])
    }

    fn gather(
        &self,
        table: &Vec<f32>,
        dim: usize,
        idx: &Vec<u32>,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        debug_assert_eq!(out.len(), idx.len() * dim);
        for (o, &i) in out.chunks_exact_mut(dim).zip(idx) {
            let i = i as usize;
            o.copy_from_slice(&table[i * dim..(i + 1) * dim]);
        }
        Ok(())
    }

    fn batched_dot(
        &self,
        h: &Vec<f32>,
        rows: &Vec<f32>,
        dim: usize,
        per_row: usize,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        debug_assert_eq!(rows.len(), out.len() * dim);
        debug_assert_eq!(h.len() * per_row, rows.len());
        for (p, hp) in h.chunks_exact(dim).enumerate() {
            let group = &rows[p * per_row * dim..(p + 1) * per_row * dim];
            for (o, r) in out[p * per_row..(p + 1) * per_row]
                .iter_mut()
                .zip(group.chunks_exact(dim))
            {
                *o = dot(hp, r);
            }
        }
        Ok(())
    }

    fn batched_dot_backward(
        &self,
        g: &Vec<f32>,
        h: &Vec<f32>,
        rows: &Vec<f32>,
        dim: usize,
        per_row: usize,
        grad_h: &mut Vec<f32>,
        grad_rows: &mut Vec<f32>,
    ) -> Result<()> {
        debug_assert_eq!(grad_h.len(), h.len());
        debug_assert_eq!(grad_rows.len(), rows.len());
        debug_assert_eq!(g.len() * dim, rows.len());
        let block = per_row * dim;
        for (p, (hp, gh)) in h
            .chunks_exact(dim)
            .zip(grad_h.chunks_exact_mut(dim))
            .enumerate()
        {
            gh.fill(0.0);
            let gs = &g[p * per_row..(p + 1) * per_row];
            let rs = rows[p * block..(p + 1) * block].chunks_exact(dim);
            let grs = grad_rows[p * block..(p + 1) * block].chunks_exact_mut(dim);
            for ((&gt, r), gr) in gs.iter().zip(rs).zip(grs) {
                axpy(gh, gt, r);
                for (o, &x) in gr.iter_mut().zip(hp) {
                    *o = gt * x;
                }
            }
        }
        Ok(())
    }

    fn sigmoid_bce(
        &self,
        scores: &Vec<f32>,
        labels: &Vec<f32>,
        loss: &mut Vec<f32>,
        grad: &mut Vec<f32>,
    ) -> Result<()> {
        debug_assert!(
            labels.len() == scores.len()
                && loss.len() == scores.len()
                && grad.len() == scores.len()
        );
        for (((&x, &t), l), g) in scores
            .iter()
            .zip(labels)
            .zip(loss.iter_mut())
            .zip(grad.iter_mut())
        {
            let (s, e) = sigmoid_and_e(x);
            *l = x.max(0.0) - x * t + e.ln_1p();
            *g = s - t;
        }
        Ok(())
    }

    fn scatter_add(
        &self,
        rows: &Vec<f32>,
        dim: usize,
        idx: &Vec<u32>,
        scale: f32,
        table: &mut Vec<f32>,
    ) -> Result<()> {
        debug_assert_eq!(rows.len(), idx.len() * dim);
        for (r, &i) in rows.chunks_exact(dim).zip(idx) {
            let i = i as usize;
            axpy(&mut table[i * dim..(i + 1) * dim], scale, r);
        }
        Ok(())
    }

    fn segment_mean(
        &self,
        rows: &Vec<f32>,
        dim: usize,
        offsets: &Vec<u32>,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        debug_assert_eq!(out.len() + dim, offsets.len() * dim);
        for (o, w) in out.chunks_exact_mut(dim).zip(offsets.windows(2)) {
            let (a, b) = (w[0] as usize, w[1] as usize);
            o.fill(0.0);
            for r in rows[a * dim..b * dim].chunks_exact(dim) {
                axpy(o, 1.0, r);
            }
            if b > a {
                let inv = 1.0 / (b - a) as f32;
                o.iter_mut().for_each(|x| *x *= inv);
            }
        }
        Ok(())
    }

    fn sample_negatives(
        &self,
        state: &State<Self>,
        centres: &Vec<u32>,
        positions: &Vec<u64>,
        k: usize,
        mode: NegativeMode,
        seed: u64,
        out: &mut Vec<u32>,
    ) -> Result<()> {
        debug_assert_eq!(out.len(), centres.len() * k);
        if k == 0 {
            return Ok(());
        }
        for ((o, &c), &pos) in out.chunks_exact_mut(k).zip(centres).zip(positions) {
            negatives_for_centre(&state.alias, seed, pos, c, mode, o);
        }
        Ok(())
    }

    fn sgd_rows(
        &self,
        w: &mut Vec<f32>,
        grad: &mut Vec<f32>,
        dim: usize,
        rows: &Vec<u32>,
        lr: f32,
    ) -> Result<()> {
        for &r in rows {
            let span = r as usize * dim..(r as usize + 1) * dim;
            let g = &mut grad[span.clone()];
            axpy(&mut w[span], -lr, g);
            g.fill(0.0);
        }
        Ok(())
    }

    fn adam_rows(
        &self,
        w: &mut Vec<f32>,
        m: &mut Vec<f32>,
        v: &mut Vec<f32>,
        grad: &mut Vec<f32>,
        dim: usize,
        rows: &Vec<u32>,
        step: AdamStep,
    ) -> Result<()> {
        let t = step.t as f64;
        let bias1 = 1.0 - (step.beta1 as f64).powf(t);
        let bias2 = 1.0 - (step.beta2 as f64).powf(t);
        let rate = (step.lr as f64 * bias2.sqrt() / bias1) as f32;
        let (b1, b2, eps) = (step.beta1, step.beta2, step.eps);
        for &r in rows {
            let span = r as usize * dim..(r as usize + 1) * dim;
            let ws = w[span.clone()].iter_mut();
            let ms = m[span.clone()].iter_mut();
            let vs = v[span.clone()].iter_mut();
            for (((wi, mi), vi), gi) in ws.zip(ms).zip(vs).zip(grad[span].iter_mut()) {
                let g = *gi;
                *mi = b1 * *mi + (1.0 - b1) * g;
                *vi = b2 * *vi + (1.0 - b2) * g * g;
                *wi -= rate * *mi / (vi.sqrt() + eps);
                *gi = 0.0;
            }
        }
        Ok(())
    }

    /// The Hogwild fast path (SGD only; with Adam it runs [`composed::train_batch`]).
    ///
    /// The batch is cut at span boundaries into at most `threads` contiguous groups, one scoped
    /// thread each; every thread trains exactly the centres [`plan::centres`] gives its spans, with
    /// the parent batch's learning-rate ramp, and writes the shared matrices without locks.
    /// One thread is bit-reproducible; more threads race as Hogwild does (lost updates are rare
    /// and harmless to convergence).
    fn train_batch(
        &self,
        state: &mut State<Self>,
        tokens: &[u32],
        batch: &Batch,
        cfg: &StepConfig,
        batch_size: usize,
    ) -> Result<StepStats> {
        if state.optimizer != OptimizerKind::Sgd {
            return composed::train_batch(self, state, tokens, batch, cfg, batch_size);
        }
        let dim = state.dim;
        let words = tokens[batch.start..batch.start + batch.len]
            .iter()
            .filter(|&&w| w != SENTENCE_BREAK)
            .count() as u64;
        let spans: Vec<(usize, usize)> = batch.spans().collect();
        let groups = self.threads.min(spans.len()).max(1);
        let sub_batches: Vec<Batch> = (0..groups)
            .filter_map(|g| {
                let (a, b) = (g * spans.len() / groups, (g + 1) * spans.len() / groups);
                (b > a).then(|| Batch {
                    start: spans[a].0,
                    len: spans[b - 1].1 - spans[a].0,
                    ..batch.clone()
                })
            })
            .collect();
        let w_in = HogwildMatrix::new(&mut state.w_in, dim);
        let w_out = HogwildMatrix::new(&mut state.w_out, dim);
        let shared = Shared {
            tokens,
            parent: batch,
            keep: &state.keep,
            table: &state.alias,
            cfg,
        };
        let mut stats = if sub_batches.len() <= 1 {
            sub_batches
                .first()
                .map(|sub| shared.run(sub, w_in, w_out))
                .unwrap_or_default()
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = sub_batches
                    .iter()
                    .map(|sub| {
                        let (w_in, w_out, shared) = (w_in.clone(), w_out.clone(), &shared);
                        scope.spawn(move || shared.run(sub, w_in, w_out))
                    })
                    .collect();
                let mut total = StepStats::default();
                for h in handles {
                    total.add(&h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
                }
                total
            })
        };
        stats.words = words;
        Ok(stats)
    }
}

/// What every worker of one `train_batch` call reads.
struct Shared<'a> {
    tokens: &'a [u32],
    parent: &'a Batch,
    keep: &'a [u32],
    table: &'a AliasTable,
    cfg: &'a StepConfig,
}

impl Shared<'_> {
    /// Trains the centres of `sub` (a span-aligned piece of the parent batch) on one thread.
    fn run(&self, sub: &Batch, w_in: HogwildMatrix<'_>, w_out: HogwildMatrix<'_>) -> StepStats {
        let mut worker = Worker::new(w_in, w_out, self.cfg.negative as usize);
        plan::centres(self.tokens, sub, self.keep, self.table, self.cfg, |c| {
            if c.contexts.is_empty() {
                return;
            }
            let lr = self.parent.lr_at(c.index);
            match self.cfg.model {
                ModelKind::Skipgram => worker.skipgram(c, lr),
                ModelKind::Cbow => worker.cbow(c, lr),
            }
        });
        worker.stats
    }
}

/// One thread's scratch buffers (allocated once per call, reused for every centre).
struct Worker<'a> {
    w_in: HogwildMatrix<'a>,
    w_out: HogwildMatrix<'a>,
    dim: usize,
    /// `[1 + K]` target ids and labels of the current centre.
    targets: Vec<u32>,
    labels: Vec<f32>,
    /// `[1 + K, dim]` copies of the target rows, read once per centre.
    rows: Vec<f32>,
    /// `[1 + K, dim]` accumulated target-row gradients (already scaled by the learning rate).
    acc: Vec<f32>,
    /// `[dim]` the input vector and its gradient.
    h: Vec<f32>,
    grad_h: Vec<f32>,
    /// `[1 + K]` scaled output gradients of the current example.
    g: Vec<f32>,
    stats: StepStats,
}

impl<'a> Worker<'a> {
    fn new(w_in: HogwildMatrix<'a>, w_out: HogwildMatrix<'a>, k: usize) -> Self {
        let dim = w_in.dim();
        let n = 1 + k;
        let mut labels = vec![0.0; n];
        labels[0] = 1.0;
        Worker {
            w_in,
            w_out,
            dim,
            targets: vec![0; n],
            labels,
            rows: vec![0.0; n * dim],
            acc: vec![0.0; n * dim],
            h: vec![0.0; dim],
            grad_h: vec![0.0; dim],
            g: vec![0.0; n],
            stats: StepStats::default(),
        }
    }

    /// Copies the centre's target rows `[centre, negatives…]` out of `w_out`.
    fn load_targets(&mut self, c: &Centre) {
        self.targets[0] = c.word;
        self.targets[1..].copy_from_slice(&c.negatives);
        for (dst, &t) in self.rows.chunks_exact_mut(self.dim).zip(&self.targets) {
            dst.copy_from_slice(self.w_out.row(t as usize));
        }
    }

    /// Scores `h` (in `self.h`) against the loaded target rows: fills `self.g` with
    /// `lr·(σ(s) − label)`, `self.grad_h` with `Σ g_t rows_t`, and returns the examples' loss.
    #[inline(always)]
    fn score(&mut self, lr: f32) -> f64 {
        let dim = self.dim;
        let mut loss = 0.0f64;
        self.grad_h.fill(0.0);
        for ((r, &t), g) in self
            .rows
            .chunks_exact(dim)
            .zip(&self.labels)
            .zip(self.g.iter_mut())
        {
            let x = dot(&self.h, r);
            let (s, e) = sigmoid_and_e(x);
            loss += (x.max(0.0) - x * t + e.ln_1p()) as f64;
            *g = (s - t) * lr;
            axpy(&mut self.grad_h, *g, r);
        }
        loss
    }

    fn skipgram(&mut self, c: &Centre, lr: f32) {
        let dim = self.dim;
        self.load_targets(c);
        self.acc.fill(0.0);
        for &ctx in &c.contexts {
            self.h.copy_from_slice(self.w_in.row(ctx as usize));
            self.stats.loss_sum += self.score(lr);
            for (a, &g) in self.acc.chunks_exact_mut(dim).zip(&self.g) {
                axpy(a, g, &self.h);
            }
            axpy(self.w_in.row_mut(ctx as usize), -1.0, &self.grad_h);
        }
        for (a, &t) in self.acc.chunks_exact(dim).zip(&self.targets) {
            axpy(self.w_out.row_mut(t as usize), -1.0, a);
        }
        self.stats.examples += (c.contexts.len() * self.targets.len()) as u64;
        self.stats.centres += 1;
    }

    fn cbow(&mut self, c: &Centre, lr: f32) {
        self.load_targets(c);
        self.h.fill(0.0);
        for &ctx in &c.contexts {
            axpy(&mut self.h, 1.0, self.w_in.row(ctx as usize));
        }
        let inv = 1.0 / c.contexts.len() as f32;
        self.h.iter_mut().for_each(|x| *x *= inv);
        self.stats.loss_sum += self.score(lr);
        for &ctx in &c.contexts {
            axpy(self.w_in.row_mut(ctx as usize), -1.0, &self.grad_h);
        }
        for (&g, &t) in self.g.iter().zip(&self.targets) {
            axpy(self.w_out.row_mut(t as usize), -g, &self.h);
        }
        self.stats.examples += self.targets.len() as u64;
        self.stats.centres += 1;
    }
}
