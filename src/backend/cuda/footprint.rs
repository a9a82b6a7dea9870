//! Device memory a model needs on the CUDA backend, by part, and what the fused path adds to it
//! (for `w2v-gpu info` and the out-of-memory advice).

use std::fmt;

use super::device::fmt_bytes;
use crate::backend::{OptimizerKind, Storage};

/// Device memory a model of `vocab × dim` needs, by part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    /// `w_in` and `w_out`: 4 bytes per weight, 2 with [`Storage::F16`] and [`Storage::Bf16`].
    pub params: u64,
    /// Alias thresholds, alias targets, subsampling thresholds (u32 per word each).
    pub tables: u64,
    /// Adam's four moment matrices (zero for SGD).
    pub adam: u64,
    /// The composed path's dense gradients (allocated on its first use; zero for the fused path).
    pub grads: u64,
}

impl Footprint {
    /// Footprint of a model trained with `optimizer`; `composed` when the composed step runs.
    /// `storage` is that of `w_in`/`w_out` (f16 only trains with the fused SGD step).
    pub fn of(
        vocab: usize,
        dim: usize,
        optimizer: OptimizerKind,
        composed: bool,
        storage: Storage,
    ) -> Footprint {
        let matrix = (vocab * dim * 4) as u64;
        let adam = optimizer == OptimizerKind::Adam;
        let weight_bytes = match storage {
            Storage::F32 => 4,
            Storage::F16 | Storage::Bf16 => 2,
        };
        Footprint {
            params: 2 * (vocab * dim) as u64 * weight_bytes,
            tables: 3 * 4 * vocab as u64,
            adam: if adam { 4 * matrix } else { 0 },
            grads: if composed || adam { 2 * matrix } else { 0 },
        }
    }

    pub fn total(&self) -> u64 {
        self.params + self.tables + self.adam + self.grads
    }
}

impl fmt::Display for Footprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (parameters {}, tables {}",
            fmt_bytes(self.total()),
            fmt_bytes(self.params),
            fmt_bytes(self.tables)
        )?;
        if self.adam > 0 {
            write!(f, ", Adam moments {}", fmt_bytes(self.adam))?;
        }
        if self.grads > 0 {
            write!(f, ", gradients {}", fmt_bytes(self.grads))?;
        }
        write!(f, ")")
    }
}

/// Device memory the fused path adds on top of the model: the resident corpus chunk (u32 per
/// token) and the per-span compaction buffers of one batch (two u32 per batch token).
pub fn fused_overhead(chunk_tokens: usize, batch_tokens: usize) -> u64 {
    4 * chunk_tokens as u64 + 8 * batch_tokens as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footprint_counts_every_matrix() {
        let f = Footprint::of(1000, 100, OptimizerKind::Sgd, false, Storage::F32);
        assert_eq!(f.total(), 2 * 400_000 + 12_000);
        let h = Footprint::of(1000, 100, OptimizerKind::Sgd, false, Storage::F16);
        assert_eq!(h.params, 400_000);
        let a = Footprint::of(1000, 100, OptimizerKind::Adam, true, Storage::F32);
        assert_eq!(a.total(), 8 * 400_000 + 12_000);
        assert!(a.to_string().contains("Adam moments"));
    }
}
