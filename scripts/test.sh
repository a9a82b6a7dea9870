#!/usr/bin/env bash
# The whole test suite, the one command README and .ci/run give: the Python environment the
# interop tests use (gensim, numpy, safetensors; scripts/python-env.sh), then every Rust test,
# with the emulated device (feature `emulator`: the CUDA kernels compiled as C++ for the CPU), so
# the CUDA backend's host code and kernels run against the CPU backend on any machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/python-env.sh
cargo test --release --features emulator "$@"
