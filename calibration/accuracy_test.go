package calibration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	"github.com/spukit/spukit/internal/testnum"
	"github.com/spukit/spukit/solver"
)

// spdProblem is solver.RandomSPD (the problems of spu solve --random) with
// its digital solution.
func spdProblem(n int, cond float64, seed uint64) (*mat.Dense, []float64, []float64) {
	a, b := solver.RandomSPD(n, cond, seed)
	var x mat.VecDense
	if err := x.SolveVec(a, mat.NewVecDense(n, b)); err != nil {
		panic(err)
	}
	return a, b, x.RawVector().Data
}

func solveErr(t *testing.T, b hal.Board, p uint64, d time.Duration) float64 {
	t.Helper()
	a, rhs, x := spdProblem(8, 100, p)
	got, err := solveOn(b, a, rhs, d)
	require.NoError(t, err)
	return testnum.RelErr(got, x)
}

// solveOn solves with the solver's defaults except the sampling time d.
func solveOn(b hal.Board, a *mat.Dense, rhs []float64, d time.Duration) ([]float64, error) {
	r, err := solver.Solve(context.Background(), b, a, rhs, &solver.Options{Duration: d})
	if err != nil {
		return nil, err
	}
	return r.X, nil
}

// The acceptance test, small: on sim:proto8 the relative error of
// random SPD solves (condition 100) with calibration and dithering is at
// least 10× lower than without. The full table over five seeds is
// BenchmarkCalibratedSolve (docs/calibration.md). Uncalibrated, the 1 %
// element tolerance and the 5 % capacitors give errors of several percent;
// calibrated, what is left is the statistical error (≈ 1e-3 at 2.5 s) and
// the dithered quantisation residue.
func TestCalibratedSolveAccuracy(t *testing.T) {
	b := haltest.Open(t, "sim:proto8?seed=3")
	c, err := Calibrate(context.Background(), b, &Options{Events: 60000})
	require.NoError(t, err)
	w, err := Wrap(b, c, &WrapOptions{Dither: true})
	require.NoError(t, err)
	var raw, cal float64
	for p := uint64(1); p <= 2; p++ {
		raw += solveErr(t, b, p, 2500*time.Millisecond)
		cal += solveErr(t, w, p, 2500*time.Millisecond)
	}
	t.Logf("mean relative error: uncalibrated %.3g, calibrated %.3g", raw/2, cal/2)
	assert.Greater(t, raw/2, 0.01, "the uncalibrated board must be visibly off")
	assert.LessOrEqual(t, cal, raw/10)
}
