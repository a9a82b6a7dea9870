//! Chunks change nothing: training a batch through a device chunk smaller than it (the CUDA
//! backend's resident corpus) gives the same weights bit for bit as with the whole corpus
//! resident, and a whole run over a corpus read a host chunk at a time (the training session's
//! windows, as from a cache file) gives the same vectors as the run over the corpus in memory,
//! with one worker (one CPU thread, one warp). With the default concurrent launches a chunked run
//! agrees to first order.

use w2v_gpu::backend::Backend;
use w2v_gpu::input::cache::{CacheFile, CacheWriter};
use w2v_gpu::input::corpus::Encoded;
use w2v_gpu::input::vocab::Vocab;
#[cfg(any(feature = "emulator", feature = "cuda"))]
use w2v_gpu::train::plan::Batch;
use w2v_gpu::train::plan::{ModelKind, SPAN_LEN};
use w2v_gpu::train::sampler::NegativeMode;
use w2v_gpu::train::session::CorpusIds;
use w2v_gpu::train::TrainConfig;

#[cfg(any(feature = "emulator", feature = "cuda"))]
use crate::common::devices::KernelDevice;
use crate::common::devices::{conformance, TestDevice};
use crate::common::fixture::rel_err;
#[cfg(any(feature = "emulator", feature = "cuda"))]
use crate::common::fixture::{batch, step_cfg, Model, Step};

/// Asserts `got` and `want` are equal bit for bit, naming how many elements differ and the first.
fn same_bits(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let differ: Vec<usize> = (0..got.len())
        .filter(|&i| got[i].to_bits() != want[i].to_bits())
        .collect();
    if let Some(&i) = differ.first() {
        panic!(
            "{what}: {} of {} elements differ, first [{i}]: {} vs {} (rel. error {:.2e})",
            differ.len(),
            got.len(),
            got[i],
            want[i],
            rel_err(got, want)
        );
    }
}

#[cfg(any(feature = "emulator", feature = "cuda"))]
fn device_chunk<T: KernelDevice>(dev: &T) {
    let m = Model::zipf(400, 16);
    let tokens = m.corpus(5 * SPAN_LEN + 777);
    let n = tokens.len();
    // Distinct negatives: with replacement a centre's targets may repeat, and the order in which a
    // warp's lanes add to one row is the device's, which may differ between one launch and two.
    let c = step_cfg(ModelKind::Skipgram, NegativeMode::Distinct, 2024);
    // Serial launches, so that only the chunk scheduling differs between the runs.
    let whole = dev.with_chunk(8 * SPAN_LEN).serial();
    let small = dev.with_chunk(2 * SPAN_LEN).serial();
    // Batches do not depend on the chunk.
    assert_eq!(
        small.preferred_batch_tokens(),
        whole.preferred_batch_tokens()
    );
    // The trainer's way (batches of whole spans), and one batch larger than the chunk, cut into
    // pieces at chunk edges that train with the batch's ramp.
    let spans: Vec<Batch> = (0..n)
        .step_by(3 * SPAN_LEN)
        .map(|a| batch(a, (3 * SPAN_LEN).min(n - a), n, 0.02))
        .collect();
    for (what, batches) in [
        ("3-span batches", spans),
        ("one batch", vec![batch(0, n, n, 0.02)]),
    ] {
        let (ws, wi, wo) = m.run(&whole, &tokens, &batches, &c, Step::Fast);
        let (ss, si, so) = m.run(&small, &tokens, &batches, &c, Step::Fast);
        assert!(ws.examples > 0);
        assert_eq!(ws.examples, ss.examples, "{what}");
        same_bits(&format!("{what}: chunked W_in"), &si, &wi);
        same_bits(&format!("{what}: chunked W_out"), &so, &wo);
        // The loss is summed once per launch, so only its rounding may differ.
        assert!(
            (ss.loss_sum - ws.loss_sum).abs() <= 1e-9 * ws.loss_sum,
            "{what}"
        );
    }
    // The default (concurrent) launches, chunked: the same examples, and at a small rate, where
    // Hogwild's interleaving only matters at second order, updates near the serial run's.
    let slow: Vec<Batch> = (0..n)
        .step_by(2 * SPAN_LEN)
        .map(|a| Batch {
            lr_begin: 1e-4,
            lr_end: 5e-5,
            ..batch(a, (2 * SPAN_LEN).min(n - a), n, 0.0)
        })
        .collect();
    let concurrent = dev.with_chunk(2 * SPAN_LEN);
    let (cs, ci, co) = m.run(&concurrent, &tokens, &slow, &c, Step::Fast);
    let (ts, ti, to) = m.run(&whole, &tokens, &slow, &c, Step::Fast);
    assert_eq!(cs.examples, ts.examples);
    let (ei, eo) = (rel_err(&ci, &ti), rel_err(&co, &to));
    assert!(
        ei < 1e-2 && eo < 1e-2,
        "concurrent chunked run vs serial: {ei:.2e} {eo:.2e}"
    );
}
#[cfg(any(feature = "emulator", feature = "cuda"))]
conformance!(
    a_device_chunk_changes_no_bit,
    device_chunk,
    [emulated, cuda]
);

/// `enc` written to a cache file in `dir` and opened to be read `window` tokens at a time.
fn cache_file(dir: &std::path::Path, enc: &Encoded, vocab: &Vocab, window: usize) -> CacheFile {
    let path = dir.join("corpus.w2v-ids");
    let mut w = CacheWriter::create(&path, 1).unwrap();
    for &t in &enc.tokens {
        w.push(t).unwrap();
    }
    w.finish(vocab, enc.raw_words).unwrap();
    CacheFile::open(&path, 1, window).unwrap()
}

/// Whole runs (2 epochs, one worker) with the corpus in memory and read from a cache file in host
/// chunks of a quarter of it (and, on a CUDA device, through a device chunk of 2 spans): the same vectors.
fn host_chunks<T: TestDevice>(dev: &T, chunked_device: Option<T::B>) {
    let (vocab, enc, _) = crate::common::corpus(5, 80);
    let n = enc.tokens.len();
    assert!(
        n > 8 * SPAN_LEN,
        "{n} tokens: too few for chunks of several batches"
    );
    let cfg = TrainConfig {
        epochs: 2,
        // Distinct negatives, as in `device_chunk`, for the run through a small device chunk.
        negatives: NegativeMode::Distinct,
        ..crate::common::config(ModelKind::Skipgram, 0.025)
    };
    let b = dev.serial();
    let step = w2v_gpu::backend::choose_step(&b.name(), &b.capabilities(), &cfg).unwrap();
    let run = |b: &T::B, corpus: &dyn CorpusIds| {
        let mut hooks = w2v_gpu::train::NoHooks;
        w2v_gpu::train::train(b, corpus, &vocab, &cfg, step, None, &mut hooks).unwrap()
    };
    let memory = run(&b, &enc);
    let dir = tempfile::tempdir().unwrap();
    let file = cache_file(dir.path(), &enc, &vocab, n / 4);
    assert!(file.in_memory().is_none() && file.chunk_tokens() < n);
    let windowed = run(&b, &file);
    assert_eq!(windowed.words, memory.words);
    assert_eq!(windowed.epochs.len(), 2);
    same_bits("host chunks changed W_in", &windowed.w_in, &memory.w_in);
    same_bits("host chunks changed W_out", &windowed.w_out, &memory.w_out);
    if let Some(small) = chunked_device {
        let both = run(&small, &file);
        same_bits("device chunks changed W_in", &both.w_in, &memory.w_in);
        same_bits("device chunks changed W_out", &both.w_out, &memory.w_out);
    }
}

fn host_chunks_any<T: TestDevice>(dev: &T) {
    host_chunks(dev, None);
}
conformance!(host_chunks_change_no_bit, host_chunks_any, [cpu]);

#[cfg(any(feature = "emulator", feature = "cuda"))]
fn host_and_device_chunks<T: KernelDevice>(dev: &T) {
    host_chunks(dev, Some(dev.with_chunk(2 * SPAN_LEN).serial()));
}
#[cfg(any(feature = "emulator", feature = "cuda"))]
conformance!(
    host_and_device_chunks_change_no_bit,
    host_and_device_chunks,
    [emulated, cuda]
);
