#!/usr/bin/env bash
# install-nvcc.sh: installs the pinned CUDA 13.0 compiler (nvcc, ptxas, NVVM, headers) from PyPI into
# .ci-cache/cuda-pip of this repository, with no GPU and no system CUDA needed, and prints nvcc's path.
# Idempotent: a second run only checks the installed version. build.rs finds nvcc there by itself
# (after $NVCC, $CUDA_PATH, $CUDA_HOME and $PATH).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$root/.ci-cache/cuda-pip"
nvcc="$target/nvidia/cu13/bin/nvcc"
want="13.0.88"
packages=(
    nvidia-cuda-nvcc==13.0.88
    nvidia-cuda-runtime==13.0.96
    nvidia-cuda-cccl==13.0.85
    nvidia-nvvm==13.0.88
    nvidia-cuda-crt==13.0.88
)

installed_version() {
    [ -x "$nvcc" ] && "$nvcc" --version 2>/dev/null | sed -n 's/.*, V\([0-9.]*\)$/\1/p'
}

if [ "$(installed_version || true)" != "$want" ]; then
    python="$(command -v python3 || command -v python || true)"
    if [ -z "$python" ]; then
        echo "install-nvcc.sh: needs python3 with pip to install nvcc from PyPI" >&2
        exit 1
    fi
    rm -rf "$target"
    mkdir -p "$target"
    "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$target" "${packages[@]}" >&2
    # Wheels do not always keep the executable bit on the toolkit's binaries.
    chmod +x "$target"/nvidia/cu13/bin/* "$target"/nvidia/cu13/nvvm/bin/* 2>/dev/null || true
    got="$(installed_version || true)"
    if [ "$got" != "$want" ]; then
        echo "install-nvcc.sh: expected nvcc $want at $nvcc, found '${got:-nothing}'" >&2
        exit 1
    fi
fi
echo "$nvcc"
