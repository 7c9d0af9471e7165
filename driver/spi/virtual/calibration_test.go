package virtual

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/hal/haltest"
)

// Calibrating through the SPI driver measures the same hidden parts as
// calibrating the simulator directly (same seed): ADC gains and offsets and
// the coupling element gains agree within 5 combined standard errors,
// sqrt(se_spi² + se_sim²). The two runs sample at different periods (17 µs
// vs 5 µs) and see different noise, so only the statistics can agree. The
// calibration's standard errors run ≈ 20 % optimistic (docs/calibration.md),
// so 5 nominal SE are ≈ 4 true ones: over the 80 quantities compared the
// chance of a false failure is ≈ 80·6e-5 ≈ 5e-3, and the seeds are fixed.
func TestCalibrationThroughSPI(t *testing.T) {
	if testing.Short() {
		t.Skip("calibrates twice")
	}
	ctx := context.Background()
	opts := &calibration.Options{Seed: 1, Events: 16000, BiasTaus: 300}
	cal := func(uri string) *calibration.Calibration {
		c, err := calibration.Calibrate(ctx, haltest.Open(t, uri), opts)
		require.NoError(t, err, uri)
		return c
	}
	spi, sim := cal("spi+sim:proto8?seed=6"), cal("sim:proto8?seed=6")
	assert.Equal(t, sim.Board.Serial, spi.Board.Serial, "the virtual board carries the simulator's serial")
	within := func(what string, a, sa, b, sb []float64) {
		for i := range a {
			tol := 5 * math.Hypot(sa[i], sb[i])
			assert.InDelta(t, b[i], a[i], tol, "%s[%d]", what, i)
		}
	}
	within("adc gain", spi.ADC.Gain, spi.ADC.GainSE, sim.ADC.Gain, sim.ADC.GainSE)
	within("adc offset", spi.ADC.Offset, spi.ADC.OffsetSE, sim.ADC.Offset, sim.ADC.OffsetSE)
	within("coupling gain", spi.Couplings.Gain, spi.Couplings.GainSE, sim.Couplings.Gain, sim.Couplings.GainSE)
	t.Logf("board time: spi %.1f s, sim %.1f s", spi.Cost.BoardTimeS, sim.Cost.BoardTimeS)
}
