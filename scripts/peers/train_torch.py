"""PyTorch CPU peer of the Go digital training step (optim's BenchmarkStep).

The same model and batch as optim/bench_test.go: the 784-32-10 tanh MLP,
batch 64, inputs a fifth of them uniform in (0, 1] and the rest 0, softmax
cross-entropy (mean over the batch), lambda = 0.01. One thread
(torch.set_num_threads(1)); float64 and float32. Each step includes the
forward pass and the gradient, as the Go step does (NewIteration + Step):

  adam          nn.Sequential + torch.optim.Adam (lr 1e-3)
  ngd-woodbury  exact NGD: d = F^{-1} g with F = lambda I + (1/b) J^T H J by
                Woodbury in the m = 640 dual space, the Jacobian's Kronecker
                structure used as the Go code uses it (per layer, a row of J
                is signal (x) input): U = b^{-1/2} H^{1/2} J, G = U U^T from
                per-layer Gram products, Cholesky of lambda I + G, U g,
                solve, U^T y. (Forming J densely via functorch.jacrev costs
                ~20 GFLOP for U U^T: much slower, not the peer to beat.)
  tngd-em       the paper's Euler-Maruyama TNGD reference, t = 50 tau,
                dt = 0.1 tau: 500 GGN-vector products F v, each J v, H, J^T
                with the same structure (what optim.Iteration.FVec does)
  tngd-em-dual  the same iterates in the dual space of G = U U^T: one
                640 x 640 product per step (what optim's TNGDEuler does
                without noise since issue 17's trainspeed work)

Prints one JSON object per line: {"peer": "torch", "step", "dtype",
"ms", "threads"}; ms is CPU time (time.process_time), the best of
--repeats timings of the mean over a run of steps.
"""

import argparse
import json
import time

import torch

SIZES = [784, 32, 10]
BATCH = 64
LAMBDA = 0.01


def batch(dtype):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(BATCH, SIZES[0], generator=g, dtype=torch.float64)
    keep = torch.rand(BATCH, SIZES[0], generator=g, dtype=torch.float64) < 0.2
    x = torch.where(keep, 1 - x, torch.zeros_like(x)).to(dtype)
    y = torch.randint(0, SIZES[-1], (BATCH,), generator=g)
    return x, y


def model(dtype):
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.Tanh(),
                               torch.nn.Linear(SIZES[1], SIZES[2])).to(dtype)


def adam_step(net, opt, x, y):
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    opt.step()


class Curvature:
    """g, J's per-layer signals and inputs, H^{1/2}: what a step needs."""

    def __init__(self, net, x, y):
        l1, l2 = net[0], net[2]
        x1 = torch.cat([x, torch.ones(BATCH, 1, dtype=x.dtype)], 1)     # b x 785
        z1 = x1 @ torch.cat([l1.weight, l1.bias[:, None]], 1).T
        a1 = torch.tanh(z1)
        a2 = torch.cat([a1, torch.ones(BATCH, 1, dtype=x.dtype)], 1)    # b x 33
        w2 = torch.cat([l2.weight, l2.bias[:, None]], 1)               # 10 x 33
        logits = a2 @ w2.T
        p = torch.softmax(logits, 1)
        d = SIZES[-1]
        # Gradient of the mean cross-entropy by hand (the Go code's backprop).
        delta2 = (p - torch.nn.functional.one_hot(y, d).to(x.dtype)) / BATCH
        delta1 = (delta2 @ w2[:, :-1]) * (1 - a1 * a1)
        self.g = [delta1.T @ x1, delta2.T @ a2]                         # 32x785, 10x33
        # Signals: d logit_o / d z_l per sample (b x d x Out_l).
        s2 = torch.eye(d, dtype=x.dtype).expand(BATCH, d, d)
        s1 = w2[:, :-1][None] * (1 - a1 * a1)[:, None, :]
        h = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
        self.h = h
        lam, v = torch.linalg.eigh(h)
        hh = (v * lam.clamp(min=0).sqrt()[:, None, :]) @ v.transpose(1, 2)
        self.sig, self.inp = [s1, s2], [x1, a2]
        # U's signals: b^{-1/2} H^{1/2} S, rows (s, o) flattened.
        self.usig = [(hh @ s).reshape(BATCH * d, -1) / BATCH**0.5 for s in self.sig]

    def jvp(self, sig, v):
        """(J v)_(s,o) = S_(s,o) . (A_s V^T) summed over layers; sig: b x d x Out."""
        out = 0
        for s, a, vl in zip(sig, self.inp, v):
            z = a @ vl.T                                  # b x Out
            out = out + (s.reshape(BATCH, SIZES[-1], -1) @ z[:, :, None])[:, :, 0]
        return out                                        # b x d

    def vjp(self, sig, w):
        """J^T w per layer: (sum_o w_(s,o) S_(s,o))^T A."""
        return [(w[:, None, :] @ s.reshape(BATCH, SIZES[-1], -1))[:, 0, :].T @ a
                for s, a in zip(sig, self.inp)]

    def gram(self):
        m = BATCH * SIZES[-1]
        g = torch.zeros(m, m, dtype=self.inp[0].dtype)
        for us, a in zip(self.usig, self.inp):
            aa = (a @ a.T).repeat_interleave(SIZES[-1], 0).repeat_interleave(SIZES[-1], 1)
            g += (us @ us.T) * aa
        return g

    def fvec(self, v):
        hjv = (self.h @ self.jvp(self.sig, v)[:, :, None])[:, :, 0] / BATCH
        return [f + LAMBDA * vl for f, vl in zip(self.vjp(self.sig, hjv), v)]


def params(net):
    return [torch.cat([net[0].weight, net[0].bias[:, None]], 1), torch.cat([net[2].weight, net[2].bias[:, None]], 1)]


def apply(net, d, lr):
    with torch.no_grad():
        for lin, dl in zip([net[0], net[2]], d):
            lin.weight -= lr * dl[:, :-1]
            lin.bias -= lr * dl[:, -1]


def woodbury_step(net, x, y):
    with torch.no_grad():
        c = Curvature(net, x, y)
        m = BATCH * SIZES[-1]
        k = c.gram() + LAMBDA * torch.eye(m, dtype=x.dtype)
        ug = c.jvp([u.reshape(BATCH, SIZES[-1], -1) for u in c.usig], c.g).reshape(m, 1)
        yv = torch.cholesky_solve(ug, torch.linalg.cholesky(k))
        uty = c.vjp([u.reshape(BATCH, SIZES[-1], -1) for u in c.usig], yv.reshape(BATCH, SIZES[-1]))
        d = [(gl - ul) / LAMBDA for gl, ul in zip(c.g, uty)]
        apply(net, d, 0.01)
    return d


def em_step(net, x, y, state, t=50.0, dt=0.1):
    with torch.no_grad():
        c = Curvature(net, x, y)
        g = c.g
        xs = state.get("prev") or [gl.clone() for gl in g]
        for _ in range(round(t / dt)):
            f = c.fvec(xs)
            xs = [xl - dt * (fl - gl) for xl, fl, gl in zip(xs, f, g)]
        state["prev"] = xs
        apply(net, xs, 0.01)
    return xs


def em_dual_step(net, x, y, state, t=50.0, dt=0.1):
    """em_step's iterates in the dual space of G = U U^T, as optim's
    TNGDEuler computes them without noise: every iterate is
    a x0 + b g + U^T z (z of length m = 640), and a step is
    z <- (1 - dt lam) z - dt (a U x0 + b U g + G z), a <- (1 - dt lam) a,
    b <- (1 - dt lam) b + dt: one m x m product per step instead of J v
    and J^T w over N = 25,450 parameters."""
    with torch.no_grad():
        c = Curvature(net, x, y)
        g = c.g
        x0 = state.get("prev") or [gl.clone() for gl in g]
        m = BATCH * SIZES[-1]
        usig = [u.reshape(BATCH, SIZES[-1], -1) for u in c.usig]
        gram = c.gram()
        ux, ug = c.jvp(usig, x0).reshape(m), c.jvp(usig, g).reshape(m)
        z = torch.zeros(m, dtype=x.dtype)
        a, b, k = 1.0, 0.0, 1 - dt * LAMBDA
        for _ in range(round(t / dt)):
            z = k * z - dt * (a * ux + b * ug + gram @ z)
            a, b = k * a, k * b + dt
        ut = c.vjp(usig, z.reshape(BATCH, SIZES[-1]))
        xs = [a * xl + b * gl + ul for xl, gl, ul in zip(x0, g, ut)]
        state["prev"] = xs
        apply(net, xs, 0.01)
    return xs


def timed(fn, iters, repeats):
    fn()  # warm up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()  # CPU time: a busy machine does not count
        for _ in range(iters):
            fn()
        best = min(best, (time.process_time() - t0) / iters)
    return best * 1e3


def check():
    """The structured kernels against autograd and dense algebra (float64),
    on a 40-7-10 model so that the dense N x N F fits."""
    SIZES[:] = [40, 7, 10]
    x, y = batch(torch.float64)
    net = model(torch.float64)
    c = Curvature(net, x, y)
    loss = torch.nn.functional.cross_entropy(net(x), y)
    grads = torch.autograd.grad(loss, [net[0].weight, net[0].bias, net[2].weight, net[2].bias])
    ag = [torch.cat([grads[0], grads[1][:, None]], 1), torch.cat([grads[2], grads[3][:, None]], 1)]
    err_g = max(float((a - b).abs().max()) for a, b in zip(ag, c.g))
    # Dense J from the signals; F v and Woodbury against dense algebra.
    n1, n2 = c.g[0].numel(), c.g[1].numel()
    j = torch.cat([torch.einsum("sop,si->sopi", s, a).reshape(BATCH * SIZES[-1], -1)
                   for s, a in zip(c.sig, c.inp)], 1)
    # J's rows are d logits / d theta: J^T (p - onehot)/b is autograd's gradient.
    p = torch.softmax(net(x), 1)
    r = ((p - torch.nn.functional.one_hot(y, SIZES[-1])) / BATCH).reshape(-1)
    agv = torch.cat([t.reshape(-1) for t in ag])
    err_j = float((j.T @ r - agv).abs().max())
    hb = torch.block_diag(*c.h)
    f = LAMBDA * torch.eye(n1 + n2, dtype=torch.float64) + j.T @ hb @ j / BATCH
    gv = torch.cat([gl.reshape(-1) for gl in c.g])
    fv = torch.cat([t.reshape(-1) for t in c.fvec(c.g)])
    err_fv = float((fv - f @ gv).abs().max() / (f @ gv).abs().max())
    net2 = model(torch.float64)
    d = torch.cat([t.reshape(-1) for t in woodbury_step(net2, x, y)])
    exact = torch.linalg.solve(f, gv)
    err_d = float((d - exact).abs().max() / exact.abs().max())
    # The dual Euler-Maruyama against the primal one, from the same start.
    em = torch.cat([t.reshape(-1) for t in em_step(model(torch.float64), x, y, {}, t=5.0)])
    dual = torch.cat([t.reshape(-1) for t in em_dual_step(model(torch.float64), x, y, {}, t=5.0)])
    err_em = float((dual - em).abs().max() / em.abs().max())
    print(json.dumps({"grad_abs": err_g, "jacobian_abs": err_j, "fvec_rel": err_fv, "woodbury_rel": err_d,
                      "em_dual_rel": err_em}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--check", action="store_true", help="check the kernels against autograd and dense algebra, then exit")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.check:
        check()
        return
    for dtype, name in [(torch.float64, "float64"), (torch.float32, "float32")]:
        x, y = batch(dtype)
        net = model(dtype)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        runs = [("adam", lambda: adam_step(net, opt, x, y), 200),
                ("ngd-woodbury", lambda: woodbury_step(model_w, x, y), 10),
                ("tngd-em-t50", lambda: em_step(model_e, x, y, state), 2),
                ("tngd-em-t50-dual", lambda: em_dual_step(model_d, x, y, state_d), 2)]
        model_w, model_e, state = model(dtype), model(dtype), {}
        model_d, state_d = model(dtype), {}
        for step, fn, iters in runs:
            ms = timed(fn, iters, args.repeats)
            print(json.dumps({"peer": "torch", "step": step, "dtype": name, "ms": ms,
                              "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
