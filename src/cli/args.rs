//! The command line's clap structs and how the flags map into the clap-free [`RunConfig`] (how
//! the library's enums read as flag values is `values.rs`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::carry::ContinueLr;
use crate::backend::step::KernelVariant;
use crate::backend::{OptimizerKind, Storage};
use crate::input::corpus::{CorpusFormat, ReadOptions};
use crate::output::checkpoint::SaveDtype;
use crate::output::export::{ExportFormat, Which};
use crate::output::vectors::VectorFormat;
use crate::train::model::Init;
use crate::train::plan::ModelKind;
use crate::train::sampler::NegativeMode;
use crate::train::{CorpusConfig, Device, RunConfig, StepKind, TrainConfig};

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
    Train(Box<TrainArgs>),
    /// Nearest neighbours of words added and subtracted (gensim's most_similar); with no words, one
    /// query a line from standard input.
    Similar(SimilarArgs),
    /// Words closest to B − A + C ("A is to B as C is to ?"), inputs excluded.
    Analogy(AnalogyArgs),
    /// The word that fits the others least (gensim's doesnt_match).
    DoesntMatch(DoesntMatchArgs),
    /// Cosine similarity of two words.
    Similarity(SimilarityArgs),
    /// Score vectors on analogy questions and word-pair similarity benchmarks.
    Eval(EvalArgs),
    /// Measure training speed (words/s) and peak memory.
    Bench(BenchArgs),
    /// List the devices this binary can train on, how its kernels were built, and the device
    /// memory a model needs.
    Info(InfoArgs),
    /// Write the built-in corpus and its analogy questions to files.
    Synthetic(SyntheticArgs),
    /// Encode a corpus into the cache (text to word ids), or check and time the cache it has.
    Encode(EncodeArgs),
    /// Write a checkpoint's vectors (W_in, W_out or their mean) as word2vec bin/text, .npy with a
    /// vocabulary file, or safetensors.
    Export(ExportArgs),
    /// Print a shell completion script (e.g. `w2v-gpu completions bash > ~/.local/share/bash-completion/completions/w2v-gpu`).
    Completions(CompletionsArgs),
    /// Print the manual page in roff (e.g. `w2v-gpu man > w2v-gpu.1; man ./w2v-gpu.1`).
    Man,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The checkpoint to read (written by train --checkpoint).
    #[arg(value_name = "CHECKPOINT")]
    pub checkpoint: PathBuf,
    /// The file to write; its extension picks the format (.bin, .txt or .vec, .npy, .safetensors)
    /// unless --format is given. .npy and .safetensors also write NAME.vocab (word count a line).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// The output's format, whatever its extension.
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
    /// Which matrix to export.
    #[arg(long, value_enum, default_value_t = Which::In)]
    pub which: Which,
    /// Export only the first N words (the most frequent).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Export only words counted at least N times in the training corpus.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub min_count: u64,
    /// Read NaN and infinite weights instead of refusing the checkpoint.
    #[arg(long)]
    pub allow_nonfinite: bool,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell the script is for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Where the training text comes from and how it is read.
#[derive(Args, Debug, Clone)]
pub struct CorpusArgs {
    /// Text corpus of whitespace-separated words: a file (gzip, bzip2, xz or zstd is
    /// decompressed), a directory (its files, by name) or - (standard input); repeat to read
    /// several in order. Without it: the built-in synthetic corpus.
    #[arg(long, value_name = "FILE|DIR|-")]
    pub corpus: Vec<PathBuf>,
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
    /// Encode with this vocabulary (word2vec.c's `word count` lines) instead of counting one.
    #[arg(long, value_name = "FILE")]
    pub read_vocab: Option<PathBuf>,
    /// Write the vocabulary (`word count` lines, most frequent first) before training.
    #[arg(long, value_name = "FILE")]
    pub save_vocab: Option<PathBuf>,
    /// Distinct words counted before the rarest are pruned, as word2vec.c does [default: what
    /// --memory-budget holds at 200 bytes a word, at most 14,700,000].
    #[arg(long, value_name = "N")]
    pub vocab_budget: Option<usize>,
}

impl CorpusArgs {
    /// The corpus settings these flags give.
    pub fn config(&self) -> CorpusConfig {
        CorpusConfig {
            paths: self.corpus.clone(),
            read: ReadOptions {
                format: self.format,
                lowercase: self.lowercase,
            },
            min_count: self.min_count,
            max_vocab: self.max_vocab,
            read_vocab: self.read_vocab.clone(),
            save_vocab: self.save_vocab.clone(),
            vocab_budget: self.vocab_budget,
        }
    }
}

/// Where the encoded corpus is kept: the reuse cache and the memory budget.
#[derive(Args, Debug, Clone, Default)]
pub struct CacheArgs {
    /// Memory for the encoded corpus (4 bytes a token), e.g. 512M or 4G; a corpus whose ids do
    /// not fit trains from the cache file a chunk at a time. Default: half the available memory.
    #[arg(long, value_name = "SIZE", value_parser = crate::cli::encode::parse_size)]
    pub memory_budget: Option<u64>,
    /// Folder of the encoded-corpus cache. Default: $XDG_CACHE_HOME/w2v-gpu or ~/.cache/w2v-gpu.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Neither reuse nor keep an encoded corpus: read the text every run.
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Args, Debug)]
pub struct EncodeArgs {
    #[command(flatten)]
    pub corpus: CorpusArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Rebuild the cache even when a valid one exists.
    #[arg(long)]
    pub force: bool,
}

/// The model, its training and the device.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// skipgram: predict each context word from the centre; cbow: the centre from its contexts' mean.
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
    /// Learning rate [default: 0.05 skip-gram and CBOW, 0.001 Adam].
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
    /// How the device stores W_in and W_out: f32, f16 (IEEE half) or bf16 (bfloat16), 16-bit ones
    /// with f32 arithmetic and half the memory of the two matrices; CUDA fused SGD step only.
    #[arg(long, value_enum, default_value_t = Storage::F32)]
    pub storage: Storage,
    /// Seed of every random draw (initialisation, subsampling, windows, negatives, built-in corpus).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// CPU worker threads; 0 = all cores. With 1, a seed gives bit-identical vectors.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
    /// Corpus tokens kept resident on the GPU at once (0 = sized from free device memory); a
    /// larger corpus streams through in chunks of this size.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub device_chunk: usize,
    /// The CUDA fused step kernels: v2 (default, where it applies) or v1 (the reference
    /// variant); for measuring the two side by side (scripts/gpu-check.sh), hence hidden.
    #[arg(long, hide = true, default_value = "v2", value_name = "v1|v2")]
    pub kernel: KernelVariant,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub corpus: CorpusArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// cpu, cuda:N, auto (cuda:0 when a working GPU is present, else cpu), or emulator
    /// (builds with the `emulator` feature: the CUDA kernels run on the CPU, for checking only).
    #[arg(long, default_value = "auto")]
    pub device: Device,
    /// Vectors file to write (word2vec format). Without it, vectors are not saved.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Format of --output [default: from its extension: .bin binary, .txt or .vec text].
    #[arg(long, value_enum)]
    pub output_format: Option<VectorFormat>,
    /// Analogy questions (questions-words format) scored after each epoch.
    #[arg(long, value_name = "FILE")]
    pub eval_analogies: Option<PathBuf>,
    /// Word-pair similarity file (WordSim-353 / SimLex-999 TSV) scored after each epoch; repeatable.
    #[arg(long, value_name = "FILE")]
    pub eval_similarity: Vec<PathBuf>,
    /// Per-epoch words, time, loss, words/s, lr and scores: .csv, .jsonl (JSON lines) or .json
    /// (one document).
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Loss and learning rate against words processed, epochs marked: .svg or .png.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Complete model (safetensors) written after each epoch, for --resume; `{epoch}` in the
    /// name keeps one file per epoch (e.g. ckpt-{epoch}.safetensors).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Precision of the checkpoint's matrices.
    #[arg(long, value_enum, default_value_t = SaveDtype::F32)]
    pub save_dtype: SaveDtype,
    /// Continue the run saved in this checkpoint: its settings and vocabulary, on the same corpus
    /// (checked). A flag that contradicts the checkpoint is refused; --epochs may extend the run.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub dist: super::ranks::DistArgs,
    /// With --resume: continue that model on this other text (repeatable like --corpus) as a new
    /// run of --epochs epochs; without --update-vocab its vocabulary stays and unknown words are
    /// skipped (counted).
    #[arg(
        long,
        value_name = "FILE|DIR|-",
        requires = "resume",
        conflicts_with = "corpus"
    )]
    pub continue_on: Vec<PathBuf>,
    /// With --continue-on: add the new text's words that reach --min-count (new rows start as a
    /// fresh run's; counts are merged and the negative-sampling table rebuilt).
    #[arg(long, requires = "continue_on")]
    pub update_vocab: bool,
    /// With --continue-on: restart the learning-rate schedule from --lr, or continue it from
    /// where the checkpoint stood.
    #[arg(long, value_enum, default_value_t = ContinueLr::Restart, requires = "continue_on")]
    pub continue_lr: ContinueLr,
    /// Start the rows of W_in of the words found in this vectors file (word2vec bin or text,
    /// fastText .vec) from its vectors; its dimension must be --dim's.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub init_vectors: Option<PathBuf>,
    /// Keep the W_in rows --init-vectors set fixed (gensim's lockf 0): only the other words'
    /// vectors move. The CUDA fused step refuses it (use --step composed); no --checkpoint.
    #[arg(long, requires = "init_vectors", conflicts_with = "checkpoint")]
    pub freeze_init: bool,
    /// The settings given on the command line, by argument name (`min_count`), filled by
    /// [`parse`]: `--resume` refuses those that contradict the checkpoint.
    #[arg(skip)]
    pub given: Vec<String>,
}

/// How much `train` prints, and how often a log line comes when stderr is not a terminal.
#[derive(Args, Debug)]
pub struct LogArgs {
    /// When stderr is not a terminal (a batch job, nohup, a notebook): seconds between progress
    /// lines (words, words/s, loss, lr, ETA); fractions allowed.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_interval,
          allow_negative_numbers = true)]
    pub log_interval: std::time::Duration,
    /// Print only errors and warnings: no progress, no per-epoch lines, no summary.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more: each epoch's training and evaluation time, the step the device chose (and on a
    /// CUDA device its kernel).
    #[arg(short, long)]
    pub verbose: bool,
}

impl LogArgs {
    pub fn verbosity(&self) -> crate::train::progress::Verbosity {
        use crate::train::progress::Verbosity;
        match (self.quiet, self.verbose) {
            (true, _) => Verbosity::Quiet,
            (_, true) => Verbosity::Verbose,
            _ => Verbosity::Normal,
        }
    }
}

/// A positive, finite number of seconds.
fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
        return Err(format!(
            "'{s}': give a number of seconds above 0 (e.g. 10 or 0.5)"
        ));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Parses the process's command line, recording which `train` settings were given explicitly.
pub fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os())
}

/// [`parse`] over `args` (the program name first).
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    if let (Command::Train(t), Some(("train", m))) = (&mut cli.command, matches.subcommand()) {
        t.given = m
            .ids()
            .filter(|id| {
                m.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine)
            })
            .map(|id| id.as_str().to_string())
            .collect();
    }
    Ok(cli)
}

/// The vectors file a query reads, and how strict the reader is.
#[derive(Args, Debug)]
pub struct VectorsArgs {
    /// Vectors in word2vec's binary or text format (told apart by content).
    #[arg(long = "vectors", value_name = "FILE")]
    pub path: PathBuf,
    /// Read NaN and infinite values instead of refusing the file (a diverged run's output, for
    /// inspection: one NaN row tops every neighbour list).
    #[arg(long)]
    pub allow_nonfinite: bool,
    /// Read only the first N vectors (the most frequent words; gensim's `limit`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
}

impl VectorsArgs {
    /// Reads the vectors as the flags say.
    pub fn read(&self) -> crate::error::Result<crate::output::vectors::Embeddings> {
        crate::output::vectors::read_vectors_limit(
            &self.path,
            crate::output::vectors::ReadOptions {
                allow_nonfinite: self.allow_nonfinite,
            },
            self.limit.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        )
    }
}

#[derive(Args, Debug)]
pub struct SimilarArgs {
    #[command(flatten)]
    pub vectors: VectorsArgs,
    /// Words to add (gensim's `positive`). With none (and no --negative), queries are read from
    /// standard input, one a line: words to add, and words prefixed with '-' to subtract.
    #[arg(value_name = "WORD")]
    pub words: Vec<String>,
    /// A word to subtract (gensim's `negative`); repeatable.
    #[arg(long = "negative", value_name = "WORD")]
    pub negative: Vec<String>,
    #[command(flatten)]
    pub answers: AnswerArgs,
}

/// How many answers a neighbour query prints, ranked how, in which form.
#[derive(Args, Debug)]
pub struct AnswerArgs {
    /// Number of words to print.
    #[arg(short, default_value_t = 10, value_name = "N")]
    pub k: usize,
    /// Rank by 3CosMul (gensim's most_similar_cosmul) instead of the cosine with the mean.
    #[arg(long)]
    pub cosmul: bool,
    /// Print one JSON object a query instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct AnalogyArgs {
    #[command(flatten)]
    pub vectors: VectorsArgs,
    /// A in "A is to B as C is to ?" (subtracted).
    pub a: String,
    /// B (added).
    pub b: String,
    /// C (added).
    pub c: String,
    #[command(flatten)]
    pub answers: AnswerArgs,
}

#[derive(Args, Debug)]
pub struct DoesntMatchArgs {
    #[command(flatten)]
    pub vectors: VectorsArgs,
    /// Two words or more.
    #[arg(value_name = "WORD", num_args = 2.., required = true)]
    pub words: Vec<String>,
    /// Print a JSON object instead of the word.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct SimilarityArgs {
    #[command(flatten)]
    pub vectors: VectorsArgs,
    /// The first word.
    pub a: String,
    /// The second word.
    pub b: String,
    /// Print a JSON object instead of the number.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub vectors: VectorsArgs,
    /// Analogy questions in word2vec's questions-words format.
    #[arg(long, value_name = "FILE")]
    pub analogies: Option<PathBuf>,
    /// Word-pair similarity file (tab-separated word, word, score); repeatable.
    #[arg(long, value_name = "FILE")]
    pub similarity: Vec<PathBuf>,
    /// Count only analogy questions whose words are all among the N most frequent.
    #[arg(long, value_name = "N")]
    pub restrict_vocab: Option<usize>,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub corpus: CorpusArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Devices to compare, comma-separated: cpu, cuda:N, auto (the GPU when one works, then the
    /// CPU) or emulator.
    #[arg(long, default_value = "auto", value_delimiter = ',')]
    pub device: Vec<Device>,
    /// Timed runs per device; the table shows their median words/s, with the slowest and fastest.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Untimed runs per device before the timed ones (page cache, allocator, GPU clocks); the
    /// default is 1 when --repeat is above 1, else 0.
    #[arg(long, value_name = "N")]
    pub warmup: Option<u32>,
    /// Print one JSON object per device instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub dist: super::ranks::DistArgs,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Vocabulary size of the model whose memory footprint is shown (text8 at min-count 5 has 71,290).
    #[arg(long, default_value_t = 71_290, value_name = "N")]
    pub vocab: usize,
    /// Vector dimension of that model.
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub dim: usize,
    /// Optimiser of that model (adam keeps two more matrices of moments).
    #[arg(long, value_enum, default_value_t = OptimizerKind::Sgd)]
    pub optimizer: OptimizerKind,
    /// Storage of W_in and W_out on the device (f16, bf16 with the fused SGD step only).
    #[arg(long, value_enum, default_value_t = Storage::F32)]
    pub storage: Storage,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct SyntheticArgs {
    /// Corpus text file to write.
    #[arg(long, value_name = "FILE")]
    pub output: PathBuf,
    /// Analogy questions file to write (questions-words format).
    #[arg(long, value_name = "FILE")]
    pub questions: Option<PathBuf>,
    /// Seed of the corpus drawn (the same seed gives the same text as `train` without --corpus).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Sentences per planted word.
    #[arg(long, default_value_t = crate::input::synthetic::DEFAULT_SENTENCES_PER_WORD, value_name = "N")]
    pub sentences_per_word: usize,
}

impl ModelArgs {
    /// The run these flags describe on `device` (not yet validated).
    pub fn config(&self, corpus: &CorpusArgs, device: Device) -> RunConfig {
        let m = self;
        RunConfig {
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
                lr: m
                    .lr
                    .unwrap_or_else(|| crate::train::default_lr(m.model, m.optimizer)),
                optimizer: m.optimizer,
                init: m.init,
                batch_size: m.batch_size,
                step: m.step,
                seed: m.seed,
                storage: m.storage,
                freeze_init: false,
            },
            corpus: corpus.config(),
            threads: m.threads,
            device,
            device_chunk: m.device_chunk,
            kernel: m.kernel,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn train_args(args: &[&str]) -> Result<TrainArgs, clap::Error> {
        let mut all = vec!["w2v-gpu", "train"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all)?.command {
            Command::Train(t) => Ok(*t),
            _ => unreachable!("a train command line"),
        }
    }

    fn config(args: &[&str]) -> RunConfig {
        let t = train_args(args).unwrap();
        t.model.config(&t.corpus, t.device)
    }

    #[test]
    fn flag_defaults_are_the_configuration_defaults() {
        assert_eq!(config(&[]), RunConfig::default());
        assert_eq!(config(&["--model", "cbow"]).train.lr, 0.05);
        assert_eq!(config(&["--optimizer", "adam"]).train.lr, 0.001);
        assert_eq!(config(&["--lr", "0.5"]).train.lr, 0.5);
        assert_eq!(config(&["--device", "cuda:2"]).device, Device::Cuda(2));
    }

    #[test]
    fn every_enum_reads_its_flag_spellings() {
        let c = config(&[
            "--format",
            "ptb",
            "--model",
            "cbow",
            "--negatives",
            "distinct",
            "--optimizer",
            "adam",
            "--init",
            "book",
            "--step",
            "composed",
            "--storage",
            "f16",
            "--device",
            "emulator",
        ]);
        assert_eq!(c.corpus.read.format, CorpusFormat::Ptb);
        assert_eq!(
            (c.train.model, c.train.negatives, c.train.optimizer),
            (ModelKind::Cbow, NegativeMode::Distinct, OptimizerKind::Adam)
        );
        assert_eq!(
            (c.train.init, c.train.step, c.train.storage, c.device),
            (
                Init::Book,
                StepKind::Composed,
                Storage::F16,
                Device::Emulator
            )
        );
        let t = train_args(&["--output-format", "text", "--save-dtype", "f16"]).unwrap();
        assert_eq!(
            (t.output_format, t.save_dtype),
            (Some(VectorFormat::Text), SaveDtype::F16)
        );
    }

    #[test]
    fn bad_flag_values_are_refused_by_the_parser_naming_the_flag() {
        for (args, flag) in [
            (&["--device", "gpu0"][..], "--device"),
            (&["--storage", "f8"], "--storage"),
            (&["--dim", "ten"], "--dim"),
        ] {
            let e = train_args(args).unwrap_err().to_string();
            assert!(e.contains(flag), "{args:?}: {e}");
        }
    }

    #[test]
    fn the_settings_given_on_the_command_line_are_recorded() {
        let parsed = parse_from(["w2v-gpu", "train", "--dim", "100", "--min-count=2"]).unwrap();
        let Command::Train(t) = parsed.command else {
            unreachable!("a train command line")
        };
        // Argument groups (the flattened structs) appear too; settings only when typed.
        let given = |name: &str| t.given.iter().any(|g| g == name);
        assert!(given("dim") && given("min_count"), "{:?}", t.given);
        assert!(!given("epochs") && !given("model"), "{:?}", t.given);
    }

    #[test]
    fn bench_takes_a_comma_separated_device_list() {
        let parsed = Cli::try_parse_from(["w2v-gpu", "bench", "--device", "cuda:1,cpu"]).unwrap();
        let Command::Bench(b) = parsed.command else {
            unreachable!("a bench command line")
        };
        assert_eq!(b.device, vec![Device::Cuda(1), Device::Cpu]);
        assert!(Cli::try_parse_from(["w2v-gpu", "bench", "--device", "cpu,tpu"]).is_err());
    }
}
