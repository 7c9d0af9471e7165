package spice

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// ngspice's trnoise(NA NT 0 0) source draws an independent Gaussian value
// of rms NA every NT seconds ("NT is the time between sample values
// (breakpoints will be enforced on multiples of this value)", ngspice
// manual, chapter "Transient noise source") and interpolates linearly
// between them. Its integral over a long time T has variance NA²·NT·T, so
// at low frequency it is white noise of two-sided density NA²·NT — the
// density the simulator's white noise is matched to. Above ~1/NT the
// interpolation cuts it off (its spectrum is NA²·NT·sinc⁴(f·NT)), which
// lowers the variance a circuit reaches. The functions below give that
// lowering exactly at the grid points k·NT, where the runs are read.
//
// For a linear network dx/dt = −M x + B u(t), u linear between samples u_k
// (iid, covariance S = diag(NA²)) at t_k = k·h, h = NT, one interval gives
// exactly, with r = t_{k+1} − s,
//
//	x_{k+1} = Φ x_k + A_α u_k + A_β u_{k+1},   Φ = e^{−Mh},
//	A_α = ∫₀ʰ e^{−Mr} (r/h) dr B,   A_β = ∫₀ʰ e^{−Mr} (1 − r/h) dr B.
//
// Unrolled, x_k = A_β u_k + Σ_{m≥1} Φ^{m−1}(Φ A_β + A_α) u_{k−m}, so
//
//	Σ = A_β S A_βᵀ + P,   P = Φ P Φᵀ + W S Wᵀ,  W = Φ A_β + A_α,
//	Cov(x_{k+1}, x_k) = Φ Σ + A_α S A_βᵀ,  Cov(x_{k+L}, x_k) = Φ^{L−1} Cov(x_{k+1}, x_k).
//
// For one RC node (M = a, B = 1/C) this is InterpFactor's closed form.

// InterpFactor returns the stationary variance of an RC node of rate
// a = 1/τ driven by a trnoise current, read on the noise grid, divided by
// the variance white noise of the same density NA²·NT gives
// (NA²·NT/(2aC²)), as a function of x = a·NT:
//
//	F(x) = (2/x³)·[x² − 2x(1 − e^{−x}) + 2(1 − e^{−x}) tanh(x/2)]
//	     = 1 − x/2 + x²/6 − x³/36 + O(x⁴).
//
// (From the scalar case of the recursion above: φ = e^{−x}, α = (1 − φ −
// xφ)/(a²hC), β = (1 − φ)/(aC) − α, Var = NA²[β² + (φβ + α)²/(1 − φ²)].)
// At NT = τ/20, F = 0.9754: trnoise runs read 2.5 % below white noise.
func InterpFactor(x float64) float64 {
	if x < 1e-3 {
		// The bracket cancels to x³/2 and loses digits; the series
		// error is below x⁴/100 < 1e-14 here.
		return 1 - x/2 + x*x/6 - x*x*x/36
	}
	e := -math.Expm1(-x) // 1 − e^{−x}
	return 2 / (x * x * x) * (x*x - 2*x*e + 2*e*math.Tanh(x/2))
}

// GridCov returns the exact stationary covariance Σ of dx/dt = −M x + B u
// on the grid of a trnoise input u (variances s, spacing h), the lag-one
// covariance Cov(x_{k+1}, x_k) and Φ = e^{−Mh} (see the derivation
// above). M must be stable (every eigenvalue with positive real part).
func GridCov(m, b *mat.Dense, s []float64, h float64) (cov, lag1, phi *mat.Dense, err error) {
	n, _ := m.Dims()
	bn, q := b.Dims()
	if bn != n || len(s) != q || !(h > 0) {
		return nil, nil, nil, fmt.Errorf("grid covariance: M %d×%d, B %d×%d, %d variances, step %g: want B n×q, q variances, step > 0", n, n, bn, q, len(s), h)
	}
	// exp([[−M, I, 0], [0, 0, I/h], [0, 0, 0]]·h): block (1,2) is
	// ∫₀ʰ e^{−Mr} dr, block (1,3) is ∫₀ʰ e^{−Mr}(1 − r/h) dr.
	x := mat.NewDense(3*n, 3*n, nil)
	for i := range n {
		for j := range n {
			x.Set(i, j, -m.At(i, j)*h)
		}
		x.Set(i, n+i, h)
		x.Set(n+i, 2*n+i, 1)
	}
	var e mat.Dense
	e.Exp(x)
	phi = mat.DenseCopyOf(e.Slice(0, n, 0, n))
	var aB, aA, psi mat.Dense
	aB.Mul(e.Slice(0, n, 2*n, 3*n), b)
	psi.Mul(e.Slice(0, n, n, 2*n), b)
	aA.Sub(&psi, &aB)
	sd := mat.NewDiagDense(q, s)
	var w, wsw mat.Dense
	w.Mul(phi, &aB)
	w.Add(&w, &aA)
	wsw.Product(&w, sd, w.T())
	p, err := discreteLyapunov(phi, &wsw)
	if err != nil {
		return nil, nil, nil, err
	}
	cov = mat.NewDense(n, n, nil)
	cov.Product(&aB, sd, aB.T())
	cov.Add(cov, p)
	lag1 = mat.NewDense(n, n, nil)
	var t mat.Dense
	t.Product(&aA, sd, aB.T())
	lag1.Mul(phi, cov)
	lag1.Add(lag1, &t)
	return cov, lag1, phi, nil
}

// discreteLyapunov solves P = Φ P Φᵀ + W by doubling: P ← P + Φⁿ P Φⁿᵀ,
// Φⁿ ← Φ²ⁿ, which sums the series Σ Φ^m W Φ^mᵀ to convergence.
func discreteLyapunov(phi, w *mat.Dense) (*mat.Dense, error) {
	p := mat.DenseCopyOf(w)
	a := mat.DenseCopyOf(phi)
	var t mat.Dense
	for range 64 {
		if mat.Norm(a, 1) < 1e-20 {
			return p, nil
		}
		t.Product(a, p, a.T())
		p.Add(p, &t)
		t.Mul(a, a)
		a.Copy(&t)
	}
	return nil, fmt.Errorf("discrete Lyapunov: ‖Φ^(2^64)‖ = %g did not vanish: the network is not stable", mat.Norm(a, 1))
}

// Run-level noise power of ngspice's generator. trnoise draws its values
// from the Wallace generator of src/frontend/trannoise/wallace.c (ngspice
// 39; `#define WaGauss` in ngspice.h): a pool of n = 4096 variates,
// normalised at start-up to Σq² = n, handed out times a per-pool scale S
// (E S² = 1, independent from pool to pool); each new pool is three passes
// of a forward 4 × 4 Hadamard step (orthogonal) and a backward one that
// reads pool2[(j + k·n/4) ^ s_j]. The backward loop overwrites its random
// offset s with j<<2, so s_0 is random and s_j = 4(j − 1) for j ≥ 1, and
// those reads are not a permutation: for all but a few of the 4096 offsets
// four values are read twice and four not at all (Σ_i (c_i − 1)² = 8, c_i
// the times value i is read; mean 7.99 over every offset). A pass thus
// changes the pool's power P = Σq²/n by Σ_i (c_i − 1) q_i²/n, of variance
// 8·Var(q²)/n² = 16/n², and the renormalisation comes only every 65 536
// pools. P is a random walk from 1: after k pools (3 passes each)
// Var(P_k) = v·k, v = 48/n² = 2.86·10⁻⁶, with E P_k = 1.
//
// A circuit whose time constants are short against a pool's span (4095
// variates, i.e. 4095/K noise steps for K sources) sees its covariances
// scaled by the mean G of P over the pools of the measured window, the
// same G for every covariance of the run. With k_b pools drawn before the
// window and k_m in it, Var(G) = v·[k_b + (k_m + 1)(2k_m + 1)/(6k_m)]
// ≈ v·(k_b + k_m/3) (the mean of a random walk over k_m steps after k_b
// steps). So one run's covariance estimate has, beyond its within-run
// standard error, a run-level relative standard deviation sqrt(Var(G)),
// which grows with the run's length instead of shrinking: 0.75 % over
// 3 000 τ of 4 sources at NT = τ/20 (59 pools), 2.4 % over 30 000 τ
// (586 pools), against within-run errors of ≈ 3 % and ≈ 0.8 %.
//
// Checked against a NumPy port of NewWa (400 independent pools run for
// 600 pools each): SD of G 0.0253 against 0.0239 from the formula, SD of
// P_600 0.0432 against 0.0414, E G = 0.999 ± 0.001 — no bias, only the
// run-level spread.

// WallacePool is the number of variates ngspice hands out per pool of its
// Wallace generator (the pool of 4096 less the one that seeds the next
// pool's scale).
const WallacePool = 4095

// RunPowerSD returns the relative standard deviation of a run's noise
// power G (see above) over a window of measured variates drawn after burn
// variates: sqrt(v·(k_b + (k_m+1)(2k_m+1)/(6k_m))) with k = variates/4095
// pools and v = 48/4096². Every covariance of the window carries this
// relative error on top of its within-run standard error.
func RunPowerSD(burn, measured int) float64 {
	if measured <= 0 {
		return 0
	}
	const n = 4096
	const v = 48.0 / (n * n)
	kb := float64(max(burn, 0)) / WallacePool
	km := math.Max(float64(measured)/WallacePool, 1)
	return math.Sqrt(v * (kb + (km+1)*(2*km+1)/(6*km)))
}
