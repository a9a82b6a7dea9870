//! Launch geometry of every kernel, from the device's properties (the same rules on every device).
//!
//! The layer kernels are grid-stride loops that accept any 1-D grid (see each `kernels/*.cu`
//! header), so the grid is capped at a few waves of blocks per SM rather than sized to the data:
//! enough resident blocks to hide memory latency, no launch of millions of tiny blocks.

use super::device::{DeviceProps, LaunchConfig};

/// Threads per block of the grid-stride kernels (a multiple of the warp size).
pub const BLOCK: u32 = 256;

/// Resident blocks per SM worth launching for a memory-bound grid-stride kernel.
const BLOCKS_PER_SM: u32 = 32;

/// A grid-stride launch over `n` independent items of one thread each.
pub fn elementwise(props: &DeviceProps, n: usize) -> LaunchConfig {
    let blocks = n
        .div_ceil(BLOCK as usize)
        .clamp(1, (BLOCKS_PER_SM * props.sm_count.max(1)) as usize);
    LaunchConfig::linear(blocks as u32, BLOCK, 0)
}

/// A grid-stride launch over the `n_rows · dim` elements of a row-major matrix.
pub fn rows(props: &DeviceProps, n_rows: usize, dim: usize) -> LaunchConfig {
    elementwise(props, n_rows.saturating_mul(dim))
}

/// A grid-stride launch with one warp per item (`w2v_batched_dot`: lanes share a row).
pub fn warps(props: &DeviceProps, n: usize) -> LaunchConfig {
    elementwise(props, n.saturating_mul(props.warp_size.max(1) as usize))
}

/// `w2v_subsample_compact`: one block per span.
pub fn subsample_compact(n_spans: usize) -> LaunchConfig {
    LaunchConfig::linear(n_spans as u32, BLOCK, 0)
}

/// The fused step kernel for a model, storage and negative count: the plain kernels are compiled
/// for at most 8 targets (negative ≤ 7), so they need fewer registers; `_wide` ones take 9..32.
pub fn step_kernel(
    model: crate::train::plan::ModelKind,
    half: bool,
    negative: u32,
) -> &'static str {
    use crate::train::plan::ModelKind::{Cbow, Skipgram};
    match (model, half, negative >= 8) {
        (Skipgram, false, false) => "w2v_skipgram_step",
        (Skipgram, false, true) => "w2v_skipgram_step_wide",
        (Skipgram, true, false) => "w2v_skipgram_step_f16",
        (Skipgram, true, true) => "w2v_skipgram_step_f16_wide",
        (Cbow, false, false) => "w2v_cbow_step",
        (Cbow, false, true) => "w2v_cbow_step_wide",
        (Cbow, true, false) => "w2v_cbow_step_f16",
        (Cbow, true, true) => "w2v_cbow_step_f16_wide",
    }
}

/// Most negatives the fused steps take (their per-centre target list lives in registers).
pub const MAX_FUSED_NEGATIVE: u32 = 31;

/// `w2v_skipgram_step` / `w2v_cbow_step`: one warp per centre, warps grid-stride over the
/// `n_spans · SPAN_LEN` compacted places; each warp keeps `2 · (1 + negative) · dim` floats of
/// dynamic shared memory, so the block holds as many warps (up to 8) as the device's shared
/// memory per block allows. `None` when one warp's share does not fit (dim too large).
pub fn sgns_step(
    props: &DeviceProps,
    n_spans: usize,
    dim: usize,
    negative: u32,
) -> Option<LaunchConfig> {
    let per_warp = step_shared_per_warp(dim, negative);
    let warps = (props.shared_per_block as usize / per_warp.max(1))
        .min((BLOCK / props.warp_size.max(1)) as usize);
    if warps == 0 {
        return None;
    }
    let centres = n_spans * crate::train::plan::SPAN_LEN;
    let blocks = centres
        .div_ceil(warps)
        .clamp(1, (BLOCKS_PER_SM * props.sm_count.max(1)) as usize);
    Some(LaunchConfig::linear(
        blocks as u32,
        warps as u32 * props.warp_size,
        (warps * per_warp) as u32,
    ))
}

/// Dynamic shared memory one warp of a fused step needs: its `1 + negative` target rows and their
/// accumulators, f32 (sgns.cu's header).
fn step_shared_per_warp(dim: usize, negative: u32) -> usize {
    2 * (1 + negative as usize) * dim * std::mem::size_of::<f32>()
}

/// `sgns_step` on one warp of one block: centres run one after another in corpus order
/// (`CudaBackend::serial`, for parity tests).
pub fn sgns_step_serial(props: &DeviceProps, dim: usize, negative: u32) -> Option<LaunchConfig> {
    let per_warp = step_shared_per_warp(dim, negative);
    (per_warp <= props.shared_per_block as usize)
        .then(|| LaunchConfig::linear(1, props.warp_size, per_warp as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(sm: u32) -> DeviceProps {
        DeviceProps {
            name: "test".into(),
            sm_count: sm,
            warp_size: 32,
            shared_per_block: 48 << 10,
            total_memory: 1 << 30,
            driver_version: String::new(),
            toolkit: String::new(),
        }
    }

    #[test]
    fn grids_cover_small_inputs_and_cap_large_ones() {
        assert_eq!(elementwise(&props(2), 1).grid, [1, 1, 1]);
        assert_eq!(elementwise(&props(2), 257).grid, [2, 1, 1]);
        assert_eq!(elementwise(&props(2), 1 << 30).grid, [64, 1, 1]);
        assert_eq!(warps(&props(132), 8).grid, [1, 1, 1]);
        assert_eq!(warps(&props(132), 9).grid, [2, 1, 1]);
    }

    #[test]
    fn fused_steps_fit_shared_memory() {
        // dim 128, K 5: 6 KiB per warp, so 8 warps fill 48 KiB exactly.
        let c = sgns_step(&props(2), 3, 128, 5).unwrap();
        assert_eq!((c.block[0], c.shared_bytes), (256, 48 << 10));
        // dim 300: three warps fit.
        let c = sgns_step(&props(2), 1, 300, 5).unwrap();
        assert_eq!(c.block[0], 96);
        assert!(c.shared_bytes <= 48 << 10);
        // One warp's rows alone exceed 48 KiB.
        assert!(sgns_step(&props(2), 1, 1000, 31).is_none());
    }
}
