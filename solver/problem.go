package solver

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// MaxRandomCond bounds the condition number of RandomSPD. Forming
// Q diag(λ) Qᵀ in float64 perturbs every eigenvalue by round-off of about
// ε·λ_max·√n; at cond = 10¹² and n = 4096 that is about 1.4 % of the
// smallest eigenvalue λ_min = 1, and beyond it the generated matrix no longer
// has the spectrum it promises (past 1/ε ≈ 4.5·10¹⁵ it is not even positive
// definite). No board's couplings resolve anywhere near this: the solver
// refuses what a board cannot program.
const MaxRandomCond = 1e12

// qrPanel is the width of the panels of the blocked QR in RandomSPD; the
// context is checked once per panel (well under a second at n = 4096).
const qrPanel = 32

// RandomSPD returns the seeded test problem of `spu solve --random`; it is
// RandomSPDContext without a context, and it panics where that returns an
// error (n < 1, cond outside [1, MaxRandomCond]).
func RandomSPD(n int, cond float64, seed uint64) (a *mat.Dense, b []float64) {
	a, b, err := RandomSPDContext(context.Background(), n, cond, seed)
	if err != nil {
		panic("solver: RandomSPD: " + err.Error())
	}
	return a, b
}

// RandomSPDContext returns the seeded test problem of `spu solve --random`:
// an exactly symmetric positive-definite n × n matrix A = Q diag(λ) Qᵀ,
// with Q the orthogonal factor of the Householder QR decomposition of a
// Gaussian matrix and λ log-spaced from 1 to cond (condition number cond),
// and a Gaussian right-hand side b. The generator is math/rand/v2's PCG
// seeded with (seed, 0); the Gaussian matrix is drawn row by row, then b.
//
// It takes O(n³) time (about 4n³ flops: the QR, then Q's reflectors applied
// on both sides of diag(λ), never forming Q) and O(n²) memory, in panels of
// 32 columns between which ctx is checked: a cancelled ctx returns its
// error. n < 1 or cond outside [1, MaxRandomCond] is hal.ErrInvalid.
func RandomSPDContext(ctx context.Context, n int, cond float64, seed uint64) (*mat.Dense, []float64, error) {
	if n < 1 {
		return nil, nil, fmt.Errorf("random SPD problem: n = %d, want ≥ 1: %w", n, hal.ErrInvalid)
	}
	if !(cond >= 1 && cond <= MaxRandomCond) {
		return nil, nil, fmt.Errorf("random SPD problem: condition number %g, want 1 … %g (beyond it float64 round-off changes the spectrum): %w",
			cond, float64(MaxRandomCond), hal.ErrInvalid)
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	g := mat.NewDense(n, n, nil)
	for i := range n {
		row := g.RawRowView(i)
		for j := range row {
			row[j] = rng.NormFloat64()
		}
	}
	b := make([]float64, n)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	// Blocked Householder QR: factor a panel, apply its reflectors to the
	// columns to its right. The reflectors stay in g (below the diagonal).
	gr := g.RawMatrix()
	tau := make([]float64, n)
	work := make([]float64, qrPanel*n+(qrPanel+1)*qrPanel+n)
	for k := 0; k < n; k += qrPanel {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("random SPD problem: %w", err)
		}
		w := min(qrPanel, n-k)
		panel := view(gr, k, k, n-k, w)
		lapack64.Geqrf(panel, tau[k:k+w], work, len(work))
		if k+w < n {
			lapack64.Ormqr(blas.Left, blas.Trans, panel, tau[k:k+w], view(gr, k, k+w, n-k, n-k-w), work, len(work))
		}
	}
	// A = Q Λ Qᵀ with Q = P₀ P₁ … (one block reflector per panel, acting on
	// rows and columns from the panel's first index on): conjugate Λ by the
	// last panel first, so that each step touches only its trailing block.
	a := mat.NewDense(n, n, nil)
	for i := range n {
		a.Set(i, i, 1)
		if n > 1 {
			a.Set(i, i, math.Pow(cond, float64(i)/float64(n-1)))
		}
	}
	ar := a.RawMatrix()
	for k := (n - 1) / qrPanel * qrPanel; k >= 0; k -= qrPanel {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("random SPD problem: %w", err)
		}
		w := min(qrPanel, n-k)
		panel := view(gr, k, k, n-k, w)
		c := view(ar, k, k, n-k, n-k)
		lapack64.Ormqr(blas.Left, blas.NoTrans, panel, tau[k:k+w], c, work, len(work))
		lapack64.Ormqr(blas.Right, blas.Trans, panel, tau[k:k+w], c, work, len(work))
	}
	// Exactly symmetric, so symmetric boards accept it.
	for i := range n {
		for j := range i {
			m := (a.At(i, j) + a.At(j, i)) / 2
			a.Set(i, j, m)
			a.Set(j, i, m)
		}
	}
	return a, b, nil
}

// view is the r × c block of m at (i, j).
func view(m blas64.General, i, j, r, c int) blas64.General {
	return blas64.General{Rows: r, Cols: c, Stride: m.Stride, Data: m.Data[i*m.Stride+j:]}
}
