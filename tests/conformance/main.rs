//! The backend conformance suite: one body per property, run on every device (candle's
//! `test_device!`): the CPU backend, the emulated device (feature `emulator`) and a GPU
//! (`W2V_TEST_DEVICE=cuda:N`, ignored unless asked for; see `common/devices.rs`). Each body checks
//! a backend against a reference that is not itself a backend — hand-computed values, closed
//! forms, `w2v_gpu::train::sampler`, `w2v_gpu::train::plan`, and the reference step
//! `w2v_gpu::train::reference` — so the CPU instance tests the CPU backend too.
//!
//! By subject: `layers` (the book's operations), `sampling` (negatives, subsampling), `fused` (the
//! fast path against the reference step, serial and concurrent), `composed` (the composed path),
//! `storage` (`--storage f16` and the half helpers), `chunking` (host and device chunks change nothing),
//! `training` (whole runs), `kernels` (launch geometry and argument checks on CUDA devices) and
//! `cpu` (what only the CPU backend has: its threads). Bodies over `KernelDevice` (the CUDA
//! backend's) build only with feature `emulator` or `cuda`.

#[path = "../common/mod.rs"]
mod common;

mod chunking;
mod composed;
mod cpu;
mod fused;
#[cfg(any(feature = "emulator", feature = "cuda"))]
mod kernels;
mod layers;
mod sampling;
#[cfg(any(feature = "emulator", feature = "cuda"))]
mod storage;
mod training;
