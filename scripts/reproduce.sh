#!/usr/bin/env bash
# Reproduces the TNGD paper's MNIST comparison (Donatella et al. 2024,
# arXiv:2405.13817, §5) on the simulated SPU and writes docs/results.md with
# plots: every configuration with SEEDS seeds (default 5), in two tables —
# the paper's setting (ReLU, PyTorch's default initialisation: the paper
# ran in PyTorch) and the same with He initialisation — plus tanh rows for
# Adam and TNGD t = 50τ beside the first.
#
# Seed s sets spu train --seed s (initial weights, batch order) and the
# simulated board's sim:tngd?seed=s (its noise). Each run stops after
# ITERATIONS (default 600, 3.8 epochs: the runs that reach 90 % at all do
# so well before; see docs/results.md) and is evaluated on the 10,000
# test images every 5 iterations until it first reaches 90 % and every 50
# after (spu train --eval-fine), so "iterations to 90 %" is exact to 5.
# JOBS (default 2) runs at a time; DOC and IMG (default docs/results.md,
# docs/img) say where the page goes; REPORT_ONLY=1 reports the runs already
# in OUT (those that finished) without training. Runs finished before are
# kept (FRESH=1 runs them again): an interrupted reproduction continues;
# the wall time reported is the sum of the sessions'.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/train-runs.sh
OUT=${OUT:-out/reproduce}
SEEDS=${SEEDS:-5}
ITERATIONS=${ITERATIONS:-600}
DOC=${DOC:-docs/results.md}
IMG=${IMG:-docs/img}
mkdir -p "$OUT" "$IMG"

# name | flags (paper: first 10,000 training images, 10,000 test images,
# batch 64; Adam lr 1e-3; TNGD lr 0.01, λ = 0.01, t = 50τ)
configs=(
  "adam|--optimizer adam --lr 1e-3"
  "ngd-woodbury|--optimizer ngd-woodbury --lr 0.01"
  "tngd-t5|--optimizer tngd --t 5"
  "tngd-t10|--optimizer tngd --t 10"
  "tngd-t20|--optimizer tngd --t 20"
  "tngd-t50|--optimizer tngd --t 50"
  "tngd-t5-d0.2|--optimizer tngd --t 5 --delay 0.2"
  "tngd-t5-d1|--optimizer tngd --t 5 --delay 1"
  "tngd-adam|--optimizer tngd-adam --t 50 --lr 1e-3"
)
tanh=(
  "adam-tanh|--optimizer adam --lr 1e-3 --activation tanh"
  "tngd-t50-tanh|--optimizer tngd --t 50 --activation tanh"
)
# table | its flags | its title
tables=(
  "torch|--init torch --activation relu|The paper's setting: ReLU, PyTorch's default initialisation (--init torch)"
  "he|--init he --activation relu|The same with He initialisation (--init he)"
)

# runs lists table/name/seed|flags, table by table and in each seed by
# seed, so that a run cut short has the main table's configurations with
# fewer seeds rather than some with none.
runs=()
for t in "${tables[@]}"; do
  for ((s = 1; s <= SEEDS; s++)); do
    slug=${t%%|*} rest=${t#*|}
    tflags=${rest%%|*}
    list=("${configs[@]}")
    [ "$slug" != torch ] || list+=("${tanh[@]}")
    for c in "${list[@]}"; do
      # A later --activation wins over the table's (the tanh rows).
      runs+=("$slug/${c%%|*}/$s|$tflags ${c#*|} --seed $s --board sim:tngd?seed=$s")
    done
  done
done

status=0
if [ "${REPORT_ONLY:-}" != 1 ]; then
  # A run that finished before (OUT/…/N.ok, e.g. before an interruption)
  # is not run again unless FRESH=1.
  todo=()
  for r in "${runs[@]}"; do
    [ "${FRESH:-}" != 1 ] && [ -e "$OUT/${r%%|*}.ok" ] || todo+=("$r")
  done
  echo "$(date -u +%FT%TZ) start: ${#todo[@]} of ${#runs[@]} runs, $JOBS at a time"
  if [ ${#todo[@]} -gt 0 ]; then
    train_all "$OUT" "$JOBS" "--iterations $ITERATIONS --eval-every 50 --eval-fine 5" "${todo[@]}" || status=$?
    echo "$(( $(cat "$OUT/elapsed" 2>/dev/null || echo 0) + elapsed ))" > "$OUT/elapsed.new"
    mv "$OUT/elapsed.new" "$OUT/elapsed"
  fi
fi

# The report: every run that finished (OUT/…/N.ok), by table and name.
args=() finished=0
for t in "${tables[@]}"; do
  slug=${t%%|*} title=${t##*|}
  args+=(--table "$slug=$title")
  for r in "${runs[@]}"; do
    key=${r%%|*}
    [[ $key == "$slug"/* ]] || continue
    [ -e "$OUT/$key.ok" ] || continue
    name=${key#*/}
    args+=(--run "${name%/*}=$OUT/$key.jsonl")
    finished=$((finished + 1))
  done
done
[ "$finished" = "${#runs[@]}" ] || echo "note: $finished of ${#runs[@]} runs finished; reporting those"
elapsed=$(cat "$OUT/elapsed" 2>/dev/null || echo 0)
# CPU seconds of the finished runs: their wall time on idle cores is about
# this over the cores, whatever else shared the machine.
cpu=$(for r in "${runs[@]}"; do f=$OUT/${r%%|*}; if [ -e "$f.ok" ]; then tail -1 "$f.time"; fi; done | awk '{c += $2 + $3} END {printf "%.0f", c}')
echo "training: $elapsed s wall, $cpu CPU s"
epochs=$(awk -v n="$ITERATIONS" 'BEGIN { printf "%.1f", n / 156 }') # 156 batches of 64 per epoch
timing=() # no wall-time sentence when no training session finished
[ "$elapsed" = 0 ] || timing=(--elapsed "${elapsed}s" --jobs "$JOBS")
./bin/spu report "${args[@]}" "${timing[@]}" --out "$DOC" --img "$IMG" \
  --setup "$ITERATIONS iterations ($epochs epochs) over the first 10,000 MNIST training images, batch 64, evaluated on the 10,000 test images every 5 iterations until 90 % and every 50 after; $SEEDS seeds per configuration (median [range]); $cpu CPU s of training in all"
echo "wrote $DOC ($finished runs, $elapsed s of training)"
exit $status
