//! How the library's enums read as flag values: each variant's spelling and `--help` line, as
//! clap `ValueEnum`s written here, so the library stays free of clap.

use clap::builder::PossibleValue;
use clap::ValueEnum;

use crate::backend::{OptimizerKind, Storage};
use crate::dist::{Merge, RankLr, SyncMode};
use crate::input::corpus::CorpusFormat;
use crate::output::checkpoint::SaveDtype;
use crate::output::export::{ExportFormat, Which};
use crate::output::vectors::VectorFormat;
use crate::train::model::Init;
use crate::train::plan::ModelKind;
use crate::train::sampler::NegativeMode;
use crate::train::StepKind;

/// `ValueEnum` for a library enum: each variant's flag spelling and `--help` line, so the library
/// stays free of clap.
macro_rules! flag_values {
    ($ty:ident { $($variant:ident => $name:literal $(: $help:literal)?),+ $(,)? }) => {
        impl ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($ty::$variant),+]
            }
            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(match self {
                    $($ty::$variant => PossibleValue::new($name)$(.help($help))?),+
                })
            }
        }
    };
}

flag_values!(CorpusFormat {
    Plain => "plain": "Whitespace-separated words; a line end ends a sentence",
    Ptb => "ptb": "Penn Treebank as the book reads it: each line end is the word `<eos>`",
});
flag_values!(SyncMode {
    Sparse => "sparse": "Only the rows of W_in and W_out some rank changed since the last synchronisation",
    Dense => "dense": "Every row of both matrices",
});
flag_values!(Merge {
    Touched => "touched": "The last synchronised rows plus the mean change of the ranks that changed each row: a row one rank trained keeps its change whole, one every rank trained moves by their mean change; stable for any number of ranks",
    Mixed => "mixed": "W_in averaged, W_out's changes summed: close to one process on two ranks, diverges on eight",
    Sum => "sum": "The last synchronised rows plus every rank's change to them (each change counts fully)",
    Mean => "mean": "The ranks' rows averaged (each rank's change counts 1/ranks)",
});
flag_values!(RankLr {
    Auto => "auto": "× √ranks with --merge touched or mean (which average the ranks' changes), × 1 with sum or mixed",
    Same => "same": "--lr as given, whatever the number of ranks",
    Sqrt => "sqrt": "× √ranks",
    Linear => "linear": "× ranks (the linear scaling rule)",
});
flag_values!(ModelKind {
    Skipgram => "skipgram",
    Cbow => "cbow",
});
flag_values!(NegativeMode {
    Replace => "replace",
    Distinct => "distinct",
});
flag_values!(OptimizerKind {
    Sgd => "sgd": "Plain SGD with word2vec.c's linear decay (the fused fast path)",
    Adam => "adam": "Row-sparse (\"lazy\") Adam, the book's choice: only rows touched by a \
        minibatch update their moments, with bias correction by the global step count (composed \
        path)",
});
flag_values!(Init {
    Word2vec => "word2vec": "word2vec.c: `W_in` uniform in ±0.5/dim, `W_out` zero",
    Book => "book": "The book: `0.01 · N(0, 1)` for both matrices",
});
flag_values!(StepKind {
    Fused => "fused": "The backend's fused fast path (SGD only; Adam always composes)",
    Composed => "composed": "The book's layers composed, in minibatches of `--batch-size` centres",
});
flag_values!(Storage {
    F32 => "f32": "32-bit floats, as the CPU backend (the default)",
    F16 => "f16": "IEEE half (16-bit): half the device memory and traffic of the two matrices; \
        each update is computed in f32 and rounded to the nearest half when stored. CUDA fused \
        SGD step only",
    Bf16 => "bf16": "bfloat16: the size of f16 with f32's range and 8 significant bits; each \
        update is computed in f32 and rounded to the nearest bfloat16 when stored. CUDA fused SGD \
        step with the v2 kernels only (--negative 5 or less, an even --dim up to 384)",
});
flag_values!(VectorFormat {
    Bin => "bin": "word2vec binary (`-binary 1`), what gensim reads with `binary=True`",
    Text => "text": "word2vec text, one word and its values per line",
});
flag_values!(ExportFormat {
    Bin => "bin": "word2vec binary",
    Text => "text": "word2vec text (fastText's .vec)",
    Npy => "npy": "numpy float32 [words, dim], with NAME.vocab beside it",
    Safetensors => "safetensors": "tensors vectors, counts and words (the vocabulary, UTF-8 lines), with NAME.vocab beside it",
});

impl ValueEnum for Which {
    fn value_variants<'a>() -> &'a [Self] {
        &[Which::In, Which::Out, Which::Avg]
    }
    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Which::In => {
                PossibleValue::new("in").help("W_in, the word vectors (what train -o writes)")
            }
            Which::Out => PossibleValue::new("out").help("W_out, the context vectors"),
            Which::Avg => PossibleValue::new("avg")
                .alias("sum")
                .help("(W_in + W_out) / 2 (`sum` is the same ranking: cosine ignores the scale)"),
        })
    }
}

flag_values!(SaveDtype {
    F32 => "f32": "Exact weights (resuming continues bit-for-bit)",
    F16 => "f16": "Half the size; weights rounded to 11 significant bits",
});
