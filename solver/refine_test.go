package solver_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
	"github.com/spukit/spukit/sim"
	"github.com/spukit/spukit/solver"
)

// system prepares a on a new session of board b.
func system(t *testing.T, b hal.Board, a mat.Matrix) *solver.System {
	t.Helper()
	sess, err := solver.NewSession(b)
	require.NoError(t, err)
	sys, err := solver.Prepare(t.Context(), sess, a)
	require.NoError(t, err)
	return sys
}

// simBoard is built-in profile name with edit applied, seeded.
func simBoard(t *testing.T, name string, seed uint64, edit func(*sim.Profile)) hal.Board {
	t.Helper()
	p, err := sim.Builtin(name)
	require.NoError(t, err)
	edit(&p)
	b, err := sim.New(p, seed)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// relResidual is ‖r − A x‖₂/‖r‖₂.
func relResidual(a mat.Matrix, x, r []float64) float64 {
	n := len(r)
	var ax mat.VecDense
	ax.MulVec(a, mat.NewVecDense(n, append([]float64(nil), x...)))
	d := make([]float64, n)
	floats.SubTo(d, r, ax.RawVector().Data)
	return floats.Norm(d, 2) / floats.Norm(r, 2)
}

// Refinement contracts the residual per round by the board's per-solve
// error ρ, measured here on the same system with the same budget. The board
// is sim:ideal with 30× its noise (0.3 V) and 5 ms readings, so that ρ is
// about 10⁻² and refinement has room for several rounds above float64
// round-off. Its only error is statistical: the mean's error e then has
// A'e white (the OU time-average), so every residual the rounds meet is
// distributed like a Gaussian right-hand side, and log ρ of one solve has
// some spread s whatever the round. The rounds' mean log ρ and that of M
// independent solves then differ by a normal amount of standard deviation
// s·√(1/K + 1/M) (K rounds); the test allows 4 of them, with s estimated
// from the M solves. Refinement that did not rescale each correction to the
// full bias range would see ρ grow as the residual shrinks (the noise is
// absolute) and fail.
func TestRefineContractsAtPerSolveRate(t *testing.T) {
	b := simBoard(t, "ideal", 1, func(p *sim.Profile) { p.NoiseV = 0.3 })
	a, rhs := solver.RandomSPD(8, 10, 1)
	sys := system(t, b, a)
	o := &solver.Options{Duration: 5 * time.Millisecond, Batches: 5}
	const m = 12
	meas := make([]float64, m)
	for j := range meas {
		r := gaussian(rng(uint64(100+j)), 8)
		res, err := sys.Solve(t.Context(), r, o)
		require.NoError(t, err)
		meas[j] = math.Log(relResidual(a, res.X, r))
	}
	ref, err := solver.Refine(t.Context(), sys, rhs, &solver.RefineOptions{Tol: 1e-12, First: o, Correction: o})
	require.NoError(t, err)
	require.True(t, ref.Converged)
	logs := make([]float64, len(ref.Rounds))
	for k, r := range ref.Rounds {
		logs[k] = math.Log(r.Rho)
	}
	k := float64(len(logs))
	mean := floats.Sum(meas) / m
	s := 0.0
	for _, v := range meas {
		s += (v - mean) * (v - mean)
	}
	s = math.Sqrt(s / (m - 1))
	got := floats.Sum(logs) / k
	tol := 4 * s * math.Sqrt(1/k+1.0/m)
	t.Logf("per-solve ρ: geometric mean %.3g (log sd %.2f over %d solves); refinement: %.3g over %d rounds; allowed log difference %.2f",
		math.Exp(mean), s, m, math.Exp(got), len(logs), tol)
	assert.InDelta(t, mean, got, tol, "mean log ρ of the rounds vs of independent solves")
	assert.GreaterOrEqual(t, len(logs), 5, "ρ ≈ 10⁻² takes about 6 rounds to 10⁻¹²")
	assert.LessOrEqual(t, ref.Residual, 1e-12)
	assert.Equal(t, 1, sys.Session().Usage().Programs, "A is programmed once for all solves")
}

// The done-when case of issue 13 on sim:ideal: cond 100 to 10⁻¹⁰, one
// programming; corrections sample InexactOptions' budget, shorter than
// the first solve.
func TestRefineIdealReachesTol(t *testing.T) {
	a, rhs := solver.RandomSPD(8, 100, 1)
	sys := system(t, open(t, "sim:ideal"), a)
	ref, err := solver.Refine(t.Context(), sys, rhs, &solver.RefineOptions{Tol: 1e-10})
	require.NoError(t, err)
	assert.True(t, ref.Converged)
	assert.Empty(t, ref.Stalled)
	assert.LessOrEqual(t, ref.Residual, 1e-10)
	assert.InDelta(t, relResidual(a, ref.X, rhs), ref.Residual, 1e-13)
	assert.LessOrEqual(t, testnum.RelErr(ref.X, exact(t, a, rhs)), 1e-9)
	assert.Equal(t, 1, ref.Usage.Programs)
	require.GreaterOrEqual(t, len(ref.Rounds), 2)
	for k, r := range ref.Rounds {
		assert.Less(t, r.Rho, 0.1, "round %d", k)
		if k > 0 {
			assert.Less(t, r.Duration, ref.Rounds[0].Duration, "round %d samples less than the first solve", k)
		}
	}
	assert.Equal(t, ref.First.Duration, ref.Rounds[0].Duration)
	assert.Equal(t, *sys.InexactOptions(), ref.Correction)
	var sum time.Duration
	for _, r := range ref.Rounds {
		sum += r.BoardTime
	}
	assert.Equal(t, ref.Usage.BoardTime, sum)
}

// A board whose per-solve error is ≥ 1 makes refinement stop at once and
// say so; a board whose couplings are so far off that A' is unstable
// saturates, and that is said too. Both keep x = 0, the best x seen.
// (proto8 with 10 % and 30 % coupling tolerance, cond 100: ρ = 1.9 and a
// saturated first solve for board seed 1.)
func TestRefineStalls(t *testing.T) {
	a, rhs := solver.RandomSPD(8, 100, 1)
	for _, c := range []struct {
		tol  float64
		want string
		sat  bool
	}{{0.1, "per-solve error on this system is too large", false}, {0.3, "saturated", true}} {
		b := simBoard(t, "proto8", 1, func(p *sim.Profile) { p.Coupling.Tolerance = c.tol })
		ref, err := solver.Refine(t.Context(), system(t, b, a), rhs, &solver.RefineOptions{Tol: 1e-10})
		require.ErrorIs(t, err, solver.ErrNotConverged)
		assert.ErrorContains(t, err, c.want)
		assert.Equal(t, c.sat, errors.Is(err, hal.ErrSaturated))
		require.NotNil(t, ref)
		assert.False(t, ref.Converged)
		assert.Contains(t, ref.Stalled, c.want)
		require.Len(t, ref.Rounds, 1)
		assert.GreaterOrEqual(t, ref.Rounds[0].Rho, 1.0)
		assert.Equal(t, make([]float64, 8), ref.X)
		assert.Equal(t, 1.0, ref.Residual)
	}
}

func TestRefineBadInput(t *testing.T) {
	a, rhs := problem8(1)
	sys := system(t, open(t, "sim:ideal"), a)
	for _, c := range []struct {
		b    []float64
		o    *solver.RefineOptions
		want error
		msg  string
	}{
		{rhs, &solver.RefineOptions{}, hal.ErrInvalid, "tolerance 0: want a relative residual in [1e-15, 1)"},
		{rhs, &solver.RefineOptions{Tol: 1}, hal.ErrInvalid, "tolerance 1"},
		{rhs, &solver.RefineOptions{Tol: 1e-16}, hal.ErrInvalid, "tolerance 1e-16"},
		{rhs, &solver.RefineOptions{Tol: 1e-6, MaxRounds: -1}, hal.ErrInvalid, "MaxRounds = -1"},
		{rhs[:7], &solver.RefineOptions{Tol: 1e-6}, hal.ErrDimension, "b has 7 entries, want 8"},
		{append(rhs[:7:7], math.NaN()), &solver.RefineOptions{Tol: 1e-6}, hal.ErrInvalid, "b[7] = NaN"},
		{rhs, nil, hal.ErrInvalid, "nil"},
	} {
		ref, err := solver.Refine(t.Context(), sys, c.b, c.o)
		require.ErrorIs(t, err, c.want)
		assert.ErrorContains(t, err, c.msg)
		assert.Nil(t, ref)
	}
	assert.Zero(t, sys.Session().Usage().Programs, "refused before the board is touched")
	ref, err := solver.Refine(t.Context(), sys, make([]float64, 8), &solver.RefineOptions{Tol: 1e-6})
	require.NoError(t, err)
	assert.True(t, ref.Converged)
	assert.Equal(t, make([]float64, 8), ref.X)
}
