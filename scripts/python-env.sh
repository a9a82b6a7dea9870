#!/usr/bin/env bash
# Creates the Python environment the interop tests and benches/compare_gensim.py use:
# a virtual environment at .ci-cache/venv (gitignored) with benches/requirements.txt installed.
# Re-running it is cheap: pip skips what is already installed. Override the interpreter with PYTHON=...
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.ci-cache/venv"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/benches/requirements.txt"
"$venv/bin/python" -c "import gensim, numpy, scipy, safetensors; print('python env ready:', '$venv/bin/python', 'gensim', gensim.__version__)"
