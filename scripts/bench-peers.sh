#!/usr/bin/env bash
# The simulator and the digital training step against the peers a user would
# otherwise pick, side by side in one run (issue 17; docs/benchmarks.md,
# "Against peers"): sim steps/s vs the numpy OU peer (scripts/peers/ou_numpy.py)
# at K = 8, 64, 256, and optim's Adam, exact-NGD (Woodbury) and Euler-Maruyama
# TNGD steps vs PyTorch CPU (scripts/peers/train_torch.py), float64 and
# float32. Everything on one core: go test -cpu 1, one BLAS/OpenMP thread,
# torch.set_num_threads(1). ROUNDS rounds alternate Go and the peers so a
# busy machine slows both alike. Every figure is the best of its timings,
# each over about 0.5 s (go test -benchtime 0.5s -count 2 per round; the
# peers time about as long and keep their best of 2 per round). Needs
# Debian's python3-numpy and python3-torch (about 3 min at ROUNDS=2).
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
for r in $(seq "$ROUNDS"); do
  echo "round $r of $ROUNDS" >&2
  (cd sim && "$OUT/sim.test" -test.run '^$' -test.bench 'BenchmarkStep/K=(8|64|256)/nonideal=off$' -test.cpu 1 -test.benchtime 0.5s -test.count 2) >>"$OUT/go-sim.txt"
  peer scripts/peers/ou_numpy.py --repeats 2 >>"$OUT/numpy.jsonl"
  (cd optim && "$OUT/optim.test" -test.run '^$' -test.bench 'BenchmarkStep/(adam|ngd-woodbury|tngd-em-t50)$' -test.cpu 1 -test.benchtime 0.5s -test.count 2) >>"$OUT/go-optim.txt"
  peer scripts/peers/train_torch.py --repeats 2 >>"$OUT/torch.jsonl"
done
"$PY" scripts/peers/table.py "$OUT" | tee "$OUT/table.md"
