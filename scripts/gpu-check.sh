#!/usr/bin/env bash
# gpu-check.sh: one run on a machine with an NVIDIA GPU that says whether the CUDA backend works there.
#
# It needs no Rust toolchain and no CUDA toolkit, only the NVIDIA driver: the binaries may be built
# elsewhere (`cargo build --release --features cuda` and `cargo test --release --features cuda --no-run`)
# and copied over. Kernels load as embedded PTX, or are compiled with NVRTC when the build had no nvcc.
#
# Steps, each PASS/FAIL/SKIP in the summary; the exit status is non-zero when any step fails:
#   1. `w2v-gpu info`                      the driver, the devices, how the kernels were built;
#   2. the conformance suite on the GPU    its `::cuda` instances (ignored elsewhere) with
#                                          W2V_TEST_DEVICE=cuda:N: every layer, the fused steps against
#                                          the reference step, composed against the CPU, chunking, f16,
#                                          the test-only half kernels, launch checks, whole runs;
#   3. CPU/GPU parity on a fixed seed      train the built-in corpus on both devices; losses within
#                                          5% and planted-analogy accuracy within 0.10;
#   4. `w2v-gpu bench --device cuda:N,cpu` side by side (words/s, loss) on a text8-sized corpus
#                                          the binary generates (skip-gram, dim 128, sample 1e-4);
#   5. step kernels and storages           `bench --kernel v1|v2 --storage f32|f16`, and v2 with
#                                          `--storage bf16` (it has no v1 kernels), on the same corpus
#                                          (issue 11: v2 against v1);
#   6. ncu metrics of the step kernel      when `ncu` is on PATH: instructions, L2 atomic/red sectors,
#                                          DRAM bytes, achieved occupancy, for v1 and v2 (else SKIP);
#   7. float-atomics probe                 the `atomics-probe` bench binary (benches/atomics_probe.rs:
#                                          coalesced, row-scattered, same-address; scalar and vector),
#                                          found like the test binaries or given with --probe PATH.
# A report goes to --out DIR (default ./gpu-check-report): report.json (every step and bench row)
# and report.md (the summary and a table to paste into benches/RESULTS.md, with the GPU's name).
# --dry-run checks the script itself with no GPU: --device emulator (or cpu), a small bench corpus,
# no conformance step (its GPU instances need a GPU) and no ncu.
#
# Usage: scripts/gpu-check.sh [--bin PATH] [--tests PATH]... [--device cuda:N] [--epochs N]
#   --bin    the w2v-gpu binary (default: $W2V_BIN, ./w2v-gpu, target/release/w2v-gpu, target/debug/w2v-gpu, PATH)
#   --bench-size N    sentences per planted word of the bench corpus (default 21000: ~17M words)
#   --bench-epochs N  epochs of the bench (default 1)
#   --bench-corpus FILE  bench on this corpus instead (text8, or a real text: the built-in corpus has
#                     only ~460 distinct words, so its rows all sit in cache and collide often)
#   --bench-repeat N  concatenate N copies of --bench-corpus (e.g. 21 × KJV ≈ text8's 17M words)
#   --tests  a test binary or a folder to search for conformance-* (and dist-*) test binaries (repeatable;
#            default: target/release/deps and target/debug/deps)
#   --probe PATH      the atomics-probe binary (cargo bench --features cuda --no-run builds it;
#                     default: the newest atomics_probe-* in the --tests folders)
#   --out DIR         where the report goes (default ./gpu-check-report)
#   --dry-run         no GPU: device emulator unless --device says cpu, bench size 40, no tests/ncu
set -u

bin="${W2V_BIN:-}"
tests=()
device="cuda:0"
epochs=3
big_spw=21000   # ~17M words, text8's size
bench_epochs=1
bench_corpus=""
bench_repeat=1
out_dir="./gpu-check-report"
probe=""
dry_run=0
device_given=0
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) bin="$2"; shift 2 ;;
        --tests) tests+=("$2"); shift 2 ;;
        --device) device="$2"; device_given=1; shift 2 ;;
        --out) out_dir="$2"; shift 2 ;;
        --probe) probe="$2"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        --epochs) epochs="$2"; shift 2 ;;
        --bench-size) big_spw="$2"; shift 2 ;;
        --bench-epochs) bench_epochs="$2"; shift 2 ;;
        --bench-corpus) bench_corpus="$2"; shift 2 ;;
        --bench-repeat) bench_repeat="$2"; shift 2 ;;
        -h|--help) sed -n '2,43p' "$0"; exit 0 ;;
        *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

if [ $dry_run = 1 ]; then
    [ $device_given = 1 ] || device=emulator
    big_spw=40
    epochs=1
fi
mkdir -p "$out_dir" || { echo "gpu-check: cannot create --out $out_dir" >&2; exit 2; }

here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "$bin" ]; then
    for c in ./w2v-gpu "$here/w2v-gpu" "$here/target/release/w2v-gpu" "$here/target/debug/w2v-gpu"; do
        if [ -x "$c" ]; then bin="$c"; break; fi
    done
    [ -z "$bin" ] && bin="$(command -v w2v-gpu || true)"
fi
if [ ${#tests[@]} -eq 0 ]; then
    tests=("$here/target/release/deps" "$here/target/debug/deps")
fi

summary=()
failed=0
record() { # status, step, detail
    summary+=("$(printf '%-5s %-28s %s' "$1" "$2" "$3")")
    [ "$1" = FAIL ] && failed=1
    return 0
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# JSON field of a one-line object (numbers and strings; no jq needed).
field() { sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" "$1" | head -n1; }

echo "== 1. w2v-gpu info"
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    record FAIL "w2v-gpu binary" "not found; pass --bin PATH (built with --features cuda)"
else
    if "$bin" info | tee "$work/info.txt"; then
        record PASS "info" "$(grep -m1 -i 'driver' "$work/info.txt" | tr -s ' ')"
    else
        record FAIL "info" "w2v-gpu info exited non-zero"
    fi
fi

echo "== 2. conformance tests on $device"
found=()
[ $dry_run = 1 ] && tests=()
for t in "${tests[@]}"; do
    if [ -f "$t" ] && [ -x "$t" ]; then
        found+=("$t")
    elif [ -d "$t" ]; then
        # The newest build only: a target folder keeps stale binaries of older builds.
        newest="$(ls -t "$t"/conformance-* 2>/dev/null | while read -r f; do [ -f "$f" ] && [ -x "$f" ] && echo "$f"; done | head -n1)"
        [ -n "$newest" ] && found+=("$newest")
    fi
done
if [ $dry_run = 1 ]; then
    record SKIP "CUDA tests" "--dry-run (the ::cuda instances need a GPU)"
elif [ ${#found[@]} -eq 0 ]; then
    record SKIP "CUDA tests" "no conformance-* binary (cargo test --release --features cuda --no-run; pass --tests)"
else
    for t in "${found[@]}"; do
        # Only the GPU instances: they are the ignored tests whose names end in `::cuda`.
        W2V_TEST_DEVICE="$device" "$t" --ignored --test-threads=1 ::cuda > "$work/tests.txt" 2>&1
        rc=$?
        cat "$work/tests.txt"
        if [ $rc = 0 ] && grep -q 'test result: ok. 0 passed' "$work/tests.txt"; then
            record FAIL "CUDA tests $(basename "$t")" "no ::cuda test ran (was it built with --features cuda?)"
        elif [ $rc = 0 ]; then
            record PASS "CUDA tests $(basename "$t")" "$(grep -m1 'test result' "$work/tests.txt")"
        else
            record FAIL "CUDA tests $(basename "$t")" "see the failures above"
        fi
    done
fi

if [ -n "$bin" ] && [ -x "$bin" ]; then
    echo "== 3. CPU/GPU parity on a fixed seed (built-in corpus, $epochs epochs)"
    common=(--seed 7 --epochs "$epochs" --dim 64)
    ok=1
    for d in cpu "$device"; do
        if ! "$bin" train --device "$d" --threads 1 "${common[@]}" > "$work/train-$d.txt" 2>&1; then
            ok=0
            tail -n 5 "$work/train-$d.txt"
            record FAIL "train on $d" "exited non-zero"
        fi
    done
    if [ $ok = 1 ]; then
        acc_cpu="$(sed -n 's/^planted-analogy accuracy: //p' "$work/train-cpu.txt")"
        acc_gpu="$(sed -n 's/^planted-analogy accuracy: //p' "$work/train-$device.txt")"
        loss_cpu="$(grep -o 'loss [0-9.]*' "$work/train-cpu.txt" | tail -n1 | cut -d' ' -f2)"
        loss_gpu="$(grep -o 'loss [0-9.]*' "$work/train-$device.txt" | tail -n1 | cut -d' ' -f2)"
        echo "cpu: accuracy $acc_cpu, last loss $loss_cpu;  $device: accuracy $acc_gpu, last loss $loss_gpu"
        if awk -v a="$acc_cpu" -v b="$acc_gpu" -v l="$loss_cpu" -v m="$loss_gpu" 'BEGIN {
                d = a - b; if (d < 0) d = -d; e = l - m; if (e < 0) e = -e;
                exit !(a != "" && b != "" && l > 0 && d <= 0.10 && e <= 0.05 * l) }'; then
            record PASS "CPU/GPU parity" "accuracy $acc_cpu vs $acc_gpu, loss $loss_cpu vs $loss_gpu"
        else
            record FAIL "CPU/GPU parity" "accuracy $acc_cpu vs $acc_gpu, loss $loss_cpu vs $loss_gpu"
        fi
    fi

    echo "== 4. bench: $device and cpu side by side, one command, on a text8-sized corpus"
    # Issue 3's settings: skip-gram, dim 128, window 5, negative 5, sample 1e-4, on ~17M words
    # (the built-in generator at text8's size; the GPU machine needs no download).
    if [ -n "$bench_corpus" ]; then
        # A real corpus (e.g. text8, or the KJV Bible repeated 21 times), repeated N times.
        for _ in $(seq "$bench_repeat"); do cat "$bench_corpus"; echo; done > "$work/big.txt"
        made=$?
    else
        "$bin" synthetic --output "$work/big.txt" --sentences-per-word "$big_spw" > /dev/null
        made=$?
    fi
    if [ $made = 0 ]; then
        bench=(--corpus "$work/big.txt" --seed 1 --epochs "$bench_epochs" --dim 128 --window 5 --negative 5 --sample 1e-4)
        # A --dry-run on the CPU has one device to bench, not two.
        devices="$device,cpu"
        [ "$device" = cpu ] && devices=cpu
        if "$bin" bench --device "$devices" "${bench[@]}" --json > "$work/bench.jsonl" 2> "$work/bench.err"; then
            # One JSON line per device, in the order asked for: the GPU, then the CPU.
            sed -n 1p "$work/bench.jsonl" > "$work/bench-gpu.json"
            sed -n 2p "$work/bench.jsonl" > "$work/bench-cpu.json"
            [ "$device" = cpu ] && cp "$work/bench-gpu.json" "$work/bench-cpu.json"
            printf '%-40s %16s %12s %10s\n' device words/s wall_s loss
            for f in gpu cpu; do
                [ -s "$work/bench-$f.json" ] || continue
                printf '%-40s %16.0f %12.2f %10.4f\n' "$(field "$work/bench-$f.json" device)" "$(field "$work/bench-$f.json" words_per_sec)" \
                    "$(field "$work/bench-$f.json" wall_s)" "$(field "$work/bench-$f.json" final_loss)"
            done
            cat "$work/bench.jsonl"
            if [ -s "$work/bench-gpu.json" ] && [ -s "$work/bench-cpu.json" ]; then
                record PASS "bench" "$(printf '%s %.0f words/s, cpu %.0f words/s' "$device" "$(field "$work/bench-gpu.json" words_per_sec)" "$(field "$work/bench-cpu.json" words_per_sec)")"
            else
                record FAIL "bench" "missing a row: $(tr '\n' ' ' < "$work/bench.jsonl")"
            fi
        else
            tail -n 3 "$work/bench.err"
            record FAIL "bench" "w2v-gpu bench exited non-zero"
        fi
    else
        record FAIL "bench corpus" "could not write the bench corpus"
    fi

    echo "== 5. step kernels and storages on $device (issue 11)"
    : > "$work/variants.jsonl"
    if [ $made = 0 ]; then
        # The CPU backend (a --dry-run) trains f32 only.
        storages="f32 f16 bf16"
        [ "$device" = cpu ] && storages=f32
        for kernel in v1 v2; do
            for storage in $storages; do
                # bf16 has v2 kernels only (v1 refuses it before training).
                [ "$storage" = bf16 ] && [ "$kernel" = v1 ] && continue
                if "$bin" bench --device "$device" --kernel "$kernel" --storage "$storage" "${bench[@]}" --json \
                        > "$work/v.json" 2> "$work/v.err"; then
                    line="$(sed -n 1p "$work/v.json")"
                    echo "{\"kernel\":\"$kernel\",\"storage\":\"$storage\",\"bench\":$line}" >> "$work/variants.jsonl"
                    rate="$(field "$work/v.json" words_per_sec)"
                    record PASS "bench $kernel $storage" "$(printf '%.0f words/s' "$rate")"
                else
                    tail -n 3 "$work/v.err"
                    record FAIL "bench $kernel $storage" "w2v-gpu bench exited non-zero"
                fi
            done
        done
    fi

    echo "== 6. ncu metrics of the step kernel"
    if [ $dry_run = 1 ]; then
        record SKIP "ncu" "--dry-run"
    elif ! command -v ncu > /dev/null; then
        record SKIP "ncu" "ncu is not on PATH"
    else
        metrics="smsp__inst_executed.sum,lts__t_sectors_op_red.sum,lts__t_sectors_op_atom.sum,lts__t_sectors.sum,dram__bytes.sum,sm__warps_active.avg.pct_of_peak_sustained_active"
        "$bin" synthetic --output "$work/small.txt" --sentences-per-word 300 > /dev/null
        for kernel in v1 v2; do
            if timeout 120 ncu --csv --metrics "$metrics" --kernel-name "regex:w2v_(skipgram|cbow)_step" --launch-count 1 \
                    "$bin" train --device "$device" --kernel "$kernel" --corpus "$work/small.txt" --dim 128 --window 5 \
                    --negative 5 --sample 1e-4 --epochs 1 -o "$work/ncu.bin" > "$out_dir/ncu-$kernel.csv" 2> "$work/ncu.err"; then
                record PASS "ncu $kernel" "$out_dir/ncu-$kernel.csv"
            else
                tail -n 3 "$work/ncu.err"
                record FAIL "ncu $kernel" "ncu exited non-zero (permissions? see above)"
            fi
        done
    fi
fi

echo "== 7. float-atomics probe"
: > "$work/probe.jsonl"
if [ $dry_run = 1 ]; then
    record SKIP "atomics probe" "--dry-run (it needs a GPU)"
else
    if [ -z "$probe" ]; then
        for t in "${tests[@]}"; do
            [ -d "$t" ] || continue
            probe="$(ls -t "$t"/atomics_probe-* 2>/dev/null | while read -r f; do [ -f "$f" ] && [ -x "$f" ] && echo "$f"; done | head -n1)"
            [ -n "$probe" ] && break
        done
    fi
    if [ -z "$probe" ] || [ ! -x "$probe" ]; then
        record SKIP "atomics probe" "no atomics_probe-* binary (cargo bench --features cuda --no-run; pass --probe)"
    elif timeout 120 "$probe" --device "$device" > "$work/probe.jsonl" 2> "$work/probe.err"; then
        cat "$work/probe.jsonl"
        if grep -q '"exact":false' "$work/probe.jsonl"; then
            record FAIL "atomics probe" "an atomic update was lost (see above)"
        else
            record PASS "atomics probe" "$(wc -l < "$work/probe.jsonl") patterns"
        fi
    else
        tail -n 3 "$work/probe.err"
        record FAIL "atomics probe" "atomics-probe exited non-zero"
    fi
fi

echo "== 8. NCCL: the ranks' sums on two GPUs"
# tests/dist.rs's NCCL test (built with --features mpi,nccl): two ranks under mpirun, one GPU each,
# the unique id over MPI, the averaging's sums by ncclAllReduce against the directly computed ones.
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
dist_test=""
for t in "${tests[@]}"; do
    [ -d "$t" ] && dist_test="$(ls -t "$t"/dist-* 2>/dev/null | while read -r f; do [ -f "$f" ] && [ -x "$f" ] && echo "$f"; done | head -n1)"
    [ -n "$dist_test" ] && break
done
if [ $dry_run = 1 ]; then
    record SKIP "NCCL" "--dry-run"
elif [ "$gpus" -lt 2 ]; then
    record SKIP "NCCL" "needs two GPUs, this machine has $gpus"
elif ! command -v mpirun >/dev/null; then
    record SKIP "NCCL" "no mpirun (apt-get install openmpi-bin)"
elif [ -z "$dist_test" ]; then
    record SKIP "NCCL" "no dist-* test binary (cargo test --release --features mpi,nccl --no-run; pass --tests)"
else
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$dist_test" --exact \
        nccl_sums_on_two_gpus_equal_the_result_computed_directly --nocapture > "$work/nccl.txt" 2>&1
    rc=$?
    tail -n 5 "$work/nccl.txt"
    if [ $rc = 0 ] && grep -q 'skipped' "$work/nccl.txt"; then
        record SKIP "NCCL" "$(grep -m1 skipped "$work/nccl.txt")"
    elif [ $rc = 0 ]; then
        record PASS "NCCL" "2 ranks on 2 GPUs: sums equal the direct ones, ranks identical"
    else
        record FAIL "NCCL" "see the test's output above"
    fi
fi

# The report: every summary line and bench row, as JSON and as markdown.
{
    printf '{"device":"%s","dry_run":%s,"date":"%s","steps":[' "$device" "$([ $dry_run = 1 ] && echo true || echo false)" "$(date -u +%FT%TZ)"
    sep=""
    for line in "${summary[@]}"; do
        printf '%s"%s"' "$sep" "$(printf '%s' "$line" | sed 's/\\/\\\\/g; s/"/\\"/g')"
        sep=","
    done
    printf '],"bench":['
    [ -s "$work/bench.jsonl" ] && paste -sd, "$work/bench.jsonl" | tr -d '\n'
    printf '],"variants":['
    [ -s "$work/variants.jsonl" ] && paste -sd, "$work/variants.jsonl" | tr -d '\n'
    printf '],"atomics_probe":['
    [ -s "$work/probe.jsonl" ] && paste -sd, "$work/probe.jsonl" | tr -d '\n'
    printf ']}\n'
} > "$out_dir/report.json"
{
    echo "# gpu-check on $device ($(date -u +%F))"
    echo
    grep -m1 -i 'device\|gpu' "$work/info.txt" 2>/dev/null | sed 's/^/GPU: /'
    echo
    echo '```'
    printf '%s\n' "${summary[@]}"
    echo '```'
    echo
    echo "| kernel | storage | words/s | wall s | final loss |"
    echo "|---|---|---:|---:|---:|"
    if [ -s "$work/variants.jsonl" ]; then
        while read -r line; do
            printf '%s\n' "$line" > "$work/row.json"
            printf '| %s | %s | %.0f | %.2f | %.4f |\n' "$(field "$work/row.json" kernel)" "$(field "$work/row.json" storage)" \
                "$(field "$work/row.json" words_per_sec)" "$(field "$work/row.json" wall_s)" "$(field "$work/row.json" final_loss)"
        done < "$work/variants.jsonl"
    fi
    if [ -s "$work/probe.jsonl" ]; then
        echo
        echo "| atomics pattern | lane ops/s | bytes/s | exact |"
        echo "|---|---:|---:|---|"
        while read -r line; do
            printf '%s\n' "$line" > "$work/row.json"
            printf '| %s | %s | %s | %s |\n' "$(field "$work/row.json" pattern)" "$(field "$work/row.json" lane_ops_per_s)" \
                "$(field "$work/row.json" bytes_per_s)" "$(field "$work/row.json" exact)"
        done < "$work/probe.jsonl"
    fi
} > "$out_dir/report.md"
echo "report: $out_dir/report.json, $out_dir/report.md"

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $failed
