#!/usr/bin/env bash
# check-ptx.sh: compiles every kernel the way a release does and checks it for real GPUs, with no GPU.
#
# 1. installs the pinned nvcc (scripts/install-nvcc.sh) unless $NVCC names one;
# 2. `cargo build --features cuda` with it, which writes one PTX module per kernels/*.cu (and per
#    test-only kernels/test/*.cu, in the build's test/ folder, which the binary does not embed);
# 3. `ptxas -v` on every module, test-only ones included, for sm_80 (the build's PTX) and sm_90
#    (PTX for compute_90, with the sm_90-only paths): prints registers, stack, spills and static
#    shared memory per kernel, fails on any ptxas error and on any spill in the fused kernels;
# 4. compiles the NVRTC sources (common.cuh inlined) alone, with no include path, as NVRTC will;
# 5. writes the ptxas table (arch, kernel, registers, stack, spills, static shared memory) and each
#    kernel's static PTX instruction counts (all, global-memory) to $PTXAS_TABLE (default: the
#    build's out dir, ptxas.tsv), and runs the traffic model's regression check against
#    benches/kernel-cost.json (scripts/kernel-cost.sh; skipped with W2V_SKIP_KERNEL_COST=1).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
nvcc="${NVCC:-$(bash scripts/install-nvcc.sh)}"
ptxas="$(dirname "$nvcc")/ptxas"
fused="w2v_skipgram_step_v2_bf16_1 w2v_skipgram_step_v2_bf16_2 w2v_skipgram_step_v2_bf16_3 w2v_cbow_step_v2_bf16_1 w2v_cbow_step_v2_bf16_2 w2v_cbow_step_v2_bf16_3 w2v_skipgram_step_v2_f16_1 w2v_skipgram_step_v2_f16_2 w2v_skipgram_step_v2_f16_3 w2v_cbow_step_v2_f16_1 w2v_cbow_step_v2_f16_2 w2v_cbow_step_v2_f16_3 w2v_skipgram_step_v2_1 w2v_skipgram_step_v2_2 w2v_skipgram_step_v2_3 w2v_cbow_step_v2_1 w2v_cbow_step_v2_2 w2v_cbow_step_v2_3 w2v_skipgram_step w2v_cbow_step w2v_skipgram_step_f16 w2v_cbow_step_f16 w2v_skipgram_step_wide w2v_cbow_step_wide w2v_skipgram_step_f16_wide w2v_cbow_step_f16_wide w2v_subsample_compact"

out_dir="$(NVCC="$nvcc" cargo build --features cuda --message-format=json | python3 -c '
import json, sys
dirs = [m["out_dir"] for m in map(json.loads, sys.stdin)
        if m.get("reason") == "build-script-executed" and "w2v-gpu" in m.get("package_id", "")]
print(dirs[-1] if dirs else "")
')"
if [ -z "$out_dir" ] || ! ls "$out_dir"/*.ptx "$out_dir"/test/*.ptx >/dev/null 2>&1; then
    echo "check-ptx: the build produced no PTX (is nvcc at $nvcc working?)" >&2
    exit 1
fi
grep -h 'BUILD_INFO' "$out_dir/kernels.rs"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# sm_90 is checked on PTX built for compute_90 from the same sources (what NVRTC builds on an H100):
# it has the paths only sm_90 compiles (the v2 steps' vector atomics, W2V_VECTOR_ATOMICS).
mkdir -p "$scratch/sm_90"
for src in "$out_dir"/*.inlined.cu "$out_dir"/test/*.inlined.cu; do
    name="$(basename "$src" .inlined.cu)"
    if ! "$nvcc" -ptx -std=c++17 -O3 -arch=compute_90 -o "$scratch/sm_90/$name.ptx" "$src"; then
        echo "check-ptx: $(basename "$src") does not compile for compute_90" >&2
        exit 1
    fi
done
table="${PTXAS_TABLE:-$out_dir/ptxas.tsv}"
: >"$table"
status=0
printf '%-7s %-28s %5s %6s %7s %7s %6s\n' arch kernel regs stack spill_st spill_ld smem
for arch in sm_80 sm_90; do
    ptxs=("$out_dir"/*.ptx "$out_dir"/test/*.ptx)
    [ "$arch" = sm_90 ] && ptxs=("$scratch"/sm_90/*.ptx)
    for ptx in "${ptxs[@]}"; do
        if ! log="$("$ptxas" -v -arch="$arch" "$ptx" -o /dev/null 2>&1)"; then
            echo "$log" >&2
            echo "check-ptx: ptxas failed on $(basename "$ptx") for $arch" >&2
            status=1
            continue
        fi
        # ptxas prints, per kernel: the entry name, then stack/spill bytes, then registers.
        rows="$(awk -v arch="$arch" '
            /Compiling entry function/ { match($0, /'"'"'[^'"'"']*'"'"'/); name = substr($0, RSTART + 1, RLENGTH - 2) }
            /bytes stack frame/ { stack = $1; st = $5; ld = $9 }
            /Used [0-9]+ registers/ { smem = 0
                                      for (i = 1; i <= NF; i++) { if ($i == "Used") regs = $(i + 1)
                                                                  if ($i == "smem," || $i == "smem") smem = $(i - 2) }
                                      printf "%-7s %-28s %5s %6s %7s %7s %6s\n", arch, name, regs, stack, st, ld, smem }
        ' <<<"$log")"
        echo "$rows"
        echo "$rows" >>"$table"
        while read -r _ name _ _ st ld _; do
            for f in $fused; do
                if [ "$name" = "$f" ] && { [ "$st" != 0 ] || [ "$ld" != 0 ]; }; then
                    echo "check-ptx: $name spills registers on $arch ($st bytes stored, $ld loaded)" >&2
                    status=1
                fi
            done
        done <<<"$rows"
    done
done

# Static PTX instruction counts per entry: every instruction line, and the global-memory ones
# (the traffic model scales the emulator's counted memory instructions by their ratio).
for ptx in "$scratch"/sm_90/*.ptx; do
    awk '
        /^\.visible \.entry/ { name = $3; sub(/\(.*/, "", name); inside = 1; all = 0; mem = 0; next }
        inside && /^}/ { printf "ptx %s %d %d\n", name, all, mem; inside = 0; next }
        inside {
            line = $0; sub(/^[ \t]+/, "", line)
            if (line ~ /;$/ && line !~ /^(\.|\/\/|\{|\}|\$)/) {
                all++
                if (line ~ /^(@!?%p[0-9]+ +)?(ld|st|atom|red)\./ && line ~ /\.global/) mem++
            }
        }
    ' "$ptx" >>"$table"
done

for src in "$out_dir"/*.inlined.cu "$out_dir"/test/*.inlined.cu; do
    cp "$src" "$scratch/"
    if ! (cd "$scratch" && "$nvcc" -ptx -std=c++17 -arch=compute_75 -o /dev/null "$(basename "$src")"); then
        echo "check-ptx: the NVRTC source $(basename "$src") does not compile on its own" >&2
        status=1
    fi
done
[ "$status" = 0 ] && echo "check-ptx: all kernels compile for sm_80 and sm_90; no spills in the fused kernels"
if [ "$status" = 0 ] && [ "${W2V_SKIP_KERNEL_COST:-0}" != 1 ]; then
    bash scripts/kernel-cost.sh --check --ptxas "$table" || status=1
fi
exit "$status"
