//! What comes out: vectors files, checkpoints, per-epoch metrics and loss plots, each written whole
//! or not at all.

pub mod checkpoint;
pub mod export;
pub mod fsutil;
pub mod metrics;
pub mod plot;
pub mod vectors;
