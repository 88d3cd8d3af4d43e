# scripts/study_records.sh — sourced by the study scripts (cpu_study.sh, cpu_tune_study.sh,
# cpu_tune_bf16.sh, cpu_tune_timing.sh): their common arguments, and carrying finished run records between
# a study folder and bench/results/.

# study_args NAME [--save] [OUT]: sets `save` (true with --save), `out` (OUT, default runs/NAME), `records`
# (bench/results/NAME) and `natgrad` (NATGRAD, default build/natgrad), all under $root; OpenMP threads
# sleep while they wait (OMP_WAIT_POLICY=PASSIVE unless set), so a study leaves idle cores idle.
study_args() {
  local name=$1
  shift
  save=false
  [[ ${1:-} == --save ]] && { save=true; shift; }
  out=${1:-$root/runs/$name}
  records=$root/bench/results/$name
  natgrad=${NATGRAD:-$root/build/natgrad}
  export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
}
#
# copy_finished_runs FROM TO: for every finished run FROM/<name>/seed-<seed>/ (summary.json present) that
# TO lacks, its record files — config.json, provenance.json, metrics.jsonl, summary.json (what the
# comparison and the tables read; no checkpoints or weights). The summary is copied last: a record is
# complete once its summary is there.
copy_finished_runs() {
  local from=$1 to=$2 summary run
  [[ -d $from ]] || return 0
  while IFS= read -r summary; do
    run=$(dirname "${summary#"$from"/}")
    [[ -f $to/$run/summary.json ]] && continue
    mkdir -p "$to/$run"
    cp "$from/$run"/{config.json,provenance.json,metrics.jsonl} "$to/$run/"
    cp "$summary" "$to/$run/summary.json"
  done < <(find "$from" -mindepth 3 -maxdepth 3 -name summary.json | sort)
  return 0
}

# save_runs SUB: with --save, records the finished runs of OUT/SUB in RECORDS/SUB and ends the script.
save_runs() {
  $save || return 0
  copy_finished_runs "$out/$1" "$records/$1"
  echo "recorded the finished runs of $out/$1 in $records/$1"
  exit 0
}
