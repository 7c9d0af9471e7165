package sim

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// transition is the exact one-step map of the OU process
//
//	dx = -(M x - g) dt + dW,  Cov(dW) = Q dt
//
// over a step h: x(t+h) = Φ x(t) + Ψ g + w, w ~ N(0, Qd), with
//
//	Φ = e^{-Mh},  Ψ = ∫₀ʰ e^{-Ms} ds,  Qd = ∫₀ʰ e^{-Ms} Q e^{-Mᵀs} ds.
//
// Nothing here assumes M is symmetric or even normal.
type transition struct {
	phi *mat.Dense
	psi *mat.Dense
	qd  *mat.SymDense
}

// discretize computes the transition over h for the k × k drift M and
// diffusion Q. It uses Van Loan's block-matrix exponentials on a base step
// h₀ = h/2ᵐ short enough that ‖M‖h₀ ≤ 1/2 (the e^{+M h₀} block stays
// well-conditioned), then doubles m times:
//
//	Φ₂ = Φ², Ψ₂ = Φ Ψ + Ψ, Qd₂ = Φ Qd Φᵀ + Qd.
//
// Doubling keeps every term a sum of positive-semidefinite pieces, so long
// steps stay accurate where a single Van Loan exponential would overflow.
//
// Each exponential and doubling costs O(k³); ctx is checked between them,
// so a cancelled ctx stops the computation within one of them. A drift,
// diffusion or step that is not finite is refused: the number of doublings
// would be undefined (gonum's Exp never returns on an infinite matrix).
func discretize(ctx context.Context, m, q *mat.Dense, h float64) (transition, error) {
	k, _ := m.Dims()
	norm := mat.Norm(m, 1)
	if qn := mat.Norm(q, 1); math.IsNaN(norm+qn+h) || math.IsInf(norm+qn+h, 0) {
		return transition{}, fmt.Errorf("transition over %gs: drift norm %g, diffusion norm %g: not finite: %w", h, norm, qn, hal.ErrInvalid)
	}
	steps := 0
	if x := norm * h / 0.5; x > 1 {
		steps = int(math.Ceil(math.Log2(x)))
	}
	h0 := h / math.Exp2(float64(steps))

	// Van Loan for Φ and Qd: exp([[M, Q], [0, -Mᵀ]] h₀) = [[·, G12], [0, G22]],
	// Φ = G22ᵀ, Qd = Φ G12.
	c := mat.NewDense(2*k, 2*k, nil)
	// Van Loan for Ψ: exp([[-M, I], [0, 0]] h₀) = [[Φ, Ψ], [0, I]].
	d := mat.NewDense(2*k, 2*k, nil)
	for i := range k {
		for j := range k {
			mij := m.At(i, j) * h0
			c.Set(i, j, mij)
			c.Set(k+j, k+i, -mij)
			c.Set(i, k+j, q.At(i, j)*h0)
			d.Set(i, j, -mij)
		}
		d.Set(i, k+i, h0)
	}
	var ec, ed mat.Dense
	if err := ctx.Err(); err != nil {
		return transition{}, err
	}
	ec.Exp(c)
	if err := ctx.Err(); err != nil {
		return transition{}, err
	}
	ed.Exp(d)
	phi := mat.DenseCopyOf(ec.Slice(k, 2*k, k, 2*k).T())
	psi := mat.DenseCopyOf(ed.Slice(0, k, k, 2*k))
	var qd mat.Dense
	qd.Mul(phi, ec.Slice(0, k, k, 2*k))

	var t1, t2 mat.Dense
	for range steps {
		if err := ctx.Err(); err != nil {
			return transition{}, err
		}
		// Qd ← Φ Qd Φᵀ + Qd
		t1.Mul(phi, &qd)
		t2.Mul(&t1, phi.T())
		qd.Add(&t2, &qd)
		// Ψ ← Φ Ψ + Ψ
		t1.Mul(phi, psi)
		psi.Add(&t1, psi)
		// Φ ← Φ²
		t1.Mul(phi, phi)
		phi.Copy(&t1)
	}
	sym := mat.NewSymDense(k, nil)
	for i := range k {
		for j := i; j < k; j++ {
			sym.SetSym(i, j, 0.5*(qd.At(i, j)+qd.At(j, i)))
		}
	}
	return transition{phi: phi, psi: psi, qd: sym}, nil
}

// noiseFactor returns a lower-triangular (or, when Qd is singular, a
// general) k × k matrix L with L Lᵀ = Qd, row-major, or nil when Qd is zero.
func noiseFactor(qd *mat.SymDense) ([]float64, error) {
	k := qd.SymmetricDim()
	zero := true
	for i := range k {
		if qd.At(i, i) != 0 {
			zero = false
			break
		}
	}
	if zero {
		return nil, nil
	}
	var ch mat.Cholesky
	if ch.Factorize(qd) {
		var l mat.TriDense
		ch.LTo(&l)
		out := make([]float64, k*k)
		for i := range k {
			for j := 0; j <= i; j++ {
				out[i*k+j] = l.At(i, j)
			}
		}
		return out, nil
	}
	// Singular or nearly so (e.g. noise on some cells only): use the
	// symmetric square root, clipping round-off negatives.
	var eig mat.EigenSym
	if !eig.Factorize(qd, true) {
		return nil, fmt.Errorf("noise covariance factorisation failed")
	}
	vals := eig.Values(nil)
	var v mat.Dense
	eig.VectorsTo(&v)
	out := make([]float64, k*k)
	for i := range k {
		for j := range k {
			s := 0.0
			for l, lam := range vals {
				if lam > 0 {
					s += v.At(i, l) * math.Sqrt(lam) * v.At(j, l)
				}
			}
			out[i*k+j] = s
		}
	}
	return out, nil
}
