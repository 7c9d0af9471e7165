package solver_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/solver"
)

// wide reports more cells than the board it wraps has.
type wide struct {
	hal.Board
	cells int
}

func (w wide) Info() hal.Info {
	in := w.Board.Info()
	in.Cells = w.cells
	return in
}

// factoredSpy is a spy that keeps the hal.Factored capability.
type factoredSpy struct{ *spy }

func (f factoredSpy) SetFactoredCouplings(ctx context.Context, fz *hal.Factorization) error {
	f.calls++
	return f.Board.(hal.Factored).SetFactoredCouplings(ctx, fz)
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A board that takes only factored couplings (sim:tngd, 100 000 cells by
// default) or one too large for a dense K × K matrix is refused before
// anything of the board's size is allocated (issue 10 item 1: a 100 000 ×
// 100 000 matrix, 80 GB, used to be allocated first).
func TestSolveBoardWithoutDenseCouplings(t *testing.T) {
	a, rhs := problem8(1)
	const budget = 16 << 20 // bytes: the 8×8 problem needs a few kB

	tngd := open(t, "sim:tngd")
	var err error
	n := allocated(func() { _, err = solver.Solve(t.Context(), tngd, a, rhs, nil) })
	assert.ErrorIs(t, err, hal.ErrUnsupported)
	assert.ErrorContains(t, err, "factored form")
	assert.ErrorContains(t, err, "100000×100000")
	assert.Less(t, n, uint64(budget))
	t.Log(err)

	small := &spy{Board: open(t, "sim:tngd?cells=8")}
	_, err = solver.Solve(t.Context(), factoredSpy{small}, a, rhs, nil)
	assert.ErrorIs(t, err, hal.ErrUnsupported)
	assert.Zero(t, small.calls, "refused before touching the board")
	_, err = solver.Inverse(t.Context(), factoredSpy{small}, a, nil)
	assert.ErrorIs(t, err, hal.ErrUnsupported)
	assert.Zero(t, small.calls)

	// A dense board one cell over the limit: K² values would be 200 MB.
	big := &spy{Board: wide{open(t, "sim:ideal"), solver.MaxDenseCells + 1}}
	n = allocated(func() { _, err = solver.Solve(t.Context(), big, a, rhs, nil) })
	assert.ErrorIs(t, err, hal.ErrUnsupported)
	assert.ErrorContains(t, err, "at most 4096 cells")
	assert.Less(t, n, uint64(budget))
	assert.Zero(t, big.calls)
	t.Log(err)
	require.Equal(t, 4096, solver.MaxDenseCells, "the message above names it")
}

// A finite, positive-definite but subnormal A = 1e-320·I has x = b·1e320,
// beyond float64: Solve used to return x = +Inf without an error (issue 10
// item 7). It is refused before the board runs, and so is its inverse. An A
// that is merely small still solves.
func TestSolveOverflowingSolution(t *testing.T) {
	tiny := mat.NewDense(2, 2, []float64{1e-320, 0, 0, 1e-320})
	s := &spy{Board: open(t, "sim:ideal")}
	res, err := solver.Solve(t.Context(), s, tiny, []float64{1, 2}, nil)
	assert.ErrorIs(t, err, hal.ErrOutOfRange)
	assert.ErrorContains(t, err, "overflows float64")
	assert.ErrorContains(t, err, "max|A_ij| = 1e-320")
	assert.Nil(t, res)
	assert.Zero(t, s.calls, "refused before running the board")
	t.Log(err)

	inv, err := solver.Inverse(t.Context(), s, tiny, nil)
	assert.ErrorIs(t, err, hal.ErrOutOfRange)
	assert.ErrorContains(t, err, "A⁻¹ overflows float64")
	assert.Nil(t, inv)
	assert.Zero(t, s.calls)

	// x = b/1e-300 = 1e300·b is representable.
	small := mat.NewDense(2, 2, []float64{1e-300, 0, 0, 1e-300})
	res, err = solver.Solve(t.Context(), s, small, []float64{1, 2}, &solver.Options{Duration: 20 * time.Millisecond})
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{1e300, 2e300}, res.X, 0.05e300)
}

// finite results only: the check after sampling, for an x whose scale
// factor is finite but whose estimate overflows (max|b| near the top of
// float64 divided by an A just below 1).
func TestSolveOverflowAfterSampling(t *testing.T) {
	a := mat.NewDense(1, 1, []float64{0.5})
	res, err := solver.Solve(t.Context(), open(t, "sim:ideal"), a, []float64{1.5e308}, &solver.Options{Duration: 20 * time.Millisecond})
	assert.ErrorIs(t, err, hal.ErrOutOfRange)
	assert.ErrorContains(t, err, "x[0] = +Inf")
	assert.Nil(t, res)
}

// An A whose smallest eigenvalue is below the rounding error of proto8's
// 10-bit couplings (here 1 ± (1 − 10⁻⁶), condition number 2·10⁶: both
// entries round to the same code) is refused before the board is touched,
// naming the resolution and the condition number; the board itself used to
// refuse it with a bare "eigenvalue 0+0i" (issue 10 item 12).
func TestSolveTooIllConditionedForCouplings(t *testing.T) {
	s := &spy{Board: open(t, "sim:proto8")}
	ill := mat.NewDense(2, 2, []float64{1, 1 - 1e-6, 1 - 1e-6, 1})
	_, err := solver.Solve(t.Context(), s, ill, []float64{1, 2}, nil)
	assert.ErrorIs(t, err, hal.ErrUnstable)
	assert.ErrorContains(t, err, "too ill-conditioned to program with 10-bit couplings (condition number 2e+06)")
	assert.Zero(t, s.calls, "refused before touching the board")
	t.Log(err)

	// A board with continuous couplings takes it (the inverse's
	// relaxation time, 2·10⁶ τ, makes actually solving it slow).
	c := &spy{Board: open(t, "sim:ideal")}
	_, err = solver.Solve(t.Context(), c, ill, []float64{1, 2}, &solver.Options{Beta: 1e-9, Burn: solver.NoBurn, Duration: 20 * time.Microsecond, Period: 5 * time.Microsecond})
	assert.NoError(t, err)
	assert.NotZero(t, c.calls)
}
