package spi_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/physic"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/driver/spi/ad5676"
)

// At spi_hz = 50 MHz the AD5676s take their frames at 50 MHz but are read
// back at 25 MHz (ad5676.Bus.ReadHz): the port's limit drops to 25 MHz for
// each read and returns to 50 MHz. The virtual AD5676 refuses a read
// faster than its ReadHz, so the read-backs of Diagnose pass only when
// the limit is enforced; on the old driver (every frame at the connection
// clock) each DAC row is a bus error.
func TestDACReadbackClock(t *testing.T) {
	ctx := context.Background()
	w := spi.DefaultWiring()
	w.SPIHz = 50e6
	b, h := openRecorded(t, w)
	ds, err := b.Diagnose(ctx)
	require.NoError(t, err)
	n := 0
	for _, d := range ds {
		if d.Check == "register write/read-back" {
			n++
			assert.True(t, d.Pass, "%s: %s", d.Component, d.Measured)
		}
	}
	assert.Equal(t, 16, n)
	bias := h.history[w.Bias.Port]
	require.Len(t, bias, 1+2*2*8, "the connection's limit, then down and back up for each of 2 read-backs of 8 channels")
	assert.Equal(t, 50*physic.MegaHertz, bias[0])
	assert.Equal(t, ad5676.Bus.ReadHz, bias[1])
	assert.Equal(t, 50*physic.MegaHertz, bias[len(bias)-1])
	assert.Len(t, h.history[w.Coupling.Port], 1, "the AD5293 reads back at its write clock")
}
