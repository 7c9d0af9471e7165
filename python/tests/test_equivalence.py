"""spukit.torch.TNGD against the Go trainer: `spu train --mapping dual`
and the torch optimizer, from the same initial weights, on the same
batches and on the same seeded board, give the same g̃.

The Go run's θ₀, batches and directions come from `spu train --trace`.
Both runs lease the same `spu serve` in turn; the server reopens its board
for every lease, so both see the same noise stream (sim seed 3), and
TNGD's board calls are the same calls with the same values up to
round-off.

Tolerance, relative in the max-norm: 1e-5 for a float64 model, 1e-4 for
a float32 one. In float64 both sides compute alike but in different orders (the Go kernels form G = UUᵀ
from the layers' signals and inputs, torch forms U by batched VJPs), so U,
G and Ug agree to ~1e-15 relative, except along the softmax Hessian's null
vector: H = diag(p) − ppᵀ has H1 = 0, each side's eigensolver returns that
eigenvalue as ±1e-17 and its clipped square root (0 or ~3e-9) enters
H^{1/2}. That 3e-9 perturbation of U, amplified by the dual solve's
conditioning (λ = 0.01) and by 1/λ in g̃ = (g − Uᵀy)/λ, is the 1e-8–1e-7
relative difference observed; 1e-5 leaves a margin of 100. A float32 torch
model rounds the forward and backward passes (outputs, g and the VJP rows
of U) to float32's 6e-8; TNGD does the dual solve's host side in float64,
and the directions agree to 3e-7–1e-6 relative (observed); 1e-4 again
leaves a margin of 100.
"""

import json
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="apt-get install python3-torch")

import spukit  # noqa: E402
import spukit.mnist  # noqa: E402
import spukit.torch as st  # noqa: E402

from conftest import REPO  # noqa: E402

SIZES = [784, 32, 10]


def mlp_from_go(theta):
    """The 784-32-10 tanh MLP with Go's flat θ: layer l is an
    Out × (In+1) row-major block whose last column is the bias."""
    model = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10)).double()
    off = 0
    with torch.no_grad():
        for lin, (i, o) in zip((model[0], model[2]), zip(SIZES, SIZES[1:])):
            w = theta[off:off + o * (i + 1)].reshape(o, i + 1)
            off += o * (i + 1)
            lin.weight.copy_(torch.from_numpy(w[:, :i]))
            lin.bias.copy_(torch.from_numpy(w[:, i]))
    assert off == len(theta)
    return model


def to_go_layout(d):
    """A flat torch-order vector (W₀, b₀, W₁, b₁) in Go's layout."""
    out, off = [], 0
    for i, o in zip(SIZES, SIZES[1:]):
        w = d[off:off + o * i].reshape(o, i)
        b = d[off + o * i:off + o * i + o]
        off += o * i + o
        out.append(np.concatenate([w, b[:, None]], axis=1).ravel())
    return np.concatenate(out)


def test_dual_direction_matches_spu_train(serve, spu_bin, tmp_path):
    s = serve(f"sim:{REPO}/scripts/testdata/ideal40.json?seed=3")
    trace = tmp_path / "trace.jsonl"
    subprocess.run([spu_bin, "train", "--board", s.uri, "--mapping", "dual", "--batch", "4", "--iterations", "3",
                    "--eval-every", "3", "--test-size", "100", "--lr", "0.01", "--damping", "0.01", "--t", "50",
                    "--trace", str(trace), "--quiet"], check=True, capture_output=True, cwd=REPO)
    lines = [json.loads(ln) for ln in trace.read_text().splitlines()]
    assert [ln["iteration"] for ln in lines] == [0, 1, 2]
    x_all, y_all = spukit.mnist.load("train", 10000)
    # One Go run, two torch runs (each a new lease: the board is reopened).
    for dtype, tol in ((torch.float64, 1e-5), (torch.float32, 1e-4)):
        model = mlp_from_go(np.array(lines[0]["theta"])).to(dtype)
        with spukit.Board(s.uri) as b:
            opt = st.TNGD(model.parameters(), b, lr=0.01, damping=0.01, t=50)
            for ln in lines:
                x = torch.from_numpy(x_all[ln["indices"]]).to(dtype)
                y = torch.from_numpy(y_all[ln["indices"]])

                def closure():
                    out = model(x)
                    return torch.nn.functional.cross_entropy(out, y), out
                loss = opt.step(closure)
                # θ after a step carries that step's direction difference.
                assert loss.item() == pytest.approx(ln["loss"], rel=1e-5)
                got, want = to_go_layout(opt.last["direction"]), np.array(ln["direction"])
                err = np.abs(got - want).max() / np.abs(want).max()
                assert err < tol, f"{dtype}, iteration {ln['iteration']}: relative difference {err:.3g}"
