#!/usr/bin/env bash
# .ci/fuzz.sh — builds the libFuzzer targets of tests/fuzz (clang, AddressSanitizer + UndefinedBehavior-
# Sanitizer, CUDA off) in build-fuzz/ and runs each for a bounded time, starting from its committed seed
# corpus (tests/fuzz/corpus/<name>; new inputs go to build-fuzz/corpus/<name>). Any crash, leak, timeout,
# out-of-memory or sanitizer report fails the script; the input that caused it is kept in
# build-fuzz/artifacts/<name>/ (replay: build-fuzz/tests/fuzz/fuzz_<name> FILE).
#   FUZZ_SECONDS  seconds per target (default 45)
#   FUZZ_TARGETS  which targets (default: all five)
#   FUZZ_BUILD_JOBS  parallel compile jobs (default 2)
#   FUZZ_SEED     libFuzzer's random seed (default 1, so a CI run can be repeated exactly)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-45}
targets=${FUZZ_TARGETS:-"safetensors config checkpoint cifar10 image_folder"}
start=$(date +%s)

if ! dpkg -s clang libclang-rt-14-dev libomp-14-dev >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y clang libclang-rt-14-dev libomp-14-dev
fi
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DNATGRAD_CUDA=OFF -DNATGRAD_NATIVE=OFF -DNATGRAD_SANITIZE=ON -DNATGRAD_FUZZ=ON "${launcher[@]}"
cmake --build build-fuzz -j"${FUZZ_BUILD_JOBS:-2}" --target fuzz_targets
echo "=== fuzz targets built in $(( $(date +%s) - start ))s"

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
for name in $targets; do
  corpus=build-fuzz/corpus/$name artifacts=build-fuzz/artifacts/$name
  mkdir -p "$corpus" "$artifacts"
  echo "=== fuzz_$name for ${seconds}s"
  if ! OMP_NUM_THREADS=1 build-fuzz/tests/fuzz/fuzz_"$name" -max_total_time="$seconds" -seed="${FUZZ_SEED:-1}" -timeout=30 -rss_limit_mb=2560 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus" tests/fuzz/corpus/"$name"; then
    failed+=("$name")
  fi
done
echo "=== fuzzing done in $(( $(date +%s) - start ))s"
if (( ${#failed[@]} )); then
  echo "fuzz findings in: ${failed[*]} (inputs in build-fuzz/artifacts/)" >&2
  exit 1
fi
