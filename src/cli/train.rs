//! `train`: read the corpus, train on the chosen device, evaluate and checkpoint each epoch, then
//! report and save.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::device::{self, with_backend};
use super::ranks::{ranks_line, Ending, Gate};
use super::run_hooks::RunHooks;
use super::{carry, preflight, resume, signals, FlagContext};
use crate::cli::{CacheArgs, TrainArgs};
use crate::error::Result;
use crate::input::corpus::Source;
use crate::input::identity;
use crate::input::synthetic;
use crate::input::vocab::{read_vocab, write_vocab, Vocab};
use crate::output::fsutil;
use crate::output::metrics::MetricsWriter;
use crate::output::plot::write_loss_plot;
use crate::output::vectors::{check_words, write_vectors, Embeddings, VectorFormat};
use crate::query::eval::{self, AnalogySection};
use crate::query::similarity::Index;
use crate::query::wordsim;
use crate::train::progress::{self, thousands, Progress, Verbosity};
use crate::train::session::{Corpus, CorpusIds};
use crate::train::{self, Hooks, RunConfig, TrainConfig};

/// An encoded corpus with its vocabulary; the built-in one brings its analogy questions.
pub(super) struct Data {
    pub name: String,
    pub vocab: Vocab,
    pub enc: Corpus,
    pub questions: Option<Vec<AnalogySection>>,
}

/// Reads the corpus `cfg` names, resolved once for the run as `src` (the built-in one when
/// `None`), encoded with `vocab` when resuming, else with the vocabulary it builds.
pub(super) fn load_data(
    cfg: &RunConfig,
    src: Option<&Source>,
    vocab: Option<Vocab>,
    cache: &CacheArgs,
) -> anyhow::Result<Data> {
    let c = &cfg.corpus;
    let built_in;
    let (src, questions) = match src {
        Some(s) => (s, None),
        None => {
            let s = synthetic::generate(cfg.train.seed, synthetic::DEFAULT_SENTENCES_PER_WORD);
            let name = format!("built-in synthetic corpus (seed {})", cfg.train.seed);
            built_in = Source::Text { name, text: s.text };
            (&built_in, Some(s.sections))
        }
    };
    let pass = super::encode::pass_for(c, cfg.threads, cache);
    let read = match &c.read_vocab {
        Some(p) => Some(
            read_vocab(p)
                .flag("--read-vocab")?
                .restricted(c.min_count, c.max_vocab),
        ),
        None => None,
    };
    if read.as_ref().is_some_and(Vocab::is_empty) {
        anyhow::bail!(
            "--read-vocab: no word of the vocabulary has count >= {}; lower --min-count",
            c.min_count
        );
    }
    // One pass either way: counting goes through the cache for a file corpus (reused when
    // current); a given vocabulary encodes into memory, or a temporary file beyond the budget.
    let (vocab, enc) = match vocab.or(read) {
        Some(v) => {
            let corpus = super::encode::load_encoded(src, c, &pass, &v, cache)?;
            (v, corpus)
        }
        None => {
            let l = super::encode::load_counted(src, c, &pass, cache)?;
            (l.vocab, l.corpus)
        }
    };
    if let Some(p) = &c.save_vocab {
        fsutil::write_atomic(p, |w| write_vocab(w, &vocab)).flag("--save-vocab")?;
    }
    Ok(Data {
        name: src.name(),
        vocab,
        enc,
        questions,
    })
}

/// The new text a checkpointed model continues on (`--continue-on`), encoded with the
/// checkpoint's vocabulary `old` (unknown words skipped), or with it grown by the new text's words
/// (`update`); and a line saying which.
fn new_text_data(
    cfg: &RunConfig,
    src: Option<&Source>,
    old: Option<Vocab>,
    update: bool,
    cache: &CacheArgs,
) -> anyhow::Result<(Data, Option<String>)> {
    let old = old.expect("--continue-on comes with --resume's vocabulary");
    if !update {
        let data = load_data(cfg, src, Some(old), cache)?;
        let skipped = data.enc.raw_words() - data.enc.words();
        let line = format!(
            "vocabulary frozen at {} words; {} words of the new text are not in it and were skipped",
            thousands(data.vocab.len() as u64),
            thousands(skipped)
        );
        return Ok((data, Some(line)));
    }
    // One pass counts the new text's words, a second encodes it with the merged vocabulary.
    let mut counting = cfg.clone();
    counting.corpus.save_vocab = None;
    let counted = load_data(&counting, src, None, cache)?.vocab;
    let merged = carry::merge_vocab(&old, &counted);
    let line = format!(
        "vocabulary updated: {} words of the new text reach --min-count {}, {} of them new; {} words \
         in all",
        thousands(counted.len() as u64),
        cfg.corpus.min_count,
        thousands((merged.len() - old.len()) as u64),
        thousands(merged.len() as u64)
    );
    Ok((load_data(cfg, src, Some(merged), cache)?, Some(line)))
}

pub(super) fn settings_line(cfg: &TrainConfig) -> String {
    format!(
        "{:?} dim {} window {}{} negative {} ({:?}) power {} sample {} epochs {} lr {} {:?} init {:?} step {:?} storage {:?} seed {}",
        cfg.model,
        cfg.dim,
        cfg.window,
        if cfg.fixed_window { " fixed" } else { "" },
        cfg.negative,
        cfg.negatives,
        cfg.power,
        cfg.sample,
        cfg.epochs,
        cfg.lr,
        cfg.optimizer,
        cfg.init,
        cfg.step,
        cfg.storage,
        cfg.seed
    )
    .to_lowercase()
}

/// Scales SGD's learning rate for the job's ranks (`--rank-lr`), and says so; `None` where it
/// stays as given. The checkpoints keep the rate as given, so a resumed job scales it again.
pub(super) fn scale_lr(
    cfg: &mut crate::train::TrainConfig,
    dist: &crate::dist::Dist,
) -> Option<String> {
    let factor = dist.lr_factor();
    if cfg.optimizer != crate::backend::OptimizerKind::Sgd || factor == 1.0 {
        return None;
    }
    let given = cfg.lr;
    cfg.lr *= factor;
    Some(
        format!(
        "learning rate: {given} × {factor:.3} for {} ranks merging by {:?} = {:.6} (--rank-lr; \
         --rank-lr same keeps --lr)",
        dist.size(),
        dist.merge,
        cfg.lr
    )
        .replace("Touched", "touched")
        .replace("Mean", "mean"),
    )
}

/// A file's stem, to name its scores.
fn stem(p: &Path) -> String {
    p.file_stem().map_or_else(
        || p.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

pub(super) fn train(a: &TrainArgs) -> anyhow::Result<()> {
    let gpu = matches!(a.device, crate::train::Device::Cuda(_));
    let comm = crate::dist::join(gpu).map_err(anyhow::Error::msg)?;
    let mut gate = Gate::new(&*comm);
    let result = train_as(a, &mut gate);
    match gate.finish(result) {
        Ending::Return(r) => r,
        Ending::Exit(code) => {
            drop(comm);
            std::process::exit(code)
        }
    }
}

/// [`train`] as one rank of the job `gate` starts (rank 0 alone writes files and prints).
fn train_as(a: &TrainArgs, gate: &mut Gate) -> anyhow::Result<()> {
    let mut dist = a.dist.dist(gate.comm);
    let lead = dist.rank() == 0;
    signals::install()?;
    // A killed run's temporaries go even when this run stops early (say, nothing to resume).
    let own = |p: &Option<PathBuf>| p.clone().filter(|_| lead);
    let (output, plot, checkpoint_out) = (own(&a.output), own(&a.plot), own(&a.checkpoint));
    for p in [
        &a.output,
        &a.metrics,
        &a.plot,
        &a.checkpoint,
        &a.corpus.save_vocab,
    ]
    .into_iter()
    .flatten()
    .filter(|_| lead)
    {
        fsutil::remove_stale_temps(p);
    }
    let mut cfg = a.model.config(&a.corpus, a.device);
    if !lead {
        cfg.corpus.save_vocab = None;
    }
    cfg.train.freeze_init = a.freeze_init;
    let new_text = !a.continue_on.is_empty();
    if new_text {
        cfg.corpus.paths = a.continue_on.clone();
    }
    let analogies = a
        .eval_analogies
        .as_deref()
        .map(eval::read_analogies)
        .transpose()
        .flag("--eval-analogies")?;
    let similarity = a
        .eval_similarity
        .iter()
        .map(|p| Ok((stem(p), wordsim::read_similarity(p)?)))
        .collect::<Result<Vec<_>>>()
        .flag("--eval-similarity")?;
    // With --resume the checkpoint's settings replace the flags' (and are validated there).
    let given = |name: &str| a.given.iter().any(|g| g == name);
    let resumed = a
        .resume
        .as_deref()
        .map(|p| resume::load(p, &cfg, &given, new_text))
        .transpose()?;
    let corpus_from_checkpoint = a.resume.is_some() && a.corpus.corpus.is_empty();
    // The corpus is resolved once for the run (here when its identity is needed, else after the
    // device opens) and that one `Source` is read.
    let identified = |flag: &str| -> anyhow::Result<_> {
        let src = preflight::resolve_corpus(&cfg.corpus.paths, flag)?;
        let id = src.as_ref().map(identity::identify_source).transpose();
        Ok((id.flag(flag)?.flatten(), None, Some(src)))
    };
    let (identity, verified, resolved) = match (&resumed, &a.resume) {
        _ if new_text => identified("--continue-on")?,
        (Some(r), Some(ck)) => {
            let (id, line, src) = resume::verify_corpus(r, ck, corpus_from_checkpoint)?;
            (id, Some(line), Some(src))
        }
        _ if a.checkpoint.is_some() => identified("--corpus")?,
        _ => (None, None, None),
    };
    let (mut cfg, vocab, checkpoint) = match resumed {
        Some(r) => (r.cfg, Some(r.vocab), Some(r.checkpoint)),
        None => {
            cfg.validate()?;
            (cfg, None, None)
        }
    };
    preflight::check_outputs(a, &cfg)?;
    // The device and its step are decided first (a refusal there needs no corpus), then the
    // corpus is checked before anything is created.
    let opened = device::open(cfg.device, &cfg)?;
    let src = match resolved {
        Some(src) => src,
        None => preflight::resolve_corpus(&cfg.corpus.paths, "--corpus")?,
    };
    let src = src.as_ref();
    let init_vectors = a
        .init_vectors
        .as_deref()
        .map(|p| carry::read_init_vectors(p, cfg.train.dim))
        .transpose()?;
    let metrics = own(&a.metrics)
        .as_deref()
        .map(MetricsWriter::create)
        .transpose()
        .flag("--metrics")?;
    let (data, new_text_line) = match &a.resume {
        Some(_) if new_text => new_text_data(&cfg, src, vocab, a.update_vocab, &a.cache)?,
        Some(ck) if corpus_from_checkpoint => (
            load_data(&cfg, src, vocab, &a.cache)
                .with_context(|| format!("the corpus recorded in checkpoint '{}'", ck.display()))?,
            None,
        ),
        _ => (load_data(&cfg, src, vocab, &a.cache)?, None),
    };
    let pretrained = match (&a.init_vectors, init_vectors) {
        (Some(p), Some(emb)) => Some(carry::init_from_vectors(
            &emb,
            p,
            &data.vocab,
            &cfg.train,
            a.freeze_init,
        )),
        _ => None,
    };
    let resume = match (checkpoint, &a.resume) {
        (Some(ck), Some(path)) if new_text => {
            let epochs_done = ck.epoch;
            cfg.train.lr = carry::continue_lr(&cfg.train, a.continue_lr, epochs_done);
            let line = format!(
                "continuing '{}' (trained {epochs_done} epoch{}) on new text: {}; learning \
                 rate {} {}",
                path.display(),
                if epochs_done == 1 { "" } else { "s" },
                new_text_line.unwrap_or_default(),
                match a.continue_lr {
                    carry::ContinueLr::Restart => "restarts at",
                    carry::ContinueLr::Continue => "continues from",
                },
                cfg.train.lr
            );
            Some((
                carry::continue_start(ck, data.vocab.len(), &cfg.train),
                line,
            ))
        }
        (Some(ck), Some(path)) => {
            let at = if ck.next_token > 0 {
                format!(" at token {}", thousands(ck.next_token))
            } else {
                String::new()
            };
            let line = format!(
                "resuming from '{}' after epoch {} of {}{at}; corpus {}",
                path.display(),
                ck.epoch,
                cfg.train.epochs,
                verified.unwrap_or_default()
            );
            Some((resume::start(ck), line))
        }
        _ => None,
    };
    if let Some(p) = &a.output {
        check_words(p, &data.vocab.words).flag("--output")?;
    }
    let mut hooks = RunHooks {
        progress: Progress::new(
            data.enc.raw_words() * cfg.train.epochs as u64,
            cfg.train.epochs,
            if lead {
                a.log.verbosity()
            } else {
                Verbosity::Quiet
            },
            a.log.log_interval,
        ),
        vocab: &data.vocab,
        cfg: &cfg.train,
        analogies: analogies.filter(|_| lead),
        similarity: if lead { similarity } else { Vec::new() },
        metrics,
        curve: Default::default(),
        last_words: 0.0,
        words_total: 0,
        checkpoint: checkpoint_out.as_ref().map(|p| (p.clone(), a.save_dtype)),
        settings_json: cfg.checkpoint_json(identity.as_ref())?,
        written: None,
        stdout_error: None,
        metrics_error: None,
    };
    preflight::check_memory(
        &opened,
        &cfg,
        data.vocab.len(),
        hooks.wants_snapshot(),
        a.checkpoint.is_some(),
    )?;
    // A real GPU trains far faster than the CPU or the emulated device: a longer default interval.
    #[cfg(feature = "cuda")]
    let gpu = matches!(opened.backend, device::Chosen::Cuda(_));
    #[cfg(not(feature = "cuda"))]
    let gpu = false;
    a.dist.settle(&mut dist, data.enc.len(), gpu);
    if dist.is_parallel() {
        gate.pass(&hooks.settings_json, &data.vocab, data.enc.len(), &dist)?;
    }
    signals::defer();
    if dist.is_parallel() {
        hooks.say(&format!("ranks: {}", gate.comm.describe()));
    }
    // The trainer's settings: the flags', the learning rate scaled for the ranks.
    let mut run = cfg.train.clone();
    if dist.is_parallel() {
        if let Some(line) = scale_lr(&mut run, &dist) {
            hooks.say(&line);
        }
    }
    hooks.say(&format!("device: {}", opened.label()));
    hooks.say(&format!(
        "corpus: {}: {} words, {} in vocabulary ({} distinct kept, min-count {})",
        data.name,
        thousands(data.enc.raw_words()),
        thousands(data.enc.words()),
        thousands(data.vocab.len() as u64),
        cfg.corpus.min_count
    ));
    hooks.say(&format!("settings: {}", settings_line(&run)));
    hooks.detail(&format!(
        "step: {:?}{}; {} in-vocabulary tokens an epoch, {} epoch(s)",
        opened.step,
        step_kernel(&opened, &cfg).map_or_else(String::new, |k| format!(" (kernel {k})")),
        thousands(data.enc.words()),
        cfg.train.epochs
    ));
    let resume = match (resume, pretrained) {
        (Some((start, line)), _) => {
            hooks.say(&line);
            Some(start)
        }
        (None, Some(p)) => {
            for line in &p.lines {
                hooks.say(line);
            }
            Some(p.start)
        }
        (None, None) => None,
    };
    let trained = with_backend!(opened.backend, |b| train::train_ranks(
        b,
        &data.enc,
        &data.vocab,
        &run,
        opened.step,
        resume,
        &mut hooks,
        dist
    ));
    hooks.progress.finish();
    let trained = match trained {
        Err(crate::Error::Stopped(mut where_)) => {
            if dist.is_parallel() && signals::received().is_none() {
                where_ += " (a signal reached another rank)";
            }
            let sig = signals::received().unwrap_or(signal_hook::consts::SIGINT);
            return Err(stopped(sig, &where_, hooks.written.as_deref()));
        }
        t => t?,
    };
    // The vectors first: whatever fails after them, the run is not lost.
    let summary = progress::summary(&trained);
    let ranks_summary = ranks_line(&trained, &dist);
    let emb = Embeddings::new(data.vocab.words.clone(), cfg.train.dim, trained.w_in);
    let saved = match &output {
        Some(p) => {
            let format = VectorFormat::for_path(p, a.output_format)?;
            write_vectors(p, &emb, format).flag("--output")?;
            Some(p.as_path())
        }
        None => None,
    };
    let safe = |e: anyhow::Error| match saved {
        Some(p) => e.context(format!(
            "the vectors are safe in '{}', but a later output failed",
            p.display()
        )),
        None => e,
    };
    if let Some(sig) = signals::received() {
        let done = match saved {
            Some(p) => format!("after training; vectors written to '{}'", p.display()),
            None => "after training (no --output given)".into(),
        };
        return Err(stopped(sig, &done, None));
    }
    if let Some(p) = &plot {
        let title = format!(
            "{} loss, {}",
            format!("{:?}", cfg.train.model).to_lowercase(),
            plot_name(&cfg.corpus.paths, &data.name)
        );
        write_loss_plot(p, &hooks.curve, &title)
            .flag("--plot")
            .map_err(safe)?;
    }
    hooks.say(&summary);
    if let Some(line) = &ranks_summary {
        hooks.say(line);
    }
    match saved {
        Some(p) => hooks.say(&format!(
            "vectors written to '{}' ({} words, dim {})",
            p.display(),
            emb.len(),
            emb.dim
        )),
        None => hooks.say("vectors not saved (no --output FILE given)"),
    }
    if let Some(p) = &plot {
        hooks.say(&format!("loss plot written to '{}'", p.display()));
    }
    if let Some(questions) = data.questions.as_ref().filter(|_| lead) {
        report_builtin(&emb, questions, &mut hooks).map_err(|e| safe(e.into()))?;
    }
    if let Some(e) = hooks.metrics_error.take() {
        return Err::<(), _>(e).flag("--metrics").map_err(safe);
    }
    match hooks.stdout_error.take() {
        Some(e) => Err(safe(anyhow::anyhow!("cannot print to stdout ({e})"))),
        None => Ok(()),
    }
}

/// The kernel a CUDA device (real or emulated) runs the fused step with, for `-v`.
fn step_kernel(opened: &device::Opened, cfg: &RunConfig) -> Option<&'static str> {
    let cuda = match opened.backend {
        device::Chosen::Cpu(_) => false,
        #[cfg(feature = "cuda")]
        device::Chosen::Cuda(_) => true,
        #[cfg(feature = "emulator")]
        device::Chosen::Emulated(_) => true,
    };
    #[cfg(any(feature = "cuda", feature = "emulator"))]
    if cuda && opened.step == crate::backend::Step::Fused {
        let t = &cfg.train;
        return Some(crate::backend::cuda::variant::step_kernel(
            cfg.kernel, t.model, t.storage, t.negative, t.dim,
        ));
    }
    let _ = (cuda, cfg);
    None
}

/// The corpus as the plot's title names it: its file name (the first of several, and how many
/// more), or the reader's description (the built-in corpus, standard input).
fn plot_name(paths: &[PathBuf], described: &str) -> String {
    let name = |p: &PathBuf| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    match paths {
        [] => described.to_string(),
        [one] if one.as_os_str() == "-" => described.to_string(),
        [one] => name(one),
        [first, rest @ ..] => format!("{} and {} more", name(first), rest.len()),
    }
}

/// The error of a run `sig` stopped (`where_`: how far it got), naming the checkpoint to resume
/// from when one was written.
fn stopped(sig: i32, where_: &str, checkpoint: Option<&Path>) -> anyhow::Error {
    let next = match checkpoint {
        Some(p) => format!(
            "checkpoint written to '{}'; continue with --resume '{}'",
            p.display(),
            p.display()
        ),
        None => "no checkpoint written by this stop".into(),
    };
    anyhow::Error::new(signals::Interrupted {
        signal: sig,
        line: format!("interrupted by {}: {where_}; {next}", signals::name(sig)),
    })
}

/// The built-in run's report: neighbours of the probe words and the planted-analogy accuracy.
fn report_builtin(
    emb: &Embeddings,
    questions: &[AnalogySection],
    out: &mut RunHooks,
) -> Result<()> {
    let index = Index::new(emb);
    out.say("nearest neighbours:");
    for probe in synthetic::PROBES {
        let near = index.most_similar(probe, 5)?;
        let list: Vec<String> = near
            .iter()
            .map(|n| format!("{} {:.3}", n.word, n.similarity))
            .collect();
        out.say(&format!("  {probe:<8} {}", list.join(", ")));
    }
    let report = eval::evaluate_analogies(&index, questions, None);
    out.say(&format!("planted analogies:\n{report}"));
    out.say(&format!(
        "planted-analogy accuracy: {:.3}",
        report.accuracy()
    ));
    Ok(())
}
/// The checkpoint file of an epoch: `{epoch}` in the name becomes the epoch number (one file per
/// epoch); without it every epoch overwrites the same file.
pub(super) fn checkpoint_path(path: &Path, epoch: u64) -> PathBuf {
    let s = path.to_string_lossy();
    if s.contains("{epoch}") {
        PathBuf::from(s.replace("{epoch}", &epoch.to_string()))
    } else {
        path.to_path_buf()
    }
}
