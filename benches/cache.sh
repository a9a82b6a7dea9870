#!/usr/bin/env bash
# The corpus cache's numbers (issue 9, items 2 and 3), each beside its peer in the same run:
#   1. text → ids into the cache (`w2v-gpu encode`), beside `wc -w` on the same text;
#   2. loading a cached corpus (check + read into memory), beside `dd` reading the cache file
#      (page cache to a user buffer: what reading the bytes costs);
#   3. training a corpus whose ids are 4× --memory-budget: peak RSS (/usr/bin/time -v) beside the
#      same run with the ids in memory;
#   4. the one pass with ids 4× --memory-budget: `encode` spilling into the cache file, and the
#      text piped into `train --corpus - --no-cache` (a temporary file): time and peak RSS.
# Usage: benches/cache.sh [COPIES] [WORKDIR]   (KJV × COPIES; 260 copies ≈ 1.08 GB, 205M words)
set -euo pipefail
copies=${1:-260}
work=${2:-/tmp/w2v-cache-bench}
here=$(cd "$(dirname "$0")/.." && pwd)
kjv=${KJV:-$here/../shared/data/kjv.txt}
bin=${W2V_BIN:-$here/target/release/w2v-gpu}
[ -x "$bin" ] || (cd "$here" && cargo build --release)
mkdir -p "$work"
corpus=$work/kjv$copies.txt
if [ ! -f "$corpus" ]; then
    for _ in $(seq "$copies"); do cat "$kjv"; done >"$corpus"
fi
cache=$work/cache
rm -rf "$cache"
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); corpus $(du -h "$corpus" | cut -f1)"
echo "== 1. text -> ids (encode, cache miss) and wc -w on the same file"
/usr/bin/time -f "wc -w: %e s, peak RSS %M KB" wc -w "$corpus"
/usr/bin/time -f "encode: %e s, peak RSS %M KB" "$bin" encode --corpus "$corpus" --cache-dir "$cache"
file=$(ls "$cache"/corpus-*.w2v-ids)
ids=$(stat -c %s "$file")
echo "== 2. loading the cache (encode, cache hit: check + read into memory), and dd of the file"
dd if="$file" of=/dev/null bs=8M 2>&1 | tail -1
"$bin" encode --corpus "$corpus" --cache-dir "$cache"
"$bin" encode --corpus "$corpus" --cache-dir "$cache"
budget=$((ids / 4 / 1048576))M
# --vocab-budget as the default run has it, so that both runs below find the cache step 1 built
# (a small --memory-budget would derive a smaller counting table, and with it another cache key).
train=(train --corpus "$corpus" --cache-dir "$cache" --vocab-budget 14700000 --device cpu --epochs 1 --dim 8 --window 2
    --negative 1 --sample 1e-4 --output "$work/v.bin")
echo "== 3. training with --memory-budget $budget (ids $((ids / 1048576)) MiB), then in memory"
/usr/bin/time -f "budget $budget: %e s, peak RSS %M KB" "$bin" "${train[@]}" --memory-budget "$budget"
/usr/bin/time -f "in memory: %e s, peak RSS %M KB" "$bin" "${train[@]}"
echo "== 4. one pass with the ids 4x --memory-budget $budget: encode (spilled into the cache), then piped into train --no-cache"
rm -rf "$cache.spill"
/usr/bin/time -f "encode, budget $budget: %e s, peak RSS %M KB" "$bin" encode --corpus "$corpus" --cache-dir "$cache.spill" --memory-budget "$budget"
/usr/bin/time -f "stdin, budget $budget: %e s, peak RSS %M KB" "$bin" train --corpus - --no-cache --cache-dir "$cache.spill" --device cpu --epochs 1 --dim 8 --window 2 --negative 1 --sample 1e-4 --output "$work/v-stdin.bin" --memory-budget "$budget" <"$corpus"
ls -A "$cache.spill"
