#!/usr/bin/env bash
# One rank x 2 threads against 2 ranks x 1 thread on KJV (benches/RESULTS.md, "Many processes"):
# seeds 1-3 at the default --sync-words (on KJV a rank's share of an epoch: one sync an epoch) and
# at 49,169 (eight an epoch), one --merge mean, one --merge mixed, one --merge sum and one
# --sync dense run,
# each scored on questions-words, WordSim-353 and SimLex-999. Needs a `--features mpi` build.
#   bash benches/dist-kjv.sh [OUT_DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/dist-common.sh"
common=(--corpus "$D/kjv.txt" --log-interval 1000)
for seed in 1 2 3; do
    "$B" train --device cpu --threads 2 "${common[@]}" --seed $seed -o r1-s$seed.bin > r1-s$seed.log 2>&1
    ev r1-s$seed
    ranks "${common[@]}" --seed $seed -o r2-s$seed.bin > r2-s$seed.log 2>&1
    ev r2-s$seed
    ranks "${common[@]}" --seed $seed --sync-words 49169 -o r2s8-s$seed.bin > r2s8-s$seed.log 2>&1
    ev r2s8-s$seed
done
ranks "${common[@]}" --seed 1 --merge mean -o r2mean-s1.bin > r2mean-s1.log 2>&1
ev r2mean-s1
ranks "${common[@]}" --seed 1 --merge mixed -o r2mixed-s1.bin > r2mixed-s1.log 2>&1
ev r2mixed-s1
ranks "${common[@]}" --seed 1 --merge sum -o r2sum-s1.bin > r2sum-s1.log 2>&1
ev r2sum-s1
ranks "${common[@]}" --seed 1 --sync dense -o r2dense-s1.bin > r2dense-s1.log 2>&1
ev r2dense-s1
grep -H "^trained\|^ranks: rank" ./*.log
grep -H "^total\|spearman" ./*.eval
