//! The settings of a run, in one clap-free type with one validation, whether they come from the
//! command line, from a checkpoint or from the defaults.
//!
//! The command line maps its flags into [`RunConfig`]; `--resume` replaces the training and corpus
//! settings with those the checkpoint recorded ([`RunConfig::resumed`]); either way
//! [`RunConfig::validate`] checks the result before any work, and every refusal is one line naming
//! the flag and the fix. What only the vocabulary can tell ([`TrainConfig::check_vocabulary`]) is
//! checked once the corpus is read; what only the device can tell is
//! [`crate::backend::choose_step`]'s.

use std::path::PathBuf;

use crate::backend::step::KernelVariant;
use crate::backend::{OptimizerKind, Storage};
use crate::error::{Error, Result};
use crate::input::corpus::ReadOptions;
use crate::input::identity::{absolute, CorpusIdentity};
use crate::train::model::Init;
use crate::train::plan::{ModelKind, StepConfig};
use crate::train::sampler::NegativeMode;

/// Which implementation of a step trains: the backend's fast path or the composed layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum StepKind {
    /// The backend's fused fast path (SGD only; Adam always composes).
    #[default]
    Fused,
    /// The book's layers composed, in minibatches of `--batch-size` centres.
    Composed,
}

/// Every setting that shapes training (stored in checkpoints).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    pub model: ModelKind,
    pub dim: usize,
    pub window: u32,
    pub fixed_window: bool,
    pub negative: u32,
    pub negatives: NegativeMode,
    pub power: f64,
    pub sample: f64,
    pub epochs: u32,
    pub lr: f64,
    pub optimizer: OptimizerKind,
    pub init: Init,
    pub batch_size: usize,
    pub step: StepKind,
    pub seed: u64,
    /// How the device stores W_in and W_out (absent from older checkpoints: f32).
    #[serde(default)]
    pub storage: Storage,
    /// `--freeze-init`: the rows `--init-vectors` set stay fixed (not recorded: a run that
    /// freezes writes no checkpoint).
    #[serde(skip)]
    pub freeze_init: bool,
}

/// word2vec.c's settings (skip-gram, dim 100, window 5, 5 negatives, sample 1e-3, 5 epochs) but
/// skip-gram's learning rate, chosen by the sweep in `benches/RESULTS.md` (issue 14).
impl Default for TrainConfig {
    fn default() -> TrainConfig {
        let (model, optimizer) = (ModelKind::Skipgram, OptimizerKind::Sgd);
        TrainConfig {
            model,
            dim: 100,
            window: 5,
            fixed_window: false,
            negative: 5,
            negatives: NegativeMode::Replace,
            power: 0.75,
            sample: 1e-3,
            epochs: 5,
            lr: default_lr(model, optimizer),
            optimizer,
            init: Init::Word2vec,
            batch_size: 128,
            step: StepKind::Fused,
            seed: 1,
            storage: Storage::F32,
            freeze_init: false,
        }
    }
}

/// Default learning rate of a model and optimiser: skip-gram 0.05 (fastText's; against
/// word2vec.c's 0.025 it won analogies on every corpus of the defaults sweep in
/// `benches/RESULTS.md` and WordSim-353 on the KJV, and lost SimLex-999), CBOW 0.05 (word2vec.c's,
/// which no other rate in that sweep bettered on every corpus), Adam 0.001 (the book's).
pub fn default_lr(model: ModelKind, optimizer: OptimizerKind) -> f64 {
    match (optimizer, model) {
        (OptimizerKind::Adam, _) => 0.001,
        (OptimizerKind::Sgd, ModelKind::Skipgram) => 0.05,
        (OptimizerKind::Sgd, ModelKind::Cbow) => 0.05,
    }
}

impl TrainConfig {
    pub fn step_config(&self) -> StepConfig {
        StepConfig {
            model: self.model,
            window: self.window,
            fixed_window: self.fixed_window,
            negative: self.negative,
            negatives: self.negatives,
            seed: self.seed,
        }
    }

    /// Learning rate at global token position `g` of `total` (all epochs' tokens).
    pub fn lr_at(&self, g: u64, total: u64) -> f32 {
        match self.optimizer {
            OptimizerKind::Adam => self.lr as f32,
            OptimizerKind::Sgd => {
                let frac = g as f64 / total.max(1) as f64;
                (self.lr + (self.lr * 1e-4 - self.lr) * frac) as f32
            }
        }
    }

    /// The settings only a vocabulary of `vocab_len` words can refute (checked once it is read).
    pub fn check_vocabulary(&self, vocab_len: usize) -> Result<()> {
        if self.negatives == NegativeMode::Distinct && vocab_len <= self.negative as usize {
            return Err(Error::Config(format!(
                "--negatives distinct needs more than --negative {} words, but the vocabulary has {vocab_len}; lower --negative or --min-count",
                self.negative
            )));
        }
        Ok(())
    }
}

/// Which device trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Cuda(usize),
    /// `cuda:0` when a working GPU is present, else the CPU.
    Auto,
    /// The CUDA kernels compiled for the CPU (builds with the `emulator` feature).
    Emulator,
}

impl std::str::FromStr for Device {
    type Err = Error;
    fn from_str(s: &str) -> Result<Device> {
        let bad = || Error::Config("expected cpu, cuda:N (e.g. cuda:0), auto or emulator".into());
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

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
            Device::Auto => write!(f, "auto"),
            Device::Emulator => write!(f, "emulator"),
        }
    }
}

/// Where the training text comes from and how its vocabulary is built.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CorpusConfig {
    /// The corpus files, directories or `-` (standard input), read in this order; none is the
    /// built-in synthetic corpus. Older checkpoints record one path or `null`.
    #[serde(rename = "corpus", default, deserialize_with = "one_or_many")]
    pub paths: Vec<PathBuf>,
    pub read: ReadOptions,
    pub min_count: u64,
    pub max_vocab: Option<usize>,
    /// A vocabulary file to encode with instead of counting (not recorded: a checkpoint keeps the
    /// vocabulary itself).
    #[serde(skip)]
    pub read_vocab: Option<PathBuf>,
    /// Where to write the vocabulary (not recorded).
    #[serde(skip)]
    pub save_vocab: Option<PathBuf>,
    /// Distinct words counted before rare ones are pruned; `None` = word2vec.c's budget (not
    /// recorded: it shapes only a vocabulary the checkpoint keeps).
    #[serde(skip)]
    pub vocab_budget: Option<usize>,
}

/// The corpus of a checkpoint's settings: a list of paths, or one path or `null` as older
/// releases wrote.
fn one_or_many<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<PathBuf>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Paths {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    let paths: Option<Paths> = serde::Deserialize::deserialize(d)?;
    Ok(match paths {
        None => Vec::new(),
        Some(Paths::One(p)) => vec![p],
        Some(Paths::Many(v)) => v,
    })
}

/// A training run's settings: training, corpus, threads and device.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    pub train: TrainConfig,
    pub corpus: CorpusConfig,
    /// CPU worker threads; 0 = all cores.
    pub threads: usize,
    pub device: Device,
    /// Corpus tokens resident on a GPU at once; 0 = sized from free device memory.
    pub device_chunk: usize,
    /// The fused step kernels a CUDA device runs (`--kernel`, for measurement).
    pub kernel: KernelVariant,
}

impl Default for RunConfig {
    fn default() -> RunConfig {
        RunConfig {
            train: TrainConfig::default(),
            corpus: CorpusConfig {
                min_count: 5,
                ..CorpusConfig::default()
            },
            threads: 0,
            device: Device::Auto,
            device_chunk: 0,
            kernel: KernelVariant::default(),
        }
    }
}

/// What a checkpoint records of a run's settings. Device, threads and chunk are not recorded: a
/// resumed run takes them from its own command line. The layout is that of every checkpoint
/// written so far (`corpus`, `read`, `min_count`, `max_vocab` beside `train`), plus
/// `corpus_identity` (absent from older checkpoints, whose corpus is then not verified).
#[derive(serde::Serialize, serde::Deserialize)]
struct Recorded {
    train: TrainConfig,
    #[serde(flatten)]
    corpus: CorpusConfig,
    #[serde(default)]
    corpus_identity: Option<CorpusIdentity>,
}

/// The settings a checkpoint records that a resumed run's command line may not change, by the
/// name of their flag's argument (`min_count` is `--min-count`), with where each sits in the
/// recorded JSON. `--epochs` is absent (it may extend a run), and so is `--corpus` (a moved corpus
/// is checked by its identity instead).
const FIXED_ON_RESUME: [(&str, &str); 19] = [
    ("model", "/train/model"),
    ("dim", "/train/dim"),
    ("window", "/train/window"),
    ("fixed_window", "/train/fixed_window"),
    ("negative", "/train/negative"),
    ("negatives", "/train/negatives"),
    ("power", "/train/power"),
    ("sample", "/train/sample"),
    ("lr", "/train/lr"),
    ("optimizer", "/train/optimizer"),
    ("init", "/train/init"),
    ("batch_size", "/train/batch_size"),
    ("step", "/train/step"),
    ("seed", "/train/seed"),
    ("storage", "/train/storage"),
    ("format", "/read/format"),
    ("lowercase", "/read/lowercase"),
    ("min_count", "/min_count"),
    ("max_vocab", "/max_vocab"),
];

/// A flag given with `--resume` whose value is not the checkpoint's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contradiction {
    /// The flag as typed (`--min-count`).
    pub flag: String,
    /// Its value on this command line and in the checkpoint, as flag values (`cbow`, `100`).
    pub given: String,
    pub recorded: String,
}

/// A run continued from a checkpoint: its settings, and the corpus it was trained on when the
/// checkpoint says.
#[derive(Clone, Debug, PartialEq)]
pub struct ResumedRun {
    pub cfg: RunConfig,
    pub corpus_identity: Option<CorpusIdentity>,
}

impl RunConfig {
    /// The one validation of a run's settings, wherever they came from.
    pub fn validate(&self) -> Result<()> {
        let t = &self.train;
        let fail = |msg: String| Err(Error::Config(msg));
        if t.dim == 0 {
            return fail("--dim must be at least 1 (got 0); try --dim 100".into());
        }
        if t.window == 0 {
            return fail("--window must be at least 1 (got 0); try --window 5".into());
        }
        if t.epochs == 0 {
            return fail("--epochs must be at least 1 (got 0); try --epochs 5".into());
        }
        if t.negative == 0 && t.negatives == NegativeMode::Distinct {
            return fail(
                "--negative 0 with --negatives distinct draws no negatives; use --negative 5"
                    .into(),
            );
        }
        if !(t.sample >= 0.0 && t.sample.is_finite()) {
            return fail(format!(
                "--sample must be 0 (off) or positive (got {}); try --sample 1e-3",
                t.sample
            ));
        }
        if !(t.power.is_finite() && t.power >= 0.0) {
            return fail(format!(
                "--power must be a non-negative number (got {}); try --power 0.75",
                t.power
            ));
        }
        if t.batch_size == 0 {
            return fail("--batch-size must be at least 1 (got 0); try --batch-size 128".into());
        }
        if !(t.lr > 0.0 && t.lr.is_finite()) {
            return fail(format!(
                "--lr must be positive (got {}); try --lr {}",
                t.lr,
                default_lr(t.model, t.optimizer)
            ));
        }
        if self.corpus.max_vocab == Some(0) {
            return fail(
                "--max-vocab must be at least 1 (got 0); leave it out to keep every word".into(),
            );
        }
        if self.corpus.vocab_budget == Some(0) {
            return fail(
                "--vocab-budget must be at least 1 (got 0); leave it out for word2vec.c's 14,700,000"
                    .into(),
            );
        }
        Ok(())
    }

    /// The settings a checkpoint records (JSON), with the corpus path made absolute and the
    /// corpus's `identity` when it has one.
    pub fn checkpoint_json(&self, identity: Option<&CorpusIdentity>) -> Result<String> {
        let mut corpus = self.corpus.clone();
        // Standard input (`-`) stays as it is: it has no path to make absolute.
        corpus.paths = corpus
            .paths
            .iter()
            .map(|p| {
                if p.as_os_str() == "-" {
                    p.clone()
                } else {
                    absolute(p)
                }
            })
            .collect();
        serde_json::to_string(&Recorded {
            train: self.train.clone(),
            corpus,
            corpus_identity: identity.cloned(),
        })
        .map_err(|e| Error::Input(format!("cannot record the settings: {e}")))
    }

    /// This run continued from the settings a checkpoint recorded (`json`): its training and
    /// corpus settings, this run's device, threads and chunk, this run's corpus path when one was
    /// given, and this run's `--epochs` when `given("epochs")` (a flag's argument name: was it on
    /// the command line?). Not validated: that is [`RunConfig::validate`]'s job, as for any other
    /// source; nor compared with the flags: that is [`RunConfig::contradiction`]'s.
    pub fn resumed(
        &self,
        json: &str,
        given: &dyn Fn(&str) -> bool,
    ) -> std::result::Result<ResumedRun, serde_json::Error> {
        let rec: Recorded = serde_json::from_str(json)?;
        let epochs = if given("epochs") {
            self.train.epochs
        } else {
            rec.train.epochs
        };
        Ok(ResumedRun {
            cfg: RunConfig {
                train: TrainConfig {
                    epochs,
                    ..rec.train
                },
                corpus: CorpusConfig {
                    paths: match self.corpus.paths.is_empty() {
                        true => rec.corpus.paths,
                        false => self.corpus.paths.clone(),
                    },
                    read_vocab: self.corpus.read_vocab.clone(),
                    save_vocab: self.corpus.save_vocab.clone(),
                    vocab_budget: self.corpus.vocab_budget,
                    ..rec.corpus
                },
                ..self.clone()
            },
            corpus_identity: rec.corpus_identity,
        })
    }

    /// The first setting given on this command line (`given`, by argument name) that differs
    /// from the one `recorded` (the checkpoint's settings); `--epochs` may differ.
    pub fn contradiction(
        &self,
        recorded: &RunConfig,
        given: &dyn Fn(&str) -> bool,
    ) -> Option<Contradiction> {
        // Both sides go through the same JSON text, so a float compares equal exactly when the
        // checkpoint was written from the same value.
        let as_json = |c: &RunConfig| -> Option<serde_json::Value> {
            let text = c.checkpoint_json(None).ok()?;
            serde_json::from_str(&text).ok()
        };
        let (now, was) = (as_json(self)?, as_json(recorded)?);
        FIXED_ON_RESUME
            .iter()
            .filter(|(name, _)| given(name))
            .find_map(|(name, pointer)| {
                let (a, b) = (now.pointer(pointer)?, was.pointer(pointer)?);
                (a != b).then(|| Contradiction {
                    flag: format!("--{}", name.replace('_', "-")),
                    given: flag_value(a),
                    recorded: flag_value(b),
                })
            })
    }
}

/// A recorded setting as its flag value: enums as their lowercase spelling, `null` as `none`.
fn flag_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.to_lowercase(),
        serde_json::Value::Null => "none".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each case breaks one setting of a valid run; the refusal must be one line that names the
    /// flag and shows the fix (`try …`, `use …` or `leave it out`).
    #[test]
    fn every_refusal_is_one_line_naming_the_flag_and_the_fix() {
        let ok = RunConfig::default();
        ok.validate().unwrap();
        let t = |f: fn(&mut TrainConfig)| {
            let mut c = ok.clone();
            f(&mut c.train);
            c
        };
        let cases = [
            (t(|t| t.dim = 0), "--dim", "try --dim 100"),
            (t(|t| t.window = 0), "--window", "try --window 5"),
            (t(|t| t.epochs = 0), "--epochs", "try --epochs 5"),
            (
                t(|t| {
                    t.negative = 0;
                    t.negatives = NegativeMode::Distinct
                }),
                "--negative 0",
                "use --negative 5",
            ),
            (t(|t| t.sample = -0.1), "--sample", "try --sample 1e-3"),
            (t(|t| t.sample = f64::NAN), "--sample", "try --sample 1e-3"),
            (t(|t| t.power = -1.0), "--power", "try --power 0.75"),
            (
                t(|t| t.power = f64::INFINITY),
                "--power",
                "try --power 0.75",
            ),
            (
                t(|t| t.batch_size = 0),
                "--batch-size",
                "try --batch-size 128",
            ),
            (t(|t| t.lr = 0.0), "--lr", "try --lr 0.05"),
            (t(|t| t.lr = f64::NAN), "--lr", "try --lr 0.05"),
            (
                t(|t| {
                    t.optimizer = OptimizerKind::Adam;
                    t.lr = -1.0
                }),
                "--lr",
                "try --lr 0.001",
            ),
            (
                RunConfig {
                    corpus: CorpusConfig {
                        max_vocab: Some(0),
                        ..ok.corpus.clone()
                    },
                    ..ok.clone()
                },
                "--max-vocab",
                "leave it out",
            ),
        ];
        for (cfg, flag, fix) in cases {
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.starts_with(flag), "{flag}: {e}");
            assert!(e.contains(fix) && !e.contains('\n'), "{flag}: {e}");
        }
        assert!(t(|t| t.negative = 0).validate().is_ok());
    }

    #[test]
    fn a_distinct_draw_needs_more_words_than_negatives() {
        let cfg = TrainConfig {
            negatives: NegativeMode::Distinct,
            negative: 5,
            ..TrainConfig::default()
        };
        cfg.check_vocabulary(6).unwrap();
        let e = cfg.check_vocabulary(5).unwrap_err().to_string();
        assert!(e.contains("--negative 5") && e.contains("has 5"), "{e}");
        let replace = TrainConfig {
            negative: 5,
            ..TrainConfig::default()
        };
        replace.check_vocabulary(2).unwrap();
    }

    #[test]
    fn devices_parse_and_print_back() {
        for (s, d) in [
            ("cpu", Device::Cpu),
            ("cuda:3", Device::Cuda(3)),
            ("cuda", Device::Cuda(0)),
            ("AUTO", Device::Auto),
            ("emulator", Device::Emulator),
        ] {
            assert_eq!(s.parse::<Device>().unwrap(), d);
            assert_eq!(d.to_string().parse::<Device>().unwrap(), d);
        }
        for bad in ["tpu:0", "cuda:x", "cuda:-1", ""] {
            let e = bad.parse::<Device>().unwrap_err().to_string();
            assert!(e.contains("cuda:N") && !e.contains('\n'), "{bad}: {e}");
        }
    }

    #[test]
    fn a_checkpoint_records_training_and_corpus_settings_and_resumes_with_this_device() {
        let saved = RunConfig {
            train: TrainConfig {
                dim: 24,
                optimizer: OptimizerKind::Adam,
                ..TrainConfig::default()
            },
            corpus: CorpusConfig {
                paths: vec!["c.txt".into()],
                min_count: 2,
                ..CorpusConfig::default()
            },
            threads: 7,
            device: Device::Emulator,
            device_chunk: 3,
            kernel: KernelVariant::V1,
        };
        let json = saved.checkpoint_json(None).unwrap();
        let now = RunConfig {
            device: Device::Cpu,
            threads: 1,
            ..RunConfig::default()
        };
        let back = now.resumed(&json, &|_| false).unwrap();
        assert_eq!(back.corpus_identity, None);
        let back = back.cfg;
        assert_eq!(back.train, saved.train);
        // The path is recorded absolute, so a resume from another directory finds it.
        let recorded = back.corpus.paths[0].clone();
        assert!(
            recorded.is_absolute() && recorded.ends_with("c.txt"),
            "{recorded:?}"
        );
        assert_eq!(back.corpus.min_count, 2);
        assert_eq!(
            (back.device, back.threads, back.device_chunk),
            (Device::Cpu, 1, 0)
        );
        let elsewhere = RunConfig {
            corpus: CorpusConfig {
                paths: vec!["/moved/c.txt".into()],
                ..CorpusConfig::default()
            },
            ..now.clone()
        };
        let moved = elsewhere.resumed(&json, &|_| false).unwrap().cfg;
        assert_eq!(moved.corpus.paths, ["/moved/c.txt"].map(PathBuf::from));
        assert_eq!(moved.corpus.min_count, 2);
        // --epochs given on the command line extends the run; not given, the checkpoint's stays.
        let longer = RunConfig {
            train: TrainConfig {
                epochs: 9,
                ..TrainConfig::default()
            },
            ..now
        };
        let given = |name: &str| name == "epochs";
        assert_eq!(longer.resumed(&json, &given).unwrap().cfg.train.epochs, 9);
        assert_eq!(
            longer.resumed(&json, &|_| false).unwrap().cfg.train.epochs,
            5
        );
    }

    /// A flag given with `--resume` that differs from the checkpoint is named with both values;
    /// one that agrees, one not given, and `--epochs` are not contradictions.
    #[test]
    fn a_flag_that_contradicts_the_checkpoint_is_found_with_both_values() {
        let recorded = RunConfig {
            train: TrainConfig {
                dim: 24,
                lr: 0.0125,
                ..TrainConfig::default()
            },
            ..RunConfig::default()
        };
        let mut cli = RunConfig::default();
        let none = |_: &str| false;
        assert_eq!(cli.contradiction(&recorded, &none), None);
        let dim = |n: &str| n == "dim";
        let c = cli.contradiction(&recorded, &dim).unwrap();
        assert_eq!((c.flag.as_str(), c.given.as_str()), ("--dim", "100"));
        assert_eq!(c.recorded, "24");
        cli.train.model = ModelKind::Cbow;
        let model = |n: &str| n == "model";
        let c = cli.contradiction(&recorded, &model).unwrap();
        assert_eq!(
            (c.given.as_str(), c.recorded.as_str()),
            ("cbow", "skipgram")
        );
        cli.corpus.min_count = 1;
        let c = cli.contradiction(&recorded, &|n| n == "min_count").unwrap();
        assert_eq!((c.flag.as_str(), c.recorded.as_str()), ("--min-count", "5"));
        let same = RunConfig {
            train: TrainConfig {
                epochs: 50,
                ..recorded.train.clone()
            },
            ..recorded.clone()
        };
        assert_eq!(same.contradiction(&recorded, &|_| true), None);
    }

    /// A checkpoint written before this type existed (the settings JSON of an older release).
    #[test]
    fn older_checkpoints_settings_still_read() {
        let old = r#"{"train":{"model":"Skipgram","dim":24,"window":5,"fixed_window":false,
            "negative":5,"negatives":"Replace","power":0.75,"sample":0.001,"epochs":3,"lr":0.025,
            "optimizer":"Sgd","init":"Word2vec","batch_size":128,"step":"Fused","seed":1},
            "read":{"format":"Plain","lowercase":false},"corpus":"c.txt","min_count":5,
            "max_vocab":null}"#;
        let back = RunConfig::default().resumed(old, &|_| false).unwrap();
        assert_eq!(back.corpus_identity, None);
        let back = back.cfg;
        assert_eq!(back.train.dim, 24);
        assert_eq!(back.train.storage, Storage::F32);
        assert_eq!(back.corpus.paths, ["c.txt"].map(PathBuf::from));
        let none = old.replace(r#""corpus":"c.txt""#, r#""corpus":null"#);
        assert!(RunConfig::default()
            .resumed(&none, &|_| false)
            .unwrap()
            .cfg
            .corpus
            .paths
            .is_empty());
        back.validate().unwrap();
    }
}
