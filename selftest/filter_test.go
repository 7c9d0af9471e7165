package selftest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/sim"
)

// A proto8 board whose ADC reads through the AD7606's anti-aliasing
// filter passes the force check at both ranges' corners (15 and 23 kHz):
// the first reading after forcing lags the node (on the old check, which
// expected the unfiltered decay, every cell failed: 2.72 V read vs
// 2.31 V expected at 15 kHz). A filter far below the bound (3 kHz) fails
// it: the check still sees a forcing that does not take.
func TestForceThroughADCFilter(t *testing.T) {
	p, err := sim.Builtin("proto8")
	require.NoError(t, err)
	for _, c := range []struct {
		hz   float64
		pass bool
	}{{15e3, true}, {23e3, true}, {3e3, false}} {
		p.ADC.FilterHz = c.hz
		b, err := sim.New(p, 3)
		require.NoError(t, err)
		rep := run(t, b)
		n := 0
		for _, r := range rep.Checks {
			if r.Name == "force" {
				n++
				assert.Equal(t, c.pass, r.Pass, "%g Hz %s: %s, expected %s", c.hz, r.Component, r.Measured, r.Expected)
			}
		}
		assert.Equal(t, 8, n, "one force row per cell")
	}
}
