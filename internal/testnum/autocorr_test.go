package testnum

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An AR(1) series x_t = φ x_{t−1} + e_t has variance 1/(1 − φ²) (unit e)
// and integrated autocorrelation time (1 + φ)/(1 − φ), so the mean's
// standard error is sqrt(τ_int/((1 − φ²) N)). The estimate of τ_int from
// one series of N = 2·10⁵ has a relative error of about
// sqrt(2(2W + 1)/N)/2 ≈ 3 % at W ≈ 5·19 (Sokal): 15 % is 5 of those.
func TestMeanSEAR1(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, phi := range []float64{0, 0.5, 0.9} {
		const n = 200000
		y := make([]float64, n)
		x := 0.0
		for i := range y {
			x = phi*x + r.NormFloat64()
			y[i] = x + 7
		}
		mean, se := MeanSE(y)
		want := math.Sqrt((1 + phi) / (1 - phi) / (1 - phi*phi) / n)
		assert.InEpsilon(t, want, se, 0.15, "φ = %g", phi)
		assert.InDelta(t, 7, mean, 5*want, "φ = %g", phi)
	}
}

func TestMeanSEShort(t *testing.T) {
	m, se := MeanSE([]float64{2})
	require.Equal(t, 2.0, m)
	require.True(t, math.IsInf(se, 1))
	m, se = MeanSE([]float64{3, 3, 3})
	require.Equal(t, 3.0, m)
	require.Equal(t, 0.0, se)
}
