package solver_test

import (
	"context"
	"errors"
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

// zscores returns (X_i − x_i)/StdErr_i. StdErr is the batch-means standard
// error: the N samples are cut into B = 20 equal batches with means m_b, and
//
//	StdErr_i = sqrt( Σ_b (m_bi − X_i)² / (B(B−1)) ),
//
// so z follows approximately Student's t with B−1 = 19 degrees of freedom
// when the batches are long compared with the relaxation time.
func zscores(res *solver.Result, x []float64) []float64 {
	z := make([]float64, len(x))
	for i := range x {
		z[i] = (res.X[i] - x[i]) / res.StdErr[i]
	}
	return z
}

func TestSolveIdealSPD(t *testing.T) {
	b := open(t, "sim:ideal?seed=1")
	a, rhs := problem8(1)
	res, err := solver.Solve(t.Context(), b, a, rhs, nil)
	require.NoError(t, err)
	x := exact(t, a, rhs)
	rel := testnum.RelErr(res.X, x)
	t.Logf("sim:ideal cond 10 seed 1: rel_error %.3g, max rel stderr %.3g, scale %+v, retries %d, %d samples, burn %v, board time %v, wall %v",
		rel, res.MaxRelStdErr(), res.Scale, res.Retries, res.Samples, res.Burn, res.BoardTime, res.Wall)
	assert.LessOrEqual(t, rel, 0.01)
	for i, z := range zscores(res, x) {
		assert.LessOrEqual(t, math.Abs(z), 4.0, "x[%d] = %g, want %g ± %g", i, res.X[i], x[i], res.StdErr[i])
	}
	assert.Zero(t, res.Saturated)
	assert.True(t, res.Clocked)
	assert.Equal(t, 20, res.Batches)
	assert.Equal(t, 40000, res.Samples) // 2000τ at the 5 µs minimum period, τ = 100 µs
	assert.Equal(t, 200*time.Millisecond, res.Duration)
	assert.Greater(t, res.BoardTime, res.Duration+res.Burn)
	require.NotEmpty(t, res.Pilots)
	last := res.Pilots[len(res.Pilots)-1]
	assert.LessOrEqual(t, last.Peak, 0.7)
	assert.InDelta(t, last.Beta, res.Scale.Beta, 1e-12*res.Scale.Beta)
	// α uses 95 % of the coupling range.
	assert.InDelta(t, 0.95*4, res.Scale.Alpha*maxAbsM(a), 1e-9)
}

func maxAbsM(a mat.Matrix) float64 {
	r, c := a.Dims()
	m := 0.0
	for i := range r {
		for j := range c {
			m = math.Max(m, math.Abs(a.At(i, j)))
		}
	}
	return m
}

// TestSolveCalibration checks that the error bars are honest across many
// components: over 24 boards and problems × 8 components the z-scores should
// follow t₁₉, for which P(|z| ≤ 1) ≈ 0.67, P(|z| ≤ 2) ≈ 0.94 and
// E z² = 19/17 ≈ 1.12. The components of one run share their batches, so
// the 192 z-scores are partly correlated (a run whose batch spread is low
// by chance inflates all its z); the bounds allow for about 3 standard
// deviations of the binomial spread with an effective count of ~50. (A
// 300-run experiment with the same setup gave 0.060 of |z| beyond 2, 0.008
// beyond 3 and mean z² 1.11; the worst |z| of its 2400, 4.9, is in run 1
// here.)
func TestSolveCalibration(t *testing.T) {
	var z []float64
	for seed := uint64(1); seed <= 24; seed++ {
		b := open(t, "sim:ideal?seed="+itoa(seed+100))
		a, rhs := problem8(seed)
		res, err := solver.Solve(t.Context(), b, a, rhs, nil)
		require.NoError(t, err)
		x := exact(t, a, rhs)
		assert.LessOrEqual(t, testnum.RelErr(res.X, x), 0.01, "seed %d", seed)
		z = append(z, zscores(res, x)...)
	}
	var in1, in2, z2 float64
	for _, v := range z {
		if math.Abs(v) <= 1 {
			in1++
		}
		if math.Abs(v) <= 2 {
			in2++
		}
		z2 += v * v
	}
	m := float64(len(z))
	t.Logf("%d z-scores: %.2f within 1 stderr, %.2f within 2, mean z² %.2f", len(z), in1/m, in2/m, z2/m)
	for i, v := range z {
		assert.LessOrEqual(t, math.Abs(v), 6.0, "z[%d]", i) // P(|t₁₉| > 6) ≈ 10⁻⁵
	}
	assert.InDelta(t, 0.67, in1/m, 0.2)
	assert.InDelta(t, 0.94, in2/m, 0.1)
	assert.InDelta(t, 1.12, z2/m, 0.6)
}

// TestSolveErrorShrinks checks the 1/√T law: the RMS error at sampling time
// T is 4 times that at 16T, for the actual errors and for the reported
// error bars.
//
// Tolerance: with S independent boards per duration, let E_s = ‖X − x‖² (or
// Σ StdErr², for the error bars). The ratio is R = sqrt(mean E_T / mean
// E_16T). By the delta method sd(ln mean E) ≈ cv/√S with cv = sd(E)/mean(E)
// estimated from the data, so sd(ln R) ≈ ½·sqrt((cv_T² + cv_16T²)/S). We
// accept |ln(R/4)| ≤ 4·sd(ln R) + 0.05, the 0.05 allowing for the small
// downward bias of batch means over the short run (each batch of the 500τ
// run spans about 15 relaxation times).
func TestSolveErrorShrinks(t *testing.T) {
	const seeds = 48
	a, rhs := problem8(1)
	x := exact(t, a, rhs)
	tau := 100 * time.Microsecond
	run := func(d time.Duration, boardSeed uint64) (e2, s2 float64) {
		b := open(t, "sim:ideal?seed="+itoa(boardSeed))
		res, err := solver.Solve(t.Context(), b, a, rhs, &solver.Options{Duration: d})
		require.NoError(t, err)
		for i := range x {
			e2 += (res.X[i] - x[i]) * (res.X[i] - x[i])
			s2 += res.StdErr[i] * res.StdErr[i]
		}
		return e2, s2
	}
	var eT, e16, sT, s16 []float64
	for s := range uint64(seeds) {
		e, se := run(500*tau, 1000+s)
		eT, sT = append(eT, e), append(sT, se)
		e, se = run(16*500*tau, 2000+s)
		e16, s16 = append(e16, e), append(s16, se)
	}
	check := func(name string, short, long []float64) {
		mS, cS := meanCV(short)
		mL, cL := meanCV(long)
		r := math.Sqrt(mS / mL)
		sd := 0.5 * math.Sqrt((cS*cS+cL*cL)/seeds)
		tol := 4*sd + 0.05
		t.Logf("%s: RMS at T %.3g, at 16T %.3g, ratio %.3f (want 4, |ln(R/4)| = %.3f ≤ %.3f)",
			name, math.Sqrt(mS), math.Sqrt(mL), r, math.Abs(math.Log(r/4)), tol)
		assert.LessOrEqual(t, math.Abs(math.Log(r/4)), tol, name)
	}
	check("actual error", eT, e16)
	check("reported stderr", sT, s16)
}

func meanCV(v []float64) (mean, cv float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss/float64(len(v)-1)) / mean
}

func itoa(u uint64) string {
	if u == 0 {
		return "0"
	}
	var b []byte
	for ; u > 0; u /= 10 {
		b = append([]byte{byte('0' + u%10)}, b...)
	}
	return string(b)
}

// nonNormal returns Q (D + N) Qᵀ with D = diag in [1, 2], N strictly upper
// triangular with entries in ±1.5 and Q random orthogonal: stable (its
// eigenvalues are D's), far from normal, with an indefinite symmetric part.
func nonNormal(seed uint64, n int) *mat.Dense {
	r := rng(seed)
	q := orthogonal(r, n)
	t := mat.NewDense(n, n, nil)
	for i := range n {
		t.Set(i, i, 1+r.Float64())
		for j := i + 1; j < n; j++ {
			t.Set(i, j, 3*r.Float64()-1.5)
		}
	}
	var m, a mat.Dense
	m.Mul(q, t)
	a.Mul(&m, q.T())
	return &a
}

func TestSolveNonNormal(t *testing.T) {
	a := nonNormal(3, 8)
	var sym mat.SymDense
	sym.SymOuterK(0, a) // zero matrix of the right size
	for i := range 8 {
		for j := i; j < 8; j++ {
			sym.SetSym(i, j, 0.5*(a.At(i, j)+a.At(j, i)))
		}
	}
	var es mat.EigenSym
	require.True(t, es.Factorize(&sym, false))
	t.Logf("λ_min of the symmetric part: %.3g (eigenvalues of A in [1, 2])", es.Values(nil)[0])
	require.Less(t, es.Values(nil)[0], 0.0, "the test wants an indefinite symmetric part")

	rhs := gaussian(rng(4), 8)
	b := open(t, "sim:ideal?seed=7")
	res, err := solver.Solve(t.Context(), b, a, rhs, nil)
	require.NoError(t, err)
	x := exact(t, a, rhs)
	rel := testnum.RelErr(res.X, x)
	t.Logf("non-normal: rel_error %.3g, relaxation %v, burn %v, retries %d, notes %q", rel, res.Relaxation, res.Burn, res.Retries, res.Notes)
	assert.LessOrEqual(t, rel, 0.01)
	for i, z := range zscores(res, x) {
		assert.LessOrEqual(t, math.Abs(z), 4.5, "x[%d]", i)
	}
	assert.NotEmpty(t, res.Notes, "the heuristic burn-in should be noted")
}

func TestSolveScaling(t *testing.T) {
	a, rhs := problem8(2)
	x := exact(t, a, rhs)
	ref, err := solver.Solve(t.Context(), open(t, "sim:ideal?seed=3"), a, rhs, nil)
	require.NoError(t, err)

	for _, c := range []struct {
		name   string
		fa, fb float64
	}{
		{"huge A, tiny b", 1e6, 1e-6},
		{"tiny A, huge b", 1e-6, 1e6},
		{"extreme", 1e-150, 1e-150},
		{"tiny b", 1, 1e-9},
	} {
		t.Run(c.name, func(t *testing.T) {
			var as mat.Dense
			as.Scale(c.fa, a)
			bs := make([]float64, len(rhs))
			want := make([]float64, len(rhs))
			for i := range rhs {
				bs[i] = c.fb * rhs[i]
				want[i] = c.fb / c.fa * x[i]
			}
			res, err := solver.Solve(t.Context(), open(t, "sim:ideal?seed=3"), &as, bs, nil)
			require.NoError(t, err)
			rel := testnum.RelErr(res.X, want)
			t.Logf("rel_error %.3g, scale %+v, retries %d", rel, res.Scale, res.Retries)
			assert.LessOrEqual(t, rel, 0.01)
			// The board sees the same problem whatever the units.
			assert.InEpsilon(t, ref.Scale.Alpha/c.fa, res.Scale.Alpha, 1e-9)
			assert.InEpsilon(t, ref.Scale.Beta/c.fb, res.Scale.Beta, 1e-3)
		})
	}
}

// saturating is diag(1, …, 1, 0.05) with weak couplings and b = 1: at the
// naive bias scale (95 % of the ±10 V DAC) the last component would sit near
// 50 V, far beyond the ±10 V ADC.
func saturating() (*mat.Dense, []float64) {
	n := 8
	a := mat.NewDense(n, n, nil)
	for i := range n {
		a.Set(i, i, 1)
		if i > 0 {
			a.Set(i, i-1, 0.01)
			a.Set(i-1, i, 0.01)
		}
	}
	a.Set(n-1, n-1, 0.05)
	rhs := make([]float64, n)
	for i := range rhs {
		rhs[i] = 1
	}
	return a, rhs
}

func TestSolveReducesBias(t *testing.T) {
	a, rhs := saturating()
	b := open(t, "sim:ideal?seed=5")
	res, err := solver.Solve(t.Context(), b, a, rhs, nil)
	require.NoError(t, err)
	x := exact(t, a, rhs)
	rel := testnum.RelErr(res.X, x)
	t.Logf("rel_error %.3g, retries %d, pilots %+v, scale %+v", rel, res.Retries, res.Pilots, res.Scale)
	assert.Positive(t, res.Retries)
	require.Len(t, res.Pilots, res.Retries+1)
	assert.Positive(t, res.Pilots[0].Saturated, "the naive scale saturates")
	naive := 0.95 * 10 / 1 // 95 % of the bias range over max|b|
	assert.InEpsilon(t, naive, res.Pilots[0].Beta, 1e-12)
	assert.Less(t, res.Scale.Beta, naive/4)
	last := res.Pilots[len(res.Pilots)-1]
	assert.Zero(t, last.Saturated)
	assert.InDelta(t, 0.5, last.Peak, 0.2)
	assert.Zero(t, res.Saturated)
	assert.LessOrEqual(t, rel, 0.01)
}

func TestSolveFinalSaturationKeepsResult(t *testing.T) {
	a, rhs := saturating()
	b := open(t, "sim:ideal?seed=5")
	res, err := solver.Solve(t.Context(), b, a, rhs, &solver.Options{Beta: 9.5, Duration: 2 * time.Millisecond})
	require.Error(t, err)
	assert.ErrorIs(t, err, hal.ErrSaturated)
	var se *hal.SaturationError
	require.ErrorAs(t, err, &se)
	assert.Positive(t, se.Counts[7])
	require.NotNil(t, res, "the samples are not lost")
	assert.Positive(t, res.Saturated)
	assert.Len(t, res.X, 8)
	assert.Empty(t, res.Pilots, "a fixed Beta skips the pilot")
}

func TestSolveProto8(t *testing.T) {
	b := open(t, "sim:proto8?seed=1")
	a, rhs := problem8(1)
	res, err := solver.Solve(t.Context(), b, a, rhs, nil)
	require.NoError(t, err)
	x := exact(t, a, rhs)
	rel := testnum.RelErr(res.X, x)
	t.Logf("sim:proto8 cond 10 seed 1: rel_error %.3g (uncalibrated), max rel stderr %.3g, scale %+v, retries %d, pilots %+v, board time %v, notes %q",
		rel, res.MaxRelStdErr(), res.Scale, res.Retries, res.Pilots, res.BoardTime, res.Notes)
	assert.False(t, math.IsNaN(rel) || math.IsInf(rel, 0))
	assert.Less(t, rel, 0.2)
	assert.Zero(t, res.Saturated)
}

func TestSolveTol(t *testing.T) {
	a, rhs := problem8(1)
	b := open(t, "sim:ideal?seed=9")
	tau := 100 * time.Microsecond
	res, err := solver.Solve(t.Context(), b, a, rhs, &solver.Options{Duration: 100 * tau, Tol: 5e-5})
	require.NoError(t, err)
	t.Logf("Tol 5e-5: %d samples, rel stderr %.3g, notes %q", res.Samples, res.MaxRelStdErr(), res.Notes)
	assert.LessOrEqual(t, res.MaxRelStdErr(), 5e-5)
	assert.Greater(t, res.Samples, 2000)
	assert.Equal(t, 20, res.Batches)
	assert.LessOrEqual(t, testnum.RelErr(res.X, exact(t, a, rhs)), 1e-3)

	// Unreachable tolerance: stops at MaxDuration and says so.
	res, err = solver.Solve(t.Context(), b, a, rhs, &solver.Options{Duration: 100 * tau, Tol: 1e-12, MaxDuration: 400 * tau, Batches: 7})
	require.NoError(t, err)
	assert.Equal(t, 8, res.Batches)
	assert.Equal(t, 8000, res.Samples) // 100τ doubled twice
	assert.Greater(t, res.MaxRelStdErr(), 1e-12)
	assert.Condition(t, func() bool { return containsNote(res.Notes, "Tol") }, "notes %q", res.Notes)
}

func containsNote(notes []string, s string) bool {
	for _, n := range notes {
		if contains(n, s) {
			return true
		}
	}
	return false
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestSolveWarmStart(t *testing.T) {
	a, rhs := problem8(1)
	x := exact(t, a, rhs)
	tau := 100 * time.Microsecond
	b := open(t, "sim:ideal?seed=11")
	// From the exact answer, no burn-in is needed.
	res, err := solver.Solve(t.Context(), b, a, rhs, &solver.Options{Warm: x, Burn: solver.NoBurn, Duration: 200 * tau})
	require.NoError(t, err)
	assert.Zero(t, res.Burn)
	assert.LessOrEqual(t, testnum.RelErr(res.X, x), 0.01)

	// A wild guess is clipped into the ADC range, with a note.
	wild := make([]float64, len(x))
	for i := range wild {
		wild[i] = 1e9
	}
	res, err = solver.Solve(t.Context(), b, a, rhs, &solver.Options{Warm: wild})
	require.NoError(t, err)
	assert.True(t, containsNote(res.Notes, "clipped"), "notes %q", res.Notes)
	assert.LessOrEqual(t, testnum.RelErr(res.X, x), 0.01)
}

// spy is a board without hal.Clock that records what the solver asks.
type spy struct {
	hal.Board
	calls   int
	maxRows int
}

func (s *spy) SetCouplings(ctx context.Context, a []float64) error {
	s.calls++
	return s.Board.SetCouplings(ctx, a)
}
func (s *spy) SetBias(ctx context.Context, v []float64) error {
	s.calls++
	return s.Board.SetBias(ctx, v)
}
func (s *spy) SetState(ctx context.Context, v []float64) error {
	s.calls++
	return s.Board.SetState(ctx, v)
}
func (s *spy) Run(ctx context.Context, d time.Duration) error {
	s.calls++
	return s.Board.Run(ctx, d)
}
func (s *spy) Sample(ctx context.Context, p time.Duration, dst []float64) (int, error) {
	s.calls++
	s.maxRows = max(s.maxRows, len(dst)/s.Info().Cells)
	return s.Board.Sample(ctx, p, dst)
}

func TestSolveChunksAndWallClock(t *testing.T) {
	a, rhs := problem8(1)
	s := &spy{Board: open(t, "sim:ideal?seed=1")}
	res, err := solver.Solve(t.Context(), s, a, rhs, nil)
	require.NoError(t, err)
	assert.Greater(t, res.Samples, 4096)
	assert.LessOrEqual(t, s.maxRows, 4096, "samples are read in chunks")
	assert.False(t, res.Clocked, "no hal.Clock: board time is wall time")
	assert.Equal(t, res.Wall, res.BoardTime)
	assert.LessOrEqual(t, testnum.RelErr(res.X, exact(t, a, rhs)), 0.01)
}

func TestSolveNoiseless(t *testing.T) {
	p, err := sim.Builtin("ideal")
	require.NoError(t, err)
	p.NoiseV = 0
	b, err := sim.New(p, 1)
	require.NoError(t, err)
	a, rhs := problem8(1)
	res, err := solver.Solve(t.Context(), b, a, rhs, nil)
	require.NoError(t, err)
	assert.LessOrEqual(t, testnum.RelErr(res.X, exact(t, a, rhs)), 1e-6)
	for _, e := range res.StdErr {
		assert.LessOrEqual(t, e, 1e-9)
	}
}

func TestSolveSymmetricBoard(t *testing.T) {
	p, err := sim.Builtin("ideal")
	require.NoError(t, err)
	p.Topology = "symmetric"
	b, err := sim.New(p, 1)
	require.NoError(t, err)
	s := &spy{Board: b}

	_, err = solver.Solve(t.Context(), s, nonNormal(1, 4), []float64{1, 2, 3, 4}, nil)
	assert.ErrorIs(t, err, hal.ErrUnsupported)
	assert.Zero(t, s.calls, "refused before touching the board")

	a, rhs := problem8(1)
	res, err := solver.Solve(t.Context(), s, a, rhs, nil)
	require.NoError(t, err)
	assert.LessOrEqual(t, testnum.RelErr(res.X, exact(t, a, rhs)), 0.01)
}

func TestSolveSmallerThanBoard(t *testing.T) {
	a, rhs := problem8(6)
	sub := mat.DenseCopyOf(a.Slice(0, 3, 0, 3))
	res, err := solver.Solve(t.Context(), open(t, "sim:ideal?seed=2"), sub, rhs[:3], nil)
	require.NoError(t, err)
	require.Len(t, res.X, 3)
	assert.LessOrEqual(t, testnum.RelErr(res.X, exact(t, sub, rhs[:3])), 0.01)
}

func TestSolveZeroRHS(t *testing.T) {
	a, _ := problem8(1)
	s := &spy{Board: open(t, "sim:ideal?seed=1")}
	res, err := solver.Solve(t.Context(), s, a, make([]float64, 8), nil)
	require.NoError(t, err)
	assert.Equal(t, make([]float64, 8), res.X)
	assert.Zero(t, s.calls)
}

func TestSolveCancelMidRun(t *testing.T) {
	a, rhs := problem8(1)
	b := open(t, "sim:ideal?seed=1")
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	// 10⁶ τ at the 5 µs minimum period is 2·10⁷ samples: seconds of work.
	res, err := solver.Solve(ctx, b, a, rhs, &solver.Options{Duration: 100 * time.Second, Period: 5 * time.Microsecond})
	el := time.Since(start)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Nil(t, res)
	assert.Less(t, el, time.Second, "returns promptly")
}

func TestSolveErrors(t *testing.T) {
	a, rhs := problem8(1)
	nanA := mat.DenseCopyOf(a)
	nanA.Set(1, 2, math.NaN())
	infB := append([]float64(nil), rhs...)
	infB[3] = math.Inf(-1)
	neg := mat.NewDense(2, 2, []float64{-1, 0, 0, 1})
	singular := mat.NewDense(2, 2, []float64{1, 1, 1, 1})
	rot := mat.NewDense(2, 2, []float64{0, 1, -1, 0}) // eigenvalues ±i
	big := mat.NewDense(9, 9, nil)
	for i := range 9 {
		big.Set(i, i, 1)
	}
	var nilDense *mat.Dense

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	for _, c := range []struct {
		name  string
		ctx   context.Context
		a     mat.Matrix
		b     []float64
		opts  *solver.Options
		want  error
		msg   string
		board func(hal.Board) hal.Board
	}{
		{name: "n > cells", a: big, b: make([]float64, 9), want: hal.ErrDimension, msg: "8 cells"},
		{name: "not square", a: mat.NewDense(3, 4, nil), b: rhs[:3], want: hal.ErrDimension, msg: "3×4"},
		{name: "empty", a: &mat.Dense{}, b: nil, want: hal.ErrDimension},
		{name: "len(rhs)", a: a, b: rhs[:7], want: hal.ErrDimension, msg: "rhs has 7 entries, want 8"},
		{name: "NaN in A", a: nanA, b: rhs, want: hal.ErrInvalid, msg: "A[1][2]"},
		{name: "Inf in b", a: a, b: infB, want: hal.ErrInvalid, msg: "rhs[3]"},
		{name: "Warm length", a: a, b: rhs, opts: &solver.Options{Warm: rhs[:2]}, want: hal.ErrDimension, msg: "Warm"},
		{name: "Warm NaN", a: a, b: rhs, opts: &solver.Options{Warm: nanVec(8, 5)}, want: hal.ErrInvalid, msg: "Warm[5]"},
		{name: "unstable", a: neg, b: []float64{1, 1}, want: hal.ErrUnstable},
		{name: "singular", a: singular, b: []float64{1, 1}, want: hal.ErrUnstable},
		{name: "imaginary axis", a: rot, b: []float64{1, 1}, want: hal.ErrUnstable},
		{name: "nil matrix", a: nil, b: rhs, want: hal.ErrInvalid},
		{name: "typed nil matrix", a: nilDense, b: rhs, want: hal.ErrInvalid},
		{name: "nil board", a: a, b: rhs, want: hal.ErrInvalid, board: func(hal.Board) hal.Board { return nil }},
		{name: "Batches 1", a: a, b: rhs, opts: &solver.Options{Batches: 1}, want: hal.ErrInvalid},
		{name: "negative Duration", a: a, b: rhs, opts: &solver.Options{Duration: -time.Second}, want: hal.ErrInvalid},
		{name: "NaN Tol", a: a, b: rhs, opts: &solver.Options{Tol: math.NaN()}, want: hal.ErrInvalid},
		{name: "Period too short", a: a, b: rhs, opts: &solver.Options{Period: time.Microsecond}, want: hal.ErrOutOfRange},
		{name: "Beta too large", a: a, b: rhs, opts: &solver.Options{Beta: 1e3}, want: hal.ErrOutOfRange},
		{name: "cancelled", ctx: cancelled, a: a, b: rhs, want: context.Canceled},
		{name: "closed", a: a, b: rhs, want: hal.ErrClosed, board: func(b hal.Board) hal.Board { b.Close(); return b }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &spy{Board: open(t, "sim:ideal?seed=1")}
			var b hal.Board = s
			if c.board != nil {
				b = c.board(s)
			}
			ctx := c.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			res, err := solver.Solve(ctx, b, c.a, c.b, c.opts)
			require.Error(t, err)
			assert.ErrorIs(t, err, c.want)
			assert.Nil(t, res)
			if c.msg != "" {
				assert.Contains(t, err.Error(), c.msg)
			}
			if c.want != context.Canceled && c.want != hal.ErrClosed {
				assert.Zero(t, s.calls, "refused before touching the board")
			}
			t.Log(err)
		})
	}

	_, err := solver.FromRows([][]float64{{1, 2}, {3}})
	assert.ErrorIs(t, err, hal.ErrDimension, "ragged")
	assert.ErrorContains(t, err, "row 1")
	_, err = solver.FromRows(nil)
	assert.ErrorIs(t, err, hal.ErrDimension)
	m, err := solver.FromRows([][]float64{{2, 1}, {1, 2}})
	require.NoError(t, err)
	res, err := solver.Solve(t.Context(), open(t, "sim:ideal?seed=1"), m, []float64{3, 3}, nil)
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{1, 1}, res.X, 1e-3)

	var nilCtx context.Context
	_, err = solver.Solve(nilCtx, open(t, "sim:ideal?seed=1"), a, rhs, nil) //nolint:staticcheck // nil ctx on purpose
	assert.ErrorIs(t, err, hal.ErrInvalid)
	assert.True(t, errors.Is(err, hal.ErrInvalid))
}

func nanVec(n, at int) []float64 {
	v := make([]float64, n)
	v[at] = math.NaN()
	return v
}

// TestSolveEdgeInputs: extreme but valid inputs neither panic nor produce
// NaN.
func TestSolveEdgeInputs(t *testing.T) {
	b := open(t, "sim:ideal?seed=1")
	one := mat.NewDense(1, 1, []float64{2})
	res, err := solver.Solve(t.Context(), b, one, []float64{3}, nil)
	require.NoError(t, err)
	assert.InDelta(t, 1.5, res.X[0], 1e-3)

	// Subnormal right-hand side with a warm start: x is subnormal too.
	res, err = solver.Solve(t.Context(), b, one, []float64{5e-324}, &solver.Options{Warm: []float64{0}, Duration: time.Millisecond})
	require.NoError(t, err)
	assert.False(t, math.IsNaN(res.X[0]))

	// Entries near the top of float64.
	huge := mat.NewDense(2, 2, []float64{1e308, -1e307, 1e307, 1e308})
	res, err = solver.Solve(t.Context(), b, huge, []float64{1e308, 1e308}, nil)
	require.NoError(t, err)
	assert.LessOrEqual(t, testnum.RelErr(res.X, exact(t, mat.NewDense(2, 2, []float64{1, -0.1, 0.1, 1}), []float64{1, 1})), 0.01)
}
