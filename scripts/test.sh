#!/usr/bin/env bash
# The whole test suite, the one command README and .ci/run give: the Python environment the
# interop tests use (gensim, numpy, safetensors; scripts/python-env.sh), then every Rust test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/python-env.sh
cargo test --release "$@"
