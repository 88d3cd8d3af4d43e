#!/usr/bin/env bash
# scripts/bench_train_step.sh — training-step throughput, natgrad vs PyTorch, in one run (issue 2, point 11).
#
# Runs bench/train_step.cpp (built as bench_train_step) and bench/torch_train_step.py on the same machine
# with the same settings — VGG-11-BN width 0.25 and VGG-16-BN, batch 128, float32, 2 threads, forward +
# backward + SGD step (momentum 0.9, weight decay 5e-4), warm-up then timed steps (median step time) — and prints a table with the
# ratio natgrad / PyTorch (> 1 means natgrad is faster), plus each side's median forward (+ loss) /
# backward / optimizer milliseconds. Not a test: numbers depend on the machine and on
# whatever else runs on it.
#
# Usage: scripts/bench_train_step.sh [build-dir]      (default: build; the bench target is built if needed)
#        extra arguments for both benches go in BENCH_ARGS, e.g. BENCH_ARGS="--steps 3"
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
args=${BENCH_ARGS:-}
# Both sides use OpenMP; with its default spin-waiting, any other load on a 2-core machine makes idle
# threads burn the cores the busy ones need. Passive waiting is the fair setting for both (override to compare).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

if [[ ! -x $build/bench_train_step ]]; then
  cmake --build "$build" --target bench_train_step -j2 >&2
fi

echo "# natgrad: $build/bench_train_step $args" >&2
ng_out=$("$build/bench_train_step" $args | tee /dev/stderr)
echo "# torch: python3 bench/torch_train_step.py $args" >&2
pt_out=$(python3 "$root/bench/torch_train_step.py" $args | tee /dev/stderr)

# Lines look like: "<impl> model=<name> ... images_per_s=<x> ..."
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
# forward / backward / optimizer medians in ms of one implementation's line for a model
phases() { local l; l=$(echo "$1" | grep " model=$2 "); [[ -n $l ]] || { echo n/a; return; }
  echo "$(echo "$l" | field forward_ms) / $(echo "$l" | field backward_ms) / $(echo "$l" | field optimizer_ms)"; }
echo
printf '| %-14s | %13s | %13s | %15s | %22s | %22s |\n' model "natgrad img/s" "PyTorch img/s" \
  "natgrad/PyTorch" "natgrad fwd/bwd/opt ms" "PyTorch fwd/bwd/opt ms"
printf '|%s|%s|%s|%s|%s|%s|\n' ---------------- --------------- --------------- ----------------- \
  ------------------------ ------------------------
for model in $(echo "$ng_out" | field model); do
  ng=$(echo "$ng_out" | grep " model=$model " | field images_per_s)
  pt=$(echo "$pt_out" | grep " model=$model " | field images_per_s)
  ratio=$(awk -v a="$ng" -v b="$pt" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')
  printf '| %-14s | %13s | %13s | %15s | %22s | %22s |\n' "$model" "$ng" "${pt:-n/a}" "$ratio" \
    "$(phases "$ng_out" "$model")" "$(phases "$pt_out" "$model")"
done
echo
echo "batch 128, float32, 2 threads, forward+backward+SGD(momentum 0.9, wd 5e-4); torch $(python3 -c 'import torch; print(torch.__version__)'), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
