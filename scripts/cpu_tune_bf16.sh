#!/usr/bin/env bash
# scripts/cpu_tune_bf16.sh — when do bfloat16 factors fail KFAC, and what does SINGD do at the same
# settings? Runs on top of the tuned CPU study (scripts/cpu_tune_study.sh): KFAC's tuned config and SINGD
# dense's, each in float32 and with bfloat16 factors (dtype_K = dtype_C = bfloat16, nothing else changed),
# at two dampings with KFAC's tuned T_inv = 30:
#   λ = 0.0858 (KFAC's tuned value): the study's final KFAC runs are this setting (their bf16 Cholesky
#              factorisations fail), so only SINGD dense runs here;
#   λ = 1      (larger than the bfloat16 rounding of KFAC's factors): KFAC and SINGD dense.
# One seed (1) per config, 10 epochs, on the 45 000 training images outside the validation split, as the
# study's final runs; the test accuracy and the skipped steps (summary.json, metrics.jsonl) are the data.
#
# Resumable like the study (`natgrad compare` skips finished runs and resumes from checkpoints).
# Usage: scripts/cpu_tune_bf16.sh [OUT]          run (or continue) (default OUT: runs/cpu-tune)
#        scripts/cpu_tune_bf16.sh --save [OUT]   record OUT/bf16/'s finished runs in bench/results/cpu-tune/bf16/
#        NATGRAD=path/to/natgrad overrides the binary (default: build/natgrad).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=scripts/study_records.sh
source "$root/scripts/study_records.sh"
study_args cpu-tune "$@"

save_runs bf16
copy_finished_runs "$records/bf16" "$out/bf16"

# config NAME DAMPING BF16: the tuned NAME (bench/results/cpu-tune/tune/NAME/best.json) at DAMPING, with
# bfloat16 factors when BF16 is 1; prints its path.
config() {
  local name=$1 damping=$2 bf16=$3 path
  path=$out/bf16-configs/$name$([[ $bf16 == 1 ]] && echo -bf16)-damping-$damping.json
  mkdir -p "$out/bf16-configs"
  python3 - "$records/tune/$name/best.json" "$path" "$damping" "$bf16" <<'PY'
import json, sys
src, dst, damping, bf16 = sys.argv[1:]
config = json.load(open(src))
config["optimizer"]["damping"] = float(damping)
if bf16 == "1":
    config["optimizer"]["dtype_K"] = config["optimizer"]["dtype_C"] = "bfloat16"
config["name"] = dst.rsplit("/", 1)[1][: -len(".json")]
json.dump(config, open(dst, "w"), indent=2)
PY
  echo "$path"
}

# KFAC at λ = 1 first (the setting where its bf16 factorisations are expected to hold), then SINGD dense.
configs=()
for bf16 in 0 1; do configs+=("$(config kfac 1 "$bf16")"); done
for damping in 0.0858 1; do
  for bf16 in 0 1; do configs+=("$(config singd-dense "$damping" "$bf16")"); done
done
"$natgrad" compare "${configs[@]}" --seeds 1 --set seed=1 --out "$out/bf16"
echo "runs: $out/bf16/ (skipped steps: grep -c skipped_step $out/bf16/*/seed-1/metrics.jsonl)"
