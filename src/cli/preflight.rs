//! What `train` checks before any long work, so that a run that cannot finish does not start:
//! every output path (writable, a regular file, not one of the inputs or another output), the
//! formats (a plot .svg or .png, drawn in-process), the words the vectors file can hold, and whether the
//! model fits in host and device memory.

use std::path::{Path, PathBuf};

use super::device::Opened;
use super::{FlagContext, TrainArgs};
use crate::backend::{OptimizerKind, Step};
use crate::input::identity::absolute;
use crate::input::source::Source;
use crate::output::fsutil;
use crate::output::plot::check_plot;
use crate::output::vectors::VectorFormat;
use crate::train::RunConfig;

/// A file the run writes: the flag that names it, and where.
pub(super) struct Output {
    pub flag: &'static str,
    pub path: PathBuf,
}

/// Checks every output `a` names for the run `cfg` (settings final: after `--resume`), against
/// each other and against every input, by device and inode rather than by name. The checkpoint
/// `--resume` reads may also be the one `--checkpoint` writes.
pub(super) fn check_outputs(a: &TrainArgs, cfg: &RunConfig) -> anyhow::Result<()> {
    let mut outputs = Vec::new();
    if let Some(p) = &a.output {
        VectorFormat::for_path(p, a.output_format)?;
        outputs.push(Output {
            flag: "--output",
            path: p.clone(),
        });
    }
    if let Some(p) = &a.plot {
        check_plot(p)?;
        outputs.push(Output {
            flag: "--plot",
            path: p.clone(),
        });
    }
    if let Some(p) = &a.metrics {
        outputs.push(Output {
            flag: "--metrics",
            path: p.clone(),
        });
    }
    if let Some(p) = &a.checkpoint {
        let mut seen = Vec::new();
        for epoch in 0..=cfg.train.epochs as u64 {
            let path = super::train::checkpoint_path(p, epoch);
            if !seen.contains(&path) {
                seen.push(path.clone());
                outputs.push(Output {
                    flag: "--checkpoint",
                    path,
                });
            }
        }
    }
    if let Some(p) = &cfg.corpus.save_vocab {
        outputs.push(Output {
            flag: "--save-vocab",
            path: p.clone(),
        });
    }
    for o in &outputs {
        fsutil::check_writable(&o.path).flag(o.flag)?;
    }
    let mut inputs: Vec<(&str, &Path)> = Vec::new();
    for p in &cfg.corpus.paths {
        inputs.push(("--corpus", p));
    }
    if let Some(p) = &cfg.corpus.read_vocab {
        inputs.push(("--read-vocab", p));
    }
    if let Some(p) = &a.eval_analogies {
        inputs.push(("--eval-analogies", p));
    }
    for p in &a.eval_similarity {
        inputs.push(("--eval-similarity", p));
    }
    for o in &outputs {
        for (flag, input) in &inputs {
            if same_file(&o.path, input) {
                anyhow::bail!(
                    "{} '{}' is the same file as {flag} '{}': writing it would destroy that input; \
                     choose another {} path",
                    o.flag,
                    o.path.display(),
                    input.display(),
                    o.flag
                );
            }
        }
        if let Some(r) = &a.resume {
            if o.flag != "--checkpoint" && same_file(&o.path, r) {
                anyhow::bail!(
                    "{} '{}' is the checkpoint --resume reads: writing it would destroy that \
                     checkpoint; choose another {} path",
                    o.flag,
                    o.path.display(),
                    o.flag
                );
            }
        }
    }
    for (i, x) in outputs.iter().enumerate() {
        if let Some(y) = outputs[i + 1..]
            .iter()
            .find(|y| same_output(&x.path, &y.path))
        {
            anyhow::bail!(
                "{} and {} both name '{}': one would overwrite the other; give them different paths",
                x.flag,
                y.flag,
                y.path.display()
            );
        }
    }
    Ok(())
}

/// The corpus `paths` name (`None`: the built-in one), resolved once for a run, which refuses
/// one that cannot be read before any work: a missing input, a directory without files, a device
/// or socket (`/dev/zero` would be read until memory runs out), `-` twice ([`Source::resolve`]);
/// pipes and stdin are not read here. `flag` names the paths in an error.
pub(super) fn resolve_corpus(paths: &[PathBuf], flag: &str) -> anyhow::Result<Option<Source>> {
    match paths.is_empty() {
        true => Ok(None),
        false => Source::resolve(paths).map(Some).flag(flag),
    }
}

/// Whether `a` and `b` are one existing file (same device and inode; links followed).
pub(super) fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => file_id(&x) == file_id(&y),
        _ => false,
    }
}

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// Whether two outputs are one file: the same existing file, or (not there yet) the same
/// absolute path once symlinks are followed.
fn same_output(a: &Path, b: &Path) -> bool {
    let resolved = |p: &Path| fsutil::writable_target(p).map(|t| absolute(&t)).ok();
    same_file(a, b) || (resolved(a).is_some() && resolved(a) == resolved(b))
}

/// Bytes as `1.5 GiB`.
fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Host memory available to this process (`MemAvailable` in `/proc/meminfo`; Linux only).
fn host_available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Refuses, right after the vocabulary is counted and before the model is allocated, a run whose
/// model does not fit in host memory (or, on a CUDA device, in its free memory).
/// `snapshots`: the weights are downloaded after each epoch (evaluation or checkpoints).
pub(super) fn check_memory(
    opened: &Opened,
    cfg: &RunConfig,
    vocab: usize,
    snapshots: bool,
    checkpoint: bool,
) -> anyhow::Result<()> {
    let t = &cfg.train;
    let matrix = (vocab as u64)
        .saturating_mul(t.dim as u64)
        .saturating_mul(4);
    let adam = t.optimizer == OptimizerKind::Adam;
    let composed = opened.step == Step::Composed;
    let on_cpu = matches!(opened.backend, super::device::Chosen::Cpu(_));
    // In matrices of vocab × dim f32: the host's initial weights (later the final download);
    // on the CPU the model itself, Adam's moments and the composed path's gradients; a
    // snapshot's download; a checkpoint's tensors and the serialised file.
    let mut matrices: u64 = 2;
    if on_cpu {
        matrices += 2 + if adam { 4 } else { 0 } + if composed || adam { 2 } else { 0 };
    }
    if snapshots {
        matrices += 2 + if adam { 4 } else { 0 };
    }
    if checkpoint {
        matrices += 2 * (2 + if adam { 4 } else { 0 });
    }
    let need = matrix.saturating_mul(matrices);
    let shape = format!("{vocab} words × dim {}", t.dim);
    let fix = "lower --dim or --max-vocab, or raise --min-count";
    if let Some(free) = host_available() {
        if need > free {
            anyhow::bail!(
                "the model needs about {} of memory ({shape}) but {} is available; {fix}",
                gib(need),
                gib(free)
            );
        }
    }
    device_check(opened, cfg, vocab, composed, &shape, fix)
}

#[cfg(any(feature = "cuda", feature = "emulator"))]
fn device_check(
    opened: &Opened,
    cfg: &RunConfig,
    vocab: usize,
    composed: bool,
    shape: &str,
    fix: &str,
) -> anyhow::Result<()> {
    use super::device::with_backend;
    use crate::backend::cuda::{Device as _, Footprint};
    use crate::backend::Backend;
    let t = &cfg.train;
    let free = match &opened.backend {
        super::device::Chosen::Cpu(_) => return Ok(()),
        #[cfg(feature = "cuda")]
        super::device::Chosen::Cuda(b) => b.device().free_memory().ok(),
        #[cfg(feature = "emulator")]
        super::device::Chosen::Emulated(b) => b.device().free_memory().ok(),
    };
    let need = Footprint::of(vocab, t.dim, t.optimizer, composed, t.storage).total();
    match free {
        Some(free) if need > free => anyhow::bail!(
            "the model needs {} of device memory on {} ({shape}) but {} is free; {fix}, or use \
             --device cpu",
            gib(need),
            with_backend!(opened.backend, |b| b.name()),
            gib(free)
        ),
        _ => Ok(()),
    }
}

#[cfg(not(any(feature = "cuda", feature = "emulator")))]
fn device_check(
    _: &Opened,
    _: &RunConfig,
    _: usize,
    _: bool,
    _: &str,
    _: &str,
) -> anyhow::Result<()> {
    Ok(())
}
