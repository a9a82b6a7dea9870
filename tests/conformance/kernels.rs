//! The kernels of a CUDA device launched directly, with geometries the backend does not choose:
//! grid-stride loops with fewer threads than work, warps left with one item less, subsampling's
//! compaction under several grids, a fused step racing on twelve warps; and the argument checks,
//! on the host (every device) and in the emulator itself.

use w2v_gpu::backend::cuda::device::{Arg, LaunchConfig};
use w2v_gpu::backend::cuda::Device;
use w2v_gpu::train::plan::{ModelKind, SENTENCE_BREAK, SPAN_LEN};
use w2v_gpu::train::sampler::{self, AliasTable, NegativeMode};

use crate::common::devices::{conformance, KernelDevice, LaunchSpec, TestArg};
use crate::common::fixture::{assert_close, ids, uniform};
use crate::fused::{keep_table, skewed_corpus, two_spans, Case};

fn odd_geometry<T: KernelDevice>(dev: &T) {
    let g = dev.open();
    let d = g.device();
    let (n_h, per_row, dim) = (7usize, 6usize, 45usize);
    let h = uniform(7, n_h * dim, -1.0, 1.0);
    let rows = uniform(8, n_h * per_row * dim, -1.0, 1.0);
    let (hb, rb) = (d.upload(&h).unwrap(), d.upload(&rows).unwrap());
    let sizes = [n_h, per_row, dim].map(|x| Arg::U32(x as u32));
    // One warp per score, grid-stride: 2 blocks of 2 or 3 warps leave some warps with one score less.
    for block in [64, 96] {
        let mut out = d.upload(&vec![f32::NAN; n_h * per_row]).unwrap();
        let args = [
            hb.arg(),
            rb.arg(),
            out.arg_mut(),
            sizes[0],
            sizes[1],
            sizes[2],
        ];
        d.launch("w2v_batched_dot", LaunchConfig::linear(2, block, 0), &args)
            .unwrap();
        let want: Vec<f32> = (0..n_h * per_row)
            .map(|r| {
                let p = r / per_row;
                (0..dim)
                    .map(|k| h[p * dim + k] as f64 * rows[r * dim + k] as f64)
                    .sum::<f64>() as f32
            })
            .collect();
        assert_close("scores", &d.download(&out).unwrap(), &want, 1e-5, 1e-5);
    }
    let g_up = uniform(9, n_h * per_row, -1.0, 1.0);
    let gb = d.upload(&g_up).unwrap();
    let mut grad_h = d.upload(&vec![f32::NAN; n_h * dim]).unwrap();
    let mut grad_rows = d.upload(&vec![f32::NAN; n_h * per_row * dim]).unwrap();
    let args = [
        gb.arg(),
        hb.arg(),
        rb.arg(),
        grad_h.arg_mut(),
        grad_rows.arg_mut(),
        sizes[0],
        sizes[1],
        sizes[2],
    ];
    d.launch(
        "w2v_batched_dot_backward",
        LaunchConfig::linear(3, 32, 0),
        &args,
    )
    .unwrap();
    let mut want_h = vec![0.0f32; n_h * dim];
    let mut want_rows = vec![0.0f32; n_h * per_row * dim];
    for r in 0..n_h * per_row {
        let p = r / per_row;
        for k in 0..dim {
            want_h[p * dim + k] += g_up[r] * rows[r * dim + k];
            want_rows[r * dim + k] = g_up[r] * h[p * dim + k];
        }
    }
    assert_close("grad_h", &d.download(&grad_h).unwrap(), &want_h, 1e-5, 1e-5);
    assert_close(
        "grad_rows",
        &d.download(&grad_rows).unwrap(),
        &want_rows,
        0.0,
        0.0,
    );

    // Negatives for 300 centres from 128 threads.
    let counts: Vec<u64> = (1..=500u64).map(|r| 1_000_000 / r).collect();
    let table = AliasTable::unigram(&counts, 0.75);
    let (n, k, seed) = (300usize, 5usize, 3u64);
    let centres = ids(seed ^ 0x55, n, table.len() as u32);
    let positions: Vec<u64> = (0..n as u64)
        .map(|i| (i * 0x9E37_79B9_7F4A) ^ (i << 33))
        .collect();
    let (prob, alias) = (
        d.upload(&table.prob).unwrap(),
        d.upload(&table.alias).unwrap(),
    );
    let (cb, pb) = (d.upload(&centres).unwrap(), d.upload(&positions).unwrap());
    for mode in [NegativeMode::Replace, NegativeMode::Distinct] {
        let mut out = d.upload(&vec![u32::MAX; n * k]).unwrap();
        let args = [
            prob.arg(),
            alias.arg(),
            Arg::U32(table.len() as u32),
            cb.arg(),
            pb.arg(),
            Arg::U32(n as u32),
            Arg::U32(k as u32),
            Arg::U32((mode == NegativeMode::Distinct) as u32),
            Arg::U64(seed),
            out.arg_mut(),
        ];
        d.launch(
            "w2v_sample_negatives",
            LaunchConfig::linear(2, 64, 0),
            &args,
        )
        .unwrap();
        let got = d.download(&out).unwrap();
        let mut want = vec![0u32; k];
        for c in 0..n {
            sampler::negatives_for_centre(&table, seed, positions[c], centres[c], mode, &mut want);
            assert_eq!(&got[c * k..(c + 1) * k], &want[..], "centre {c} ({mode:?})");
        }
    }
}
conformance!(
    kernels_are_right_at_any_grid,
    odd_geometry,
    [emulated, cuda]
);

/// `w2v_subsample_compact` over the batch tokens; returns (kept ids, kept offsets, kept counts).
fn compact<D: Device>(
    d: &D,
    tokens: &[u32],
    keep: &[u32],
    seed: u64,
    key_first: u64,
    grid: (u32, u32),
) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let n_spans = tokens.len().div_ceil(SPAN_LEN);
    let mut ids = d.upload(&vec![0xAAAA_AAAAu32; n_spans * SPAN_LEN]).unwrap();
    let mut off = d.upload(&vec![0xAAAA_AAAAu32; n_spans * SPAN_LEN]).unwrap();
    let mut count = d.upload(&vec![u32::MAX; n_spans]).unwrap();
    let (tb, kb) = (d.upload(tokens).unwrap(), d.upload(keep).unwrap());
    let args = [
        tb.arg(),
        Arg::U32(tokens.len() as u32),
        Arg::U32(0),
        kb.arg(),
        Arg::U64(seed),
        Arg::U64(key_first),
        ids.arg_mut(),
        off.arg_mut(),
        count.arg_mut(),
    ];
    d.launch(
        "w2v_subsample_compact",
        LaunchConfig::linear(grid.0, grid.1, 0),
        &args,
    )
    .unwrap();
    let down = |b| d.download(b).unwrap();
    (down(&ids), down(&off), down(&count))
}

fn subsample_compact<T: KernelDevice>(dev: &T) {
    let g = dev.open();
    let vocab = 30;
    let corpus = skewed_corpus(3 * SPAN_LEN + 1000, vocab, 21);
    let keep = keep_table(vocab);
    let seed = 77u64;
    // The batch starts on the second span of the corpus in epoch 2.
    let batch = w2v_gpu::train::plan::Batch {
        start: SPAN_LEN,
        len: 2 * SPAN_LEN + 1000,
        epoch: 2,
        corpus_len: corpus.len() as u64,
        lr_begin: 0.0,
        lr_end: 0.0,
    };
    let tokens = &corpus[batch.start..batch.start + batch.len];
    let key_first = batch.key_pos(batch.start);
    for grid in [(3, 256), (1, 96), (2, 1024)] {
        let (kept_ids, kept_off, kept_count) =
            compact(g.device(), tokens, &keep, seed, key_first, grid);
        for (s, (a, e)) in batch.spans().enumerate() {
            let want: Vec<(u32, u32)> = (a..e)
                .filter(|&i| {
                    let w = corpus[i];
                    w == SENTENCE_BREAK || sampler::keep_token(&keep, seed, batch.key_pos(i), w)
                })
                .map(|i| (corpus[i], (i - batch.start) as u32))
                .collect();
            let n = kept_count[s] as usize;
            let got: Vec<(u32, u32)> = (0..n)
                .map(|j| (kept_ids[s * SPAN_LEN + j], kept_off[s * SPAN_LEN + j]))
                .collect();
            assert_eq!(got, want, "span {s}, grid {grid:?}");
            assert!(
                n < (e - a) / 2,
                "subsampling dropped little: {n} of {}",
                e - a
            );
        }
    }
}
conformance!(
    subsample_compact_keeps_what_the_plan_keeps,
    subsample_compact,
    [emulated, cuda]
);

fn many_warps<T: KernelDevice>(dev: &T) {
    let g = dev.open();
    let d = g.device();
    let case = Case {
        model: ModelKind::Skipgram,
        negatives: NegativeMode::Replace,
        fixed_window: false,
        negative: 5,
        dim: 32,
    };
    let (mut m, corpus, mut batch, cfg) = two_spans(&case);
    (batch.lr_begin, batch.lr_end) = (0.002, 0.0004);
    let tokens = &corpus[batch.start..batch.start + batch.len];
    let key_first = batch.key_pos(batch.start);
    let (kept_ids, kept_off, kept_count) =
        compact(d, tokens, &m.keep, cfg.seed, key_first, (2, 128));
    let (mut w_in, mut w_out) = (d.upload(&m.w_in).unwrap(), d.upload(&m.w_out).unwrap());
    let (ki, ko, kc) = (
        d.upload(&kept_ids).unwrap(),
        d.upload(&kept_off).unwrap(),
        d.upload(&kept_count).unwrap(),
    );
    let (prob, alias) = (
        d.upload(&m.alias.prob).unwrap(),
        d.upload(&m.alias.alias).unwrap(),
    );
    let mut loss = d.upload(&[0.0f64; 2]).unwrap();
    let warps = 4u32;
    let shared = warps * 2 * (1 + cfg.negative) * case.dim as u32 * 4;
    let kernel = w2v_gpu::backend::cuda::geometry::step_kernel(cfg.model, false, cfg.negative);
    let args = [
        w_in.arg_mut(),
        w_out.arg_mut(),
        Arg::U32(case.dim as u32),
        ki.arg(),
        ko.arg(),
        kc.arg(),
        Arg::U32(kept_count.len() as u32),
        prob.arg(),
        alias.arg(),
        Arg::U32(m.alias.len() as u32),
        Arg::U64(cfg.seed),
        Arg::U64(key_first),
        Arg::U32(batch.len as u32),
        Arg::F32(batch.lr_begin),
        Arg::F32(batch.lr_end),
        Arg::U32(cfg.window),
        Arg::U32(cfg.fixed_window as u32),
        Arg::U32(cfg.negative),
        Arg::U32((cfg.negatives == NegativeMode::Distinct) as u32),
        loss.arg_mut(),
    ];
    d.launch(kernel, LaunchConfig::linear(3, 32 * warps, shared), &args)
        .unwrap();
    let [loss, examples] = d.download(&loss).unwrap()[..] else {
        unreachable!("two accumulators")
    };
    let (r, r_in, r_out) = m.reference(&corpus, std::slice::from_ref(&batch), &cfg);
    assert_eq!(examples, r.examples as f64);
    // Twelve warps race (Hogwild): every update lands, computed from slightly stale rows, so with a
    // small rate the result agrees with the sequential order to first order only.
    assert!(
        (loss - r.loss_sum).abs() <= 0.01 * r.loss_sum,
        "loss {loss} vs reference {}",
        r.loss_sum
    );
    let max_abs = |v: &[f32]| v.iter().map(|x| x.abs()).fold(0.0f32, f32::max);
    let moved = max_abs(&r_in).max(max_abs(&r_out));
    let off = |got: Vec<f32>, w0: &mut Vec<f32>, dr: &[f32]| {
        let want: Vec<f32> = w0.iter().zip(dr).map(|(a, b)| a + b).collect();
        max_abs(
            &got.iter()
                .zip(&want)
                .map(|(a, b)| a - b)
                .collect::<Vec<_>>(),
        )
    };
    let off = off(d.download(&w_in).unwrap(), &mut m.w_in, &r_in).max(off(
        d.download(&w_out).unwrap(),
        &mut m.w_out,
        &r_out,
    ));
    assert!(
        off < 0.1 * moved,
        "Hogwild result is {off} from the sequential one, which moved {moved}"
    );
}
conformance!(
    fused_step_on_many_warps_counts_every_example,
    many_warps,
    [emulated, cuda]
);

fn host_checks<T: KernelDevice>(dev: &T) {
    let g = dev.open();
    let d = g.device();
    let table = d.upload(&[1.0f32; 8]).unwrap();
    let idx = d.upload(&[0u32, 1]).unwrap();
    let mut out = d.zeros::<f32>(8).unwrap();
    let cfg1 = LaunchConfig::linear(1, 32, 0);
    // Right call: succeeds.
    let args = [
        table.arg(),
        idx.arg(),
        out.arg_mut(),
        Arg::U32(2),
        Arg::U32(4),
    ];
    d.launch("w2v_gather", cfg1, &args).unwrap();
    // Wrong type (index buffer passed where the table goes).
    let args = [
        idx.arg(),
        idx.arg(),
        out.arg_mut(),
        Arg::U32(2),
        Arg::U32(4),
    ];
    let e = d.launch("w2v_gather", cfg1, &args).unwrap_err().to_string();
    assert!(
        e.contains("w2v_gather") && e.contains("argument 0") && e.contains("const f32*"),
        "{e}"
    );
    // Wrong count.
    let args = [table.arg(), idx.arg(), out.arg_mut(), Arg::U32(2)];
    let e = d.launch("w2v_gather", cfg1, &args).unwrap_err();
    assert!(e.to_string().contains("takes 5 arguments"), "{e}");
    // A scalar of the wrong width.
    let args = [
        table.arg(),
        idx.arg(),
        out.arg_mut(),
        Arg::U64(2),
        Arg::U32(4),
    ];
    let e = d.launch("w2v_gather", cfg1, &args).unwrap_err();
    assert!(e.to_string().contains("argument 3"), "{e}");
    assert!(d.launch("w2v_nonexistent", cfg1, &[]).is_err());
    // A test-only kernel is not in the production kernels the host knows.
    let e = d.launch("w2v_test_half_convert", cfg1, &[]).unwrap_err();
    assert!(e.to_string().contains("not in this build's kernels"), "{e}");
}
conformance!(
    launch_arguments_are_checked_on_the_host,
    host_checks,
    [emulated, cuda]
);

/// The emulator checks each launch on its side too, when the host-side check is bypassed: the
/// count, the type and width of each argument, the kernel's name and the block size.
#[cfg(feature = "emulator")]
#[test]
fn emulator_rejects_wrong_arguments_itself() {
    let dev = w2v_gpu::backend::cuda::EmulatedDevice::new();
    let table = dev.upload(&[0.0f32; 4]).unwrap();
    let idx = dev.upload(&[0u32, 1]).unwrap();
    let mut out = dev.zeros::<f32>(4).unwrap();
    let cfg1 = LaunchConfig::linear(1, 32, 0);
    let launch = |args: &[Arg], cfg: LaunchConfig, name: &str| {
        dev.launch_unchecked(name, "embedding", cfg, args)
            .unwrap_err()
            .to_string()
    };
    let out_arg = out.arg_mut();
    let e = launch(
        &[table.arg(), idx.arg(), out_arg, Arg::U32(2)],
        cfg1,
        "w2v_gather",
    );
    assert!(
        e.contains("w2v_gather") && e.contains("expected 5") && e.contains("given 4"),
        "{e}"
    );
    let args = [table.arg(), idx.arg(), out_arg, Arg::U32(2), Arg::U64(2)];
    let e = launch(&args, cfg1, "w2v_gather");
    assert!(
        e.contains("argument 4") && e.contains("'u64'") && e.contains("'u32'"),
        "{e}"
    );
    let args = [out_arg, idx.arg(), out_arg, Arg::U32(2), Arg::U32(2)];
    let e = launch(&args, cfg1, "w2v_gather");
    assert!(
        e.contains("argument 0") && e.contains("'const f32*'"),
        "{e}"
    );
    let e = launch(
        &[idx.arg(), idx.arg(), out_arg, Arg::U32(2), Arg::U32(4)],
        cfg1,
        "w2v_gather",
    );
    assert!(e.contains("w2v_gather"), "{e}");
    let e = launch(&[], cfg1, "w2v_nope");
    assert!(e.contains("w2v_nope"), "{e}");
    let args = [table.arg(), idx.arg(), out_arg, Arg::U32(2), Arg::U32(2)];
    let e = launch(&args, LaunchConfig::linear(1, 2048, 0), "w2v_gather");
    assert!(e.contains("2048"), "{e}");
}

/// The emulator's traffic counters (the traffic model's inputs) on known patterns: a warp
/// instruction's sectors are the distinct 32-byte sectors its lanes' addresses touch, and lanes
/// predicated off neither split an instruction nor add sectors.
#[cfg(feature = "emulator")]
#[test]
fn emulator_counts_sectors_from_the_lanes_addresses() {
    use w2v_gpu::backend::cuda::traffic;
    let dev = w2v_gpu::backend::cuda::EmulatedDevice::new();
    let mut x = dev.zeros::<f32>(32 * 64).unwrap();
    let reps = 3u64;
    let warps = 2u64;
    // (pattern, sectors per warp instruction, bytes per warp instruction, atomic)
    let cases = [
        (0, 4, 128, false),
        (1, 32, 128, false),
        (2, 1, 128, false),
        (3, 4, 128, true),
        (4, 32, 128, true),
        (5, 2, 64, false),
        (6, 16, 512, false),
    ];
    // Counting is process-wide; only this test launches w2v_test_traffic, so its row is ours.
    for (pattern, sectors, bytes, atomic) in cases {
        traffic::set_counting(true);
        let r = dev.launch_unchecked(
            "w2v_test_traffic",
            "traffic",
            LaunchConfig::linear(1, 32 * warps as u32, 0),
            &[x.arg_mut(), Arg::U32(pattern), Arg::U32(reps as u32)],
        );
        traffic::set_counting(false);
        r.unwrap();
        let rows = traffic::snapshot();
        let t = rows
            .iter()
            .find(|(k, _)| k == "w2v_test_traffic")
            .map(|(_, t)| *t)
            .expect("counted");
        traffic::reset();
        let a = if atomic { t.atomics } else { t.loads };
        let what = format!("pattern {pattern}: {t:?}");
        assert_eq!(a.instructions, reps * warps, "{what}");
        assert_eq!(a.sectors, sectors * reps * warps, "{what}");
        assert_eq!(a.bytes, bytes * reps * warps, "{what}");
        assert_eq!(t.instructions(), reps * warps, "{what}: nothing else");
        assert_eq!(t.launches, 1, "{what}");
        if atomic {
            assert_eq!(t.atomic_lane_ops, 32 * reps * warps, "{what}");
        }
    }
}

/// The float-atomics probe kernel (benches/atomics_probe.rs times it on a GPU) loses no update in
/// any pattern, the same-address ones included.
fn atomic_probe_adds_everything<T: KernelDevice>(dev: &T) {
    let (blocks, threads, reps) = (3u32, 64u32, 5u32);
    for pattern in 0..6u32 {
        let mut x = vec![0.0f32; 1024];
        dev.launch_test_kernel(
            "w2v_test_atomic_probe",
            LaunchSpec { blocks, threads },
            &mut [
                TestArg::F32Mut(&mut x),
                TestArg::Scalar(1024),
                TestArg::Scalar(pattern),
                TestArg::Scalar(reps),
            ],
        );
        let width = if pattern >= 3 { 4.0 } else { 1.0 };
        let want = (blocks * threads * reps) as f64 * width;
        let sum: f64 = x.iter().map(|&v| v as f64).sum();
        assert_eq!(sum, want, "pattern {pattern}");
    }
}
conformance!(
    atomic_probe_loses_no_update,
    atomic_probe_adds_everything,
    [emulated, cuda]
);
