#!/usr/bin/env python3
"""scripts/tune_study_table.py — the README's tuned CPU-study table from the study's records.

Reads RECORDS/final/<config>/seed-<n>/ (the final runs of scripts/cpu_tune_study.sh: summary.json and the
per-epoch records of metrics.jsonl) and RECORDS/timing/<config>/seed-1/ (scripts/cpu_tune_timing.sh: one
epoch of every config, timed in one sitting). Prints one markdown row per config, in the study's order:
the mean ± std over seeds (sample std, n − 1) of the final and best test accuracy, the epochs until the
test accuracy first reached the target, the skipped steps, the time per epoch (training + evaluation)
and its ratio to SGD's from the timing run, the time to the target (epochs to target × time per epoch)
and the optimizer state. Time columns read "–" until the timing run is recorded.

With --bf16 it prints instead the table of the bfloat16 statement: KFAC and SINGD dense, float32 against
bfloat16 factors, at each damping λ and inversion interval T_inv that has runs: the tuned study's final
runs (RECORDS/final), scripts/cpu_tune_bf16.sh's runs at other dampings (RECORDS/bf16), and KFAC's runs
of the earlier, untuned CPU study (bench/results/cpu-study, a different learning rate). Per setting: the
final test accuracy (mean ± std over seeds), the skipped steps per seed, the earliest skipped step and the
layers whose factorisation failed (with their counts over all seeds).

usage: python3 scripts/tune_study_table.py [--bf16] [RECORDS]      (default RECORDS: bench/results/cpu-tune)
"""
import glob
import json
import os
import sys
from collections import Counter

from study_table import stats  # mean and sample std, as the CPU-study table computes them

ORDER = ["sgd", "adamw", "kfac", "kfac-bf16", "ikfac", "ikfac-bf16", "singd-dense", "singd-dense-bf16",
         "singd-diagonal", "singd-diagonal-bf16", "singd-hierarchical", "singd-hierarchical-bf16",
         "singd-toeplitz", "singd-toeplitz-bf16"]


def pm(values, digits=2, scale=1.0):
    """mean ± std over seeds; one run's value alone."""
    mean, std = stats([v * scale for v in values])
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if len(values) > 1 else "")


def metric_records(run_dir, key, value):
    """The records of a run's metrics.jsonl whose `key` is `value`."""
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [r for r in map(json.loads, f) if r.get(key) == value]


def epoch_records(run_dir):
    return metric_records(run_dir, "kind", "epoch")


def epochs_to_target(run_dir, target):
    """The first epoch whose test accuracy reached the target, or None."""
    for r in epoch_records(run_dir):
        if r.get("test_accuracy", 0.0) >= target:
            return r["epoch"]
    return None


def epoch_time(records, name):
    """Training + evaluation seconds of the timing run's one epoch of `name`, or None."""
    run_dir = os.path.join(records, "timing", name, "seed-1")
    if not os.path.exists(os.path.join(run_dir, "summary.json")):
        return None
    (r,) = epoch_records(run_dir)
    return r["epoch_seconds"] + r.get("eval_seconds", 0.0)


def row(records, name, sgd_time):
    runs = sorted(glob.glob(os.path.join(records, "final", name, "seed-*", "summary.json")))
    if not runs:
        return None
    summaries = [json.load(open(p)) for p in runs]
    target = summaries[0]["target_accuracy"]
    reached = [e for e in (epochs_to_target(os.path.dirname(p), target) for p in runs) if e is not None]
    mean_reached = stats(reached)[0] if reached else None
    to_target = ("–" if mean_reached is None else f"{mean_reached:.1f}") + (
        "" if len(reached) == len(runs) else f" ({len(reached)}/{len(runs)})")
    t = epoch_time(records, name)
    per_epoch = "–" if t is None else f"{t:.1f}"
    ratio = "–" if t is None or sgd_time is None else f"{t / sgd_time:.2f}"
    time_to_target = "–" if t is None or mean_reached is None else f"{mean_reached * t:.0f}"
    skipped = "/".join(str(s["skipped_steps"]) for s in summaries)
    state = summaries[0]["optimizer_state_bytes"] / 2**20
    return (f"| {name} | {len(runs)} | {pm([s['final_test_accuracy'] for s in summaries], 2, 100)} "
            f"| {pm([s['best_test_accuracy'] for s in summaries], 2, 100)} | {to_target} | {skipped} "
            f"| {per_epoch} | {ratio} | {time_to_target} | {state:.2f} |")


def factor_dtype(opt):
    """The factors' dtype: "weight" (the default) is the weights' float32."""
    return "float32" if opt["dtype_K"] == "weight" else opt["dtype_K"]


def bf16_row(source, run_dirs):
    """One setting of the bfloat16 table: its sort key (method, λ, bf16) and its row."""
    opt = json.load(open(os.path.join(run_dirs[0], "config.json")))["optimizer"]
    summaries = [json.load(open(os.path.join(d, "summary.json"))) for d in run_dirs]
    events = [e for d in run_dirs for e in metric_records(d, "event", "skipped_step")]
    layers = Counter(e["where"] for e in events).most_common()
    failed = ", ".join(f"{w} ({n})" for w, n in layers) or "–"
    first = str(min(e["step"] for e in events)) if events else "–"
    method = "KFAC" if opt["type"] == "kfac" else "SINGD dense"
    factors = factor_dtype(opt)
    t_inv = str(opt["T_inv"]) if opt["type"] == "kfac" else "–"
    key = (opt["type"], opt["damping"], factors != "float32")
    return key, (f"| {method} | {opt['damping']:g} | {t_inv} | {factors} | {source} | {len(run_dirs)} "
            f"| {pm([s['final_test_accuracy'] for s in summaries], 2, 100)} "
            f"| {'/'.join(str(s['skipped_steps']) for s in summaries)} | {first} | {failed} |")


def bf16_table(records):
    groups = [("untuned study", os.path.join("bench/results/cpu-study", n)) for n in ("kfac", "kfac-bf16")]
    groups += [("tuned finals", os.path.join(records, "final", n))
               for n in ("kfac", "kfac-bf16", "singd-dense", "singd-dense-bf16")]
    groups += [("cpu_tune_bf16.sh", d) for d in sorted(glob.glob(os.path.join(records, "bf16", "*")))]
    rows = []
    for source, group in groups:
        runs = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(group, "seed-*", "summary.json")))
        if runs:
            rows.append(bf16_row(source, runs))
    print("| method | λ | T_inv | factors | runs from | runs | final test acc (%) | skipped steps (per seed) "
          "| earliest skipped step | failed factorisations (layer: count) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for _, line in sorted(rows):
        print(line)


def main():
    args = [a for a in sys.argv[1:] if a != "--bf16"]
    records = args[0] if args else "bench/results/cpu-tune"
    if "--bf16" in sys.argv[1:]:
        bf16_table(records)
        return
    print("| config | runs | final test acc (%) | best test acc (%) | epochs to 75% | skipped steps (per seed) "
          "| time / epoch (s) | × SGD | time to 75% (s) | optimizer state (MiB) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    sgd_time = epoch_time(records, "sgd")
    for name in ORDER:
        line = row(records, name, sgd_time)
        if line:
            print(line)


if __name__ == "__main__":
    main()
