//! `--storage f16` and `bf16` on the CUDA devices: the `_f16` and `_bf16` fused steps against the
//! reference step from weights the storage represents exactly, the device memory they take, the
//! paths that refuse 16-bit storage; and common.cuh's half and bfloat16 helpers (the test-only
//! kernels/test/half.cu) against the `half` crate bit for bit.

use half::{bf16, f16};
use w2v_gpu::backend::cpu::CpuBackend;
use w2v_gpu::backend::Storage;
use w2v_gpu::train::plan::{ModelKind, SPAN_LEN};
use w2v_gpu::train::rng::{draw, PURPOSE_INIT};
use w2v_gpu::train::sampler::NegativeMode;

use crate::common::devices::{conformance, KernelDevice, LaunchSpec, TestArg};
use crate::common::fixture::{batch, rel_err, step_cfg, weight_bytes, Model, Step};

/// Each weight rounded to the nearest value of a 16-bit `storage`.
fn round_to(storage: Storage, w: &[f32]) -> Vec<f32> {
    match storage {
        Storage::F16 => w.iter().map(|&x| f16::from_f32(x).to_f32()).collect(),
        Storage::Bf16 => w.iter().map(|&x| bf16::from_f32(x).to_f32()).collect(),
        Storage::F32 => w.to_vec(),
    }
}

fn widen(w: &[f32]) -> Vec<f32> {
    round_to(Storage::F16, w)
}

/// The `_f16` steps (serial, one batch): their updates differ from the reference by the rounding
/// of each stored update, far more than the f32 steps' do, and every stored weight is a half.
fn f16_steps<T: KernelDevice>(dev: &T) {
    sixteen_bit_steps(dev, Storage::F16, 2e-2, 1e-3);
    f16_footprint_and_refusals(dev);
}

/// The `_bf16` steps likewise, with bfloat16's 8 significant bits (f16 has 11). An update below
/// half an ulp of its weight rounds away entirely, 2³ times as often as in f16, so the updates
/// drift further than 2³ times f16's (measured on the emulator: skip-gram 3-6 %, CBOW 12-21 %, f16
/// 0.2-1 %); the loss stays within 8e-3 (measured ≤ 6.3e-3).
fn bf16_steps<T: KernelDevice>(dev: &T) {
    sixteen_bit_steps(dev, Storage::Bf16, 3e-1, 8e-3);
}
conformance!(
    bf16_storage_steps_match_the_reference_to_bfloat16_precision,
    bf16_steps,
    [emulated, cuda]
);

/// A 16-bit storage's steps against the reference from weights it holds exactly: the same
/// examples, the loss within `loss_tol` and the updates within `tol` (relative, in norm) and
/// less exact than f32's,
/// and every stored weight a value of the storage. At dim 24 the v2 steps take the vector layout
/// where the device has vector atomics (the emulator, sm_90: four values a lane an access), at
/// dim 22 the pair layout (two values a lane an access) that sm_80 takes at every dim.
fn sixteen_bit_steps<T: KernelDevice>(dev: &T, storage: Storage, tol: f64, loss_tol: f64) {
    for dim in [24, 22] {
        sixteen_bit_steps_at(dev, storage, dim, tol, loss_tol);
    }
}

fn sixteen_bit_steps_at<T: KernelDevice>(
    dev: &T,
    storage: Storage,
    dim: usize,
    tol: f64,
    loss_tol: f64,
) {
    let serial = dev.serial();
    let mut m = Model::zipf(400, dim);
    m.w_in = round_to(storage, &m.w_in);
    m.w_out = round_to(storage, &m.w_out);
    let tokens = m.corpus(3 * SPAN_LEN + 1000);
    let bt = [batch(100, tokens.len() - 200, tokens.len(), 0.025)];
    for model in [ModelKind::Skipgram, ModelKind::Cbow] {
        for mode in [NegativeMode::Replace, NegativeMode::Distinct] {
            let cfg = step_cfg(model, mode, 2024);
            let what = format!("{model:?} {mode:?} dim {dim}");
            let (r, ri, ro) = m.reference(&tokens, &bt, &cfg);
            let (fs, fi, fo) = m.run(&serial, &tokens, &bt, &cfg, Step::Fast);
            assert_eq!(
                fs.examples, r.examples,
                "{what}: examples, f32 vs reference"
            );
            let sgd = w2v_gpu::backend::OptimizerKind::Sgd;
            let (ks, ki, ko) = m.run_with(&serial, &tokens, &bt, &cfg, Step::Fast, storage, sgd);
            assert_eq!(
                ks.examples, r.examples,
                "{what}: examples, {storage:?} vs reference"
            );
            assert!(ks.examples > 0);
            let loss_rel = (ks.loss_sum - r.loss_sum).abs() / r.loss_sum;
            eprintln!("{what}: {storage:?} loss vs reference {loss_rel:.2e}");
            assert!(
                loss_rel < loss_tol,
                "{what}: {storage:?} loss {} vs {}",
                ks.loss_sum,
                r.loss_sum
            );
            for (name, k, f, h, w0) in [
                ("w_in", &ki, &fi, &ri, &m.w_in),
                ("w_out", &ko, &fo, &ro, &m.w_out),
            ] {
                let (e32, e16) = (rel_err(f, h), rel_err(k, h));
                eprintln!(
                    "{what} {name}: update vs reference, f32 storage {e32:.2e}, {storage:?} {e16:.2e}"
                );
                assert!(e32 < 1e-4, "{what}: f32 {name} differs by {e32:.2e}");
                assert!(
                    e16 < tol,
                    "{what}: {storage:?} {name} update differs by {e16:.2e}"
                );
                // The 16-bit path really ran: every stored weight is a value of the storage, and
                // it is not the f32 run.
                let after: Vec<f32> = k.iter().zip(w0).map(|(d, w)| d + w).collect();
                assert_eq!(
                    after,
                    round_to(storage, &after),
                    "{what}: {name} holds values {storage:?} does not"
                );
                assert!(
                    e16 > 10.0 * e32,
                    "{what}: {storage:?} {name} update is as exact as f32's"
                );
            }
        }
    }
}

/// f16 weights take half the device bytes and come back as they went in; only the fused step
/// trains them.
fn f16_footprint_and_refusals<T: KernelDevice>(dev: &T) {
    let serial = dev.serial();
    let mut m = Model::zipf(400, 24);
    m.w_in = widen(&m.w_in);
    m.w_out = widen(&m.w_out);
    // On the device the matrices take half the bytes (the f32 buffers are left empty), and they
    // come back as they went in.
    let st32 = m.state(&serial);
    let sgd = w2v_gpu::backend::OptimizerKind::Sgd;
    let st16 = m.state_with(&serial, Storage::F16, sgd);
    assert_eq!(st16.model.storage(), Storage::F16);
    assert_eq!(weight_bytes(&st32), 2 * 400 * 24 * 4);
    assert_eq!(weight_bytes(&st16), weight_bytes(&st32) / 2);
    assert_eq!(
        st16.model.download(&serial).unwrap(),
        (m.w_in.clone(), m.w_out.clone())
    );
    // Only the fused step trains half storage: composing it, or the CPU, is refused up front.
    use w2v_gpu::backend::{choose_step, Backend, Step as Decided};
    use w2v_gpu::train::{StepKind, TrainConfig};
    let f16 = TrainConfig {
        storage: Storage::F16,
        ..TrainConfig::default()
    };
    let caps = serial.capabilities();
    assert_eq!(
        choose_step(&serial.name(), &caps, &f16).unwrap(),
        Decided::Fused
    );
    let composed = TrainConfig {
        step: StepKind::Composed,
        ..f16.clone()
    };
    let cpu = CpuBackend::new(1);
    for (name, caps, cfg) in [
        (serial.name(), caps.clone(), composed),
        (cpu.name(), cpu.capabilities(), f16),
    ] {
        let err = choose_step(&name, &caps, &cfg).unwrap_err();
        assert!(err.to_string().contains("--storage f16"), "{err}");
    }
}
conformance!(
    f16_storage_steps_match_the_reference_to_half_precision,
    f16_steps,
    [emulated, emulated_v1, cuda]
);

/// Conversions of special values, both rounding boundaries, every half and the ties between
/// neighbours, and random floats; then the compare-and-swap atomic add into neighbouring halves
/// from many threads.
fn half_helpers<T: KernelDevice>(dev: &T) {
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
        let v = f16::from_bits(b).to_f32();
        x.push(v);
        let next = f16::from_bits(b.wrapping_add(1)).to_f32();
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
    let (mut h, mut back) = (vec![f16::ZERO; n], vec![0.0f32; n]);
    let grid = LaunchSpec {
        blocks: 64,
        threads: 256,
    };
    let mut args = [
        TestArg::F32(&x),
        TestArg::F16Mut(&mut h),
        TestArg::F32Mut(&mut back),
        TestArg::Scalar(n as u32),
    ];
    dev.launch_test_kernel("w2v_test_half_convert", grid, &mut args);
    for i in 0..n {
        let want = f16::from_f32(x[i]);
        let at = format!("f32 {:e} ({:#010x}) → f16", x[i], x[i].to_bits());
        assert_eq!(h[i].to_bits(), want.to_bits(), "{at}");
        let wb = f16::from_bits(h[i].to_bits()).to_f32();
        assert_eq!(
            back[i].to_bits(),
            wb.to_bits(),
            "f16 {:#06x} → f32",
            h[i].to_bits()
        );
    }

    // 64 neighbouring halves (32 words), each added to from 50 threads spread over the grid.
    let slots = 64usize;
    let idx: Vec<u32> = (0..slots as u32 * 50)
        .map(|i| (i * 7) % slots as u32)
        .collect();
    let v: Vec<f32> = idx.iter().map(|&i| 0.5 * (1 + i % 4) as f32).collect();
    let mut h: Vec<f16> = (0..slots).map(|i| f16::from_f32(i as f32)).collect();
    let grid = LaunchSpec {
        blocks: 16,
        threads: 64,
    };
    let mut args = [
        TestArg::F16Mut(&mut h),
        TestArg::U32(&idx),
        TestArg::F32(&v),
        TestArg::Scalar(idx.len() as u32),
    ];
    dev.launch_test_kernel("w2v_test_half_atomic_add", grid, &mut args);
    for (i, h) in h.iter().enumerate() {
        let want = i as f32 + 50.0 * 0.5 * (1 + i % 4) as f32;
        assert_eq!(h.to_f32(), want, "half {i} after 50 concurrent adds");
    }
}
conformance!(
    half_conversions_and_atomic_add_match_the_half_crate,
    half_helpers,
    [emulated, cuda]
);

/// common.cuh's bfloat16 helpers against the `half` crate: every bfloat16, the ties between
/// neighbours, special values and random floats converted; then the packed pair add from many
/// threads (each update rounded, then the sum), which must lose no update in either half.
fn bf16_helpers<T: KernelDevice>(dev: &T) {
    let mut x: Vec<f32> = vec![
        0.0,
        -0.0,
        1.0,
        f32::MAX,
        f32::MIN_POSITIVE,
        1e-45,
        f32::INFINITY,
    ];
    x.push(f32::NEG_INFINITY);
    for b in 0..=u16::MAX {
        let v = bf16::from_bits(b).to_f32();
        x.push(v);
        if v.is_finite() {
            // The tie with the next bfloat16 up in magnitude, and either side of it.
            let mid = f32::from_bits(v.to_bits() + 0x8000);
            x.extend([
                mid,
                f32::from_bits(mid.to_bits() + 1),
                f32::from_bits(mid.to_bits() - 1),
            ]);
        }
    }
    x.extend((0..100_000u64).map(|i| f32::from_bits(draw(6, i, PURPOSE_INIT, 0)[0])));
    let n = x.len();
    let (mut b, mut back) = (vec![bf16::ZERO; n], vec![0.0f32; n]);
    let grid = LaunchSpec {
        blocks: 64,
        threads: 256,
    };
    let mut args = [
        TestArg::F32(&x),
        TestArg::Bf16Mut(&mut b),
        TestArg::F32Mut(&mut back),
        TestArg::Scalar(n as u32),
    ];
    dev.launch_test_kernel("w2v_test_bf16_convert", grid, &mut args);
    for i in 0..n {
        let want = bf16::from_f32(x[i]);
        let at = format!("f32 {:e} ({:#010x}) → bf16", x[i], x[i].to_bits());
        if x[i].is_nan() {
            // NaN payloads are the hardware's to choose; a NaN must stay one.
            assert!(b[i].is_nan(), "{at}");
            continue;
        }
        assert_eq!(b[i].to_bits(), want.to_bits(), "{at}");
        assert_eq!(
            back[i].to_bits(),
            want.to_f32().to_bits(),
            "bf16 → f32 of {at}"
        );
    }

    // 32 pairs, each added (+v, −v) from 50 threads spread over the grid; every value and sum is
    // a small multiple of 1/2, exact in bfloat16, so no rounding hides a lost update.
    let pairs = 32u32;
    let idx: Vec<u32> = (0..pairs * 50).map(|i| (i * 7) % pairs).collect();
    let v: Vec<f32> = idx.iter().map(|&i| 0.5 * (1 + i % 4) as f32).collect();
    let mut b: Vec<bf16> = (0..2 * pairs)
        .map(|i| bf16::from_f32((i / 2) as f32))
        .collect();
    let grid = LaunchSpec {
        blocks: 16,
        threads: 64,
    };
    let mut args = [
        TestArg::Bf16Mut(&mut b),
        TestArg::U32(&idx),
        TestArg::F32(&v),
        TestArg::Scalar(idx.len() as u32),
    ];
    dev.launch_test_kernel("w2v_test_bf16_pair_add", grid, &mut args);
    for p in 0..pairs as usize {
        let add = 50.0 * 0.5 * (1 + p % 4) as f32;
        assert_eq!(b[2 * p].to_f32(), p as f32 + add, "pair {p}, first half");
        assert_eq!(
            b[2 * p + 1].to_f32(),
            p as f32 - add,
            "pair {p}, second half"
        );
    }
}
conformance!(
    bf16_conversions_and_pair_add_match_the_half_crate,
    bf16_helpers,
    [emulated, cuda]
);
