package solver_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
	"github.com/spukit/spukit/sim"
	"github.com/spukit/spukit/solver"
)

// quiet is sim:ideal without injected noise: its state relaxes exactly to
// the OU mean A'⁻¹b', which the closed form A⁻¹b predicts.
func quiet(t *testing.T) hal.Board {
	t.Helper()
	p, err := sim.Builtin("ideal")
	require.NoError(t, err)
	p.NoiseV = 0
	b, err := sim.New(p, 1)
	require.NoError(t, err)
	return b
}

// relaxTo sets rhs r on the session (β from the bias range, γ = β/α),
// forces x = 0, relaxes long and returns the window mean of all cells.
func relaxTo(t *testing.T, s *solver.Session, r []float64) []float64 {
	t.Helper()
	beta := 0.5 / maxAbs(r)
	require.NoError(t, s.SetRHS(t.Context(), r, beta, beta/s.Alpha()))
	_, err := s.Force(t.Context(), nil)
	require.NoError(t, err)
	// 400 τ/α at λ_min(A) ≥ 1 (spd below): e^{−400} of the start remains.
	require.NoError(t, s.Relax(t.Context(), time.Duration(400/s.Alpha()*float64(s.Info().Tau))))
	x := make([]float64, s.Info().Cells)
	_, err = s.Window(t.Context(), 0, 2, x)
	require.NoError(t, err)
	return x
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// A session programs a problem once and relaxes it with many right-hand
// sides; re-programming replaces the problem; padding cells stay at 0 V;
// programmings and board time are accounted.
func TestSessionProgramsOnceRelaxesMany(t *testing.T) {
	s, err := solver.NewSession(quiet(t))
	require.NoError(t, err)
	ctx := t.Context()
	for p, seed := range []uint64{3, 4} {
		a := spd(rng(seed), 5, 10)
		data := append([]float64(nil), a.RawMatrix().Data...)
		alpha, err := s.CouplingScale(data, false)
		require.NoError(t, err)
		require.NoError(t, s.ProgramDense(ctx, data, 5, alpha))
		assert.Equal(t, 5, s.Size())
		assert.Equal(t, alpha, s.Alpha())
		for range 3 {
			r := gaussian(rng(seed+10), 5)
			x := relaxTo(t, s, r)
			assert.Less(t, testnum.RelErr(x[:5], exact(t, a, r)), 1e-9)
			assert.Equal(t, make([]float64, 3), x[5:], "padding cells sit at 0 V")
		}
		u := s.Usage()
		assert.Equal(t, p+1, u.Programs)
		assert.True(t, u.Clocked)
		assert.Greater(t, u.BoardTime, time.Duration(float64(p+1)*3*400/alpha*float64(s.Info().Tau)), "board time covers the runs")
	}
}

// Unscale and Force use the state scale γ of the last SetRHS; Force clips
// into the ADC range and says so.
func TestSessionScales(t *testing.T) {
	s, err := solver.NewSession(quiet(t))
	require.NoError(t, err)
	ctx := t.Context()
	require.NoError(t, s.ProgramDense(ctx, []float64{1}, 1, 1))
	require.NoError(t, s.SetRHS(ctx, []float64{2}, 0.5, 4))
	got := make([]float64, 2)
	s.Unscale(got, []float64{2, -8})
	assert.Equal(t, []float64{0.5, -2}, got)
	clipped, err := s.Force(ctx, []float64{1})
	require.NoError(t, err)
	assert.False(t, clipped)
	clipped, err = s.Force(ctx, []float64{1e6})
	require.NoError(t, err)
	assert.True(t, clipped, "γ·1e6 V is beyond the ADC")
}

func TestSessionErrors(t *testing.T) {
	ctx := t.Context()
	_, err := solver.NewSession(nil)
	require.ErrorIs(t, err, hal.ErrInvalid)

	s, err := solver.NewSession(quiet(t))
	require.NoError(t, err)
	require.ErrorIs(t, s.ProgramDense(ctx, []float64{1, 2, 3}, 2, 1), hal.ErrDimension)
	require.ErrorIs(t, s.ProgramDense(ctx, []float64{1}, 1, math.Inf(1)), hal.ErrInvalid)
	require.ErrorIs(t, s.ProgramDense(ctx, make([]float64, 81), 9, 1), hal.ErrDimension, "9 cells on an 8-cell board")
	require.ErrorIs(t, s.ProgramDense(ctx, []float64{-1}, 1, 1), hal.ErrUnstable, "the board refuses what the caller wrongly vouched for")
	require.ErrorIs(t, s.ProgramFactored(ctx, &hal.Factorization{}), hal.ErrUnsupported)
	require.ErrorIs(t, s.SetRHS(ctx, make([]float64, 9), 1, 1), hal.ErrDimension)
	assert.Zero(t, s.Usage().Programs, "refused programmings are not counted")

	f, err := solver.NewSession(open(t, "sim:tngd?cells=8"))
	require.NoError(t, err)
	require.ErrorIs(t, f.ProgramDense(ctx, []float64{1}, 1, 1), hal.ErrUnsupported, "a factored board takes no dense matrix")
}

// A factored problem is programmed as it is (α = 1) and relaxes to
// A⁻¹g with A = λI + s·JᵀHJ, here a dense J of one row per sample (H = 1).
func TestSessionFactored(t *testing.T) {
	s, err := solver.NewSession(open(t, "sim:tngd?cells=4&noise=0&adc_bits=0&bias_bits=0&dac_bits=0"))
	require.NoError(t, err)
	jrows := []float64{1, 0, 2, 0, 0, 1, 0, -1}
	f := &hal.Factorization{
		J: hal.Jacobian{Rows: 2, Cols: 4, RowsPerSample: 1, Blocks: []hal.JacobianBlock{{
			Col: 0, Out: 1, In: 4, Signal: []float64{1, 1}, Input: jrows}}},
		H: []float64{1, 1}, Scale: 0.5, Lambda: 1,
	}
	require.NoError(t, s.ProgramFactored(t.Context(), f))
	assert.Equal(t, 4, s.Size())
	assert.Equal(t, 1.0, s.Alpha())
	j := mat.NewDense(2, 4, jrows)
	var a mat.Dense
	a.Mul(j.T(), j)
	a.Scale(0.5, &a)
	for i := range 4 {
		a.Set(i, i, a.At(i, i)+1)
	}
	r := []float64{1, -1, 0.5, 2}
	x := relaxTo(t, s, r)
	assert.Less(t, testnum.RelErr(x, exact(t, &a, r)), 1e-6)
	assert.Equal(t, 1, s.Usage().Programs)
}
