#!/usr/bin/env bash
# Issue 10's kill test: SIGKILL a checkpointed training run at a random moment, N times (50 by
# default). Each time the newest checkpoint must load and resume to the end, and after that run
# no temporary (.NAME.PID.partial) file may remain.
#
#   [DIM=32] benches/kill-test.sh [N] [BINARY]      (BINARY: target/release/w2v-gpu)
# A larger DIM makes checkpoint and vectors writes longer, so more kills land inside one.
set -euo pipefail
kills="${1:-50}"
bin="$(realpath "${2:-target/release/w2v-gpu}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
"$bin" synthetic --output corpus.txt --sentences-per-word 150 > /dev/null
settings=(--corpus corpus.txt --device cpu --threads 1 --dim "${DIM:-32}" --epochs 6 --seed 5)
# One uninterrupted run: how long a run takes, so the kills land anywhere in it.
start=$(date +%s%N)
"$bin" train "${settings[@]}" --checkpoint probe-{epoch}.safetensors > /dev/null
run_ms=$(( ($(date +%s%N) - start) / 1000000 ))
rm -f probe-*.safetensors
echo "one run takes ${run_ms} ms; killing $kills runs at random moments"
loaded=0 resumed=0 clean=0 early=0 littered=0
for i in $(seq 1 "$kills"); do
    rm -rf "run$i" && mkdir "run$i" && cd "run$i"
    delay_ms=$(( RANDOM % (run_ms + 1) ))
    "$bin" train "${settings[@]/corpus.txt/../corpus.txt}" --checkpoint ck-{epoch}.safetensors \
        -o v.bin > log.txt 2>&1 &
    pid=$!
    sleep "$(awk "BEGIN { print $delay_ms / 1000 }")"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # A kill during a write leaves its temporary: the next run must remove it.
    if ls -a | grep -q '\.partial$'; then littered=$((littered + 1)); fi
    newest="$(ls -1 ck-*.safetensors 2>/dev/null | sort -t- -k2 -n | tail -n1 || true)"
    if [ -z "$newest" ]; then
        # Killed before the first checkpoint: a fresh run must still finish and tidy up.
        early=$((early + 1))
        "$bin" train "${settings[@]/corpus.txt/../corpus.txt}" --checkpoint ck-{epoch}.safetensors \
            -o v.bin > resume.txt 2>&1
        loaded=$((loaded + 1)); resumed=$((resumed + 1))
    else
        if "$bin" train --resume "$newest" --device cpu --threads 1 -o v.bin --checkpoint \
            ck-{epoch}.safetensors > resume.txt 2>&1; then
            loaded=$((loaded + 1)); resumed=$((resumed + 1))
        elif grep -q "already finished" resume.txt; then
            # Killed after the last checkpoint, while the vectors were written.
            loaded=$((loaded + 1)); resumed=$((resumed + 1))
        else
            echo "kill $i after ${delay_ms} ms: resume from $newest failed: $(cat resume.txt)"
        fi
    fi
    if ls -a | grep -q '\.partial$'; then
        echo "kill $i: temporary files remain: $(ls -a | grep '\.partial$' | tr '\n' ' ')"
    else
        clean=$((clean + 1))
    fi
    cd ..
done
echo "kills: $kills; before the first checkpoint: $early; during a write (temporary left by the kill): $littered; newest checkpoint loaded and resumed: $resumed; no temporary file after the next run: $clean"
[ "$resumed" -eq "$kills" ] && [ "$clean" -eq "$kills" ]
