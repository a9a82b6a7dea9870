//! (placeholder until h/eval lands: the contract's API, not yet storing anything)
use crate::error::{Error, Result};
use std::path::Path;
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SaveDtype {
    F32,
    F16,
}
pub struct Checkpoint {
    pub words: Vec<String>,
    pub counts: Vec<u64>,
    pub dim: usize,
    pub w_in: Vec<f32>,
    pub w_out: Vec<f32>,
    pub adam: Option<[Vec<f32>; 4]>,
    pub adam_t: u64,
    pub epoch: u64,
    pub next_token: u64,
    pub settings_json: String,
    pub seed: u64,
}
pub fn save_checkpoint(_path: &Path, _ck: &Checkpoint, _dtype: SaveDtype) -> Result<()> {
    Ok(())
}
pub fn load_checkpoint(path: &Path) -> Result<Checkpoint> {
    Err(Error::format(
        path,
        "checkpoints are not available in this build",
    ))
}
