#!/usr/bin/env python3
"""scripts/check_tensorboard.py — reads a run's TensorBoard event files with TensorBoard's own reader and
checks them against metrics.jsonl and curvature.jsonl (the run's record of truth).

Usage: python3 scripts/check_tensorboard.py RUN_DIR      (needs `pip install tensorboard`)

For every tag, the (step, value) series TensorBoard shows — after it has dropped the events that a resumed
run replayed (SessionLog START) — must equal the series the JSONL lines give, value for value at float32
precision. The tag of a line's value follows apps/tensorboard.h: "<kind>/<key>" (nested keys joined by
"/"), "curvature/<key>/<layer>" (at the record's step + 1), "events/skipped_step". Exit 0 when all match, 1 otherwise.
"""
import json
import struct
import sys
from collections import defaultdict
from pathlib import Path

from tensorboard.backend.event_processing import event_accumulator

BOOKKEEPING = {"step", "epoch", "time", "epoch_progress", "kind", "layer"}


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def collect(prefix, obj, step, out):
    for key, v in obj.items():
        if key in BOOKKEEPING:
            continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}/{key}"].append((step, f32(v)))
        elif isinstance(v, dict):
            collect(f"{prefix}/{key}", v, step, out)


def expected_series(run):
    out = defaultdict(list)
    for line in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()):
        if line.get("kind") == "event":
            if line.get("event") == "skipped_step":
                out["events/skipped_step"].append((line["step"], 1.0))
        else:
            collect(line["kind"], line, line["step"], out)
    curvature = run / "curvature.jsonl"
    if curvature.exists():
        for rec in map(json.loads, curvature.read_text().splitlines()):
            for key, v in rec.items():
                if key not in BOOKKEEPING and isinstance(v, (int, float)):
                    out[f"curvature/{key}/{rec['layer']}"].append((rec["step"] + 1, f32(v)))
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run = Path(sys.argv[1])
    acc = event_accumulator.EventAccumulator(str(run / "tensorboard"), size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    shown = {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    expected = expected_series(run)
    errors = [f"tag {t}: only in the JSONL files" for t in expected.keys() - shown.keys()]
    errors += [f"tag {t}: only in the event files" for t in shown.keys() - expected.keys()]
    for tag in sorted(expected.keys() & shown.keys()):
        if shown[tag] != expected[tag]:
            errors.append(f"tag {tag}: event files {shown[tag][:5]}… vs JSONL {expected[tag][:5]}…")
    for e in errors:
        print("check_tensorboard:", e)
    print(f"check_tensorboard: {len(expected)} tags, {sum(map(len, expected.values()))} values, "
          f"{len(errors)} mismatches")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
