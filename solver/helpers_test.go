package solver_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	_ "github.com/spukit/spukit/sim"
)

// rng returns a deterministic generator for a test seed.
func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// orthogonal returns a random n×n orthogonal matrix: the Q of the QR
// factorisation of a Gaussian matrix, with column signs fixed by R's
// diagonal so that it is Haar-distributed.
func orthogonal(r *rand.Rand, n int) *mat.Dense {
	g := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			g.Set(i, j, r.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q, rr mat.Dense
	qr.QTo(&q)
	qr.RTo(&rr)
	for j := range n {
		if rr.At(j, j) < 0 {
			for i := range n {
				q.Set(i, j, -q.At(i, j))
			}
		}
	}
	return &q
}

// spd returns Q diag(λ) Qᵀ with λ spaced logarithmically from 1 to cond and
// a random orthogonal Q: a symmetric positive-definite matrix of condition
// number cond.
func spd(r *rand.Rand, n int, cond float64) *mat.Dense {
	q := orthogonal(r, n)
	d := mat.NewDiagDense(n, nil)
	for i := range n {
		d.SetDiag(i, math.Pow(cond, float64(i)/float64(n-1)))
	}
	var t, a mat.Dense
	t.Mul(q, d)
	a.Mul(&t, q.T())
	// Exact symmetry (the product is symmetric only to round-off).
	for i := range n {
		for j := range i {
			m := 0.5 * (a.At(i, j) + a.At(j, i))
			a.Set(i, j, m)
			a.Set(j, i, m)
		}
	}
	return &a
}

// gaussian returns n standard normal values.
func gaussian(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

// problem8 is the reference problem: random SPD 8×8 of condition number 10
// and a Gaussian right-hand side, both from seed.
func problem8(seed uint64) (*mat.Dense, []float64) {
	r := rng(seed)
	a := spd(r, 8, 10)
	return a, gaussian(r, 8)
}

// exact solves A x = b digitally (the tests' reference).
func exact(t testing.TB, a mat.Matrix, b []float64) []float64 {
	t.Helper()
	var x mat.VecDense
	require.NoError(t, x.SolveVec(a, mat.NewVecDense(len(b), append([]float64(nil), b...))))
	return x.RawVector().Data
}

// open opens a board by URI and closes it when the test ends.
func open(t testing.TB, uri string) hal.Board {
	t.Helper()
	b, err := hal.Open(context.Background(), uri)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}
