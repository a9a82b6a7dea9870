//! The Hogwild fast path (`--device cpu`): the batch split over scoped threads, and each thread's
//! per-centre step on contiguous rows of the shared `W_in` and `W_out` arrays.
//!
//! The step follows `plan.rs` exactly (same centres, contexts, negatives and learning rates as the
//! composed path); what makes it fast is reading each target row once per centre (skip-gram copies
//! them, CBOW's single example works on them in place), one fused σ/loss pass per example, and an
//! AVX2 build chosen at run time that is bit-identical to the baseline build.

use std::ops::Range;

use ndarray::Array2;

use super::hogwild::{HogwildMatrix, ThreadRows};
use super::simd::{axpy, dot, exp_nonpositive};
use super::{matrix_mut, CpuBackend};
use crate::backend::{Model, StepStats, Tables};
use crate::train::plan::{self, Batch, Centre, Chunk, ModelKind, StepConfig};
use crate::train::sampler::AliasTable;

/// Trains `batch` with `threads` Hogwild workers (SGD).
///
/// The batch's tokens are cut into `threads` equal contiguous ranges, one scoped thread each
/// (wherever the cuts fall, inside a span too: a batch of a small corpus may hold a single span);
/// every thread trains exactly the centres of its range ([`plan::centres_in`], windows over whole
/// spans), with the batch's learning-rate ramp, and writes the shared matrices without locks.
/// One thread is bit-reproducible; more threads race as Hogwild does (lost updates are rare
/// and harmless to convergence), except on the [`HOT_ROWS`] most frequent words' rows, which each
/// thread updates in its own copies and merges every [`merge_every`] centres ([`ThreadRows`]).
pub fn train_batch(
    threads: usize,
    model: &mut Model<CpuBackend>,
    tables: &Tables<CpuBackend>,
    chunk: &Chunk,
    batch: &Batch,
    cfg: &StepConfig,
) -> StepStats {
    let dim = model.dim;
    let (w_in, w_out) = model
        .f32_mut()
        .expect("choose_step gives the CPU fast path f32 weights only");
    let vocab = w_in.len() / dim;
    let groups = threads.min(batch.len).max(1);
    let ranges: Vec<Range<usize>> = (0..groups)
        .map(|g| batch.start + g * batch.len / groups..batch.start + (g + 1) * batch.len / groups)
        .filter(|r| !r.is_empty())
        .collect();
    let w_in = HogwildMatrix::new(matrix_mut(w_in, dim));
    let w_out = HogwildMatrix::new(matrix_mut(w_out, dim));
    let merges = std::sync::Mutex::new(());
    let shared = Shared {
        chunk,
        parent: batch,
        keep: &tables.keep,
        table: &tables.alias,
        cfg,
        frozen: tables.frozen_in.as_deref(),
        hot: if ranges.len() > 1 { hot_rows(vocab) } else { 0 },
        every: merge_every(ranges.len()),
        merges: &merges,
    };
    if ranges.len() <= 1 {
        ranges
            .first()
            .map(|r| shared.run(r.clone(), w_in, w_out))
            .unwrap_or_default()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = ranges
                .iter()
                .map(|r| {
                    let (w_in, w_out, shared) = (w_in.clone(), w_out.clone(), &shared);
                    scope.spawn(move || shared.run(r.clone(), w_in, w_out))
                })
                .collect();
            let mut total = StepStats::default();
            for h in handles {
                total.add(&h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            total
        })
    }
}

/// What every worker of one `train_batch` call reads.
struct Shared<'a> {
    chunk: &'a Chunk<'a>,
    parent: &'a Batch,
    keep: &'a [u32],
    table: &'a AliasTable,
    cfg: &'a StepConfig,
    /// `W_in` rows kept fixed, by word id.
    frozen: Option<&'a [bool]>,
    /// How many of the most frequent words' rows each thread keeps its own copies of
    /// ([`ThreadRows`]; 0 with one thread), and the lock their merges take.
    hot: usize,
    merges: &'a std::sync::Mutex<()>,
    /// Centres between two merges ([`merge_every`]).
    every: usize,
}

/// Rows of each matrix (the most frequent words) a thread keeps its own copies of when several
/// threads train a batch ([`ThreadRows`]): on the KJV (5,278 words) two threads' CBOW went from
/// 4.1M to 5.0M words/s, skip-gram's from 1.95M to 2.09M (`benches/RESULTS.md`); 32 rows gave less,
/// 128 no more.
const HOT_ROWS: usize = 64;

/// Hot rows for a vocabulary of `vocab` words: [`HOT_ROWS`], but at most one word in 64, so that
/// most rows of a small vocabulary stay shared. Where every row is some thread's copy (a 32-word
/// vocabulary), the copies drift apart within a few centres and the summed merges overshoot: two
/// threads' loss came out 5 % above one thread's, where plain Hogwild's matched it.
fn hot_rows(vocab: usize) -> usize {
    HOT_ROWS.min(vocab / 64)
}

/// Centres a thread trains between two merges of its hot rows, with `threads` threads.
///
/// Between merges the threads' copies drift apart and a merge sums their changes, so what bounds
/// quality is the threads × centres the copies were apart. 8,192 held on the KJV for 2, 4, 8 and 16
/// threads (analogy, WordSim-353 and SimLex-999 within the seeds' spread of plain Hogwild); 32,768
/// did not on 8 threads (skip-gram's analogies fell from 8.8 % to 0.2 %).
fn merge_every(threads: usize) -> usize {
    (8192 / threads.max(1)).max(64)
}

impl Shared<'_> {
    /// Trains the centres of the parent batch whose offsets lie in `range`, on one thread.
    fn run(
        &self,
        range: Range<usize>,
        w_in: HogwildMatrix<'_>,
        w_out: HogwildMatrix<'_>,
    ) -> StepStats {
        self.run_with(range, w_in, w_out, has_avx2())
    }

    /// [`Shared::run`] with the AVX2 build of the step chosen by the caller (`avx2` must only be
    /// true where the CPU has AVX2).
    fn run_with(
        &self,
        range: Range<usize>,
        w_in: HogwildMatrix<'_>,
        w_out: HogwildMatrix<'_>,
        avx2: bool,
    ) -> StepStats {
        let model = self.cfg.model;
        let (w_in, w_out) = (
            ThreadRows::new(w_in, self.hot),
            ThreadRows::new(w_out, self.hot),
        );
        let mut worker = Worker::new(w_in, w_out, self.cfg.negative as usize, avx2);
        worker.frozen = self.frozen;
        let mut since = 0usize;
        // One centre of look-ahead: its rows start loading while the previous centre trains.
        let (chunk, parent) = (self.chunk, self.parent);
        plan::centres_in(chunk, parent, range, self.keep, self.table, self.cfg, |c| {
            if !c.contexts.is_empty() {
                worker.prefetch(c);
                worker.train_pending(model);
                worker.stash(c, self.parent.lr_at(c.index));
                since += 1;
                if since == self.every {
                    since = 0;
                    worker.merge(self.merges, true);
                }
            }
        });
        worker.train_pending(model);
        worker.merge(self.merges, false);
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
    w_in: ThreadRows<'a>,
    w_out: ThreadRows<'a>,
    /// `[1 + K]` target ids of the current centre, and their labels, scores and gradients.
    targets: Vec<u32>,
    lanes: Lanes,
    /// Copies of the target rows, read once per skip-gram centre (CBOW reads `w_out` in place).
    rows: Array2<f32>,
    /// Accumulated target-row gradients (already scaled by the learning rate), one row per target
    /// (skip-gram).
    acc: Array2<f32>,
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
    /// `W_in` rows kept fixed, by word id (they still train the rows they meet).
    frozen: Option<&'a [bool]>,
}

/// Whether `W_in` row `id` is kept fixed.
#[inline(always)]
fn frozen(mask: Option<&[bool]>, id: u32) -> bool {
    mask.is_some_and(|m| m[id as usize])
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

/// The rows of a scratch matrix as contiguous slices (one layout check per call, not per row).
#[inline(always)]
fn row_slices(m: &Array2<f32>) -> std::slice::ChunksExact<'_, f32> {
    let dim = m.ncols();
    m.as_slice().expect(SCRATCH).chunks_exact(dim)
}

/// [`row_slices`] for writing.
#[inline(always)]
fn row_slices_mut(m: &mut Array2<f32>) -> std::slice::ChunksExactMut<'_, f32> {
    let dim = m.ncols();
    m.as_slice_mut().expect(SCRATCH).chunks_exact_mut(dim)
}

const SCRATCH: &str = "scratch matrices are standard-layout";

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
    fn new(w_in: ThreadRows<'a>, w_out: ThreadRows<'a>, k: usize, avx2: bool) -> Self {
        let dim = w_in.dim();
        let n = 1 + k;
        Worker {
            w_in,
            w_out,
            targets: vec![0; n],
            lanes: Lanes::new(n),
            rows: Array2::zeros((n, dim)),
            acc: Array2::zeros((n, dim)),
            h: vec![0.0; dim],
            grad_h: vec![0.0; dim],
            loss: LossAcc::new(),
            stats: StepStats::default(),
            pending: None,
            spare: Pending::default(),
            avx2,
            frozen: None,
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

    /// Merges this thread's copies of the hot rows into the shared matrices ([`ThreadRows`]).
    fn merge(&mut self, lock: &std::sync::Mutex<()>, refresh: bool) {
        self.w_in.merge(lock, refresh);
        self.w_out.merge(lock, refresh);
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
        for (dst, &t) in row_slices_mut(&mut self.rows).zip(&self.targets) {
            dst.copy_from_slice(self.w_out.row(t as usize));
        }
        self.acc.as_slice_mut().expect(SCRATCH).fill(0.0);
    }

    /// Subtracts the accumulated target-row gradients from `w_out`, once per centre.
    #[inline(always)]
    fn store_targets(&mut self) {
        for (a, &t) in row_slices(&self.acc).zip(&self.targets) {
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
        let rows = self.rows.as_slice().expect(SCRATCH);
        let acc = self.acc.as_slice_mut().expect(SCRATCH);
        for &ctx in &c.contexts {
            let h = self.w_in.row_mut(ctx as usize);
            train_group(
                h,
                rows,
                &mut self.lanes,
                lr,
                &mut self.grad_h,
                acc,
                &mut self.loss,
            );
            if !frozen(self.frozen, ctx) {
                axpy(h, -1.0, &self.grad_h);
            }
        }
        self.stats.examples += (c.contexts.len() * self.targets.len()) as u64;
        self.store_targets();
    }

    /// CBOW's one example per centre, on the `w_out` rows in place (no scratch copy): every score
    /// and the input gradient are read from the rows before any of them is written, which is what
    /// the copy bought skip-gram (its rows serve every context). Equal to the copying step to the
    /// bit, except where a target repeats (the centre drawn as a negative, or one negative twice):
    /// there its two updates are applied one after the other instead of summed first (rounding).
    #[inline(always)]
    fn cbow(&mut self, c: &Pending) {
        let lr = c.lr;
        self.targets[0] = c.word;
        self.targets[1..].copy_from_slice(&c.negatives);
        self.h.fill(0.0);
        for &ctx in &c.contexts {
            axpy(&mut self.h, 1.0, self.w_in.row(ctx as usize));
        }
        let inv = 1.0 / c.contexts.len() as f32;
        self.h.iter_mut().for_each(|x| *x *= inv);
        let lanes = &mut self.lanes;
        for (x, &t) in lanes.score.iter_mut().zip(&self.targets) {
            *x = dot(&self.h, self.w_out.row(t as usize));
        }
        lanes.activate(lr);
        for (&lin, &e) in lanes.linear[..lanes.n].iter().zip(&lanes.e[..lanes.n]) {
            self.loss.linear += lin as f64;
            self.loss.product *= 1.0 + e as f64;
        }
        self.loss.settle(false);
        self.grad_h.fill(0.0);
        for (&t, &g) in self.targets.iter().zip(&lanes.g) {
            axpy(&mut self.grad_h, g, self.w_out.row(t as usize));
        }
        for (&t, &g) in self.targets.iter().zip(&lanes.g) {
            axpy(self.w_out.row_mut(t as usize), -g, &self.h);
        }
        for &ctx in &c.contexts {
            if !frozen(self.frozen, ctx) {
                axpy(self.w_in.row_mut(ctx as usize), -1.0, &self.grad_h);
            }
        }
        self.stats.examples += self.targets.len() as u64;
        self.stats.centres += 1;
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
    use crate::train::plan::SENTENCE_BREAK;
    use crate::train::sampler::{keep_thresholds, NegativeMode};

    /// One CBOW centre against its update written out by hand (word2vec.c's and gensim's
    /// `cbow_mean` rule): `h` is the mean of the context rows, `g_t = lr·(σ(h·o_t) − label_t)`,
    /// each target row moves by `−g_t·h`, and *every* context row by the whole `−Σ g_t·o_t` (not
    /// divided by the count), all gradients taken at the rows as they were before the step; the
    /// loss is `−ln σ(s_centre) − Σ ln σ(−s_negative)`. Targets `[0, 3, 0]` repeat the centre as a
    /// negative: both of its terms use its old row.
    #[test]
    fn cbow_step_is_the_hand_computed_update() {
        let (vocab, dim) = (5usize, 3usize);
        let w_in0: Vec<f64> = (0..vocab * dim)
            .map(|i| 0.3 * ((i * 7 % 11) as f64 - 5.0) / 5.0)
            .collect();
        let w_out0: Vec<f64> = (0..vocab * dim)
            .map(|i| 0.4 * ((i * 5 % 13) as f64 - 6.0) / 6.0)
            .collect();
        let (lr, word, contexts, negatives) = (0.2f64, 0u32, [1u32, 2, 4], [3u32, 0]);
        let row = |m: &[f64], r: u32| m[r as usize * dim..(r as usize + 1) * dim].to_vec();
        let sigma = |x: f64| 1.0 / (1.0 + (-x).exp());
        // By hand, in f64.
        let h: Vec<f64> = (0..dim)
            .map(|d| contexts.iter().map(|&c| row(&w_in0, c)[d]).sum::<f64>() / 3.0)
            .collect();
        let targets = [word, negatives[0], negatives[1]];
        let labels = [1.0, 0.0, 0.0];
        let (mut want_in, mut want_out) = (w_in0.clone(), w_out0.clone());
        let (mut grad, mut loss) = (vec![0.0; dim], 0.0);
        for (&t, &label) in targets.iter().zip(&labels) {
            let o = row(&w_out0, t);
            let s: f64 = h.iter().zip(&o).map(|(a, b)| a * b).sum();
            let g = lr * (sigma(s) - label);
            loss -= if label == 1.0 {
                sigma(s).ln()
            } else {
                sigma(-s).ln()
            };
            for d in 0..dim {
                grad[d] += g * o[d];
                want_out[t as usize * dim + d] -= g * h[d];
            }
        }
        for &c in &contexts {
            for d in 0..dim {
                want_in[c as usize * dim + d] -= grad[d];
            }
        }
        for avx2 in [false, has_avx2()] {
            let to32 = |v: &[f64]| {
                Array2::from_shape_vec((vocab, dim), v.iter().map(|&x| x as f32).collect()).unwrap()
            };
            let (mut w_in, mut w_out) = (to32(&w_in0), to32(&w_out0));
            let mut worker = Worker::new(
                ThreadRows::new(HogwildMatrix::new(w_in.view_mut()), 0),
                ThreadRows::new(HogwildMatrix::new(w_out.view_mut()), 0),
                negatives.len(),
                avx2,
            );
            worker.pending = Some(Pending {
                word,
                lr: lr as f32,
                contexts: contexts.to_vec(),
                negatives: negatives.to_vec(),
            });
            worker.train_pending(ModelKind::Cbow);
            let stats = worker.finish();
            assert_eq!((stats.centres, stats.examples), (1, 3));
            assert!(
                (stats.loss_sum - loss).abs() < 1e-5,
                "loss {} vs {loss}",
                stats.loss_sum
            );
            for (name, got, want) in [("w_in", &w_in, &want_in), ("w_out", &w_out, &want_out)] {
                for (i, (&g, &w)) in got.iter().zip(want.iter()).enumerate() {
                    assert!(
                        (g as f64 - w).abs() < 1e-6,
                        "avx2 {avx2}: {name}[{i}] = {g}, want {w}"
                    );
                }
            }
            // The step moved what it should: the contexts and targets, not word 3's input row.
            assert!((w_in[[1, 0]] as f64 - w_in0[dim]).abs() > 1e-3);
            assert_eq!(w_in.row(3).to_vec(), to32(&w_in0).row(3).to_vec());
        }
    }

    /// The AVX2 build and the baseline build of the step give bit-identical parameters and loss.
    #[test]
    fn avx2_and_baseline_steps_are_bit_identical() {
        let vocab = 40usize;
        let dim = 37; // not a multiple of the vector width: exercises the scalar tails
        let tokens: Vec<u32> = (0..3000u64)
            .map(|i| {
                let r = crate::train::rng::draw(4, i, 9, 0);
                if r[1].is_multiple_of(13) {
                    SENTENCE_BREAK
                } else {
                    crate::train::rng::below(r[0], vocab as u32)
                }
            })
            .collect();
        let counts: Vec<u64> = (0..vocab as u64).map(|i| 100 + 50 * i).collect();
        let table = AliasTable::unigram(&counts, 0.75);
        let keep = keep_thresholds(&counts, 0.0);
        let init = Array2::from_shape_fn((vocab, dim), |(r, c)| {
            let i = (r * dim + c) as u64;
            crate::train::rng::unit_f32(crate::train::rng::draw(2, i, 3, 0)[0]) - 0.5
        });
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
            let chunk = Chunk::whole(&tokens);
            let merges = std::sync::Mutex::new(());
            let shared = Shared {
                chunk: &chunk,
                parent: &batch,
                keep: &keep,
                table: &table,
                cfg: &cfg,
                frozen: None,
                hot: 0,
                merges: &merges,
                every: merge_every(1),
            };
            let mut results = Vec::new();
            for avx2 in [false, has_avx2()] {
                let (mut w_in, mut w_out) = (init.clone(), init.clone());
                let stats = shared.run_with(
                    0..tokens.len(),
                    HogwildMatrix::new(w_in.view_mut()),
                    HogwildMatrix::new(w_out.view_mut()),
                    avx2,
                );
                let bits = |v: &Array2<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
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
