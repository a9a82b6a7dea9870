#!/usr/bin/env bash
# The whole test suite, the one command README and .ci/run give: the Python environment the
# interop tests use (gensim, numpy, safetensors; scripts/python-env.sh), then every Rust test,
# with the emulated device (feature `emulator`: the CUDA kernels compiled as C++ for the CPU), so
# the CUDA backend's host code and kernels run on any machine (tests/conformance runs each body
# on the CPU backend and the emulated device; its GPU instances stay ignored, see
# scripts/gpu-check.sh); then the interop tests, which a plain `cargo test` ignores because they
# need the Python environment: here they run, and fail if it is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/python-env.sh
cargo test --release --features emulator "$@"
cargo test --release --features emulator --test interop -- --ignored
