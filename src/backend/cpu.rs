//! The CPU backend: the book's layer operations on `Vec` buffers, and a multi-threaded Hogwild
//! `train_batch` (the fast path the trainer runs on `--device cpu`).
//!
//! The operations are straight loops over contiguous rows; the fast path lives in
//! [`crate::backend::hogwild`]'s shared-matrix handle plus the per-centre step below, which follows
//! `plan.rs` exactly (same centres, contexts, negatives and learning rates as the composed path).

use crate::backend::hogwild::HogwildMatrix;
use crate::backend::{
    AdamStep, Backend, Capabilities, Elem, Model, OptimizerKind, StepStats, Storage, Tables,
};
use crate::error::Result;
use crate::train::plan::{self, Batch, Centre, ModelKind, StepConfig, SENTENCE_BREAK};
use crate::train::sampler::{negatives_for_centre, AliasTable, NegativeMode};

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

/// Dot product with sixteen independent partial sums (two 256-bit or four 128-bit registers), so
/// LLVM keeps them in vector lanes; a single running sum is a serial chain it may not reorder.
/// The partial sums are added in order at the end: a pairwise tree here makes LLVM's SLP
/// vectoriser fall back to 2-wide vectors.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 16;
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
    acc.iter().sum::<f32>() + tail
}

/// `y += a · x` over equal-length rows.
#[inline(always)]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// `(σ(x), exp(−|x|))`: the one transcendental that both σ and the stable binary cross-entropy
/// `max(x, 0) − x·t + log1p(exp(−|x|))` are built from; nothing overflows for any finite `x`.
#[inline(always)]
fn sigmoid_and_e(x: f32) -> (f32, f32) {
    let e = (-x.abs()).exp();
    let s = if x >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (s, e)
}

/// `exp(x)` for `x ≤ 0` in plain, branch-free f32 arithmetic: no libm call in the per-target pass
/// (libm's `expf` was a sixth of the fast path's time). Cody–Waite reduction `x = n·ln2 + r`, |r| ≤ ln2/2, then Cephes' degree-7
/// polynomial for `e^r` and `2^n` built from exponent bits: within 2 ulp of the true value
/// (tested against f64). Below −87 (where `e^x` < 2^−125) it returns 0; σ and the loss built
/// from it change by less than 1e−37 there.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer in the low bits
    let xc = x.max(-87.0);
    let t = xc * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = (xc - n * 0.693_359_4) - n * -2.121_944_4e-4;
    let mut p = 1.987_569_2e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let er = p * (r * r) + r + 1.0;
    let n_int = t.to_bits() as i32 - MAGIC.to_bits() as i32;
    let scale = f32::from_bits(((n_int + 127) as u32) << 23);
    if x < -87.0 {
        0.0
    } else {
        er * scale
    }
}

impl Backend for CpuBackend {
    type Buf<T: Elem> = Vec<T>;

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
        }
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
        tables: &Tables<Self>,
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
            negatives_for_centre(&tables.alias, seed, pos, c, mode, o);
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

    /// The Hogwild fast path (SGD on f32 weights).
    ///
    /// The batch is cut at span boundaries into at most `threads` contiguous groups, one scoped
    /// thread each; every thread trains exactly the centres [`plan::centres`] gives its spans, with
    /// the parent batch's learning-rate ramp, and writes the shared matrices without locks.
    /// One thread is bit-reproducible; more threads race as Hogwild does (lost updates are rare
    /// and harmless to convergence).
    fn train_batch(
        &self,
        model: &mut Model<Self>,
        tables: &Tables<Self>,
        tokens: &[u32],
        batch: &Batch,
        cfg: &StepConfig,
    ) -> Result<StepStats> {
        let dim = model.dim;
        let (w_in, w_out) = model
            .f32_mut()
            .expect("choose_step gives the CPU fast path f32 weights only");
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
        let w_in = HogwildMatrix::new(w_in, dim);
        let w_out = HogwildMatrix::new(w_out, dim);
        let shared = Shared {
            tokens,
            parent: batch,
            keep: &tables.keep,
            table: &tables.alias,
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
        self.run_with(sub, w_in, w_out, has_avx2())
    }

    /// [`Shared::run`] with the AVX2 build of the step chosen by the caller (`avx2` must only be
    /// true where the CPU has AVX2).
    fn run_with(
        &self,
        sub: &Batch,
        w_in: HogwildMatrix<'_>,
        w_out: HogwildMatrix<'_>,
        avx2: bool,
    ) -> StepStats {
        let model = self.cfg.model;
        let mut worker = Worker::new(w_in, w_out, self.cfg.negative as usize, avx2);
        // One centre of look-ahead: its rows start loading while the previous centre trains.
        plan::centres(self.tokens, sub, self.keep, self.table, self.cfg, |c| {
            if !c.contexts.is_empty() {
                worker.prefetch(c);
                worker.train_pending(model);
                worker.stash(c, self.parent.lr_at(c.index));
            }
        });
        worker.train_pending(model);
        worker.finish()
    }
}

/// Whether this CPU can run the AVX2 build of the per-centre step.
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Running loss of one worker, in a form that needs a logarithm only every few hundred examples
/// instead of a `log1p` per example: `Σ bce = Σ (max(x,0) − x·t) + ln Π (1 + exp(−|x|))`. Each
/// factor lies in [1, 2], so the f64 product is folded into the sum long before it could overflow.
struct LossAcc {
    linear: f64,
    product: f64,
    sum: f64,
}

impl LossAcc {
    fn new() -> Self {
        LossAcc {
            linear: 0.0,
            product: 1.0,
            sum: 0.0,
        }
    }

    /// Folds the product into the sum when it grows large (call between examples' groups).
    #[inline(always)]
    fn settle(&mut self, force: bool) {
        if force || self.product > 1e250 {
            self.sum += self.linear + self.product.ln();
            self.linear = 0.0;
            self.product = 1.0;
        }
    }
}

/// The centre a worker trains next: what [`Centre`] gives it, plus its learning rate.
#[derive(Default)]
struct Pending {
    word: u32,
    lr: f32,
    contexts: Vec<u32>,
    negatives: Vec<u32>,
}

/// One thread's scratch buffers (allocated once per call, reused for every centre).
struct Worker<'a> {
    w_in: HogwildMatrix<'a>,
    w_out: HogwildMatrix<'a>,
    dim: usize,
    /// `[1 + K]` target ids of the current centre, and their labels, scores and gradients.
    targets: Vec<u32>,
    lanes: Lanes,
    /// `[1 + K, dim]` copies of the target rows, read once per centre.
    rows: Vec<f32>,
    /// `[1 + K, dim]` accumulated target-row gradients (already scaled by the learning rate).
    acc: Vec<f32>,
    /// `[dim]` CBOW's mean input, and the input gradient of the current example.
    h: Vec<f32>,
    grad_h: Vec<f32>,
    loss: LossAcc,
    stats: StepStats,
    /// The centre whose rows are being prefetched, trained when the next one arrives.
    pending: Option<Pending>,
    /// Emptied `Pending` kept for its allocations.
    spare: Pending,
    /// Whether this CPU runs the AVX2 build of the per-centre step.
    avx2: bool,
}

/// Width of the σ/loss pass over one centre's targets (`1 + K` padded to whole chunks).
const LANES: usize = 8;

/// Per-target values of one example group, `LANES`-padded (padding lanes are computed and ignored).
struct Lanes {
    /// Targets in use (`1 + K`).
    n: usize,
    label: Vec<f32>,
    score: Vec<f32>,
    /// `exp(−|score|)`, the loss's linear part `max(x, 0) − x·t`, and `lr·(σ(x) − t)`.
    e: Vec<f32>,
    linear: Vec<f32>,
    g: Vec<f32>,
}

impl Lanes {
    fn new(n: usize) -> Self {
        let padded = n.div_ceil(LANES) * LANES;
        let mut label = vec![0.0; padded];
        label[0] = 1.0;
        let z = vec![0.0; padded];
        Lanes {
            n,
            label,
            score: z.clone(),
            e: z.clone(),
            linear: z.clone(),
            g: z,
        }
    }

    /// σ, gradient and loss parts of every lane: fixed-size, branch-free chunks with no libm call.
    #[inline(always)]
    fn activate(&mut self, lr: f32) {
        let chunks = self.score.len() / LANES;
        for c in 0..chunks {
            let lanes = c * LANES..(c + 1) * LANES;
            let x: &[f32; LANES] = self.score[lanes.clone()].try_into().unwrap();
            let t: &[f32; LANES] = self.label[lanes.clone()].try_into().unwrap();
            let e: &mut [f32; LANES] = (&mut self.e[lanes.clone()]).try_into().unwrap();
            for i in 0..LANES {
                e[i] = exp_nonpositive(-x[i].abs());
            }
            let lin: &mut [f32; LANES] = (&mut self.linear[lanes.clone()]).try_into().unwrap();
            for i in 0..LANES {
                lin[i] = x[i].max(0.0) - x[i] * t[i];
            }
            let g: &mut [f32; LANES] = (&mut self.g[lanes]).try_into().unwrap();
            for i in 0..LANES {
                let inv = 1.0 / (1.0 + e[i]);
                let s = if x[i] >= 0.0 { inv } else { e[i] * inv };
                g[i] = (s - t[i]) * lr;
            }
        }
    }
}

/// One example group: scores of `h` against the target `rows`; with `g = lr·(σ(x) − label)`,
/// sets `grad_h = Σ g_t rows_t` and adds `g_t h` to `acc_t`.
#[inline(always)]
fn train_group(
    h: &[f32],
    rows: &[f32],
    lanes: &mut Lanes,
    lr: f32,
    grad_h: &mut [f32],
    acc: &mut [f32],
    loss: &mut LossAcc,
) {
    let dim = h.len();
    for (x, r) in lanes.score.iter_mut().zip(rows.chunks_exact(dim)) {
        *x = dot(h, r);
    }
    lanes.activate(lr);
    for (&lin, &e) in lanes.linear[..lanes.n].iter().zip(&lanes.e[..lanes.n]) {
        loss.linear += lin as f64;
        loss.product *= 1.0 + e as f64;
    }
    loss.settle(false);
    grad_h.fill(0.0);
    for ((r, a), &g) in rows
        .chunks_exact(dim)
        .zip(acc.chunks_exact_mut(dim))
        .zip(&lanes.g)
    {
        axpy(grad_h, g, r);
        axpy(a, g, h);
    }
}

impl<'a> Worker<'a> {
    fn new(w_in: HogwildMatrix<'a>, w_out: HogwildMatrix<'a>, k: usize, avx2: bool) -> Self {
        let dim = w_in.dim();
        let n = 1 + k;
        Worker {
            w_in,
            w_out,
            dim,
            targets: vec![0; n],
            lanes: Lanes::new(n),
            rows: vec![0.0; n * dim],
            acc: vec![0.0; n * dim],
            h: vec![0.0; dim],
            grad_h: vec![0.0; dim],
            loss: LossAcc::new(),
            stats: StepStats::default(),
            pending: None,
            spare: Pending::default(),
            avx2,
        }
    }

    /// Starts loading every row centre `c` touches into cache, so that the misses overlap with
    /// the previous centre's arithmetic instead of stalling this one's.
    fn prefetch(&self, c: &Centre) {
        self.w_out.prefetch(c.word as usize);
        for &t in &c.negatives {
            self.w_out.prefetch(t as usize);
        }
        for &ctx in &c.contexts {
            self.w_in.prefetch(ctx as usize);
        }
    }

    /// Queues `c` (copied into reused buffers) as the next centre to train.
    fn stash(&mut self, c: &Centre, lr: f32) {
        let mut p = std::mem::take(&mut self.spare);
        p.word = c.word;
        p.lr = lr;
        p.contexts.clear();
        p.contexts.extend_from_slice(&c.contexts);
        p.negatives.clear();
        p.negatives.extend_from_slice(&c.negatives);
        self.pending = Some(p);
    }

    /// Trains the queued centre, if any.
    fn train_pending(&mut self, model: ModelKind) {
        if let Some(p) = self.pending.take() {
            self.centre(&p, model);
            self.spare = p;
        }
    }

    /// Copies the centre's target rows `[centre, negatives…]` out of `w_out`.
    #[inline(always)]
    fn load_targets(&mut self, c: &Pending) {
        self.targets[0] = c.word;
        self.targets[1..].copy_from_slice(&c.negatives);
        for (dst, &t) in self.rows.chunks_exact_mut(self.dim).zip(&self.targets) {
            dst.copy_from_slice(self.w_out.row(t as usize));
        }
        self.acc.fill(0.0);
    }

    /// Subtracts the accumulated target-row gradients from `w_out`, once per centre.
    #[inline(always)]
    fn store_targets(&mut self) {
        for (a, &t) in self.acc.chunks_exact(self.dim).zip(&self.targets) {
            axpy(self.w_out.row_mut(t as usize), -1.0, a);
        }
        self.stats.centres += 1;
    }

    /// Trains one centre, with 256-bit vectors where the CPU has them. Neither path contracts to
    /// FMA, so both compute bit-identical results (the same operations in the same order).
    fn centre(&mut self, c: &Pending, model: ModelKind) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is only true where a run-time check found AVX2 on this CPU (see
            // `has_avx2` and `Shared::run_with`), the only feature `centre_avx2` enables.
            return unsafe { self.centre_avx2(c, model) };
        }
        self.centre_body(c, model)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn centre_avx2(&mut self, c: &Pending, model: ModelKind) {
        self.centre_body(c, model)
    }

    #[inline(always)]
    fn centre_body(&mut self, c: &Pending, model: ModelKind) {
        match model {
            ModelKind::Skipgram => self.skipgram(c),
            ModelKind::Cbow => self.cbow(c),
        }
    }

    #[inline(always)]
    fn skipgram(&mut self, c: &Pending) {
        let lr = c.lr;
        self.load_targets(c);
        for &ctx in &c.contexts {
            let h = self.w_in.row_mut(ctx as usize);
            train_group(
                h,
                &self.rows,
                &mut self.lanes,
                lr,
                &mut self.grad_h,
                &mut self.acc,
                &mut self.loss,
            );
            axpy(h, -1.0, &self.grad_h);
        }
        self.stats.examples += (c.contexts.len() * self.targets.len()) as u64;
        self.store_targets();
    }

    #[inline(always)]
    fn cbow(&mut self, c: &Pending) {
        let lr = c.lr;
        self.load_targets(c);
        self.h.fill(0.0);
        for &ctx in &c.contexts {
            axpy(&mut self.h, 1.0, self.w_in.row(ctx as usize));
        }
        let inv = 1.0 / c.contexts.len() as f32;
        self.h.iter_mut().for_each(|x| *x *= inv);
        train_group(
            &self.h,
            &self.rows,
            &mut self.lanes,
            lr,
            &mut self.grad_h,
            &mut self.acc,
            &mut self.loss,
        );
        for &ctx in &c.contexts {
            axpy(self.w_in.row_mut(ctx as usize), -1.0, &self.grad_h);
        }
        self.stats.examples += self.targets.len() as u64;
        self.store_targets();
    }

    fn finish(mut self) -> StepStats {
        self.loss.settle(true);
        self.stats.loss_sum = self.loss.sum;
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::sampler::keep_thresholds;

    /// The vectorisable exp stays within 2 ulp of the true value over its whole range.
    #[test]
    fn exp_nonpositive_is_within_two_ulp() {
        let mut x = 0.0f32;
        let mut worst = 0.0f64;
        while x > -87.0 {
            let want = (x as f64).exp();
            let got = exp_nonpositive(x) as f64;
            let w = want as f32;
            let ulp = (f32::from_bits(w.to_bits() + 1) - w) as f64;
            worst = worst.max((got - want).abs() / ulp);
            x -= 1e-4 * (1.0 + x.abs());
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-1e4), 0.0);
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
    }

    /// The AVX2 build and the baseline build of the step give bit-identical parameters and loss.
    #[test]
    fn avx2_and_baseline_steps_are_bit_identical() {
        let vocab = 40usize;
        let dim = 37; // not a multiple of the vector width: exercises the scalar tails
        let tokens: Vec<u32> = (0..3000u64)
            .map(|i| {
                let r = crate::train::rng::draw(4, i, 9, 0);
                if r[1] % 13 == 0 {
                    SENTENCE_BREAK
                } else {
                    crate::train::rng::below(r[0], vocab as u32)
                }
            })
            .collect();
        let counts: Vec<u64> = (0..vocab as u64).map(|i| 100 + 50 * i).collect();
        let table = AliasTable::unigram(&counts, 0.75);
        let keep = keep_thresholds(&counts, 0.0);
        let init: Vec<f32> = (0..vocab * dim)
            .map(|i| {
                crate::train::rng::unit_f32(crate::train::rng::draw(2, i as u64, 3, 0)[0]) - 0.5
            })
            .collect();
        let batch = Batch {
            start: 0,
            len: tokens.len(),
            epoch: 0,
            corpus_len: 3000,
            lr_begin: 0.05,
            lr_end: 0.01,
        };
        for model in [ModelKind::Skipgram, ModelKind::Cbow] {
            let cfg = StepConfig {
                model,
                window: 3,
                fixed_window: false,
                negative: 4,
                negatives: NegativeMode::Replace,
                seed: 1,
            };
            let shared = Shared {
                tokens: &tokens,
                parent: &batch,
                keep: &keep,
                table: &table,
                cfg: &cfg,
            };
            let mut results = Vec::new();
            for avx2 in [false, has_avx2()] {
                let (mut w_in, mut w_out) = (init.clone(), init.clone());
                let stats = shared.run_with(
                    &batch,
                    HogwildMatrix::new(&mut w_in, dim),
                    HogwildMatrix::new(&mut w_out, dim),
                    avx2,
                );
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                results.push((
                    stats.loss_sum.to_bits(),
                    stats.examples,
                    bits(&w_in),
                    bits(&w_out),
                ));
            }
            assert!(results[0].1 > 0);
            assert!(
                results[0] == results[1],
                "{model:?}: AVX2 and baseline builds differ"
            );
        }
    }
}
