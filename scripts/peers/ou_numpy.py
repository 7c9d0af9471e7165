"""numpy peer of the simulator: exact discretisation of the same OU process.

The process is sim's (docs/architecture.md, sim): K coupled RC cells,

    dx = -(A x - b) dt/tau + sqrt(2 sigma^2 / tau) dW,

sampled every h = period/tau. Its exact transition is

    x_{n+1} = Phi x_n + c + L xi_n,   Phi = exp(-A h),  c = (I - Phi) A^{-1} b,
    L L^T = Q_h = int_0^h exp(-A s) 2 sigma^2 exp(-A^T s) ds,  xi_n ~ N(0, I).

Four ways a numpy user would step it, each timed on one core for K = 8, 64,
256 and reported as steps/s (one step: all K cells over one period, the
readings kept in an (n, K) array as sim.Board.Sample returns them):

  loop   one mat-vec and one triangular mat-vec per step, fresh normals each step
  block  the noise of a block of B steps in one BLAS call (Xi L^T), then one
         mat-vec per step
  scan   the whole block as a prefix scan of the affine recurrence: log2(B)
         matrix-matrix products with Phi, Phi^2, Phi^4, ... (Hillis-Steele)
  eigen  A symmetric: in A's eigenbasis the transition is diagonal and so is
         the noise (q_i = sigma^2 (1 - d_i^2) / lambda_i), so a block is an
         elementwise scan plus one GEMM back to node voltages

Rates are from CPU time (time.process_time, one BLAS thread), so other
processes on a busy machine do not count against them. All four are exact (the same distribution; with the same normals the same
numbers up to rounding: --check prints the largest difference). A is a random
SPD matrix with eigenvalues in [1, 10] (sim's benchmark board runs A = I
with a dense kernel, so the values do not change its speed).

Prints one JSON object per line: {"peer": "numpy-ou", "method", "k",
"steps_per_s", "steps"}.
"""

import argparse
import json
import time

import numpy as np

H = 0.05      # period / tau
SIGMA = 0.01  # V
B = 1024      # block length (sim's benchmark reads 1024 rows per Sample call)


def problem(k, seed=1):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((k, k)))
    lam = np.linspace(1.0, 10.0, k)
    a = (q * lam) @ q.T
    a = (a + a.T) / 2
    b = rng.uniform(-0.1, 0.1, k)
    return a, b


def transition(a, b):
    lam, v = np.linalg.eigh(a)
    d = np.exp(-lam * H)
    phi = (v * d) @ v.T
    c = v @ ((1 - d) / lam * (v.T @ b))
    qd = SIGMA**2 * (1 - d**2) / lam          # eigenbasis noise variances
    cov = (v * qd) @ v.T
    l = np.linalg.cholesky((cov + cov.T) / 2)
    return dict(phi=phi, c=c, l=l, lam=lam, v=v, d=d, cz=v.T @ c, sz=np.sqrt(qd))


def run_loop(t, x, out, rng, xi=None):
    phi, c, l = t["phi"], t["c"], t["l"]
    for n in range(out.shape[0]):
        z = rng.standard_normal(x.shape[0]) if xi is None else xi[n]
        x = phi @ x + c + l @ z
        out[n] = x
    return x


def run_block(t, x, out, rng, xi=None):
    phi, c, lt = t["phi"], t["c"], np.ascontiguousarray(t["l"].T)
    n, k = out.shape
    for s in range(0, n, B):
        z = rng.standard_normal((min(B, n - s), k)) if xi is None else xi[s:s + B]
        e = z @ lt
        e += c
        for i in range(e.shape[0]):
            x = phi @ x + e[i]
            out[s + i] = x
    return x


def run_scan(t, x, out, rng, xi=None):
    phi, c, lt = t["phi"], t["c"], np.ascontiguousarray(t["l"].T)
    n, k = out.shape
    for s in range(0, n, B):
        m = min(B, n - s)
        e = out[s:s + m]
        z = rng.standard_normal((m, k)) if xi is None else xi[s:s + m]
        np.matmul(z, lt, out=e)
        e += c
        e[0] += phi @ x
        p, shift = phi, 1
        while shift < m:  # e[i] += Phi^shift e[i - shift], from the old e
            e[shift:] += e[:-shift] @ p.T
            p = p @ p
            shift *= 2
        x = e[-1].copy()
    return x


def run_eigen(t, x, out, rng, xi=None):
    v, d, cz, sz = t["v"], t["d"], t["cz"], t["sz"]
    n, k = out.shape
    zx = v.T @ x
    lt = np.ascontiguousarray(t["l"].T) if xi is not None else None
    for s in range(0, n, B):
        m = min(B, n - s)
        if xi is None:
            w = rng.standard_normal((m, k))
            w *= sz
        else:  # the same normals as the other methods, rotated
            w = (xi[s:s + m] @ lt) @ v
        w += cz
        w[0] += d * zx
        p, shift = d, 1
        while shift < m:
            w[shift:] += p * w[:-shift]
            p = p * p
            shift *= 2
        zx = w[-1].copy()
        np.matmul(w, v.T, out=out[s:s + m])
    return v @ zx


METHODS = {"loop": run_loop, "block": run_block, "scan": run_scan, "eigen": run_eigen}


def check(k):
    """Largest difference between the methods on the same normals."""
    a, b = problem(k)
    t = transition(a, b)
    n = 3000
    xi = np.random.default_rng(7).standard_normal((n, k))
    ref = np.empty((n, k))
    run_loop(t, np.zeros(k), ref, None, xi)
    worst = {}
    for name, f in METHODS.items():
        out = np.empty((n, k))
        f(t, np.zeros(k), out, None, xi)
        worst[name] = float(np.max(np.abs(out - ref)) / SIGMA)
    return worst


def bench(k, method, steps, repeats):
    a, b = problem(k)
    t = transition(a, b)
    rng = np.random.default_rng(3)
    out = np.empty((steps, k))
    best = float("inf")
    x = np.zeros(k)
    for _ in range(repeats):
        t0 = time.process_time()  # CPU time: a busy machine does not count
        x = METHODS[method](t, x, out, rng)
        best = min(best, time.process_time() - t0)
    return steps / best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k", type=int, nargs="*", default=[8, 64, 256])
    ap.add_argument("--seconds", type=float, default=0.5, help="rough time per measurement")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--check", action="store_true", help="print the methods' largest difference (in sigma) and exit")
    args = ap.parse_args()
    if args.check:
        for k in args.k:
            print(json.dumps({"k": k, "max_diff_sigma": check(k)}))
        return
    for k in args.k:
        for method in METHODS:
            # Size the run from a short probe so each takes about --seconds.
            rate = bench(k, method, 2 * B, 1)
            steps = int(max(2 * B, min(1 << 20, rate * args.seconds)) // B * B)
            r = bench(k, method, steps, args.repeats)
            print(json.dumps({"peer": "numpy-ou", "method": method, "k": k, "steps_per_s": r, "steps": steps}), flush=True)


if __name__ == "__main__":
    main()
