//! The book's layers as backend operations, on every device: hand-computed values, then random
//! inputs of several sizes against plain host loops (f64 where the sum order could matter), with
//! outputs poisoned with NaN so an element a backend fails to write fails the comparison.

use w2v_gpu::backend::{AdamStep, Backend, Elem};

use crate::common::devices::{conformance, TestDevice};
use crate::common::fixture::{assert_close, ids, uniform};

/// `(n, dim)` of the random cases: one row, odd sizes, more rows than a block, a wide dim.
const SIZES: [(usize, usize); 5] = [(1, 1), (7, 3), (33, 100), (257, 17), (1000, 128)];
/// Rows of the random tables.
const VOCAB: usize = 50;

pub fn up<B: Backend, T: Elem>(b: &B, host: &[T]) -> B::Buf<T> {
    b.upload(host).unwrap()
}

pub fn down<B: Backend, T: Elem>(b: &B, buf: &B::Buf<T>) -> Vec<T> {
    b.download(buf).unwrap()
}

/// A buffer of NaNs.
pub fn poisoned<B: Backend>(b: &B, n: usize) -> B::Buf<f32> {
    up(b, &vec![f32::NAN; n])
}

fn gather<T: TestDevice>(dev: &T) {
    let b = dev.open();
    let mut out = poisoned(&b, 6);
    let table = up(&b, &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]);
    b.gather(&table, 2, &up(&b, &[2u32, 0, 2]), &mut out)
        .unwrap();
    assert_eq!(down(&b, &out), vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]);
    let cases = SIZES.iter().map(|&(n, dim)| (VOCAB, n, dim));
    for (case, (vocab, n, dim)) in cases.chain([(37, 50, 13)]).enumerate() {
        let seed = 100 + case as u64;
        let table = uniform(seed, vocab * dim, -1.0, 1.0);
        let idx = ids(seed, n, vocab as u32);
        let mut out = poisoned(&b, n * dim);
        b.gather(&up(&b, &table), dim, &up(&b, &idx), &mut out)
            .unwrap();
        let want: Vec<f32> = idx
            .iter()
            .flat_map(|&i| &table[i as usize * dim..(i as usize + 1) * dim])
            .copied()
            .collect();
        assert_eq!(down(&b, &out), want, "gather n={n} dim={dim}");
    }
}
conformance!(gather_copies_indexed_rows, gather);

/// `out[r] = h[r / per_row] · rows[r]` (f64 sums), `grad_h[p] = Σ_t g[p·r+t] rows[p·r+t]`,
/// `grad_rows[r] = g[r] · h[r / per_row]`.
fn dot_reference(
    h: &[f32],
    rows: &[f32],
    g: &[f32],
    dim: usize,
    per_row: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let n_rows = rows.len() / dim;
    let mut scores = vec![0.0f32; n_rows];
    let mut grad_h = vec![0.0f32; h.len()];
    let mut grad_rows = vec![0.0f32; rows.len()];
    for r in 0..n_rows {
        let p = r / per_row;
        scores[r] = (0..dim)
            .map(|d| h[p * dim + d] as f64 * rows[r * dim + d] as f64)
            .sum::<f64>() as f32;
        for d in 0..dim {
            grad_h[p * dim + d] += g[r] * rows[r * dim + d];
            grad_rows[r * dim + d] = g[r] * h[p * dim + d];
        }
    }
    (scores, grad_h, grad_rows)
}

fn batched_dot<T: TestDevice>(dev: &T) {
    let b = dev.open();
    // By hand: two inputs of dim 3, two rows each.
    let h = up(&b, &[1.0f32, 2.0, 3.0, -1.0, 0.5, 2.0]);
    let rows = [
        1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 0.0, -2.0, 1.0,
    ];
    let mut out = poisoned(&b, 4);
    b.batched_dot(&h, &up(&b, &rows), 3, 2, &mut out).unwrap();
    assert_eq!(down(&b, &out), vec![1.0, 6.0, 3.0, 1.0]);
    // By hand: grad_h[0] = 2·(1,0) − 1·(.5,.5); grad_h[1] = .5·(2,1) + 1·(0,−1).
    let h = up(&b, &[1.0f32, 2.0, -1.0, 3.0]);
    let rows = up(&b, &[1.0f32, 0.0, 0.5, 0.5, 2.0, 1.0, 0.0, -1.0]);
    let (mut gh, mut gr) = (poisoned(&b, 4), poisoned(&b, 8));
    let g = up(&b, &[2.0f32, -1.0, 0.5, 1.0]);
    b.batched_dot_backward(&g, &h, &rows, 2, 2, &mut gh, &mut gr)
        .unwrap();
    assert_eq!(down(&b, &gh), vec![1.5, -0.5, 1.0, -0.5]);
    assert_eq!(
        down(&b, &gr),
        vec![2.0, 4.0, -1.0, -2.0, -0.5, 1.5, -1.0, 3.0]
    );

    let cases = SIZES
        .iter()
        .enumerate()
        .map(|(c, &(n, dim))| (n, 1 + c % 6, dim));
    for (case, (n, per_row, dim)) in cases.chain([(7, 6, 45)]).enumerate() {
        let seed = 100 + case as u64;
        let what = |op: &str| format!("{op} n={n} per_row={per_row} dim={dim}");
        let h = uniform(seed + 1, n * dim, -1.0, 1.0);
        let rows = uniform(seed + 2, n * per_row * dim, -1.0, 1.0);
        let g = uniform(seed + 3, n * per_row, -1.0, 1.0);
        let (want_s, want_gh, want_gr) = dot_reference(&h, &rows, &g, dim, per_row);
        let (hb, rb) = (up(&b, &h), up(&b, &rows));
        let mut s = poisoned(&b, n * per_row);
        b.batched_dot(&hb, &rb, dim, per_row, &mut s).unwrap();
        let tol = 1e-5 * dim as f32;
        assert_close(&what("batched_dot"), &down(&b, &s), &want_s, tol, 1e-5);
        let (mut gh, mut gr) = (poisoned(&b, n * dim), poisoned(&b, n * per_row * dim));
        b.batched_dot_backward(&up(&b, &g), &hb, &rb, dim, per_row, &mut gh, &mut gr)
            .unwrap();
        assert_close(&what("grad_h"), &down(&b, &gh), &want_gh, 1e-5, 1e-5);
        assert_close(&what("grad_rows"), &down(&b, &gr), &want_gr, 0.0, 0.0);
    }
}
conformance!(batched_dot_and_its_backward, batched_dot);

/// Softplus in f64: `log(1 + e^z)` without overflow.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// Runs sigmoid_bce on `b`; returns (loss, grad).
fn bce<B: Backend>(b: &B, x: &[f32], t: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (mut loss, mut grad) = (poisoned(b, x.len()), poisoned(b, x.len()));
    b.sigmoid_bce(&up(b, x), &up(b, t), &mut loss, &mut grad)
        .unwrap();
    (down(b, &loss), down(b, &grad))
}

/// `(loss, grad)` in f64: `t·softplus(−x) + (1−t)·softplus(x)` and `σ(x) − t`.
fn bce_reference(x: f32, t: f32) -> (f64, f64) {
    let (x, t) = (x as f64, t as f64);
    (
        t * softplus(-x) + (1.0 - t) * softplus(x),
        1.0 / (1.0 + (-x).exp()) - t,
    )
}

fn sigmoid_bce<T: TestDevice>(dev: &T) {
    let b = dev.open();
    // Closed forms at the extremes, both labels: tight relative loss.
    let xs = [1e4f32, -1e4, 30.0, -30.0, 0.0, 2.5];
    let x: Vec<f32> = xs.iter().flat_map(|&x| [x, x]).collect();
    let t: Vec<f32> = xs.iter().flat_map(|_| [0.0, 1.0]).collect();
    let (loss, grad) = bce(&b, &x, &t);
    for i in 0..x.len() {
        let (wl, wg) = bce_reference(x[i], t[i]);
        let (l, g) = (loss[i] as f64, grad[i] as f64);
        let at = format!("x={} t={}", x[i], t[i]);
        assert!(l.is_finite() && g.is_finite(), "{at}: loss {l} grad {g}");
        assert!(
            (l - wl).abs() <= 1e-6 * wl.abs() + 1e-12,
            "{at}: loss {l} want {wl}"
        );
        assert!((g - wg).abs() <= 1e-6, "{at}: grad {g} want {wg}");
    }
    // Spot values: log 2 at zero, exactly 1e4 for a confidently wrong score, e^-30 for a right one.
    assert!((loss[8] - std::f32::consts::LN_2).abs() < 1e-7);
    assert_eq!(loss[0], 1e4);
    assert!((loss[5] as f64 - (-30f64).exp()).abs() < 1e-18);

    // Large scores where a naive log σ overflows, and a fractional label.
    let x = [
        -1e4f32, -100.0, -30.0, -1.0, 0.0, 0.5, 30.0, 100.0, 1e4, 88.0, -88.0,
    ];
    let t = [1.0f32, 1.0, 0.0, 1.0, 0.0, 0.3, 1.0, 0.0, 0.0, 1.0, 0.0];
    let (loss, grad) = bce(&b, &x, &t);
    for i in 0..x.len() {
        let (wl, wg) = bce_reference(x[i], t[i]);
        assert!(loss[i].is_finite() && grad[i].is_finite(), "x = {}", x[i]);
        let l = loss[i] as f64;
        assert!(
            (l - wl).abs() <= 1e-6 + 1e-6 * wl,
            "loss at x = {}: {l}",
            x[i]
        );
        assert!((grad[i] as f64 - wg).abs() <= 1e-6, "grad at x = {}", x[i]);
    }

    // Random scores at sizes around a block, with the extremes among them.
    for n in [1usize, 255, 257, 3000] {
        let mut x = uniform(n as u64, n, -30.0, 30.0);
        for (v, e) in x.iter_mut().zip([1e4f32, -1e4, 100.0, -100.0, 0.0]) {
            *v = e;
        }
        let t: Vec<f32> = (0..n).map(|i| (i % 2) as f32).collect();
        let (loss, grad) = bce(&b, &x, &t);
        assert!(
            loss.iter().all(|l| l.is_finite() && *l >= 0.0),
            "loss must be finite and non-negative"
        );
        let (wl, wg): (Vec<f32>, Vec<f32>) = x
            .iter()
            .zip(&t)
            .map(|(&x, &t)| {
                let (l, g) = bce_reference(x, t);
                (l as f32, g as f32)
            })
            .unzip();
        assert_close(&format!("sigmoid_bce loss n={n}"), &loss, &wl, 1e-6, 1e-5);
        assert_close(&format!("sigmoid_bce grad n={n}"), &grad, &wg, 1e-6, 1e-5);
    }
}
conformance!(sigmoid_bce_is_exact_and_stable, sigmoid_bce);

fn scatter_add<T: TestDevice>(dev: &T) {
    let b = dev.open();
    let mut table = up(&b, &[1.0f32, 1.0, 10.0, 10.0, 100.0, 100.0]);
    let rows = up(&b, &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]);
    b.scatter_add(&rows, 2, &up(&b, &[1u32, 1, 0]), 2.0, &mut table)
        .unwrap();
    assert_eq!(down(&b, &table), vec![11.0, 13.0, 18.0, 22.0, 100.0, 100.0]);
    // `(vocab, n, dim, scale, atol)`: many repeats of few rows, then the random sizes.
    let mut cases = vec![(5, 40, 7, 0.5f32, 1e-5f32)];
    cases.extend(
        SIZES
            .iter()
            .map(|&(n, dim)| (VOCAB, n, dim, -0.5, 1e-5 * n as f32 / VOCAB as f32 + 1e-6)),
    );
    for (case, &(vocab, n, dim, scale, atol)) in cases.iter().enumerate() {
        let seed = 200 + case as u64;
        let rows = uniform(seed, n * dim, -1.0, 1.0);
        let idx = ids(seed + 1, n, vocab as u32);
        let table = uniform(seed + 2, vocab * dim, -1.0, 1.0);
        let mut want: Vec<f64> = table.iter().map(|&x| x as f64).collect();
        for (r, &i) in idx.iter().enumerate() {
            for d in 0..dim {
                want[i as usize * dim + d] += scale as f64 * rows[r * dim + d] as f64;
            }
        }
        let want: Vec<f32> = want.iter().map(|&x| x as f32).collect();
        let mut tb = up(&b, &table);
        b.scatter_add(&up(&b, &rows), dim, &up(&b, &idx), scale, &mut tb)
            .unwrap();
        let what = format!("scatter_add vocab={vocab} n={n} dim={dim}");
        assert_close(&what, &down(&b, &tb), &want, atol, 1e-5);
    }
}
conformance!(scatter_add_accumulates_repeated_indices, scatter_add);

fn segment_mean<T: TestDevice>(dev: &T) {
    let b = dev.open();
    let rows = up(&b, &[1.0f32, 2.0, 3.0, 6.0, -4.0, 8.0, 7.0, 0.0]);
    let mut out = poisoned(&b, 6);
    b.segment_mean(&rows, 2, &up(&b, &[0u32, 2, 3, 4]), &mut out)
        .unwrap();
    assert_eq!(down(&b, &out), vec![2.0, 4.0, -4.0, 8.0, 7.0, 0.0]);
    // An empty segment among them (its mean is zero), then random lengths 0..4 at every size.
    let mut cases = vec![(vec![0u32, 3, 3, 4, 8], 9)];
    for (case, &(n, dim)) in SIZES.iter().enumerate() {
        let lens = ids(305 + case as u64, n, 4);
        let offsets = std::iter::once(0).chain(lens.iter().scan(0, |a, &l| {
            *a += l;
            Some(*a)
        }));
        cases.push((offsets.collect(), dim));
    }
    for (case, (offsets, dim)) in cases.iter().enumerate() {
        let (n, dim) = (offsets.len() - 1, *dim);
        let total = *offsets.last().unwrap() as usize;
        let rows = uniform(306 + case as u64, total * dim, -2.0, 2.0);
        let mut want = vec![0.0f32; n * dim];
        for c in 0..n {
            let (a, e) = (offsets[c] as usize, offsets[c + 1] as usize);
            for d in 0..dim {
                let sum: f32 = (a..e).map(|r| rows[r * dim + d]).sum();
                want[c * dim + d] = if e > a { sum / (e - a) as f32 } else { 0.0 };
            }
        }
        let mut out = poisoned(&b, n * dim);
        b.segment_mean(&up(&b, &rows), dim, &up(&b, offsets), &mut out)
            .unwrap();
        let what = format!("segment_mean n={n} dim={dim}");
        assert_close(&what, &down(&b, &out), &want, 1e-6, 1e-6);
    }
}
conformance!(
    segment_mean_averages_segments_and_zeroes_empty_ones,
    segment_mean
);

/// Distinct sorted ids of `idx`.
fn distinct(idx: &[u32]) -> Vec<u32> {
    let mut d = idx.to_vec();
    d.sort_unstable();
    d.dedup();
    d
}

fn sgd_rows<T: TestDevice>(dev: &T) {
    let b = dev.open();
    let (mut w, mut g) = (
        up(&b, &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]),
        up(&b, &[10.0f32, 20.0, 30.0, 40.0, 50.0, 60.0]),
    );
    b.sgd_rows(&mut w, &mut g, 2, &up(&b, &[2u32, 0]), 0.1)
        .unwrap();
    assert_close(
        "sgd by hand",
        &down(&b, &w),
        &[0.0, 0.0, 3.0, 4.0, 0.0, 0.0],
        1e-6,
        1e-6,
    );
    assert_eq!(down(&b, &g), vec![0.0, 0.0, 30.0, 40.0, 0.0, 0.0]);
    // `(vocab, dim, rows, lr)`: two rows of six, then distinct random rows at every size.
    let mut cases = vec![(6, 5, vec![4u32, 1], 0.1f32)];
    for (case, &(n, dim)) in SIZES.iter().enumerate() {
        cases.push((
            VOCAB,
            dim,
            distinct(&ids(100 + case as u64, n, VOCAB as u32)),
            0.25,
        ));
    }
    for (case, (vocab, dim, rows, lr)) in cases.into_iter().enumerate() {
        let seed = 400 + case as u64;
        let w0 = uniform(seed, vocab * dim, -1.0, 1.0);
        let g0 = uniform(seed + 1, vocab * dim, -1.0, 1.0);
        let (mut want_w, mut want_g) = (w0.clone(), g0.clone());
        for &r in &rows {
            for i in r as usize * dim..(r as usize + 1) * dim {
                want_w[i] = w0[i] - lr * g0[i];
                want_g[i] = 0.0;
            }
        }
        let (mut wb, mut gb) = (up(&b, &w0), up(&b, &g0));
        b.sgd_rows(&mut wb, &mut gb, dim, &up(&b, &rows), lr)
            .unwrap();
        let what = format!("sgd_rows vocab={vocab} dim={dim}");
        if dev.exact() {
            assert_eq!(down(&b, &wb), want_w, "{what}");
        } else {
            assert_close(&what, &down(&b, &wb), &want_w, 1e-7, 1e-6);
        }
        assert_eq!(down(&b, &gb), want_g, "{what}: gradients");
    }
}
conformance!(
    sgd_rows_updates_listed_rows_and_zeroes_their_gradients,
    sgd_rows
);

/// Lazy Adam in f64 on `rows`; returns (w, m, v, grad) as the backend should leave them.
#[allow(clippy::type_complexity)]
fn adam_reference(
    w: &[f32],
    m: &[f32],
    v: &[f32],
    g: &[f32],
    dim: usize,
    rows: &[u32],
    s: AdamStep,
) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f32>) {
    let (b1, b2, eps) = (s.beta1 as f64, s.beta2 as f64, s.eps as f64);
    let rate = s.lr as f64 * (1.0 - b2.powi(s.t as i32)).sqrt() / (1.0 - b1.powi(s.t as i32));
    let widen = |x: &[f32]| x.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let (mut w, mut m, mut v, mut grad) = (widen(w), widen(m), widen(v), g.to_vec());
    for &r in rows {
        for i in r as usize * dim..(r as usize + 1) * dim {
            let gi = g[i] as f64;
            m[i] = b1 * m[i] + (1.0 - b1) * gi;
            v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
            w[i] -= rate * m[i] / (v[i].sqrt() + eps);
            grad[i] = 0.0;
        }
    }
    (w, m, v, grad)
}

fn adam_rows<T: TestDevice>(dev: &T) {
    let b = dev.open();
    let step = |t: u64| AdamStep {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        t,
    };
    // `(w0, m0, v0, g0, dim, rows, t, [atol of w, m, v], rtol of w, m, v)`: by hand (row 1 not
    // listed), two of six random rows, then distinct random rows at every size.
    type Case = (
        Vec<f32>,
        Vec<f32>,
        Vec<f32>,
        Vec<f32>,
        usize,
        Vec<u32>,
        u64,
        [f32; 3],
        [f32; 3],
    );
    let mut cases: Vec<Case> = vec![(
        vec![0.5, -0.25, 1.0, 2.0, 3.0, 4.0],
        vec![0.1, -0.2, 0.7, 0.7, 0.3, 0.3],
        vec![0.01, 0.04, 0.5, 0.5, 0.2, 0.2],
        vec![1.0, -2.0, 9.0, 9.0, 0.5, 0.0],
        2,
        vec![0, 2],
        3,
        [1e-6; 3],
        [0.0; 3],
    )];
    let random = |seed: u64, n: usize| {
        (
            uniform(seed, n, -1.0, 1.0),
            uniform(seed + 1, n, -0.1, 0.1),
            uniform(seed + 2, n, 0.0, 0.1),
            uniform(seed + 3, n, -1.0, 1.0),
        )
    };
    let (w, m, v, g) = random(500, 30);
    cases.push((w, m, v, g, 5, vec![4, 1], 3, [1e-5, 1e-6, 1e-6], [0.0; 3]));
    for (case, &(n, dim)) in SIZES.iter().enumerate() {
        let (w, m, v, g) = random(510 + 4 * case as u64, VOCAB * dim);
        let rows = distinct(&ids(100 + case as u64, n, VOCAB as u32));
        let t = 1 + case as u64 * 7;
        cases.push((
            w,
            m,
            v,
            g,
            dim,
            rows,
            t,
            [1e-6, 1e-7, 1e-7],
            [1e-5, 1e-6, 1e-6],
        ));
    }
    for (w0, m0, v0, g0, dim, rows, t, atol, rtol) in cases {
        let (ww, wm, wv, wg) = adam_reference(&w0, &m0, &v0, &g0, dim, &rows, step(t));
        let (mut w, mut m, mut v, mut g) = (up(&b, &w0), up(&b, &m0), up(&b, &v0), up(&b, &g0));
        b.adam_rows(&mut w, &mut m, &mut v, &mut g, dim, &up(&b, &rows), step(t))
            .unwrap();
        let what = format!("adam_rows dim={dim} rows={}", rows.len());
        for (name, got, want, atol, rtol) in [
            ("w", down(&b, &w), &ww, atol[0], rtol[0]),
            ("m", down(&b, &m), &wm, atol[1], rtol[1]),
            ("v", down(&b, &v), &wv, atol[2], rtol[2]),
        ] {
            for (i, (&x, &y)) in got.iter().zip(want).enumerate() {
                let listed = rows.contains(&((i / dim) as u32));
                let ok = if listed {
                    (x as f64 - y).abs() <= atol as f64 + rtol as f64 * y.abs()
                } else {
                    x as f64 == y
                };
                assert!(
                    ok,
                    "{what}: {name}[{i}] = {x}, want {y} (row listed: {listed})"
                );
            }
        }
        assert_eq!(down(&b, &g), wg, "{what}: gradients");
    }
}
conformance!(
    adam_rows_updates_listed_rows_and_zeroes_their_gradients,
    adam_rows
);

/// `Σ bce(h_p · rows_{p,t}, label)` through the backend's forward operations, summed in f64.
fn total_loss<B: Backend>(b: &B, h: &[f32], rows: &[f32], labels: &[f32], dim: usize) -> f64 {
    let per_row = rows.len() / h.len();
    let mut scores = poisoned(b, labels.len());
    b.batched_dot(&up(b, h), &up(b, rows), dim, per_row, &mut scores)
        .unwrap();
    let (loss, _) = bce(b, &down(b, &scores), labels);
    loss.iter().map(|&l| l as f64).sum()
}

fn finite_differences<T: TestDevice>(dev: &T) {
    let b = dev.open();
    let (n_h, per_row, dim) = (3, 4, 5);
    let h = uniform(1, n_h * dim, -1.0, 1.0);
    let rows = uniform(2, n_h * per_row * dim, -1.0, 1.0);
    let labels: Vec<f32> = (0..n_h * per_row)
        .map(|i| if i % per_row == 0 { 1.0 } else { 0.0 })
        .collect();
    let mut scores = poisoned(&b, labels.len());
    let (hb, rb) = (up(&b, &h), up(&b, &rows));
    b.batched_dot(&hb, &rb, dim, per_row, &mut scores).unwrap();
    let (_, g) = bce(&b, &down(&b, &scores), &labels);
    let (mut gh, mut gr) = (poisoned(&b, h.len()), poisoned(&b, rows.len()));
    b.batched_dot_backward(&up(&b, &g), &hb, &rb, dim, per_row, &mut gh, &mut gr)
        .unwrap();
    let (gh, gr) = (down(&b, &gh), down(&b, &gr));

    let eps = 1e-2f32;
    let check = |analytic: f32, plus: f64, minus: f64, what: &str| {
        let fd = (plus - minus) / (2.0 * eps as f64);
        let a = analytic as f64;
        assert!(
            (fd - a).abs() <= 1e-3 * a.abs().max(fd.abs()) + 2e-4,
            "{what}: analytic {a}, finite difference {fd}"
        );
    };
    let nudged = |v: &[f32], i: usize, by: f32| {
        let mut v = v.to_vec();
        v[i] += by;
        v
    };
    for (i, &analytic) in gh.iter().enumerate() {
        let lp = total_loss(&b, &nudged(&h, i, eps), &rows, &labels, dim);
        let lm = total_loss(&b, &nudged(&h, i, -eps), &rows, &labels, dim);
        check(analytic, lp, lm, &format!("d/dh[{i}]"));
    }
    for (i, &analytic) in gr.iter().enumerate() {
        let lp = total_loss(&b, &h, &nudged(&rows, i, eps), &labels, dim);
        let lm = total_loss(&b, &h, &nudged(&rows, i, -eps), &labels, dim);
        check(analytic, lp, lm, &format!("d/drows[{i}]"));
    }
}
conformance!(
    gradients_match_central_finite_differences,
    finite_differences
);
