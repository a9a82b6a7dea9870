//! Training: the settings of a run, the step contract every backend follows, its random draws, the
//! initial weights, and the epoch loop that feeds batches to a backend.

pub mod config;
mod epoch;
pub mod model;
pub mod plan;
pub mod progress;
mod ranks;
pub mod reference;
pub mod rng;
pub mod sampler;
pub mod session;

pub use config::{default_lr, CorpusConfig, Device, RunConfig, StepKind, TrainConfig};
pub use epoch::*;
