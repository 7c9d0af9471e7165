"""solve(board, A, b): x = A⁻¹b on a served board, the way the Go solver's
Solve does it (solver/solve.go, docs/solving.md), simplified:

1. scale: A' = α·A with α the largest scale that puts every entry within
   95 % of the board's coupling range; b' = β·b with β putting max|b'| at
   95 % of the bias range. The board's mean state is x' = A'⁻¹b' = (β/α)·x.
2. pad to the board's K cells: unused cells get A'_ii = 1 and no bias.
3. force the state to 0 and burn in for τ·max(10, c·(ln 10⁶ + ½ ln n)/r),
   r the slowest relaxation rate of A' (the smallest eigenvalue of its
   symmetric part, c = 1.5, or the spectral abscissa, c = 3, when that is
   not positive), so the start is forgotten to 10⁻⁶.
4. pilot: a short sampling (≥ 25τ and 10 relaxation times); when its mean
   peaks above 70 % of the ADC's full scale, or saturates, β is lowered
   (to aim at 50 %, or ÷8 when saturated) and the board restarted from the
   rescaled mean — at most 8 times.
5. sample for τ·max(2000, 50·B/r) in B = 20 batches at the board's
   minimum period (lengthened to keep at most 2²² samples) and return the
   mean with batch-means standard errors
   se_i = sqrt(Σ_b (m_bi − x_i)² / (B(B−1))), unscaled by α/β.

What it leaves out of the Go solver: Tol-driven doubling, warm starts,
a fixed β, rescaling back up after a pilot that is too small, the
quantisation and stability notes, tiling and refinement. Its noise draws
differ from `spu solve`'s (another schedule of board calls), so the two
agree within their error bars, not bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from spukit import errors

__all__ = ["SolveResult", "solve"]

_MARGIN = 0.95
_CEILING, _TARGET = 0.7, 0.5
_MAX_SAMPLES = 1 << 22


@dataclasses.dataclass
class SolveResult:
    """The outcome of solve: ``x`` and ``stderr`` (problem units, length n),
    ``board_time`` (seconds of board time the call used, from the board's
    clock, else wall time, with ``clocked`` saying which), ``samples``
    averaged, ``alpha`` and ``beta`` (A' = αA, b' = βb), ``retries`` (bias
    re-scalings after pilots) and ``saturated`` readings in the final
    sampling (when positive the estimate is biased and solve raised
    SaturatedError with this result in its ``result``)."""

    x: np.ndarray
    stderr: np.ndarray
    board_time: float
    clocked: bool
    samples: int
    alpha: float
    beta: float
    retries: int = 0
    saturated: int = 0


def _range_scale(v: np.ndarray, lo: float, hi: float, what: str) -> float:
    """The largest s with s·v within [0.95·lo, 0.95·hi] (solver.rangeScale)."""
    s = math.inf
    pos, neg = float(np.max(v, initial=0)), float(-np.min(v, initial=0))
    if pos > 0:
        if not hi > 0:
            raise errors.OutOfRangeError(f"{what} has positive entries but the board's range is [{lo:g}, {hi:g}]")
        s = min(s, _MARGIN * hi / pos)
    if neg > 0:
        if not lo < 0:
            raise errors.OutOfRangeError(f"{what} has negative entries but the board's range is [{lo:g}, {hi:g}]")
        s = min(s, _MARGIN * -lo / neg)
    return s


def _relaxation(a: np.ndarray) -> tuple[float, float]:
    """(r, c): the slowest relaxation rate of the stable a, in 1/τ, and the
    burn-in safety factor (1.5 when r is a proven decay rate)."""
    mu = float(np.linalg.eigvalsh(0.5 * (a + a.T))[0])
    if mu > 0:
        return mu, 1.5
    r = float(np.min(np.linalg.eigvals(a).real))
    if not r > 0:
        raise errors.UnstableError(f"A has an eigenvalue with real part {r:.3g} ≤ 0: the board cannot relax to A⁻¹b")
    return r, 3.0


def _check(board, a, b):
    a = np.array(a, dtype=np.float64)
    b = np.array(b, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise errors.DimensionError(f"A has shape {a.shape}: want a non-empty square matrix")
    n, k = a.shape[0], board.info().cells
    if b.shape != (n,):
        raise errors.DimensionError(f"b has shape {b.shape}, want ({n},)")
    if n > k:
        raise errors.DimensionError(f"A is {n} × {n}, the board has {k} cells")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise errors.InvalidError("A or b has a NaN or infinite entry")
    return a, b, n, k


def _batch_means(x: np.ndarray, batches: int) -> tuple[np.ndarray, np.ndarray]:
    """Grand mean and batch-means standard error of the rows of x."""
    m = x[: len(x) // batches * batches].reshape(batches, -1, x.shape[1]).mean(axis=1)
    mean = m.mean(axis=0)
    return mean, np.sqrt(((m - mean) ** 2).sum(axis=0) / (batches * (batches - 1)))


def solve(board, a, b, *, batches: int = 20) -> SolveResult:
    """Estimates x = A⁻¹b on an open spukit.Board (see the module doc for
    the method). A is n × n (n ≤ cells, stable), b has length n. Raises
    DimensionError, InvalidError, UnstableError before the board is
    touched; board errors as the server sends them; SaturatedError (with
    ``result``) when the final sampling saturated."""
    a, b, n, k = _check(board, a, b)
    if batches < 2:
        raise errors.InvalidError(f"batches = {batches}: want ≥ 2")
    info = board.info()
    t0, w0 = board.board_time(), time.monotonic()
    alpha = _range_scale(a, *info.coupling, "A")
    if info.topology == "symmetric" and not np.allclose(a, a.T, rtol=0, atol=1e-12 * np.abs(a).max()):
        raise errors.UnsupportedError("A is not symmetric and the board's topology is symmetric")
    rate, c = _relaxation(alpha * a)
    mb = float(np.abs(b).max())
    if mb == 0:
        z = np.zeros(n)
        return SolveResult(z, z.copy(), 0.0, t0 is not None, 0, alpha, 0.0)
    sb = _range_scale(b / mb, *info.bias, "b")
    ap = np.eye(k)
    ap[:n, :n] = alpha * a
    board.set_couplings(ap)
    tau, period = info.tau, info.min_sample_period
    burn = tau * max(10, c * (math.log(1e6) + 0.5 * math.log(n)) / rate)
    duration = tau * max(2000, 50 * batches / rate)
    period = max(period, duration / _MAX_SAMPLES)
    fs = min(abs(info.adc[0]), abs(info.adc[1]))
    state = np.zeros(k)
    retries = 0
    while True:
        bias = np.zeros(k)
        bias[:n] = sb * b / mb
        board.set_bias(bias)
        board.set_state(np.clip(state, *info.adc))
        board.run(burn)
        rows = max(5, math.ceil(tau * max(25, 10 / rate) / period))
        try:
            pm = board.sample(rows, period)[:, :n].mean(axis=0)
            peak, sat = float(np.abs(pm).max()) / fs, False
        except errors.SaturatedError:
            peak, sat = math.inf, True
        if (peak <= _CEILING and not sat) or retries >= 8:
            break
        ratio = 1 / 8 if sat else _TARGET / peak
        sb *= ratio
        state[:n] = 0 if sat else ratio * pm
        retries += 1
    rows = max(batches, math.ceil(duration / period))
    rows = -(-rows // batches) * batches
    gamma = (sb / mb) / alpha  # volts per problem unit of x
    sat_err = None
    try:
        x = board.sample(rows, period)[:, :n]
    except errors.SaturatedError as e:
        x, sat_err = e.data[:, :n], e
    mean, se = _batch_means(x, batches)
    t1 = board.board_time()
    clocked = t0 is not None and t1 is not None
    res = SolveResult(x=mean / gamma, stderr=se / gamma,
                      board_time=(t1 - t0) if clocked else time.monotonic() - w0, clocked=clocked,
                      samples=len(x), alpha=alpha, beta=sb / mb, retries=retries,
                      saturated=int(sum(sat_err.counts)) if sat_err else 0)
    if sat_err is not None:
        sat_err.result = res
        raise sat_err
    return res
