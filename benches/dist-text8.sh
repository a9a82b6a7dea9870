#!/usr/bin/env bash
# One rank x 2 threads against 2 ranks x 1 thread on a text8-sized corpus (KJV x 21, 16.6M
# words, 1 epoch; benches/RESULTS.md, "Cheaper synchronisation"): seeds 1-2 at the defaults
# (--merge touched, --sync-words 1,000,000) and one --merge sum run, each scored on
# questions-words, WordSim-353 and SimLex-999. Needs a `--features mpi` build.
#   bash benches/dist-text8.sh [OUT_DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/dist-common.sh"
[ -s kjv21.txt ] || for _ in $(seq 21); do cat "$D/kjv.txt"; done > kjv21.txt
common=(--corpus kjv21.txt --epochs 1 --log-interval 1000)
for seed in 1 2; do
    "$B" train --device cpu --threads 2 "${common[@]}" --seed $seed -o r1-s$seed.bin > r1-s$seed.log 2>&1
    ev r1-s$seed
    ranks "${common[@]}" --seed $seed -o r2-s$seed.bin > r2-s$seed.log 2>&1
    ev r2-s$seed
done
ranks "${common[@]}" --seed 1 --merge sum -o r2sum-s1.bin > r2sum-s1.log 2>&1
ev r2sum-s1
grep -H "^trained\|^ranks: rank" ./*.log
grep -H "^total\|spearman" ./*.eval
