package solver_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
	"github.com/spukit/spukit/solver"
)

func TestPartition(t *testing.T) {
	assert.Equal(t, [][2]int{{0, 8}, {8, 16}, {16, 24}}, solver.Partition(24, 8))
	// ⌈20/8⌉ = 3 blocks of 7, 7, 6: balanced, larger first.
	assert.Equal(t, [][2]int{{0, 7}, {7, 14}, {14, 20}}, solver.Partition(20, 8))
	assert.Equal(t, [][2]int{{0, 5}}, solver.Partition(5, 8))
	assert.Nil(t, solver.Partition(0, 8))
}

func session(t *testing.T, uri string) *solver.Session {
	t.Helper()
	s, err := solver.NewSession(open(t, uri))
	require.NoError(t, err)
	return s
}

// The board's noisy block solves cost the flexible method no more than a
// stated margin over the exact digital blocks: iterations ≤ ⌈1.25·exact⌉ + 2.
// Why that margin: a preconditioner perturbed by a relative error ε per
// application leaves FCG converging like CG with κ(M⁻¹A) enlarged by at
// most (1+ε)/(1−ε) (Golub & Ye 1999, Notay 2000); CG's iteration count
// grows like √κ, so by √((1+ε)/(1−ε)) ≤ 1.22 for ε ≤ 0.2 — twice the
// per-solve error InexactOptions aims at (ρ ≲ 0.1) — plus two iterations
// for the rounding of counts and the final step. Each application programs
// every block once.
func TestTiledNoisyBlocksVsExact(t *testing.T) {
	a, b := solver.RandomSPD(24, 10, 1)
	x := exact(t, a, b)
	o := &solver.TileOptions{Tol: 1e-8, Exact: true}
	ref, err := solver.Tiled(t.Context(), session(t, "sim:proto8?seed=3"), a, b, o)
	require.NoError(t, err)
	assert.Equal(t, solver.MethodFCG, ref.Method)
	assert.Zero(t, ref.Usage.Programs, "exact blocks do not use the board")
	o.Exact = false
	sess := session(t, "sim:proto8?seed=3")
	res, err := solver.Tiled(t.Context(), sess, a, b, o)
	require.NoError(t, err)
	t.Logf("exact blocks: %d iterations; board blocks: %d iterations, %d programmings, board time %v",
		ref.Krylov.Iterations, res.Krylov.Iterations, res.Usage.Programs, res.Usage.BoardTime)
	assert.LessOrEqual(t, res.Krylov.Iterations, int(math.Ceil(1.25*float64(ref.Krylov.Iterations)))+2)
	assert.True(t, res.Krylov.Converged)
	assert.LessOrEqual(t, res.Krylov.Residual, 1e-8)
	assert.Less(t, testnum.RelErr(res.X, x), 1e-8*10, "κ = 10 bounds the error by 10× the residual")
	assert.Equal(t, [][2]int{{0, 8}, {8, 16}, {16, 24}}, res.Blocks)
	assert.Equal(t, 3*res.Krylov.Iterations, res.Usage.Programs)
	assert.Equal(t, 3*res.Krylov.Iterations, res.BlockSolves)
	assert.Equal(t, sess.Usage().BoardTime, res.Usage.BoardTime)
	assert.Zero(t, res.Saturated)
}

// A general stable A goes to FGMRES; a symmetric one that is not positive
// definite too (FCG would break down on it).
func TestTiledChoosesFGMRES(t *testing.T) {
	a, b := solver.RandomSPD(12, 10, 2)
	r := rng(5)
	for i := range 12 {
		for j := range i {
			s := 0.3 * r.NormFloat64()
			a.Set(i, j, a.At(i, j)+s)
			a.Set(j, i, a.At(j, i)-s)
		}
	}
	res, err := solver.Tiled(t.Context(), session(t, "sim:ideal"), a, b, &solver.TileOptions{Tol: 1e-8, Block: 4})
	require.NoError(t, err)
	assert.Equal(t, solver.MethodFGMRES, res.Method)
	assert.Len(t, res.Blocks, 3)
	assert.Less(t, relResidual(a, res.X, b), 1e-8)
	_, err = solver.Tiled(t.Context(), session(t, "sim:ideal"), a, b, &solver.TileOptions{Method: "cg"})
	require.ErrorIs(t, err, hal.ErrInvalid)
	assert.ErrorContains(t, err, `method "cg": want "fcg", "fgmres"`)
}

func TestTiledBadInput(t *testing.T) {
	a, b := solver.RandomSPD(16, 10, 1)
	sess := session(t, "sim:proto8")
	for _, k := range []int{9, -1} {
		_, err := solver.Tiled(t.Context(), sess, a, b, &solver.TileOptions{Block: k})
		require.ErrorIs(t, err, hal.ErrDimension)
		assert.ErrorContains(t, err, "block size "+fmt.Sprint(k)+": want 1 … 8 (board sim/proto8 has 8 cells)")
	}
	// A = [[I, I], [−I, 0]] is nonsingular, but its second diagonal block
	// is zero: block-Jacobi cannot use it, on the board or digitally.
	z := mat.NewDense(8, 8, nil)
	for i := range 4 {
		z.Set(i, i, 1)
		z.Set(i, 4+i, 1)
		z.Set(4+i, i, -1)
	}
	for _, exactBlocks := range []bool{false, true} {
		_, err := solver.Tiled(t.Context(), sess, z, b[:8], &solver.TileOptions{Block: 4, Exact: exactBlocks})
		require.ErrorIs(t, err, hal.ErrUnstable)
		assert.ErrorContains(t, err, "block 1 (rows and columns 4–7 of A, 4×4)")
		if exactBlocks {
			assert.ErrorContains(t, err, "is singular (condition number +Inf")
		} else {
			assert.ErrorContains(t, err, "eigenvalue 0+0i")
		}
	}
	_, err := solver.Tiled(t.Context(), sess, a, b[:15], &solver.TileOptions{})
	require.ErrorIs(t, err, hal.ErrDimension)
	_, err = solver.Tiled(t.Context(), sess, a, b, nil)
	require.ErrorIs(t, err, hal.ErrInvalid)
	assert.Zero(t, sess.Usage().Programs, "refused before the board is touched")
}

// TimedOptions runs the dynamics ẋ = −(A x − b) from 0 for T in A's own
// time units: on a diagonal A each x_i(s) = (1 − e^{−a_i s}) b_i/a_i, and
// the result is the mean of the window's samples at T − p and T (p, the
// sample period in A's units, is α·period/τ). The board's noise σ (V rms)
// is the only other error: 5σ/γ per entry, γ = β/α volts per unit of x,
// bounds it (a 5-SE margin; the two samples are correlated, so no √2).
func TestTimedOptionsRunsForT(t *testing.T) {
	a := mat.NewDiagDense(4, []float64{1, 2, 4, 8})
	b := []float64{1, -1, 2, 0.5}
	sess := session(t, "sim:ideal")
	sys, err := solver.Prepare(t.Context(), sess, a)
	require.NoError(t, err)
	for _, T := range []float64{0.2, 1, 5} {
		o := sys.TimedOptions(T, 2, b)
		require.Positive(t, o.Beta, "no pilots for an SPD block")
		res, err := sys.Solve(t.Context(), b, o)
		require.NoError(t, err)
		info := sess.Info()
		p := res.Scale.Alpha * float64(info.MinSamplePeriod) / float64(info.Tau)
		tol := 5 * info.Noise * res.Scale.Alpha / res.Scale.Beta
		for i, bi := range b {
			ai := a.At(i, i)
			x := func(s float64) float64 { return (1 - math.Exp(-ai*s)) * bi / ai }
			assert.InDelta(t, (x(T-p)+x(T))/2, res.X[i], tol, "T = %g, x_%d", T, i)
		}
		// A short run is not converged: x(T) differs from A⁻¹b by more
		// than the tolerance for the slowest entry at T = 0.2.
		if T == 0.2 {
			assert.Greater(t, math.Abs(res.X[0]-b[0]), 10*tol)
		}
	}
}
