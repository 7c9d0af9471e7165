"""spukit.torch.TNGD: thermodynamic natural gradient descent for any torch
model, with the curvature solve on a spukit board.

Each step forms the damped generalised Gauss–Newton (GGN) system in the
batch × outputs dual space, as `spu train --mapping dual` does (package
optim of the Go module, optim/tngd.go and optim/curvature.go):

    F = λI + (1/b) Jᵀ H J = λI + UᵀU,   U = b^{-1/2} H^{1/2} J   (m × N)
    G = U Uᵀ                                                    (m × m)

with J the Jacobian of the model's outputs (m = b·k rows, sample-major:
row s·k + o is output o of example s) in its N parameters and H the
block-diagonal Hessian of each example's loss in its outputs. By the
Woodbury identity F⁻¹g = (g − Uᵀ(λI + G)⁻¹ U g)/λ, so the board solves
the m × m system (λI + G) y = U g: it is programmed with A = λI + G and
b = U g, relaxes for t from its previous state (warm start), and the read
y maps back to the step direction

    g̃ = (g − Uᵀ y)/λ,    θ ← θ − lr·g̃.

t → ∞ is NGD, t → 0 with the warm start at 0 gives g̃ = g/λ·(1 − …)
(see docs/python.md). The rows of U are vector–Jacobian products: one
batched autograd call with m cotangents (torch.autograd.grad with
is_grads_batched, torch ≥ 1.11; a loop over rows where the model's
operations have no batching rule), so it works for any model, and costs
m backward passes' worth of memory traffic.

The board policy — the coupling scale α, the state scale β with its
headroom and bias limits, the warm start, the delay t_d, the re-run at a
4× smaller scale after a saturated read and the scale-up when the state
uses under a quarter of its budget — is optim.TNGD's, step for step, so
on the same seeded board and the same inputs the two give the same g̃
(python/tests/test_equivalence.py).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from spukit import errors

__all__ = ["TNGD", "hessian_sqrt_cross_entropy", "hessian_sqrt_mse"]

_MAX_RESCALES = 4


def hessian_sqrt_cross_entropy(outputs: torch.Tensor) -> np.ndarray:
    """H_s^{1/2} for softmax cross-entropy on logits (b, k): the symmetric
    square root of diag(p) − ppᵀ per example, from its eigendecomposition
    with round-off negatives clipped to 0 (ggn.SqrtH)."""
    z = outputs.detach().to(torch.float64).cpu().numpy()
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    h = -p[:, :, None] * p[:, None, :]
    idx = np.arange(p.shape[1])
    h[:, idx, idx] += p
    return _sqrtm(h)


def hessian_sqrt_mse(outputs: torch.Tensor) -> np.ndarray:
    """H_s^{1/2} for torch's F.mse_loss with reduction='mean' over (b, k):
    the per-example loss is (1/k)Σ_o (out − y)², whose Hessian is (2/k)I."""
    b, k = outputs.shape
    return np.broadcast_to(math.sqrt(2 / k) * np.eye(k), (b, k, k)).copy()


def _sqrtm(h: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(h)
    w = np.sqrt(np.clip(w, 0, None))
    return np.einsum("bij,bj,bkj->bik", v, w, v)


_LOSSES = {"cross_entropy": hessian_sqrt_cross_entropy, "mse": hessian_sqrt_mse}


class TNGD(torch.optim.Optimizer):
    """torch.optim.Optimizer running TNGD's curvature solve on ``board``
    (an open spukit.Board with at least batch × outputs cells).

    ``lr``, ``damping`` (λ), ``t`` and ``delay`` (t_d, both in units of the
    board's τ) and ``window`` (samples averaged at the end of each run)
    mean what they mean for `spu train` (defaults: 0.01, 0.01, 50, 0, 1).
    ``headroom`` is the fraction of the ADC's full scale the state is
    scaled to use (0.5). ``loss`` names the loss the closure returns —
    "cross_entropy" (F.cross_entropy on logits, mean) or "mse"
    (F.mse_loss, mean) — or is a function outputs (b, k) → per-example
    H_s^{1/2} (b, k, k) for a batch loss that is the mean of per-example
    losses.

    step(closure) calls closure() → (loss, outputs): the batch loss and the
    model outputs (b, k) it was computed from, with their graph (do not
    call backward; step does). It sets each parameter's .grad to the
    gradient, updates the parameters and returns the loss. After a step,
    ``last`` holds the step's g (flat, float64), g̃ and the board's y.

    With ``model`` given (whose parameters are the optimizer's, in order)
    and step(closure, inputs=x), U is formed from per-example Jacobians by
    functorch's vmap(jacrev) instead of m vector–Jacobian products through
    the whole batch: much faster for convolutional models, whose batched
    backward torch 1.13 runs slowly. The model must treat examples
    independently (no batch norm in training mode).
    """

    def __init__(self, params, board, *, lr: float = 0.01, damping: float = 0.01, t: float = 50.0,
                 delay: float = 0.0, window: int = 1, headroom: float = 0.5, loss="cross_entropy", model=None):
        if not (lr > 0 and damping > 0 and t > 0 and delay >= 0 and window >= 1 and 0 < headroom <= 1):
            raise errors.InvalidError(f"tngd: lr = {lr} (> 0), damping = {damping} (> 0), t = {t}τ (> 0), "
                                      f"delay = {delay}τ (≥ 0), window = {window} (≥ 1), headroom = {headroom} (0, 1]")
        super().__init__(params, dict(lr=lr, damping=damping))
        self._hsqrt = _LOSSES.get(loss, loss) if isinstance(loss, str) else loss
        if not callable(self._hsqrt):
            raise errors.InvalidError(f"tngd: loss {loss!r}: want one of {', '.join(_LOSSES)} or a function")
        self.board = board
        self.info = board.info()
        self._model = model
        self.t, self.delay, self.window, self.headroom = t, delay, window, headroom
        if window > 1 and window * self.info.min_sample_period_ns > self._tau_ns(t):
            raise errors.InvalidError(f"tngd: a window of {window} samples at {self.info.min_sample_period} s is longer than t = {t}τ")
        # The board policy's state (optim.TNGD): started, β (volts per
        # problem unit), α (the coupling scale last programmed), the
        # previous estimate y (one per cell) and the forced-restart flag.
        self._started, self._beta, self._alpha = False, 0.0, 1.0
        self._prev = None
        self._force_next = False
        self.rescales = 0
        self.last = {}

    def _params(self):
        return [p for g in self.param_groups for p in g["params"] if p.requires_grad]

    def _tau_ns(self, t: float) -> int:
        # time.Duration(math.Round(t·τ)): half away from zero, as Go's.
        return int(math.floor(t * self.info.tau_ns + 0.5))

    def step(self, closure, inputs=None):
        """One TNGD step; see the class doc. Returns the closure's loss."""
        if closure is None:
            raise errors.InvalidError("tngd: step needs a closure returning (loss, outputs)")
        with torch.enable_grad():
            loss, outputs = closure()
            params = self._params()
            grads = torch.autograd.grad(loss, params, retain_graph=True)
            if self._model is not None and inputs is not None:
                u = self._u_per_example(outputs, params, inputs)
            else:
                u = self._u(outputs, params)
        g = torch.cat([x.reshape(-1) for x in grads]).detach().to(torch.float64).cpu().numpy()
        lam = self.param_groups[0]["damping"]
        d, y = self._direction(u, g, lam)
        self.last = {"g": g, "direction": d, "y": y}
        with torch.no_grad():
            off = 0
            for p, gr in zip(params, grads):
                n = p.numel()
                lr = next(grp["lr"] for grp in self.param_groups if any(p is q for q in grp["params"]))
                p.grad = gr.detach().clone()
                p.sub_(lr * torch.from_numpy(d[off:off + n]).to(p.dtype).reshape(p.shape).to(p.device))
                off += n
        return loss

    def _u(self, outputs: torch.Tensor, params) -> np.ndarray:
        """U = b^{-1/2} H^{1/2} J as an (m, N) float64 array: row s·k + o
        is the vector–Jacobian product of the outputs with the cotangent
        b^{-1/2} H_s^{1/2}[o, :] on example s."""
        out = outputs.reshape(outputs.shape[0], -1)
        b, k = out.shape
        m = b * k
        if m > self.info.cells:
            raise errors.DimensionError(f"tngd: mapping dual needs batch×outputs = {m} cells, board "
                                        f"{self.info.model} has {self.info.cells}")
        hh = np.asarray(self._hsqrt(out), dtype=np.float64) / math.sqrt(b)
        cot = torch.zeros((m, b, k), dtype=out.dtype, device=out.device)
        hh_t = torch.from_numpy(hh).to(out.dtype).to(out.device)
        for s in range(b):
            cot[s * k:(s + 1) * k, s, :] = hh_t[s]
        n = sum(p.numel() for p in params)
        rows = []
        # Chunks of cotangents bound the memory of a batched backward.
        chunk = max(1, min(m, (1 << 27) // max(1, n * out.element_size())))
        for c0 in range(0, m, chunk):
            rows.append(self._vjp_rows(out, params, cot[c0:c0 + chunk]))
        return np.concatenate(rows, axis=0)

    def _u_per_example(self, outputs, params, inputs) -> np.ndarray:
        """U from per-example Jacobians J_s (k × N) by functorch:
        U_s = b^{-1/2} H_s^{1/2} J_s."""
        import functorch
        out = outputs.reshape(outputs.shape[0], -1)
        b, k = out.shape
        if b * k > self.info.cells:
            raise errors.DimensionError(f"tngd: mapping dual needs batch×outputs = {b * k} cells, board "
                                        f"{self.info.model} has {self.info.cells}")
        fm, fparams, buffers = functorch.make_functional_with_buffers(self._model)
        mine = list(self._model.parameters())
        if len(mine) != len(params) or any(p is not q for p, q in zip(mine, params)):
            raise errors.InvalidError("tngd: model's parameters are not the optimizer's (in order)")

        def f(ps, x1):
            return fm(ps, buffers, x1.unsqueeze(0)).reshape(-1)
        jac = functorch.vmap(functorch.jacrev(f), in_dims=(None, 0))(tuple(params), inputs)
        j = torch.cat([x.reshape(b, k, -1) for x in jac], dim=2).detach().to(torch.float64).cpu().numpy()
        hh = np.asarray(self._hsqrt(out), dtype=np.float64) / math.sqrt(b)
        return np.einsum("sij,sjn->sin", hh, j).reshape(b * k, -1)

    @staticmethod
    def _vjp_rows(out, params, cot) -> np.ndarray:
        try:
            gs = torch.autograd.grad(out, params, grad_outputs=cot, retain_graph=True, is_grads_batched=True)
            return torch.cat([x.reshape(cot.shape[0], -1) for x in gs], dim=1).to(torch.float64).cpu().numpy()
        except RuntimeError:
            # An operation without a batching rule: one row at a time.
            res = []
            for c in cot:
                gs = torch.autograd.grad(out, params, grad_outputs=c, retain_graph=True)
                res.append(torch.cat([x.reshape(-1) for x in gs]).to(torch.float64).cpu().numpy())
            return np.stack(res)

    # --- the board policy: optim.TNGD.Direction for MapDual ---------------

    def _direction(self, u: np.ndarray, g: np.ndarray, lam: float):
        info, k = self.info, self.info.cells
        if self._started and self.delay > 0:
            # The board keeps evolving on the previous A, b while the host works.
            self.board.run_ns(self._tau_ns(self.delay / self._alpha))
        a = u @ u.T
        m = a.shape[0]
        a[np.diag_indices(m)] += lam
        self._program(a)
        rhs = u @ g
        warm = self._prev if self._prev is not None else np.zeros(k)
        force = not self._started or self._force_next
        self._force_next = False
        rhs_max = float(np.abs(rhs).max())
        if not self._started or self._beta == 0:
            # Worst-case growth from the warm start: ‖(I − e^{−At})A⁻¹‖ ≤ min(t, 1/λ_min) with λ_min ≥ λ.
            self._beta = self._beta_for(max(float(np.abs(warm).max()), rhs_max * min(self.t, 1 / lam)), rhs_max)
        lim = self._bias_limit(rhs_max)
        if self._beta > lim:
            self._beta, force = lim, True
        est = self._relax(rhs, warm, force)
        self._started, self._prev = True, est
        y = est[:m]
        return (g - u.T @ y) / lam, y

    def _program(self, a: np.ndarray) -> None:
        """Programs α·a padded to the board with the identity, α the
        largest scale within 95 % of the symmetric part of the coupling
        range (Session.CouplingScale(a, true), ProgramDense)."""
        info, k, m = self.info, self.info.cells, a.shape[0]
        c = min(abs(info.coupling[0]), info.coupling[1])
        pos = float(a[a > 0].max(initial=0))
        neg = float((-a[a <= 0]).max(initial=0))
        alpha = math.inf
        if pos > 0:
            alpha = min(alpha, 0.95 * c / pos)
        if neg > 0:
            alpha = min(alpha, 0.95 * c / neg)
        ap = np.eye(k)
        ap[:m, :m] = alpha * a
        if info.topology == "symmetric":
            ap[:m, :m] = 0.5 * (ap[:m, :m] + ap[:m, :m].T)
        self.board.set_couplings(ap)
        self._alpha = alpha

    def _relax(self, rhs: np.ndarray, warm: np.ndarray, force: bool) -> np.ndarray:
        """optim.TNGD.relax: run for t from the warm start and read the
        window's mean in problem units; a saturated read re-runs at a 4×
        smaller scale (at most 4 times)."""
        info, k = self.info, self.info.cells
        period = info.min_sample_period_ns
        total = self._tau_ns(self.t / self._alpha)
        window = self.window * period
        if total < window:
            raise errors.OutOfRangeError(f"tngd: t = {self.t}τ is {total} ns on this board (coupling scale "
                                         f"{self._alpha:.3g}), shorter than {self.window} sample period(s) of {period} ns")
        lo, hi = info.adc
        attempt = 0
        while True:
            bias = np.full(k, min(max(0.0, info.bias[0]), info.bias[1]))
            bias[:len(rhs)] = (self._alpha * self._beta) * rhs
            self.board.set_bias(bias)
            if force:
                v = np.zeros(k)
                v[:len(warm)] = self._beta * warm
                v[np.isnan(v)] = 0
                self.board.set_state(np.clip(v, lo, hi))
            if total - window > 0:
                self.board.run_ns(total - window)
            try:
                buf = self.board.sample_ns(self.window, period)
            except errors.SaturatedError:
                if attempt < _MAX_RESCALES:
                    self._beta /= 4
                    force = True
                    self.rescales += 1
                    attempt += 1
                    continue
                raise
            est = buf.sum(axis=0) / (len(buf) * self._beta)
            peak = float(np.abs(buf).max())
            # Grow the scale when the state uses under a quarter of its
            # budget; the next step re-forces the state at the new scale.
            fs = min(abs(lo), abs(hi))
            if peak < self.headroom * fs / 4:
                nb = min(2 * self._beta, self._bias_limit(float(np.abs(rhs).max())))
                if nb > self._beta:
                    self._beta, self._force_next = nb, True
            return est

    def _beta_for(self, need: float, rhs_max: float) -> float:
        fs = min(abs(self.info.adc[0]), abs(self.info.adc[1]))
        b = self.headroom * fs / need if need > 0 else math.inf
        b = min(b, self._bias_limit(rhs_max))
        return 1.0 if math.isinf(b) else b

    def _bias_limit(self, rhs_max: float) -> float:
        if rhs_max == 0:
            return math.inf
        bs = min(abs(self.info.bias[0]), abs(self.info.bias[1]))
        return 0.95 * bs / (self._alpha * rhs_max)
