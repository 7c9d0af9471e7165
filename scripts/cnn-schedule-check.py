#!/usr/bin/env python3
"""The check behind train_mnist.py's learning-rate schedule (docs/python.md):
the example's CNN, batches and TNGD dual mapping, with the board's solve
replaced by an exact float64 solve of (λI + UUᵀ) y = Ug (t → ∞, no noise),
printing the test accuracy after each fifth of one epoch.

    python3 scripts/cnn-schedule-check.py --lr 0.05 --lam 0.1             # constant
    python3 scripts/cnn-schedule-check.py --lr 0.1 --lam 0.1 --decay 1    # linear to 0

One thread (torch.set_num_threads(1)); about 1 min of CPU per run at
load ≈ 2 on the 2-core machine.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "python", "examples"))
import spukit.mnist  # noqa: E402
import spukit.torch  # noqa: E402
from train_mnist import accuracy, cnn  # noqa: E402


class Info:
    cells = 10 ** 6


class ExactTNGD(spukit.torch.TNGD):
    """spukit.torch.TNGD with the board's relaxation replaced by an exact solve."""

    def __init__(self, params, model, lr, lam):
        torch.optim.Optimizer.__init__(self, params, dict(lr=lr, damping=lam))
        self._hsqrt = spukit.torch.hessian_sqrt_cross_entropy
        self._model, self.info, self.rescales = model, Info(), 0

    def _direction(self, u, g, lam):
        a = u @ u.T
        a[np.diag_indices(a.shape[0])] += lam
        y = np.linalg.solve(a, u @ g)
        return (g - u.T @ y) / lam, y


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--lam", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--train", type=int, default=10000)
    ap.add_argument("--decay", type=int, default=0, help="1: the rate falls linearly to 0 over the epoch")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    xtr, ytr = spukit.mnist.load("train", a.train, None)
    xte, yte = spukit.mnist.load("test", 10000, None)
    xtr = torch.from_numpy(xtr).float().reshape(-1, 1, 28, 28)
    xte = torch.from_numpy(xte).float().reshape(-1, 1, 28, 28)
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    model = cnn()
    opt = ExactTNGD(model.parameters(), model, a.lr, a.lam)
    order = torch.randperm(len(ytr), generator=torch.Generator().manual_seed(a.seed))
    steps = len(ytr) // a.batch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: (1 - i / steps) if a.decay else 1.0)
    t0, accs = time.time(), []
    for i in range(steps):
        idx = order[i * a.batch:(i + 1) * a.batch]

        def closure():
            out = model(xtr[idx])
            return torch.nn.functional.cross_entropy(out, ytr[idx]), out
        opt.step(closure, inputs=xtr[idx])
        sched.step()
        if (i + 1) % max(1, steps // 5) == 0:
            accs.append(round(accuracy(model, xte, yte), 4))
    print(f"decay {a.decay} lr {a.lr} λ {a.lam} seed {a.seed} batch {a.batch}: accuracy after each fifth {accs} "
          f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
