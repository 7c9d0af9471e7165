#!/usr/bin/env bash
# Checks that a refactoring kept every seeded number: builds spu at BASE and
# from this tree, runs the same seeded commands with both (solve on sim and
# spi+sim, refined and tiled, train with the factored, dual, tiled and
# default mappings, t_d, tngd-adam, ngd-woodbury, a calibrated board,
# calibrate) and diffs the JSON with wall-clock fields removed; then the
# covariance inverse (solver.Inverse, which no spu command runs) through
# scripts/inverse/main.go, built in both trees. Exit 1 on any difference. A
# command BASE does not have yet shows as a DIFF in the exit code. Usage:
#   BASE=<rev> bash scripts/same-output.sh      (make same-output BASE=<rev>)
# scripts/testdata/{ideal40,proto40}.json are the ideal and proto8 profiles
# resized to 40 cells, so the dual mapping (batch 4 × 10 outputs) fits.
set -uo pipefail
cd "$(dirname "$0")/.."
BASE=${BASE:?set BASE to the commit to compare against}
TMP=$(mktemp -d)
git worktree add --detach "$TMP/base" "$BASE" >/dev/null || exit 1
trap 'git worktree remove --force "$TMP/base"' EXIT
(cd "$TMP/base" && go build -o "$TMP/spu-base" ./cmd/spu) || exit 1
go build -o "$TMP/spu-new" ./cmd/spu || exit 1
td=$PWD/scripts/testdata
cmds=(
  "solve --board sim:ideal --random 8 --cond 10 --seed 1 --json"
  "solve --board sim:proto8?seed=3 --random 8 --cond 100 --seed 2 --json"
  "solve --board spi+sim:proto8?seed=3 --random 8 --cond 10 --seed 1 --json"
  "solve --board sim:ideal --random 8 --cond 100 --seed 1 --refine 1e-10 --json"
  "solve --board sim:proto8?seed=3 --random 32 --cond 10 --seed 1 --json"
  "train --iterations 40 --eval-every 20 --test-size 500 --json --quiet"
  "train --iterations 30 --eval-every 15 --test-size 500 --t 5 --delay 1 --json --quiet"
  "train --optimizer tngd-adam --lr 1e-3 --iterations 30 --eval-every 15 --test-size 500 --json --quiet"
  "train --board sim:$td/ideal40.json --batch 4 --mapping dual --iterations 30 --eval-every 15 --test-size 500 --json --quiet"
  "train --board sim:$td/proto40.json?seed=2 --batch 4 --mapping dual --t 20 --delay 0.5 --iterations 30 --eval-every 15 --test-size 500 --json --quiet"
  "train --board sim:$td/proto40.json?seed=2 --calibration cache --batch 4 --mapping dual --iterations 10 --eval-every 5 --test-size 500 --json --quiet"
  "train --optimizer ngd-woodbury --lr 0.01 --iterations 30 --eval-every 15 --test-size 500 --json --quiet"
  "calibrate --board sim:proto8?seed=3 --no-cache --json"
  "train --board sim:proto8?seed=3 --mapping tiled --batch 4 --iterations 10 --eval-every 5 --test-size 500 --json --quiet"
)
# Wall-clock fields differ from run to run; everything else must not.
norm() { jq -S 'walk(if type == "object" then with_entries(select(.key | test("wall|elapsed|digital|sim_wall"; "i") | not)) else . end)' 2>/dev/null || cat; }
fail=0
for i in "${!cmds[@]}"; do
  c=${cmds[$i]}
  "$TMP/spu-base" $c >"$TMP/b$i.json" 2>"$TMP/b$i.err"; rb=$?
  "$TMP/spu-new" $c >"$TMP/n$i.json" 2>"$TMP/n$i.err"; rn=$?
  if [ $rb != $rn ]; then
    echo "DIFF exit code $rb → $rn: spu $c"; tail -3 "$TMP/n$i.err"; fail=1
  elif ! diff <(norm <"$TMP/b$i.json") <(norm <"$TMP/n$i.json") >"$TMP/d$i.txt"; then
    echo "DIFF output: spu $c"; head -20 "$TMP/d$i.txt"; fail=1
  else
    echo "same: spu $c"
  fi
done
# The covariance inverse: this tree's scripts/inverse/main.go, built against
# each tree's packages.
inv=(sim:ideal 6 10 4)
mkdir -p "$TMP/base/scripts/inverse" && cp scripts/inverse/main.go "$TMP/base/scripts/inverse/main.go"
(cd "$TMP/base" && go run scripts/inverse/main.go "${inv[@]}") >"$TMP/bi.json" 2>"$TMP/bi.err"; rb=$?
go run scripts/inverse/main.go "${inv[@]}" >"$TMP/ni.json" 2>"$TMP/ni.err"; rn=$?
if [ $rb != $rn ]; then
  echo "DIFF exit code $rb → $rn: inverse ${inv[*]}"; tail -3 "$TMP/ni.err" "$TMP/bi.err"; fail=1
elif ! diff <(norm <"$TMP/bi.json") <(norm <"$TMP/ni.json") >"$TMP/di.txt"; then
  echo "DIFF output: inverse ${inv[*]}"; head -20 "$TMP/di.txt"; fail=1
else
  echo "same: inverse ${inv[*]} (solver.Inverse, scripts/inverse/main.go)"
fi
exit $fail
