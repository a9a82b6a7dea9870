//! (placeholder until h/eval lands: the contract's API, writing nothing)
use crate::error::Result;
use std::path::Path;
pub struct EpochMetrics {
    pub epoch: u32,
    pub words: u64,
    pub loss: f64,
    pub words_per_sec: f64,
    pub lr: f64,
    pub analogy: Option<f64>,
    pub similarity: Vec<(String, f64)>,
}
pub struct MetricsWriter;
impl MetricsWriter {
    pub fn create(_path: &Path) -> Result<MetricsWriter> {
        Ok(MetricsWriter)
    }
    pub fn write(&mut self, _m: &EpochMetrics) -> Result<()> {
        Ok(())
    }
}
