#!/usr/bin/env bash
# scripts/optim_bitwise.sh — the optimizers' results as bit patterns: every configs/cpu-study config trained
# for 30 optimizer steps (the first 3,840 CIFAR-10 training images, batch 128, one epoch, no test
# evaluation), keeping the final weights, the last checkpoint (weights + optimizer state: momenta, factors;
# compared without its wall-clock times) and the curvature diagnostics. A change meant to leave results unchanged (a restructuring of optim/) is
# checked by recording these files with the code before it and comparing them byte for byte after it.
#
# Usage: scripts/optim_bitwise.sh --record DIR   write DIR/<config>/{final,last}.safetensors, curvature.jsonl
#        scripts/optim_bitwise.sh --check DIR    train again and `cmp` against DIR; exit 1 on any difference
#        NATGRAD=path/to/natgrad overrides the binary (default: build/natgrad); ONLY=a,b limits the configs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
natgrad=${NATGRAD:-$root/build/natgrad}
[[ $# == 2 && ($1 == --record || $1 == --check) ]] || { sed -n 8,10p "$0" >&2; exit 2; }
mode=$1 dir=$2
[[ $mode == --check && ! -d $dir ]] && { echo "optim_bitwise: no recorded results in '$dir'" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The checkpoint's bytes without the training state's wall-clock times (elapsed, epoch_seconds) and the size
# of metrics.jsonl (whose lines hold images/s).
without_times() {
  python3 - "$1" <<'PY'
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
header = json.loads(b[8:8 + n])
train = json.loads(header['__metadata__']['natgrad.train'])
for key in ('elapsed', 'epoch_seconds', 'metrics_bytes'):
    train['state'].pop(key, None)
header['__metadata__']['natgrad.train'] = json.dumps(train, sort_keys=True)
sys.stdout.buffer.write(json.dumps(header, sort_keys=True).encode() + b[8 + n:])
PY
}
status=0
for config in "$root"/configs/cpu-study/*.json; do
  name=$(basename "$config" .json)
  [[ -n ${ONLY:-} && ",$ONLY," != *",$name,"* ]] && continue
  "$natgrad" train "$config" --set data.train_subset=3840 --set train.epochs=1 --set checkpoint.best=false \
    --set checkpoint.interval_steps=0 --no-test --out "$work/$name" > "$work/$name.log" 2>&1 ||
    { echo "$name: training failed"; tail -5 "$work/$name.log"; status=1; continue; }
  run=$work/$name
  if [[ $mode == --record ]]; then
    mkdir -p "$dir/$name"
    cp "$run/final.safetensors" "$dir/$name/final.safetensors"
    cp "$run/checkpoints/last.safetensors" "$dir/$name/last.safetensors"
    cp "$run/curvature.jsonl" "$dir/$name/curvature.jsonl" 2> /dev/null || true
    echo "$name: recorded"
    continue
  fi
  same=true
  cmp -s "$run/final.safetensors" "$dir/$name/final.safetensors" || { echo "$name: final weights differ"; same=false; }
  cmp -s <(without_times "$run/checkpoints/last.safetensors") <(without_times "$dir/$name/last.safetensors") ||
    { echo "$name: checkpoint (weights + optimizer state) differs"; same=false; }
  if [[ -f $dir/$name/curvature.jsonl ]]; then
    cmp -s "$run/curvature.jsonl" "$dir/$name/curvature.jsonl" || { echo "$name: diagnostics differ"; same=false; }
  fi
  $same && echo "$name: bitwise identical" || status=1
done
exit $status
