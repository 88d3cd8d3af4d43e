#!/usr/bin/env bash
# .ci/tensorboard_check.sh BUILD_DIR — a small real run with log.tensorboard, killed after its first
# checkpoint and resumed, then read back with TensorBoard's own event reader and compared value for value
# with metrics.jsonl and curvature.jsonl (scripts/check_tensorboard.py).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
python3 -m pip install -q tensorboard
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
data=$(realpath ../shared/data)
"$build/natgrad" validate configs/quickstart.json >/dev/null  # the binary runs at all
set -- train configs/quickstart.json --out "$tmp/run" --set log.tensorboard=true --set log.interval_steps=1 \
  --set log.diagnostics_interval_steps=2 --set data.root="\"$data\"" --set data.train_subset=512 \
  --set data.test_subset=128 --set train.epochs=2 --set checkpoint.interval_steps=3 --set log.progress=off \
  --set optimizer='{"type": "singd", "lr": 0.02, "T": 2, "structure_K": "hierarchical", "structure_C": "diagonal"}'
"$build/natgrad" "$@" >"$tmp/log" 2>&1 &
pid=$!
until [ -f "$tmp/run/checkpoints/last.safetensors" ]; do sleep 0.05; done
kill -9 "$pid"; wait "$pid" || true
"$build/natgrad" train --resume "$tmp/run" >>"$tmp/log" 2>&1
python3 scripts/check_tensorboard.py "$tmp/run"
