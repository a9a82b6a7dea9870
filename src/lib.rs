//! w2v-gpu: word2vec (skip-gram and CBOW with negative sampling) on CUDA kernels or the CPU.
//!
//! The folders follow the data: [`input`] (corpus text → vocabulary → encoded ids) →
//! [`train`] (the step contract, sampling, the epoch loop) → [`backend`] (CPU, CUDA, emulated
//! device) → [`output`] (vectors, checkpoints, metrics, plots) → [`query`] (neighbours and
//! evaluation); [`cli`] wires them to the command line. ARCHITECTURE.md has the picture.

pub mod backend;
pub mod cli;
pub mod dist;
pub mod error;
pub mod input;
pub mod output;
pub mod query;
pub mod train;

pub use error::{Error, Result};
