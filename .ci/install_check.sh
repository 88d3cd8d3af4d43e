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

echo "--- examples against the prefix"
for ex in cifar_singd capture_stats eval_cli_weights; do build_example "$ex" -DCMAKE_PREFIX_PATH="$prefix"; done
"$work/cifar_singd/cifar_singd" "$data" 1 512 256
"$work/capture_stats/capture_stats" 3
"$prefix/bin/natgrad" train configs/quickstart.json --out "$work/run" --set data.root="\"$data\"" \
  --set model.width=0.125 --set data.train_subset=256 --set data.test_subset=128 --set train.epochs=1 \
  --set train.batch_size=64 --set eval.batch_size=128 > "$work/train.log" || { cat "$work/train.log"; exit 1; }
"$work/eval_cli_weights/eval_cli_weights" "$work/run" "$data" 128

echo "--- Debian package ($(( $(date +%s) - start ))s so far)"
(cd "$build" && cpack -G DEB > "$work/cpack.log") || { cat "$work/cpack.log"; exit 1; }
deb=$(realpath "$build"/natgrad_*.deb)
dpkg-deb --field "$deb" Depends
apt-get install -y "$deb" > "$work/apt.log" || { cat "$work/apt.log"; exit 1; }
trap 'apt-get remove -y natgrad > /dev/null; rm -rf "$work"' EXIT
natgrad --version
rm -rf "$work/cifar_singd"
build_example cifar_singd
"$work/cifar_singd/cifar_singd" "$data" 1 256 128
echo "--- install check passed in $(( $(date +%s) - start ))s"
