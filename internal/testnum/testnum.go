// Package testnum holds the numerical helpers that several packages' tests
// share: error measures, small constant matrices and random GGN
// factorizations of an MLP's shape. It is imported by tests only (and by
// hal/haltest, the conformance suite); the draws are part of what seeded
// tests assert, so their order must not change.
package testnum

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// RelErr returns ‖x − ref‖₂ / ‖ref‖₂ over the first len(x) entries.
func RelErr(x, ref []float64) float64 {
	var d, n float64
	for i := range x {
		d += (x[i] - ref[i]) * (x[i] - ref[i])
		n += ref[i] * ref[i]
	}
	return math.Sqrt(d / n)
}

// MaxAbsDiff returns the largest |a_ij − b_ij| over a's shape.
func MaxAbsDiff(a, b mat.Matrix) float64 {
	r, c := a.Dims()
	d := 0.0
	for i := range r {
		for j := range c {
			d = math.Max(d, math.Abs(a.At(i, j)-b.At(i, j)))
		}
	}
	return d
}

// Identity returns the k × k row-major matrix c·I.
func Identity(k int, c float64) []float64 {
	a := make([]float64, k*k)
	for i := range k {
		a[i*k+i] = c
	}
	return a
}

// Constant returns a length-k vector of v.
func Constant(k int, v float64) []float64 {
	x := make([]float64, k)
	for i := range x {
		x[i] = v
	}
	return x
}

// RandJacobian draws a structured Jacobian of samples·k rows and cols
// columns with blocks {col, out, in}: each block's signals, then its
// inputs, standard normal from r.
func RandJacobian(r *rand.Rand, samples, k, cols int, blocks [][3]int) hal.Jacobian {
	j := hal.Jacobian{Rows: samples * k, Cols: cols, RowsPerSample: k}
	for _, b := range blocks {
		blk := hal.JacobianBlock{Col: b[0], Out: b[1], In: b[2],
			Signal: make([]float64, j.Rows*b[1]), Input: make([]float64, samples*b[2])}
		for i := range blk.Signal {
			blk.Signal[i] = r.NormFloat64()
		}
		for i := range blk.Input {
			blk.Input[i] = r.NormFloat64()
		}
		j.Blocks = append(j.Blocks, blk)
	}
	return j
}

// SoftmaxHessians draws samples k × k blocks diag(p) − ppᵀ (softmax
// cross-entropy Hessians, PSD with a zero eigenvalue), row-major one after
// the other, for p ∝ exp(spread·N(0, 1)).
func SoftmaxHessians(r *rand.Rand, samples, k int, spread float64) []float64 {
	h := make([]float64, samples*k*k)
	p := make([]float64, k)
	for s := range samples {
		sum := 0.0
		for a := range p {
			p[a] = math.Exp(spread * r.NormFloat64())
			sum += p[a]
		}
		for a := range k {
			for c := range k {
				v := -p[a] * p[c] / (sum * sum)
				if a == c {
					v += p[a] / sum
				}
				h[s*k*k+a*k+c] = v
			}
		}
	}
	return h
}

// RandFactorization draws a factorization of an MLP's shape: RandJacobian,
// then SoftmaxHessians of spread 1 (for k = 1, where diag(p) − ppᵀ = 0, a
// sigmoid's p(1 − p) drawn in [0.2, 1.2) instead), scale 1/samples and the
// given λ.
func RandFactorization(r *rand.Rand, samples, k, cols int, blocks [][3]int, lambda float64) *hal.Factorization {
	j := RandJacobian(r, samples, k, cols, blocks)
	h := SoftmaxHessians(r, samples, k, 1)
	if k == 1 {
		for s := range samples {
			h[s] = 0.2 + r.Float64()
		}
	}
	return &hal.Factorization{J: j, H: h, Scale: 1 / float64(samples), Lambda: lambda}
}
