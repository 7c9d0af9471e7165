package solver_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/sim"
	"github.com/spukit/spukit/solver"
)

func TestInverseIdeal(t *testing.T) {
	for _, n := range []int{4, 8} {
		a := spd(rng(uint64(n)), n, 10)
		b := open(t, "sim:ideal?seed=21")
		res, err := solver.Inverse(t.Context(), b, a, nil)
		require.NoError(t, err)
		var want mat.Dense
		require.NoError(t, want.Inverse(a))

		// Element-wise: |Inv − A⁻¹| within 4.5 standard errors (the errors
		// are batch means over 20 batches, so z is roughly t₁₉, and there
		// are up to 36 distinct entries). The entries of one run share their
		// batches and are strongly correlated, so one run's mean z² scatters
		// widely; over 40 boards it was 1.03–1.25 (t₁₉: 1.12) for n = 4, 8
		// at 2000τ and 20000τ.
		var diff mat.Dense
		diff.Sub(res.Inv, &want)
		var z2 float64
		for i := range n {
			for j := range n {
				z := diff.At(i, j) / res.StdErr.At(i, j)
				assert.LessOrEqual(t, math.Abs(z), 4.5, "n=%d Inv[%d][%d] = %g, want %g ± %g", n, i, j, res.Inv.At(i, j), want.At(i, j), res.StdErr.At(i, j))
				z2 += z * z
			}
		}
		rel := mat.Norm(&diff, 2) / mat.Norm(&want, 2)
		t.Logf("n=%d: ‖Inv − A⁻¹‖₂/‖A⁻¹‖₂ = %.3g, mean z² %.2f, %d samples, board time %v, wall %v",
			n, rel, z2/float64(n*n), res.Samples, res.BoardTime, res.Wall)
		assert.LessOrEqual(t, rel, 0.05)
		assert.True(t, mat.EqualApprox(res.Inv, res.Inv.T(), 0), "symmetric")
		assert.Zero(t, res.Saturated)
		assert.Equal(t, 400000, res.Samples) // 20000τ at 5 µs
	}
}

func TestInverseErrors(t *testing.T) {
	b := open(t, "sim:ideal?seed=1")
	_, err := solver.Inverse(t.Context(), b, nonNormal(1, 4), nil)
	assert.ErrorIs(t, err, hal.ErrUnsupported)
	assert.ErrorContains(t, err, "Solve")

	indefinite := mat.NewDense(2, 2, []float64{1, 2, 2, 1})
	_, err = solver.Inverse(t.Context(), b, indefinite, nil)
	assert.ErrorIs(t, err, hal.ErrUnstable)

	_, err = solver.Inverse(t.Context(), b, mat.NewDense(9, 9, nil), nil)
	assert.ErrorIs(t, err, hal.ErrDimension)

	nan := mat.NewDense(2, 2, []float64{1, 0, 0, math.NaN()})
	_, err = solver.Inverse(t.Context(), b, nan, nil)
	assert.ErrorIs(t, err, hal.ErrInvalid)

	p, err := sim.Builtin("ideal")
	require.NoError(t, err)
	p.NoiseV = 0
	quiet, err := sim.New(p, 1)
	require.NoError(t, err)
	_, err = solver.Inverse(t.Context(), quiet, mat.NewDense(2, 2, []float64{2, 1, 1, 2}), nil)
	assert.ErrorIs(t, err, hal.ErrUnsupported)
	assert.ErrorContains(t, err, "noise")

	b.Close()
	_, err = solver.Inverse(t.Context(), b, mat.NewDense(2, 2, []float64{2, 1, 1, 2}), nil)
	assert.ErrorIs(t, err, hal.ErrClosed)
}
