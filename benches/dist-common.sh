# Sourced by benches/dist-*.sh: the binary B, the data folder D, the output folder (the script's
# first argument, else target/<name>) made and entered, and two helpers: `ranks ARGS` (NP ranks, default 2, of
# one thread under mpirun) and `ev NAME` (NAME.bin scored on questions-words, WordSim-353 and
# SimLex-999 into NAME.eval).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
B=${W2V_BIN:-$PWD/target/release/w2v-gpu}
D=$(cd ../shared/data && pwd)
out=${1:-target/$(basename "$0" .sh)}
mkdir -p "$out" && cd "$out"
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
ranks() { mpirun --oversubscribe -np "${NP:-2}" "$B" train --device cpu --threads 1 "$@"; }
ev() {
    "$B" eval --vectors "$1.bin" --analogies "$D/questions-words.txt" \
        --similarity "$D/wordsim353.tsv" --similarity "$D/simlex999.txt" > "$1.eval" 2>&1
}
