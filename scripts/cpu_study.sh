#!/usr/bin/env bash
# scripts/cpu_study.sh — the README's CPU-study results: every configs/cpu-study config with 2 seeds
# (`natgrad compare`), then the PyTorch SGD and AdamW reference runs of the same recipe
# (scripts/torch_reference.py), all on this machine, one run at a time.
#
# Resumable: run the same command again after an interruption (a killed job, a machine that went away)
# and only the missing work is done — `natgrad compare` skips finished runs and resumes interrupted ones
# from their last checkpoint; a PyTorch reference run whose summary exists is skipped (an interrupted
# one restarts, it has no checkpoints).
#
# The whole set is about 14 configs × 2 seeds × 10 epochs (≈ 5–8 h on a 2-core VM), so it is meant to be
# left running; nothing else should share the machine if the times per epoch are to mean anything.
#
# Usage: scripts/cpu_study.sh [OUT]    (default OUT: runs/cpu-study)
#        NATGRAD=path/to/natgrad overrides the binary (default: build/natgrad). Keep one binary for a
#        whole study: a resumed run is bitwise identical to an uninterrupted one only with the same build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/runs/cpu-study}
natgrad=${NATGRAD:-$root/build/natgrad}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

"$natgrad" compare "$root"/configs/cpu-study/*.json --seeds 2 --out "$out"

mkdir -p "$out/pytorch"
for name in sgd adamw; do
  for seed in 0 1; do
    summary=$out/pytorch/$name-seed-$seed.json
    [[ -f $summary ]] && { echo "pytorch $name seed $seed: done already ($summary)"; continue; }
    echo "pytorch $name seed $seed"
    python3 "$root/scripts/torch_reference.py" "$root/configs/cpu-study/$name.json" --seed "$seed" \
      --out "$summary.tmp" | tee "$out/pytorch/$name-seed-$seed.log"
    mv "$summary.tmp" "$summary"
  done
done
echo "natgrad comparison: $out/comparison.md; PyTorch reference summaries: $out/pytorch/"
python3 "$root/scripts/study_table.py" "$out"  # the README's table
