package spi_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/hal"
)

func TestDefaultWiringRoundTrip(t *testing.T) {
	w := spi.DefaultWiring()
	require.NoError(t, w.Validate())
	assert.Len(t, w.Coupling.Elements, 64, "general 8-cell board: one element per entry")
	data, err := json.Marshal(w)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "ref8.json")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	got, err := spi.LoadWiring(path)
	require.NoError(t, err)
	assert.Equal(t, w, got)
}

// Every bad field is named with what it should be.
func TestWiringErrors(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(w *spi.Wiring)
		want   string
	}{
		{"cells", func(w *spi.Wiring) { w.Cells = 9 }, "cells = 9, want 1..8"},
		{"tau", func(w *spi.Wiring) { w.TauS = 0 }, "tau_s = 0"},
		{"clock", func(w *spi.Wiring) { w.SPIHz = 100e6 }, "spi_hz = 1e+08, want 1e3..50e6"},
		{"bias chip", func(w *spi.Wiring) { w.Bias.Chip = "ad5686" }, `bias.chip = "ad5686", want "ad5676"`},
		{"bias channel", func(w *spi.Wiring) { w.Bias.Channels[3] = 2 }, "bias.channels[3] = 2, want a distinct channel 0..7"},
		{"bias range", func(w *spi.Wiring) { w.Bias.MinV = 5 }, "bias range [5, 5] V"},
		{"force pin", func(w *spi.Wiring) { w.State.ForcePin = "" }, "state.force_pin is empty"},
		{"element repeated", func(w *spi.Wiring) { w.Coupling.Elements[9] = [2]int{0, 0} }, "coupling.elements[9] = [0, 0] repeats elements[0]"},
		{"element outside", func(w *spi.Wiring) { w.Coupling.Elements[9] = [2]int{8, 0} }, "coupling.elements[9] = [8, 0], want 0 ≤ row, col < 8"},
		{"elements short", func(w *spi.Wiring) { w.Coupling.Elements = w.Coupling.Elements[:10] }, "coupling.elements has 10 entries, want 64"},
		{"coupling chip", func(w *spi.Wiring) { w.Coupling.Chip = "ad5291" }, `coupling.chip = "ad5291", want "ad5293" or "ad5450"`},
		{"rheostat bits", func(w *spi.Wiring) { w.Coupling.Bits = 12 }, "coupling.bits = 12, want 10 for ad5293"},
		{"mdac pins", func(w *spi.Wiring) { w.Coupling.Chip = "ad5450" }, "coupling.sync_pins has 0 entries, want one per element (64)"},
		{"coupling max", func(w *spi.Wiring) { w.Coupling.Max = 0.5 }, "coupling.max = 0.5, want a finite value ≥ 1"},
		{"adc range", func(w *spi.Wiring) { w.ADC.RangeV = 2.5 }, "adc.range_v = 2.5, want 5 or 10"},
		{"shared port", func(w *spi.Wiring) { w.ADC.Port = w.Bias.Port }, `adc.port "/dev/spidev0.0" is also bias.port`},
		{"shared pin", func(w *spi.Wiring) { w.ADC.BusyPin = w.ADC.ConvstPin }, `adc.busy_pin "GPIO17" is also adc.convst_pin`},
		{"min period", func(w *spi.Wiring) { w.ADC.MinPeriodS = -1 }, "adc.min_period_s = -1"},
		{"os pins", func(w *spi.Wiring) { w.ADC.OSPins = []string{"GPIO5", "GPIO6"} }, "adc.os_pins has 2 entries, want none (strapped) or 3"},
		{"oversampling ratio", func(w *spi.Wiring) { w.ADC.Oversampling = 3 }, "adc.oversampling = 3, want 0 or 1 (none), 2, 4, 8, 16, 32 or 64"},
		{"oversampling pins", func(w *spi.Wiring) { w.ADC.Oversampling = 4 }, "adc.oversampling = 4 needs adc.os_pins"},
		{"oversampling time", func(w *spi.Wiring) { w.ADC.Oversampling, w.ADC.OSPins = 4, []string{"GPIO5", "GPIO6", "GPIO13"} },
			"adc.conversion_s = 4e-06, want ≥ 1.88e-05: the longest conversion with oversampling by 4"},
		{"os pin empty", func(w *spi.Wiring) { w.ADC.OSPins = []string{"GPIO5", "", "GPIO6"} }, "adc.os_pins[1] is empty"},
		{"reset shares", func(w *spi.Wiring) { w.ADC.ResetPin = w.State.ForcePin }, `adc.reset_pin "GPIO22" is also state.force_pin`},
		{"os shares stby", func(w *spi.Wiring) { w.ADC.StbyPin, w.ADC.OSPins = "GPIO5", []string{"GPIO6", "GPIO5", "GPIO13"} },
			`adc.os_pins[1] "GPIO5" is also adc.stby_pin`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := spi.DefaultWiring()
			c.mutate(&w)
			err := w.Validate()
			require.ErrorIs(t, err, hal.ErrInvalid)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestDecodeWiringErrors(t *testing.T) {
	_, err := spi.DecodeWiring(strings.NewReader(`{"cells": 8, "colour": "red"}`))
	require.ErrorIs(t, err, hal.ErrInvalid)
	assert.Contains(t, err.Error(), `unknown field "colour"`)
	_, err = spi.DecodeWiring(strings.NewReader(`{"cells": "eight"}`))
	require.ErrorIs(t, err, hal.ErrInvalid)
	assert.Contains(t, err.Error(), `field "cells"`)
	_, err = spi.DecodeWiring(bytes.NewReader(nil))
	require.ErrorIs(t, err, hal.ErrInvalid)
	_, err = spi.LoadWiring(filepath.Join(t.TempDir(), "missing.json"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// docs/boards.md shows the reference wiring; it must be DefaultWiring.
func TestDocsShowDefaultWiring(t *testing.T) {
	doc, err := os.ReadFile("../../docs/boards.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(doc), "<!-- ref8-wiring -->\n```json\n")
	require.True(t, ok, "marker and json block in docs/boards.md")
	block, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	w, err := spi.DecodeWiring(strings.NewReader(block))
	require.NoError(t, err)
	assert.Equal(t, spi.DefaultWiring(), w)
}
