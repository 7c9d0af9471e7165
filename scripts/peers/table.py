"""Prints bench-peers' tables (Markdown) from the files in the directory
given: go.jsonl (scripts/peers/go_cpu.py's lines), numpy.jsonl and
torch.jsonl (the peers' lines). Every figure is CPU time, the best over
rounds."""

import collections
import json
import os
import re
import sys

out = sys.argv[1]


def go_ns(pattern):
    """Best CPU ns/op per Go benchmark matching pattern (group 1 = key)."""
    best = {}
    for r in lines("go.jsonl"):
        if k := re.search(pattern, r["bench"]):
            best[k.group(1)] = min(best.get(k.group(1), float("inf")), r["cpu_ns"])
    return best


def lines(path):
    return [json.loads(l) for l in open(os.path.join(out, path)) if l.strip()]


print("machine:", open(os.path.join(out, "machine.txt")).read().strip(), "- one core each, CPU time")
print()
sim = go_ns(r"K=(\d+)/")
npy = collections.defaultdict(dict)
for r in lines("numpy.jsonl"):
    d = npy[r["k"]]
    d[r["method"]] = max(d.get(r["method"], 0), r["steps_per_s"])
methods = ["loop", "block", "scan", "eigen"]
print("| K | Go sim (steps/s) | " + " | ".join(f"numpy {m}" for m in methods) + " | numpy best | Go speed ÷ numpy best |")
print("|---|---|" + "---|" * len(methods) + "---|---|")
for k in sorted(npy):
    gs = 1e9 / sim[str(k)]
    best = max(npy[k], key=npy[k].get)
    print(f"| {k} | {gs:,.0f} | " + " | ".join(f"{npy[k][m]:,.0f}" for m in methods) +
          f" | {npy[k][best]:,.0f} ({best}) | {gs / npy[k][best]:.2f}× |")
print()
opt = go_ns(r"BenchmarkStep/([a-z0-9-]+)$")
tor = collections.defaultdict(dict)
for r in lines("torch.jsonl"):
    d = tor[r["step"]]
    d[r["dtype"]] = min(d.get(r["dtype"], float("inf")), r["ms"])
print("| step | Go float64 (ms) | torch float64 (ms) | torch float32 (ms) | Go time ÷ torch f64 | Go time ÷ torch f32 |")
print("|---|---|---|---|---|---|")
# The Go Euler-Maruyama step (dual form without noise) against both torch
# forms: the paper's 500 F v and the same dual form.
for step, gostep in [("adam", "adam"), ("ngd-woodbury", "ngd-woodbury"), ("tngd-em-t50", "tngd-em-t50"),
                     ("tngd-em-t50-dual", "tngd-em-t50")]:
    if step not in tor:
        continue
    g = opt[gostep] / 1e6
    t64, t32 = tor[step]["float64"], tor[step]["float32"]
    print(f"| {step} | {g:.3g} | {t64:.3g} | {t32:.3g} | {g / t64:.2f}× | {g / t32:.2f}× |")
print()
print("Simulator: > 1 means Go is faster. Training: < 1 means Go is faster.")
