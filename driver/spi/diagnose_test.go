package spi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/driver/spi/virtual"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/sim"
)

// quiet is proto8 without noise or drift, so that two boards programmed
// alike read alike to the LSB.
func quiet(t *testing.T) sim.Profile {
	p := proto8(t)
	p.NoiseV, p.ADC.NoiseV, p.Thermal.StdC, p.Coupling.AgeingPerHour = 0, 0, 0, 0
	return p
}

// program sets a coupling matrix with signs, a bias and a state.
func program(t *testing.T, b hal.Board) {
	ctx := context.Background()
	a := identity(8, 1)
	a[0*8+1], a[3*8+2], a[7*8+6] = 0.25, -0.5, 0.125
	require.NoError(t, b.SetCouplings(ctx, a))
	require.NoError(t, b.SetBias(ctx, []float64{1, -1, 0.5, 0, 0, -0.5, 2, -2}))
	require.NoError(t, b.SetState(ctx, []float64{0.5, 0.5, -1, 1, 0, 0, 3, -3}))
}

// Every check passes on a healthy virtual board, one row per rheostat
// (two checks), DAC channel, the BUSY handshake, every ADC control pin and
// the polarity chain; and Diagnose leaves the board as it was: sampled
// after it, the board reads exactly what an identical board programmed
// alike reads without it (noise and drift off; the state is re-forced).
func TestDiagnoseHealthy(t *testing.T) {
	ctx := context.Background()
	w := withADCPins()
	w.ADC.RangePin = "GPIO12"
	b, err := virtual.Open(ctx, w, quiet(t), 3, nil)
	require.NoError(t, err)
	defer b.Close()
	ref, err := virtual.Open(ctx, w, quiet(t), 3, nil)
	require.NoError(t, err)
	defer ref.Close()
	program(t, b)
	program(t, ref)

	ds, err := b.Diagnose(ctx)
	require.NoError(t, err)
	require.Len(t, ds, 64*2+2*8+1+7+1) // rheostats ×2, DAC channels, BUSY, CONVST RANGE RESET STBY OS0..2, polarity
	count := map[string]int{}
	for _, d := range ds {
		assert.True(t, d.Pass, "%s: %s: measured %s, expected %s", d.Component, d.Check, d.Measured, d.Expected)
		assert.Empty(t, d.Hint, d.Component)
		count[d.Check]++
	}
	assert.Equal(t, map[string]int{"echo and control read-back": 64, "RDAC write/read-back": 64,
		"register write/read-back": 16, "conversion handshake": 1, "pin level": 7, "read-back": 1}, count)
	assert.Equal(t, "AD5293 #5 (A[0][5]) on /dev/spidev1.0", ds[5].Component)
	assert.Contains(t, components(ds), "AD5676 bias ch 3 (cell 3) on /dev/spidev0.0")
	assert.Contains(t, components(ds), "AD7606 BUSY (GPIO27)")
	assert.Contains(t, components(ds), "AD7606 STBY (GPIO6)")
	assert.Contains(t, components(ds), "74HC595 ×8 on /dev/spidev1.1")

	// The state is re-forced at the end of Diagnose; force ref's too.
	require.NoError(t, ref.SetState(ctx, []float64{0.5, 0.5, -1, 1, 0, 0, 3, -3}))
	got, want := make([]float64, 8*4), make([]float64, 8*4)
	_, err = b.Sample(ctx, 50*time.Microsecond, got)
	require.NoError(t, err)
	_, err = ref.Sample(ctx, 50*time.Microsecond, want)
	require.NoError(t, err)
	assert.InDeltaSlice(t, want, got, 10.0/65536, "diagnosed board vs untouched twin (1 LSB)")
}

func components(ds []hal.Diagnostic) []string {
	var c []string
	for _, d := range ds {
		c = append(c, d.Component)
	}
	return c
}

// A rheostat that ignores wiper writes (the rig's stuck-coupling fault)
// fails its RDAC check, named by chain position and element, with a hint;
// every other check passes.
func TestDiagnoseStuckRheostat(t *testing.T) {
	ctx := context.Background()
	b, err := virtual.OpenFault(ctx, spi.DefaultWiring(), proto8(t), 3, nil,
		virtual.Fault{Name: virtual.FaultStuckCoupling, At: 13})
	require.NoError(t, err)
	defer b.Close()
	ds, err := b.Diagnose(ctx)
	require.NoError(t, err)
	var failed []hal.Diagnostic
	for _, d := range ds {
		if !d.Pass {
			failed = append(failed, d)
		}
	}
	require.Len(t, failed, 1)
	assert.Equal(t, "AD5293 #13 (A[1][5]) on /dev/spidev1.0", failed[0].Component)
	assert.Equal(t, "RDAC write/read-back", failed[0].Check)
	assert.True(t, strings.Contains(failed[0].Hint, "ignores writes"), failed[0].Hint)
}

// A closed board cannot be diagnosed.
func TestDiagnoseClosed(t *testing.T) {
	b, err := virtual.Open(context.Background(), spi.DefaultWiring(), proto8(t), 1, nil)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	_, err = b.Diagnose(context.Background())
	require.ErrorIs(t, err, hal.ErrClosed)
}

// Diagnose's RDAC test writes one element's complement at a time, so from
// A = I the programmed matrix stays stable throughout: the virtual rig
// holds no unstable matrix back. (Every code's complement at once put
// every off-diagonal element at full scale; the rig held that back.)
func TestDiagnoseKeepsStable(t *testing.T) {
	ctx := context.Background()
	w := spi.DefaultWiring()
	r, _ := rig(t, w, proto8(t), 4)
	b, err := spi.New(ctx, r, w, nil)
	require.NoError(t, err)
	defer b.Close()
	require.NoError(t, b.SetCouplings(ctx, identity(8, 1)))
	h0 := r.HeldBack()
	ds, err := b.Diagnose(ctx)
	require.NoError(t, err)
	for _, d := range ds {
		assert.True(t, d.Pass, "%s: %s", d.Component, d.Check)
	}
	assert.Equal(t, h0, r.HeldBack(), "no unstable matrix latched")
}
