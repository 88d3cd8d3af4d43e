#!/usr/bin/env bash
# scripts/cpu_study.sh — the README's CPU-study results: every configs/cpu-study config with 2 seeds
# (`natgrad compare`) and the PyTorch SGD and AdamW reference runs of the same recipe
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
# A study longer than one machine's lease is carried over in the repository: `--save` copies the record
# of every finished run (config.json, provenance.json, metrics.jsonl, summary.json — what the comparison
# and the table read; no checkpoints or weights) and the PyTorch summaries into bench/results/cpu-study/,
# and every start first restores those records into OUT, so a finished run is never trained twice. Each
# run's provenance.json names the commit, machine and start time it came from.
#
# Usage: scripts/cpu_study.sh [OUT]           run (or continue) the study (default OUT: runs/cpu-study)
#        scripts/cpu_study.sh --save [OUT]    record the finished runs of OUT in bench/results/cpu-study/
#        NATGRAD=path/to/natgrad overrides the binary (default: build/natgrad). Keep one binary for a
#        whole study: a resumed run is bitwise identical to an uninterrupted one only with the same build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=scripts/study_records.sh
source "$root/scripts/study_records.sh"
study_args cpu-study "$@"

# copy_finished FROM TO: the record files of every finished run (and PyTorch summary) in FROM that TO lacks.
copy_finished() {
  local from=$1 to=$2 summary
  copy_finished_runs "$from" "$to"
  if [[ -d $from/pytorch ]]; then
    mkdir -p "$to/pytorch"
    for summary in "$from"/pytorch/*-seed-*.json; do
      [[ -f $summary && ! -f $to/pytorch/$(basename "$summary") ]] && cp "$summary" "$to/pytorch/"
    done
  fi
  return 0
}

if $save; then
  copy_finished "$out" "$records"
  echo "recorded finished runs of $out in $records"
  exit 0
fi
copy_finished "$records" "$out"

# The baselines first (natgrad SGD and AdamW, then PyTorch's), so a partial study already compares them.
"$natgrad" compare "$root"/configs/cpu-study/{sgd,adamw}.json --seeds 2 --out "$out"

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

# Everything else; finished runs are skipped, and the comparison files now cover every config.
"$natgrad" compare "$root"/configs/cpu-study/*.json --seeds 2 --out "$out"
echo "natgrad comparison: $out/comparison.md; PyTorch reference summaries: $out/pytorch/"
python3 "$root/scripts/study_table.py" "$out"  # the README's table
