#!/usr/bin/env python3
"""scripts/study_table.py — the README's CPU-study table from the output of scripts/cpu_study.sh.

Reads OUT/comparison.csv (written by `natgrad compare` / `natgrad report`) and the PyTorch reference
summaries OUT/pytorch/<optimizer>-seed-<n>.json (scripts/torch_reference.py), and prints one markdown
table: per natgrad config the mean ± std over its seeds of the final and best test accuracy, the time to the
target accuracy (training + evaluation), the time per epoch and the optimizer-state memory, then the
PyTorch SGD and AdamW rows of the same recipe. The std is
the sample standard deviation (n − 1), as natgrad's report computes it.

usage: python3 scripts/study_table.py [OUT]      (default OUT: runs/cpu-study)
"""
import csv
import glob
import json
import math
import os
import re
import sys


def pm(mean, std, scale=1.0, digits=2):
    if mean is None:
        return "–"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def reached(mean, std, hits, runs):
    """Mean ± std of the time to target over the runs that reached it, and how many did."""
    if not hits:
        return f"– (0/{runs})"
    return pm(mean, std, 1, 0) + ("" if hits == runs else f" ({hits}/{runs})")


def mib(nbytes):
    return "–" if nbytes is None else f"{nbytes / 2**20:.2f}"


def stats(values):
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def number(row, key):
    return float(row[key]) if row.get(key) else None


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "runs/cpu-study"
    print("| config | runs | final test acc (%) | best test acc (%) | time to target (s) | time / epoch (s) "
          "| optimizer state (MiB) |")
    print("|---|---|---|---|---|---|---|")
    with open(os.path.join(out, "comparison.csv")) as f:
        for r in csv.DictReader(f):
            runs = r["runs"] if r["runs"] == r["completed"] else f"{r['runs']} ({r['completed']} completed)"
            state = number(r, "optimizer_state_bytes_mean")
            print(f"| natgrad {r['config']} | {runs} "
                  f"| {pm(number(r, 'final_acc_mean'), number(r, 'final_acc_std'), 100)} "
                  f"| {pm(number(r, 'best_acc_mean'), number(r, 'best_acc_std'), 100)} "
                  f"| {reached(number(r, 'time_to_target_mean_s'), number(r, 'time_to_target_std_s'), int(r['target_reached']), int(r['runs']))} "
                  f"| {pm(number(r, 'epoch_seconds_mean'), number(r, 'epoch_seconds_std'), 1, 1)} "
                  f"| {mib(state)} |")
    by_optimizer = {}
    for path in sorted(glob.glob(os.path.join(out, "pytorch", "*-seed-*.json"))):
        name = re.sub(r"-seed-\d+\.json$", "", os.path.basename(path))
        by_optimizer.setdefault(name, []).append(json.load(open(path)))
    for name, runs in by_optimizer.items():
        final = stats([s["final_test_accuracy"] for s in runs])
        best = stats([s["best_test_accuracy"] for s in runs])
        epoch = stats([s["mean_epoch_seconds"] for s in runs])
        times = [s["time_to_target_seconds"] for s in runs if s.get("time_to_target_seconds") is not None]
        target = reached(*(stats(times) if times else (None, None)), len(times), len(runs))
        state = runs[0].get("optimizer_state_bytes")
        print(f"| PyTorch {runs[0]['torch_version']} {name} | {len(runs)} | {pm(*final, 100)} | {pm(*best, 100)} "
              f"| {target} | {pm(*epoch, 1, 1)} | {mib(state)} |")


if __name__ == "__main__":
    main()
