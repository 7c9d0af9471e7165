#!/usr/bin/env bash
# Reproduces the TNGD paper's MNIST comparison (Donatella et al. 2024,
# arXiv:2405.13817, §5) on the simulated SPU and writes docs/results.md with
# plots. EPOCHS (default 10, the paper's), JOBS (default 2) and INIT (--init
# of every run, e.g. torch: PyTorch's default; the paper ran in PyTorch) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/train-runs.sh
OUT=${OUT:-out/reproduce}
mkdir -p "$OUT" docs/img

# name | flags (paper: first 10,000 training images, 10,000 test images,
# batch 64; Adam lr 1e-3; TNGD lr 0.01, λ = 0.01, t = 50τ)
runs=(
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
train_runs "$OUT" "$EPOCHS" "$JOBS" "${runs[@]}"
report_runs docs/results.md docs/img
