#!/usr/bin/env bash
# scripts/cpu_tune_timing.sh — the time columns of the tuned CPU study's table, measured in one sitting.
#
# The study's final runs (scripts/cpu_tune_study.sh) take hours and run beside other work, so their wall
# times carry that machine's load of the moment; their accuracies do not (a CPU run is bitwise the same
# under any load). This script times all 14 final configs one after another in one run, one epoch each
# (seed 1, the same 45 000 training images, evaluation on the 10 000 test images), on a machine left
# otherwise idle for its ≈ 12 minutes: `scripts/tune_study_table.py` takes each config's time per epoch
# and its ratio to SGD's from here, and the epochs each final run needed to reach the target accuracy from
# the study. Every curvature stage keeps its schedule within the epoch (statistics every T = 10 steps,
# KFAC's inversions every T_inv = 30), so one epoch costs what each epoch of a 10-epoch run costs.
#
# Usage: scripts/cpu_tune_timing.sh [OUT]          run (default OUT: runs/cpu-tune; writes OUT/timing)
#        scripts/cpu_tune_timing.sh --save [OUT]   record OUT/timing's runs in bench/results/cpu-tune/timing/
#        NATGRAD=path/to/natgrad overrides the binary (default: build/natgrad).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=scripts/study_records.sh
source "$root/scripts/study_records.sh"
study_args cpu-tune "$@"

save_runs timing
configs=()
for f in "$records"/final/*/seed-1/config.json; do configs+=("$f"); done
(( ${#configs[@]} == 14 )) || { echo "error: expected the 14 final configs in $records/final, found ${#configs[@]}" >&2; exit 2; }
rm -rf "$out/timing"  # one sitting: no run resumes from an earlier one
"$natgrad" compare "${configs[@]}" --seeds 1 --set seed=1 --set train.epochs=1 --out "$out/timing"
