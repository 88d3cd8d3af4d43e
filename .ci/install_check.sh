#!/usr/bin/env bash
# .ci/install_check.sh — natgrad as an installed library, checked from the build .ci/run just made (build/):
#   1. `cmake --install build` into a temporary prefix: the CLI (--version), headers, libraries and CMake
#      package, and no test or benchmark binaries;
#   2. every examples/* project configured with find_package(natgrad) against that prefix, built and run at
#      small size (a few hundred CIFAR-10 images from ../shared/data, 1 epoch; eval_cli_weights evaluates
#      a tiny `natgrad train` run);
#   3. `cpack -G DEB`, the package installed with apt-get, examples/cifar_singd built against the system
#      install (no prefix given), then the package removed.
# Usage: .ci/install_check.sh [BUILD_DIR=build]  (run as root for step 3; data from NATGRAD_DATA or ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
data=${NATGRAD_DATA:-$(cd .. && pwd)/shared/data}
start=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

echo "--- install into $prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log"
"$prefix/bin/natgrad" --version
test -f "$prefix/include/natgrad/optim/singd.h" -a -f "$prefix/lib/cmake/natgrad/natgradConfigVersion.cmake"
if [ "$(ls "$prefix/bin")" != "natgrad" ] || grep -E "/(test|bench)_" "$work/install.log"; then
  echo "install_check: only the natgrad CLI may be installed as a program; found: $(ls "$prefix/bin")" >&2
  exit 1
fi

# build_example NAME [cmake args...]: configures and builds examples/NAME into $work/NAME.
build_example() {
  local name=$1
  shift
  cmake -S "examples/$name" -B "$work/$name" -DCMAKE_BUILD_TYPE=Release "$@" > "$work/$name.log"
  cmake --build "$work/$name" -j2 >> "$work/$name.log" || { cat "$work/$name.log"; return 1; }
}

echo "--- examples against the prefix ($(( $(date +%s) - start ))s so far)"
for ex in cifar_singd capture_stats eval_cli_weights; do build_example "$ex" -DCMAKE_PREFIX_PATH="$prefix"; done
"$work/cifar_singd/cifar_singd" "$data" 1 512 256
"$work/capture_stats/capture_stats" 3
cat > "$work/tiny.json" <<JSON
{"name": "tiny", "seed": 0, "threads": 2,
 "model": {"type": "vgg", "depth": 11, "width": 0.125, "batch_norm": true, "num_classes": 10},
 "data": {"root": "$data", "train_subset": 256, "test_subset": 128},
 "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
 "train": {"epochs": 1, "batch_size": 64}, "eval": {"batch_size": 128}}
JSON
"$prefix/bin/natgrad" train "$work/tiny.json" --out "$work/run" > "$work/train.log" || { cat "$work/train.log"; exit 1; }
# The example must score the loaded weights exactly as the CLI scored them at the end of training.
"$work/eval_cli_weights/eval_cli_weights" "$work/run" "$data" 128 | tee "$work/eval.log"
cli_acc=$(sed -n 's/.*"final_test_accuracy": *\([0-9.e-]*\).*/\1/p' "$work/run/summary.json")
if ! grep -q "test accuracy $(printf %.4f "$cli_acc") on 128 images" "$work/eval.log"; then
  echo "install_check: eval_cli_weights disagrees with the CLI's final test accuracy $cli_acc" >&2
  exit 1
fi

echo "--- Debian package ($(( $(date +%s) - start ))s so far)"
(cd "$build" && cpack -G DEB > "$work/cpack.log") || { cat "$work/cpack.log"; exit 1; }
deb=$(realpath "$build"/natgrad_*.deb)
dpkg-deb --field "$deb" Depends
apt-get install -y "$deb" > "$work/apt.log" || { cat "$work/apt.log"; exit 1; }
trap 'apt-get remove -y natgrad > /dev/null; rm -rf "$work"' EXIT
natgrad --version
echo "--- examples/cifar_singd against the system install ($(( $(date +%s) - start ))s so far)"
rm -rf "$work/cifar_singd"
build_example cifar_singd
"$work/cifar_singd/cifar_singd" "$data" 1 256 128
echo "--- install check passed in $(( $(date +%s) - start ))s"
