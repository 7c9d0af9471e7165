package hal_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
)

// validInfo is a self-consistent description of an 8-cell board.
func validInfo() hal.Info {
	return hal.Info{
		Model:           "test/board",
		Serial:          "0001",
		Firmware:        "1.0",
		Cells:           8,
		Topology:        hal.General,
		Coupling:        hal.Range{Min: -2, Max: 2},
		CouplingStep:    1.0 / 128,
		Bias:            hal.Converter{Range: hal.Range{Min: -1, Max: 1}, Bits: 12},
		ADC:             hal.Converter{Range: hal.Range{Min: -1.2, Max: 1.2}, Bits: 16},
		Tau:             100 * time.Microsecond,
		Noise:           0.01,
		MinSamplePeriod: 5 * time.Microsecond,
		Caps:            hal.CapNoise,
	}
}

func TestInfoValidateAcceptsValid(t *testing.T) {
	require.NoError(t, validInfo().Validate())

	edge := validInfo()
	edge.Coupling = hal.Range{Min: 0, Max: 1} // just contains 0 and 1
	edge.CouplingStep = 0                     // continuous
	edge.Bias.Bits, edge.ADC.Bits = 0, 32     // ideal and the widest converter
	edge.Noise = 0
	edge.Cells = 1
	assert.NoError(t, edge.Validate())
}

func TestInfoValidateRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*hal.Info)
		word   string // the message names the offending field
	}{
		{"no cells", func(in *hal.Info) { in.Cells = 0 }, "cells"},
		{"negative cells", func(in *hal.Info) { in.Cells = -3 }, "cells"},
		{"coupling range without 1", func(in *hal.Info) { in.Coupling = hal.Range{Min: -1, Max: 0.5} }, "coupling"},
		{"coupling range without 0", func(in *hal.Info) { in.Coupling = hal.Range{Min: 0.5, Max: 2} }, "coupling"},
		{"empty coupling range", func(in *hal.Info) { in.Coupling = hal.Range{Min: 1, Max: 1} }, "coupling"},
		{"NaN coupling bound", func(in *hal.Info) { in.Coupling.Min = math.NaN() }, "coupling"},
		{"negative coupling step", func(in *hal.Info) { in.CouplingStep = -0.01 }, "step"},
		{"NaN coupling step", func(in *hal.Info) { in.CouplingStep = math.NaN() }, "step"},
		{"empty bias range", func(in *hal.Info) { in.Bias.Range = hal.Range{Min: 1, Max: -1} }, "bias"},
		{"negative bias bits", func(in *hal.Info) { in.Bias.Bits = -1 }, "bias"},
		{"too many ADC bits", func(in *hal.Info) { in.ADC.Bits = 33 }, "adc"},
		{"empty ADC range", func(in *hal.Info) { in.ADC.Range = hal.Range{Min: 0, Max: 0} }, "adc"},
		{"zero tau", func(in *hal.Info) { in.Tau = 0 }, "tau"},
		{"negative tau", func(in *hal.Info) { in.Tau = -time.Microsecond }, "tau"},
		{"negative noise", func(in *hal.Info) { in.Noise = -0.1 }, "noise"},
		{"NaN noise", func(in *hal.Info) { in.Noise = math.NaN() }, "noise"},
		{"zero sample period", func(in *hal.Info) { in.MinSamplePeriod = 0 }, "sample period"},
		{"infinite noise", func(in *hal.Info) { in.Noise = math.Inf(1) }, "noise"},
		{"coupling step above 1", func(in *hal.Info) { in.CouplingStep = 1.5 }, "step"},
		{"infinite coupling range", func(in *hal.Info) { in.Coupling.Max = math.Inf(1) }, "coupling"},
		{"infinite ADC range", func(in *hal.Info) { in.ADC.Min = math.Inf(-1) }, "adc"},
		{"unknown topology", func(in *hal.Info) { in.Topology = hal.Topology(7) }, "topology"},
		{"empty serial", func(in *hal.Info) { in.Serial = "" }, "serial"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := validInfo()
			tc.mutate(&in)
			err := in.Validate()
			require.ErrorIs(t, err, hal.ErrInvalid)
			assert.Contains(t, strings.ToLower(err.Error()), tc.word)
		})
	}
}

func TestInfoValidateReportsEveryProblem(t *testing.T) {
	in := validInfo()
	in.Cells = 0
	in.Tau = 0
	in.Noise = -1
	err := in.Validate()
	require.ErrorIs(t, err, hal.ErrInvalid)
	for _, w := range []string{"cells", "tau", "noise"} {
		assert.Contains(t, err.Error(), w)
	}
}

func TestCapabilityNames(t *testing.T) {
	assert.Equal(t, []string{"noise"}, hal.CapNoise.Names())
	assert.Equal(t, []string{"simulated"}, hal.CapSimulated.Names())
	all := hal.CapSimulated | hal.CapNoise
	assert.Equal(t, []string{"noise", "simulated"}, all.Names(), "in bit order")
	assert.Equal(t, "noise|simulated", (hal.CapNoise | hal.CapSimulated).String())
	assert.Equal(t, "none", hal.Capability(0).String())
	assert.Equal(t, "noise|0x20", (hal.CapNoise | hal.Capability(1<<5)).String(), "unknown bits are shown, not dropped")
	assert.Empty(t, hal.Capability(0).Names())

	// the capabilities are distinct single bits
	assert.Equal(t, hal.Capability(0), hal.CapNoise&hal.CapSimulated)
}

func TestCapabilityHas(t *testing.T) {
	c := hal.CapNoise
	assert.True(t, c.Has(hal.CapNoise))
	assert.False(t, c.Has(hal.CapSimulated))
	assert.False(t, c.Has(hal.CapNoise|hal.CapSimulated), "only part of a set")
	assert.True(t, (c | hal.CapSimulated).Has(hal.CapNoise|hal.CapSimulated), "all of a set")
	assert.True(t, c.Has(0), "the empty set is always included")
	assert.False(t, hal.Capability(0).Has(hal.CapNoise))
}

func TestTopologyString(t *testing.T) {
	assert.Equal(t, "general", hal.General.String())
	assert.Equal(t, "symmetric", hal.Symmetric.String())
	assert.Equal(t, "Topology(7)", hal.Topology(7).String())
	assert.Equal(t, hal.Topology(0), hal.General, "the zero value is General")
}

func TestParseTopology(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want hal.Topology
	}{
		{"general", hal.General},
		{"symmetric", hal.Symmetric},
		{"Symmetric", hal.Symmetric},
		{"GENERAL", hal.General},
		{"", hal.General},
	} {
		got, err := hal.ParseTopology(tc.in)
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
	for _, top := range []hal.Topology{hal.General, hal.Symmetric} {
		got, err := hal.ParseTopology(top.String())
		require.NoError(t, err)
		assert.Equal(t, top, got, "round trip of %v", top)
	}
	got, err := hal.ParseTopology(" Symmetric ")
	require.NoError(t, err, "case and surrounding space are ignored")
	assert.Equal(t, hal.Symmetric, got)
	for _, bad := range []string{"sym", "diagonal", "Topology(7)"} {
		_, err := hal.ParseTopology(bad)
		assert.ErrorIs(t, err, hal.ErrInvalid, "%q", bad)
		if err != nil {
			assert.Contains(t, err.Error(), bad)
		}
	}
}

func TestRangeContains(t *testing.T) {
	r := hal.Range{Min: -1, Max: 2}
	assert.True(t, r.Contains(-1), "closed at Min")
	assert.True(t, r.Contains(2), "closed at Max")
	assert.True(t, r.Contains(0.5))
	assert.False(t, r.Contains(math.Nextafter(-1, -2)))
	assert.False(t, r.Contains(math.Nextafter(2, 3)))
	assert.False(t, r.Contains(math.NaN()))
	assert.False(t, r.Contains(math.Inf(1)))
	assert.False(t, r.Contains(math.Inf(-1)))
}

func TestConverterLSB(t *testing.T) {
	c := hal.Converter{Range: hal.Range{Min: -1, Max: 1}, Bits: 12}
	assert.InDelta(t, 2.0/4096, c.LSB(), 1e-18)
	c = hal.Converter{Range: hal.Range{Min: 0, Max: 3.3}, Bits: 1}
	assert.InDelta(t, 1.65, c.LSB(), 1e-15)
	assert.Zero(t, hal.Converter{Range: hal.Range{Min: -1, Max: 1}}.LSB(), "continuous")
}

func TestInfoIsAValue(t *testing.T) {
	a := validInfo()
	b := a
	b.Coupling.Max = 5
	b.Bias.Bits = 3
	assert.Equal(t, 2.0, a.Coupling.Max, "copies share nothing")
	assert.Equal(t, 12, a.Bias.Bits)
	assert.True(t, a == validInfo(), "Info is comparable")
}
