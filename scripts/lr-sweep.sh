#!/usr/bin/env bash
# Learning-rate sensitivity of the docs/results.md comparison: the paper's
# learning rates were used there without a sweep. Runs each optimiser at
# rates around its default on the same data and seeds and writes
# docs/lr-sweep.md with plots. EPOCHS (default 10) and JOBS (default 2)
# may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/train-runs.sh
OUT=${OUT:-out/lr-sweep}
mkdir -p "$OUT" docs/img/lr-sweep

runs=(
  "adam-lr3e-4|--optimizer adam --lr 3e-4"
  "adam-lr3e-3|--optimizer adam --lr 3e-3"
  "ngd-woodbury-lr3e-3|--optimizer ngd-woodbury --lr 3e-3"
  "ngd-woodbury-lr3e-2|--optimizer ngd-woodbury --lr 3e-2"
  "ngd-woodbury-lr1e-1|--optimizer ngd-woodbury --lr 0.1"
  "tngd-t50-lr3e-3|--optimizer tngd --t 50 --lr 3e-3"
  "tngd-t50-lr3e-2|--optimizer tngd --t 50 --lr 3e-2"
  "tngd-t50-lr1e-1|--optimizer tngd --t 50 --lr 0.1"
)
train_runs "$OUT" "$EPOCHS" "$JOBS" "${runs[@]}"
report_runs docs/lr-sweep.md docs/img/lr-sweep \
  --title "Learning-rate sensitivity of the MNIST comparison" --by '`make lr-sweep` (scripts/lr-sweep.sh → `spu report`)'
