//! CUDA backend parity: every kernel against the CPU backend, the composed path (SGD and Adam) end
//! to end against the CPU's, the fused steps against the CPU fast path and the composed layers,
//! chunked against unchunked training, f16 storage, full training runs, and launch-argument checks.
//!
//! Runs on the emulated device by default (`cargo test --features emulator --test cuda_parity`);
//! the same tests run unchanged on a GPU with `W2V_TEST_DEVICE=cuda:0` in a `--features cuda`
//! build (a cuda-only build uses `cuda:0` when the variable is unset).
#![cfg(any(feature = "emulator", feature = "cuda"))]

mod common;

use w2v_gpu::backend::cpu::CpuBackend;
use w2v_gpu::backend::cuda::device::{Arg, LaunchConfig};
use w2v_gpu::backend::cuda::{CudaBackend, Device};
use w2v_gpu::backend::{
    choose_step, composed, AdamStep, Backend, OptimizerKind, State, Step, StepStats, Storage,
    Weights,
};
use w2v_gpu::train::plan::{Batch, ModelKind, StepConfig, SENTENCE_BREAK, SPAN_LEN};
use w2v_gpu::train::rng::{draw, unit_f32, PURPOSE_INIT};
use w2v_gpu::train::sampler::{keep_thresholds, AliasTable, NegativeMode};

/// Opens the device under test with a given resident chunk size.
trait Opener {
    type D: Device;
    fn open(&self, chunk_tokens: usize) -> CudaBackend<Self::D>;
}

#[cfg(feature = "emulator")]
struct Emulated;
#[cfg(feature = "emulator")]
impl Opener for Emulated {
    type D = w2v_gpu::backend::cuda::EmulatedDevice;
    fn open(&self, chunk_tokens: usize) -> CudaBackend<Self::D> {
        w2v_gpu::backend::cuda::open_emulated(chunk_tokens).expect("the emulated device opens")
    }
}

#[cfg(feature = "cuda")]
struct Gpu(String);
#[cfg(feature = "cuda")]
impl Opener for Gpu {
    type D = w2v_gpu::backend::cuda::CudaDriver;
    fn open(&self, chunk_tokens: usize) -> CudaBackend<Self::D> {
        let Ok(w2v_gpu::train::Device::Cuda(ordinal)) = self.0.parse() else {
            panic!("W2V_TEST_DEVICE={} is not cuda:N", self.0)
        };
        w2v_gpu::backend::cuda::open_device(ordinal, chunk_tokens)
            .unwrap_or_else(|e| panic!("{}: {e}", self.0))
    }
}

/// Runs a generic test body on the device `W2V_TEST_DEVICE` names (default: the emulator).
macro_rules! on_device {
    ($name:ident, $body:ident) => {
        #[test]
        fn $name() {
            let spec = std::env::var("W2V_TEST_DEVICE").ok();
            #[cfg(feature = "cuda")]
            {
                let real = match spec.as_deref() {
                    Some(s) if s.starts_with("cuda") => Some(s.to_string()),
                    // A cuda-only build on a machine without a GPU has nothing to test against:
                    // say so and pass (gpu-check.sh sets W2V_TEST_DEVICE, which makes it fail).
                    None if cfg!(not(feature = "emulator")) => match w2v_gpu::backend::cuda::auto_device() {
                        Ok(s) => Some(s),
                        Err(why) => {
                            eprintln!("skipped: {why} (set W2V_TEST_DEVICE=cuda:N to require a GPU)");
                            return;
                        }
                    },
                    _ => None,
                };
                if let Some(s) = real {
                    return $body(&Gpu(s));
                }
            }
            #[cfg(feature = "emulator")]
            {
                assert!(
                    spec.as_deref().is_none_or(|s| s == "emulated" || s == "emulator"),
                    "W2V_TEST_DEVICE={spec:?}: this build supports 'emulated' (and cuda:N with --features cuda)"
                );
                $body(&Emulated)
            }
        }
    };
}

/// Uniform values in `[lo, hi)` keyed by `seed` (the project's Philox, so runs repeat).
fn uniform(seed: u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n)
        .map(|i| lo + (hi - lo) * unit_f32(draw(seed, i as u64, PURPOSE_INIT, 0)[0]))
        .collect()
}

fn ids(seed: u64, n: usize, below: u32) -> Vec<u32> {
    (0..n)
        .map(|i| ((draw(seed, i as u64, PURPOSE_INIT, 1)[1] as u64 * below as u64) >> 32) as u32)
        .collect()
}

/// `|got − want| ≤ atol + rtol·|want|` elementwise, with a message naming the first failure.
fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= atol + rtol * w.abs(),
            "{what}: element {i} is {g}, the CPU gives {w}"
        );
    }
}

/// A CPU buffer holding `host`.
fn arr<T: Clone>(host: &[T]) -> ndarray::Array1<T> {
    ndarray::Array1::from(host.to_vec())
}

/// A buffer of NaNs: any element a kernel fails to write stays NaN and fails the comparison.
fn poisoned<B: Backend>(b: &B, n: usize) -> B::Buf<f32> {
    b.upload(&vec![f32::NAN; n]).unwrap()
}

const SIZES: [(usize, usize); 5] = [(1, 1), (7, 3), (33, 100), (257, 17), (1000, 128)];

fn layer_ops<O: Opener>(o: &O) {
    let g = o.open(SPAN_LEN);
    let c = CpuBackend::new(1);
    for (case, &(n, dim)) in SIZES.iter().enumerate() {
        let seed = 100 + case as u64;
        let vocab = 50usize;
        let table = uniform(seed, vocab * dim, -1.0, 1.0);
        let idx = ids(seed, n, vocab as u32);
        let what = |op: &str| format!("{op} n={n} dim={dim}");

        // gather: exact.
        let mut out_g = poisoned(&g, n * dim);
        g.gather(
            &g.upload(&table).unwrap(),
            dim,
            &g.upload(&idx).unwrap(),
            &mut out_g,
        )
        .unwrap();
        let mut out_c = poisoned(&c, n * dim);
        c.gather(&arr(&table), dim, &arr(&idx), &mut out_c).unwrap();
        assert_eq!(
            g.download(&out_g).unwrap(),
            out_c.to_vec(),
            "{}",
            what("gather")
        );

        // batched dot and its backward over groups of per_row rows.
        let per_row = 1 + case % 6;
        let h = uniform(seed + 1, n * dim, -1.0, 1.0);
        let rows = uniform(seed + 2, n * per_row * dim, -1.0, 1.0);
        let (hg, rg) = (g.upload(&h).unwrap(), g.upload(&rows).unwrap());
        let mut sg = poisoned(&g, n * per_row);
        g.batched_dot(&hg, &rg, dim, per_row, &mut sg).unwrap();
        let mut sc = poisoned(&c, n * per_row);
        c.batched_dot(&arr(&h), &arr(&rows), dim, per_row, &mut sc)
            .unwrap();
        assert_close(
            &what("batched_dot"),
            &g.download(&sg).unwrap(),
            &sc.to_vec(),
            1e-5 * dim as f32,
            1e-5,
        );

        let gr = uniform(seed + 3, n * per_row, -1.0, 1.0);
        let (mut ghg, mut grg) = (poisoned(&g, n * dim), poisoned(&g, n * per_row * dim));
        g.batched_dot_backward(
            &g.upload(&gr).unwrap(),
            &hg,
            &rg,
            dim,
            per_row,
            &mut ghg,
            &mut grg,
        )
        .unwrap();
        let (mut ghc, mut grc) = (poisoned(&c, n * dim), poisoned(&c, n * per_row * dim));
        let (grc_in, hc, rc) = (arr(&gr), arr(&h), arr(&rows));
        c.batched_dot_backward(&grc_in, &hc, &rc, dim, per_row, &mut ghc, &mut grc)
            .unwrap();
        assert_close(
            &what("batched_dot_backward grad_h"),
            &g.download(&ghg).unwrap(),
            &ghc.to_vec(),
            1e-5,
            1e-5,
        );
        assert_close(
            &what("batched_dot_backward grad_rows"),
            &g.download(&grg).unwrap(),
            &grc.to_vec(),
            0.0,
            0.0,
        );

        // scatter-add with repeated indices onto a random table.
        let rows_s = uniform(seed + 4, n * dim, -1.0, 1.0);
        let mut tg = g.upload(&table).unwrap();
        g.scatter_add(
            &g.upload(&rows_s).unwrap(),
            dim,
            &g.upload(&idx).unwrap(),
            -0.5,
            &mut tg,
        )
        .unwrap();
        let mut tc = arr(&table);
        c.scatter_add(&arr(&rows_s), dim, &arr(&idx), -0.5, &mut tc)
            .unwrap();
        assert_close(
            &what("scatter_add"),
            &g.download(&tg).unwrap(),
            &tc.to_vec(),
            1e-5 * n as f32 / vocab as f32 + 1e-6,
            1e-5,
        );

        // segment mean with empty segments among them.
        let lens: Vec<u32> = ids(seed + 5, n, 4);
        let offsets: Vec<u32> = std::iter::once(0)
            .chain(lens.iter().scan(0, |a, &l| {
                Some({
                    *a += l;
                    *a
                })
            }))
            .collect();
        let total = *offsets.last().unwrap() as usize;
        let seg_rows = uniform(seed + 6, total * dim, -1.0, 1.0);
        let mut mg = poisoned(&g, n * dim);
        g.segment_mean(
            &g.upload(&seg_rows).unwrap(),
            dim,
            &g.upload(&offsets).unwrap(),
            &mut mg,
        )
        .unwrap();
        let mut mc = poisoned(&c, n * dim);
        c.segment_mean(&arr(&seg_rows), dim, &arr(&offsets), &mut mc)
            .unwrap();
        assert_close(
            &what("segment_mean"),
            &g.download(&mg).unwrap(),
            &mc.to_vec(),
            1e-6,
            1e-6,
        );

        // optimiser rows: distinct ids, then the gradient of those rows is zero.
        let mut distinct = idx.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let grad = uniform(seed + 7, vocab * dim, -1.0, 1.0);
        let (mut wg, mut gg) = (g.upload(&table).unwrap(), g.upload(&grad).unwrap());
        let rows_dev = g.upload(&distinct).unwrap();
        g.sgd_rows(&mut wg, &mut gg, dim, &rows_dev, 0.25).unwrap();
        let (mut wc, mut gc) = (arr(&table), arr(&grad));
        c.sgd_rows(&mut wc, &mut gc, dim, &arr(&distinct), 0.25)
            .unwrap();
        assert_close(
            &what("sgd_rows w"),
            &g.download(&wg).unwrap(),
            &wc.to_vec(),
            1e-7,
            1e-6,
        );
        assert_eq!(
            g.download(&gg).unwrap(),
            gc.to_vec(),
            "{}",
            what("sgd_rows grad")
        );

        let step = AdamStep {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            t: 1 + case as u64 * 7,
        };
        let m0 = uniform(seed + 8, vocab * dim, -0.1, 0.1);
        let v0 = uniform(seed + 9, vocab * dim, 0.0, 0.1);
        let (mut wg, mut mg, mut vg, mut gg) = (
            g.upload(&table).unwrap(),
            g.upload(&m0).unwrap(),
            g.upload(&v0).unwrap(),
            g.upload(&grad).unwrap(),
        );
        g.adam_rows(&mut wg, &mut mg, &mut vg, &mut gg, dim, &rows_dev, step)
            .unwrap();
        let (mut wc, mut mc, mut vc, mut gc) = (arr(&table), arr(&m0), arr(&v0), arr(&grad));
        c.adam_rows(
            &mut wc,
            &mut mc,
            &mut vc,
            &mut gc,
            dim,
            &arr(&distinct),
            step,
        )
        .unwrap();
        assert_close(
            &what("adam_rows w"),
            &g.download(&wg).unwrap(),
            &wc.to_vec(),
            1e-6,
            1e-5,
        );
        assert_close(
            &what("adam_rows m"),
            &g.download(&mg).unwrap(),
            &mc.to_vec(),
            1e-7,
            1e-6,
        );
        assert_close(
            &what("adam_rows v"),
            &g.download(&vg).unwrap(),
            &vc.to_vec(),
            1e-7,
            1e-6,
        );
        assert_eq!(
            g.download(&gg).unwrap(),
            gc.to_vec(),
            "{}",
            what("adam_rows grad")
        );
    }
}
on_device!(layer_operations_match_the_cpu, layer_ops);

fn bce<O: Opener>(o: &O) {
    let g = o.open(SPAN_LEN);
    let c = CpuBackend::new(1);
    for n in [1usize, 255, 257, 3000] {
        let mut x = uniform(n as u64, n, -30.0, 30.0);
        // Large |x| where a naive log(σ) overflows or returns -inf.
        for (i, v) in [1e4f32, -1e4, 100.0, -100.0, 0.0].iter().enumerate() {
            if i < n {
                x[i] = *v;
            }
        }
        let t: Vec<f32> = (0..n).map(|i| (i % 2) as f32).collect();
        let (mut lg, mut gg) = (poisoned(&g, n), poisoned(&g, n));
        g.sigmoid_bce(
            &g.upload(&x).unwrap(),
            &g.upload(&t).unwrap(),
            &mut lg,
            &mut gg,
        )
        .unwrap();
        let (mut lc, mut gc) = (poisoned(&c, n), poisoned(&c, n));
        c.sigmoid_bce(&arr(&x), &arr(&t), &mut lc, &mut gc).unwrap();
        let (lc, gc) = (lc.to_vec(), gc.to_vec());
        let lg = g.download(&lg).unwrap();
        assert!(
            lg.iter().all(|l| l.is_finite() && *l >= 0.0),
            "loss must be finite and non-negative"
        );
        assert_close("sigmoid_bce loss", &lg, &lc, 1e-6, 1e-5);
        assert_close(
            "sigmoid_bce grad",
            &g.download(&gg).unwrap(),
            &gc,
            1e-6,
            1e-5,
        );
    }
}
on_device!(sigmoid_bce_matches_the_cpu_and_is_stable, bce);

/// A model and tables over a Zipf-like vocabulary.
struct Setup {
    counts: Vec<u64>,
    dim: usize,
    w_in: Vec<f32>,
    w_out: Vec<f32>,
}

impl Setup {
    fn new(vocab: usize, dim: usize) -> Setup {
        let counts: Vec<u64> = (1..=vocab as u64).map(|r| 1 + 20_000 / r).collect();
        Setup {
            counts,
            dim,
            w_in: uniform(1, vocab * dim, -0.5 / dim as f32, 0.5 / dim as f32),
            w_out: uniform(2, vocab * dim, -0.1, 0.1),
        }
    }

    fn state<B: Backend>(&self, b: &B, sample: f64) -> State<B> {
        self.state_stored(b, sample, Storage::F32)
    }

    fn state_stored<B: Backend>(&self, b: &B, sample: f64, storage: Storage) -> State<B> {
        self.state_with(b, sample, storage, OptimizerKind::Sgd)
    }

    fn state_with<B: Backend>(
        &self,
        b: &B,
        sample: f64,
        storage: Storage,
        optimizer: OptimizerKind,
    ) -> State<B> {
        State::with_storage(
            b,
            self.dim,
            &self.w_in,
            &self.w_out,
            AliasTable::unigram(&self.counts, 0.75),
            keep_thresholds(&self.counts, sample),
            optimizer,
            storage,
        )
        .unwrap()
    }

    /// `len` corpus tokens drawn from the counts, with a sentence break about every 25 tokens.
    fn corpus(&self, len: usize) -> Vec<u32> {
        let table = AliasTable::unigram(&self.counts, 1.0);
        (0..len as u64)
            .map(|i| {
                let r = draw(77, i, PURPOSE_INIT, 2);
                if r[2] % 25 == 0 {
                    SENTENCE_BREAK
                } else {
                    table.sample(r[0], r[1])
                }
            })
            .collect()
    }
}

fn sample_negatives<O: Opener>(o: &O) {
    let g = o.open(SPAN_LEN);
    let c = CpuBackend::new(1);
    let s = Setup::new(300, 4);
    let (sg, sc) = (s.state(&g, 0.0), s.state(&c, 0.0));
    for (n, k) in [(1usize, 1usize), (255, 5), (1000, 15)] {
        let centres = ids(n as u64, n, 300);
        let positions: Vec<u64> = (0..n as u64).map(|i| i * 7919 + (1 << 33)).collect();
        for mode in [NegativeMode::Replace, NegativeMode::Distinct] {
            let mut og = g.upload(&vec![u32::MAX; n * k]).unwrap();
            let (cg, pg) = (g.upload(&centres).unwrap(), g.upload(&positions).unwrap());
            g.sample_negatives(&sg.tables, &cg, &pg, k, mode, 12345, &mut og)
                .unwrap();
            let mut oc = arr(&vec![u32::MAX; n * k]);
            let (cc, pc) = (arr(&centres), arr(&positions));
            c.sample_negatives(&sc.tables, &cc, &pc, k, mode, 12345, &mut oc)
                .unwrap();
            assert_eq!(
                g.download(&og).unwrap(),
                oc.to_vec(),
                "negatives differ for n={n} k={k} {mode:?}"
            );
        }
    }
}
on_device!(
    sample_negatives_is_bit_identical_to_the_cpu,
    sample_negatives
);

fn cfg(model: ModelKind, negatives: NegativeMode) -> StepConfig {
    StepConfig {
        model,
        window: 4,
        fixed_window: false,
        negative: 5,
        negatives,
        seed: 2024,
    }
}

fn batch(start: usize, len: usize, corpus_len: usize, lr: f32) -> Batch {
    Batch {
        start,
        len,
        epoch: 1,
        corpus_len: corpus_len as u64,
        lr_begin: lr,
        lr_end: lr * 0.5,
    }
}

fn delta(after: &[f32], before: &[f32]) -> Vec<f32> {
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}

/// `‖a − b‖ / ‖b‖`.
fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (num / den).sqrt()
}

/// Trains one batch and returns (stats, w_in delta, w_out delta).
fn run_batch<B: Backend>(
    b: &B,
    s: &Setup,
    tokens: &[u32],
    batches: &[Batch],
    cfg: &StepConfig,
    composed_path: bool,
) -> (StepStats, Vec<f32>, Vec<f32>) {
    run_batch_stored(b, s, tokens, batches, cfg, composed_path, Storage::F32)
}

/// [`run_batch`] with the weights stored as `storage` on the device.
fn run_batch_stored<B: Backend>(
    b: &B,
    s: &Setup,
    tokens: &[u32],
    batches: &[Batch],
    cfg: &StepConfig,
    composed_path: bool,
    storage: Storage,
) -> (StepStats, Vec<f32>, Vec<f32>) {
    train_state(
        b,
        s,
        s.state_stored(b, 1e-3, storage),
        tokens,
        batches,
        cfg,
        composed_path,
    )
}

/// Trains `batches` from state `st` (built from `s`); returns (stats, w_in delta, w_out delta).
fn train_state<B: Backend>(
    b: &B,
    s: &Setup,
    mut st: State<B>,
    tokens: &[u32],
    batches: &[Batch],
    cfg: &StepConfig,
    composed_path: bool,
) -> (StepStats, Vec<f32>, Vec<f32>) {
    let mut stats = StepStats::default();
    for bt in batches {
        let r = if composed_path {
            composed::train_batch(b, &mut st, tokens, bt, cfg, 64)
        } else {
            b.train_batch(&mut st.model, &st.tables, tokens, bt, cfg)
        };
        stats.add(&r.unwrap());
    }
    let (w_in, w_out) = st.model.download(b).unwrap();
    (stats, delta(&w_in, &s.w_in), delta(&w_out, &s.w_out))
}

fn fused_vs_composed<O: Opener>(o: &O) {
    let g = o.open(0);
    let serial = o.open(0).serial();
    let cpu = CpuBackend::new(1);
    let s = Setup::new(400, 24);
    let tokens = s.corpus(3 * SPAN_LEN + 1000);
    // Not span-aligned at either end: the backend cuts the first partial span off by itself.
    let bt = |lr: f32| [batch(100, tokens.len() - 200, tokens.len(), lr)];
    for model in [ModelKind::Skipgram, ModelKind::Cbow] {
        for mode in [NegativeMode::Replace, NegativeMode::Distinct] {
            let c = cfg(model, mode);
            let label = format!("{model:?} {mode:?}");
            // One warp, centres in corpus order: the CPU fast path with one thread does the same
            // arithmetic in the same order, so only float rounding (sum order in dots) differs.
            let (ss, si, so) = run_batch(&serial, &s, &tokens, &bt(2e-3), &c, false);
            let (hs, hi, ho) = run_batch(&cpu, &s, &tokens, &bt(2e-3), &c, false);
            assert_eq!(
                ss.examples, hs.examples,
                "{label}: examples vs the CPU fast path"
            );
            assert_eq!(ss.words, hs.words, "{label}: words vs the CPU fast path");
            assert!(ss.examples > 0);
            let loss_rel = (ss.loss_sum - hs.loss_sum).abs() / hs.loss_sum;
            assert!(
                loss_rel < 1e-5,
                "{label}: loss {} vs CPU fast path {}",
                ss.loss_sum,
                hs.loss_sum
            );
            for (what, f, h) in [("w_in", &si, &hi), ("w_out", &so, &ho)] {
                let e = rel_err(f, h);
                assert!(e < 1e-4, "{label}: serial {what} update differs from the CPU fast path by {e:.2e} relative");
            }
            // The default launch runs many centres at once (Hogwild): at a small rate the
            // interleaving changes updates only at second order, so it stays near the serial run.
            let (fs, fi, fo) = run_batch(&g, &s, &tokens, &bt(1e-4), &c, false);
            let (ts, ti, to) = run_batch(&serial, &s, &tokens, &bt(1e-4), &c, false);
            assert_eq!(
                fs.examples, ts.examples,
                "{label}: examples, concurrent vs serial"
            );
            for (what, f, t) in [("w_in", &fi, &ti), ("w_out", &fo, &to)] {
                let e = rel_err(f, t);
                assert!(
                    e < 1e-2,
                    "{label}: concurrent {what} update differs from serial by {e:.2e} relative"
                );
            }
            // The book's composed layers (minibatches of 64 centres) agree to first order too.
            let (cs, ci, co) = run_batch(&cpu, &s, &tokens, &bt(1e-4), &c, true);
            assert_eq!(fs.examples, cs.examples, "{label}: examples vs composed");
            let loss_rel = (fs.loss_sum - cs.loss_sum).abs() / cs.loss_sum;
            assert!(
                loss_rel < 1e-3,
                "{label}: loss {} vs composed {}",
                fs.loss_sum,
                cs.loss_sum
            );
            for (what, f, c) in [("w_in", &fi, &ci), ("w_out", &fo, &co)] {
                let e = rel_err(f, c);
                assert!(
                    e < 2e-2,
                    "{label}: {what} update differs from composed by {e:.2e} relative"
                );
            }
        }
    }
}
on_device!(fused_steps_match_composed_layers, fused_vs_composed);

fn half_bits(w: &[f32]) -> Vec<u16> {
    w.iter()
        .map(|&x| half::f16::from_f32(x).to_bits())
        .collect()
}

/// `--storage f16`: the `_f16` steps (serial, one batch) against the CPU fast path in f32, from
/// weights half represents exactly, so the difference is the rounding of each stored update.
fn f16_storage<O: Opener>(o: &O) {
    let serial = o.open(0).serial();
    let cpu = CpuBackend::new(1);
    let mut s = Setup::new(400, 24);
    let widen =
        |w: &[f32]| -> Vec<f32> { w.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect() };
    s.w_in = widen(&s.w_in);
    s.w_out = widen(&s.w_out);
    let tokens = s.corpus(3 * SPAN_LEN + 1000);
    let bt = [batch(100, tokens.len() - 200, tokens.len(), 0.025)];
    for model in [ModelKind::Skipgram, ModelKind::Cbow] {
        for mode in [NegativeMode::Replace, NegativeMode::Distinct] {
            let c = cfg(model, mode);
            let label = format!("{model:?} {mode:?}");
            let (hs, hi, ho) = run_batch(&cpu, &s, &tokens, &bt, &c, false);
            let (fs, fi, fo) = run_batch(&serial, &s, &tokens, &bt, &c, false);
            assert_eq!(fs.examples, hs.examples, "{label}: examples, f32 vs CPU");
            let (ks, ki, ko) = run_batch_stored(&serial, &s, &tokens, &bt, &c, false, Storage::F16);
            assert_eq!(ks.examples, hs.examples, "{label}: examples, f16 vs CPU");
            assert_eq!(ks.words, hs.words, "{label}: words, f16 vs CPU");
            assert!(ks.examples > 0);
            let loss_rel = (ks.loss_sum - hs.loss_sum).abs() / hs.loss_sum;
            assert!(
                loss_rel < 1e-3,
                "{label}: loss {} vs CPU {}",
                ks.loss_sum,
                hs.loss_sum
            );
            for (what, k, f, h) in [("w_in", &ki, &fi, &hi), ("w_out", &ko, &fo, &ho)] {
                let e32 = rel_err(f, h);
                let e16 = rel_err(k, h);
                eprintln!("{label} {what}: update vs CPU, f32 storage {e32:.2e}, f16 {e16:.2e}");
                assert!(e32 < 1e-4, "{label}: f32 {what} differs by {e32:.2e}");
                assert!(
                    e16 < 2e-2,
                    "{label}: f16 {what} update differs from the CPU's by {e16:.2e} relative"
                );
                // The half path really ran: every stored weight is a half, and it is not the f32 run.
                let after: Vec<f32> = k
                    .iter()
                    .zip(if what == "w_in" { &s.w_in } else { &s.w_out })
                    .map(|(d, w)| d + w)
                    .collect();
                assert_eq!(
                    after,
                    widen(&after),
                    "{label}: {what} holds non-half values"
                );
                assert!(
                    e16 > 10.0 * e32,
                    "{label}: f16 {what} update is as exact as f32's"
                );
            }
        }
    }
    // On the device: the matrices take half the bytes (the f32 buffers are left empty).
    let bytes = |st: &State<CudaBackend<O::D>>| match &st.model.weights {
        Weights::F32 { w_in, w_out } => 4 * (w_in.len() + w_out.len()),
        Weights::F16 { w_in, w_out } => 2 * (w_in.len() + w_out.len()),
    };
    let st32 = s.state(&serial, 1e-3);
    let st16 = s.state_stored(&serial, 1e-3, Storage::F16);
    assert_eq!(st16.model.storage(), Storage::F16);
    assert_eq!(bytes(&st32), 2 * 400 * 24 * 4);
    assert_eq!(bytes(&st16), bytes(&st32) / 2);
    assert_eq!(
        st16.model.download(&serial).unwrap(),
        (s.w_in.clone(), s.w_out.clone())
    );
    // Only the fused step trains half storage: composing it, or the CPU, is refused up front.
    let f16 = w2v_gpu::train::TrainConfig {
        storage: Storage::F16,
        ..common::config(ModelKind::Skipgram, 0.025)
    };
    let caps = serial.capabilities();
    assert_eq!(
        choose_step(&serial.name(), &caps, &f16).unwrap(),
        Step::Fused
    );
    for (name, caps, cfg) in [
        (
            serial.name(),
            caps.clone(),
            w2v_gpu::train::TrainConfig {
                step: w2v_gpu::train::StepKind::Composed,
                ..f16.clone()
            },
        ),
        (cpu.name(), cpu.capabilities(), f16.clone()),
    ] {
        let err = choose_step(&name, &caps, &cfg).unwrap_err();
        assert!(err.to_string().contains("--storage f16"), "{err}");
    }
}
on_device!(
    f16_storage_steps_match_the_cpu_to_half_precision,
    f16_storage
);

/// The half helpers of common.cuh (through kernels/test_half.cu) against the `half` crate, bit for
/// bit: conversions of special values, both rounding boundaries and random floats; and the
/// compare-and-swap atomic add into neighbouring halves from many threads.
fn half_helpers<O: Opener>(o: &O) {
    let g = o.open(SPAN_LEN);
    let mut x: Vec<f32> = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        65504.0,
        65519.99,
        65520.0,
        -65520.0,
        1e9,
        f32::MAX,
        f32::MIN_POSITIVE,
        1e-45,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::from_bits(0x7F80_0001),
        f32::from_bits(0xFFC1_2345),
        2f32.powi(-14),
        2f32.powi(-24),
        2f32.powi(-25),
        3.0 * 2f32.powi(-25),
        2f32.powi(-25) * 1.0001,
    ];
    // Every half, and the midpoints (ties) and near-midpoints between neighbouring finite halves.
    for b in 0..=u16::MAX {
        let v = half::f16::from_bits(b).to_f32();
        x.push(v);
        let next = half::f16::from_bits(b.wrapping_add(1)).to_f32();
        if v.is_finite() && next.is_finite() && (b & 0x7FFF) != 0x7BFF {
            let mid = ((v as f64 + next as f64) / 2.0) as f32;
            x.extend([
                mid,
                f32::from_bits(mid.to_bits() + 1),
                f32::from_bits(mid.to_bits() - 1),
            ]);
        }
    }
    // Random bit patterns over the whole f32 range.
    x.extend((0..100_000u64).map(|i| f32::from_bits(draw(5, i, PURPOSE_INIT, 0)[0])));
    let n = x.len();
    let xd = g.upload(&x).unwrap();
    let mut hd = g.zeros::<half::f16>(n).unwrap();
    let mut back = g.zeros::<f32>(n).unwrap();
    g.device()
        .launch(
            "w2v_test_half_convert",
            LaunchConfig::linear(64, 256, 0),
            &[xd.arg(), hd.arg_mut(), back.arg_mut(), Arg::U32(n as u32)],
        )
        .unwrap();
    let h: Vec<u16> = g
        .download(&hd)
        .unwrap()
        .iter()
        .map(|b| b.to_bits())
        .collect();
    let back = g.download(&back).unwrap();
    let want = half_bits(&x);
    for i in 0..n {
        assert_eq!(
            h[i],
            want[i],
            "f32 {:e} ({:#010x}) → f16",
            x[i],
            x[i].to_bits()
        );
        let wb = half::f16::from_bits(h[i]).to_f32();
        assert_eq!(back[i].to_bits(), wb.to_bits(), "f16 {:#06x} → f32", h[i]);
    }

    // 64 neighbouring halves (32 words), each added to from 50 threads spread over the grid.
    let slots = 64usize;
    let idx: Vec<u32> = (0..slots as u32 * 50)
        .map(|i| (i * 7) % slots as u32)
        .collect();
    let v: Vec<f32> = idx.iter().map(|&i| 0.5 * (1 + i % 4) as f32).collect();
    let start: Vec<half::f16> = (0..slots).map(|i| half::f16::from_f32(i as f32)).collect();
    let mut hd = g.upload(&start).unwrap();
    let (idd, vd) = (g.upload(&idx).unwrap(), g.upload(&v).unwrap());
    g.device()
        .launch(
            "w2v_test_half_atomic_add",
            LaunchConfig::linear(16, 64, 0),
            &[
                hd.arg_mut(),
                idd.arg(),
                vd.arg(),
                Arg::U32(idx.len() as u32),
            ],
        )
        .unwrap();
    let got = g.download(&hd).unwrap();
    for (i, h) in got.iter().enumerate() {
        let want = i as f32 + 50.0 * 0.5 * (1 + i % 4) as f32;
        assert_eq!(h.to_f32(), want, "half {i} after 50 concurrent adds");
    }
}
on_device!(
    half_conversions_and_atomic_add_match_the_half_crate,
    half_helpers
);

fn chunked<O: Opener>(o: &O) {
    let s = Setup::new(400, 16);
    let tokens = s.corpus(5 * SPAN_LEN + 777);
    let n = tokens.len();
    let c = cfg(ModelKind::Skipgram, NegativeMode::Replace);
    // Serial launches, so that only the chunk scheduling differs between the runs.
    let whole = o.open(8 * SPAN_LEN).serial();
    let small = o.open(2 * SPAN_LEN).serial();
    assert_eq!(small.preferred_batch_tokens(), 2 * SPAN_LEN);
    // The trainer's way: batches no larger than the chunk, span-aligned.
    let pieces: Vec<Batch> = (0..n)
        .step_by(2 * SPAN_LEN)
        .map(|a| batch(a, (2 * SPAN_LEN).min(n - a), n, 0.02))
        .collect();
    let (ws, wi, wo) = run_batch(&whole, &s, &tokens, &pieces, &c, false);
    let (ss, si, so) = run_batch(&small, &s, &tokens, &pieces, &c, false);
    assert_eq!(ws.examples, ss.examples);
    assert_eq!(ws.words, ss.words);
    assert_eq!(
        ws.words,
        tokens.iter().filter(|&&t| t != SENTENCE_BREAK).count() as u64
    );
    assert!(
        rel_err(&si, &wi) < 1e-6 && rel_err(&so, &wo) < 1e-6,
        "chunked training differs from unchunked: {:.2e} {:.2e}",
        rel_err(&si, &wi),
        rel_err(&so, &wo)
    );
    // One batch larger than the chunk: split at chunk edges with the ramp carried over.
    let (bs, bi, bo) = run_batch(&small, &s, &tokens, &[batch(0, n, n, 0.02)], &c, false);
    let (us, ui, uo) = run_batch(&whole, &s, &tokens, &[batch(0, n, n, 0.02)], &c, false);
    assert_eq!(bs.examples, us.examples);
    assert!((bs.loss_sum - us.loss_sum).abs() < 1e-6 * us.loss_sum);
    assert!(
        rel_err(&bi, &ui) < 1e-6 && rel_err(&bo, &uo) < 1e-6,
        "a batch split over chunks differs: {:.2e} {:.2e}",
        rel_err(&bi, &ui),
        rel_err(&bo, &uo)
    );
    // The default (concurrent) launches, chunked: the same examples, and at a small rate, where
    // Hogwild's interleaving only matters at second order, updates near the serial run's.
    let slow: Vec<Batch> = pieces
        .iter()
        .map(|b| Batch {
            lr_begin: 1e-4,
            lr_end: 5e-5,
            ..*b
        })
        .collect();
    let (cs, ci, co) = run_batch(&o.open(2 * SPAN_LEN), &s, &tokens, &slow, &c, false);
    let (ts, ti, to) = run_batch(&whole, &s, &tokens, &slow, &c, false);
    assert_eq!(cs.examples, ts.examples);
    let (ei, eo) = (rel_err(&ci, &ti), rel_err(&co, &to));
    assert!(
        ei < 1e-2 && eo < 1e-2,
        "concurrent chunked run vs serial: {ei:.2e} {eo:.2e}"
    );
}
on_device!(chunked_training_matches_unchunked, chunked);

fn argument_checks<O: Opener>(o: &O) {
    let g = o.open(SPAN_LEN);
    let dev = g.device();
    let table = dev.upload(&[1.0f32; 8]).unwrap();
    let idx = dev.upload(&[0u32, 1]).unwrap();
    let mut out = dev.zeros::<f32>(8).unwrap();
    let cfg1 = LaunchConfig::linear(1, 32, 0);
    // Right call: succeeds.
    dev.launch(
        "w2v_gather",
        cfg1,
        &[
            table.arg(),
            idx.arg(),
            out.arg_mut(),
            Arg::U32(2),
            Arg::U32(4),
        ],
    )
    .unwrap();
    // Wrong type (index buffer passed where the table goes).
    let e = dev
        .launch(
            "w2v_gather",
            cfg1,
            &[
                idx.arg(),
                idx.arg(),
                out.arg_mut(),
                Arg::U32(2),
                Arg::U32(4),
            ],
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("w2v_gather") && e.contains("argument 0") && e.contains("const f32*"),
        "{e}"
    );
    // Wrong count.
    let e = dev
        .launch(
            "w2v_gather",
            cfg1,
            &[table.arg(), idx.arg(), out.arg_mut(), Arg::U32(2)],
        )
        .unwrap_err();
    assert!(e.to_string().contains("takes 5 arguments"), "{e}");
    // A scalar of the wrong width.
    let e = dev
        .launch(
            "w2v_gather",
            cfg1,
            &[
                table.arg(),
                idx.arg(),
                out.arg_mut(),
                Arg::U64(2),
                Arg::U32(4),
            ],
        )
        .unwrap_err();
    assert!(e.to_string().contains("argument 3"), "{e}");
    assert!(dev.launch("w2v_nonexistent", cfg1, &[]).is_err());
}
on_device!(launch_arguments_are_checked, argument_checks);

/// The emulator checks types on its side too, even when the host-side check is bypassed.
#[cfg(feature = "emulator")]
#[test]
fn emulator_rejects_wrong_arguments_itself() {
    let dev = w2v_gpu::backend::cuda::EmulatedDevice::new();
    let idx = dev.upload(&[0u32, 1]).unwrap();
    let mut out = dev.zeros::<f32>(8).unwrap();
    let cfg1 = LaunchConfig::linear(1, 32, 0);
    let bad = [
        idx.arg(),
        idx.arg(),
        out.arg_mut(),
        Arg::U32(2),
        Arg::U32(4),
    ];
    let e = dev
        .launch_unchecked("w2v_gather", "embedding", cfg1, &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("w2v_gather"), "{e}");
    let e = dev
        .launch_unchecked("w2v_gather", "embedding", cfg1, &bad[..3])
        .unwrap_err()
        .to_string();
    assert!(e.contains("w2v_gather"), "{e}");
}

/// The whole trainer on the device: the built-in synthetic corpus, both models, the fused steps
/// with the resident corpus, the same planted-analogy threshold as the CPU backend's test.
fn trains_to_threshold<O: Opener>(o: &O) {
    use w2v_gpu::output::vectors::Embeddings;
    use w2v_gpu::query::eval::evaluate_analogies;
    use w2v_gpu::query::similarity::Index;
    use w2v_gpu::train::TrainConfig;

    let (vocab, enc, syn) = common::corpus(11, 150);
    // A chunk smaller than the corpus, so training streams it through the device in pieces.
    let g = o.open(4 * SPAN_LEN);
    assert!(enc.tokens.len() > g.chunk_tokens());
    for (model, lr, storage) in [
        (ModelKind::Skipgram, 0.025, Storage::F32),
        (ModelKind::Cbow, 0.05, Storage::F32),
        // Half storage (skip-gram only, to keep the suite short).
        (ModelKind::Skipgram, 0.025, Storage::F16),
    ] {
        let cfg = TrainConfig {
            storage,
            ..common::config(model, lr)
        };
        if storage == Storage::F16 {
            // The CPU backend keeps f32 and says so before training.
            let cpu = CpuBackend::new(1);
            let Err(err) = common::train_on(&cpu, &enc, &vocab, &cfg) else {
                panic!("the CPU backend trained --storage f16");
            };
            assert!(err.to_string().contains("--storage f16"), "{err}");
        }
        let t = common::train_on(&g, &enc, &vocab, &cfg).unwrap();
        let emb = Embeddings::new(vocab.words.clone(), cfg.dim, t.w_in);
        let report = evaluate_analogies(&Index::new(&emb), &syn.sections, None);
        assert_eq!(report.total.skipped, 0);
        assert!(
            report.accuracy() >= 0.9,
            "{model:?} {storage:?} on {}:\n{report}",
            g.name()
        );
    }
}
on_device!(
    training_reaches_the_planted_analogy_threshold,
    trains_to_threshold
);

/// The book's composed path end to end on the device (gather, batched dot, fused BCE, scatter-add,
/// SGD or lazy Adam rows) against the same path on the CPU: the same minibatches, so only the order
/// of float additions in the atomic scatter differs.
fn composed_path<O: Opener>(o: &O) {
    let g = o.open(0);
    let cpu = CpuBackend::new(1);
    let s = Setup::new(300, 20);
    let tokens = s.corpus(SPAN_LEN + 3000);
    let bt = batch(0, tokens.len(), tokens.len(), 0.02);
    for optimizer in [OptimizerKind::Sgd, OptimizerKind::Adam] {
        for model in [ModelKind::Skipgram, ModelKind::Cbow] {
            let c = cfg(model, NegativeMode::Distinct);
            let (gs, gi, go) = composed_run(&g, &s, &tokens, &bt, &c, optimizer);
            let (cs, ci, co) = composed_run(&cpu, &s, &tokens, &bt, &c, optimizer);
            let label = format!("{optimizer:?} {model:?}");
            assert_eq!(gs.examples, cs.examples, "{label}: examples");
            assert!(gs.examples > 0);
            assert!(
                (gs.loss_sum - cs.loss_sum).abs() < 1e-5 * cs.loss_sum,
                "{label}: loss"
            );
            let (ei, eo) = (rel_err(&gi, &ci), rel_err(&go, &co));
            assert!(
                ei < 1e-5 && eo < 1e-5,
                "{label}: composed updates differ: {ei:.2e} {eo:.2e}"
            );
        }
    }
}
on_device!(composed_path_matches_the_cpu, composed_path);

fn composed_run<B: Backend>(
    b: &B,
    s: &Setup,
    tokens: &[u32],
    bt: &Batch,
    cfg: &StepConfig,
    optimizer: OptimizerKind,
) -> (StepStats, Vec<f32>, Vec<f32>) {
    let st = s.state_with(b, 1e-3, Storage::F32, optimizer);
    train_state(b, s, st, tokens, std::slice::from_ref(bt), cfg, true)
}

/// The `_wide` step kernels (negative 8..31) and the plain ones at their edge (negative 7), serial,
/// against the CPU fast path: the kernel the host picks for each negative count trains exactly the
/// same examples with the same arithmetic.
fn wide_steps<O: Opener>(o: &O) {
    let serial = o.open(0).serial();
    let cpu = CpuBackend::new(1);
    let s = Setup::new(400, 24);
    let tokens = s.corpus(SPAN_LEN + 2000);
    let bt = [batch(0, tokens.len(), tokens.len(), 2e-3)];
    for negative in [7, 8, 15, 16, 31] {
        for model in [ModelKind::Skipgram, ModelKind::Cbow] {
            let c = StepConfig {
                negative,
                ..cfg(model, NegativeMode::Replace)
            };
            let label = format!("{model:?} negative {negative}");
            let (gs, gi, go) = run_batch(&serial, &s, &tokens, &bt, &c, false);
            let (hs, hi, ho) = run_batch(&cpu, &s, &tokens, &bt, &c, false);
            assert_eq!(gs.examples, hs.examples, "{label}: examples");
            assert_eq!(gs.examples % (1 + negative as u64), 0, "{label}: examples");
            let loss_rel = (gs.loss_sum - hs.loss_sum).abs() / hs.loss_sum;
            assert!(
                loss_rel < 1e-5,
                "{label}: loss {} vs {}",
                gs.loss_sum,
                hs.loss_sum
            );
            let (ei, eo) = (rel_err(&gi, &hi), rel_err(&go, &ho));
            assert!(
                ei < 1e-4 && eo < 1e-4,
                "{label}: updates differ: {ei:.2e} {eo:.2e}"
            );
        }
    }
}
on_device!(wide_steps_match_the_cpu_fast_path, wide_steps);
