#!/usr/bin/env python3
"""Train a small CNN on MNIST with spukit.torch.TNGD against `spu serve`.

The curvature solve of every step runs on the served board in the
batch × outputs dual space, so the board needs batch × 10 cells: a dense
simulated profile of that size (docs/python.md makes one), e.g. for the
default batch of 16:

    python3 python/examples/train_mnist.py --make-profile 160 > /tmp/dense160.json
    spu serve --board sim:/tmp/dense160.json --insecure &
    python3 python/examples/train_mnist.py --board grpc://127.0.0.1:7700 --epochs 1

MNIST comes from the GoMNIST module in the Go module cache (as for spu
train), $SPU_MNIST_DIR or --data DIR.
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import spukit  # noqa: E402
import spukit.mnist  # noqa: E402
import spukit.torch  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def make_profile(cells):
    """scripts/testdata/ideal40.json resized: the ideal board (no
    quantisation, σ = 10 mV) with the given number of cells."""
    with open(os.path.join(REPO, "scripts", "testdata", "ideal40.json")) as f:
        p = json.load(f)
    p["name"], p["cells"] = f"ideal{cells}", cells
    return p


def cnn():
    """A small CNN: two 5×5 convolutions (8 and 16 channels) with max
    pooling, then a linear layer (5,258 parameters)."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),     # 8×12×12
        torch.nn.Conv2d(8, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),    # 16×4×4
        torch.nn.Flatten(), torch.nn.Linear(16 * 4 * 4, 10))


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).double().mean())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--board", default="grpc://127.0.0.1:7700")
    p.add_argument("--make-profile", type=int, metavar="CELLS", help="print a dense sim profile with CELLS cells and exit")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--test-size", type=int, default=10000)
    p.add_argument("--lr", type=float, default=0.1, help="learning rate at the start")
    p.add_argument("--schedule", choices=("linear", "constant"), default="linear",
                   help="linear: the learning rate falls linearly to 0 over the run")
    p.add_argument("--damping", type=float, default=0.1, help="λ")
    p.add_argument("--t", type=float, default=50, help="analog run time per step, in τ")
    p.add_argument("--delay", type=float, default=0, help="t_d in τ")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", help="directory of the MNIST IDX .gz files")
    p.add_argument("--token-file")
    p.add_argument("--ca")
    args = p.parse_args()
    if args.make_profile:
        json.dump(make_profile(args.make_profile), sys.stdout, indent=2)
        return
    torch.manual_seed(args.seed)
    xtr, ytr = spukit.mnist.load("train", args.train_size, args.data)
    xte, yte = spukit.mnist.load("test", args.test_size, args.data)
    xtr = torch.from_numpy(xtr).float().reshape(-1, 1, 28, 28)
    xte = torch.from_numpy(xte).float().reshape(-1, 1, 28, 28)
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    model = cnn()
    t0 = time.monotonic()
    with spukit.Board(args.board, token_file=args.token_file, ca=args.ca) as board:
        opt = spukit.torch.TNGD(model.parameters(), board, lr=args.lr, damping=args.damping, t=args.t, delay=args.delay,
                                model=model)
        gen = torch.Generator().manual_seed(args.seed)
        total = args.epochs * (len(ytr) // args.batch)
        # A short run of NGD from a small batch jumps between good and
        # poorer minima at a constant learning rate (exact NGD at lr 0.05
        # ended anywhere between 0.75 and 0.90, docs/python.md); letting
        # the rate fall to 0 makes the end point the settled one.
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda i: 1 - i / total if args.schedule == "linear" else 1.0)
        steps = 0
        for epoch in range(args.epochs):
            order = torch.randperm(len(ytr), generator=gen)
            for i in range(len(ytr) // args.batch):
                idx = order[i * args.batch:(i + 1) * args.batch]

                def closure():
                    out = model(xtr[idx])
                    return torch.nn.functional.cross_entropy(out, ytr[idx]), out
                # inputs: per-example Jacobians by functorch (fast for a CNN).
                loss = opt.step(closure, inputs=xtr[idx])
                sched.step()
                steps += 1
                if steps % 100 == 0:
                    print(f"step {steps}: batch loss {loss.item():.3f}, {time.monotonic() - t0:.0f} s", file=sys.stderr)
            print(f"epoch {epoch + 1}: test accuracy {accuracy(model, xte, yte):.4f}")
        bt = board.board_time()
    print(f"{steps} steps in {time.monotonic() - t0:.0f} s wall, {bt:.2f} s board time, {opt.rescales} rescales; "
          f"test accuracy {accuracy(model, xte, yte):.4f}")


if __name__ == "__main__":
    main()
