#!/usr/bin/env bash
# scripts/bench_loader.sh — data-loader throughput, natgrad vs torchvision, in one run (issue 3, point 8).
#
# Runs bench/loader.cpp (built as bench_loader) and bench/torch_loader.py on the same machine with the
# same work — CIFAR-10 training set, batch 128, shuffle, RandomCrop(32, padding=4) + horizontal flip +
# normalisation to float32 NCHW, 1 and 2 workers (threads for natgrad, processes for torch), warm-up
# batches untimed — and prints a table with the ratio natgrad / torchvision (> 1: natgrad is faster).
# Not a test: numbers depend on the machine and on whatever else runs on it.
#
# Usage: scripts/bench_loader.sh [build-dir]      (default: build; the bench target is built if needed)
#        the data root is found like the app does (NATGRAD_DATA, ../shared/data, ./data)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}

if [[ ! -x $build/bench_loader ]]; then
  cmake --build "$build" --target bench_loader -j2 >&2
fi

echo "# natgrad: $build/bench_loader" >&2
ng_out=$("$build/bench_loader" --workers "1 2" | tee /dev/stderr)
echo "# torch: python3 bench/torch_loader.py" >&2
pt_out=$(python3 "$root/bench/torch_loader.py" --workers "1 2" | tee /dev/stderr)

# Lines look like: "<impl> loader workers=<w> ... images_per_s=<x>"
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
echo
printf '| %-7s | %15s | %17s | %21s |\n' workers "natgrad img/s" "torchvision img/s" "natgrad/torchvision"
printf '|%s|%s|%s|%s|\n' --------- ----------------- ------------------- -----------------------
for w in 1 2; do
  ng=$(echo "$ng_out" | grep " workers=$w " | field images_per_s)
  pt=$(echo "$pt_out" | grep " workers=$w " | field images_per_s)
  ratio=$(awk -v a="$ng" -v b="$pt" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }')
  printf '| %-7s | %15s | %17s | %21s |\n' "$w" "$ng" "${pt:-n/a}" "$ratio"
done
echo
echo "CIFAR-10 train, batch 128, crop+flip+normalise, float32; torch $(python3 -c 'import torch, torchvision; print(torch.__version__ + ", torchvision " + torchvision.__version__)'), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
