//! The CPU backend: each layer operation against hand-computed values and finite differences,
//! and the Hogwild fast path against the composed path, itself, and a planted-structure corpus.

use ndarray::{arr1, Array1};
use w2v_gpu::backend::cpu::CpuBackend;
use w2v_gpu::backend::{
    choose_step, composed, AdamStep, Backend, OptimizerKind, State, Step, StepStats,
};
use w2v_gpu::train::plan::{Batch, ModelKind, StepConfig, SENTENCE_BREAK, SPAN_LEN};
use w2v_gpu::train::rng;
use w2v_gpu::train::sampler::{keep_thresholds, negatives_for_centre, AliasTable, NegativeMode};
use w2v_gpu::train::TrainConfig;

fn cpu() -> CpuBackend {
    CpuBackend::new(1)
}

fn poisoned(n: usize) -> Array1<f32> {
    Array1::from_elem(n, f32::NAN)
}

fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(
        got.len(),
        want.len(),
        "length mismatch: {got:?} vs {want:?}"
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "[{i}]: got {g}, want {w}\n{got:?}\n{want:?}"
        );
    }
}

/// Deterministic uniform values in [-a, a) from the shared generator.
fn uniform(seed: u64, n: usize, a: f32) -> Vec<f32> {
    (0..n)
        .map(|i| (rng::unit_f32(rng::draw(seed, i as u64, 7, 0)[0]) * 2.0 - 1.0) * a)
        .collect()
}

#[test]
fn name_and_thread_count() {
    assert_eq!(CpuBackend::new(2).name(), "cpu (2 threads)");
    assert_eq!(CpuBackend::new(1).name(), "cpu (1 thread)");
    assert!(CpuBackend::new(0).threads() >= 1);
}

#[test]
fn gather_copies_indexed_rows_over_poison() {
    let b = cpu();
    let table = arr1(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let mut out = poisoned(6);
    b.gather(&table, 2, &arr1(&[2, 0, 2]), &mut out).unwrap();
    assert_eq!(out, arr1(&[5.0, 6.0, 1.0, 2.0, 5.0, 6.0]));
}

#[test]
fn batched_dot_groups_rows_per_input() {
    let b = cpu();
    // Two inputs of dim 3, two rows each.
    let h = arr1(&[1.0, 2.0, 3.0, -1.0, 0.5, 2.0]);
    let rows = arr1(&[1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 0.0, -2.0, 1.0]);
    let mut out = poisoned(4);
    b.batched_dot(&h, &rows, 3, 2, &mut out).unwrap();
    assert_eq!(out, arr1(&[1.0, 6.0, 3.0, 1.0]));
}

#[test]
fn batched_dot_backward_by_hand() {
    let b = cpu();
    let h = arr1(&[1.0, 2.0, -1.0, 3.0]);
    let rows = arr1(&[1.0, 0.0, 0.5, 0.5, 2.0, 1.0, 0.0, -1.0]);
    let g = arr1(&[2.0, -1.0, 0.5, 1.0]);
    let (mut gh, mut gr) = (poisoned(4), poisoned(8));
    b.batched_dot_backward(&g, &h, &rows, 2, 2, &mut gh, &mut gr)
        .unwrap();
    // grad_h[0] = 2·(1,0) − 1·(.5,.5); grad_h[1] = .5·(2,1) + 1·(0,−1)
    assert_eq!(gh, arr1(&[1.5, -0.5, 1.0, -0.5]));
    assert_eq!(gr, arr1(&[2.0, 4.0, -1.0, -2.0, -0.5, 1.5, -1.0, 3.0]));
}

/// Softplus in f64: `log(1 + e^z)` without overflow.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

#[test]
fn sigmoid_bce_matches_closed_forms_at_extremes() {
    let b = cpu();
    let xs = [1e4f32, -1e4, 30.0, -30.0, 0.0, 2.5];
    let mut scores = Vec::new();
    let mut labels = Vec::new();
    for &x in &xs {
        for t in [0.0f32, 1.0] {
            scores.push(x);
            labels.push(t);
        }
    }
    let (scores, labels) = (Array1::from(scores), Array1::from(labels));
    let (mut loss, mut grad) = (poisoned(scores.len()), poisoned(scores.len()));
    b.sigmoid_bce(&scores, &labels, &mut loss, &mut grad)
        .unwrap();
    for i in 0..scores.len() {
        let (x, t) = (scores[i] as f64, labels[i] as f64);
        // −t log σ(x) − (1−t) log(1−σ(x)) = t·softplus(−x) + (1−t)·softplus(x)
        let want_loss = t * softplus(-x) + (1.0 - t) * softplus(x);
        let want_grad = 1.0 / (1.0 + (-x).exp()) - t;
        let (l, g) = (loss[i] as f64, grad[i] as f64);
        assert!(
            l.is_finite() && g.is_finite(),
            "x={x} t={t}: loss {l} grad {g}"
        );
        assert!(
            (l - want_loss).abs() <= 1e-6 * want_loss.abs() + 1e-12,
            "x={x} t={t}: loss {l} want {want_loss}"
        );
        assert!(
            (g - want_grad).abs() <= 1e-6,
            "x={x} t={t}: grad {g} want {want_grad}"
        );
    }
    // Spot values: log 2 at zero, exactly 1e4 for a confidently wrong score, e^-30 for a right one.
    assert!((loss[8] - std::f32::consts::LN_2).abs() < 1e-7);
    assert_eq!(loss[0], 1e4);
    assert!((loss[5] as f64 - (-30f64).exp()).abs() < 1e-18);
}

#[test]
fn scatter_add_accumulates_repeated_indices() {
    let b = cpu();
    let mut table = arr1(&[1.0, 1.0, 10.0, 10.0, 100.0, 100.0]);
    let rows = arr1(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    b.scatter_add(&rows, 2, &arr1(&[1, 1, 0]), 2.0, &mut table)
        .unwrap();
    assert_eq!(table, arr1(&[11.0, 13.0, 18.0, 22.0, 100.0, 100.0]));
}

#[test]
fn segment_mean_averages_each_segment() {
    let b = cpu();
    let rows = arr1(&[1.0, 2.0, 3.0, 6.0, -4.0, 8.0, 7.0, 0.0]);
    let mut out = poisoned(6);
    b.segment_mean(&rows, 2, &arr1(&[0, 2, 3, 4]), &mut out)
        .unwrap();
    assert_eq!(out, arr1(&[2.0, 4.0, -4.0, 8.0, 7.0, 0.0]));
}

/// `W_in` and `W_out` of a CPU state (f32, plain vectors).
fn w_in(st: &State<CpuBackend>) -> &Array1<f32> {
    st.model.f32().unwrap().0
}

fn w_out(st: &State<CpuBackend>) -> &Array1<f32> {
    st.model.f32().unwrap().1
}

fn state(
    b: &CpuBackend,
    counts: &[u64],
    dim: usize,
    w_in: &[f32],
    w_out: &[f32],
    sample: f64,
) -> State<CpuBackend> {
    let alias = AliasTable::unigram(counts, 0.75);
    let keep = keep_thresholds(counts, sample);
    State::new(b, dim, w_in, w_out, alias, keep, OptimizerKind::Sgd).unwrap()
}

#[test]
fn sample_negatives_equals_reference_draws() {
    let b = cpu();
    let counts: Vec<u64> = (1..=30).map(|r| 3000 / r).collect();
    let st = state(&b, &counts, 1, &[0.0; 30], &[0.0; 30], 0.0);
    let centres: Array1<u32> = (0..200).map(|i| i % 30).collect();
    let positions: Array1<u64> = (0..200).map(|i| i * 7 + (1 << 33)).collect();
    for mode in [NegativeMode::Replace, NegativeMode::Distinct] {
        let k = 5;
        let mut out = Array1::from_elem(centres.len() * k, u32::MAX);
        b.sample_negatives(&st.tables, &centres, &positions, k, mode, 99, &mut out)
            .unwrap();
        let out = out.to_vec();
        let mut want = vec![0u32; k];
        for (c, o) in out.chunks_exact(k).enumerate() {
            negatives_for_centre(
                &st.tables.alias,
                99,
                positions[c],
                centres[c],
                mode,
                &mut want,
            );
            assert_eq!(o, &want[..], "{mode:?} centre {c}");
        }
    }
}

#[test]
fn sgd_rows_steps_listed_rows_and_zeroes_their_gradients() {
    let b = cpu();
    let mut w = arr1(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let mut grad = arr1(&[10.0, 20.0, 30.0, 40.0, 50.0, 60.0]);
    b.sgd_rows(&mut w, &mut grad, 2, &arr1(&[2, 0]), 0.1)
        .unwrap();
    assert_close(&w.to_vec(), &[0.0, 0.0, 3.0, 4.0, 0.0, 0.0], 1e-6);
    assert_eq!(grad, arr1(&[0.0, 0.0, 30.0, 40.0, 0.0, 0.0]));
}

#[test]
fn adam_rows_matches_hand_computed_step() {
    let b = cpu();
    let (b1, b2, eps, lr) = (0.9f64, 0.999f64, 1e-8f64, 0.01f64);
    let t = 3u64;
    let w0 = [0.5, -0.25, 1.0, 2.0, 3.0, 4.0];
    let m0 = [0.1, -0.2, 0.7, 0.7, 0.3, 0.3];
    let v0 = [0.01, 0.04, 0.5, 0.5, 0.2, 0.2];
    let g0 = [1.0, -2.0, 9.0, 9.0, 0.5, 0.0];
    let (mut w, mut m, mut v, mut g) = (arr1(&w0), arr1(&m0), arr1(&v0), arr1(&g0));
    let step = AdamStep {
        lr: lr as f32,
        beta1: b1 as f32,
        beta2: b2 as f32,
        eps: eps as f32,
        t,
    };
    b.adam_rows(&mut w, &mut m, &mut v, &mut g, 2, &arr1(&[0, 2]), step)
        .unwrap();
    let rate = lr * (1.0 - b2.powi(t as i32)).sqrt() / (1.0 - b1.powi(t as i32));
    for i in [0usize, 1, 4, 5] {
        let gi = g0[i] as f64;
        let mi = b1 * m0[i] as f64 + (1.0 - b1) * gi;
        let vi = b2 * v0[i] as f64 + (1.0 - b2) * gi * gi;
        let wi = w0[i] as f64 - rate * mi / (vi.sqrt() + eps);
        assert!((m[i] as f64 - mi).abs() < 1e-6, "m[{i}]");
        assert!((v[i] as f64 - vi).abs() < 1e-6, "v[{i}]");
        assert!(
            (w[i] as f64 - wi).abs() < 1e-6,
            "w[{i}] = {} want {wi}",
            w[i]
        );
        assert_eq!(g[i], 0.0);
    }
    // Row 1 is not listed: nothing of it moves.
    assert_eq!(
        (w[2], w[3], m[2], m[3], v[2], v[3], g[2], g[3]),
        (1.0, 2.0, 0.7, 0.7, 0.5, 0.5, 9.0, 9.0)
    );
}

/// Total loss `Σ bce(h_p · rows_{p,t}, label)` through the backend's forward ops, summed in f64.
fn total_loss(
    b: &CpuBackend,
    h: &Array1<f32>,
    rows: &Array1<f32>,
    labels: &Array1<f32>,
    dim: usize,
    per_row: usize,
) -> f64 {
    let mut scores = poisoned(labels.len());
    b.batched_dot(h, rows, dim, per_row, &mut scores).unwrap();
    let (mut loss, mut g) = (poisoned(labels.len()), poisoned(labels.len()));
    b.sigmoid_bce(&scores, labels, &mut loss, &mut g).unwrap();
    loss.iter().map(|&l| l as f64).sum()
}

#[test]
fn gradients_match_central_finite_differences() {
    let b = cpu();
    let (n_h, per_row, dim) = (3, 4, 5);
    let h = Array1::from(uniform(1, n_h * dim, 1.0));
    let rows = Array1::from(uniform(2, n_h * per_row * dim, 1.0));
    let labels: Array1<f32> = (0..n_h * per_row)
        .map(|i| if i % per_row == 0 { 1.0 } else { 0.0 })
        .collect();

    let mut scores = poisoned(labels.len());
    b.batched_dot(&h, &rows, dim, per_row, &mut scores).unwrap();
    let (mut loss, mut g) = (poisoned(labels.len()), poisoned(labels.len()));
    b.sigmoid_bce(&scores, &labels, &mut loss, &mut g).unwrap();
    let (mut gh, mut gr) = (poisoned(h.len()), poisoned(rows.len()));
    b.batched_dot_backward(&g, &h, &rows, dim, per_row, &mut gh, &mut gr)
        .unwrap();

    let eps = 1e-2f32;
    let check = |analytic: f32, plus: f64, minus: f64, what: &str| {
        let fd = (plus - minus) / (2.0 * eps as f64);
        let a = analytic as f64;
        assert!(
            (fd - a).abs() <= 1e-3 * a.abs().max(fd.abs()) + 2e-4,
            "{what}: analytic {a}, finite difference {fd}"
        );
    };
    for i in 0..h.len() {
        let (mut hp, mut hm) = (h.clone(), h.clone());
        hp[i] += eps;
        hm[i] -= eps;
        let (lp, lm) = (
            total_loss(&b, &hp, &rows, &labels, dim, per_row),
            total_loss(&b, &hm, &rows, &labels, dim, per_row),
        );
        check(gh[i], lp, lm, &format!("d/dh[{i}]"));
    }
    for i in 0..rows.len() {
        let (mut rp, mut rm) = (rows.clone(), rows.clone());
        rp[i] += eps;
        rm[i] -= eps;
        let (lp, lm) = (
            total_loss(&b, &h, &rp, &labels, dim, per_row),
            total_loss(&b, &h, &rm, &labels, dim, per_row),
        );
        check(gr[i], lp, lm, &format!("d/drows[{i}]"));
    }
}

// ---- The fast path ----

const VOCAB: usize = 50;

/// A skewed random corpus over `VOCAB` words with a sentence break every 5..=24 tokens.
fn corpus(seed: u64, len: usize) -> Vec<u32> {
    let mut tokens = Vec::with_capacity(len);
    let mut until_break = 5;
    for i in 0..len as u64 {
        let r = rng::draw(seed, i, 9, 0);
        if until_break == 0 {
            tokens.push(SENTENCE_BREAK);
            until_break = 5 + rng::below(r[2], 20);
        } else {
            // The product of two uniforms skews toward small (frequent) ids.
            tokens.push(
                rng::below(r[0], VOCAB as u32) * rng::below(r[1], VOCAB as u32) / VOCAB as u32,
            );
            until_break -= 1;
        }
    }
    tokens
}

fn counts_of(tokens: &[u32]) -> Vec<u64> {
    let mut counts = vec![1u64; VOCAB];
    for &t in tokens.iter().filter(|&&t| t != SENTENCE_BREAK) {
        counts[t as usize] += 1;
    }
    counts
}

fn step_cfg(model: ModelKind, negatives: NegativeMode) -> StepConfig {
    StepConfig {
        model,
        window: 4,
        fixed_window: false,
        negative: 5,
        negatives,
        seed: 17,
    }
}

fn fresh_state(b: &CpuBackend, tokens: &[u32], dim: usize, sample: f64) -> State<CpuBackend> {
    let w_in = uniform(3, VOCAB * dim, 0.5);
    let w_out = uniform(4, VOCAB * dim, 0.5);
    state(b, &counts_of(tokens), dim, &w_in, &w_out, sample)
}

fn whole(tokens: &[u32], epoch: u64, lr_begin: f32, lr_end: f32) -> Batch {
    Batch {
        start: 0,
        len: tokens.len(),
        epoch,
        corpus_len: tokens.len() as u64,
        lr_begin,
        lr_end,
    }
}

fn rel_diff(a: &Array1<f32>, b: &Array1<f32>) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let den: f64 = b.iter().map(|&y| (y as f64).powi(2)).sum();
    (num / den).sqrt()
}

fn delta(after: &Array1<f32>, before: &Array1<f32>) -> Array1<f32> {
    after - before
}

#[test]
fn fast_path_matches_composed_path_to_first_order() {
    let tokens = corpus(5, 2 * SPAN_LEN + 3000);
    let b = cpu();
    let dim = 16;
    for model in [ModelKind::Skipgram, ModelKind::Cbow] {
        for negatives in [NegativeMode::Replace, NegativeMode::Distinct] {
            let cfg = step_cfg(model, negatives);
            let batch = whole(&tokens, 1, 1e-3, 5e-4);
            let mut fast = fresh_state(&b, &tokens, dim, 1e-2);
            let mut slow = fresh_state(&b, &tokens, dim, 1e-2);
            let (in0, out0) = (w_in(&fast).clone(), w_out(&fast).clone());
            let sf = b
                .train_batch(&mut fast.model, &fast.tables, &tokens, &batch, &cfg)
                .unwrap();
            let ss = composed::train_batch(&b, &mut slow, &tokens, &batch, &cfg, 32).unwrap();
            let what = format!("{model:?} {negatives:?}");
            assert_eq!(
                (sf.examples, sf.words, sf.centres),
                (ss.examples, ss.words, ss.centres),
                "{what}"
            );
            assert!(
                sf.centres > 1000 && sf.words < tokens.len() as u64,
                "{what}: {sf:?}"
            );
            assert!(
                (sf.loss_sum - ss.loss_sum).abs() < 2e-3 * ss.loss_sum,
                "{what}: {sf:?} vs {ss:?}"
            );
            let d_in = rel_diff(&delta(w_in(&fast), &in0), &delta(w_in(&slow), &in0));
            let d_out = rel_diff(&delta(w_out(&fast), &out0), &delta(w_out(&slow), &out0));
            assert!(
                d_in < 0.02 && d_out < 0.02,
                "{what}: relative delta differences {d_in} (w_in) {d_out} (w_out)"
            );
            // The deltas are real (not both ~zero).
            assert!(
                delta(w_in(&fast), &in0).iter().any(|&x| x.abs() > 1e-4),
                "{what}"
            );
        }
    }
}

fn run(
    threads: usize,
    model: ModelKind,
    tokens: &[u32],
    epochs: u64,
) -> (State<CpuBackend>, StepStats) {
    let b = CpuBackend::new(threads);
    let mut st = fresh_state(&b, tokens, 32, 1e-3);
    let cfg = step_cfg(model, NegativeMode::Replace);
    let mut total = StepStats::default();
    for e in 0..epochs {
        total.add(
            &b.train_batch(
                &mut st.model,
                &st.tables,
                tokens,
                &whole(tokens, e, 0.025, 0.01),
                &cfg,
            )
            .unwrap(),
        );
    }
    (st, total)
}

#[test]
fn one_thread_is_bit_reproducible() {
    let tokens = corpus(8, 3 * SPAN_LEN);
    for model in [ModelKind::Skipgram, ModelKind::Cbow] {
        let (a, sa) = run(1, model, &tokens, 2);
        let (b, sb) = run(1, model, &tokens, 2);
        assert_eq!(sa, sb);
        let bits = |v: &Array1<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(w_in(&a)), bits(w_in(&b)));
        assert_eq!(bits(w_out(&a)), bits(w_out(&b)));
    }
}

#[test]
fn two_threads_reach_the_same_loss() {
    let tokens = corpus(9, 6 * SPAN_LEN);
    for model in [ModelKind::Skipgram, ModelKind::Cbow] {
        let (_, s1) = run(1, model, &tokens, 3);
        let (_, s2) = run(2, model, &tokens, 3);
        assert_eq!(
            (s1.examples, s1.words, s1.centres),
            (s2.examples, s2.words, s2.centres)
        );
        let (l1, l2) = (s1.mean_loss(), s2.mean_loss());
        assert!(
            (l1 - l2).abs() < 0.03 * l1,
            "{model:?}: 1 thread {l1}, 2 threads {l2}"
        );
    }
}

#[test]
fn sub_batches_use_the_parent_learning_rate_ramp() {
    // A batch of two short spans: words 0..25 before the span boundary, 25..50 after it, so each
    // worker of two moves its own half of w_in. A worker that restarted the ramp at its own first
    // token would train the first half with a mean rate of 5e-4 instead of 7.5e-4 and the second
    // with 5e-4 instead of 2.5e-4; Hogwild races and the order of the halves matter far less.
    let half = 1500;
    let mut tokens = corpus(10, 2 * SPAN_LEN);
    for (i, t) in tokens
        .iter_mut()
        .enumerate()
        .filter(|(_, t)| **t != SENTENCE_BREAK)
    {
        *t = *t / 2 + if i < SPAN_LEN { 0 } else { VOCAB as u32 / 2 };
    }
    let cfg = step_cfg(ModelKind::Skipgram, NegativeMode::Replace);
    let batch = Batch {
        start: SPAN_LEN - half,
        len: 2 * half,
        ..whole(&tokens, 0, 1e-4, 1e-6)
    };
    let mut deltas = Vec::new();
    for threads in [1, 2] {
        let b = CpuBackend::new(threads);
        let mut st = fresh_state(&b, &tokens, 16, 0.0);
        let before = w_in(&st).clone();
        b.train_batch(&mut st.model, &st.tables, &tokens, &batch, &cfg)
            .unwrap();
        deltas.push(delta(w_in(&st), &before));
    }
    let d = rel_diff(&deltas[1], &deltas[0]);
    assert!(
        d < 0.05,
        "2-thread deltas differ from 1-thread deltas by {d}"
    );
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn training_separates_words_that_never_co_occur() {
    // Words 0..10 and 10..20 only ever share sentences with their own group.
    let mut tokens = Vec::new();
    for s in 0..3000u64 {
        let group = (s % 2) as u32 * 10;
        for i in 0..8 {
            tokens.push(group + rng::below(rng::draw(21, s * 8 + i, 9, 0)[0], 10));
        }
        tokens.push(SENTENCE_BREAK);
    }
    let mut counts = vec![0u64; 20];
    tokens
        .iter()
        .filter(|&&t| t != SENTENCE_BREAK)
        .for_each(|&t| counts[t as usize] += 1);
    for model in [ModelKind::Skipgram, ModelKind::Cbow] {
        let b = CpuBackend::new(2);
        let dim = 16;
        let w_in0 = uniform(5, 20 * dim, 0.5 / dim as f32);
        let mut st = state(&b, &counts, dim, &w_in0, &vec![0.0; 20 * dim], 0.0);
        let cfg = StepConfig {
            window: 3,
            ..step_cfg(model, NegativeMode::Distinct)
        };
        for e in 0..5 {
            b.train_batch(
                &mut st.model,
                &st.tables,
                &tokens,
                &whole(&tokens, e, 0.05, 0.01),
                &cfg,
            )
            .unwrap();
        }
        let w_in = w_in(&st).as_slice().unwrap();
        let row = |i: usize| &w_in[i * dim..(i + 1) * dim];
        let (mut within, mut across) = (Vec::new(), Vec::new());
        for i in 0..20 {
            for j in i + 1..20 {
                let c = cosine(row(i), row(j));
                if (i < 10) == (j < 10) {
                    within.push(c)
                } else {
                    across.push(c)
                }
            }
        }
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        let min_within = within.iter().cloned().fold(f32::INFINITY, f32::min);
        let max_across = across.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        assert!(
            min_within > max_across && mean(&within) > mean(&across) + 0.5,
            "{model:?}: within {} (min {min_within}), across {} (max {max_across})",
            mean(&within),
            mean(&across)
        );
    }
}

#[test]
fn adam_trains_with_the_composed_path() {
    let tokens = corpus(12, 3000);
    let b = CpuBackend::new(2);
    let adam = TrainConfig {
        optimizer: OptimizerKind::Adam,
        ..TrainConfig::default()
    };
    assert_eq!(
        choose_step(&b.name(), &b.capabilities(), &adam).unwrap(),
        Step::Composed
    );
    let cfg = step_cfg(ModelKind::Skipgram, NegativeMode::Replace);
    let batch = whole(&tokens, 0, 0.01, 0.001);
    let counts = counts_of(&tokens);
    let (w_in0, w_out0) = (uniform(3, VOCAB * 8, 0.5), uniform(4, VOCAB * 8, 0.5));
    let (alias, keep) = (
        AliasTable::unigram(&counts, 0.75),
        keep_thresholds(&counts, 0.0),
    );
    let mut st = State::new(&b, 8, &w_in0, &w_out0, alias, keep, OptimizerKind::Adam).unwrap();
    let stats = composed::train_batch(&b, &mut st, &tokens, &batch, &cfg, 16).unwrap();
    let moments = st.adam.as_ref().unwrap();
    // One Adam update per minibatch of 16 centres.
    assert_eq!(moments.t, stats.centres.div_ceil(16));
    assert!(moments.t > 1 && moments.m_in.iter().any(|&m| m != 0.0));
    assert!(w_in(&st).to_vec() != w_in0 && w_out(&st).to_vec() != w_out0);
}
