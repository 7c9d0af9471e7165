#!/usr/bin/env bash
# The simulator and the digital training step against the peers a user would
# otherwise pick, side by side in one run (issue 17; docs/benchmarks.md,
# "Against peers"): sim steps/s vs the numpy OU peer (scripts/peers/ou_numpy.py)
# at K = 8, 64, 256, and optim's Adam, exact-NGD (Woodbury) and Euler-Maruyama
# TNGD steps vs PyTorch CPU (scripts/peers/train_torch.py), float64 and
# float32. Everything on one core: go test -cpu 1, one BLAS/OpenMP thread,
# torch.set_num_threads(1). Every figure is CPU time, so that other
# processes on a shared machine do not count: the Go benchmarks run for a
# fixed number of iterations (about 0.5 s) under scripts/peers/go_cpu.py,
# which reads the child's getrusage; the peers use time.process_time. ROUNDS
# rounds alternate Go and the peers; each figure is the best over them. Needs
# Debian's python3-numpy and python3-torch (about 2 min of CPU at ROUNDS=2).
# Usage: [ROUNDS=2] [OUT=out/bench-peers] bash scripts/bench-peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-out/bench-peers}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd); rm -f "$OUT"/*.txt "$OUT"/*.jsonl
PY=${SPU_PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
"$PY" -c 'import numpy, torch' 2>/dev/null || {
  echo "bench-peers: $PY cannot import numpy and torch (Debian: apt-get install python3-numpy python3-torch)"; exit 1; }
# One thread everywhere. OPENBLAS_CORETYPE/L2_SIZE (set on some machines for
# old OpenBLAS builds) slow a current numpy: unset for the peers only.
peer() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "$PY" "$@"; }

go test -c -o "$OUT/sim.test" ./sim
go test -c -o "$OUT/optim.test" ./optim
"$PY" - <<'PY' >"$OUT/machine.txt"
import os, platform
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}")
PY
gobench() { # dir bench iterations
  "$PY" scripts/peers/go_cpu.py "$OUT/$1.test" "$1" "$2" "$3"; }
for r in $(seq "$ROUNDS"); do
  echo "round $r of $ROUNDS" >&2
  for kn in 8:2000000 64:200000 256:20000; do
    gobench sim "BenchmarkStep/K=${kn%%:*}/nonideal=off" "${kn##*:}" >>"$OUT/go.jsonl"
  done
  peer scripts/peers/ou_numpy.py --repeats 2 >>"$OUT/numpy.jsonl"
  for sn in adam:300 ngd-woodbury:20 tngd-em-t50:1; do
    gobench optim "BenchmarkStep/${sn%%:*}" "${sn##*:}" >>"$OUT/go.jsonl"
  done
  peer scripts/peers/train_torch.py --repeats 2 >>"$OUT/torch.jsonl"
done
"$PY" scripts/peers/table.py "$OUT" | tee "$OUT/table.md"
