"""spukit.torch.TNGD on any model: its step direction against the exact
Woodbury solve on a noise-free board, where the only error is the
unfinished relaxation (e^{−λt} after t, made negligible here)."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="apt-get install python3-torch")

import spukit  # noqa: E402
import spukit.torch as st  # noqa: E402

from conftest import REPO  # noqa: E402


@pytest.fixture
def quiet40(serve, tmp_path):
    """A served 40-cell ideal board without noise: the dual system of a
    batch of 4 with 10 outputs fits, and the board is deterministic."""
    with open(f"{REPO}/scripts/testdata/ideal40.json") as f:
        p = json.load(f)
    p["name"], p["noise_v"] = "quiet40", 0
    path = tmp_path / "quiet40.json"
    path.write_text(json.dumps(p))
    return serve(f"sim:{path}")


def small_cnn():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3), torch.nn.Tanh(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(3 * 3 * 3, 10)).double()


def exact_direction(model, x, target, loss, lam):
    """(g − Uᵀ(λI + UUᵀ)⁻¹Ug)/λ = F⁻¹g with J formed row by row."""
    params = list(model.parameters())
    out = model(x)
    b, k = out.shape
    g = torch.cat([t.reshape(-1) for t in torch.autograd.grad(loss(out, target), params, retain_graph=True)]).numpy()
    jac = np.stack([torch.cat([t.reshape(-1) for t in torch.autograd.grad(out[s, o], params, retain_graph=True)]).numpy()
                    for s in range(b) for o in range(k)])
    hh = st.hessian_sqrt_mse(out) if loss is torch.nn.functional.mse_loss else st.hessian_sqrt_cross_entropy(out)
    u = np.concatenate([hh[s] @ jac[s * k:(s + 1) * k] for s in range(b)]) / np.sqrt(b)
    y = np.linalg.solve(lam * np.eye(b * k) + u @ u.T, u @ g)
    return (g - u.T @ y) / lam


@pytest.mark.parametrize("per_example", [False, True], ids=["vjp", "functorch"])
@pytest.mark.parametrize("loss_name", ["mse", "cross_entropy"])
def test_direction_is_natural_gradient_on_a_cnn(quiet40, loss_name, per_example):
    loss = {"mse": torch.nn.functional.mse_loss, "cross_entropy": torch.nn.functional.cross_entropy}[loss_name]
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.standard_normal((4, 1, 8, 8)))
    target = (torch.from_numpy(rng.standard_normal((4, 10))) if loss_name == "mse"
              else torch.from_numpy(rng.integers(0, 10, 4)))
    model = small_cnn()
    lam = 0.1
    want = exact_direction(model, x, target, loss, lam)
    with spukit.Board(quiet40.uri) as b:
        # t = 2000 in the problem's time: the slowest mode (λ_min ≥ λ = 0.1)
        # decays by e^{−200}; what remains is round-off.
        opt = st.TNGD(model.parameters(), b, lr=0.1, damping=lam, t=2000, loss=loss_name,
                      model=model if per_example else None)

        def closure():
            out = model(x)
            return loss(out, target), out
        before = [p.detach().clone() for p in model.parameters()]
        opt.step(closure, inputs=x if per_example else None)
    got = opt.last["direction"]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-7 * np.abs(want).max())
    # The parameters moved by −lr·g̃ and .grad holds the gradient.
    step = torch.cat([(b0 - p.detach()).reshape(-1) for b0, p in zip(before, model.parameters())]).numpy()
    np.testing.assert_allclose(step, 0.1 * got, rtol=1e-12, atol=1e-15)
    assert all(p.grad is not None for p in model.parameters())


def test_too_few_cells(ideal):
    model = small_cnn()
    x = torch.zeros((4, 1, 8, 8), dtype=torch.float64)
    with spukit.Board(ideal.uri) as b:
        opt = st.TNGD(model.parameters(), b)
        with pytest.raises(spukit.DimensionError):
            opt.step(lambda: (model(x).sum(), model(x)))


def test_bad_hyperparameters(ideal):
    with spukit.Board(ideal.uri) as b:
        with pytest.raises(spukit.InvalidError):
            st.TNGD(small_cnn().parameters(), b, lr=0)
        with pytest.raises(spukit.InvalidError):
            st.TNGD(small_cnn().parameters(), b, loss="hinge")
