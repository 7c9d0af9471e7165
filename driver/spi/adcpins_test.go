package spi_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/gpio"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/driver/spi/ad7606"
	"github.com/spukit/spukit/driver/spi/virtual"
)

// withADCPins is the default wiring with the AD7606's RESET, STBY and
// OS[2:0] on host GPIOs.
func withADCPins() spi.Wiring {
	w := spi.DefaultWiring()
	w.ADC.ResetPin, w.ADC.StbyPin = "GPIO5", "GPIO6"
	w.ADC.OSPins = []string{"GPIO13", "GPIO19", "GPIO26"}
	return w
}

// A board whose AD7606 control pins are wired to the host samples: the
// driver takes the ADC out of standby, sets no oversampling and resets it
// at open. The virtual AD7606 starts as the part does before the host
// drives its pins (STBY low: standby; no RESET pulse since power-up) and
// starts no conversion until then, so a driver that leaves the pins alone
// times out on its first sample. Board time at open includes the wake-up
// from shutdown (30 ms), the RESET pulse and t7.
func TestADCControlPinsDrivenAtOpen(t *testing.T) {
	ctx := context.Background()
	w := withADCPins()
	r, _ := rig(t, w, proto8(t), 2)
	b, err := spi.New(ctx, r, w, nil)
	require.NoError(t, err)
	defer b.Close()
	for name, want := range map[string]gpio.Level{"GPIO5": gpio.Low, "GPIO6": gpio.High, "GPIO13": gpio.Low, "GPIO19": gpio.Low, "GPIO26": gpio.Low} {
		p, err := r.Pin(name)
		require.NoError(t, err)
		assert.Equal(t, want, p.Read(), "%s after open", name)
	}
	got := make([]float64, 8)
	_, err = b.Sample(ctx, 100*time.Microsecond, got)
	require.NoError(t, err, "the first conversion after open")
	bt, _ := b.BoardTime()
	assert.GreaterOrEqual(t, bt, ad7606.WakeShutdown+ad7606.ResetWidth+ad7606.ResetToConvst)
}

// adc.oversampling sets OS[2:0] to log2(ratio) at open (4: 010) and the
// board samples with conversion_s covering t_CONV max for it; Diagnose
// reads the pins at those levels.
func TestADCOversampling(t *testing.T) {
	ctx := context.Background()
	w := withADCPins()
	w.ADC.Oversampling = 4
	tconv, ok := ad7606.ConversionTime(2)
	require.True(t, ok)
	w.ADC.ConversionS = tconv.Seconds()
	r, _ := rig(t, w, proto8(t), 2)
	b, err := spi.New(ctx, r, w, nil)
	require.NoError(t, err)
	defer b.Close()
	for name, want := range map[string]gpio.Level{"GPIO13": gpio.Low, "GPIO19": gpio.High, "GPIO26": gpio.Low} {
		p, err := r.Pin(name)
		require.NoError(t, err)
		assert.Equal(t, want, p.Read(), "%s after open", name)
	}
	got := make([]float64, 8)
	_, err = b.Sample(ctx, 100*time.Microsecond, got)
	require.NoError(t, err)
	ds, err := b.Diagnose(ctx)
	require.NoError(t, err)
	for _, d := range ds {
		assert.True(t, d.Pass, "%s %s: %s", d.Component, d.Check, d.Measured)
	}
}

// Without the control pins nothing changes: the same board opens through
// virtual.Open with the default wiring and samples (the straps are the
// board's, and its power-on reset circuit).
func TestADCStrappedPins(t *testing.T) {
	ctx := context.Background()
	b, err := virtual.Open(ctx, spi.DefaultWiring(), proto8(t), 2, nil)
	require.NoError(t, err)
	defer b.Close()
	got := make([]float64, 8)
	_, err = b.Sample(ctx, 100*time.Microsecond, got)
	require.NoError(t, err)
}
