package spi

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The cell limit and its message come from the chosen chips' rows of the
// wiring table, not from a constant: the reference chips give 8, and a
// 4-channel ADC row would give 4, named in the message.
func TestCellLimitFromChipRows(t *testing.T) {
	w := DefaultWiring()
	w.Cells = 9
	assert.ErrorContains(t, w.Validate(), "cells = 9, want 1..8 (one AD5676 and one AD7606 serve at most 8 cells)")

	row := adcChips[ChipAD7606]
	row.channels = 4
	adcChips["adc4"] = row
	t.Cleanup(func() { delete(adcChips, "adc4") })
	w = DefaultWiring()
	w.ADC.Chip = "adc4"
	err := w.Validate()
	assert.ErrorContains(t, err, "cells = 8, want 1..4 (one AD5676 and one ADC4 serve at most 4 cells)")
	assert.ErrorContains(t, err, "adc.channels[4] = 4, want a distinct channel 0..3", "channels checked against the chosen ADC's")

	w = DefaultWiring()
	w.Bias.Chip, w.State.Chip, w.ADC.Chip = "x", "y", "z"
	w.Cells = 9
	err = w.Validate()
	assert.ErrorContains(t, err, "cells = 9, want 1..8 (one AD5676 and one AD7606 serve at most 8 cells)",
		"an unknown chip counts as the widest of its role")
	assert.ErrorContains(t, err, `adc.chip = "z"`)
}
