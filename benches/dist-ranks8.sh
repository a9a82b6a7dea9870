#!/usr/bin/env bash
# Eight ranks on a text8-sized corpus (KJV x 21, 16.6M words, 5 epochs), the quality side of the
# 8-GPU scaling model (benches/MODEL.md, "Many ranks"): 8 ranks x 1 thread under mpirun (on this
# 2-core machine they share the cores, so only quality and sync counts mean anything here, not
# speed) at the defaults (--merge touched, 1,000,000 words), at one sync an epoch (a rank's
# share, 2.1M words: the interval the model needs for 80 % on 8 GPUs) and with --merge mixed
# (which diverges here), and with --rank-lr same (--lr as given, not × √8), against 1 rank x 2
# threads; each scored on questions-words,
# WordSim-353 and SimLex-999. Needs a `--features mpi` build.
#   bash benches/dist-ranks8.sh [OUT_DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/dist-common.sh"
[ -s kjv21.txt ] || for _ in $(seq 21); do cat "$D/kjv.txt"; done > kjv21.txt
common=(--corpus kjv21.txt --epochs 5 --log-interval 1000 --seed 1)
"$B" train --device cpu --threads 2 "${common[@]}" -o r1.bin > r1.log 2>&1
ev r1
NP=8 ranks "${common[@]}" -o r8.bin > r8.log 2>&1
ev r8
NP=8 ranks "${common[@]}" --sync-words 2100000 -o r8-epoch.bin > r8-epoch.log 2>&1
ev r8-epoch
NP=8 ranks "${common[@]}" --merge mixed -o r8-mixed.bin > r8-mixed.log 2>&1
ev r8-mixed
NP=8 ranks "${common[@]}" --rank-lr same -o r8-same.bin > r8-same.log 2>&1
ev r8-same
grep -H "^epoch\|^trained\|^ranks: rank 0" ./*.log
grep -H "^total\|spearman" ./*.eval
