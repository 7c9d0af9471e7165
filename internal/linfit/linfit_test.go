package linfit

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Points on an exact line give that line with zero residual and zero
// standard errors; too few points or a constant x give ok = false.
func TestLine(t *testing.T) {
	g, o, gse, ose, rms, ok := Line([]float64{-1, 0, 1, 2}, []float64{-1, 1, 3, 5})
	require.True(t, ok)
	assert.InDelta(t, 2, g, 1e-12)
	assert.InDelta(t, 1, o, 1e-12)
	assert.InDelta(t, 0, gse+ose+rms, 1e-12)
	_, _, _, _, _, ok = Line([]float64{1, 2}, []float64{1, 2})
	assert.False(t, ok)
	_, _, _, _, _, ok = Line([]float64{1, 1, 1}, []float64{1, 2, 3})
	assert.False(t, ok)
}

// Residuals ±1 about y = x at x = 0, 1, 2, 3 (signs +,−,−,+ keep the fit
// at g = 1, o = 0): ss = 4, s² = ss/(n−2) = 2, sxx = 5, so se(g) = √(2/5)
// and se(o) = √(2·(1/4 + 1.5²/5)) = √1.4; rms = √(4/4) = 1.
func TestLineErrors(t *testing.T) {
	g, o, gse, ose, rms, ok := Line([]float64{0, 1, 2, 3}, []float64{1, 0, 1, 4})
	require.True(t, ok)
	assert.InDelta(t, 1, g, 1e-12)
	assert.InDelta(t, 0, o, 1e-12)
	assert.InDelta(t, math.Sqrt(0.4), gse, 1e-12)
	assert.InDelta(t, math.Sqrt(1.4), ose, 1e-12)
	assert.InDelta(t, 1, rms, 1e-12)
}

// MeanSD uses n − 1: {1, 2, 3} has mean 2 and sd 1; one value has sd 0.
func TestMeanSD(t *testing.T) {
	m, s := MeanSD([]float64{1, 2, 3})
	assert.InDelta(t, 2, m, 1e-15)
	assert.InDelta(t, 1, s, 1e-15)
	m, s = MeanSD([]float64{7})
	assert.Equal(t, 7.0, m)
	assert.Equal(t, 0.0, s)
}

// LineSE at x = −1, 0, 1 and σ = 1: x̄ = 0, Sxx = 2, so the slope's
// standard error is 1/√2 and the intercept's √(1/3) (σ/√n at x̄ = 0); and
// with σ set to Line's residual estimate it gives Line's own errors.
func TestLineSE(t *testing.T) {
	gse, ose := LineSE([]float64{-1, 0, 1}, 1)
	assert.InDelta(t, 1/math.Sqrt2, gse, 1e-15)
	assert.InDelta(t, math.Sqrt(1.0/3), ose, 1e-15)
	x, y := []float64{0, 1, 2, 4}, []float64{0.1, 0.9, 2.2, 3.9}
	_, _, lg, lo, rms, ok := Line(x, y)
	require.True(t, ok)
	sigma := rms * math.Sqrt(4.0/2) // Line's s² = Σr²/(n − 2), rms² = Σr²/n
	gse, ose = LineSE(x, sigma)
	assert.InDelta(t, lg, gse, 1e-12)
	assert.InDelta(t, lo, ose, 1e-12)
}

// Interp is linear between the points and holds the ends outside them.
func TestInterp(t *testing.T) {
	xs, ys := []float64{-1, 0, 2}, []float64{1, 3, -1}
	for _, c := range []struct{ x, want float64 }{{-5, 1}, {-1, 1}, {-0.5, 2}, {0, 3}, {1.5, 0}, {2, -1}, {9, -1}} {
		assert.InDelta(t, c.want, Interp(xs, ys, c.x), 1e-15, "x = %g", c.x)
	}
	assert.Zero(t, Interp(nil, nil, 1))
}
