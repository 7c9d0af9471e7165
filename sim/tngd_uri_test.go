package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/sim/tngd"
)

// The "sim" scheme hands sim:tngd and its options to package sim/tngd.
func TestTNGDURI(t *testing.T) {
	b, err := hal.Open(ctx, "sim:tngd")
	require.NoError(t, err)
	in := b.Info()
	assert.Equal(t, 100000, in.Cells)
	assert.Equal(t, "sim/tngd", in.Model)
	assert.Equal(t, "SIM-TNGD-1", in.Serial)
	assert.Equal(t, time.Microsecond, in.Tau)
	assert.InDelta(t, 1e-3, in.Noise, 1e-18)
	assert.Equal(t, 16, in.ADC.Bits)
	require.NoError(t, in.Validate())
	_, ok := b.(hal.Factored)
	assert.True(t, ok)
	_, ok = hal.BoardTime(b)
	assert.True(t, ok)

	b, err = hal.Open(ctx, "sim:tngd?cells=16&noise=0&adc_bits=0&seed=4")
	require.NoError(t, err)
	p := b.(*tngd.Board).Profile()
	assert.Equal(t, 16, p.Cells)
	assert.Zero(t, p.NoiseV)
	assert.Zero(t, p.ADCBits)
	assert.Equal(t, 16, p.DACBits)
	assert.Equal(t, "SIM-TNGD-4", b.Info().Serial)

	b, err = hal.Open(ctx, "sim:tngd?bits=0&adc_bits=12&kappa=1e-4&mismatch=0.01&link=0&freerun=1&method=lanczos&lanczos_tol=1e-12&lanczos_max=50&tau=2e-6&adc_range=2&bias_range=3&adc_conv=0&min_period=1e-6")
	require.NoError(t, err)
	p = b.(*tngd.Board).Profile()
	assert.Equal(t, tngd.Profile{Cells: 100000, TauS: 2e-6, NoiseV: 0.01, DACBits: 0, Mismatch: 0.01, BiasBits: 0,
		BiasRangeV: 3, ADCBits: 12, ADCRangeV: 2, MinPeriodS: 1e-6, FreeRun: true,
		Method: "lanczos", LanczosTol: 1e-12, LanczosMax: 50}, p)

	for _, uri := range []string{
		"sim:tngd?colour=1", "sim:tngd?cells=x", "sim:tngd?cells=0", "sim:tngd?cells=2000000",
		"sim:tngd?noise=-1", "sim:tngd?noise=1e-3&kappa=1e-6", "sim:tngd?kappa=-1", "sim:tngd?seed=-1",
		"sim:tngd?freerun=maybe", "sim:tngd?method=qr", "sim:tngd?noise=NaN",
	} {
		_, err := hal.Open(ctx, uri)
		require.ErrorIs(t, err, hal.ErrInvalid, uri)
	}
}
