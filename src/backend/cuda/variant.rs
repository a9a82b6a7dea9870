//! Which fused step kernel runs: version 2 (`kernels/sgns_v2.cu`, the default where it applies) or
//! version 1 (`kernels/sgns.cu`, the reference variant, kept measurable with `--kernel v1`), and
//! the launch geometry of each.
//!
//! v2 takes negative ≤ [`V2_MAX_NEGATIVE`] and dim ≤ [`V2_MAX_DIM`] (even, with f16 or bf16
//! storage); everything else (more negatives, wider rows, odd f16 rows) runs v1 whatever was asked
//! for. bf16 has v2 kernels only (`choose_step` refuses it outside their range and with `--kernel
//! v1`).

use super::device::{DeviceProps, LaunchConfig};
use super::geometry;
use crate::backend::Storage;
use crate::train::plan::{ModelKind, SPAN_LEN};

pub use crate::backend::step::KernelVariant;

/// Most negatives the v2 steps take (their six target rows live in registers).
pub const V2_MAX_NEGATIVE: u32 = 5;
/// Widest row the v2 steps take (three 128-float chunks a warp).
pub const V2_MAX_DIM: usize = 384;

/// Centres of a span one warp of the v2 skip-gram step walks in order, with its context rows
/// resident (`W2V_V2_RUN` in sgns_v2.cu).
pub const V2_SKIPGRAM_RUN: usize = 128;

/// The v2 step's blocks for `model` at `dim`: (warps a block, blocks an SM holds, as its
/// `__launch_bounds__` say). CBOW: 8 warps (its static shared memory is sized for 8). Skip-gram:
/// as many warps as its rings of resident rows (11·N KiB a warp for dim ≤ 128·N) fit in 48 KiB.
fn v2_blocks(model: ModelKind, dim: usize) -> (u32, u32) {
    match (model, dim.div_ceil(128).max(1)) {
        (ModelKind::Cbow, 1) => (8, 2),
        (ModelKind::Cbow, _) => (8, 1),
        (ModelKind::Skipgram, 1) => (4, 4),
        (ModelKind::Skipgram, 2) => (2, 4),
        (ModelKind::Skipgram, _) => (1, 6),
    }
}

/// The kernel that trains `model` with these settings when `variant` is asked for.
pub fn step_kernel(
    variant: KernelVariant,
    model: ModelKind,
    storage: Storage,
    negative: u32,
    dim: usize,
) -> &'static str {
    if !runs_v2(variant, storage, negative, dim) {
        return geometry::step_kernel(model, storage != Storage::F32, negative);
    }
    const SKIPGRAM: [&str; 3] = [
        "w2v_skipgram_step_v2_1",
        "w2v_skipgram_step_v2_2",
        "w2v_skipgram_step_v2_3",
    ];
    const CBOW: [&str; 3] = [
        "w2v_cbow_step_v2_1",
        "w2v_cbow_step_v2_2",
        "w2v_cbow_step_v2_3",
    ];
    const SKIPGRAM_F16: [&str; 3] = [
        "w2v_skipgram_step_v2_f16_1",
        "w2v_skipgram_step_v2_f16_2",
        "w2v_skipgram_step_v2_f16_3",
    ];
    const CBOW_F16: [&str; 3] = [
        "w2v_cbow_step_v2_f16_1",
        "w2v_cbow_step_v2_f16_2",
        "w2v_cbow_step_v2_f16_3",
    ];
    const SKIPGRAM_BF16: [&str; 3] = [
        "w2v_skipgram_step_v2_bf16_1",
        "w2v_skipgram_step_v2_bf16_2",
        "w2v_skipgram_step_v2_bf16_3",
    ];
    const CBOW_BF16: [&str; 3] = [
        "w2v_cbow_step_v2_bf16_1",
        "w2v_cbow_step_v2_bf16_2",
        "w2v_cbow_step_v2_bf16_3",
    ];
    let chunks = dim.div_ceil(128).max(1) - 1;
    match (model, storage) {
        (ModelKind::Skipgram, Storage::F32) => SKIPGRAM[chunks],
        (ModelKind::Cbow, Storage::F32) => CBOW[chunks],
        (ModelKind::Skipgram, Storage::F16) => SKIPGRAM_F16[chunks],
        (ModelKind::Cbow, Storage::F16) => CBOW_F16[chunks],
        (ModelKind::Skipgram, Storage::Bf16) => SKIPGRAM_BF16[chunks],
        (ModelKind::Cbow, Storage::Bf16) => CBOW_BF16[chunks],
    }
}

/// Whether v2 runs for these settings (bf16: always, in range; it has no v1 kernels).
pub fn runs_v2(variant: KernelVariant, storage: Storage, negative: u32, dim: usize) -> bool {
    (variant == KernelVariant::V2 || storage == Storage::Bf16)
        && negative <= V2_MAX_NEGATIVE
        && dim <= V2_MAX_DIM
        && (storage == Storage::F32 || dim.is_multiple_of(2))
}

/// The step's launch: v2 a persistent grid (as many blocks as the device holds at once, fewer
/// for a small batch: one warp a centre for CBOW, a run of [`V2_SKIPGRAM_RUN`] for skip-gram) of
/// [`v2_blocks`] with no dynamic shared memory, or one warp when `serial`; v1 as
/// [`geometry::sgns_step`]. `None` when v1's rows do not fit shared memory.
pub fn step_launch(
    props: &DeviceProps,
    v2: bool,
    serial: bool,
    model: ModelKind,
    n_spans: usize,
    dim: usize,
    negative: u32,
) -> Option<LaunchConfig> {
    match (v2, serial) {
        (true, true) => Some(LaunchConfig::linear(1, props.warp_size, 0)),
        (true, false) => {
            let (warps, per_sm) = v2_blocks(model, dim);
            let run = match model {
                ModelKind::Skipgram => V2_SKIPGRAM_RUN,
                ModelKind::Cbow => 1,
            };
            let resident = props.sm_count.max(1) * per_sm;
            let blocks = (n_spans * SPAN_LEN / run)
                .div_ceil(warps as usize)
                .clamp(1, resident as usize);
            Some(LaunchConfig::linear(
                blocks as u32,
                warps * props.warp_size,
                0,
            ))
        }
        (false, true) => geometry::sgns_step_serial(props, dim, negative),
        (false, false) => geometry::sgns_step(props, n_spans, dim, negative),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_runs_where_it_applies_and_v1_elsewhere() {
        use KernelVariant::{V1, V2};
        use ModelKind::{Cbow, Skipgram};
        assert_eq!(
            step_kernel(V2, Skipgram, Storage::F32, 5, 128),
            "w2v_skipgram_step_v2_1"
        );
        assert_eq!(
            step_kernel(V2, Cbow, Storage::F32, 5, 300),
            "w2v_cbow_step_v2_3"
        );
        assert_eq!(
            step_kernel(V2, Skipgram, Storage::F32, 5, 129),
            "w2v_skipgram_step_v2_2"
        );
        assert_eq!(
            step_kernel(V1, Skipgram, Storage::F32, 5, 128),
            "w2v_skipgram_step"
        );
        assert_eq!(
            step_kernel(V2, Skipgram, Storage::F16, 5, 128),
            "w2v_skipgram_step_v2_f16_1"
        );
        assert_eq!(
            step_kernel(V2, Skipgram, Storage::F16, 5, 127),
            "w2v_skipgram_step_f16"
        );
        assert_eq!(
            step_kernel(V1, Cbow, Storage::F16, 5, 128),
            "w2v_cbow_step_f16"
        );
        assert_eq!(step_kernel(V2, Cbow, Storage::F32, 6, 128), "w2v_cbow_step");
        assert_eq!(step_kernel(V2, Cbow, Storage::F32, 5, 385), "w2v_cbow_step");
        assert_eq!(
            step_kernel(V1, Skipgram, Storage::Bf16, 5, 128),
            "w2v_skipgram_step_v2_bf16_1"
        );
        assert_eq!(
            step_kernel(V2, Cbow, Storage::Bf16, 5, 300),
            "w2v_cbow_step_v2_bf16_3"
        );
        assert_eq!("v1".parse(), Ok(V1));
        assert!("v3"
            .parse::<KernelVariant>()
            .unwrap_err()
            .contains("v1 or v2"));
    }
}
