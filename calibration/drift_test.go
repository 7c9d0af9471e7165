package calibration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/spukit/spukit/driver/serial"
	"github.com/spukit/spukit/emu"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
)

// testdata/drifty.json is proto8 with a coupling tempco of ±3000 ppm/°C, a
// 3 °C temperature walk and ageing of up to ±2·10⁻³/h (slowing after a
// knee of 5 h: 5·ln(1.6) = 2.35 h's worth in three hours): after three simulated hours
// the elements have moved by about a percent, as an uncalibrated board is
// off. The check must notice, and recalibrating must restore the accuracy.
func TestDriftDetectedAndRecalibrated(t *testing.T) {
	ctx := context.Background()
	b := haltest.Open(t, "sim:testdata/drifty.json?seed=7")
	o := Options{Events: 30000}
	cal, err := Calibrate(ctx, b, &o)
	require.NoError(t, err)
	rep, err := Check(ctx, b, cal, nil)
	require.NoError(t, err)
	assert.True(t, rep.Holds, "fresh: %+v", rep)

	w, err := Wrap(b, cal, &WrapOptions{Dither: true})
	require.NoError(t, err)
	fresh := solveErr(t, w, 1, 2500*time.Millisecond)

	require.NoError(t, b.Run(ctx, 3*time.Hour))
	rep, err = Check(ctx, b, cal, nil)
	require.NoError(t, err)
	assert.False(t, rep.Holds, "after 3 h: %+v", rep)
	stale := solveErr(t, w, 1, 2500*time.Millisecond)

	cal2, err := Calibrate(ctx, b, &o)
	require.NoError(t, err)
	require.NoError(t, w.SetCalibration(cal2))
	rep, err = Check(ctx, b, cal2, nil)
	require.NoError(t, err)
	assert.True(t, rep.Holds, "recalibrated: %+v", rep)
	again := solveErr(t, w, 1, 2500*time.Millisecond)
	t.Logf("relative error: fresh %.3g, after 3 h %.3g, recalibrated %.3g", fresh, stale, again)
	// The drift makes the stale calibration several times worse than the
	// fresh one, and recalibrating removes most of that again. (Single
	// solves scatter by about a factor 2 around their typical error, so
	// the factors asked for are 3, not 10; the uncalibrated board is off by
	// 4–13 % on this problem class, bounding 'again' by 2 % is 2–6× better.)
	assert.Greater(t, stale, 3*fresh)
	assert.Less(t, again, stale/3)
	assert.Less(t, again, 0.02)
}

// Calibrating through serial:// against the emulator measures exactly what
// calibrating the simulator directly with the same seed measures: the
// forced states, biases and couplings are chosen on the converters' code
// grids, so the wire's integer codes lose nothing. Only the description
// (firmware string, no temperature) and the cost differ.
func TestSerialGivesTheSameCalibration(t *testing.T) {
	ctx := context.Background()
	sb := haltest.Open(t, "sim:proto8?seed=4")
	e, err := emu.Serve(ctx, sb, "", emu.Faults{}, 1)
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() }) // after the serial board's Close (cleanups run last-in first-out)
	viaSerial := haltest.Open(t, "serial://"+e.Path)
	direct := haltest.Open(t, "sim:proto8?seed=4")
	o := Options{Events: 1200, Probes: 4, BiasLevels: 4, BiasTaus: 100}
	a, err := Calibrate(ctx, direct, &o)
	require.NoError(t, err)
	b, err := Calibrate(ctx, viaSerial, &o)
	require.NoError(t, err)
	for _, part := range []struct {
		name string
		x, y any
	}{{"adc", a.ADC, b.ADC}, {"bias_dac", a.Bias, b.Bias}, {"couplings", a.Couplings, b.Couplings}, {"cells", a.Cells, b.Cells},
		{"success", a.Success, b.Success}, {"boundary_hits", a.BoundaryHits, b.BoundaryHits}} {
		x, err := json.Marshal(part.x)
		require.NoError(t, err)
		y, err := json.Marshal(part.y)
		require.NoError(t, err)
		assert.Equal(t, string(x), string(y), part.name)
	}
	assert.Equal(t, a.Board.Serial, b.Board.Serial)
	assert.Equal(t, a.Cost.Events, b.Cost.Events)
	// The serial calibration applies to the simulator it came from.
	_, err = Wrap(direct, b, nil)
	require.NoError(t, err)
	var _ hal.Board = viaSerial
}
