package calibration

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// −log(e^{−Mh})/h recovers a non-normal stable M for sample periods up to
// well beyond where the plain series (‖I − Φ‖ < 1/2) stops, compared with
// gonum's matrix exponential.
func TestLogmInvertsExp(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const k = 6
	m := mat.NewDense(k, k, nil)
	for i := range k {
		for j := range k {
			v := 0.4 * r.NormFloat64()
			if i == j {
				v = 2 + r.Float64()
			}
			m.Set(i, j, v)
		}
	}
	for _, h := range []float64{0.05, 0.17, 0.5, 1.0} {
		var mh, phi mat.Dense
		mh.Scale(-h, m)
		phi.Exp(&mh)
		var x mat.Dense
		x.Sub(identityDense(k), &phi)
		l, err := logm(append([]float64(nil), phi.RawMatrix().Data...), k)
		require.NoError(t, err, "h = %g (‖I − Φ‖ = %.2f)", h, mat.Norm(&x, 2))
		for i := range k {
			for j := range k {
				// Conditioning of log at Φ: a few ulps times e^{‖M‖h}.
				assert.InDelta(t, m.At(i, j), l[i*k+j]/h, 1e-9, "h = %g, M[%d][%d]", h, i, j)
			}
		}
	}
}

// A negative real eigenvalue (Φ = e^{−Mh} with h·Im λ = π) has no real
// logarithm: reported, not returned wrong.
func TestLogmRefusesNegativeEigenvalue(t *testing.T) {
	_, err := logm([]float64{-0.5, 0, 0, 0.5}, 2)
	require.Error(t, err)
}

// White read noise of variance N on top of an AR(1) process leaves the
// signature E[e_k e_{k+1}ᵀ] = −NΦᵀ in the regression residuals; readNoise
// recovers N. Per channel the lag-1 covariance estimate has standard error
// ≈ var(e)/√n₁ with var(e) = q + n(1 + φ²), so N's is that over φ; the
// test allows 5 of them.
func TestReadNoiseFromLag1(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	phi := []float64{0.9, 0.05, 0, 0.8}
	q := []float64{1e-2, 1e-2}
	nn := []float64{4e-4, 1e-4}
	reg := newRegression(2)
	const transients, window = 20000, 50
	rd := make([]float64, 2*window)
	for range transients {
		x := []float64{r.NormFloat64(), r.NormFloat64()}
		for w := range window {
			rd[2*w], rd[2*w+1] = x[0]+math.Sqrt(nn[0])*r.NormFloat64(), x[1]+math.Sqrt(nn[1])*r.NormFloat64()
			x = []float64{phi[0]*x[0] + phi[1]*x[1] + math.Sqrt(q[0])*r.NormFloat64(), phi[3]*x[1] + math.Sqrt(q[1])*r.NormFloat64()}
		}
		reg.addTransient(rd, window)
	}
	f, err := reg.solve()
	require.NoError(t, err)
	got, err := readNoise(f, 2)
	require.NoError(t, err)
	n1 := float64(transients * (window - 2))
	for i, want := range nn {
		ph := phi[i*2+i]
		se := (q[i] + want*(1+ph*ph)) / math.Sqrt(n1) / ph
		assert.InDelta(t, want, got[i], 5*se, "channel %d", i)
	}
}

// addWindows computes the window moments from running lag sums; they must
// equal their definition: Σ_w Z_wZ_wᵀ over every run Z_w = (r_w, …,
// r_{w+5}, 1) of a transient, and the first earlyWindows runs' sums,
// unweighted and weighted by w. Two transients, one shorter than
// earlyWindows runs, so the ranges are exercised at both ends.
func TestWindowMomentsMatchDefinition(t *testing.T) {
	const k = 3
	rng := rand.New(rand.NewPCG(1, 2))
	r := newRegression(k)
	n := filterSpan*k + 1
	want := make([]float64, n*n)
	for _, window := range []int{17, 9} {
		buf := make([]float64, window*k)
		for i := range buf {
			buf[i] = rng.NormFloat64()
		}
		r.addWindows(buf, window)
		sum, sum1 := make([]float64, n), make([]float64, n)
		for w := 0; w+filterSpan <= window; w++ {
			z := append(append([]float64(nil), buf[w*k:(w+filterSpan)*k]...), 1)
			for a := range n {
				for b := a; b < n; b++ {
					want[a*n+b] += z[a] * z[b]
				}
				if w < earlyWindows {
					sum[a] += z[a]
					sum1[a] += float64(w) * z[a]
				}
			}
		}
		for a := range n {
			assert.InDelta(t, sum[a], r.sumw[a], 1e-12, "window %d: sumw[%d]", window, a)
			assert.InDelta(t, sum1[a], r.sumw1[a], 1e-12, "window %d: sumw1[%d]", window, a)
		}
	}
	for a := range n {
		for b := a; b < n; b++ {
			assert.InDelta(t, want[a*n+b], r.sw[a*n+b], 1e-11, "sw[%d,%d]", a, b)
		}
	}
	assert.Equal(t, 12+4, r.nw)
}
