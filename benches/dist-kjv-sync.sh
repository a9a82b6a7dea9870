#!/usr/bin/env bash
# Two ranks on KJV at several synchronisation intervals and merges, against one rank of two threads
# (benches/RESULTS.md, "How often two ranks synchronise", "The learning rate of several
# ranks"): seeds 1-5 (SEEDS), one rank × 2 threads,
# then 2 ranks × 1 thread at the default --sync-words (a rank's share of an epoch) and at a half and
# a quarter of it (SYNCS), then --merge mean, mixed and sum at the default, then --rank-lr same
# (--lr as given, not × √2) and linear (× 2); each run scored on
# questions-words, WordSim-353 and SimLex-999 (`w2v-gpu eval --json`), with rank 0's share of time
# synchronising. Needs a `--features mpi` build. Runs already scored in OUT_DIR are not repeated.
#   bash benches/dist-kjv-sync.sh [OUT_DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/dist-common.sh"
common=(--corpus "$D/kjv.txt" --log-interval 1000)
score() {
    "$B" eval --vectors "$1.bin" --analogies "$D/questions-words.txt" \
        --similarity "$D/wordsim353.tsv" --similarity "$D/simlex999.txt" --json > "$1.json"
}
for seed in ${SEEDS:-1 2 3 4 5}; do
    n=r1-s$seed
    [ -f $n.json ] || { "$B" train --device cpu --threads 2 "${common[@]}" --seed $seed -o $n.bin > $n.log 2>&1; score $n; }
    for run in ${SYNCS:-default 196676 98338} mean mixed sum same linear; do
        n=r2-$run-s$seed
        [ -f $n.json ] && continue
        case $run in
            default) extra=() ;;
            mean | mixed | sum) extra=(--merge $run) ;;
            same | linear) extra=(--rank-lr $run) ;;
            *) extra=(--sync-words $run) ;;
        esac
        ranks "${common[@]}" --seed $seed "${extra[@]}" -o $n.bin > $n.log 2>&1
        score $n
    done
done
python3 - <<'PY'
import collections, glob, json, re, statistics
runs = collections.defaultdict(list)
for f in sorted(glob.glob("r*-s*.json")):
    name = f[:-5]
    d = json.load(open(f))
    sim = {x["name"]: x["spearman"] for x in d["similarity"]}
    m = re.search(r"([\d.]+)% of rank 0's time", open(name + ".log").read())
    runs[re.sub(r"-s\d+$", "", name)].append(
        (100 * d["analogies"]["total"]["accuracy"], sim["wordsim353.tsv"], sim["simlex999.txt"], m.group(1) + " %" if m else "-"))
print("| run | seeds | analogy % | WordSim ρ | SimLex ρ | sync share of rank 0 |")
print("|---|---:|---|---|---|---|")
for run, rows in runs.items():
    cell = lambda i, f: f"{statistics.mean(r[i] for r in rows):{f}} ({', '.join(format(r[i], f) for r in rows)})"
    print(f"| {run} | {len(rows)} | {cell(0, '.2f')} | {cell(1, '.3f')} | {cell(2, '.3f')} | {', '.join(r[3] for r in rows)} |")
PY
