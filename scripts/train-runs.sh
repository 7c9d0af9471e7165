# Sourced by reproduce.sh and lr-sweep.sh from the repository's root: sets
# EPOCHS (default 10) and JOBS (default 2) unless given and builds bin/spu.
# INIT (he, torch or glorot; default: spu train's, he) is passed to every
# run as --init.
#
# train_runs OUT EPOCHS JOBS RUN... trains every "name|flags" RUN with
# bin/spu, JOBS at a time, writing OUT/name.jsonl (metrics) and
# OUT/name.json (summary); it sets report_args (the --run list for spu
# report), elapsed (seconds), run_epochs and run_jobs.
EPOCHS=${EPOCHS:-10}
JOBS=${JOBS:-2}
INIT=${INIT:-}
go build -o bin/spu ./cmd/spu

train_runs() {
  local out=$1 epochs=$2 jobs=$3
  shift 3
  run_epochs=$epochs run_jobs=$jobs
  local start end r init=
  [ -z "$INIT" ] || init="--init $INIT"
  start=$(date +%s)
  printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c '
    name=${1%%|*}; flags=${1#*|}
    echo "start $name: $flags"
    ./bin/spu train $flags '"$init"' --epochs '"$epochs"' --eval-every 20 --quiet \
      --metrics '"$out"'/$name.jsonl --json > '"$out"'/$name.json
    echo "done  $name"
  ' _ {}
  end=$(date +%s)
  elapsed=$((end - start))
  report_args=()
  for r in "$@"; do report_args+=(--run "${r%%|*}=$out/${r%%|*}.jsonl"); done
}

# report_runs DOC IMG [FLAG...] writes spu report's page of the runs
# train_runs trained to DOC, with its plots in IMG (FLAGs passed on).
report_runs() {
  local doc=$1 img=$2
  shift 2
  ./bin/spu report "${report_args[@]}" --epochs "$run_epochs" --elapsed "${elapsed}s" --jobs "$run_jobs" \
    --out "$doc" --img "$img" "$@"
  echo "wrote $doc in $elapsed s"
}
