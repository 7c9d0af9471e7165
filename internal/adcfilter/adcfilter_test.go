package adcfilter

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SettledDecay against a fourth-order Runge–Kutta integration of
// y” + √2·ω y' + ω² y = ω² e^{−a·t} from y(0) = 1, y'(0) = 0 (an
// independent derivation: no closed form involved). RK4's global error
// is O(dt⁴): with dt = 1/(2000ω) it is far below the 1e-9 asserted.
func TestSettledDecayAgainstODE(t *testing.T) {
	for _, c := range []struct{ tau, hz, t float64 }{
		{100e-6, 15e3, 25e-6}, {100e-6, 12e3, 5e-6}, {80e-6, 23e3, 100e-6}, {120e-6, 32e3, 60e-6}, {1e-3, 15e3, 250e-6},
	} {
		a, w := 1/c.tau, 2*math.Pi*c.hz
		f := func(s, y, v float64) (float64, float64) {
			return v, w*w*math.Exp(-a*s) - math.Sqrt2*w*v - w*w*y
		}
		n := int(math.Ceil(c.t * w * 2000))
		dt := c.t / float64(n)
		y, v := 1.0, 0.0
		for k := range n {
			s := float64(k) * dt
			k1y, k1v := f(s, y, v)
			k2y, k2v := f(s+dt/2, y+dt/2*k1y, v+dt/2*k1v)
			k3y, k3v := f(s+dt/2, y+dt/2*k2y, v+dt/2*k2v)
			k4y, k4v := f(s+dt, y+dt*k3y, v+dt*k3v)
			y += dt / 6 * (k1y + 2*k2y + 2*k3y + k4y)
			v += dt / 6 * (k1v + 2*k2v + 2*k3v + k4v)
		}
		assert.InDelta(t, y, SettledDecay(a, w, c.t), 1e-9, "τ %g, %g Hz, t %g", c.tau, c.hz, c.t)
	}
	assert.Equal(t, math.Exp(-0.25), SettledDecay(1e4, math.Inf(1), 25e-6), "no filter: the plain decay")
}

// A check's interval rests on the reading decreasing towards the
// unfiltered decay as the corner rises above a bound (selftest's 12 kHz),
// for the sample periods and τ selftest uses (τ = 100 µs ± 20 %).
func TestSettledDecayMonotone(t *testing.T) {
	for _, tau := range []float64{80e-6, 100e-6, 120e-6} {
		for _, h := range []float64{5e-6, 25e-6, 100e-6, 400e-6} {
			prev := SettledDecay(1/tau, 2*math.Pi*12e3, h)
			for hz := 12e3 * 1.01; hz < 1e9; hz *= 1.01 {
				g := SettledDecay(1/tau, 2*math.Pi*hz, h)
				require.LessOrEqual(t, g, prev+1e-15, "τ %g, h %g, %g Hz", tau, h, hz)
				prev = g
			}
			assert.InDelta(t, math.Exp(-h/tau), prev, 1e-5, "τ %g, h %g: towards the plain decay", tau, h)
		}
	}
}
