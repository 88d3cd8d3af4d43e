#!/usr/bin/env bash
# scripts/gpu_check.sh — natgrad's GPU check, for a machine with an NVIDIA GPU, the CUDA toolkit and
# PyTorch (issue 6, point 7). In one run, with the time of each phase printed:
#   1. environment: GPU, driver, nvcc, cmake, torch;
#   2. configure + build the CUDA backend for this GPU (its compute capability, or NG_CUDA_ARCH);
#   3. the CUDA tests (ctest -R '^Cuda|/Cuda': every CUDA kernel against the CPU kernel, the structures and the
#      curvature optimizers on both devices, the SGD/AdamW (PyTorch) and SINGD/IKFAC (`singd` package)
#      golden trajectories on CUDA, VGG-11 step CPU vs GPU);
#   4. a smoke training run on the GPU (loss must fall; two runs must agree bit for bit);
#   5. the benchmark: VGG-16-BN CIFAR-10 training steps, batch 128, float32 and bfloat16, SGD, AdamW,
#      SINGD (dense, diagonal), IKFAC and KFAC, natgrad (bench/gpu_train_step.cpp) and PyTorch eager
#      (bench/torch_gpu_train_step.py; SGD and AdamW): a table of images/s, natgrad/PyTorch ratio and
#      peak memory.
# Designed to finish in well under 8 minutes on an H200. All output also goes to $OUT (when set) or
# build-gpu/gpu_check_logs/: gpu_check.log (everything), build.log, tests.log, bench.txt, summary.txt.
#
# Dependencies: the Debian/Ubuntu packages of the README (OpenBLAS, oneDNN, nlohmann-json, GoogleTest, stb, zlib,
# curl, OpenSSL, libjpeg-turbo) plus cuDNN. A GPU machine that lacks them and cannot install packages can use a bundle
# made on a developer machine that has them:
#     scripts/gpu_check.sh --bundle-deps      # writes build-gpu-deps/natgrad-deps.tar.xz (~20 MB)
# The GPU run unpacks it to a private prefix (never into /) and only if the system copies are missing;
# the binaries find its libraries through their RPATH. cuDNN is taken from the CUDA toolkit, the
# system, or PyTorch's nvidia-cudnn wheel, whichever has it.
#
# Usage: scripts/gpu_check.sh [--bundle-deps] [--skip-tests] [--skip-bench] [--bench-steps N]
# Environment: NG_CUDA_ARCH (e.g. 90), NG_GPU_BUILD (build dir), NG_DEPS_TARBALL, OUT, JOBS,
#              NG_CMAKE_ARGS (extra cmake arguments, one per line; they override the script's),
#              NG_BENCH_OPTIMIZERS (default sgd,adamw,singd_dense,singd_diag,ikfac,kfac).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${NG_GPU_BUILD:-$ROOT/build-gpu}
DEPS_TARBALL=${NG_DEPS_TARBALL:-$ROOT/build-gpu-deps/natgrad-deps.tar.xz}
DEPS_PREFIX=${NG_DEPS_PREFIX:-/tmp/natgrad-deps}
JOBS=${JOBS:-$(nproc)}
BENCH_STEPS=20
RUN_TESTS=1
RUN_BENCH=1
MODE=check

while [[ $# -gt 0 ]]; do
  case "$1" in
    --bundle-deps) MODE=bundle ;;
    --skip-tests) RUN_TESTS=0 ;;
    --skip-bench) RUN_BENCH=0 ;;
    --bench-steps) BENCH_STEPS=$2; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# ---- --bundle-deps: collect the build dependencies of this (Debian/Ubuntu) machine -------------------
# Layout mirrors /usr so the CMake package files (GTest, nlohmann_json) work relocated; shared libraries
# are copied with the closure of their own dependencies, minus the C/C++ runtime every system has.
bundle_deps() {
  local stage P multi=/usr/lib/x86_64-linux-gnu
  stage=$(mktemp -d)
  P=$stage/natgrad-deps
  mkdir -p "$P/include/openblas-pthread" "$P/lib/x86_64-linux-gnu/cmake" "$P/share/cmake" "$P/cudnn/include"
  cp -L /usr/include/x86_64-linux-gnu/openblas-pthread/*.h "$P/include/openblas-pthread/"
  cp -rL /usr/include/nlohmann /usr/include/gtest /usr/include/gmock /usr/include/stb /usr/include/openssl \
    /usr/include/x86_64-linux-gnu/curl "$P/include/"
  cp -L /usr/include/x86_64-linux-gnu/openssl/* "$P/include/openssl/"
  cp -L /usr/include/zlib.h /usr/include/zconf.h /usr/include/dnnl*.h "$P/include/"
  cp -L /usr/include/jpeglib.h /usr/include/jerror.h /usr/include/jmorecfg.h /usr/include/x86_64-linux-gnu/jconfig.h \
    "$P/include/"
  cp -rL /usr/include/oneapi "$P/include/"
  cp -r "$multi/cmake/GTest" "$P/lib/x86_64-linux-gnu/cmake/"
  cp -L "$multi"/libgtest*.a "$multi"/libgmock*.a "$P/lib/x86_64-linux-gnu/"
  cp -r /usr/share/cmake/nlohmann_json "$P/share/cmake/"
  local cudnn_h
  cudnn_h=$(ls /usr/local/cuda/include/cudnn*.h /usr/include/cudnn*.h /usr/include/x86_64-linux-gnu/cudnn*.h 2>/dev/null || true)
  [[ -n "$cudnn_h" ]] && cp -L $cudnn_h "$P/cudnn/include/"
  local lib real soname dep
  for lib in libopenblas.so libdnnl.so libz.so libcurl.so libssl.so libcrypto.so libjpeg.so; do
    real=$(readlink -f "$multi/$lib")
    soname=$(objdump -p "$real" | awk '/SONAME/ {print $2}')
    cp -L "$real" "$P/lib/$soname"
    ln -sf "$soname" "$P/lib/$lib"
    for dep in $(ldd "$real" | awk '/=> \// {print $3}'); do
      case "$(basename "$dep")" in
        libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|libresolv.so*|libgcc_s.so*|libstdc++.so*|ld-linux*) ;;
        *) [[ -e "$P/lib/$(basename "$dep")" ]] || cp -L "$dep" "$P/lib/" ;;
      esac
    done
  done
  mkdir -p "$(dirname "$DEPS_TARBALL")"
  tar -C "$stage" -cJf "$DEPS_TARBALL" natgrad-deps
  rm -rf "$stage"
  echo "wrote $DEPS_TARBALL ($(du -h "$DEPS_TARBALL" | cut -f1)); carry $(dirname "${DEPS_TARBALL#$ROOT/}") to the GPU machine"
}

if [[ $MODE == bundle ]]; then
  bundle_deps
  exit 0
fi

# ---- logging and phases -------------------------------------------------------------------------------
LOG_DIR=${OUT:-$BUILD/gpu_check_logs}
mkdir -p "$LOG_DIR" "$BUILD"
exec > >(tee -a "$LOG_DIR/gpu_check.log") 2>&1
TEE_PID=$!
trap 'exec 1>&- 2>&-; wait "$TEE_PID" 2>/dev/null || true' EXIT  # let tee finish the log file
START=$(date +%s)
PHASE_START=$START
declare -a SUMMARY=()
FAILED=0

elapsed() { echo $(( $(date +%s) - $1 ))s; }
phase() {
  PHASE_START=$(date +%s)
  echo
  echo "==== [$(elapsed "$START") total] $*"
}
record() {  # record NAME STATUS
  SUMMARY+=("$(printf '%-22s %-6s %5s' "$1" "$2" "$(elapsed "$PHASE_START")")")
  [[ $2 == ok ]] || FAILED=1
}

# ---- 1. environment -----------------------------------------------------------------------------------
phase "environment"
if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then export PATH=/usr/local/cuda/bin:$PATH; fi
nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader || echo "nvidia-smi failed"
nvcc --version | tail -2 || { echo "gpu_check.sh: nvcc not found"; exit 1; }
cmake --version | head -1
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' \
  || echo "PyTorch not importable: the PyTorch half of the benchmark will be skipped"
echo "cores: $(nproc), jobs: $JOBS, build dir: $BUILD, logs: $LOG_DIR"
ARCH=${NG_CUDA_ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ' || true)}
[[ $ARCH =~ ^[0-9]+$ ]] || ARCH=90
echo "CUDA architecture: sm_$ARCH"
record environment ok

# ---- 2. configure and build ---------------------------------------------------------------------------
phase "configure + build (sm_$ARCH)"
CUDA_HOME=$(dirname "$(dirname "$(command -v nvcc)")")
# cuDNN: the toolkit, the system, or PyTorch's nvidia-cudnn wheel.
CUDNN_INC="" CUDNN_LIB=""
for d in "$CUDA_HOME/include" /usr/include /usr/include/x86_64-linux-gnu; do
  [[ -f $d/cudnn.h ]] && { CUDNN_INC=$d; break; }
done
for d in "$CUDA_HOME/lib64" "$CUDA_HOME/lib" /usr/lib/x86_64-linux-gnu; do
  f=$(ls "$d"/libcudnn.so "$d"/libcudnn.so.[0-9]* 2>/dev/null | head -1 || true)
  [[ -n $f ]] && { CUDNN_LIB=$f; break; }
done
PY_CUDNN=$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null || true)
if [[ -z $CUDNN_LIB && -n $PY_CUDNN ]]; then
  CUDNN_LIB=$(ls "$PY_CUDNN"/lib/libcudnn.so "$PY_CUDNN"/lib/libcudnn.so.[0-9]* 2>/dev/null | head -1 || true)
fi
if [[ -z $CUDNN_INC && -n $PY_CUDNN && -f $PY_CUDNN/include/cudnn.h ]]; then CUDNN_INC=$PY_CUDNN/include; fi

# Build dependencies: the system's, else the bundle (unpacked once to a private prefix).
missing=()
have_header() { for d in /usr/include /usr/local/include /usr/include/x86_64-linux-gnu; do [[ -e $d/$1 ]] && return 0; done; return 1; }
have_lib() { for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/lib /usr/lib; do [[ -e $d/$1 ]] && return 0; done; return 1; }
for h in nlohmann/json.hpp gtest/gtest.h stb/stb_image.h zlib.h curl/curl.h openssl/ssl.h jpeglib.h; do have_header "$h" || missing+=("$h"); done
have_header cblas.h || have_header openblas-pthread/cblas.h || have_header openblas/cblas.h || missing+=(cblas.h)
have_header dnnl.h || missing+=(dnnl.h)
for l in libopenblas.so libdnnl.so libcurl.so libssl.so libz.so libjpeg.so; do have_lib "$l" || missing+=("$l"); done
[[ ${#missing[@]} -eq 0 ]] || echo "system lacks: ${missing[*]}"
if [[ -z $CUDNN_INC && -f $DEPS_TARBALL ]]; then
  echo "cuDNN headers missing: taking them from the bundle"
  missing+=(cudnn.h)
fi

USE_BUNDLE=0
unpack_bundle() {
  if [[ ! -f $DEPS_TARBALL ]]; then
    echo "gpu_check.sh: build dependencies are missing and there is no bundle at $DEPS_TARBALL."
    echo "  Install them (README), or run 'scripts/gpu_check.sh --bundle-deps' on a machine that has them"
    echo "  and bring build-gpu-deps/ along."
    return 1
  fi
  rm -rf "$DEPS_PREFIX" && mkdir -p "$DEPS_PREFIX"
  tar -C "$DEPS_PREFIX" --strip-components=1 -xJf "$DEPS_TARBALL"
  echo "using the dependency bundle $DEPS_TARBALL -> $DEPS_PREFIX"
  USE_BUNDLE=1
  if [[ -z $CUDNN_INC && -f $DEPS_PREFIX/cudnn/include/cudnn.h ]]; then CUDNN_INC=$DEPS_PREFIX/cudnn/include; fi
}

# configure_and_build: with the system's dependencies, or (USE_BUNDLE=1) the bundle's first.
configure_and_build() {
  local extra=() link="" ld=""
  if [[ $USE_BUNDLE == 1 ]]; then
    extra+=(-DCMAKE_PREFIX_PATH="$DEPS_PREFIX")
    # RPATH (not RUNPATH) also covers the libraries' own dependencies, so the binaries need no
    # LD_LIBRARY_PATH; rpath-link lets the linker resolve those dependencies.
    link="-Wl,--disable-new-dtags -Wl,-rpath,$DEPS_PREFIX/lib -Wl,-rpath-link,$DEPS_PREFIX/lib"
    ld=$DEPS_PREFIX/lib
  fi
  echo "cuDNN: headers ${CUDNN_INC:-NOT FOUND}, library ${CUDNN_LIB:-NOT FOUND}"
  if [[ -z $CUDNN_INC || -z $CUDNN_LIB ]]; then
    echo "gpu_check.sh: cuDNN not found (looked in $CUDA_HOME, /usr and PyTorch's nvidia-cudnn wheel)"
    return 1
  fi
  local cudnn_dir inc=""
  cudnn_dir=$(dirname "$CUDNN_LIB")
  [[ $CUDNN_INC == /usr/include || $CUDNN_INC == "$CUDA_HOME/include" ]] || inc="-I$CUDNN_INC"
  link="$link -Wl,-rpath,$cudnn_dir"
  RUN_LD_PATH=${ld:+$ld:}$cudnn_dir
  # With the bundle, find every dependency afresh (a cache may hold the system's); objects are kept.
  [[ $USE_BUNDLE == 0 ]] || rm -f "$BUILD/CMakeCache.txt"
  local user=()
  [[ -z ${NG_CMAKE_ARGS:-} ]] || mapfile -t user <<<"$NG_CMAKE_ARGS"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNATGRAD_CUDA=ON \
    -DCMAKE_CUDA_COMPILER="$(command -v nvcc)" -DCMAKE_CUDA_ARCHITECTURES="$ARCH" \
    -DCMAKE_CUDA20_STANDARD_COMPILE_OPTION=-std=c++20 -DCMAKE_CUDA20_EXTENSION_COMPILE_OPTION=-std=c++20 \
    -DCUDNN_LIBRARY="$CUDNN_LIB" -DCMAKE_CXX_FLAGS="$inc" -DCMAKE_CUDA_FLAGS="$inc" \
    -DCMAKE_EXE_LINKER_FLAGS="$link" "${extra[@]}" "${user[@]}" || return 1
  grep -q '^CMAKE_CUDA_COMPILER:.*nvcc' "$BUILD/CMakeCache.txt" || { echo "CUDA was not enabled"; return 1; }
  LD_LIBRARY_PATH=$RUN_LD_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    cmake --build "$BUILD" -j "$JOBS" --target test_cuda bench_gpu_train_step
}

RUN_LD_PATH=""
BUILD_OK=0
if [[ ${#missing[@]} -gt 0 ]]; then
  unpack_bundle && configure_and_build >"$LOG_DIR/build.log" 2>&1 && BUILD_OK=1
else
  if configure_and_build >"$LOG_DIR/build.log" 2>&1; then
    BUILD_OK=1
  elif [[ -f $DEPS_TARBALL ]]; then
    echo "configure/build with the system's dependencies failed (see build.log); retrying with the bundle"
    mv "$LOG_DIR/build.log" "$LOG_DIR/build_system.log"
    unpack_bundle && configure_and_build >"$LOG_DIR/build.log" 2>&1 && BUILD_OK=1
  fi
fi
grep -E '^-- (The |Found|Configuring|Generating|Build files)|^ \* |Built target (test_cuda|bench_gpu)' "$LOG_DIR/build.log" || true
if [[ $BUILD_OK != 1 ]]; then
  record build FAILED
  echo "gpu_check.sh: configure/build failed; last lines of build.log:"
  tail -30 "$LOG_DIR/build.log" || true
  printf '%s\n' "${SUMMARY[@]}" | tee "$LOG_DIR/summary.txt"
  exit 1
fi
record build ok
ORIG_LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}
export LD_LIBRARY_PATH=$RUN_LD_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
BENCH_BIN=$BUILD/bench_gpu_train_step
# PyTorch runs with the environment it came with, not the bundle's libraries.
torch_env() { env LD_LIBRARY_PATH="${ORIG_LD_LIBRARY_PATH:-}" "$@"; }

# ---- 3. CUDA tests -------------------------------------------------------------------------------------
if [[ $RUN_TESTS == 1 ]]; then
  phase "CUDA tests (ctest -R '^Cuda|/Cuda')"
  if (cd "$BUILD" && timeout 300 ctest -R '^Cuda|/Cuda' -j 4 --output-on-failure --timeout 240) >"$LOG_DIR/tests.log" 2>&1; then
    record cuda-tests ok
  else
    record cuda-tests FAILED
    # The failures with their output: gtest names the op, dtype, element and both values.
    grep -E 'Failure|on CUDA,|Expected|Which is|error|\*\*\*Failed|Timeout|Exception' "$LOG_DIR/tests.log" | head -80 || true
  fi
  grep -E 'tests passed|tests failed|\*\*\*Failed|\*\*\*Skipped|Not Run|Timeout' "$LOG_DIR/tests.log" | head -50 || true
fi

# ---- 4. smoke training run ----------------------------------------------------------------------------
phase "smoke training run (VGG-16-BN, SGD, float32, 30 steps on one batch, twice)"
smoke() { timeout 120 "$BENCH_BIN" --dtypes float32 --optimizers sgd --warmup 1 --steps 30; }
if S1=$(smoke) && S2=$(smoke); then
  echo "$S1"
  echo "$S2"
  first=$(sed -n 's/.* first_loss=\([^ ]*\).*/\1/p' <<<"$S1")
  last=$(sed -n 's/.* loss=\([^ ]*\).*/\1/p' <<<"$S1")
  last2=$(sed -n 's/.* loss=\([^ ]*\).*/\1/p' <<<"$S2")
  if python3 -c "import sys; sys.exit(0 if float('$last') < float('$first') else 1)"; then
    echo "loss fell: $first -> $last"
    if [[ $last == "$last2" ]]; then record smoke-train ok; echo "two runs agree bitwise: loss $last"
    else record smoke-determinism FAILED; echo "runs disagree: $last vs $last2"; fi
  else
    echo "loss did not fall: $first -> $last"
    record smoke-train FAILED
  fi
else
  echo "${S1:-}"
  record smoke-train FAILED
fi

# ---- 5. benchmark --------------------------------------------------------------------------------------
if [[ $RUN_BENCH == 1 ]]; then
  phase "benchmark: VGG-16-BN CIFAR-10 training steps, batch 128 ($BENCH_STEPS timed steps each)"
  OPTIMIZERS=${NG_BENCH_OPTIMIZERS:-sgd,adamw,singd_dense,singd_diag,ikfac,kfac}
  BENCH_ARGS=(--dtypes float32,bfloat16 --batch 128 --warmup 3 --steps "$BENCH_STEPS")
  : >"$LOG_DIR/bench_raw.txt"
  bench_ok=ok
  for opt in ${OPTIMIZERS//,/ }; do  # one process per optimizer: a crash costs one row, not the table
    timeout 150 "$BENCH_BIN" "${BENCH_ARGS[@]}" --optimizers "$opt" | tee -a "$LOG_DIR/bench_raw.txt" || bench_ok=FAILED
  done
  record bench-natgrad $bench_ok
  PHASE_START=$(date +%s)
  if torch_env timeout 240 python3 "$ROOT/bench/torch_gpu_train_step.py" "${BENCH_ARGS[@]}" --optimizers "$OPTIMIZERS" \
      | tee -a "$LOG_DIR/bench_raw.txt"; then
    record bench-torch ok
  else
    record bench-torch FAILED
  fi
  python3 - "$LOG_DIR/bench_raw.txt" <<'EOF' | tee "$LOG_DIR/bench.txt"
import sys
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if not parts or parts[0] not in ("natgrad", "torch"):
        continue
    kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    rows.setdefault((kv.get("dtype"), kv.get("optimizer")), {})[parts[0]] = kv
print(f"{'dtype':9} {'optimizer':11} {'natgrad img/s':>13} {'torch img/s':>11} {'ratio':>6} "
      f"{'natgrad MiB':>11} {'torch MiB':>9}  natgrad update")
for (dtype, opt), r in rows.items():
    n, t = r.get("natgrad", {}), r.get("torch", {})
    ni, ti = n.get("images_per_s"), t.get("images_per_s")
    ratio = f"{float(ni) / float(ti):.2f}" if ni and ti else "-"
    print(f"{dtype:9} {opt:11} {ni or n.get('status', '-'):>13} {ti or t.get('status', '-'):>11} {ratio:>6} "
          f"{n.get('peak_mib', '-'):>11} {t.get('peak_mib', '-'):>9}  {n.get('update', '-')}")


def value(who, dtype, opt, key):
    v = rows.get((dtype, opt), {}).get(who, {}).get(key)
    return float(v) if v is not None else None


def target(text, ok):
    print(f"target: {text}: {'n/a' if ok is None else ('met' if ok else 'NOT met')}")


print()
for dtype in ("float32", "bfloat16"):
    for opt in ("sgd", "adamw"):
        n, t = value("natgrad", dtype, opt, "images_per_s"), value("torch", dtype, opt, "images_per_s")
        target(f"natgrad >= 1.0x PyTorch images/s, {opt} {dtype}", None if n is None or t is None else n >= t)
s, g = value("natgrad", "float32", "singd_dense", "ms_per_step"), value("natgrad", "float32", "sgd", "ms_per_step")
target("SINGD (dense, T=10) step time <= 1.3x SGD's, float32", None if s is None or g is None else s <= 1.3 * g)
b, k = value("natgrad", "bfloat16", "singd_dense", "peak_mib"), value("natgrad", "float32", "kfac", "peak_mib")
target("SINGD bfloat16 peak memory < KFAC float32's", None if b is None or k is None else b < k)
EOF
fi

# ---- summary -------------------------------------------------------------------------------------------
echo
echo "==== summary (total $(elapsed "$START"))"
printf '%s\n' "${SUMMARY[@]}" | tee "$LOG_DIR/summary.txt"
exit $FAILED
