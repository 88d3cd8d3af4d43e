#!/usr/bin/env bash
# scripts/bench_data_parallel.sh — data-parallel training on one machine, in one run: 1 rank × 2 threads
# against 2 ranks × 1 thread (`mpirun -np 2 natgrad train`), VGG-11-BN width 0.25 on real CIFAR-10, batch
# 128, SGD (configs/quickstart.json) and SINGD with hierarchical factors (configs/cpu-study/singd-hierarchical.json),
# the latter also on 2 ranks with distributed.shard_factor_work (row "…-sharded", against the same 1-rank run);
# then the bytes SINGD's statistics all-reduce per step, compact structures against dense factors
# (bench/dist_comm_bytes.cpp, arithmetic of the structures' sizes).
#
# Each setting trains 2 epochs on the first SUBSET training images (default 3072: 24 steps per epoch) and
# is read from its second epoch line (the first warms caches and allocators): images/s = images /
# epoch_seconds, and each rank's wait share = its gradient_wait_seconds / epoch_seconds (the time
# finish_step() waits for the gradient all-reduces after the backward pass). The settings alternate,
# REPEATS times (default 3), and each keeps its fastest repeat, so a shared machine's drifting speed hits
# both alike; ratio = 2 ranks / 1 rank images/s (> 1: two ranks are faster). A setting natgrad refuses
# (exit 2, e.g. a build without MPI) is reported with natgrad's error. Not a
# test: numbers depend on the machine and on whatever else runs on it. mpirun runs with Open MPI's
# defaults (for 2 ranks: each bound to a core) plus MPIRUN_ARGS, e.g. "--bind-to none"; the 1-rank run
# is a plain process.
#
# Usage: scripts/bench_data_parallel.sh [build-dir]     (default: build; natgrad and the bench are built if needed)
#        SUBSET=3072 REPEATS=3 MPIRUN_ARGS="--bind-to none" scripts/bench_data_parallel.sh build   (the defaults, unbound ranks)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
subset=${SUBSET:-3072}
repeats=${REPEATS:-3}
mpirun_args=${MPIRUN_ARGS:-}
[[ $(id -u) == 0 ]] && mpirun_args="--allow-run-as-root $mpirun_args"
# As in scripts/bench_train_step.sh: idle OpenMP threads wait passively (spinning steals a shared core).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

for target in natgrad bench_dist_comm_bytes; do
  [[ -x $build/$target ]] || cmake --build "$build" --target "$target" -j2 >&2
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run NAME RANKS THREADS CONFIG [ARGS…]: one training (ARGS: more natgrad options); prints "<images/s> <wait share of rank 0>,<of rank 1>,…" of
# its second epoch, or "refused: <natgrad's error>" for an exit 2.
run() {
  local name=$1 ranks=$2 threads=$3 config=$4 out=$work/$1 rc=0
  local cmd=("$build/natgrad" train "$config" --out "$out" --set threads="$threads" --set train.epochs=2
             --set data.train_subset="$subset" --set data.test_subset=200 --set eval.interval_epochs=2
             --set log.progress=off --set checkpoint.best=false "${@:5}")
  rm -rf "$out"
  if ((ranks > 1)); then
    # shellcheck disable=SC2086
    mpirun $mpirun_args -x OMP_WAIT_POLICY -np "$ranks" "${cmd[@]}" >"$work/$name.log" 2>&1 || rc=$?
  else
    "${cmd[@]}" >"$work/$name.log" 2>&1 || rc=$?
  fi
  if ((rc == 2)); then echo "refused: $(grep -m1 -i error "$work/$name.log")"; return; fi
  ((rc == 0)) || { echo "$name failed (exit $rc):" >&2; cat "$work/$name.log" >&2; exit 1; }
  python3 - "$out/metrics.jsonl" <<'EOF'
import json, sys
first, second = [l for l in map(json.loads, open(sys.argv[1])) if l.get("kind") == "epoch"]
seconds = second["epoch_seconds"]
waits = second.get("gradient_wait_seconds", [0.0])
print(f"{128 * (second['step'] - first['step']) / seconds:.1f}", ",".join(f"{w / seconds:.3f}" for w in waits))
EOF
}

# better OLD NEW: the result with more images/s (a refusal stays a refusal)
better() {
  if [[ -z $1 || $2 == refused* ]]; then echo "$2"; return; fi
  awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN { exit !(b > a) }' && echo "$2" || echo "$1"
}

declare -A best
optimizers=(sgd:configs/quickstart.json singd-hierarchical:configs/cpu-study/singd-hierarchical.json
            singd-hierarchical-sharded:configs/cpu-study/singd-hierarchical.json)
for ((r = 1; r <= repeats; ++r)); do
  for entry in "${optimizers[@]}"; do
    opt=${entry%%:*}
    extra=()
    [[ $opt == *-sharded ]] && extra=(--set distributed.shard_factor_work=true)
    for setting in 1x2 2x1; do
      [[ $opt == *-sharded && $setting == 1x2 ]] && continue  # one process shares nothing: the unsharded run
      echo "# repeat $r: $opt, ${setting%x*} rank(s) × ${setting#*x} thread(s)" >&2
      res=$(run "$opt-$setting" "${setting%x*}" "${setting#*x}" "$root/${entry#*:}" "${extra[@]}")
      echo "#   $res" >&2
      best[$opt-$setting]=$(better "${best[$opt-$setting]:-}" "$res")
    done
  done
done

echo
echo "| optimizer | 1 rank × 2 threads img/s | 2 ranks × 1 thread img/s | ratio 2×1 / 1×2 | wait share per rank (2 ranks) |"
echo "|---|---|---|---|---|"
notes=()
for entry in "${optimizers[@]}"; do
  opt=${entry%%:*}
  one=${best[${opt%-sharded}-1x2]} two=${best[$opt-2x1]}
  if [[ $two == refused* ]]; then
    echo "| $opt | ${one%% *} | n/a | n/a | n/a |"
    notes+=("$opt on 2 ranks ${two}")
    continue
  fi
  ratio=$(awk -v a="${one%% *}" -v b="${two%% *}" 'BEGIN { printf "%.3f", b / a }')
  echo "| $opt | ${one%% *} | ${two%% *} | $ratio | ${two#* } |"
done
for n in "${notes[@]}"; do echo "$n"; done
echo
echo "VGG-11-BN w0.25, batch 128 (2 ranks: 64 each), float32, second of 2 epochs on $subset CIFAR-10 training images, best of $repeats, mpirun ${mpirun_args:-(defaults)}; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$build/bench_dist_comm_bytes"
