//! Which fused step kernel runs: version 2 (`kernels/sgns_v2.cu`, the default where it applies) or
//! version 1 (`kernels/sgns.cu`, the reference variant, kept measurable with `--kernel v1`), and
//! the launch geometry of each.
//!
//! v2 takes negative ≤ [`V2_MAX_NEGATIVE`] and dim ≤ [`V2_MAX_DIM`] (even, with f16 storage);
//! everything else (more negatives, wider rows, odd f16 rows) runs v1 whatever was asked for.

use super::device::{DeviceProps, LaunchConfig};
use super::geometry;
use crate::train::plan::{ModelKind, SPAN_LEN};

pub use crate::backend::step::KernelVariant;

/// Most negatives the v2 steps take (their six target rows live in registers).
pub const V2_MAX_NEGATIVE: u32 = 5;
/// Widest row the v2 steps take (three 128-float chunks a warp).
pub const V2_MAX_DIM: usize = 384;

/// Threads per block of the v2 steps (their static shared memory is sized for 8 warps).
const V2_BLOCK: u32 = 256;

/// Blocks of [`V2_BLOCK`] threads an SM holds of the v2 steps (their `__launch_bounds__`).
fn v2_blocks_per_sm(dim: usize) -> u32 {
    if dim <= 128 {
        2
    } else {
        1
    }
}

/// The kernel that trains `model` with these settings when `variant` is asked for.
pub fn step_kernel(
    variant: KernelVariant,
    model: ModelKind,
    half: bool,
    negative: u32,
    dim: usize,
) -> &'static str {
    if !runs_v2(variant, half, negative, dim) {
        return geometry::step_kernel(model, half, negative);
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
    let chunks = dim.div_ceil(128).max(1) - 1;
    match (model, half) {
        (ModelKind::Skipgram, false) => SKIPGRAM[chunks],
        (ModelKind::Cbow, false) => CBOW[chunks],
        (ModelKind::Skipgram, true) => SKIPGRAM_F16[chunks],
        (ModelKind::Cbow, true) => CBOW_F16[chunks],
    }
}

/// Whether v2 runs for these settings.
pub fn runs_v2(variant: KernelVariant, half: bool, negative: u32, dim: usize) -> bool {
    variant == KernelVariant::V2
        && negative <= V2_MAX_NEGATIVE
        && dim <= V2_MAX_DIM
        && (!half || dim % 2 == 0)
}

/// The step's launch: v2 a persistent grid (as many blocks as the device holds at once, fewer
/// for a small batch) of 8-warp blocks with no dynamic shared memory, or one warp when `serial`;
/// v1 as [`geometry::sgns_step`]. `None` when v1's rows do not fit shared memory.
pub fn step_launch(
    props: &DeviceProps,
    v2: bool,
    serial: bool,
    n_spans: usize,
    dim: usize,
    negative: u32,
) -> Option<LaunchConfig> {
    match (v2, serial) {
        (true, true) => Some(LaunchConfig::linear(1, props.warp_size, 0)),
        (true, false) => {
            let warps = (V2_BLOCK / props.warp_size.max(1)) as usize;
            let resident = props.sm_count.max(1) * v2_blocks_per_sm(dim);
            let blocks = (n_spans * SPAN_LEN)
                .div_ceil(warps)
                .clamp(1, resident as usize);
            Some(LaunchConfig::linear(blocks as u32, V2_BLOCK, 0))
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
            step_kernel(V2, Skipgram, false, 5, 128),
            "w2v_skipgram_step_v2_1"
        );
        assert_eq!(step_kernel(V2, Cbow, false, 5, 300), "w2v_cbow_step_v2_3");
        assert_eq!(
            step_kernel(V2, Skipgram, false, 5, 129),
            "w2v_skipgram_step_v2_2"
        );
        assert_eq!(
            step_kernel(V1, Skipgram, false, 5, 128),
            "w2v_skipgram_step"
        );
        assert_eq!(
            step_kernel(V2, Skipgram, true, 5, 128),
            "w2v_skipgram_step_v2_f16_1"
        );
        assert_eq!(
            step_kernel(V2, Skipgram, true, 5, 127),
            "w2v_skipgram_step_f16"
        );
        assert_eq!(step_kernel(V1, Cbow, true, 5, 128), "w2v_cbow_step_f16");
        assert_eq!(step_kernel(V2, Cbow, false, 6, 128), "w2v_cbow_step");
        assert_eq!(step_kernel(V2, Cbow, false, 5, 385), "w2v_cbow_step");
        assert_eq!("v1".parse(), Ok(V1));
        assert!("v3"
            .parse::<KernelVariant>()
            .unwrap_err()
            .contains("v1 or v2"));
    }
}
