#!/usr/bin/env bash
# scripts/cpu_tune_study.sh — the tuned CPU study: every optimizer of configs/cpu-study tuned with the same
# budget by `natgrad tune` (spaces in configs/cpu-tune/, selection on a 5000-image validation split held
# out of the training set), then each winner (best.json) and its bfloat16-factor variant (the float32
# winner with dtype_K = dtype_C = bfloat16, nothing else changed) × 3 seeds via `natgrad compare`, the
# only runs whose test accuracy counts. The final runs use seeds 1, 2, 3 (`--set seed=1`): none of them is
# a run the tuner already selected on (the trials ran with seed 0). Like the trials, they train on the
# 45 000 images outside the validation split (best.json keeps data.validation_size = 5000).
#
# Budget (all times from the README's CPU-study table, 2-core Intel Xeon VM, seconds per epoch of VGG-11-BN
# w0.25 on 50 000 images; the tuned runs train on 45 000, so these are upper bounds):
#   float32: sgd 33.9 + adamw 33.2 + kfac 38.6 + ikfac 55.1 + singd dense 68.0 + diagonal 40.9
#            + hierarchical 40.2 + toeplitz 52.6 = 362.5 s for one epoch of each of the 8
#   bf16 factors: ikfac 60.5 + kfac 39.6 + singd dense 62.6 + diagonal 43.4 + hierarchical 42.4
#            + toeplitz 53.4 = 301.9 s for one epoch of each of the 6
#   tuning:  budget 4 full-length (10-epoch) trials per optimizer; successive halving with η = 3 and
#            rungs at 1, 3, 10 epochs draws 17 settings (17 trials × 1 epoch + 5 × 2 more + 1 × 7 more
#            = 34 epochs ≤ 40), the same for every optimizer: 34 × 362.5 s = 12 325 s ≈ 3.4 h
#   finals:  14 configs × 3 seeds × 10 epochs: 30 × (362.5 + 301.9) s = 19 932 s ≈ 5.5 h
#   evaluation after every epoch: trials only the 5 000 validation images (≈ 2 s; they run with --no-test),
#            final runs also the 10 000 test images (≈ 5 s): 34 × 8 × 2 s + 420 × 5 s ≈ 2 600 s ≈ 0.7 h
#   in all ≈ 34 900 s ≈ 9.7 h, leaving ≈ 2.3 h of the 12 for the machine's ±15% speed drift and start-ups.
#   `natgrad tune configs/cpu-tune/<name>.json --dry-run` prints each tune's plan.
#
# Resumable: run the same command again after an interruption; `natgrad tune` reuses every recorded trial
# rung and resumes unfinished trials from their checkpoints, `natgrad compare` skips finished runs.
# `--save` copies the records into bench/results/cpu-tune/ (per tune: space.json, tune.jsonl, best.json,
# report.html; per final run: config, provenance, metrics, summary), and every start restores them into
# OUT first, so a study continues on another machine (a trial whose checkpoints stayed behind is trained
# again from its start up to its rung, which gives the same result).
#
# Usage: scripts/cpu_tune_study.sh [OUT]          run (or continue) the study (default OUT: runs/cpu-tune)
#        scripts/cpu_tune_study.sh --save [OUT]   record OUT's finished work in bench/results/cpu-tune/
#        NATGRAD=path/to/natgrad overrides the binary (default: build/natgrad); keep one binary per study.
#        CPU_TUNE_SET="key=value ..." adds --set overrides to every tune and final run (a quick smoke test,
#        e.g. "data.train_subset=1200 data.validation_size=200 data.test_subset=200 train.epochs=2";
#        use another OUT for it, and never --save it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
names=(sgd adamw kfac ikfac singd-dense singd-diagonal singd-hierarchical singd-toeplitz)
bf16_names=(kfac ikfac singd-dense singd-diagonal singd-hierarchical singd-toeplitz)
sets=()
for kv in ${CPU_TUNE_SET:-}; do sets+=(--set "$kv"); done

# shellcheck source=scripts/study_records.sh
source "$root/scripts/study_records.sh"
study_args cpu-tune "$@"

# copy_tunes FROM TO: each tune's records where TO has fewer tune.jsonl lines than FROM.
copy_tunes() {
  local from=$1 to=$2 name a b f
  for name in "${names[@]}"; do
    a=$from/tune/$name b=$to/tune/$name
    [[ -f $a/tune.jsonl ]] || continue
    [[ -f $b/tune.jsonl ]] && (( $(wc -l < "$a/tune.jsonl") <= $(wc -l < "$b/tune.jsonl") )) && continue
    mkdir -p "$b"
    for f in space.json best.json report.html; do [[ -f $a/$f ]] && cp "$a/$f" "$b/"; done
    cp "$a/tune.jsonl" "$b/tune.jsonl"  # last: the records are complete once they are there
  done
  return 0
}

if $save; then
  copy_tunes "$out" "$records"
  copy_finished_runs "$out/final" "$records/final"
  echo "recorded the tunes and finished final runs of $out in $records"
  exit 0
fi
copy_tunes "$records" "$out"
copy_finished_runs "$records/final" "$out/final"

for name in "${names[@]}"; do
  # Exit code 1 (no trial completed) leaves this optimizer out of the final runs; anything else stops.
  "$natgrad" tune "$root/configs/cpu-tune/$name.json" --out "$out/tune/$name" "${sets[@]}" || {
    rc=$?
    [[ $rc == 1 ]] || exit $rc
    echo "tune $name: no trial completed; it has no final runs"
  }
done

mkdir -p "$out/final-configs"
finals=()
for name in "${names[@]}"; do
  best=$out/tune/$name/best.json
  [[ -f $best ]] || continue
  cp "$best" "$out/final-configs/$name.json"
  finals+=("$out/final-configs/$name.json")
  [[ " ${bf16_names[*]} " == *" $name "* ]] || continue
  python3 - "$best" "$out/final-configs/$name-bf16.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["name"] += "-bf16"
config["optimizer"]["dtype_K"] = config["optimizer"]["dtype_C"] = "bfloat16"
json.dump(config, open(sys.argv[2], "w"), indent=2)
PY
  finals+=("$out/final-configs/$name-bf16.json")
done
"$natgrad" compare "${finals[@]}" --seeds 3 --set seed=1 "${sets[@]}" --out "$out/final"
echo "tuned values: $out/final-configs/; final comparison: $out/final/comparison.md"
