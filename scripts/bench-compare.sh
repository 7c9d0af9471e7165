#!/usr/bin/env bash
# Compares the hot-path benchmarks of two commits side by side, in one run:
# simulator steps (sim), Solve8 (solver), the optimiser steps, curvature
# kernels and TNGD-vs-Euler (optim), and one sim:tngd TNGD iteration on one
# core. The test binaries are built once per tree and run in ROUNDS
# interleaved rounds (old, new, old, new, …) so that a busy machine slows
# both alike; benchstat then compares the two. Usage:
#   BASE=<rev> [ROUNDS=6] [OUT=out/bench-compare] bash scripts/bench-compare.sh
# (make bench-compare BASE=<rev>). Needs benchstat on PATH or in ~/go/bin
# (go install golang.org/x/perf/cmd/benchstat@latest).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${BASE:?set BASE to the commit to compare against}
ROUNDS=${ROUNDS:-6}
OUT=${OUT:-out/bench-compare}
NEW=$PWD
OLD=$(mktemp -d)/base
git worktree add --detach "$OLD" "$BASE" >/dev/null
trap 'git worktree remove --force "$OLD"' EXIT
mkdir -p "$OUT/bin"; OUT=$(cd "$OUT" && pwd); rm -f "$OUT"/old.txt "$OUT"/new.txt

# The package that holds BenchmarkTNGDIteration moved (sim → sim/tngd).
tngdpkg() { grep -l 'func BenchmarkTNGDIteration' "$1"/sim/*_test.go "$1"/sim/*/*_test.go 2>/dev/null | head -1 | xargs dirname; }
for side in old new; do
  tree=$OLD; [ $side = new ] && tree=$NEW
  for p in sim solver optim; do (cd "$tree" && go test -c -o "$OUT/bin/$side-$p" ./$p); done
  (cd "$(tngdpkg "$tree")" && go test -c -o "$OUT/bin/$side-tngd" .)
done
run() { # side name dir args...
  local side=$1 name=$2 dir=$3; shift 3
  (cd "$dir" && "$OUT/bin/$side-$name" -test.run '^$' -test.benchmem "$@") |
    grep -E '^(Benchmark|goos|goarch|pkg|cpu)' | sed "s#^pkg: .*#pkg: $name#" >>"$OUT/$side.txt"
}
for r in $(seq "$ROUNDS"); do
  for side in old new; do
    tree=$OLD; [ $side = new ] && tree=$NEW
    run $side sim "$tree/sim" -test.bench 'Step' -test.benchtime 0.5s
    run $side solver "$tree/solver" -test.bench 'Solve8' -test.benchtime 20x
    run $side optim "$tree/optim" -test.bench 'Step$|Step/|TNGDvsEuler|DualGram|Woodbury|FVec|Factorization' -test.benchtime 5x
    run $side tngd "$(tngdpkg "$tree")" -test.bench 'TNGDIteration/(mlp|mlp-cells100000|gaussian)$' -test.benchtime 5x -test.cpu 1
  done
  echo "round $r of $ROUNDS done $(date +%T)" >&2
done
BS=$(command -v benchstat || echo ~/go/bin/benchstat)
"$BS" "$OUT/old.txt" "$OUT/new.txt" | tee "$OUT/benchstat.txt"
