//! Using trained vectors: cosine neighbours and analogies, and the analogy and similarity benchmarks.

pub mod eval;
pub mod similarity;
pub mod wordsim;
