package tngd

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/ggn"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/testnum"
)

var ctx = context.Background()

// open opens a sim:tngd URI as package sim's scheme does (package sim
// imports this one, so its tests cannot open "sim:" URIs through hal).
func open(uri string) (*Board, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, err
	}
	b, err := OpenURL(u)
	if err != nil {
		return nil, err
	}
	return b.(*Board), nil
}

// smallTNGD is N = 10 parameters on 12 cells (two decoupled) with m = 6
// (3 samples × 2 outputs), two layer blocks.
func smallTNGD(r *rand.Rand) *hal.Factorization {
	return testnum.RandFactorization(r, 3, 2, 10, [][3]int{{0, 2, 3}, {6, 2, 2}}, 0.3)
}

// tngdDenseA builds A = λI + s·JᵀHJ on cells cells, entry by entry.
func tngdDenseA(f *hal.Factorization, cells int) *mat.Dense {
	n, m, k := f.J.Cols, f.J.Rows, f.J.RowsPerSample
	jd := mat.NewDense(m, n, nil)
	ggn.Dense(jd.RawMatrix().Data, &f.J)
	hm := mat.NewDense(m, m, nil)
	for s := range f.J.Samples() {
		for a := range k {
			for c := range k {
				hm.Set(s*k+a, s*k+c, f.H[s*k*k+a*k+c])
			}
		}
	}
	var hj, jhj mat.Dense
	hj.Mul(hm, jd)
	jhj.Mul(jd.T(), &hj)
	a := mat.NewDense(cells, cells, nil)
	for i := range n {
		for j := range n {
			a.Set(i, j, f.Scale*jhj.At(i, j))
		}
	}
	for i := range cells {
		a.Set(i, i, a.At(i, i)+f.Lambda)
	}
	return a
}

// tngdMean is e^{−At}x0 + A⁻¹(I − e^{−At})b.
func tngdMean(t *testing.T, a *mat.Dense, x0, b []float64, tt float64) []float64 {
	n, _ := a.Dims()
	var e, ma, ie mat.Dense
	ma.Scale(-tt, a)
	e.Exp(&ma)
	ie.Sub(eye(n), &e)
	var ex, ieb, want mat.VecDense
	ex.MulVec(&e, mat.NewVecDense(n, x0))
	ieb.MulVec(&ie, mat.NewVecDense(n, b))
	require.NoError(t, want.SolveVec(a, &ieb))
	want.AddVec(&want, &ex)
	return want.RawVector().Data
}

// idealTNGD is a board with every non-ideality off, noise σ and ±10 V
// converters.
func idealTNGD(t *testing.T, cells int, sigma float64, method string, seed uint64) *Board {
	p := Profile{Cells: cells, TauS: 1e-6, NoiseV: sigma, BiasRangeV: 10, ADCRangeV: 10, MinPeriodS: 1e-8, Method: method}
	b, err := New(p, seed)
	require.NoError(t, err)
	return b
}

func randVec(r *rand.Rand, n int, s float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = s * r.NormFloat64()
	}
	return v
}

func maxAbsDiffVec(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// runFrom forces x0 with bias b and returns one sample taken after t τ:
// Run(t − period) then Sample(period), as TNGD reads the board.
func runFrom(t *testing.T, b hal.Board, x0, bias []float64, tt float64) []float64 {
	require.NoError(t, b.SetBias(ctx, bias))
	require.NoError(t, b.SetState(ctx, x0))
	d := time.Duration(math.Round(tt * 1000)) // τ = 1 µs
	period := b.Info().MinSamplePeriod
	if d > period {
		require.NoError(t, b.Run(ctx, d-period))
	} else {
		period = d
	}
	out := make([]float64, b.Info().Cells)
	_, err := b.Sample(ctx, period, out)
	require.NoError(t, err)
	return out
}

// The mean after t from x0 (noise off) is e^{−At}x0 + A⁻¹(I − e^{−At})b to
// 1e-10, on both evaluation paths.
func TestTNGDMeanClosedForm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	const cells = 12
	f := smallTNGD(r)
	a := tngdDenseA(f, cells)
	x0, bias := randVec(r, cells, 1), randVec(r, cells, 1)
	for _, method := range []string{"eig", "lanczos"} {
		for _, tt := range []float64{0.25, 3, 40} {
			b := idealTNGD(t, cells, 0, method, 1)
			require.NoError(t, b.SetFactoredCouplings(ctx, f))
			got := runFrom(t, b, x0, bias, tt)
			want := tngdMean(t, a, x0, bias, tt)
			assert.Less(t, maxAbsDiffVec(want, got), 1e-10, "%s, t = %gτ", method, tt)
		}
	}
	// The dense simulator's agreement: dense_test.go.
}

// Over R independent runs from x0, x(t) has mean as above and covariance
// κ₀A⁻¹(I − e^{−2At}). With the exact mean μ subtracted, the sample
// covariance entry Ĉ_ij = (1/R)Σ(x_i−μ_i)(x_j−μ_j) of Gaussian draws has
// standard error sqrt((C_ii C_jj + C_ij²)/R); the sample mean has
// sqrt(C_ii/R). Tolerance 5 standard errors (78 + 12 checks per case).
func TestTNGDCovariance(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	const cells, runs, sigma, tt = 12, 4000, 0.1, 0.7
	f := smallTNGD(r)
	a := tngdDenseA(f, cells)
	x0, bias := randVec(r, cells, 1), randVec(r, cells, 1)
	mu := tngdMean(t, a, x0, bias, tt)
	var e, ma, ie, cov mat.Dense
	ma.Scale(-2*tt, a)
	e.Exp(&ma)
	ie.Sub(eye(cells), &e)
	require.NoError(t, cov.Solve(a, &ie))
	cov.Scale(sigma*sigma, &cov)
	for _, method := range []string{"eig", "lanczos"} {
		b := idealTNGD(t, cells, sigma, method, 3)
		require.NoError(t, b.SetFactoredCouplings(ctx, f))
		sum := make([]float64, cells)
		acc := mat.NewDense(cells, cells, nil)
		for range runs {
			x := runFrom(t, b, x0, bias, tt)
			for i := range cells {
				sum[i] += x[i] / runs
				for j := range cells {
					acc.Set(i, j, acc.At(i, j)+(x[i]-mu[i])*(x[j]-mu[j])/runs)
				}
			}
		}
		for i := range cells {
			require.InDelta(t, mu[i], sum[i], 5*math.Sqrt(cov.At(i, i)/runs), "%s: mean[%d]", method, i)
			for j := range cells {
				se := math.Sqrt((cov.At(i, i)*cov.At(j, j) + cov.At(i, j)*cov.At(i, j)) / runs)
				require.InDelta(t, cov.At(i, j), acc.At(i, j), 5*se, "%s: cov[%d][%d]", method, i, j)
			}
		}
	}
}

// A medium problem (m = 100, N = 1510): Lanczos and the eigendecomposition
// draw the same noise and agree to 1e-9 of the state's scale, for short and
// long runs and for many samples.
func TestTNGDLanczosMatchesEig(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	const cells = 1600
	f := testnum.RandFactorization(r, 20, 5, 1510, [][3]int{{0, 16, 80}, {1280, 5, 46}}, 0.05)
	x0, bias := randVec(r, cells, 0.2), randVec(r, cells, 0.05)
	boards := map[string]*Board{}
	for _, method := range []string{"eig", "lanczos"} {
		b := idealTNGD(t, cells, 1e-2, method, 9)
		require.NoError(t, b.SetFactoredCouplings(ctx, f))
		boards[method] = b
	}
	ge, err := newGramEig(boards["eig"].prog.g, 100)
	require.NoError(t, err)
	t.Logf("G: m = 100, largest eigenvalue %.3g/τ, λ = 0.05/τ", ge.s[len(ge.s)-1])
	for _, tt := range []float64{0.1, 5, 50, 1000} {
		outs := map[string][]float64{}
		for method, b := range boards {
			steps := b.Stats().LanczosSteps
			outs[method] = runFrom(t, b, x0, bias, tt)
			if method == "lanczos" {
				t.Logf("t = %gτ: %d Lanczos steps", tt, b.Stats().LanczosSteps-steps)
			}
		}
		scale := floats.Norm(outs["eig"], math.Inf(1))
		rel := maxAbsDiffVec(outs["eig"], outs["lanczos"]) / scale
		t.Logf("t = %gτ: max |Lanczos − eig| / max |x| = %.2g", tt, rel)
		assert.Less(t, rel, 1e-9, "t = %gτ", tt)
	}
	// Many samples at one period: the eigendecomposition is computed once
	// and cached per duration.
	for _, b := range boards {
		require.NoError(t, b.SetState(ctx, x0))
	}
	rows := 50
	outs := map[string][]float64{}
	for method, b := range boards {
		outs[method] = make([]float64, rows*cells)
		_, err := b.Sample(ctx, 2*time.Microsecond, outs[method])
		require.NoError(t, err)
	}
	assert.Less(t, maxAbsDiffVec(outs["eig"], outs["lanczos"]), 1e-9*floats.Norm(outs["eig"], math.Inf(1)))
	assert.Equal(t, 1, boards["eig"].Stats().Eigendecompositions)
	assert.Zero(t, boards["lanczos"].Stats().Eigendecompositions)
}

// auto switches to the eigendecomposition once Lanczos has spent more
// products with G than it costs, and the answer does not change.
func TestTNGDAutoSwitch(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	const cells = 400
	f := testnum.RandFactorization(r, 20, 4, 380, [][3]int{{0, 10, 38}}, 0.05)
	x0 := randVec(r, cells, 0.2)
	auto := idealTNGD(t, cells, 0, "auto", 1)
	lz := idealTNGD(t, cells, 0, "lanczos", 1)
	outs := [2][]float64{make([]float64, 40*cells), make([]float64, 40*cells)}
	for i, b := range []*Board{auto, lz} {
		require.NoError(t, b.SetFactoredCouplings(ctx, f))
		require.NoError(t, b.SetState(ctx, x0))
		_, err := b.Sample(ctx, 3*time.Microsecond, outs[i])
		require.NoError(t, err)
	}
	assert.Equal(t, 1, auto.Stats().Eigendecompositions, "auto switched")
	assert.Less(t, auto.Stats().LanczosRuns, 40)
	assert.Less(t, maxAbsDiffVec(outs[0], outs[1]), 1e-10)
}

// Board time: programming moves m(m + 2N) 16-bit values, a bias update
// the changed values, a forced state all cells, a sample its period plus
// conversion plus all cells; Run takes its duration.
func TestTNGDTiming(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	p := DefaultProfile()
	p.Cells = 12
	p.LinkBytesPerS = 1e6 // 2 µs per value
	p.ADCConvS = 3e-6
	p.BiasRangeV, p.ADCRangeV = 10, 10
	b, err := New(p, 1)
	require.NoError(t, err)
	f := smallTNGD(r) // m = 6, N = 10
	now := func() time.Duration { d, _ := b.BoardTime(); return d }
	clock := now()
	step := func(want time.Duration, what string) {
		t.Helper()
		assert.Equal(t, want, now()-clock, what)
		clock = now()
	}
	require.NoError(t, b.SetFactoredCouplings(ctx, f))
	step(6*(6+2*10)*2*time.Microsecond, "program")
	bias := make([]float64, 12)
	bias[3], bias[7] = 0.5, -0.25
	require.NoError(t, b.SetBias(ctx, bias))
	step(2*2*time.Microsecond, "bias: two values changed")
	require.NoError(t, b.SetBias(ctx, bias))
	step(0, "bias unchanged")
	require.NoError(t, b.SetState(ctx, make([]float64, 12)))
	step(12*2*time.Microsecond, "state")
	require.NoError(t, b.Run(ctx, 50*time.Microsecond))
	step(50*time.Microsecond, "run")
	_, err = b.Sample(ctx, 5*time.Microsecond, make([]float64, 3*12))
	require.NoError(t, err)
	step(3*(5*time.Microsecond+3*time.Microsecond+12*2*time.Microsecond), "3 samples")
	_, err = b.Sample(ctx, 0, make([]float64, 12))
	require.NoError(t, err)
	step(100*time.Nanosecond+3*time.Microsecond+12*2*time.Microsecond, "one sample at the minimum period")
}

// By default the cells hold while the link is busy; with FreeRun they keep
// relaxing on the old couplings and bias.
func TestTNGDHoldAndFreeRun(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	f := smallTNGD(r)
	x0 := randVec(r, 12, 1)
	for _, free := range []bool{false, true} {
		p := Profile{Cells: 12, TauS: 1e-6, BiasRangeV: 10, ADCRangeV: 10, MinPeriodS: 1e-8,
			LinkBytesPerS: 1e7, FreeRun: free} // 0.2 µs per value: programming takes 52 µs = 52τ
		b, err := New(p, 1)
		require.NoError(t, err)
		require.NoError(t, b.SetState(ctx, x0))
		require.NoError(t, b.SetFactoredCouplings(ctx, f))
		out := make([]float64, 12)
		_, err = b.Sample(ctx, 10*time.Nanosecond, out)
		require.NoError(t, err)
		// Held: x0 then 0.01τ on the new A. Free: 52τ on A = I relaxed x0
		// to ~e^{−52}x0 ≈ 0 first.
		if free {
			assert.Less(t, floats.Norm(out, math.Inf(1)), 1e-6)
		} else {
			want := tngdMean(t, tngdDenseA(f, 12), x0, make([]float64, 12), 0.01)
			assert.Less(t, maxAbsDiffVec(want, out), 1e-12)
		}
	}
}

// Lazy evaluation: Run(a) + Run(b) and a delay on the old couplings give
// the exact composition (noise off).
func TestTNGDRunComposes(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	f1, f2 := smallTNGD(r), smallTNGD(r)
	x0, bias := randVec(r, 12, 1), randVec(r, 12, 1)
	b := idealTNGD(t, 12, 0, "auto", 1)
	require.NoError(t, b.SetFactoredCouplings(ctx, f1))
	require.NoError(t, b.SetBias(ctx, bias))
	require.NoError(t, b.SetState(ctx, x0))
	require.NoError(t, b.Run(ctx, 1*time.Microsecond))
	require.NoError(t, b.Run(ctx, 2*time.Microsecond))
	require.NoError(t, b.SetFactoredCouplings(ctx, f2)) // after 3τ on f1
	out := make([]float64, 12)
	_, err := b.Sample(ctx, 500*time.Nanosecond, out)
	require.NoError(t, err)
	mid := tngdMean(t, tngdDenseA(f1, 12), x0, bias, 3)
	want := tngdMean(t, tngdDenseA(f2, 12), mid, bias, 0.5)
	assert.Less(t, maxAbsDiffVec(want, out), 1e-10)
}

// Cells beyond J.Cols are decoupled: A = λI there.
func TestTNGDDecoupledCells(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	f := smallTNGD(r)
	const cells = 30
	x0, bias := randVec(r, cells, 1), randVec(r, cells, 1)
	b := idealTNGD(t, cells, 0, "auto", 1)
	require.NoError(t, b.SetFactoredCouplings(ctx, f))
	out := runFrom(t, b, x0, bias, 2)
	lam := f.Lambda
	for i := 10; i < cells; i++ {
		want := math.Exp(-2*lam)*x0[i] + (1-math.Exp(-2*lam))/lam*bias[i]
		assert.InDelta(t, want, out[i], 1e-12, "cell %d", i)
	}
	// Before any programming A = I.
	b = idealTNGD(t, cells, 0, "auto", 1)
	out = runFrom(t, b, x0, bias, 2)
	for i := range cells {
		assert.InDelta(t, math.Exp(-2)*x0[i]+(1-math.Exp(-2))*bias[i], out[i], 1e-12)
	}
}

// The caller may reuse its buffers after SetFactoredCouplings.
func TestTNGDCopiesFactorization(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	f := smallTNGD(r)
	x0, bias := randVec(r, 12, 1), randVec(r, 12, 1)
	want := runFrom(t, func() *Board {
		b := idealTNGD(t, 12, 0, "auto", 1)
		require.NoError(t, b.SetFactoredCouplings(ctx, f))
		return b
	}(), x0, bias, 2)
	b := idealTNGD(t, 12, 0, "auto", 1)
	require.NoError(t, b.SetFactoredCouplings(ctx, f))
	for _, blk := range f.J.Blocks {
		floats.Scale(3, blk.Signal)
		floats.Scale(-1, blk.Input)
	}
	floats.Scale(2, f.H)
	assert.Equal(t, want, runFrom(t, b, x0, bias, 2))
}

// Non-idealities, one at a time: off at zero, a visible effect when on,
// and exactly the documented effect (checked against a dense computation
// with the factors realised by hand).

// realisedFact applies the board's DAC quantisation and mismatch to f as
// the documentation describes, for a dense check.
func realisedFact(b *Board, f *hal.Factorization) *hal.Factorization {
	g := *f
	g.J.Blocks = nil
	for bi, blk := range f.J.Blocks {
		blk.Signal = b.realiseArray(blk.Signal, 0, bi)
		blk.Input = b.realiseArray(blk.Input, 1, bi)
		g.J.Blocks = append(g.J.Blocks, blk)
	}
	g.H = b.realiseH(f.H, f.J.RowsPerSample)
	return &g
}

func TestTNGDDACQuantisation(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	f := smallTNGD(r)
	x0, bias := randVec(r, 12, 1), randVec(r, 12, 1)
	ideal := tngdMean(t, tngdDenseA(f, 12), x0, bias, 5)
	for _, bits := range []int{0, 6} {
		b := idealTNGD(t, 12, 0, "auto", 1)
		b.p.DACBits = bits
		require.NoError(t, b.SetFactoredCouplings(ctx, f))
		got := runFrom(t, b, x0, bias, 5)
		if bits == 0 {
			assert.Less(t, maxAbsDiffVec(ideal, got), 1e-10)
			continue
		}
		// Every realised entry is a multiple of its array's step.
		rf := realisedFact(b, f)
		ref := floats.Norm(f.J.Blocks[0].Signal, math.Inf(1))
		step := ref / 31
		for _, v := range rf.J.Blocks[0].Signal {
			assert.InDelta(t, 0, math.Remainder(v, step), 1e-12)
		}
		assert.Greater(t, maxAbsDiffVec(ideal, got), 1e-4, "6-bit factors change the dynamics")
		want := tngdMean(t, tngdDenseA(rf, 12), x0, bias, 5)
		assert.Less(t, maxAbsDiffVec(want, got), 1e-10)
	}
}

func TestTNGDMismatch(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	f := smallTNGD(r)
	x0, bias := randVec(r, 12, 1), randVec(r, 12, 1)
	ideal := tngdMean(t, tngdDenseA(f, 12), x0, bias, 5)
	var outs [][]float64
	for _, c := range []struct {
		tol  float64
		seed uint64
	}{{0, 1}, {0.05, 1}, {0.05, 1}, {0.05, 2}} {
		b := idealTNGD(t, 12, 0, "auto", c.seed)
		b.p.Mismatch = c.tol
		require.NoError(t, b.SetFactoredCouplings(ctx, f))
		got := runFrom(t, b, x0, bias, 5)
		outs = append(outs, got)
		if c.tol == 0 {
			assert.Less(t, maxAbsDiffVec(ideal, got), 1e-10)
			continue
		}
		want := tngdMean(t, tngdDenseA(realisedFact(b, f), 12), x0, bias, 5)
		assert.Less(t, maxAbsDiffVec(want, got), 1e-10)
		assert.Greater(t, maxAbsDiffVec(ideal, got), 1e-3)
	}
	assert.Equal(t, outs[1], outs[2], "mismatch is fixed per seed")
	assert.NotEqual(t, outs[1], outs[3], "and differs between boards")
	// Gains stay within the bound, and H's realised blocks stay symmetric.
	b := idealTNGD(t, 12, 0, "auto", 3)
	b.p.Mismatch = 0.05
	rf := realisedFact(b, f)
	for i, v := range rf.J.Blocks[1].Input {
		assert.InDelta(t, 1, v/f.J.Blocks[1].Input[i], 0.05+1e-15)
	}
	k := f.J.RowsPerSample
	for s := range f.J.Samples() {
		assert.Equal(t, rf.H[s*k*k+1], rf.H[s*k*k+k])
	}
}

func TestTNGDNoiseOnOff(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	f := smallTNGD(r)
	x0, bias := randVec(r, 12, 1), randVec(r, 12, 1)
	run := func(sigma float64, seed uint64) []float64 {
		b := idealTNGD(t, 12, sigma, "auto", seed)
		require.NoError(t, b.SetFactoredCouplings(ctx, f))
		return runFrom(t, b, x0, bias, 1)
	}
	assert.Equal(t, run(0, 1), run(0, 2), "no noise: the seed does not matter")
	assert.NotEqual(t, run(0.01, 1), run(0.01, 2))
	assert.Equal(t, run(0.01, 1), run(0.01, 1), "deterministic for a seed")
	assert.False(t, idealTNGD(t, 12, 0, "auto", 1).Info().Caps.Has(hal.CapNoise))
	assert.True(t, idealTNGD(t, 12, 0.01, "auto", 1).Info().Caps.Has(hal.CapNoise))
}

func TestTNGDADC(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 13))
	x := randVec(r, 12, 0.3)
	read := func(bits int, rangeV float64) ([]float64, error) {
		p := Profile{Cells: 12, TauS: 1e-6, BiasRangeV: 1, ADCRangeV: rangeV, ADCBits: bits, MinPeriodS: 1e-9}
		b, err := New(p, 1)
		require.NoError(t, err)
		require.NoError(t, b.SetState(ctx, x))
		// A = I, b = 0: 1 ns = 0.001τ moves x by 0.1 %; compare with that.
		out := make([]float64, 12)
		_, err = b.Sample(ctx, time.Nanosecond, out)
		for i := range out {
			out[i] -= x[i] * math.Exp(-0.001)
		}
		return out, err
	}
	out, err := read(0, 1)
	require.NoError(t, err)
	assert.Less(t, floats.Norm(out, math.Inf(1)), 1e-15, "continuous ADC reads exactly")
	out, err = read(16, 1)
	require.NoError(t, err)
	lsb := 2.0 / 65536
	assert.LessOrEqual(t, floats.Norm(out, math.Inf(1)), lsb/2+1e-15)
	assert.Greater(t, floats.Norm(out, math.Inf(1)), 1e-7, "16 bits quantise")
	// Range ±0.2 V: the bias drives some cells beyond it; they are clipped
	// and reported, and the samples are still delivered.
	p := Profile{Cells: 12, TauS: 1e-6, BiasRangeV: 1, ADCRangeV: 0.2, ADCBits: 16, MinPeriodS: 1e-9}
	b, err := New(p, 1)
	require.NoError(t, err)
	bias := make([]float64, 12)
	for i := range bias {
		bias[i] = 0.1 * float64(i%5-2) // −0.2 … 0.2: |bias| > 0.2 never, = 0.2 at the top code
	}
	bias[3], bias[8] = 0.5, -0.7
	require.NoError(t, b.SetBias(ctx, bias))
	require.NoError(t, b.Run(ctx, 40*time.Microsecond)) // A = I: x → bias
	dst := make([]float64, 24)
	n, err := b.Sample(ctx, time.Nanosecond, dst)
	assert.Equal(t, 2, n)
	var se *hal.SaturationError
	require.ErrorAs(t, err, &se)
	require.ErrorIs(t, err, hal.ErrSaturated)
	lsb = 0.4 / 65536
	for i := range 12 {
		want := 0
		switch {
		case i == 3 || (bias[i] > 0.2-lsb/2 && i != 8):
			want = 2
			assert.InDelta(t, 0.2-lsb, dst[i], 1e-12, "top code")
		case i == 8:
			want = 2
			assert.Equal(t, -0.2, dst[i])
		}
		assert.Equal(t, want, se.Counts[i], "cell %d (bias %.3f)", i, bias[i])
	}
}

func TestTNGDBiasDAC(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 14))
	f := smallTNGD(r)
	bias := randVec(r, 12, 0.3)
	a := tngdDenseA(f, 12)
	for _, bits := range []int{0, 8} {
		p := Profile{Cells: 12, TauS: 1e-6, BiasRangeV: 1, BiasBits: bits, ADCRangeV: 10, MinPeriodS: 1e-9}
		b, err := New(p, 1)
		require.NoError(t, err)
		require.NoError(t, b.SetFactoredCouplings(ctx, f))
		want := bias
		if bits > 0 {
			lsb := 2.0 / 256
			want = make([]float64, 12)
			for i, v := range bias {
				want[i] = -1 + math.Round((v+1)/lsb)*lsb
			}
			assert.Greater(t, maxAbsDiffVec(want, bias), 1e-4)
		}
		got := runFrom(t, b, make([]float64, 12), bias, 2)
		assert.Less(t, maxAbsDiffVec(tngdMean(t, a, make([]float64, 12), want, 2), got), 1e-12, "bits %d", bits)
	}
}

func TestTNGDBadInput(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 15))
	b := idealTNGD(t, 12, 0.01, "auto", 1)
	f := smallTNGD(r)
	require.ErrorIs(t, b.SetCouplings(ctx, make([]float64, 144)), hal.ErrUnsupported)
	require.ErrorIs(t, b.SetFactoredCouplings(ctx, nil), hal.ErrInvalid)
	big := testnum.RandFactorization(r, 2, 1, 13, [][3]int{{0, 1, 13}}, 0.1)
	require.ErrorIs(t, b.SetFactoredCouplings(ctx, big), hal.ErrDimension, "13 columns on 12 cells")
	bad := smallTNGD(r)
	bad.J.Blocks[0].Signal[3] = math.NaN()
	require.ErrorIs(t, b.SetFactoredCouplings(ctx, bad), hal.ErrInvalid)
	bad = smallTNGD(r)
	bad.Lambda = 0
	require.ErrorIs(t, b.SetFactoredCouplings(ctx, bad), hal.ErrUnstable)
	bad = smallTNGD(r)
	bad.H[0] = -1 // block 0 = [[-1, h], [h, d]] has a negative eigenvalue
	require.ErrorIs(t, b.SetFactoredCouplings(ctx, bad), hal.ErrUnstable)
	overlap := testnum.RandFactorization(r, 3, 2, 10, [][3]int{{0, 2, 3}, {5, 2, 2}}, 0.3) // [0, 6) and [5, 9)
	require.ErrorIs(t, b.SetFactoredCouplings(ctx, overlap), hal.ErrInvalid)
	huge := testnum.RandFactorization(r, 8193, 1, 2, [][3]int{{0, 1, 1}}, 0.1)
	require.ErrorIs(t, b.SetFactoredCouplings(ctx, huge), hal.ErrUnsupported, "m above the cap")
	bad = smallTNGD(r)
	bad.Lambda = 2e6
	require.ErrorIs(t, b.SetFactoredCouplings(ctx, bad), hal.ErrOutOfRange)
	assert.Nil(t, b.prog, "rejected programming changes nothing")

	require.ErrorIs(t, b.SetBias(ctx, make([]float64, 11)), hal.ErrDimension)
	require.ErrorIs(t, b.SetBias(ctx, append(make([]float64, 11), math.Inf(1))), hal.ErrInvalid)
	var re *hal.RangeError
	require.ErrorAs(t, b.SetBias(ctx, append(make([]float64, 11), 11)), &re)
	assert.Equal(t, 11, re.Row)
	require.ErrorIs(t, b.SetState(ctx, append(make([]float64, 11), -20)), hal.ErrOutOfRange)
	require.ErrorIs(t, b.Run(ctx, 0), hal.ErrInvalid)
	_, err := b.Sample(ctx, 0, make([]float64, 13))
	require.ErrorIs(t, err, hal.ErrDimension)
	_, err = b.Sample(ctx, time.Nanosecond, make([]float64, 12))
	require.ErrorIs(t, err, hal.ErrOutOfRange)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, b.Run(cctx, time.Microsecond), context.Canceled)
	_, err = b.Sample(cctx, 0, make([]float64, 12))
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, b.SetFactoredCouplings(cctx, f), context.Canceled)
	_, err = b.Sample(ctx, 0, make([]float64, 12))
	require.NoError(t, err, "usable after cancellation")

	require.NoError(t, b.Close())
	require.NoError(t, b.Close())
	for _, err := range []error{
		b.SetFactoredCouplings(ctx, f), b.SetCouplings(ctx, nil), b.SetBias(ctx, make([]float64, 12)),
		b.SetState(ctx, make([]float64, 12)), b.Run(ctx, time.Microsecond),
	} {
		require.ErrorIs(t, err, hal.ErrClosed)
	}
	_, err = b.Sample(ctx, 0, make([]float64, 12))
	require.ErrorIs(t, err, hal.ErrClosed)
	assert.Equal(t, 12, b.Info().Cells, "Info stays valid after Close")

	for _, p := range []Profile{
		{Cells: 0, TauS: 1e-6, BiasRangeV: 1, ADCRangeV: 1, MinPeriodS: 1e-7},
		{Cells: 2, TauS: 0, BiasRangeV: 1, ADCRangeV: 1, MinPeriodS: 1e-7},
		{Cells: 2, TauS: 1e-6, BiasRangeV: 1, ADCRangeV: 1, MinPeriodS: 1e-7, DACBits: 30},
		{Cells: 2, TauS: 1e-6, BiasRangeV: 1, ADCRangeV: 1, MinPeriodS: 1e-7, Mismatch: -0.1},
		{Cells: 2, TauS: 1e-6, BiasRangeV: 1, ADCRangeV: 1, MinPeriodS: 1e-7, Method: "magic"},
		{Cells: 2, TauS: 1e-6, BiasRangeV: 1, ADCRangeV: 0, MinPeriodS: 1e-7},
	} {
		_, err := New(p, 1)
		require.ErrorIs(t, err, hal.ErrInvalid, "%+v", p)
	}
}

// Lanczos that cannot converge within its cap is an error with method
// lanczos, and falls back to the eigendecomposition with auto.
func TestTNGDNotConverged(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 16))
	f := testnum.RandFactorization(r, 30, 3, 400, [][3]int{{0, 10, 40}}, 0.01)
	x0 := randVec(r, 400, 0.1)
	bias := randVec(r, 400, 0.01)
	for _, method := range []string{"lanczos", "auto"} {
		b := idealTNGD(t, 400, 0, method, 1)
		b.p.LanczosMax = 8
		require.NoError(t, b.SetFactoredCouplings(ctx, f))
		require.NoError(t, b.SetBias(ctx, bias))
		require.NoError(t, b.SetState(ctx, x0))
		require.NoError(t, b.Run(ctx, time.Millisecond))
		out := make([]float64, 400)
		_, err := b.Sample(ctx, 0, out)
		if method == "lanczos" {
			require.ErrorIs(t, err, ErrNotConverged)
			assert.True(t, errors.Is(err, ErrNotConverged))
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, 1, b.Stats().Eigendecompositions)
	}
}

// laterCancelled reports context.Canceled from its n-th Err call on.
type laterCancelled struct {
	context.Context
	calls, n int
}

func (c *laterCancelled) Err() error {
	c.calls++
	if c.calls >= c.n {
		return context.Canceled
	}
	return nil
}

// A cancellation inside a long Lanczos evaluation returns ctx's error,
// leaves the state and the clock as they were, and keeps the interval
// pending: the next Sample gives what an uncancelled board gives.
func TestTNGDCancelDuringTransition(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 17))
	f := testnum.RandFactorization(r, 40, 4, 900, [][3]int{{0, 20, 45}}, 0.01)
	x0, bias := randVec(r, 900, 0.1), randVec(r, 900, 0.01)
	var outs [2][]float64
	for i, cancel := range []bool{false, true} {
		b := idealTNGD(t, 900, 0, "lanczos", 1)
		require.NoError(t, b.SetFactoredCouplings(ctx, f))
		require.NoError(t, b.SetBias(ctx, bias))
		require.NoError(t, b.SetState(ctx, x0))
		require.NoError(t, b.Run(ctx, 30*time.Microsecond))
		outs[i] = make([]float64, 900)
		if cancel {
			clock, _ := b.BoardTime()
			lc := &laterCancelled{Context: ctx, n: 3} // Sample's entry check, the row check, then Lanczos
			_, err := b.Sample(lc, 0, outs[i])
			require.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, 3, lc.calls, "cancelled inside the Lanczos loop")
			after, _ := b.BoardTime()
			assert.Equal(t, clock, after)
			assert.Equal(t, x0, b.x)
		}
		_, err := b.Sample(ctx, 0, outs[i])
		require.NoError(t, err)
		assert.Greater(t, b.Stats().MaxLanczosSteps, 32)
	}
	assert.Equal(t, outs[0], outs[1])
}

// eye is the k × k identity.
func eye(k int) *mat.Dense {
	d := make([]float64, k)
	for i := range d {
		d[i] = 1
	}
	var m mat.Dense
	m.CloneFrom(mat.NewDiagDense(k, d))
	return &m
}

// TestTNGDSaturatedSoftmaxBlock: an H block of a saturated softmax (p ≈
// one-hot: entries ~1e-8, formed as p − p² with round-off ~1e-16 from
// p ≈ 1) whose smallest eigenvalue comes out at −1e-16 is round-off next to
// the batch's other blocks (entries ~0.25) and is accepted; the same
// eigenvalue in a batch of such blocks alone, and a clearly negative one
// beside the large block, are refused. [[d, o], [o, d]] has eigenvalues
// d ± o: d = 1e-8, o = −(1e-8 + 1e-16) gives 2e-8 + 1e-16 and −1e-16.
func TestTNGDSaturatedSoftmaxBlock(t *testing.T) {
	d, o := 1e-8, -(1e-8 + 1e-16)
	sat := []float64{d, o, o, d}
	normal := []float64{0.25, -0.25, -0.25, 0.25} // p = (½, ½): eigenvalues 0.5, 0
	hmax := 0.25
	require.NoError(t, psdCheck(sat, 2, 1, hmax), "−1e-16 ≥ −1e-9 × 0.25")
	require.NoError(t, psdCheck(normal, 2, 0, hmax))
	// Alone, the block's own scale 2e-8 sets the tolerance (−2e-17).
	require.ErrorIs(t, psdCheck(sat, 2, 0, 2e-8+1e-16), hal.ErrUnstable)
	neg := []float64{0.25, -0.2501, -0.2501, 0.25} // eigenvalue −1e-4
	require.ErrorIs(t, psdCheck(neg, 2, 0, hmax), hal.ErrUnstable)
}
