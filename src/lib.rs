//! w2v-gpu: word2vec (skip-gram and CBOW with negative sampling) on CUDA kernels or the CPU.
//!
//! Data flow: corpus file → [`corpus`] tokens → [`vocab`] ids → epochs of [`plan::Batch`]es →
//! [`backend::Backend::train_batch`] → [`vectors`] files → [`similarity`] / [`eval`].

pub mod backend;
pub mod checkpoint;
pub mod cli;
pub mod corpus;
pub mod error;
pub mod eval;
pub mod fsutil;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod plot;
pub mod progress;
pub mod rng;
pub mod sampler;
pub mod similarity;
pub mod synthetic;
pub mod train;
pub mod vectors;
pub mod vocab;

pub use error::{Error, Result};
