#!/usr/bin/env bash
# `train --init-vectors` (issue 13): MB/s of reading a ROWS × DIM word2vec binary file (1M × 300,
# 1.2 GB, by default) as the difference of two runs on the same small corpus, with and without
# --init-vectors, beside gensim's load_word2vec_format on the same file in the same run. Record
# the figures in benches/RESULTS.md.
#
#   benches/init-vectors.sh                       # 1M × 300, binary
#   ROWS=200000 FORMAT=text benches/init-vectors.sh
#   PYTHON=.ci-cache/venv/bin/python WORK=/tmp/initv BIN=target/release/w2v-gpu benches/init-vectors.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-1000000}
dim=${DIM:-300}
format=${FORMAT:-bin}
python=${PYTHON:-.ci-cache/venv/bin/python}
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; fi
bin=${BIN:-target/release/w2v-gpu}
vec=$work/v-$rows-$dim.$format
if [ ! -s "$vec" ]; then
  "$python" - "$vec" "$rows" "$dim" "$format" <<'PY'
import sys
import numpy as np
path, rows, dim, fmt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(1)
with open(path, "wb") as f:
    f.write(f"{rows} {dim}\n".encode())
    for start in range(0, rows, 10000):
        block = rng.uniform(-1, 1, (min(10000, rows - start), dim)).astype("<f4")
        for i, v in enumerate(block):
            w = f"w{start + i}".encode()
            if fmt == "bin":
                f.write(w + b" " + v.tobytes() + b"\n")
            else:
                f.write(w + b" " + " ".join(f"{x:.6f}" for x in v).encode() + b"\n")
PY
fi
bytes=$(stat -c %s "$vec")
# A small corpus of the file's first words, so that some rows match.
corpus=$work/c.txt
"$python" -c "
import random; random.seed(1)
print('\n'.join(' '.join(f'w{random.randrange(1000)}' for _ in range(20)) for _ in range(2000)))" > "$corpus"
cat "$vec" > /dev/null
echo "vectors: $vec ($bytes bytes), $(nproc) cores visible, load $(cut -d' ' -f1-3 /proc/loadavg)"
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
base=$(secs "$bin" train --corpus "$corpus" --dim "$dim" --epochs 1 --device cpu --min-count 1)
with=$(secs "$bin" train --corpus "$corpus" --dim "$dim" --epochs 1 --device cpu --min-count 1 --init-vectors "$vec")
read_s=$(echo "$with - $base" | bc -l)
printf 'w2v-gpu --init-vectors: %.2f s over the run without it (%.2f s): %.0f MB/s\n' \
  "$read_s" "$base" "$(echo "$bytes / $read_s / 1000000" | bc -l)"
binary=$([ "$format" = bin ] && echo True || echo False)
g=$(secs "$python" -c "
from gensim.models import KeyedVectors
KeyedVectors.load_word2vec_format('$vec', binary=$binary)")
printf 'gensim load_word2vec_format: %.2f s: %.0f MB/s\n' "$g" "$(echo "$bytes / $g / 1000000" | bc -l)"
