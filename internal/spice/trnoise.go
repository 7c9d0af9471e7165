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
