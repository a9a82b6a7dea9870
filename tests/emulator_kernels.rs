//! The CUDA kernels on the emulated device, launched directly through `w2v_emu_launch`, against
//! straightforward Rust references (the host-side parity suite goes through the Backend trait).
#![cfg(feature = "emulator")]

use std::ffi::{c_void, CStr, CString};

use w2v_gpu::backend::cuda::emulated::launch_raw;

use w2v_gpu::train::plan::{self, Batch, ModelKind, StepConfig, SENTENCE_BREAK, SPAN_LEN};
use w2v_gpu::train::rng;
use w2v_gpu::train::sampler::{self, AliasTable, NegativeMode};

/// One kernel argument: a device pointer (a host pointer here) with its normalised type, or a value.
enum Arg {
    Ptr(*mut c_void, &'static str),
    U32(u32),
    U64(u64),
    F32(f32),
}

fn cf32(s: &[f32]) -> Arg {
    Arg::Ptr(s.as_ptr() as *mut c_void, "const f32*")
}
fn mf32(s: &mut [f32]) -> Arg {
    Arg::Ptr(s.as_mut_ptr().cast(), "f32*")
}
fn cu32(s: &[u32]) -> Arg {
    Arg::Ptr(s.as_ptr() as *mut c_void, "const u32*")
}
fn mu32(s: &mut [u32]) -> Arg {
    Arg::Ptr(s.as_mut_ptr().cast(), "u32*")
}
fn cu64(s: &[u64]) -> Arg {
    Arg::Ptr(s.as_ptr() as *mut c_void, "const u64*")
}
fn mf64(s: &mut [f64]) -> Arg {
    Arg::Ptr(s.as_mut_ptr().cast(), "f64*")
}

/// Launches `name` on a 1-D grid; Err carries the emulator's message.
fn launch(name: &str, grid: u32, block: u32, shared: u32, args: &[Arg]) -> Result<(), String> {
    // Each argument's value lives in its own 8-byte cell; args[i] points at cell i (little-endian,
    // so a 4-byte argument is the cell's first 4 bytes).
    let mut cells: Vec<u64> = args
        .iter()
        .map(|a| match *a {
            Arg::Ptr(p, _) => p as u64,
            Arg::U32(v) => v as u64,
            Arg::U64(v) => v,
            Arg::F32(v) => v.to_bits() as u64,
        })
        .collect();
    let types: Vec<CString> = args
        .iter()
        .map(|a| {
            CString::new(match a {
                Arg::Ptr(_, t) => *t,
                Arg::U32(_) => "u32",
                Arg::U64(_) => "u64",
                Arg::F32(_) => "f32",
            })
            .unwrap()
        })
        .collect();
    let type_refs: Vec<&CStr> = types.iter().map(CString::as_c_str).collect();
    let arg_ptrs: Vec<*mut c_void> = cells.iter_mut().map(|c| (c as *mut u64).cast()).collect();
    let name = CString::new(name).unwrap();
    // SAFETY: every pointer argument points into a live slice that outlives the call and is as long
    // as the kernel's documented layout for the sizes passed; each cell holds a value of the type
    // its type string names.
    unsafe {
        launch_raw(
            &name,
            [grid, 1, 1],
            [block, 1, 1],
            shared,
            &arg_ptrs,
            &type_refs,
        )
    }
}

/// Deterministic test data from the project's own generator.
fn uniform(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    (0..n as u64)
        .map(|i| lo + (hi - lo) * rng::unit_f32(rng::draw(seed, i, rng::PURPOSE_INIT, 0)[0]))
        .collect()
}

fn ids(n: usize, seed: u64, below: u32) -> Vec<u32> {
    (0..n as u64)
        .map(|i| rng::below(rng::draw(seed, i, rng::PURPOSE_INIT, 1)[1], below))
        .collect()
}

fn assert_close(got: &[f32], want: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= atol + rtol * w.abs(),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

#[test]
fn gather_copies_rows_including_repeats() {
    let (vocab, dim) = (37, 13);
    let table = uniform(vocab * dim, 1, -1.0, 1.0);
    let idx = ids(50, 2, vocab as u32);
    let mut out = vec![f32::NAN; idx.len() * dim];
    launch(
        "w2v_gather",
        3,
        64,
        0,
        &[
            cf32(&table),
            cu32(&idx),
            mf32(&mut out),
            Arg::U32(50),
            Arg::U32(13),
        ],
    )
    .unwrap();
    for (r, &i) in idx.iter().enumerate() {
        assert_eq!(
            &out[r * dim..(r + 1) * dim],
            &table[i as usize * dim..(i as usize + 1) * dim]
        );
    }
}

#[test]
fn scatter_add_accumulates_repeated_indices() {
    let (vocab, dim, n) = (5, 7, 40);
    let rows = uniform(n * dim, 3, -1.0, 1.0);
    let idx = ids(n, 4, vocab as u32);
    let mut table = uniform(vocab * dim, 5, -1.0, 1.0);
    let mut want: Vec<f64> = table.iter().map(|&x| x as f64).collect();
    for (r, &i) in idx.iter().enumerate() {
        for d in 0..dim {
            want[i as usize * dim + d] += 0.5 * rows[r * dim + d] as f64;
        }
    }
    launch(
        "w2v_scatter_add",
        2,
        96,
        0,
        &[
            cf32(&rows),
            cu32(&idx),
            mf32(&mut table),
            Arg::U32(n as u32),
            Arg::U32(dim as u32),
            Arg::F32(0.5),
        ],
    )
    .unwrap();
    let want: Vec<f32> = want.iter().map(|&x| x as f32).collect();
    assert_close(&table, &want, 1e-5, 1e-5, "table");
}

#[test]
fn segment_mean_averages_segments_and_zeroes_empty_ones() {
    let dim = 9;
    let offsets = [0u32, 3, 3, 4, 8];
    let rows = uniform(8 * dim, 6, -2.0, 2.0);
    let mut out = vec![f32::NAN; 4 * dim];
    launch(
        "w2v_segment_mean",
        1,
        32,
        0,
        &[
            cf32(&rows),
            cu32(&offsets),
            mf32(&mut out),
            Arg::U32(4),
            Arg::U32(9),
        ],
    )
    .unwrap();
    for c in 0..4 {
        let (a, b) = (offsets[c] as usize, offsets[c + 1] as usize);
        for d in 0..dim {
            let sum: f32 = (a..b).map(|r| rows[r * dim + d]).sum();
            let want = if b > a { sum / (b - a) as f32 } else { 0.0 };
            assert!(
                (out[c * dim + d] - want).abs() < 1e-6,
                "segment {c} dim {d}"
            );
        }
    }
}

#[test]
fn batched_dot_and_backward_match_reference_at_odd_sizes() {
    let (n_h, per_row, dim) = (7usize, 6usize, 45usize);
    let h = uniform(n_h * dim, 7, -1.0, 1.0);
    let rows = uniform(n_h * per_row * dim, 8, -1.0, 1.0);
    let mut out = vec![f32::NAN; n_h * per_row];
    // One warp per score, grid-stride: 2 blocks of 2 or 3 warps leave some warps with one score less.
    for block in [64, 96] {
        out.fill(f32::NAN);
        let sizes = [
            Arg::U32(n_h as u32),
            Arg::U32(per_row as u32),
            Arg::U32(dim as u32),
        ];
        let [a, b, c] = sizes;
        let args = [cf32(&h), cf32(&rows), mf32(&mut out), a, b, c];
        launch("w2v_batched_dot", 2, block, 0, &args).unwrap();
        let dot = |p: usize, r: usize| {
            (0..dim)
                .map(|d| h[p * dim + d] as f64 * rows[r * dim + d] as f64)
                .sum::<f64>()
        };
        let want: Vec<f32> = (0..n_h * per_row)
            .map(|r| dot(r / per_row, r) as f32)
            .collect();
        assert_close(&out, &want, 1e-5, 1e-5, "scores");
    }

    let g = uniform(n_h * per_row, 9, -1.0, 1.0);
    let mut grad_h = vec![f32::NAN; n_h * dim];
    let mut grad_rows = vec![f32::NAN; n_h * per_row * dim];
    launch(
        "w2v_batched_dot_backward",
        3,
        32,
        0,
        &[
            cf32(&g),
            cf32(&h),
            cf32(&rows),
            mf32(&mut grad_h),
            mf32(&mut grad_rows),
            Arg::U32(n_h as u32),
            Arg::U32(per_row as u32),
            Arg::U32(dim as u32),
        ],
    )
    .unwrap();
    let mut want_h = vec![0.0f32; n_h * dim];
    let mut want_rows = vec![0.0f32; n_h * per_row * dim];
    for r in 0..n_h * per_row {
        let p = r / per_row;
        for d in 0..dim {
            want_h[p * dim + d] += g[r] * rows[r * dim + d];
            want_rows[r * dim + d] = g[r] * h[p * dim + d];
        }
    }
    assert_close(&grad_h, &want_h, 1e-5, 1e-5, "grad_h");
    assert_close(&grad_rows, &want_rows, 0.0, 0.0, "grad_rows");
}

#[test]
fn sigmoid_bce_is_finite_and_exact_at_large_scores() {
    let scores = [
        -1e4f32, -100.0, -30.0, -1.0, 0.0, 0.5, 30.0, 100.0, 1e4, 88.0, -88.0,
    ];
    let labels = [1.0f32, 1.0, 0.0, 1.0, 0.0, 0.3, 1.0, 0.0, 0.0, 1.0, 0.0];
    let n = scores.len();
    let (mut loss, mut grad) = (vec![f32::NAN; n], vec![f32::NAN; n]);
    launch(
        "w2v_sigmoid_bce",
        1,
        32,
        0,
        &[
            cf32(&scores),
            cf32(&labels),
            mf32(&mut loss),
            mf32(&mut grad),
            Arg::U32(n as u32),
        ],
    )
    .unwrap();
    for i in 0..n {
        let (x, t) = (scores[i] as f64, labels[i] as f64);
        // Softplus in f64, stable on both sides: -t log σ(x) - (1-t) log σ(-x).
        let softplus = |z: f64| z.max(0.0) + (-z.abs()).exp().ln_1p();
        let want_loss = t * softplus(-x) + (1.0 - t) * softplus(x);
        let want_grad = 1.0 / (1.0 + (-x).exp()) - t;
        assert!(loss[i].is_finite() && grad[i].is_finite(), "x = {x}");
        assert!(
            (loss[i] as f64 - want_loss).abs() <= 1e-6 + 1e-6 * want_loss,
            "loss at x = {x}: {}",
            loss[i]
        );
        assert!(
            (grad[i] as f64 - want_grad).abs() <= 1e-6,
            "grad at x = {x}: {}",
            grad[i]
        );
    }
}

#[test]
fn sgd_and_adam_update_only_listed_rows_and_zero_their_gradients() {
    let (vocab, dim) = (6usize, 5usize);
    let rows = [4u32, 1];
    let w0 = uniform(vocab * dim, 10, -1.0, 1.0);
    let g0 = uniform(vocab * dim, 11, -1.0, 1.0);
    let (mut w, mut g) = (w0.clone(), g0.clone());
    launch(
        "w2v_sgd_rows",
        1,
        32,
        0,
        &[
            mf32(&mut w),
            mf32(&mut g),
            cu32(&rows),
            Arg::U32(2),
            Arg::U32(dim as u32),
            Arg::F32(0.1),
        ],
    )
    .unwrap();
    for r in 0..vocab {
        for d in 0..dim {
            let i = r * dim + d;
            if rows.contains(&(r as u32)) {
                assert_eq!(w[i], w0[i] - 0.1 * g0[i]);
                assert_eq!(g[i], 0.0);
            } else {
                assert_eq!((w[i], g[i]), (w0[i], g0[i]));
            }
        }
    }

    let (mut w, mut g) = (w0.clone(), g0.clone());
    let m0 = uniform(vocab * dim, 12, -0.1, 0.1);
    let v0 = uniform(vocab * dim, 13, 0.0, 0.1);
    let (mut m, mut v) = (m0.clone(), v0.clone());
    let (lr, b1, b2, eps, t) = (0.01f32, 0.9f32, 0.999f32, 1e-8f32, 3i32);
    let bias1 = 1.0 - (b1 as f64).powi(t);
    let bias2 = 1.0 - (b2 as f64).powi(t);
    launch(
        "w2v_adam_rows",
        2,
        32,
        0,
        &[
            mf32(&mut w),
            mf32(&mut m),
            mf32(&mut v),
            mf32(&mut g),
            cu32(&rows),
            Arg::U32(2),
            Arg::U32(dim as u32),
            Arg::F32(lr),
            Arg::F32(b1),
            Arg::F32(b2),
            Arg::F32(eps),
            Arg::F32(bias1 as f32),
            Arg::F32(bias2 as f32),
        ],
    )
    .unwrap();
    let rate = lr as f64 * bias2.sqrt() / bias1;
    for r in 0..vocab {
        for d in 0..dim {
            let i = r * dim + d;
            if rows.contains(&(r as u32)) {
                let gi = g0[i] as f64;
                let mi = 0.9 * m0[i] as f64 + 0.1 * gi;
                let vi = 0.999 * v0[i] as f64 + 0.001 * gi * gi;
                let wi = w0[i] as f64 - rate * mi / (vi.sqrt() + 1e-8);
                assert!((m[i] as f64 - mi).abs() < 1e-6 && (v[i] as f64 - vi).abs() < 1e-6);
                assert!(
                    (w[i] as f64 - wi).abs() < 1e-5,
                    "w[{i}] = {} want {wi}",
                    w[i]
                );
                assert_eq!(g[i], 0.0);
            } else {
                assert_eq!((w[i], m[i], v[i], g[i]), (w0[i], m0[i], v0[i], g0[i]));
            }
        }
    }
}

/// The kernel's negatives for `n` centres, against sampler::negatives_for_centre.
fn check_negatives(table: &AliasTable, k: usize, mode: NegativeMode, seed: u64) {
    let n = 300usize;
    let vocab = table.len() as u32;
    let centres = ids(n, seed ^ 0x55, vocab);
    let positions: Vec<u64> = (0..n as u64)
        .map(|i| (i * 0x9E37_79B9_7F4A) ^ (i << 33))
        .collect();
    let mut out = vec![u32::MAX; n * k];
    launch(
        "w2v_sample_negatives",
        2,
        64,
        0,
        &[
            cu32(&table.prob),
            cu32(&table.alias),
            Arg::U32(vocab),
            cu32(&centres),
            cu64(&positions),
            Arg::U32(n as u32),
            Arg::U32(k as u32),
            Arg::U32((mode == NegativeMode::Distinct) as u32),
            Arg::U64(seed),
            mu32(&mut out),
        ],
    )
    .unwrap();
    let mut want = vec![0u32; k];
    for c in 0..n {
        sampler::negatives_for_centre(table, seed, positions[c], centres[c], mode, &mut want);
        assert_eq!(&out[c * k..(c + 1) * k], &want[..], "centre {c} ({mode:?})");
    }
}

#[test]
fn negatives_are_bit_identical_to_the_cpu_sampler() {
    let counts: Vec<u64> = (1..=500u64).map(|r| 1_000_000 / r).collect();
    let table = AliasTable::unigram(&counts, 0.75);
    for mode in [NegativeMode::Replace, NegativeMode::Distinct] {
        check_negatives(&table, 5, mode, 0xDEAD_BEEF_0000_0017);
        check_negatives(&table, 15, mode, 3);
    }
    // Nearly all mass on word 0: distinct rows exhaust their rejection slots and take the scan.
    let skewed = AliasTable::unigram(&[1_000_000_000, 1, 1, 1, 1, 1, 1], 1.0);
    check_negatives(&skewed, 5, NegativeMode::Distinct, 9);
    check_negatives(&skewed, 6, NegativeMode::Replace, 9);
}

/// A corpus with one very frequent word (mostly subsampled away), sentence breaks, and `n` tokens.
fn corpus(n: usize, vocab: u32, seed: u64) -> Vec<u32> {
    (0..n as u64)
        .map(|i| {
            let r = rng::draw(seed, i, rng::PURPOSE_INIT, 2);
            if r[0] % 53 == 0 {
                SENTENCE_BREAK
            } else if r[1] % 10 < 8 {
                0
            } else {
                1 + rng::below(r[2], vocab - 1)
            }
        })
        .collect()
}

fn keep_table(vocab: u32) -> Vec<u32> {
    let mut keep = vec![u32::MAX / 4; vocab as usize];
    keep[0] = u32::MAX / 40;
    keep[vocab as usize - 1] = u32::MAX;
    keep
}

/// Runs w2v_subsample_compact; returns (kept_ids, kept_off, kept_count).
fn compact(
    tokens: &[u32],
    keep: &[u32],
    seed: u64,
    key_first: u64,
    grid: u32,
    block: u32,
) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let n_spans = tokens.len().div_ceil(SPAN_LEN);
    let mut kept_ids = vec![0xAAAA_AAAAu32; n_spans * SPAN_LEN];
    let mut kept_off = vec![0xAAAA_AAAAu32; n_spans * SPAN_LEN];
    let mut kept_count = vec![u32::MAX; n_spans];
    launch(
        "w2v_subsample_compact",
        grid,
        block,
        0,
        &[
            cu32(tokens),
            Arg::U32(tokens.len() as u32),
            cu32(keep),
            Arg::U64(seed),
            Arg::U64(key_first),
            mu32(&mut kept_ids),
            mu32(&mut kept_off),
            mu32(&mut kept_count),
        ],
    )
    .unwrap();
    (kept_ids, kept_off, kept_count)
}

#[test]
fn subsample_compact_keeps_what_the_plan_keeps() {
    let vocab = 30;
    let corpus_tokens = corpus(3 * SPAN_LEN + 1000, vocab, 21);
    let keep = keep_table(vocab);
    let seed = 77u64;
    // The batch starts on the second span of the corpus in epoch 2.
    let batch = Batch {
        start: SPAN_LEN,
        len: 2 * SPAN_LEN + 1000,
        epoch: 2,
        corpus_len: corpus_tokens.len() as u64,
        lr_begin: 0.0,
        lr_end: 0.0,
    };
    let tokens = &corpus_tokens[batch.start..batch.start + batch.len];
    let key_first = batch.key_pos(batch.start);
    for (grid, block) in [(3, 256), (1, 96), (2, 1024)] {
        let (kept_ids, kept_off, kept_count) = compact(tokens, &keep, seed, key_first, grid, block);
        for (s, (a, e)) in batch.spans().enumerate() {
            let want: Vec<(u32, u32)> = (a..e)
                .filter(|&i| {
                    let w = corpus_tokens[i];
                    w == SENTENCE_BREAK || sampler::keep_token(&keep, seed, batch.key_pos(i), w)
                })
                .map(|i| (corpus_tokens[i], (i - batch.start) as u32))
                .collect();
            let n = kept_count[s] as usize;
            let got: Vec<(u32, u32)> = (0..n)
                .map(|j| (kept_ids[s * SPAN_LEN + j], kept_off[s * SPAN_LEN + j]))
                .collect();
            assert_eq!(got, want, "span {s}, grid {grid}, block {block}");
            assert!(
                n < (e - a) / 2,
                "subsampling dropped little: {n} of {}",
                e - a
            );
        }
    }
}

/// Sequential Hogwild reference of the fused step (one warp, centres in order), from plan::centres:
/// target rows read once per centre, their gradient summed over the contexts and written back at
/// the centre's end; context rows updated as they are used. Returns (loss sum, examples).
fn reference_step(fx: &Fixture, w_in: &mut [f32], w_out: &mut [f32]) -> (f64, f64) {
    let (dim, batch, cfg) = (fx.dim, &fx.batch, &fx.cfg);
    let (mut loss, mut examples) = (0.0f64, 0.0f64);
    plan::centres(&fx.corpus, batch, &fx.keep, &fx.table, cfg, |c| {
        if c.contexts.is_empty() {
            return;
        }
        let lr = batch.lr_at(c.index);
        let targets: Vec<u32> = std::iter::once(c.word)
            .chain(c.negatives.iter().copied())
            .collect();
        let rows: Vec<Vec<f32>> = targets
            .iter()
            .map(|&t| w_out[t as usize * dim..(t as usize + 1) * dim].to_vec())
            .collect();
        let mut acc = vec![vec![0.0f32; dim]; targets.len()];
        let train = |h: &[f32], loss: &mut f64| -> (Vec<f32>, Vec<f32>) {
            let steps: Vec<f32> = rows
                .iter()
                .enumerate()
                .map(|(t, row)| {
                    let x: f32 = h.iter().zip(row).map(|(a, b)| a * b).sum();
                    let label = if t == 0 { 1.0 } else { 0.0 };
                    let e = (-x.abs()).exp();
                    let s = if x >= 0.0 {
                        1.0 / (1.0 + e)
                    } else {
                        e / (1.0 + e)
                    };
                    *loss += (x.max(0.0) - x * label + e.ln_1p()) as f64;
                    lr * (s - label)
                })
                .collect();
            let grad_h: Vec<f32> = (0..dim)
                .map(|d| steps.iter().zip(&rows).map(|(g, r)| g * r[d]).sum())
                .collect();
            (steps, grad_h)
        };
        match cfg.model {
            ModelKind::Skipgram => {
                for &ctx in &c.contexts {
                    let span = ctx as usize * dim..(ctx as usize + 1) * dim;
                    let h = w_in[span.clone()].to_vec();
                    let (steps, grad_h) = train(&h, &mut loss);
                    for (t, g) in steps.iter().enumerate() {
                        acc[t].iter_mut().zip(&h).for_each(|(a, x)| *a += g * x);
                    }
                    w_in[span]
                        .iter_mut()
                        .zip(&grad_h)
                        .for_each(|(w, g)| *w -= g);
                }
                for (t, &id) in targets.iter().enumerate() {
                    let row = &mut w_out[id as usize * dim..(id as usize + 1) * dim];
                    row.iter_mut().zip(&acc[t]).for_each(|(w, a)| *w -= a);
                }
                examples += (c.contexts.len() * targets.len()) as f64;
            }
            ModelKind::Cbow => {
                let inv = 1.0 / c.contexts.len() as f32;
                let h: Vec<f32> = (0..dim)
                    .map(|d| {
                        c.contexts
                            .iter()
                            .map(|&x| w_in[x as usize * dim + d])
                            .sum::<f32>()
                            * inv
                    })
                    .collect();
                let (steps, grad_h) = train(&h, &mut loss);
                for (t, &id) in targets.iter().enumerate() {
                    let row = &mut w_out[id as usize * dim..(id as usize + 1) * dim];
                    row.iter_mut().zip(&h).for_each(|(w, x)| *w -= steps[t] * x);
                }
                for &ctx in &c.contexts {
                    let row = &mut w_in[ctx as usize * dim..(ctx as usize + 1) * dim];
                    row.iter_mut().zip(&grad_h).for_each(|(w, g)| *w -= g);
                }
                examples += targets.len() as f64;
            }
        }
    });
    (loss, examples)
}

/// Runs the fused step over `batch` with `warps` warps per block and `grid` blocks.
fn fused_step(
    fx: &Fixture,
    w_in: &mut [f32],
    w_out: &mut [f32],
    grid: u32,
    warps: u32,
) -> (f64, f64) {
    let (dim, batch, cfg, keep, table) = (fx.dim, &fx.batch, &fx.cfg, &fx.keep, &fx.table);
    let tokens = &fx.corpus[batch.start..batch.start + batch.len];
    let key_first = batch.key_pos(batch.start);
    let (kept_ids, kept_off, kept_count) = compact(tokens, keep, cfg.seed, key_first, 2, 128);
    let mut loss_acc = [0.0f64; 2];
    let shared = warps * 2 * (1 + cfg.negative) * dim as u32 * 4;
    // The kernel the backend picks: plain for negative ≤ 7, `_wide` above.
    let kernel = w2v_gpu::backend::cuda::geometry::step_kernel(cfg.model, false, cfg.negative);
    launch(
        kernel,
        grid,
        32 * warps,
        shared,
        &[
            mf32(w_in),
            mf32(w_out),
            Arg::U32(dim as u32),
            cu32(&kept_ids),
            cu32(&kept_off),
            cu32(&kept_count),
            Arg::U32(kept_count.len() as u32),
            cu32(&table.prob),
            cu32(&table.alias),
            Arg::U32(table.len() as u32),
            Arg::U64(cfg.seed),
            Arg::U64(key_first),
            Arg::U32(batch.len as u32),
            Arg::F32(batch.lr_begin),
            Arg::F32(batch.lr_end),
            Arg::U32(cfg.window),
            Arg::U32(cfg.fixed_window as u32),
            Arg::U32(cfg.negative),
            Arg::U32((cfg.negatives == NegativeMode::Distinct) as u32),
            mf64(&mut loss_acc),
        ],
    )
    .unwrap();
    (loss_acc[0], loss_acc[1])
}

struct StepCase {
    model: ModelKind,
    negatives: NegativeMode,
    fixed_window: bool,
    negative: u32,
    dim: usize,
    lr: f32,
}

/// Everything a fused-step test trains on.
struct Fixture {
    corpus: Vec<u32>,
    batch: Batch,
    keep: Vec<u32>,
    table: AliasTable,
    cfg: StepConfig,
    dim: usize,
    w_in0: Vec<f32>,
    w_out0: Vec<f32>,
}

fn fixture(case: &StepCase) -> Fixture {
    let vocab = 40u32;
    // Two spans: a full one, mostly subsampled away, and a short tail, starting at corpus span 1.
    let corpus = corpus(3 * SPAN_LEN, vocab, 5);
    let batch = Batch {
        start: SPAN_LEN,
        len: SPAN_LEN + 700,
        epoch: 1,
        corpus_len: corpus.len() as u64,
        lr_begin: case.lr,
        lr_end: case.lr * 0.2,
    };
    let counts: Vec<u64> = (1..=vocab as u64).map(|r| 10_000 / r).collect();
    let cfg = StepConfig {
        model: case.model,
        window: 3,
        fixed_window: case.fixed_window,
        negative: case.negative,
        negatives: case.negatives,
        seed: 0x1234_5678_9ABC,
    };
    let n = vocab as usize * case.dim;
    Fixture {
        corpus,
        batch,
        keep: keep_table(vocab),
        table: AliasTable::unigram(&counts, 0.75),
        cfg,
        dim: case.dim,
        w_in0: uniform(n, 31, -0.5, 0.5),
        w_out0: uniform(n, 32, -0.5, 0.5),
    }
}

fn check_fused_against_reference(case: StepCase) {
    let fx = fixture(&case);
    let (mut w_in, mut w_out) = (fx.w_in0.clone(), fx.w_out0.clone());
    let (loss, examples) = fused_step(&fx, &mut w_in, &mut w_out, 1, 1);
    let (mut r_in, mut r_out) = (fx.w_in0.clone(), fx.w_out0.clone());
    let (r_loss, r_examples) = reference_step(&fx, &mut r_in, &mut r_out);
    assert!(
        r_examples > 1000.0,
        "the batch trains something: {r_examples}"
    );
    assert_eq!(examples, r_examples, "example count");
    assert!(
        (loss - r_loss).abs() <= 1e-4 * r_loss,
        "loss {loss} vs reference {r_loss}"
    );
    assert_close(&w_in, &r_in, 2e-5, 1e-4, "w_in");
    assert_close(&w_out, &r_out, 2e-5, 1e-4, "w_out");
    // The step moved the parameters by far more than the tolerance.
    let moved = w_out
        .iter()
        .zip(&fx.w_out0)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(moved > 1e-2, "w_out barely moved: {moved}");
}

#[test]
fn fused_skipgram_matches_sequential_reference() {
    check_fused_against_reference(StepCase {
        model: ModelKind::Skipgram,
        negatives: NegativeMode::Replace,
        fixed_window: false,
        negative: 5,
        dim: 40,
        lr: 0.05,
    });
}

#[test]
fn fused_skipgram_distinct_fixed_window_matches_sequential_reference() {
    check_fused_against_reference(StepCase {
        model: ModelKind::Skipgram,
        negatives: NegativeMode::Distinct,
        fixed_window: true,
        negative: 9,
        dim: 33,
        lr: 0.05,
    });
}

#[test]
fn fused_cbow_matches_sequential_reference() {
    check_fused_against_reference(StepCase {
        model: ModelKind::Cbow,
        negatives: NegativeMode::Replace,
        fixed_window: false,
        negative: 5,
        dim: 64,
        lr: 0.05,
    });
}

#[test]
fn fused_cbow_distinct_matches_sequential_reference() {
    check_fused_against_reference(StepCase {
        model: ModelKind::Cbow,
        negatives: NegativeMode::Distinct,
        fixed_window: true,
        negative: 2,
        dim: 17,
        lr: 0.05,
    });
}

#[test]
fn fused_step_with_many_warps_counts_every_example() {
    let case = StepCase {
        model: ModelKind::Skipgram,
        negatives: NegativeMode::Replace,
        fixed_window: false,
        negative: 5,
        dim: 32,
        lr: 0.002,
    };
    let fx = fixture(&case);
    let (mut w_in, mut w_out) = (fx.w_in0.clone(), fx.w_out0.clone());
    let (loss, examples) = fused_step(&fx, &mut w_in, &mut w_out, 3, 4);
    let (mut r_in, mut r_out) = (fx.w_in0.clone(), fx.w_out0.clone());
    let (r_loss, r_examples) = reference_step(&fx, &mut r_in, &mut r_out);
    assert_eq!(examples, r_examples);
    // Twelve warps race (Hogwild): every update lands, computed from slightly stale rows, so with a
    // small rate the result agrees with the sequential order to first order only.
    assert!(
        (loss - r_loss).abs() <= 0.01 * r_loss,
        "loss {loss} vs reference {r_loss}"
    );
    let max_diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    let moved = max_diff(&r_in, &fx.w_in0).max(max_diff(&r_out, &fx.w_out0));
    let off = max_diff(&w_in, &r_in).max(max_diff(&w_out, &r_out));
    assert!(
        off < 0.1 * moved,
        "Hogwild result is {off} from the sequential one, which moved {moved}"
    );
}

#[test]
fn launch_rejects_wrong_arguments_with_a_message() {
    let table = [0.0f32; 4];
    let idx = [0u32; 2];
    let mut out = [0.0f32; 4];
    let err = launch(
        "w2v_gather",
        1,
        32,
        0,
        &[cf32(&table), cu32(&idx), mf32(&mut out), Arg::U32(2)],
    )
    .unwrap_err();
    assert!(
        err.contains("w2v_gather") && err.contains("expected 5") && err.contains("given 4"),
        "{err}"
    );
    let err = launch(
        "w2v_gather",
        1,
        32,
        0,
        &[
            cf32(&table),
            cu32(&idx),
            mf32(&mut out),
            Arg::U32(2),
            Arg::U64(2),
        ],
    )
    .unwrap_err();
    assert!(
        err.contains("argument 4") && err.contains("'u64'") && err.contains("'u32'"),
        "{err}"
    );
    let err = launch(
        "w2v_gather",
        1,
        32,
        0,
        &[
            mf32(&mut out),
            cu32(&idx),
            mf32(&mut out),
            Arg::U32(2),
            Arg::U32(2),
        ],
    )
    .unwrap_err();
    assert!(
        err.contains("argument 0") && err.contains("'const f32*'"),
        "{err}"
    );
    let err = launch("w2v_nope", 1, 32, 0, &[]).unwrap_err();
    assert!(err.contains("w2v_nope"), "{err}");
    let err = launch(
        "w2v_gather",
        1,
        2048,
        0,
        &[
            cf32(&table),
            cu32(&idx),
            mf32(&mut out),
            Arg::U32(2),
            Arg::U32(2),
        ],
    )
    .unwrap_err();
    assert!(err.contains("2048"), "{err}");
}
