package tngd

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// filterTNGD is idealTNGD with the ADC filter at hz.
func filterTNGD(t *testing.T, cells int, sigma, hz float64, seed uint64) *Board {
	p := Profile{Cells: cells, TauS: 1e-6, NoiseV: sigma, BiasRangeV: 10, ADCRangeV: 10, MinPeriodS: 1e-8, ADCFilterHz: hz}
	b, err := New(p, seed)
	require.NoError(t, err)
	return b
}

// A cell of rate a (power-up: A = I, a = 1/τ) read through the filter
// has the stationary variance of the dense board's TestADCFilterVariance,
// with σ² = κ₀/a (dx = −ax dt + sqrt(2κ₀) dW):
//
//	Var(v) = (κ₀/a)·ω(a + √2ω)/(√2(a² + √2ωa + ω²)),
//
// half of κ₀/a at ω = a (f = 1/(2πτ) ≈ 159 kHz). 20 000 independent cells,
// 4 readings 20τ apart: n = 80 000, a sample variance's relative standard
// error √(2/n) = 0.5 %; 5 of them (2.5 %) separate 0.5 from the old
// board's 1 by far.
func TestTNGDFilterVariance(t *testing.T) {
	const cells, rows, sigma = 20000, 4, 0.01
	hz := 1 / (2 * math.Pi * 1e-6)
	b := filterTNGD(t, cells, sigma, hz, 4)
	require.NoError(t, b.Run(ctx, 20*time.Microsecond))
	out := make([]float64, rows*cells)
	_, err := b.Sample(ctx, 20*time.Microsecond, out)
	require.NoError(t, err)
	n := float64(len(out))
	var m2 float64
	for _, v := range out {
		m2 += v * v / n // the mean is 0 (no bias)
	}
	a, w := 1.0, 1.0
	want := sigma * sigma / a * w * (a + math.Sqrt2*w) / (math.Sqrt2 * (a*a + math.Sqrt2*w*a + w*w))
	require.InDelta(t, want, m2, 5*want*math.Sqrt(2/n), "variance %.4g, closed form %.4g (unfiltered %.4g)", m2, want, sigma*sigma/a)
}

// filterDense is the augmented drift of cells and filters for a dense A,
// s = [x; v; u] (N each), ds = F s dt + [b; 0; 0] dt + noise on x.
func filterDense(a *mat.Dense, w float64) *mat.Dense {
	n, _ := a.Dims()
	f := mat.NewDense(3*n, 3*n, nil)
	for i := range n {
		for j := range n {
			f.Set(i, j, -a.At(i, j))
		}
		f.Set(n+i, 2*n+i, w)
		f.Set(2*n+i, i, w)
		f.Set(2*n+i, n+i, -w)
		f.Set(2*n+i, 2*n+i, -math.Sqrt2*w)
	}
	return f
}

// With a program (A = λI + UᵀU, the push-through path), readings after t
// from a forced state have the mean and covariance of the augmented linear
// system, formed densely here: mean e^{Ft}s0 + ∫₀ᵗe^{Fr}dr·[b; 0; 0] and
// covariance ∫₀ᵗ e^{Fr}Qe^{Fᵀr}dr (Van Loan on the 3N × 3N drift), the
// v block read. s0 = [x0; x0; 0] (SetState settles the filters). 4000
// runs: 5 standard errors of a mean and of a Gaussian covariance entry.
// The old board read x, whose covariance at ω = 1 is about twice as
// large.
func TestTNGDFilterCovariance(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	const cells, runs, sigma, tt = 12, 4000, 0.1, 0.7
	hz := 1 / (2 * math.Pi * 1e-6) // ω = 1/τ
	f := smallTNGD(r)
	a := tngdDenseA(f, cells)
	x0, bias := randVec(r, cells, 1), randVec(r, cells, 1)
	fd := filterDense(a, 1)
	n3 := 3 * cells
	// Mean: exp([[F, B], [0, 0]]·t) with B = [I; 0; 0] applied to b.
	mm := mat.NewDense(n3+cells, n3+cells, nil)
	for i := range n3 {
		for j := range n3 {
			mm.Set(i, j, fd.At(i, j)*tt)
		}
	}
	for i := range cells {
		mm.Set(i, n3+i, tt)
	}
	var em mat.Dense
	em.Exp(mm)
	s0 := make([]float64, n3+cells)
	copy(s0, x0)
	copy(s0[cells:], x0)
	copy(s0[n3:], bias)
	var mean mat.VecDense
	mean.MulVec(&em, mat.NewVecDense(n3+cells, s0))
	// Covariance: Van Loan.
	vl := mat.NewDense(2*n3, 2*n3, nil)
	for i := range n3 {
		for j := range n3 {
			vl.Set(i, j, -fd.At(i, j)*tt)
			vl.Set(n3+i, n3+j, fd.At(j, i)*tt)
		}
	}
	for i := range cells {
		vl.Set(i, n3+i, 2*sigma*sigma*tt)
	}
	var ev, cov mat.Dense
	ev.Exp(vl)
	cov.Mul(ev.Slice(n3, 2*n3, n3, 2*n3).T(), ev.Slice(0, n3, n3, 2*n3))

	b := filterTNGD(t, cells, sigma, hz, 3)
	require.NoError(t, b.SetFactoredCouplings(ctx, f))
	sum := make([]float64, cells)
	acc := mat.NewDense(cells, cells, nil)
	mu := func(i int) float64 { return mean.AtVec(cells + i) }
	for range runs {
		x := runFrom(t, b, x0, bias, tt)
		for i := range cells {
			sum[i] += x[i] / runs
			for j := range cells {
				acc.Set(i, j, acc.At(i, j)+(x[i]-mu(i))*(x[j]-mu(j))/runs)
			}
		}
	}
	c := func(i, j int) float64 { return cov.At(cells+i, cells+j) }
	for i := range cells {
		require.InDelta(t, mu(i), sum[i], 5*math.Sqrt(c(i, i)/runs), "mean[%d]", i)
		for j := range cells {
			se := math.Sqrt((c(i, i)*c(j, j) + c(i, j)*c(i, j)) / runs)
			require.InDelta(t, c(i, j), acc.At(i, j), 5*se, "cov[%d][%d]", i, j)
		}
	}
}

// The filter's option and its bounds: negative or non-finite corners and
// method=lanczos (the filter takes the eigendecomposition path) are
// hal.ErrInvalid naming the field.
func TestTNGDFilterOption(t *testing.T) {
	b, err := open("sim:tngd?cells=10&adc_filter=2e5")
	require.NoError(t, err)
	require.Equal(t, 2e5, b.Profile().ADCFilterHz)
	for _, uri := range []string{"sim:tngd?cells=10&adc_filter=-1", "sim:tngd?cells=10&adc_filter=1e13",
		"sim:tngd?cells=10&adc_filter=2e5&method=lanczos"} {
		_, err := open(uri)
		require.ErrorIs(t, err, hal.ErrInvalid, uri)
		require.Contains(t, err.Error(), "adc_filter", uri)
	}
}
