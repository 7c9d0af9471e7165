package solver_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/solver"
)

// krylovFunc is FCG's and FGMRES's shared signature.
type krylovFunc func(context.Context, []float64, mat.Matrix, []float64, solver.Preconditioner, solver.KrylovSettings, *solver.KrylovWork) (solver.KrylovResult, error)

var methods = []struct {
	name string
	run  krylovFunc
}{{"fcg", solver.FCG}, {"fgmres", solver.FGMRES}}

// identity is the preconditioner M = I.
var identity = solver.PreconditionerFunc(func(_ context.Context, dst, r []float64) error {
	copy(dst, r)
	return nil
})

// withEigenvalues returns Q diag(λ) Qᵀ for a random orthogonal Q and λ
// cycling through vals: a symmetric matrix whose minimal polynomial has
// degree len(vals).
func withEigenvalues(seed uint64, n int, vals []float64) *mat.Dense {
	q := orthogonal(rng(seed), n)
	d := mat.NewDiagDense(n, nil)
	for i := range n {
		d.SetDiag(i, vals[i%len(vals)])
	}
	var t, a mat.Dense
	t.Mul(q, d)
	a.Mul(&t, q.T())
	return symmetrised(&a)
}

func symmetrised(a *mat.Dense) *mat.Dense {
	n, _ := a.Dims()
	for i := range n {
		for j := range i {
			m := 0.5 * (a.At(i, j) + a.At(j, i))
			a.Set(i, j, m)
			a.Set(j, i, m)
		}
	}
	return a
}

// Krylov methods on a matrix with d distinct eigenvalues find the exact
// solution in d iterations (the minimal polynomial has degree d) — and not
// before, for a right-hand side with components along every eigenvector.
// In float64 the d-th residual is round-off (≈ 10⁻¹⁴), the (d−1)-th still
// of order one.
func TestKrylovDistinctEigenvalues(t *testing.T) {
	vals := []float64{1, 2, 5, 10}
	a := withEigenvalues(1, 30, vals)
	b := gaussian(rng(2), 30)
	for _, m := range methods {
		x := make([]float64, 30)
		res, err := m.run(t.Context(), x, a, b, identity, solver.KrylovSettings{Tol: 1e-10}, nil)
		require.NoError(t, err, m.name)
		assert.Equal(t, len(vals), res.Iterations, m.name)
		assert.Greater(t, res.Residuals[len(vals)-2], 1e-4, m.name)
		assert.LessOrEqual(t, res.Residual, 1e-10, m.name)
		assert.Less(t, relResidual(a, x, b), 1e-10, m.name)
	}
}

// blockJacobi is the exact digital block-Jacobi preconditioner of a for
// the partition blocks.
func blockJacobi(t *testing.T, a *mat.Dense, blocks [][2]int) solver.Preconditioner {
	lus := make([]mat.LU, len(blocks))
	for i, blk := range blocks {
		lus[i].Factorize(a.Slice(blk[0], blk[1], blk[0], blk[1]))
	}
	return solver.PreconditionerFunc(func(_ context.Context, dst, r []float64) error {
		for i, blk := range blocks {
			z := mat.NewVecDense(blk[1]-blk[0], dst[blk[0]:blk[1]])
			require.NoError(t, z.SolveVec(&lus[i], mat.NewVecDense(blk[1]-blk[0], append([]float64(nil), r[blk[0]:blk[1]]...))))
		}
		return nil
	})
}

// blockSPD returns a 24 × 24 matrix whose diagonal blocks (Partition(24,
// 8)) are random SPD of condition 10, plus c·(u vᵀ + v uᵀ) with u
// supported on block 0 and v on block 2, which leaves the diagonal blocks
// as they are. With M its block diagonal, M⁻¹A = I + rank 2 has at most 3
// distinct eigenvalues.
func blockSPD(c float64) (*mat.Dense, [][2]int) {
	blocks := solver.Partition(24, 8)
	a := mat.NewDense(24, 24, nil)
	for i, blk := range blocks {
		a.Slice(blk[0], blk[1], blk[0], blk[1]).(*mat.Dense).Copy(spd(rng(uint64(20+i)), 8, 10))
	}
	u, v := gaussian(rng(30), 8), gaussian(rng(31), 8)
	for i := range 8 {
		for j := range 8 {
			a.Set(i, 16+j, c*u[i]*v[j])
			a.Set(16+j, i, c*u[i]*v[j])
		}
	}
	return a, blocks
}

// With the exact block-Jacobi preconditioner: a block-diagonal A is solved
// in one iteration; A = blocks + a rank-2 coupling (3 distinct eigenvalues
// of M⁻¹A) in three.
func TestKrylovExactBlockJacobi(t *testing.T) {
	for _, c := range []struct {
		coupling float64
		want     int
	}{{0, 1}, {0.05, 3}} {
		a, blocks := blockSPD(c.coupling)
		var ch mat.Cholesky
		require.True(t, ch.Factorize(mat.NewSymDense(24, a.RawMatrix().Data)), "A is SPD")
		b := gaussian(rng(3), 24)
		for _, m := range methods {
			x := make([]float64, 24)
			res, err := m.run(t.Context(), x, a, b, blockJacobi(t, a, blocks), solver.KrylovSettings{Tol: 1e-10}, nil)
			require.NoError(t, err, m.name)
			assert.Equal(t, c.want, res.Iterations, "%s, coupling %g", m.name, c.coupling)
			assert.Less(t, relResidual(a, x, b), 1e-10)
		}
	}
}

// FGMRES on a non-normal A = V Λ V⁻¹ with 3 distinct eigenvalues: 3
// iterations; restarted after 2 it still converges, in more.
func TestFGMRESNonNormal(t *testing.T) {
	r := rng(4)
	v := mat.NewDense(12, 12, nil)
	for i := range 12 {
		for j := range 12 {
			v.Set(i, j, r.NormFloat64()*0.2)
		}
		v.Set(i, i, v.At(i, i)+1)
	}
	d := mat.NewDiagDense(12, nil)
	for i := range 12 {
		d.SetDiag(i, []float64{1, 3, 7}[i%3])
	}
	var vi, t1, a mat.Dense
	require.NoError(t, vi.Inverse(v))
	t1.Mul(v, d)
	a.Mul(&t1, &vi)
	b := gaussian(r, 12)
	x := make([]float64, 12)
	res, err := solver.FGMRES(t.Context(), x, &a, b, identity, solver.KrylovSettings{Tol: 1e-10}, nil)
	require.NoError(t, err)
	assert.Equal(t, 3, res.Iterations)
	x = make([]float64, 12)
	res, err = solver.FGMRES(t.Context(), x, &a, b, identity, solver.KrylovSettings{Tol: 1e-10, Memory: 2}, &solver.KrylovWork{})
	require.NoError(t, err)
	assert.Greater(t, res.Iterations, 3)
	assert.Less(t, relResidual(&a, x, b), 1e-10)
}

func TestKrylovBadInput(t *testing.T) {
	a := withEigenvalues(1, 4, []float64{1, 2})
	b := gaussian(rng(2), 4)
	ok := solver.KrylovSettings{Tol: 1e-8}
	for _, m := range methods {
		for _, c := range []struct {
			x, b []float64
			a    mat.Matrix
			p    solver.Preconditioner
			set  solver.KrylovSettings
			want error
			msg  string
		}{
			{make([]float64, 4), b[:3], a, identity, ok, hal.ErrDimension, "b has 3 entries and x 4, want 4"},
			{make([]float64, 3), b, a, identity, ok, hal.ErrDimension, "x 3, want 4"},
			{make([]float64, 4), b, mat.NewDense(4, 3, nil), identity, ok, hal.ErrDimension, "A is 4×3"},
			{make([]float64, 4), b, a, nil, ok, hal.ErrInvalid, "nil matrix or preconditioner"},
			{make([]float64, 4), b, a, identity, solver.KrylovSettings{}, hal.ErrInvalid, "tolerance 0: want a relative residual in [1e-15, 1)"},
			{make([]float64, 4), b, a, identity, solver.KrylovSettings{Tol: 1e-8, Memory: -1}, hal.ErrInvalid, "Memory = -1"},
			{[]float64{0, 0, math.Inf(1), 0}, b, a, identity, ok, hal.ErrInvalid, "x[2] = +Inf"},
		} {
			_, err := m.run(t.Context(), c.x, c.a, c.b, c.p, c.set, nil)
			require.ErrorIs(t, err, c.want, m.name)
			assert.ErrorContains(t, err, c.msg, m.name)
		}
	}
	// An indefinite A is FCG's error, not a wrong answer.
	ind := withEigenvalues(1, 4, []float64{1, -2})
	_, err := solver.FCG(t.Context(), make([]float64, 4), ind, b, identity, ok, nil)
	require.ErrorIs(t, err, hal.ErrUnsupported)
	assert.ErrorContains(t, err, "not positive definite")
	// MaxIter reached: the result so far and ErrNotConverged.
	res, err := solver.FCG(t.Context(), make([]float64, 4), a, b, identity, solver.KrylovSettings{Tol: 1e-12, MaxIter: 1}, nil)
	require.ErrorIs(t, err, solver.ErrNotConverged)
	assert.Equal(t, 1, res.Iterations)
	assert.False(t, res.Converged)
}
