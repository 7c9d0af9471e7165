# Sourced by reproduce.sh and lr-sweep.sh: train_runs OUT EPOCHS JOBS RUN...
# trains every "name|flags" RUN with bin/spu, JOBS at a time, writing
# OUT/name.jsonl (metrics) and OUT/name.json (summary); it sets
# report_args (the --run list for spu report) and elapsed (seconds).
train_runs() {
  local out=$1 epochs=$2 jobs=$3
  shift 3
  local start end r
  start=$(date +%s)
  printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c '
    name=${1%%|*}; flags=${1#*|}
    echo "start $name: $flags"
    ./bin/spu train $flags --epochs '"$epochs"' --eval-every 20 --quiet \
      --metrics '"$out"'/$name.jsonl --json > '"$out"'/$name.json
    echo "done  $name"
  ' _ {}
  end=$(date +%s)
  elapsed=$((end - start))
  report_args=()
  for r in "$@"; do report_args+=(--run "${r%%|*}=$out/${r%%|*}.jsonl"); done
}
