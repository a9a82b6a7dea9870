//! The command line's clap structs, and the checked configuration they map into.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::backend::{OptimizerKind, Storage};
use crate::error::{Error, Result};
use crate::input::corpus::{CorpusFormat, ReadOptions};
use crate::output::checkpoint::SaveDtype;
use crate::output::vectors::VectorFormat;
use crate::train::model::Init;
use crate::train::plan::ModelKind;
use crate::train::sampler::NegativeMode;
use crate::train::{StepKind, TrainConfig};

/// word2vec (skip-gram and CBOW with negative sampling) on the CPU or CUDA.
#[derive(Parser, Debug)]
#[command(name = "w2v-gpu", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train word vectors (on the built-in corpus when --corpus is not given).
    Train(TrainArgs),
    /// Nearest neighbours of a word by cosine similarity.
    Similar(SimilarArgs),
    /// Words closest to B − A + C ("A is to B as C is to ?"), inputs excluded.
    Analogy(AnalogyArgs),
    /// Score vectors on analogy questions and word-pair similarity benchmarks.
    Eval(EvalArgs),
    /// Measure training speed (words/s) and peak memory.
    Bench(BenchArgs),
    /// List the devices this binary can train on, how its kernels were built, and the device
    /// memory a model needs.
    Info(InfoArgs),
    /// Write the built-in corpus and its analogy questions to files.
    Synthetic(SyntheticArgs),
}

/// Where the training text comes from and how it is read.
#[derive(Args, Debug, Clone)]
pub struct CorpusArgs {
    /// Text corpus (whitespace-separated words). Without it: the built-in synthetic corpus.
    #[arg(long, value_name = "FILE")]
    pub corpus: Option<PathBuf>,
    /// plain: a line end ends a sentence; ptb: a line end is the word <eos> (the book's PTB loader).
    #[arg(long, value_enum, default_value_t = CorpusFormat::Plain)]
    pub format: CorpusFormat,
    /// Lowercase every word before counting.
    #[arg(long)]
    pub lowercase: bool,
    /// Drop words seen fewer times than this.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub min_count: u64,
    /// Keep at most this many of the most frequent words.
    #[arg(long, value_name = "N")]
    pub max_vocab: Option<usize>,
}

/// The model, its training and the device.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    #[arg(long, value_enum, default_value_t = ModelKind::Skipgram)]
    pub model: ModelKind,
    /// Passes over the corpus.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub epochs: u32,
    /// Vector dimension.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub dim: usize,
    /// Largest context half-width (each centre draws 1..=N unless --fixed-window).
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub window: u32,
    /// Use exactly --window words on each side (the book's create_contexts_target).
    #[arg(long)]
    pub fixed_window: bool,
    /// Negative samples per centre.
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub negative: u32,
    /// replace: drawn with replacement, the centre may be drawn (the book's GPU path);
    /// distinct: centre excluded, no repeats (its CPU path).
    #[arg(long, value_enum, default_value_t = NegativeMode::Replace)]
    pub negatives: NegativeMode,
    /// Exponent of the unigram counts for negative sampling.
    #[arg(long, default_value_t = 0.75)]
    pub power: f64,
    /// Subsampling threshold of frequent words (word2vec's -sample); 0 turns it off.
    #[arg(long, default_value_t = 1e-3)]
    pub sample: f64,
    /// sgd: word2vec.c's linear decay (fast path); adam: lazy row-sparse Adam (composed path).
    #[arg(long, value_enum, default_value_t = OptimizerKind::Sgd)]
    pub optimizer: OptimizerKind,
    /// Learning rate [default: 0.025 skip-gram, 0.05 CBOW, 0.001 Adam].
    #[arg(long)]
    pub lr: Option<f64>,
    /// word2vec: W_in uniform in ±0.5/dim, W_out zero; book: 0.01·N(0,1) for both.
    #[arg(long, value_enum, default_value_t = Init::Word2vec)]
    pub init: Init,
    /// Centres per minibatch of the composed path (Adam, --step composed).
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub batch_size: usize,
    /// fused: the backend's fast path; composed: the book's layers one by one.
    #[arg(long, value_enum, default_value_t = StepKind::Fused)]
    pub step: StepKind,
    /// How the device stores W_in and W_out: f32, or f16 (IEEE half, f32 arithmetic; half the
    /// memory of the two matrices; CUDA fused SGD step only).
    #[arg(long, value_enum, default_value_t = Storage::F32)]
    pub storage: Storage,
    /// Seed of every random draw (initialisation, subsampling, windows, negatives, built-in corpus).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// CPU worker threads; 0 = all cores. With 1, a seed gives bit-identical vectors.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
    /// cpu, cuda:N, auto (cuda:0 when a working GPU is present, else cpu), or emulator
    /// (builds with the `emulator` feature: the CUDA kernels run on the CPU, for checking only).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Corpus tokens kept resident on the GPU at once (0 = sized from free device memory); a
    /// larger corpus streams through in chunks of this size.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub device_chunk: usize,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub corpus: CorpusArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Vectors file to write (word2vec format). Without it, vectors are not saved.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = VectorFormat::Bin)]
    pub output_format: VectorFormat,
    /// Analogy questions (questions-words format) scored after each epoch.
    #[arg(long, value_name = "FILE")]
    pub eval_analogies: Option<PathBuf>,
    /// Word-pair similarity file (WordSim-353 / SimLex-999 TSV) scored after each epoch; repeatable.
    #[arg(long, value_name = "FILE")]
    pub eval_similarity: Vec<PathBuf>,
    /// Per-epoch loss, words/s, lr and scores: .csv, or .jsonl / .json for JSON lines.
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Loss against words processed, as an SVG picture.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Complete model (safetensors) written after each epoch, for --resume; `{epoch}` in the
    /// name keeps one file per epoch (e.g. ckpt-{epoch}.safetensors).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Precision of the checkpoint's matrices.
    #[arg(long, value_enum, default_value_t = SaveDtype::F32)]
    pub save_dtype: SaveDtype,
    /// Continue the run saved in this checkpoint (its settings and vocabulary; same corpus).
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SimilarArgs {
    #[arg(long, value_name = "FILE")]
    pub vectors: PathBuf,
    pub word: String,
    /// Number of neighbours.
    #[arg(short, default_value_t = 10)]
    pub k: usize,
}

#[derive(Args, Debug)]
pub struct AnalogyArgs {
    #[arg(long, value_name = "FILE")]
    pub vectors: PathBuf,
    pub a: String,
    pub b: String,
    pub c: String,
    /// Number of answers.
    #[arg(short, default_value_t = 5)]
    pub k: usize,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[arg(long, value_name = "FILE")]
    pub vectors: PathBuf,
    /// Analogy questions in word2vec's questions-words format.
    #[arg(long, value_name = "FILE")]
    pub analogies: Option<PathBuf>,
    /// Word-pair similarity file (tab-separated word, word, score); repeatable.
    #[arg(long, value_name = "FILE")]
    pub similarity: Vec<PathBuf>,
    /// Count only analogy questions whose words are all among the N most frequent.
    #[arg(long, value_name = "N")]
    pub restrict_vocab: Option<usize>,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub corpus: CorpusArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Vocabulary size of the model whose memory footprint is shown (text8 at min-count 5 has 71,290).
    #[arg(long, default_value_t = 71_290, value_name = "N")]
    pub vocab: usize,
    /// Vector dimension of that model.
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub dim: usize,
    #[arg(long, value_enum, default_value_t = OptimizerKind::Sgd)]
    pub optimizer: OptimizerKind,
    /// Storage of W_in and W_out on the device (f16 with the fused SGD step only).
    #[arg(long, value_enum, default_value_t = Storage::F32)]
    pub storage: Storage,
}

#[derive(Args, Debug)]
pub struct SyntheticArgs {
    /// Corpus text file to write.
    #[arg(long, value_name = "FILE")]
    pub output: PathBuf,
    /// Analogy questions file to write (questions-words format).
    #[arg(long, value_name = "FILE")]
    pub questions: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Sentences per planted word.
    #[arg(long, default_value_t = crate::input::synthetic::DEFAULT_SENTENCES_PER_WORD, value_name = "N")]
    pub sentences_per_word: usize,
}

/// Which device trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Cuda(usize),
    Auto,
    Emulator,
}

impl std::str::FromStr for Device {
    type Err = Error;
    fn from_str(s: &str) -> Result<Device> {
        let bad = || {
            Error::Config(format!(
                "unknown device '{s}' for --device; use cpu, cuda:N (e.g. cuda:0), auto or emulator"
            ))
        };
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Device::Cpu),
            "auto" => Ok(Device::Auto),
            "emulator" | "emulated" => Ok(Device::Emulator),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            other => match other.strip_prefix("cuda:") {
                Some(n) => n.parse().map(Device::Cuda).map_err(|_| bad()),
                None => Err(bad()),
            },
        }
    }
}

/// A training run, checked: settings, corpus options and device.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub train: TrainConfig,
    pub read: ReadOptions,
    pub corpus: Option<PathBuf>,
    pub min_count: u64,
    pub max_vocab: Option<usize>,
    pub threads: usize,
    pub device: Device,
    pub device_chunk: usize,
}

/// Default learning rate of a model and optimiser (word2vec.c's and the book's).
pub fn default_lr(model: ModelKind, optimizer: OptimizerKind) -> f64 {
    match (optimizer, model) {
        (OptimizerKind::Adam, _) => 0.001,
        (OptimizerKind::Sgd, ModelKind::Skipgram) => 0.025,
        (OptimizerKind::Sgd, ModelKind::Cbow) => 0.05,
    }
}

impl RunConfig {
    pub fn from_args(c: &CorpusArgs, m: &ModelArgs) -> Result<RunConfig> {
        let fail = |msg: String| Err(Error::Config(msg));
        if m.dim == 0 {
            return fail("--dim must be at least 1 (got 0); try --dim 100".into());
        }
        if m.window == 0 {
            return fail("--window must be at least 1 (got 0); try --window 5".into());
        }
        if m.epochs == 0 {
            return fail("--epochs must be at least 1 (got 0); try --epochs 5".into());
        }
        if m.negative == 0 && m.negatives == NegativeMode::Distinct {
            return fail(
                "--negative 0 with --negatives distinct draws no negatives; use --negative 5"
                    .into(),
            );
        }
        if !(m.sample >= 0.0 && m.sample.is_finite()) {
            return fail(format!(
                "--sample must be 0 (off) or positive (got {}); try --sample 1e-3",
                m.sample
            ));
        }
        if !(m.power.is_finite() && m.power >= 0.0) {
            return fail(format!(
                "--power must be a non-negative number (got {}); try --power 0.75",
                m.power
            ));
        }
        if m.batch_size == 0 {
            return fail("--batch-size must be at least 1 (got 0); try --batch-size 128".into());
        }
        if c.max_vocab == Some(0) {
            return fail(
                "--max-vocab must be at least 1 (got 0); leave it out to keep every word".into(),
            );
        }
        let lr = m.lr.unwrap_or_else(|| default_lr(m.model, m.optimizer));
        if !(lr > 0.0 && lr.is_finite()) {
            return fail(format!(
                "--lr must be positive (got {lr}); try --lr {}",
                default_lr(m.model, m.optimizer)
            ));
        }
        let device: Device = m.device.parse()?;
        if m.storage == Storage::F16 {
            // What is known before the device opens; train() checks the backend it gets (auto).
            let keeps_f32 = if device == Device::Cpu {
                Some("the CPU backend")
            } else if m.optimizer != OptimizerKind::Sgd {
                Some("--optimizer adam (composed path)")
            } else if m.step != StepKind::Fused {
                Some("--step composed")
            } else {
                None
            };
            if let Some(what) = keeps_f32 {
                return Err(crate::backend::f16_storage_unsupported(what));
            }
        }
        Ok(RunConfig {
            train: TrainConfig {
                model: m.model,
                dim: m.dim,
                window: m.window,
                fixed_window: m.fixed_window,
                negative: m.negative,
                negatives: m.negatives,
                power: m.power,
                sample: m.sample,
                epochs: m.epochs,
                lr,
                optimizer: m.optimizer,
                init: m.init,
                batch_size: m.batch_size,
                step: m.step,
                seed: m.seed,
                storage: m.storage,
            },
            read: ReadOptions {
                format: c.format,
                lowercase: c.lowercase,
            },
            corpus: c.corpus.clone(),
            min_count: c.min_count,
            max_vocab: c.max_vocab,
            threads: m.threads,
            device,
            device_chunk: m.device_chunk,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<RunConfig> {
        let mut all = vec!["w2v-gpu", "train"];
        all.extend_from_slice(args);
        let Command::Train(t) = Cli::try_parse_from(all).unwrap().command else {
            unreachable!()
        };
        RunConfig::from_args(&t.corpus, &t.model)
    }

    #[test]
    fn devices_parse_and_unknown_ones_name_the_flag() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("cuda:3".parse::<Device>().unwrap(), Device::Cuda(3));
        assert_eq!("AUTO".parse::<Device>().unwrap(), Device::Auto);
        let e = "tpu:0".parse::<Device>().unwrap_err().to_string();
        assert!(e.contains("--device") && e.contains("'tpu:0'"), "{e}");
        assert!("cuda:x".parse::<Device>().is_err());
    }

    #[test]
    fn defaults_follow_word2vec_and_bad_values_name_their_flag() {
        let c = parse(&[]).unwrap();
        assert_eq!(
            (
                c.train.dim,
                c.train.window,
                c.train.negative,
                c.train.epochs
            ),
            (100, 5, 5, 5)
        );
        assert_eq!(c.train.lr, 0.025);
        assert_eq!(parse(&["--model", "cbow"]).unwrap().train.lr, 0.05);
        assert_eq!(parse(&["--optimizer", "adam"]).unwrap().train.lr, 0.001);
        for (args, flag) in [
            (&["--dim", "0"][..], "--dim"),
            (&["--window", "0"], "--window"),
            (&["--epochs", "0"], "--epochs"),
            (
                &["--negative", "0", "--negatives", "distinct"],
                "--negative",
            ),
            (&["--sample=-1"], "--sample"),
            (&["--lr", "0"], "--lr"),
            (&["--device", "gpu0"], "--device"),
        ] {
            let e = parse(args).unwrap_err().to_string();
            assert!(e.contains(flag) && !e.contains('\n'), "{args:?}: {e}");
        }
        assert!(parse(&["--negative", "0"]).is_ok());
    }
}
