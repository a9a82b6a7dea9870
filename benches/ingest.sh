#!/usr/bin/env bash
# Text → encoded ids (issue 9): words/s and MB/s of one `load` pass over a 100 MB+ corpus (the
# King James Bible repeated), plain and gzip-compressed, each beside `wc -w` (and `zcat | wc -w`)
# on the same file in the same run. Record the figures in benches/RESULTS.md.
#
#   benches/ingest.sh [KJV_TXT]            # default: ../shared/data/kjv.txt beside the repo
#   REPEAT=25 THREADS=0 WORK=/tmp/ingest benches/ingest.sh
#   taskset -c 0,1 benches/ingest.sh       # on a larger machine, as the 2-core one
set -euo pipefail
kjv=${1:+$(realpath "$1")}
cd "$(dirname "$0")/.."
kjv=${kjv:-../shared/data/kjv.txt}
repeat=${REPEAT:-25}
threads=${THREADS:-0}
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"

bin=$(cargo bench --bench ingest --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
[ -x "$bin" ] || { echo "error: the ingest benchmark did not build" >&2; exit 1; }

corpus=$work/kjv-x$repeat.txt
if [ ! -s "$corpus" ]; then
  for _ in $(seq "$repeat"); do cat "$kjv"; done > "$corpus"
fi
[ -s "$corpus.gz" ] || gzip -c "$corpus" > "$corpus.gz"
bytes=$(stat -c %s "$corpus")
echo "corpus: $corpus ($bytes bytes; gzip $(stat -c %s "$corpus.gz") bytes); $(nproc) cores visible, threads $threads"

# Warm the page cache so every reader below starts from the same place.
cat "$corpus" "$corpus.gz" > /dev/null

reference() { # label, command...
  local label=$1; shift
  local t0 t1 words
  t0=$(date +%s.%N); words=$("$@" | tr -d ' '); t1=$(date +%s.%N)
  awk -v l="$label" -v w="$words" -v b="$bytes" -v t0="$t0" -v t1="$t1" \
    'BEGIN { t = t1 - t0; printf "%s: %d words -> %.3f s, %.1fM words/s, %.0f MB/s of text\n", l, w, t, w/t/1e6, b/t/1e6 }'
}

reference "wc -w (plain)" wc -w < "$corpus"
"$bin" --threads "$threads" "$corpus"
reference "zcat | wc -w (gzip)" sh -c "zcat '$corpus.gz' | wc -w"
"$bin" --threads "$threads" --text-bytes "$bytes" "$corpus.gz"
