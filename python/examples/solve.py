#!/usr/bin/env python3
"""Solve A x = b on a board served by `spu serve`, like `spu solve`.

    spu serve --board sim:ideal --insecure &
    python3 python/examples/solve.py --board grpc://127.0.0.1:7700 --a problem.json
    spu solve --board grpc://127.0.0.1:7700 --a problem.json

problem.json is {"a": [[...], ...], "b": [...]}; --a A.csv --b b.csv
reads CSV (rows of numbers; b one row or one column). Without --a a small
4 × 4 SPD problem is solved. Both print the same x: the server reopens
its board for every lease, so each client sees the same seeded board and
draws the same noise (docs/python.md).
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import spukit  # noqa: E402


def load(a_path, b_path):
    if a_path is None:
        a = np.array([[4, 1, 0, 0], [1, 3, 1, 0], [0, 1, 2, 0.5], [0, 0, 0.5, 1]], dtype=float)
        return a, np.array([1, 2, -1, 0.5])
    if a_path.endswith(".json"):
        with open(a_path) as f:
            p = json.load(f)
        a = np.array(p["a"], dtype=float)
        b = p.get("b")
    else:
        a = np.loadtxt(a_path, delimiter=",", ndmin=2)
        b = None
    if b_path is not None:
        if b_path.endswith(".json"):
            with open(b_path) as f:
                b = json.load(f)
                b = b["b"] if isinstance(b, dict) else b
        else:
            b = np.loadtxt(b_path, delimiter=",").ravel()
    if b is None:
        sys.exit("solve.py: no b: give --b FILE or a JSON problem with \"b\"")
    return a, np.asarray(b, dtype=float)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--board", default="grpc://127.0.0.1:7700", help="grpc://HOST:PORT[?options]")
    p.add_argument("--a", help="A (CSV) or a JSON problem {a, b}")
    p.add_argument("--b", help="b (CSV or JSON)")
    p.add_argument("--token-file", help="bearer token file")
    p.add_argument("--ca", help="server CA certificate (PEM)")
    p.add_argument("--json", action="store_true", help="print JSON")
    args = p.parse_args()
    a, b = load(args.a, args.b)
    try:
        with spukit.Board(args.board, token_file=args.token_file, ca=args.ca) as board:
            r = board.solve(a, b)
    except spukit.SpukitError as e:
        sys.exit(f"solve.py: {e}")
    exact = np.linalg.solve(a, b)
    if args.json:
        print(json.dumps({"x": r.x.tolist(), "std_err": r.stderr.tolist(), "board_time_s": r.board_time,
                          "samples": r.samples, "rel_error": float(np.linalg.norm(r.x - exact) / np.linalg.norm(exact))}))
        return
    print(f"board    {board.info().model} ({board.info().cells} cells)")
    for i, (x, s) in enumerate(zip(r.x, r.stderr)):
        print(f"x[{i}] = {x: .6f} ± {s:.2g}   (digital {exact[i]: .6f})")
    print(f"board time {r.board_time:.4g} s, {r.samples} samples, "
          f"rel_error {np.linalg.norm(r.x - exact) / np.linalg.norm(exact):.2e}")


if __name__ == "__main__":
    main()
