package solver

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// RandomSPD returns the seeded test problem of `spu solve --random`: an
// exactly symmetric positive-definite n × n matrix A = Q diag(λ) Qᵀ, with Q
// the orthogonal factor of the QR decomposition of a Gaussian matrix and λ
// log-spaced from 1 to cond (condition number cond), and a Gaussian
// right-hand side b. The generator is math/rand/v2's PCG seeded with
// (seed, 0); the Gaussian matrix is drawn row by row, then b. It panics if
// n < 1 or cond < 1.
func RandomSPD(n int, cond float64, seed uint64) (a *mat.Dense, b []float64) {
	if n < 1 || !(cond >= 1) {
		panic("solver: RandomSPD needs n ≥ 1 and cond ≥ 1")
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	g := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			g.Set(i, j, rng.NormFloat64())
		}
	}
	b = make([]float64, n)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	var qr mat.QR
	qr.Factorize(g)
	var q mat.Dense
	qr.QTo(&q)
	lam := make([]float64, n)
	for i := range lam {
		lam[i] = 1
		if n > 1 {
			lam[i] = math.Pow(cond, float64(i)/float64(n-1))
		}
	}
	var qd, m mat.Dense
	qd.Mul(&q, mat.NewDiagDense(n, lam))
	m.Mul(&qd, q.T())
	a = mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			// Exactly symmetric, so symmetric boards accept it.
			a.Set(i, j, (m.At(i, j)+m.At(j, i))/2)
		}
	}
	return a, b
}
