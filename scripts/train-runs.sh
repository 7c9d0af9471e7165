# Sourced by reproduce.sh and lr-sweep.sh from the repository's root: sets
# EPOCHS (default 10) and JOBS (default 2) unless given and builds bin/spu.
# INIT (he, torch or glorot; default: spu train's, he) is passed to every
# run of train_runs as --init.
#
# train_runs OUT EPOCHS JOBS RUN... trains every "name|flags" RUN with
# bin/spu for EPOCHS, evaluating every 20 iterations (train_all); it sets
# report_args (the --run list for spu report), elapsed (seconds),
# run_epochs and run_jobs.
#
# train_all OUT JOBS FLAGS RUN... trains every "name|flags" RUN with
# bin/spu train's FLAGS added, JOBS at a time, writing OUT/name.jsonl
# (metrics), OUT/name.json (summary), OUT/name.time (spu train's stderr,
# then wall, user and system seconds) and, when the run succeeded,
# OUT/name.ok; a name may hold directories (made here). It sets elapsed
# (seconds) and returns non-zero when some run failed (each failure is
# printed as "FAILED name").
EPOCHS=${EPOCHS:-10}
JOBS=${JOBS:-2}
INIT=${INIT:-}
go build -o bin/spu ./cmd/spu

train_runs() {
  local out=$1 epochs=$2 jobs=$3
  shift 3
  run_epochs=$epochs run_jobs=$jobs
  local r init=
  [ -z "$INIT" ] || init="--init $INIT"
  train_all "$out" "$jobs" "$init --epochs $epochs --eval-every 20" "$@"
  report_args=()
  for r in "$@"; do report_args+=(--run "${r%%|*}=$out/${r%%|*}.jsonl"); done
}

train_all() {
  local out=$1 jobs=$2 flags=$3 start end r status=0
  shift 3
  for r in "$@"; do mkdir -p "$(dirname "$out/${r%%|*}")"; done
  start=$(date +%s)
  # set -f: flags such as --board sim:tngd?seed=2 are not file patterns.
  printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c '
    set -f
    name=${1%%|*}; flags=${1#*|}
    echo "start $name: $flags"
    rm -f '"$out"'/$name.ok
    TIMEFORMAT="%R %U %S" # wall, user and system seconds: the last line of name.time
    if { time ./bin/spu train $flags '"$flags"' --quiet \
      --metrics '"$out"'/$name.jsonl --json > '"$out"'/$name.json; } 2> '"$out"'/$name.time; then
      touch '"$out"'/$name.ok; echo "done  $name"
    else
      echo "FAILED $name"; exit 1
    fi
  ' _ {} || status=$?
  end=$(date +%s)
  elapsed=$((end - start))
  return $status
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
