"""Runs one Go benchmark for a fixed number of iterations and prints its CPU
time per op, so that a busy machine (other processes taking turns on the
cores) does not count against it: the child's user + system time from
getrusage, divided by the iterations run (go test -benchtime Nx runs one
iteration, then N more when N > 1; the set-up before the loop, a few ms, is
counted too). A benchmark that reports its own "cpu-ns/op" metric (the CPU
time of its timed loop: sim's BenchmarkStep, whose set-up at K = 256 is
about 0.1 s) is taken at its word instead. Prints one JSON line {"peer":
"go", "bench", "n", "cpu_ns", "wall_ns"} (wall_ns: what go test reported).

Usage: go_cpu.py BINARY DIR BENCH N"""

import json
import re
import resource
import subprocess
import sys

binary, workdir, bench, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
before = resource.getrusage(resource.RUSAGE_CHILDREN)
out = subprocess.run([binary, "-test.run", "^$", "-test.bench", "^" + bench + "$", "-test.cpu", "1",
                      "-test.benchtime", f"{n}x"], cwd=workdir, check=True, capture_output=True, text=True).stdout
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
m = re.search(r"\s([\d.]+) ns/op", out)
if not m:
    sys.exit(f"go_cpu.py: no ns/op for {bench} in:\n{out}")
ops = n + 1 if n > 1 else 1
cpu_ns = cpu / ops * 1e9
if own := re.search(r"\s([\d.]+) cpu-ns/op", out):
    cpu_ns = float(own.group(1))
print(json.dumps({"peer": "go", "bench": bench, "n": n, "cpu_ns": cpu_ns, "wall_ns": float(m.group(1))}))
