package solver_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/internal/testnum"
	"github.com/spukit/spukit/solver"
)

// A System is programmed once for many right-hand sides; a second System on
// the same session takes the board over, and the first programs it back
// when it is solved again. Each result carries its own share of the board
// time, and each answer is the right system's.
func TestSystemProgramsOncePerTakeover(t *testing.T) {
	sess, err := solver.NewSession(open(t, "sim:ideal?seed=2"))
	require.NoError(t, err)
	a1, _ := problem8(1)
	a2, _ := problem8(2)
	s1, err := solver.Prepare(t.Context(), sess, a1)
	require.NoError(t, err)
	s2, err := solver.Prepare(t.Context(), sess, a2)
	require.NoError(t, err)
	assert.Zero(t, sess.Usage().Programs, "Prepare does not touch the board")
	o := &solver.Options{Duration: 50 * time.Millisecond}
	var sum time.Duration
	for i, step := range []struct {
		sys      *solver.System
		a        *mat.Dense
		programs int
	}{{s1, a1, 1}, {s1, a1, 1}, {s1, a1, 1}, {s2, a2, 2}, {s1, a1, 3}} {
		rhs := gaussian(rng(uint64(10+i)), 8)
		res, err := step.sys.Solve(t.Context(), rhs, o)
		require.NoError(t, err)
		// sim:ideal's statistical error at 50 ms (500τ) is about 3e-4
		// (TestSolveIdealSPD has 1e-4 at 2000τ); 1e-2 fails only for the
		// wrong matrix.
		assert.Less(t, testnum.RelErr(res.X, exact(t, step.a, rhs)), 1e-2, "solve %d", i)
		assert.Equal(t, step.programs, sess.Usage().Programs, "solve %d", i)
		sum += res.BoardTime
	}
	assert.Equal(t, sess.Usage().BoardTime, sum, "the results' board times add up to the session's")
}
