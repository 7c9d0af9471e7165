package spi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	pspi "periph.io/x/conn/v3/spi"
)

// The clocks and modes each chip runs at, as the driver had them before
// the chips owned their bus limits: a change here needs a datasheet
// reason (the AD7606's mode 2: ad7606.Bus's comment).
func TestChipBusUnchanged(t *testing.T) {
	for chip, want := range map[string]struct {
		hz   float64
		mode pspi.Mode
	}{
		ChipAD5676: {50e6, pspi.Mode1}, ChipAD5293: {50e6, pspi.Mode1}, ChipAD5450: {50e6, pspi.Mode1},
		ChipHC595: {20e6, pspi.Mode0}, ChipAD7606: {23.5e6, pspi.Mode2},
	} {
		assert.Equal(t, want.hz, ClockHz(chip, 1e9), chip)
		assert.Equal(t, 10e6, ClockHz(chip, 10e6), chip)
		assert.Equal(t, want.mode, chipBus(chip).Mode, chip)
		assert.True(t, chipBus(chip).Accepts(want.mode), chip)
	}
	assert.Zero(t, ClockHz("ad9999", 10e6), "a chip the table does not hold")
}

func TestChipNames(t *testing.T) {
	assert.Equal(t, `"a"`, chipNames(map[string]int{"a": 1}))
	assert.Equal(t, `"a" or "b"`, chipNames(map[string]int{"b": 1, "a": 2}))
	assert.Equal(t, `"a", "b" or "c"`, chipNames(map[string]int{"c": 1, "a": 2, "b": 3}))
}
