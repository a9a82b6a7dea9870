#!/usr/bin/env bash
# kernel-cost.sh: the traffic model of the fused step kernels (benches/MODEL.md), with no GPU.
#
#   scripts/kernel-cost.sh            print the figures (runs scripts/check-ptx.sh for ptxas's table)
#   scripts/kernel-cost.sh --write    ... and write them to benches/kernel-cost.json (commit it)
#   scripts/kernel-cost.sh --check    ... and fail on a regression against benches/kernel-cost.json
#   --ptxas FILE                      use this ptxas table (check-ptx.sh's) instead of making one
#
# Sectors and atomic sectors per kept centre are counted by the emulated device on a fixed
# text8-like corpus (benches/kernel_cost.rs); registers and spills come from ptxas for sm_80 and
# sm_90; words/s are MODELLED from the roofline in benches/MODEL.md, never measured.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mode=print
table=""
while [ $# -gt 0 ]; do
    case "$1" in
        --write) mode=write ;;
        --check) mode=check ;;
        --ptxas)
            [ $# -ge 2 ] || { echo "kernel-cost: --ptxas needs a file (check-ptx.sh's table)" >&2; exit 2; }
            table="$2"
            shift
            ;;
        *) echo "kernel-cost: unknown argument $1; use --write, --check or --ptxas FILE" >&2; exit 2 ;;
    esac
    shift
done
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
if [ -z "$table" ]; then
    table="$scratch/ptxas.tsv"
    PTXAS_TABLE="$table" W2V_SKIP_KERNEL_COST=1 bash scripts/check-ptx.sh >&2
fi
args=(--ptxas "$table")
case "$mode" in
    write) args+=(--json benches/kernel-cost.json) ;;
    check) args+=(--check benches/kernel-cost.json) ;;
esac
cargo bench --quiet --features emulator --bench kernel-cost -- "${args[@]}"
